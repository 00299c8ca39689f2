/* top: the sampler of top.h. Each sample asks NVML for NVIDIA's GPUs and
 * scans the DRM clients of AMD's and Intel's, maps every process to its
 * container, and sums them by container. */
#include "top/top.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "top/sample/drm.h"
#include "top/sample/nvml.h"
#include "top/sample/procs.h"
#include "util/fs.h"
#include "util/xalloc.h"

struct slot {
	struct top_gpu gpu; /* identity filled by top_open */
	int nvml;           /* NVML's index, or -1 */
	int drm;            /* index into drm_gpus, or -1 */
};

struct top_sampler {
	int rootfd;
	struct procs *procs;
	struct nvml *nvml;
	struct slot *slots;
	size_t nslots;
	struct drm_gpu *drm_gpus;
	size_t *drm_slot, ndrm;
	struct drm_scan prev;
	bool have_prev, first;
	unsigned long long last_ns;
	char **only; /* top_open's cts */
	size_t nonly;
	/* one sample's NVML processes, reused */
	struct nvml_proc *np;
	size_t nnp, cap_np;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static struct slot *add_slot(struct top_sampler *s, int index, enum lxgpu_vendor vendor,
			     const char *pci)
{
	s->slots = xrealloc(s->slots, (s->nslots + 1) * sizeof(*s->slots));
	struct slot *sl = &s->slots[s->nslots++];
	memset(sl, 0, sizeof(*sl));
	sl->gpu.index = index;
	sl->gpu.vendor = vendor;
	snprintf(sl->gpu.pci, sizeof(sl->gpu.pci), "%s", pci ? pci : "");
	sl->nvml = sl->drm = -1;
	return sl;
}

static void add_nvml_slot(struct top_sampler *s, const struct lxgpu_gpu *g, int *next_index)
{
	for (size_t k = 0; s->nvml && k < nvml_count(s->nvml); k++) {
		const struct nvml_gpu *info = nvml_info(s->nvml, k);
		bool taken = false;
		for (size_t j = 0; j < s->nslots; j++)
			taken |= s->slots[j].nvml == (int)k;
		if (taken || (g && strcmp(info->pci, g->pci) != 0))
			continue;
		struct slot *sl =
			add_slot(s, g ? g->index : (*next_index)++, LXGPU_VENDOR_NVIDIA, info->pci);
		sl->nvml = (int)k;
		sl->gpu.source = "nvml";
		snprintf(sl->gpu.model, sizeof(sl->gpu.model), "%s", info->name);
		snprintf(sl->gpu.uuid, sizeof(sl->gpu.uuid), "%s", info->uuid);
		if (g)
			return;
	}
}

static void add_drm_slot(struct top_sampler *s, const struct lxgpu_gpu *g)
{
	struct slot *sl = add_slot(s, g->index, g->vendor, g->pci);
	sl->gpu.source = "fdinfo";
	if (g->model)
		snprintf(sl->gpu.model, sizeof(sl->gpu.model), "%s", g->model);
	else
		snprintf(sl->gpu.model, sizeof(sl->gpu.model), "%s GPU [%04x:%04x]",
			 g->vendor == LXGPU_VENDOR_AMD ? "AMD" : "Intel", g->vendor_id,
			 g->device_id);
	s->drm_gpus = xrealloc(s->drm_gpus, (s->ndrm + 1) * sizeof(*s->drm_gpus));
	s->drm_slot = xrealloc(s->drm_slot, (s->ndrm + 1) * sizeof(*s->drm_slot));
	s->drm_gpus[s->ndrm] = (struct drm_gpu){ sl->gpu.pci, g->drm_card, g->drm_render };
	s->drm_slot[s->ndrm] = s->nslots - 1;
	sl->drm = (int)s->ndrm++;
}

int top_open(int rootfd, const struct lxgpu_inventory *inv, char *const *cts, size_t ncts,
	     struct top_sampler **out, struct lxgpu_err *err)
{
	struct top_sampler *s = xcalloc(1, sizeof(*s));
	int r, next_index = 0;

