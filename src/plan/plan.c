/* plan: what a container gets (see plan.h). Least privilege: exact
 * major:minor rules for the selected GPUs and the control nodes they need;
 * "c 195:*" only with --wildcard (docs/ownership.md). */
#include "plan/plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

const char *plan_style_name(enum lxgpu_style s)
{
	return record_style_name(s);
}

static bool has_node(const struct lxgpu_plan *p, const struct lxgpu_node *n)
{
	for (size_t i = 0; i < p->nnodes; i++)
		if (p->nodes[i].node == n)
			return true;
	return false;
}

static long node_gid(const struct plan_request *req, const struct lxgpu_node *n)
{
	if (n->gid == 0)
		return -1;
	if (req->privileged)
		return n->gid; /* no id mapping: the host's group is the container's */
	/* cardN is root:video, renderDN and kfd root:render (tests/hosts/SOURCES.md §1, §3.1) */
	return n->role == LXGPU_NODE_DRI_CARD ? req->video_gid : req->render_gid;
}

static int add_node(struct lxgpu_plan *p, const struct plan_request *req,
		    const struct lxgpu_node *n, struct lxgpu_err *err)
{
	if (has_node(p, n))
		return 0;
	if (n->type != 'c')
		return lxgpu_failx(err, EINVAL,
				   "%s is not a character device (see lxgpu discover for the fix)",
				   n->path);
	p->nodes = xrealloc(p->nodes, (p->nnodes + 1) * sizeof(*p->nodes));
	p->nodes[p->nnodes++] = (struct plan_node){ n, node_gid(req, n) };
	return 0;
}

static const struct lxgpu_node *find_role(const struct lxgpu_inventory *inv,
					  enum lxgpu_node_role role)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (inv->nodes[i].role == role)
			return &inv->nodes[i];
	return NULL;
}

/* A MIG compute instance's capability nodes: "gpu<minor>/mig/gi<G>/access"
 * and ".../gi<G>/ci<C>/access" (tests/hosts/SOURCES.md §5.1), not the GPU's others
 * nor mig/config and mig/monitor, which only an administrator needs. */
static bool mig_node_of(const struct lxgpu_node *n, const struct lxgpu_gpu *g, int gi, int ci)
{
	char want_gi[64], want_ci[64];
	snprintf(want_gi, sizeof(want_gi), "gpu%d/mig/gi%d/access", g->minor, gi);
	snprintf(want_ci, sizeof(want_ci), "gpu%d/mig/gi%d/ci%d/access", g->minor, gi, ci);
	return n->capability &&
	       (strcmp(n->capability, want_gi) == 0 || strcmp(n->capability, want_ci) == 0);
}

