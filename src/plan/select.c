/* plan/select: which GPUs a selection names on this host (plan.h,
 * plan_select): the concrete selectors (index, UUID, PCI address, all, /GI/CI)
 * and the node-independent ones (model=, any, map:) that every node resolves
 * to its own GPUs. Pure. */
#include "plan/plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* "GPU-…/2/0" -> base length and gi 2, ci 0; the whole selector when it has
 * no MIG part (gi, ci -1). False when the MIG part is malformed. */
static bool split_mig(const char *sel, size_t *base, int *gi, int *ci)
{
	const char *slash = strchr(sel, '/');
	unsigned g, c;
	int end = 0;
	*gi = *ci = -1;
	*base = slash ? (size_t)(slash - sel) : strlen(sel);
	if (!slash)
		return true;
	if (sscanf(slash, "/%3u/%3u%n", &g, &c, &end) != 2 || slash[end] != '\0' ||
	    !isdigit((unsigned char)slash[1]))
		return false;
	*gi = (int)g;
	*ci = (int)c;
	return true;
}

/* map:NAME's NAME: cluster/mapping.h's rule (plan reads no file) */
static bool map_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 32 || !isalnum((unsigned char)n[0]))
		return false;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && !strchr("-_.", *n))
			return false;
	return true;
}

bool plan_selector_floating(const char *sel)
{
	if (strcmp(sel, "any") == 0)
		return true;
	if (strncmp(sel, "map:", 4) == 0)
		return map_name_ok(sel + 4);
	if (strncmp(sel, "model=", 6) == 0) {
		const char *name = sel + 6;
		size_t n = strlen(name);
		if (n == 0 || n > 64 || isspace((unsigned char)name[0]) ||
		    isspace((unsigned char)name[n - 1]))
			return false;
		/* a record item: no ',' (the list's), nothing unprintable */
		for (const char *p = name; *p; p++)
			if (*p == ',' || !isprint((unsigned char)*p))
				return false;
		return true;
	}
	return false;
}

bool plan_model_matches(const char *model, const char *name)
{
	size_t n = strlen(name);
	if (!model || strncasecmp(model, name, n) != 0)
		return false;
	return model[n] == '\0' || model[n] == ' ';
}

bool plan_selector_valid(const char *sel)
{
	char pci[32], base[64];
	size_t len;
	int gi, ci;
	if (strcmp(sel, "all") == 0 || plan_selector_floating(sel))
		return true;
	if (!split_mig(sel, &len, &gi, &ci) || len >= sizeof(base) ||
	    (gi >= 0 && len == 3 && strncmp(sel, "all", 3) == 0))
		return false;
	snprintf(base, sizeof(base), "%.*s", (int)len, sel);
	sel = base;
	if (strncmp(sel, "GPU-", 4) == 0)
		return strlen(sel) == 40;
	if (pci_addr_parse(sel, strlen(sel), pci))
		return true;
	if (!*sel || strlen(sel) > 3)
		return false;
	for (const char *p = sel; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static void list_gpus(const struct lxgpu_inventory *inv, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < inv->ngpus && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%d %s", i ? ", " : "",
				 inv->gpus[i].index, inv->gpus[i].pci);
		used += n > 0 ? (size_t)n : 0;
	}
	if (inv->ngpus == 0)
		snprintf(buf, size, "none");
}

static const struct lxgpu_mig *mig_instance(const struct lxgpu_gpu *g, int gi, int ci)
{
	for (size_t m = 0; m < g->nmig; m++)
		if (g->mig[m].gi == gi && g->mig[m].ci == ci)
			return &g->mig[m];
	return NULL;
}

/* "GI 2 CI 0, GI 3 CI 0": the GPU's compute instances, or "not in MIG mode". */
static void mig_list(const struct lxgpu_gpu *g, char *buf, size_t size)
{
	size_t used = 0;
	snprintf(buf, size, "it is not in MIG mode");
	for (size_t m = 0; m < g->nmig && used < size; m++) {
		if (g->mig[m].ci < 0)
			continue;
		int w = snprintf(buf + used, size - used, "%s%d/%d",
				 used ? ", " : "instances: ", g->mig[m].gi, g->mig[m].ci);
		used += w > 0 ? (size_t)w : 0;
	}
}

/* "0 NVIDIA H100 80GB HBM3, 1 ...": the GPUs by model, for messages. */
static void list_models(const struct lxgpu_inventory *inv, char *buf, size_t size)
{
	size_t used = 0;
	snprintf(buf, size, "none");
	for (size_t i = 0; i < inv->ngpus && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%d %s", i ? ", " : "",
				 inv->gpus[i].index, inv->gpus[i].model ? inv->gpus[i].model : "?");
		used += n > 0 ? (size_t)n : 0;
	}
}

static const struct plan_map *find_map(const struct plan_where *w, const char *name)
{
	for (size_t i = 0; w && i < w->nmaps; i++)
		if (strcmp(w->maps[i].name, name) == 0)
			return &w->maps[i];
	return NULL;
}

