/* NVIDIA capabilities: which /dev/nvidia-caps node grants what. The global
 * ones (mig/config, mig/monitor, fabric-imex-mgmt) and, per GPU, each MIG GPU
 * instance and compute instance with its access file
 * (tests/hosts/SOURCES.md §5; nv-caps.c of open-gpu-kernel-modules). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "inventory/inventory.h"
#include "inventory/scan/scan.h"
#include "util/xalloc.h"

#define CAPS "proc/driver/nvidia/capabilities"

/* /proc/driver/nvidia-caps/mig-minors, read only when a capability file
 * names no minor: the driver makes it for every GPU, GPU instance and
 * compute instance there could be (~80 KB, 4 ms on a driver for 32 GPUs),
 * where the capability files of the instances that exist say it all. */
struct mig_minors {
	int rootfd;
	bool read;
	char *text;
	size_t len;
};

static const char *mig_minors(struct mig_minors *m)
{
	struct lxgpu_err err = { 0 };
	if (!m->read && fs_read_in(m->rootfd, "proc/driver/nvidia-caps/mig-minors", 1u << 20,
				   &m->text, &m->len, &err) < 0)
		m->text = NULL;
	m->read = true;
	return m->text;
}

/* The minor of a capability file, or of its line in mig-minors when the file
 * says none (both come from the same static table, §5.1). */
static bool cap_minor(int rootfd, const char *rel, struct mig_minors *m, unsigned *minor)
{
	char path[512], name[64];
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	unsigned mode;
	size_t len, pos = 0;

	snprintf(path, sizeof(path), CAPS "/%s", rel);
	if (fs_read_in(rootfd, path, 4096, &text, &len, &err) == 0 &&
	    nv_cap_parse(text, len, minor, &mode))
		return true;
	const char *minors = m ? mig_minors(m) : NULL;
	while (minors && mig_minor_next(minors, m->len, &pos, name, minor)) {
		/* mig-minors names "gpu0/gi2/access" what lives at gpu0/mig/gi2/access */
		char alt[96];
		snprintf(alt, sizeof(alt), "%s", rel);
		char *mig = strstr(alt, "/mig/");
		if (mig)
			memmove(mig, mig + 4, strlen(mig + 4) + 1);
		if (strcmp(name, alt) == 0 || strcmp(name, rel) == 0)
			return true;
	}
	return false;
}

static struct lxgpu_node *cap_node(struct lxgpu_inventory *inv, unsigned minor)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (inv->nodes[i].role == LXGPU_NODE_CAP && inv->nodes[i].type == 'c' &&
		    inv->nodes[i].minor == minor)
			return &inv->nodes[i];
	return NULL;
}

static void label(struct lxgpu_inventory *inv, unsigned minor, const char *rel, int gpu,
		  bool *present)
{
	struct lxgpu_node *n = cap_node(inv, minor);
	if (present)
		*present = n != NULL;
	if (!n)
		return;
	free(n->capability);
	n->capability = xstrdup(rel);
	n->gpu = gpu;
}

static void add_instance(struct lxgpu_inventory *inv, struct lxgpu_gpu *g, int gi, int ci,
			 const char *rel, unsigned minor)
{
	xgrow(&g->mig, &g->cap_mig, g->nmig + 1, sizeof(*g->mig));
	struct lxgpu_mig *m = &g->mig[g->nmig++];
	m->gi = gi;
	m->ci = ci;
	m->minor = minor;
	m->access = xasprintf("/" CAPS "/%s", rel);
	label(inv, minor, rel, g->index, &m->node_present);
	if (!m->node_present) {
		char name[32];
		if (ci >= 0)
			snprintf(name, sizeof(name), "gi%d/ci%d", gi, ci);
		else
			snprintf(name, sizeof(name), "gi%d", gi);
		char *fix = xasprintf("nvidia-modprobe -f %s", m->access);
		inv_add_finding(inv, "nvidia-cap-node-missing", LXGPU_WARNING, fix,
				"/dev/nvidia-caps/nvidia-cap%u for MIG instance %s of GPU %d does "
				"not exist",
				minor, name, g->index);
		free(fix);
	}
}

/* Entries "gi<N>" or "ci<N>" of a directory, in numeric order. */
static size_t numbered_entries(int rootfd, const char *path, const char *prefix, int *out,
			       size_t max)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct lxgpu_err err = { 0 };
	struct dirent *de;
	size_t n = 0;
	unsigned number;

	if (fs_opendir_in(rootfd, path, (void **)&dir, &err) < 0)
		return 0;
	while ((de = readdir(dir)) && n < max)
		if (strncmp(de->d_name, prefix, 2) == 0 &&
		    parse_name_number(de->d_name + 2, 1024, &number))
			out[n++] = (int)number;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

void inv_scan_mig(int rootfd, struct lxgpu_inventory *inv)
{
	static const char *const global[] = { "mig/config", "mig/monitor", "fabric-imex-mgmt" };
	struct mig_minors minors = { .rootfd = rootfd };
	unsigned minor;

	if (!inv->nvidia_loaded)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(global); i++)
		if (cap_minor(rootfd, global[i], NULL, &minor))
			label(inv, minor, global[i], -1, NULL);

	for (size_t i = 0; i < inv->ngpus; i++) {
		struct lxgpu_gpu *g = &inv->gpus[i];
		int gis[64], cis[16];
		char dir[128], rel[160];

		if (g->vendor != LXGPU_VENDOR_NVIDIA || g->minor < 0)
			continue;
		/* gpu<N> is the device minor, not the index (tests/hosts/SOURCES.md §5.1). */
		snprintf(dir, sizeof(dir), CAPS "/gpu%d/mig", g->minor);
		size_t ngi = numbered_entries(rootfd, dir, "gi", gis, ARRAY_SIZE(gis));
		for (size_t k = 0; k < ngi; k++) {
			snprintf(rel, sizeof(rel), "gpu%d/mig/gi%d/access", g->minor, gis[k]);
			if (cap_minor(rootfd, rel, &minors, &minor))
				add_instance(inv, g, gis[k], -1, rel, minor);
			char gidir[160];
			snprintf(gidir, sizeof(gidir), "%s/gi%d", dir, gis[k]);
			size_t nci = numbered_entries(rootfd, gidir, "ci", cis, ARRAY_SIZE(cis));
			for (size_t c = 0; c < nci; c++) {
				snprintf(rel, sizeof(rel), "gpu%d/mig/gi%d/ci%d/access", g->minor,
					 gis[k], cis[c]);
				if (cap_minor(rootfd, rel, &minors, &minor))
					add_instance(inv, g, gis[k], cis[c], rel, minor);
			}
		}
	}
	free(minors.text);
}