	*out = NULL;
	s->rootfd = rootfd;
	s->first = true;
	if ((r = procs_open(rootfd, &s->procs, err)) < 0 ||
	    (inv->nvidia_loaded && (r = nvml_open(&s->nvml, lxgpu_nvidia_version(inv), err)) < 0)) {
		top_close(s);
		return r;
	}
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		if (g->index >= next_index)
			next_index = g->index + 1;
		if (g->vendor == LXGPU_VENDOR_NVIDIA)
			add_nvml_slot(s, g, &next_index);
		else if ((g->vendor == LXGPU_VENDOR_AMD || g->vendor == LXGPU_VENDOR_INTEL) &&
			 (g->drm_card || g->drm_render))
			add_drm_slot(s, g);
	}
	add_nvml_slot(s, NULL, &next_index); /* those the scan did not find */
	s->only = xcalloc(ncts + 1, sizeof(*s->only));
	for (size_t i = 0; i < ncts; i++)
		s->only[s->nonly++] = xstrdup(cts[i]);
	*out = s;
	return 0;
}

void top_close(struct top_sampler *s)
{
	if (!s)
		return;
	procs_close(s->procs);
	nvml_close(s->nvml);
	drm_scan_free(&s->prev);
	for (size_t i = 0; i < s->nonly; i++)
		free(s->only[i]);
	free(s->only);
	free(s->slots);
	free(s->drm_gpus);
	free(s->drm_slot);
	free(s->np);
	free(s);
}

static const char *keep(struct top_snapshot *snap, const char *str)
{
	xgrow(&snap->strings, &snap->cap_strings, snap->nstrings + 1, sizeof(*snap->strings));
	return snap->strings[snap->nstrings++] = xstrdup(str);
}

static bool wanted(const struct top_sampler *s, const char *ct)
{
	if (s->nonly == 0)
		return true;
	for (size_t i = 0; ct && i < s->nonly; i++)
		if (strcmp(s->only[i], ct) == 0)
			return true;
	return false;
}

static int pct_sum(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a + b > 100 ? 100 : a + b;
}

/* A process on a GPU; one that is there already (a second DRM client of
 * the same process, at or after `from`) adds to its entry. */
static void add_proc(struct top_sampler *s, struct top_snapshot *snap, size_t from, size_t gpu,
		     int pid, unsigned long long mem, int sm, int enc, int dec)
{
	for (size_t i = from; i < snap->nprocs; i++) {
		struct top_proc *q = &snap->procs[i];
		if (q->pid != pid || q->gpu != (int)gpu)
			continue;
		if (mem != TOP_UNKNOWN)
			q->mem = q->mem == TOP_UNKNOWN ? mem : q->mem + mem;
		q->sm = pct_sum(q->sm, sm);
		q->enc = pct_sum(q->enc, enc);
		q->dec = pct_sum(q->dec, dec);
		return;
	}
	const struct proc_info *p = procs_get(s->procs, pid);
	const char *ct = p && p->ct[0] ? p->ct : NULL;
	if (!wanted(s, ct))
		return;
	snap->procs = xrealloc(snap->procs, (snap->nprocs + 1) * sizeof(*snap->procs));
	snap->procs[snap->nprocs++] = (struct top_proc){
		.pid = pid,
		.ct_pid = p ? p->ct_pid : -1,
		.ct = ct ? keep(snap, ct) : NULL,
		.nested = p && p->nested[0] ? keep(snap, p->nested) : NULL,
		.command = keep(snap, p ? p->command : "(gone)"),
		.gpu = (int)gpu,
		.mem = mem,
		.sm = sm,
		.enc = enc,
		.dec = dec,
	};
}

static int sample_nvml(struct top_sampler *s, struct top_snapshot *snap, struct lxgpu_err *err)
{
	for (size_t i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		struct nvml_gpu g;
		if (sl->nvml < 0)
			continue;
		s->nnp = 0;
		if (nvml_sample(s->nvml, (size_t)sl->nvml, s->first, &g, &s->np, &s->nnp,
				&s->cap_np, err) < 0)
			return -EIO;
		struct top_gpu *out = &snap->gpus[i];
		out->mem_used = g.mem_used;
		out->mem_total = g.mem_total;
		out->util = g.util;
		out->enc = g.enc;
		out->dec = g.dec;
		for (size_t k = 0; k < s->nnp; k++)
			add_proc(s, snap, snap->nprocs, i, s->np[k].pid, s->np[k].mem, s->np[k].sm,
				 s->np[k].enc, s->np[k].dec);
	}
	return 0;
}

/* A sysfs number of a PCI device (amdgpu's mem_info_vram_*), or TOP_UNKNOWN. */
static unsigned long long sysfs_number(int rootfd, const char *pci, const char *name)
{
	struct lxgpu_err err = { 0 };
	char path[128], *text = NULL, *end;
	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/%s", pci, name);
	if (!pci[0] || fs_read_in(rootfd, path, 64, &text, NULL, &err) < 0)
		return TOP_UNKNOWN;
	unsigned long long v = strtoull(text, &end, 10);
	bool ok = end != text && (*end == '\n' || *end == '\0');
	free(text);
	return ok ? v : TOP_UNKNOWN;
}