/* One node-independent selector: the GPU it takes here. */
static int select_floating(const struct lxgpu_inventory *inv, const char *sel,
			   const struct plan_where *where, struct plan_pick *picks,
			   struct lxgpu_err *err)
{
	char known[512], here[96] = "this node";
	if (where && where->node)
		snprintf(here, sizeof(here), "node %s", where->node);
	if (strncmp(sel, "map:", 4) == 0) {
		const struct plan_map *m = find_map(where, sel + 4);
		if (!m)
			return lxgpu_failx(err, ENOENT, "--gpu %s: %s", sel,
					   where && where->maps_known
						   ? "no such mapping (lxgpu map list)"
						   : "the cluster's mappings cannot be read");
		if (m->nids == 0)
			return lxgpu_failx(err, ENODEV,
					   "--gpu %s: the mapping has no GPU of %s (its nodes: %s)",
					   sel, here, m->nodes ? m->nodes : "none");
		for (size_t k = 0; k < m->nids; k++) {
			const struct lxgpu_gpu *g = lxgpu_gpu_find(inv, m->ids[k]);
			size_t i = g ? (size_t)(g - inv->gpus) : 0;
			size_t base;
			int gi, ci;
			if (!g || !g->usable || picks[i].selected ||
			    !split_mig(m->ids[k], &base, &gi, &ci))
				continue;
			picks[i] = (struct plan_pick){ true, gi, ci, true };
			return 0;
		}
		return lxgpu_failx(err, ENODEV,
				   "--gpu %s: the mapping's GPU for %s (%s) is not here, or cannot "
				   "be given to a container",
				   sel, here, m->ids[0]);
	}
	bool any = strcmp(sel, "any") == 0, taken = false;
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		if (!g->usable || (!any && !plan_model_matches(g->model, sel + 6)))
			continue;
		if (picks[i].selected) {
			taken = true;
			continue;
		}
		picks[i] = (struct plan_pick){ true, -1, -1, true };
		return 0;
	}
	list_models(inv, known, sizeof(known));
	if (any)
		return lxgpu_failx(err, ENODEV, "--gpu any: %s on %s (GPUs: %s)",
				   taken ? "no other GPU" : "no GPU that a container can use", here,
				   known);
	return lxgpu_failx(err, ENODEV, "--gpu %s: %s of that model on %s (GPUs: %s)", sel,
			   taken ? "no other GPU" : "no GPU", here, known);
}

int plan_select(const struct lxgpu_inventory *inv, const char *const *selectors, size_t n,
		const struct plan_where *where, struct plan_pick *picks, struct lxgpu_err *err)
{
	char known[512];
	int r;
	for (size_t i = 0; i < inv->ngpus; i++)
		picks[i] = (struct plan_pick){ false, -1, -1, false };
	for (size_t s = 0; s < n || (n == 0 && s == 0); s++) {
		const char *whole = n ? selectors[s] : "all";
		char pci[32], sel[64];
		size_t len;
		int gi, ci;
		if (plan_selector_floating(whole))
			continue; /* after the concrete ones */
		if (!split_mig(whole, &len, &gi, &ci) || len >= sizeof(sel))
			return lxgpu_failx(err, EINVAL, "--gpu %s: not a GPU selector", whole);
		snprintf(sel, sizeof(sel), "%.*s", (int)len, whole);
		bool found = false, is_pci = pci_addr_parse(sel, strlen(sel), pci);

		for (size_t i = 0; i < inv->ngpus; i++) {
			const struct lxgpu_gpu *g = &inv->gpus[i];
			char index[16];
			snprintf(index, sizeof(index), "%d", g->index);
			if (strcmp(sel, "all") == 0) {
				/* "all" means every GPU a container can use */
				if (g->usable)
					picks[i] = (struct plan_pick){ true, -1, -1, false };
				found |= g->usable;
			} else if ((g->uuid && strcasecmp(sel, g->uuid) == 0) ||
				   (is_pci && strcmp(pci, g->pci) == 0) ||
				   strcmp(sel, index) == 0) {
				found = true;
				if (gi >= 0 && !mig_instance(g, gi, ci)) {
					char list[256];
					mig_list(g, list, sizeof(list));
					return lxgpu_failx(err, ENODEV,
							   "--gpu %s: GPU %d has no MIG instance "
							   "GI %d CI %d (%s)",
							   whole, g->index, gi, ci, list);
				}
				/* the whole GPU wins over one of its instances */
				if (!picks[i].selected || gi < 0)
					picks[i] = (struct plan_pick){ true, gi, ci, false };
				else if (picks[i].gi >= 0 &&
					 (picks[i].gi != gi || picks[i].ci != ci))
					return lxgpu_failx(err, EINVAL,
							   "--gpu %s: one MIG instance per GPU "
							   "(GPU %d already has GI %d CI %d)",
							   whole, g->index, picks[i].gi,
							   picks[i].ci);
			}
		}
		if (!found) {
			list_gpus(inv, known, sizeof(known));
			if (strcmp(sel, "all") == 0)
				return lxgpu_failx(err, ENODEV,
						   "no GPU that a container can use (GPUs: %s)",
						   known);
			return lxgpu_failx(err, ENODEV, "--gpu %s: no such GPU (GPUs: %s)", whole,
					   known);
		}
	}
	for (size_t s = 0; s < n; s++)
		if (plan_selector_floating(selectors[s]) &&
		    (r = select_floating(inv, selectors[s], where, picks, err)) < 0)
			return r;
	return 0;
}

const struct lxgpu_gpu *plan_gpu_of(const struct lxgpu_inventory *inv, const char *item,
				    const struct plan_where *where)
{
	struct lxgpu_err ignored = { 0 };
	if (!plan_selector_floating(item))
		return lxgpu_gpu_find(inv, item);
	struct plan_pick *picks = xcalloc(inv->ngpus + 1, sizeof(*picks));
	const char *one[] = { item };
	const struct lxgpu_gpu *g = NULL;
	if (plan_select(inv, one, 1, where, picks, &ignored) == 0)
		for (size_t i = 0; i < inv->ngpus && !g; i++)
			if (picks[i].selected)
				g = &inv->gpus[i];
	free(picks);
	return g;
}
