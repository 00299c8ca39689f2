/* ops: the property tests' calls into lxgpu (see ops.h), against the API of
 * src/ as it is: plan_build + sync_plan_edit, sync_edit, edit_detach,
 * conf_parse + conf_render. The test hosts become lxgpu inventories here,
 * as tests/fuzz/fuzz_config.c builds one: that is test data, not a verdict. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/idmap.h"
#include "config/devlines.h"
#include "config/edit.h"
#include "inventory/inventory.h"
#include "plan/plan.h"
#include "inventory/procfs.h"
#include "config/record.h"
#include "plan/sync.h"

#define CT_ID    "104"
#define HOOK_CMD "/usr/bin/lxgpu hook"

static struct cached {
	const struct test_host *host;
	struct lxgpu_inventory inv;
} cache[32];
static size_t ncached;

static enum lxgpu_node_role role_of(const char *path)
{
	if (strcmp(path, "/dev/nvidiactl") == 0)
		return LXGPU_NODE_CTL;
	if (strcmp(path, "/dev/nvidia-modeset") == 0)
		return LXGPU_NODE_MODESET;
	if (strcmp(path, "/dev/nvidia-uvm") == 0)
		return LXGPU_NODE_UVM;
	if (strcmp(path, "/dev/nvidia-uvm-tools") == 0)
		return LXGPU_NODE_UVM_TOOLS;
	if (strncmp(path, "/dev/nvidia-caps/", 17) == 0)
		return LXGPU_NODE_CAP;
	if (strncmp(path, "/dev/dri/card", 13) == 0)
		return LXGPU_NODE_DRI_CARD;
	if (strncmp(path, "/dev/dri/renderD", 16) == 0)
		return LXGPU_NODE_DRI_RENDER;
	if (strcmp(path, "/dev/kfd") == 0)
		return LXGPU_NODE_KFD;
	return LXGPU_NODE_GPU;
}

static char *xdup(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		abort();
	return d;
}

static void fill_inventory(const struct test_host *h, struct lxgpu_inventory *inv)
{
	static const enum lxgpu_vendor vendors[] = { [HOST_NVIDIA] = LXGPU_VENDOR_NVIDIA,
						     [HOST_AMD] = LXGPU_VENDOR_AMD,
						     [HOST_INTEL] = LXGPU_VENDOR_INTEL };
	static const char *const drivers[] = {
		[HOST_NVIDIA] = "nvidia", [HOST_AMD] = "amdgpu", [HOST_INTEL] = "i915"
	};
	char devices[4096];
	size_t used = (size_t)snprintf(devices, sizeof(devices), "Character devices:\n");
	for (size_t i = 0; i < host_nmajors(h) && used < sizeof(devices); i++)
		used += (size_t)snprintf(devices + used, sizeof(devices) - used, "%3u %s\n",
					 host_major(h, i)->major, host_major(h, i)->name);
	if (used < sizeof(devices))
		snprintf(devices + used, sizeof(devices) - used, "\nBlock devices:\n  7 loop\n");
	memset(inv, 0, sizeof(*inv));
	inv->have_proc_devices = proc_devices_parse(devices, strlen(devices), &inv->majors);
	for (size_t i = 0; i < h->ngpus; i++) {
		const struct host_gpu *hg = &h->gpus[i];
		struct lxgpu_gpu *g = inv_add_gpu(inv);
		g->index = (int)i;
		g->vendor = vendors[hg->vendor];
		g->uuid = xdup(hg->uuid);
		snprintf(g->pci, sizeof(g->pci), "%s", hg->pci);
		g->minor = hg->nvidia_minor;
		g->kernel_driver = xdup(drivers[hg->vendor]);
		g->usable = true;
		g->has_information = hg->vendor == HOST_NVIDIA;
		g->drm_card = xdup(hg->card);
		g->drm_render = xdup(hg->render);
		inv->nvidia_loaded |= hg->vendor == HOST_NVIDIA;
	}
	for (size_t i = 0; i < h->nnodes; i++) {
		const struct host_node *hn = &h->nodes[i];
		if (hn->type != 'c')
			continue;
		struct lxgpu_node *n = inv_add_node(inv, hn->path, role_of(hn->path));
		n->major = hn->major;
		n->minor = hn->minor;
		n->mode = hn->mode;
		n->gid = hn->gid;
		n->gpu = hn->gpu;
		if (n->role == LXGPU_NODE_CAP)
			n->capability = xdup(hn->minor == 1 ? "mig/config" : "mig/monitor");
	}
}

static const struct lxgpu_inventory *inventory(const struct test_host *h)
{
	for (size_t i = 0; i < ncached; i++)
		if (cache[i].host == h)
			return &cache[i].inv;
	if (ncached == sizeof(cache) / sizeof(*cache))
		abort();
	cache[ncached].host = h;
	fill_inventory(h, &cache[ncached].inv);
	return &cache[ncached++].inv;
}

void ops_cleanup(void)
{
	for (size_t i = 0; i < ncached; i++)
		lxgpu_inventory_free(&cache[i].inv);
	ncached = 0;
}

/* The CLI refuses what Proxmox's parser would drop (cli_change.c). */
static bool load(enum model_format format, const struct text *in, struct conf *c, char *why,
		 size_t size)
{
	struct lxgpu_err err = { 0 };
	if (conf_parse(in->bytes, in->len, format == MODEL_PVE ? CONF_PVE : CONF_LXC, c, &err) <
	    0) {
		snprintf(why, size, "%s", err.msg);
		return false;
	}
	long bad = conf_first_invalid(c);
	if (bad >= 0) {
		snprintf(why, size, "line %ld is not valid", bad + 1);
		conf_free(c);
		return false;
	}
	return true;
}

