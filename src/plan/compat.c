/* compat: NVIDIA's compatibility rules (see compat.h). */
#include "plan/compat.h"

#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"

/* NVIDIA's CUDA compatibility guide, table 2, with the floors it gives for
 * each family: the 11.x footnote's 450.80.02, 12.0 GA's 525.60.13, 13.0 GA's 580.65.06. */
static const struct compat_family families[] = {
	{ 13, "580.65.06" },
	{ 12, "525.60.13" },
	{ 11, "450.80.02" },
};

/* The branch lifecycle, NVIDIA's CUDA compatibility guide, table 2. */
static const struct compat_branch branches[] = {
	{ 580, "LTSB", "Aug 2028", "13.x" },
	{ 570, "PB", "Feb 2026", "12.x" },
	{ 535, "LTSB", "June 2026", "12.x" },
};

/* cuDNN's minimum driver by the CUDA major it is built for (cuDNN support matrix:
 * the same for cuDNN 8.9 and 9.x). */
static const struct {
	unsigned cuda_major;
	const char *driver;
} cudnn_floors[] = {
	{ 13, "580.65.06" },
	{ 12, "525.60.13" },
	{ 11, "450.80.02" },
};

static struct lxgpu_version parsed(const char *s)
{
	struct lxgpu_version v = { 0 };
	version_parse(s, strlen(s), &v);
	return v;
}

const struct compat_family *compat_family_of(unsigned major)
{
	for (size_t i = 0; i < ARRAY_SIZE(families); i++)
		if (families[i].major == major)
			return &families[i];
	return NULL;
}

const struct compat_branch *compat_branch_of(unsigned driver_major)
{
	for (size_t i = 0; i < ARRAY_SIZE(branches); i++)
		if (branches[i].major == driver_major)
			return &branches[i];
	return NULL;
}

const char *compat_branch_type_name(const char *type)
{
	return strcmp(type, "LTSB") == 0 ? "long-term support branch"
	       : strcmp(type, "PB") == 0 ? "production branch"
					 : type;
}

const struct cuda_row *compat_toolkit_row(unsigned major, unsigned minor)
{
	const struct cuda_row *first = NULL;
	for (size_t i = 0; i < cuda_nrows; i++) {
		const struct cuda_row *r = &cuda_rows[i];
		if (r->major == major && r->minor == minor &&
		    (!first || version_cmp(&r->linux_version, &first->linux_version) < 0))
			first = r;
	}
	return first;
}

/* "580.159.04" for messages. */
static void print_version(const struct lxgpu_version *v, char *out, size_t size)
{
	if (v->nparts > 2)
		snprintf(out, size, "%u.%u.%02u", v->part[0], v->part[1], v->part[2]);
	else
		snprintf(out, size, "%u.%u", v->part[0], v->part[1]);
}

enum compat_run compat_toolkit(const struct lxgpu_version *driver, unsigned major, unsigned minor,
			       char *why, size_t size)
{
	const struct cuda_row *row = compat_toolkit_row(major, minor);
	const struct compat_family *fam = compat_family_of(major);
	char d[32];
	unsigned top_major = 0, top_minor = 0;

	print_version(driver, d, sizeof(d));
	bool any = cuda_for_driver(driver, &top_major, &top_minor, NULL);
	if (row && version_cmp(driver, &row->linux_version) >= 0) {
		snprintf(why, size, "driver %s meets CUDA %u.%u's minimum %s", d, major, minor,
			 row->linux_min);
		return COMPAT_NATIVE;
	}
	struct lxgpu_version floor = fam ? parsed(fam->floor) : (struct lxgpu_version){ 0 };
	if (fam && version_cmp(driver, &floor) >= 0) {
		if (row)
			snprintf(why, size,
				 "below CUDA %u.%u's own minimum %s, but at or above the %u.x "
				 "family's %s: minor-version compatibility (no PTX JIT of newer "
				 "code, not the newest features)",
				 major, minor, row->linux_min, major, fam->floor);
		else
			snprintf(why, size,
				 "CUDA %u.%u is newer than lxgpu's table; driver %s is at or "
				 "above the %u.x family's %s: minor-version compatibility",
				 major, minor, d, major, fam->floor);
		return COMPAT_MINOR;
	}
	if (!row && !fam) {
		snprintf(why, size, "CUDA %u.%u is not in lxgpu's table", major, minor);
		return COMPAT_UNKNOWN;
	}
	char supports[48] = "no CUDA version in the table";
	if (any)
		snprintf(supports, sizeof(supports), "CUDA up to %u.%u", top_major, top_minor);
	if (fam)
		snprintf(why, size,
			 "CUDA %u.%u needs driver %s (%s through the %u.x family's minor-version "
			 "compatibility); %s supports %s, and compatibility never crosses a major "
			 "version",
			 major, minor, row ? row->linux_min : fam->floor, fam->floor, major, d,
			 supports);
	else
		snprintf(why, size, "CUDA %u.%u needs driver %s; %s supports %s", major, minor,
			 row->linux_min, d, supports);
	return COMPAT_NO;
}

enum compat_run compat_cudnn(const struct lxgpu_version *driver, unsigned cudnn_major,
			     unsigned cudnn_minor, unsigned cuda_major, char *why, size_t size)
{
	char d[32];
	print_version(driver, d, sizeof(d));
	for (size_t i = 0; i < ARRAY_SIZE(cudnn_floors); i++) {
		if (cudnn_floors[i].cuda_major != cuda_major)
			continue;
		struct lxgpu_version floor = parsed(cudnn_floors[i].driver);
		bool runs = version_cmp(driver, &floor) >= 0;
		snprintf(why, size, "cuDNN %u.%u for CUDA %u.x needs driver %s; %s %s", cudnn_major,
			 cudnn_minor, cuda_major, cudnn_floors[i].driver, d,
			 runs ? "meets it" : "is older");
		return runs ? COMPAT_NATIVE : COMPAT_NO;
	}
	if (cuda_major == 0)
		snprintf(why, size,
			 "cuDNN %u.%u: which CUDA it is built for is unknown (no package or wheel "
			 "names it)",
			 cudnn_major, cudnn_minor);
	else
		snprintf(why, size, "cuDNN %u.%u for CUDA %u.x: not in lxgpu's table", cudnn_major,
			 cudnn_minor, cuda_major);
	return COMPAT_UNKNOWN;
}

const char *compat_run_name(enum compat_run r)
{
	static const char *const names[] = { "native", "minor-version compatibility", "no",
					     "unknown" };
	return names[r];
}