static int max_pct(int a, int b)
{
	return a > b ? a : b;
}

/* A client's engines against the same client in the previous scan: the
 * busiest engine of each kind (-1: none, or no previous sample). */
static void client_percent(const struct drm_client *c, const struct drm_client *before,
			   unsigned long long wall, int pct[3], int *engine_pct)
{
	static const struct top_drm_engine zero = { .have_ns = true };
	pct[0] = pct[1] = pct[2] = -1;
	for (size_t e = 0; e < c->info.nengines; e++) {
		const struct top_drm_engine *now = &c->info.engines[e], *then = &zero;
		for (size_t k = 0; before && k < before->info.nengines; k++)
			if (strcmp(before->info.engines[k].name, now->name) == 0)
				then = &before->info.engines[k];
		int p = before ? top_engine_percent(then, now, wall) : -1;
		engine_pct[e] = p;
		enum top_engine_kind kind = top_engine_kind(now->name);
		if (kind != TOP_ENGINE_COPY)
			pct[kind] = max_pct(pct[kind], p);
	}
}

/* The GPU's busiest engine of each kind: its clients' shares summed. */
struct engine_sum {
	char name[24];
	int pct;
};

static void sum_engine(struct engine_sum *sums, size_t *n, const char *name, int p)
{
	size_t i;
	for (i = 0; i < *n && strcmp(sums[i].name, name) != 0; i++)
		;
	if (i == *n) {
		if (*n == 32)
			return;
		snprintf(sums[i].name, sizeof(sums[i].name), "%s", name);
		sums[(*n)++].pct = -1;
	}
	if (p >= 0)
		sums[i].pct = sums[i].pct < 0 ? p : sums[i].pct + p > 100 ? 100 : sums[i].pct + p;
}

static void sample_drm(struct top_sampler *s, struct top_snapshot *snap)
{
	struct drm_scan cur;
	if (s->ndrm == 0)
		return;
	drm_scan(procs_dirfd(s->procs), s->drm_gpus, s->ndrm, &cur);
	unsigned long long wall = s->have_prev ? cur.at_ns - s->prev.at_ns : 0;
	for (size_t d = 0; d < s->ndrm; d++) {
		struct top_gpu *g = &snap->gpus[s->drm_slot[d]];
		struct engine_sum sums[32];
		size_t nsums = 0;
		unsigned long long used = 0;
		size_t from = snap->nprocs;
		for (size_t i = 0; i < cur.n; i++) {
			const struct drm_client *c = &cur.clients[i];
			const struct drm_client *before =
				s->have_prev ? drm_find(&s->prev, d, c->id) : NULL;
			int pct[3], engine_pct[TOP_DRM_ENGINES];
			if (c->gpu != d)
				continue;
			client_percent(c, before, wall, pct, engine_pct);
			for (size_t e = 0; e < c->info.nengines; e++)
				sum_engine(sums, &nsums, c->info.engines[e].name, engine_pct[e]);
			unsigned long long mem = c->info.have_mem_local   ? c->info.mem_local
						 : c->info.have_mem_other ? c->info.mem_other
									  : TOP_UNKNOWN;
			used += mem == TOP_UNKNOWN ? 0 : mem;
			add_proc(s, snap, from, s->drm_slot[d], c->pid, mem, pct[TOP_ENGINE_MAIN],
				 pct[TOP_ENGINE_ENC], pct[TOP_ENGINE_DEC]);
		}
		g->util = g->enc = g->dec = -1;
		for (size_t k = 0; k < nsums; k++) {
			enum top_engine_kind kind = top_engine_kind(sums[k].name);
			int *slot = kind == TOP_ENGINE_ENC    ? &g->enc
				    : kind == TOP_ENGINE_DEC  ? &g->dec
				    : kind == TOP_ENGINE_MAIN ? &g->util
							      : NULL;
			if (slot)
				*slot = max_pct(*slot, sums[k].pct);
		}
		if (s->have_prev && g->util < 0)
			g->util = 0; /* no client was busy */
		g->mem_total = sysfs_number(s->rootfd, g->pci, "mem_info_vram_total");
		g->mem_used = sysfs_number(s->rootfd, g->pci, "mem_info_vram_used");
		if (g->mem_used == TOP_UNKNOWN)
			g->mem_used = used;
	}
	drm_scan_free(&s->prev);
	s->prev = cur;
	s->have_prev = true;
}