static int add_gpu(struct lxgpu_plan *p, const struct lxgpu_inventory *inv,
		   const struct plan_request *req, const struct lxgpu_gpu *g,
		   const struct plan_pick *pick, struct lxgpu_err *err)
{
	const struct lxgpu_node *n;
	int r;

	if (!g->usable)
		return lxgpu_failx(err, EINVAL, "GPU %d (%s) cannot be given to a container: %s",
				   g->index, g->pci, g->reason);
	if (g->vendor == LXGPU_VENDOR_NVIDIA) {
		bool have_gpu_node = false;
		for (size_t i = 0; i < inv->nnodes; i++) {
			n = &inv->nodes[i];
			if (n->gpu != g->index)
				continue;
			/* its own node and its MIG instances (or the one picked); not its
			 * DRM nodes (compute) */
			bool cap = n->role == LXGPU_NODE_CAP &&
				   (pick->gi < 0 || mig_node_of(n, g, pick->gi, pick->ci));
			if (n->role == LXGPU_NODE_GPU || cap) {
				if ((r = add_node(p, req, n, err)) < 0)
					return r;
				have_gpu_node |= n->role == LXGPU_NODE_GPU;
			}
		}
		if (!have_gpu_node)
			return lxgpu_failx(err, ENOENT,
					   "GPU %d has no /dev/nvidia%d: run nvidia-modprobe -c %d",
					   g->index, g->minor, g->minor);
		if (pick->gi >= 0) {
			size_t caps = 0;
			for (size_t i = 0; i < p->nnodes; i++)
				caps += mig_node_of(p->nodes[i].node, g, pick->gi, pick->ci);
			/* the GPU instance's and the compute instance's access nodes */
			if (caps < 2)
				return lxgpu_failx(
					err, ENOENT,
					"GPU %d MIG instance %d/%d: its capability nodes "
					"in /dev/nvidia-caps are missing: run lxgpu sync",
					g->index, pick->gi, pick->ci);
		}
		if (!(n = find_role(inv, LXGPU_NODE_CTL)))
			return lxgpu_failx(
				err, ENOENT,
				"/dev/nvidiactl does not exist: run nvidia-modprobe -c 255");
		if ((r = add_node(p, req, n, err)) < 0)
			return r;
		if (!(n = find_role(inv, LXGPU_NODE_UVM)))
			return lxgpu_failx(
				err, ENOENT,
				"/dev/nvidia-uvm does not exist yet (nothing has used CUDA "
				"since boot): run nvidia-modprobe -u -c 0, then attach again");
		if ((r = add_node(p, req, n, err)) < 0)
			return r;
		static const enum lxgpu_node_role optional[] = { LXGPU_NODE_UVM_TOOLS,
								 LXGPU_NODE_MODESET };
		for (size_t k = 0; k < ARRAY_SIZE(optional); k++)
			if ((n = find_role(inv, optional[k])) && n->type == 'c' &&
			    (r = add_node(p, req, n, err)) < 0)
				return r;
		return 0;
	}
	/* AMD and Intel: the GPU's card and render nodes; AMD also /dev/kfd (ROCm). */
	for (size_t i = 0; i < inv->nnodes; i++) {
		n = &inv->nodes[i];
		if (n->gpu == g->index &&
		    (n->role == LXGPU_NODE_DRI_CARD || n->role == LXGPU_NODE_DRI_RENDER) &&
		    (r = add_node(p, req, n, err)) < 0)
			return r;
	}
	if (g->vendor == LXGPU_VENDOR_AMD && (n = find_role(inv, LXGPU_NODE_KFD)) &&
	    (r = add_node(p, req, n, err)) < 0)
		return r;
	return 0;
}

static bool is_nvidia_role(enum lxgpu_node_role r)
{
	return r <= LXGPU_NODE_CAP;
}

static int choose_style(struct lxgpu_plan *p, const struct plan_request *req, struct lxgpu_err *err)
{
	bool nvidia = false, needs_group = false;
	for (size_t i = 0; i < p->nnodes; i++) {
		nvidia |= is_nvidia_role(p->nodes[i].node->role);
		/* A bound node shows as nobody:nogroup in an unprivileged container: one
		 * that gives its group more than others (renderD* 0660) is then useless. */
		unsigned mode = p->nodes[i].node->mode;
		needs_group |= (((mode >> 3) & 7) & ~(mode & 7)) != 0;
	}
	if (p->floating && req->format == CONF_PVE && req->style == LXGPU_STYLE_DEV)
		return lxgpu_failx(
			err, EINVAL,
			"--style dev: a model=, any or map: selection is resolved where the "
			"container starts, after Proxmox has turned devN into rules: use "
			"--style raw");
	if (req->format == CONF_LXC) {
		if (req->style == LXGPU_STYLE_DEV)
			return lxgpu_failx(
				err, EINVAL,
				"--style dev: plain LXC has no devN entries (Proxmox only)");
		p->style = LXGPU_STYLE_RAW;
	} else if (req->style == LXGPU_STYLE_DEV) {
		if (req->resets_devices)
			return lxgpu_failx(
				err, EINVAL,
				"--style dev: an lxc.cgroup2.devices line of type a in the config "
				"resets the rules Proxmox makes of devN lines; use --style raw");
		if (!req->dev_supported)
			return lxgpu_failx(
				err, ENOTSUP,
				"--style dev needs pve-container 5.0.7 or newer (Proxmox VE "
				"8.1)");
		p->style = LXGPU_STYLE_DEV;
	} else if (req->style == LXGPU_STYLE_RAW) {
		p->style = LXGPU_STYLE_RAW;
	} else {
		/* devN stops the start when a node is missing: NVIDIA's appear on first
		 * use unless lxgpu's boot unit creates them (pve-container's update_lxc_config). */
		bool dev_ok = req->dev_supported && (!nvidia || req->nodes_guaranteed) &&
			      !req->resets_devices && !p->floating;
		p->style = dev_ok ? LXGPU_STYLE_DEV : LXGPU_STYLE_RAW;
	}
	if (p->style == LXGPU_STYLE_RAW && !req->privileged && needs_group) {
		if (!req->hook_cmd || !req->ct_id)
			return lxgpu_failx(err, ENOTSUP,
					   "an unprivileged container needs its own group on these "
					   "nodes, which only lxgpu's start hook can give");
		/* the hook makes them at start, owned by the container's group */
		for (size_t i = 0; i < p->nnodes; i++) {
			unsigned mode = p->nodes[i].node->mode;
			p->nodes[i].via_hook = (((mode >> 3) & 7) & ~(mode & 7)) != 0;
		}
		p->hook = true;
	}
	if (p->style == LXGPU_STYLE_DEV || p->hook)
		for (size_t i = 0; i < p->nnodes; i++) {
			const struct lxgpu_node *n = p->nodes[i].node;
			if (!req->privileged && n->gid != 0 && p->nodes[i].gid < 0)
				return lxgpu_failx(
					err, EINVAL,
					"%s belongs to group %u: the container's own %s gid is "
					"unknown (start the container, or pass --gid)",
					n->path, n->gid,
					n->role == LXGPU_NODE_DRI_CARD ? "video" : "render");
		}
	return 0;
}