static void render(const struct conf *c, const struct conf_edit *e, struct text *out)
{
	out->bytes = conf_render(c, e, &out->len);
}

bool op_attach(const struct test_host *h, enum model_format format, const struct text *in,
	       const struct model_request *req, struct text *out, char *why, size_t size)
{
	const struct lxgpu_inventory *inv = inventory(h);
	struct lxgpu_err err = { 0 };
	struct conf c;
	struct lxgpu_plan plan;
	struct conf_edit e;
	struct edit_report rep;
	struct lxgpu_record old;
	struct edit_opts opts;
	struct dl_scan scan;
	if (!load(format, in, &c, why, size))
		return false;
	/* as cmd_attach: the old record's driver mode stays; one it cannot read is refused */
	dl_scan(&c, &scan);
	int r = record_read(&c, &scan, &old, &err);
	bool resets = scan.reset_end > 0;
	dl_free(&scan);
	if (r < 0) {
		snprintf(why, size, "%s", err.msg);
		conf_free(&c);
		return false;
	}
	struct plan_request pr = {
		.selectors = req->selectors,
		.nselectors = req->nselectors,
		.style = req->dev_style ? LXGPU_STYLE_DEV : LXGPU_STYLE_RAW,
		.wildcard = req->wildcard,
		.format = c.format,
		.privileged = ct_privileged(&c),
		.dev_supported = c.format == CONF_PVE,
		.nodes_guaranteed = true,
		.guard = req->guard,
		.render_gid = -1,
		.video_gid = -1,
		.ct_id = CT_ID,
		.hook_cmd = HOOK_CMD,
		.driver = old.driver,
		.resets_devices = resets,
	};
	record_free(&old);
	sync_opts(inv, req->prune, &opts);
	if (!pr.privileged) {
		pr.render_gid = req->render_gid;
		pr.video_gid = req->video_gid;
	}
	bool ok = plan_build(inv, &pr, &plan, &err) == 0 &&
		  sync_plan_edit(&c, &plan, &opts, &e, &rep, &err) == 0;
	if (ok) {
		render(&c, &e, out);
		edit_report_free(&rep);
		conf_edit_free(&e);
	} else {
		snprintf(why, size, "%s", err.msg);
	}
	plan_free(&plan);
	conf_free(&c);
	return ok;
}

bool op_sync(const struct test_host *h, enum model_format format, const struct text *in, bool prune,
	     struct text *out, char *why, size_t size)
{
	const struct lxgpu_inventory *inv = inventory(h);
	struct lxgpu_err err = { 0 };
	struct sync_facts facts = { .dev_supported = format == MODEL_PVE,
				    .nodes_guaranteed = true,
				    .prune = prune,
				    .hook_cmd = HOOK_CMD };
	struct conf c;
	struct lxgpu_plan plan;
	struct conf_edit e;
	struct edit_report rep;
	enum sync_outcome outcome;
	if (!load(format, in, &c, why, size))
		return false;
	bool ok = sync_edit(&c, CT_ID, inv, &facts, &plan, &e, &rep, &outcome, &err) == 0;
	if (ok) {
		render(&c, &e, out);
		edit_report_free(&rep);
	} else {
		snprintf(why, size, "%s", err.msg);
	}
	conf_edit_free(&e);
	plan_free(&plan);
	conf_free(&c);
	return ok;
}

bool op_detach(const struct test_host *h, enum model_format format, const struct text *in,
	       struct text *out, char *why, size_t size)
{
	struct lxgpu_err err = { 0 };
	struct conf c;
	struct conf_edit e;
	struct edit_report rep;
	(void)h; /* detach needs no host: the record says which lines are lxgpu's */
	if (!load(format, in, &c, why, size))
		return false;
	if (edit_detach(&c, &e, &rep, &err) < 0) {
		snprintf(why, size, "%s", err.msg);
		conf_free(&c);
		return false;
	}
	render(&c, &e, out);
	edit_report_free(&rep);
	conf_edit_free(&e);
	conf_free(&c);
	return true;
}