void top_snapshot_free(struct top_snapshot *snap)
{
	for (size_t i = 0; i < snap->nstrings; i++)
		free(snap->strings[i]);
	free(snap->strings);
	free(snap->gpus);
	free(snap->procs);
	free(snap->cts);
	memset(snap, 0, sizeof(*snap));
}

/* NULL (the host) after every name; names in byte order. */
static int ct_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return !a - !b;
	return strcmp(a, b);
}

static int proc_by_ct(const void *x, const void *y)
{
	const struct top_proc *a = x, *b = y;
	int c = ct_cmp(a->ct, b->ct);
	if (c)
		return c;
	unsigned long long ma = a->mem == TOP_UNKNOWN ? 0 : a->mem;
	unsigned long long mb = b->mem == TOP_UNKNOWN ? 0 : b->mem;
	if (ma != mb)
		return ma > mb ? -1 : 1;
	return a->pid != b->pid ? (a->pid < b->pid ? -1 : 1) : a->gpu - b->gpu;
}

static int ct_by_memory(const void *x, const void *y)
{
	const struct top_ct *a = x, *b = y;
	if (!a->ct != !b->ct)
		return !a->ct - !b->ct;
	if (a->mem != b->mem)
		return a->mem > b->mem ? -1 : 1;
	return ct_cmp(a->ct, b->ct);
}

static int add_pct(int sum, int p)
{
	return p < 0 ? sum : sum < 0 ? p : sum + p;
}

static struct top_ct *new_ct(struct top_snapshot *snap, const char *ct, size_t first)
{
	snap->cts = xrealloc(snap->cts, (snap->ncts + 1) * sizeof(*snap->cts));
	struct top_ct *c = &snap->cts[snap->ncts++];
	*c = (struct top_ct){ .ct = ct, .sm = -1, .enc = -1, .dec = -1, .first = first };
	return c;
}

/* procs sorted by container; cts built, sorted, and procs put in their order. */
static void group(struct top_sampler *s, struct top_snapshot *snap)
{
	qsort(snap->procs, snap->nprocs, sizeof(*snap->procs), proc_by_ct);
	for (size_t i = 0; i < snap->nprocs; i++) {
		const struct top_proc *p = &snap->procs[i];
		struct top_ct *c = snap->ncts ? &snap->cts[snap->ncts - 1] : NULL;
		if (!c || c->first + c->nprocs != i || ct_cmp(c->ct, p->ct) != 0)
			c = new_ct(snap, p->ct, i);
		c->nprocs++;
		c->mem += p->mem == TOP_UNKNOWN ? 0 : p->mem;
		c->sm = add_pct(c->sm, p->sm);
		c->enc = add_pct(c->enc, p->enc);
		c->dec = add_pct(c->dec, p->dec);
		if (p->gpu < 64)
			c->gpus |= 1ull << p->gpu;
	}
	for (size_t i = 0; i < s->nonly; i++) {
		bool seen = false;
		for (size_t k = 0; k < snap->ncts; k++)
			seen |= ct_cmp(snap->cts[k].ct, s->only[i]) == 0;
		if (!seen)
			new_ct(snap, keep(snap, s->only[i]), snap->nprocs);
	}
	qsort(snap->cts, snap->ncts, sizeof(*snap->cts), ct_by_memory);
	struct top_proc *ordered = xcalloc(snap->nprocs + 1, sizeof(*ordered));
	size_t n = 0;
	for (size_t k = 0; k < snap->ncts; k++) {
		struct top_ct *c = &snap->cts[k];
		memcpy(ordered + n, snap->procs + c->first, c->nprocs * sizeof(*ordered));
		c->first = n;
		n += c->nprocs;
	}
	free(snap->procs);
	snap->procs = ordered;
}

int top_sample(struct top_sampler *s, struct top_snapshot *out, struct lxgpu_err *err)
{
	unsigned long long t = now_ns();
	memset(out, 0, sizeof(*out));
	out->seconds = s->first ? 0 : (double)(t - s->last_ns) / 1e9;
	s->last_ns = t;
	out->ngpus = s->nslots;
	out->gpus = xcalloc(s->nslots + 1, sizeof(*out->gpus));
	for (size_t i = 0; i < s->nslots; i++)
		out->gpus[i] = s->slots[i].gpu;
	if (sample_nvml(s, out, err) < 0) {
		top_snapshot_free(out);
		return -EIO;
	}
	sample_drm(s, out);
	group(s, out);
	procs_sweep(s->procs);
	s->first = false;
	return 0;
}