static void add_rule(struct lxgpu_plan *p, const char *rule)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i], rule) == 0)
			return;
	p->rules = xrealloc(p->rules, (p->nrules + 1) * sizeof(char *));
	p->rules[p->nrules++] = xstrdup(rule);
}

/* What attaching GPU g makes lxgpu responsible for (docs/ownership.md):
 * NVIDIA's majors and /dev/nvidia* paths; AMD's kfd; the GPU's own DRI nodes. */
static void add_domain(struct ct_domain *d, const struct lxgpu_inventory *inv,
		       const struct lxgpu_gpu *g)
{
	if (g->vendor == LXGPU_VENDOR_NVIDIA) {
		d->nvidia = true;
		domain_add_major(d, 195); /* fixed (devices.txt), loaded or not */
		for (size_t i = 0; i < inv->majors.nmajors; i++)
			if (strncmp(inv->majors.majors[i].name, "nvidia", 6) == 0)
				domain_add_major(d, inv->majors.majors[i].major);
		for (size_t i = 0; i < inv->nnodes; i++)
			if (is_nvidia_role(inv->nodes[i].role) && inv->nodes[i].type == 'c')
				domain_add_major(d, inv->nodes[i].major);
		return;
	}
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct lxgpu_node *n = &inv->nodes[i];
		bool own = n->gpu == g->index &&
			   (n->role == LXGPU_NODE_DRI_CARD || n->role == LXGPU_NODE_DRI_RENDER);
		bool kfd = g->vendor == LXGPU_VENDOR_AMD && n->role == LXGPU_NODE_KFD;
		if (!own && !kfd)
			continue;
		domain_add_path(d, n->path);
		if (n->type == 'c' && own)
			domain_add_node(d, n->major, n->minor);
		else if (n->type == 'c')
			domain_add_major(d, n->major);
	}
	int kfd = proc_devices_major(&inv->majors, "kfd");
	if (g->vendor == LXGPU_VENDOR_AMD && kfd >= 0)
		domain_add_major(d, (unsigned)kfd);
	if (g->pci[0]) {
		/* its stable names: /dev/dri/by-path/pci-<address>-card and -render */
		static const char *const kinds[] = { "card", "render" };
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			char path[96];
			snprintf(path, sizeof(path), "/dev/dri/by-path/pci-%s-%s", g->pci,
				 kinds[k]);
			domain_add_path(d, path);
		}
	}
}

void plan_domain(const struct lxgpu_inventory *inv, char *const *ids, size_t n,
		 struct ct_domain *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct lxgpu_gpu *g = plan_gpu_of(inv, ids[i], NULL);
		if (g)
			add_domain(out, inv, g);
	}
}

