#include "util/version.h"

#include <ctype.h>

bool version_parse(const char *s, size_t len, struct lxgpu_version *out)
{
	struct lxgpu_version v = { { 0, 0, 0 }, 0 };
	size_t i = 0;

	while (i < len) {
		unsigned value = 0, digits = 0;
		while (i < len && isdigit((unsigned char)s[i])) {
			if (++digits > 5)
				return false;
			value = value * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (digits == 0 || v.nparts == 3)
			return false;
		v.part[v.nparts++] = value;
		if (i == len)
			break;
		if (s[i] != '.' || i + 1 == len)
			return false;
		i++;
	}
	if (v.nparts < 2)
		return false;
	*out = v;
	return true;
}

int version_cmp(const struct lxgpu_version *a, const struct lxgpu_version *b)
{
	for (int i = 0; i < 3; i++) {
		if (a->part[i] != b->part[i])
			return a->part[i] < b->part[i] ? -1 : 1;
	}
	return 0;
}

bool cuda_for_driver(const struct lxgpu_version *driver, unsigned *major, unsigned *minor,
		     bool *newer_than_table)
{
	const struct cuda_row *best = NULL;
	unsigned newest_branch = 0;

	for (size_t i = 0; i < cuda_nrows; i++) {
		const struct cuda_row *r = &cuda_rows[i];
		if (r->linux_version.part[0] > newest_branch)
			newest_branch = r->linux_version.part[0];
		if (version_cmp(&r->linux_version, driver) > 0)
			continue;
		if (!best || r->major > best->major ||
		    (r->major == best->major && r->minor > best->minor))
			best = r;
	}
	if (newer_than_table)
		*newer_than_table = driver->part[0] > newest_branch;
	if (!best)
		return false;
	*major = best->major;
	*minor = best->minor;
	return true;
}