/* The record plan_lines writes: the request, and what the lines give. */
static void make_record(struct lxgpu_plan *p, const struct plan_request *req)
{
	struct lxgpu_record *r = &p->record;
	r->version = RECORD_VERSION;
	r->style = p->style;
	r->wildcard = p->wildcard;
	r->guard = p->guard;
	r->driver = req->driver;
	/* the container's own groups, so that sync plans what attach planned */
	r->render_gid = req->privileged ? -1 : req->render_gid;
	r->video_gid = req->privileged ? -1 : req->video_gid;
	for (size_t i = 0; i < p->nnodes; i++) {
		record_add_node(r, p->nodes[i].node->path);
		p->paths = xrealloc(p->paths, (p->npaths + 1) * sizeof(char *));
		p->paths[p->npaths++] = xstrdup(p->nodes[i].node->path);
	}
}

int plan_build(const struct lxgpu_inventory *inv, const struct plan_request *req,
	       struct lxgpu_plan *out, struct lxgpu_err *err)
{
	_cleanup_free_ struct plan_pick *picks = xcalloc(inv->ngpus + 1, sizeof(*picks));
	int r;

	memset(out, 0, sizeof(*out));
	out->record.render_gid = out->record.video_gid = -1;
	out->wildcard = req->wildcard;
	out->guard = req->guard;
	out->hook = req->guard;
	out->ct_id = req->ct_id ? xstrdup(req->ct_id) : NULL;
	out->hook_cmd = req->hook_cmd ? xstrdup(req->hook_cmd) : NULL;
	out->render_gid = req->render_gid;
	out->video_gid = req->video_gid;
	if (req->guard && !req->hook_cmd)
		return lxgpu_failx(err, EINVAL, "--guard: no hook command to write");
	if ((r = plan_select(inv, req->selectors, req->nselectors, req->where, picks, err)) < 0)
		return r;
	for (size_t s = 0; s < req->nselectors; s++)
		out->floating |= plan_selector_floating(req->selectors[s]);
	char *devices = xstrdup("");
	for (size_t i = 0; i < inv->ngpus; i++) {
		if (!picks[i].selected)
			continue;
		if ((r = add_gpu(out, inv, req, &inv->gpus[i], &picks[i], err)) < 0) {
			free(devices);
			return r;
		}
		add_domain(&out->domain, inv, &inv->gpus[i]);
		out->gpus = xrealloc(out->gpus, (out->ngpus + 1) * sizeof(int));
		out->gpus[out->ngpus++] = (int)i;
		char mig[32] = "";
		if (picks[i].gi >= 0)
			snprintf(mig, sizeof(mig), "/%d/%d", picks[i].gi, picks[i].ci);
		if (picks[i].floating)
			continue; /* recorded as its selector, below */
		char *id = xasprintf("%s%s", lxgpu_gpu_id(&inv->gpus[i]), mig);
		record_add_device(&out->record, id);
		char *d = xasprintf("%s%s%s", devices, devices[0] ? "," : "", id);
		free(id);
		free(devices);
		devices = d;
	}
	/* a node-independent selection is recorded as such: each node resolves it */
	for (size_t s = 0; s < req->nselectors; s++) {
		if (!plan_selector_floating(req->selectors[s]))
			continue;
		record_add_device(&out->record, req->selectors[s]);
		char *d = xasprintf("%s%s%s", devices, devices[0] ? "," : "", req->selectors[s]);
		free(devices);
		devices = d;
	}
	out->devices = devices;
	if ((r = choose_style(out, req, err)) < 0)
		return r;
	for (size_t i = 0; i < out->nnodes; i++) {
		const struct lxgpu_node *n = out->nodes[i].node;
		char rule[64];
		/* --wildcard opens every minor of the domain's majors; 226 is every
		 * GPU's (DRM), so a DRI node's rule stays exact */
		bool dri = n->role == LXGPU_NODE_DRI_CARD || n->role == LXGPU_NODE_DRI_RENDER;
		bool every_minor = req->wildcard && !dri;
		if (every_minor)
			snprintf(rule, sizeof(rule), "c %u:* rwm", n->major);
		else
			snprintf(rule, sizeof(rule), "c %u:%u rwm", n->major, n->minor);
		add_rule(out, rule);
		/* the record's rules: what the rule lines give (devN gives its own) */
		if (out->style != LXGPU_STYLE_DEV)
			record_add_rule(&out->record, 'c', (int)n->major,
					every_minor ? -1 : (int)n->minor);
	}
	make_record(out, req);
	return 0;
}

void plan_free(struct lxgpu_plan *p)
{
	for (size_t i = 0; i < p->nrules; i++)
		free(p->rules[i]);
	for (size_t i = 0; i < p->npaths; i++)
		free(p->paths[i]);
	free(p->rules);
	free(p->paths);
	free(p->nodes);
	free(p->gpus);
	free(p->devices);
	free(p->ct_id);
	free(p->hook_cmd);
	record_free(&p->record);
	domain_free(&p->domain);
	memset(p, 0, sizeof(*p));
}

static void push(char ***lines, size_t *n, char *line)
{
	*lines = xrealloc(*lines, (*n + 1) * sizeof(char *));
	(*lines)[(*n)++] = line;
}

void plan_lines_free(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static void push_env(char ***lines, size_t *n, enum conf_format format, char *value)
{
	push(lines, n, conf_format_line(format, "lxc.environment", value));
	free(value);
}

void plan_lines(const struct lxgpu_plan *p, enum conf_format format, char ***out, size_t *nout)
{
	char **lines = NULL;
	size_t n = 0;

	push_env(&lines, &n, format, record_devices_value(&p->record));
	push_env(&lines, &n, format, record_request_value(&p->record));
	push_env(&lines, &n, format, record_wrote_value(&p->record));
	if (p->style == LXGPU_STYLE_DEV) {
		for (size_t i = 0; i < p->nnodes; i++) {
			const struct lxgpu_node *node = p->nodes[i].node;
			char key[32], value[512], gid[32] = "";
			snprintf(key, sizeof(key), "dev%zu", i);
			if (p->nodes[i].gid >= 0)
				snprintf(gid, sizeof(gid), ",gid=%ld", p->nodes[i].gid);
			/* devN nodes are made 0660 unless told (pct.conf(5), devN) */
			snprintf(value, sizeof(value), "%s%s,mode=0%o", node->path, gid,
				 node->mode & 0777);
			push(&lines, &n, conf_format_line(format, key, value));
		}
	} else {
		for (size_t i = 0; i < p->nrules; i++)
			push(&lines, &n,
			     conf_format_line(format, "lxc.cgroup2.devices.allow", p->rules[i]));
		for (size_t i = 0; i < p->nnodes; i++) {
			const char *path = p->nodes[i].node->path;
			_cleanup_free_ char *entry =
				p->nodes[i].via_hook
					? xasprintf(DL_HOOK_NODES
						    "/%s%s %s none bind,optional,create=file",
						    p->ct_id, path, path + 1)
					: xasprintf("%s %s none bind,optional,create=file", path,
						    path + 1);
			push(&lines, &n, conf_format_line(format, "lxc.mount.entry", entry));
		}
	}
	bool via = false;
	for (size_t i = 0; i < p->nnodes; i++)
		via |= p->nodes[i].via_hook;
	if (p->hook) {
		_cleanup_free_ char *cmd =
			xasprintf("%s%s", p->hook_cmd, p->guard ? " --guard" : "");
		push(&lines, &n, conf_format_line(format, "lxc.hook.pre-start", cmd));
	}
	/* the tmpfs of the hook's nodes goes when the container stops */
	if (p->hook && via)
		push(&lines, &n, conf_format_line(format, "lxc.hook.post-stop", p->hook_cmd));
	/* a node-independent selection: the node where it starts gives its own
	 * GPU's rules and nodes at start (hook/starthost.c) */
	if (p->floating && format == CONF_PVE)
		push(&lines, &n, conf_format_line(format, "lxc.include", LXGPU_START_HOST_CONF));
	else if (p->floating && p->hook_cmd)
		push(&lines, &n, conf_format_line(format, "lxc.hook.start-host", p->hook_cmd));
	*out = lines;
	*nout = n;
}
