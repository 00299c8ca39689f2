/* sync: one container's edit (see sync.h). */
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "container.h"
#include "passthrough.h"
#include "xalloc.h"

/* The GPUs a config's lines pass: from its record, else from its node lines. */
static size_t selection(const struct pt_config *pt, const struct lxgpu_inventory *inv,
			const char **sel, size_t max, char *buf, size_t bufsize,
			struct lxgpu_err *err)
{
	size_t n = 0, used = 0;
	if (pt->nrecorded > 0) {
		/* copied into buf: the selectors outlive pt */
		for (size_t i = 0; i < pt->nrecorded && n < max; i++) {
			if (!pt_find_gpu(inv, pt->recorded[i])) {
				lxgpu_failx(err, ENODEV,
					    "GPU %s is not on this host (moved to another node, or "
					    "removed?)",
					    pt->recorded[i]);
				return 0;
			}
			int w = snprintf(buf + used, bufsize - used, "%s", pt->recorded[i]);
			if (w < 0 || (size_t)w + 1 >= bufsize - used)
				break;
			sel[n++] = buf + used;
			used += (size_t)w + 1;
		}
		return n;
	}
	/* hand-written lines: the GPUs whose nodes they name, by index */
	bool seen[256] = { false };
	for (size_t i = 0; i < pt->n; i++) {
		const struct pt_entry *e = &pt->entries[i];
		if (e->kind != PT_MOUNT && e->kind != PT_DEV)
			continue;
		for (size_t k = 0; k < inv->nnodes; k++) {
			const struct lxgpu_node *node = &inv->nodes[k];
			if (node->gpu < 0 || node->gpu >= 256 || seen[node->gpu] || e->dir ||
			    strcmp(e->path, node->path) != 0)
				continue;
			seen[node->gpu] = true;
			int w = snprintf(buf + used, bufsize - used, "%d", node->gpu);
			if (w < 0 || (size_t)w + 1 >= bufsize - used || n == max)
				break;
			sel[n++] = buf + used;
			used += (size_t)w + 1;
		}
	}
	if (n == 0)
		lxgpu_failx(
			err, ENOENT,
			"its GPU lines name no GPU node of this host and it has no LXGPU_DEVICES "
			"record: run lxgpu attach");
	return n;
}

int sync_edit(const struct conf *c, const char *ct_id, const struct lxgpu_inventory *inv,
	      const struct sync_facts *f, struct lxgpu_plan *plan, struct conf_edit *e,
	      struct edit_report *rep, enum sync_outcome *outcome, struct lxgpu_err *err)
{
	struct pt_config pt;
	const char *sel[64];
	char buf[1024];
	int r;

	memset(plan, 0, sizeof(*plan));
	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	*outcome = SYNC_NO_GPU;
	pt_scan(c, inv, &pt);
	bool nodes = false, dev = false, wildcard = false, guard = false;
	long render = -1, video = -1;
	for (size_t i = 0; i < pt.n; i++) {
		const struct pt_entry *x = &pt.entries[i];
		nodes |= x->kind == PT_MOUNT || x->kind == PT_DEV || x->kind == PT_ENV;
		dev |= x->kind == PT_DEV;
		guard |= x->kind == PT_HOOK && strstr(x->path, "--guard") != NULL;
		wildcard |= x->kind == PT_RULE && !x->dead && x->minor < 0;
		/* the gids devN lines give today are the container's (proxmox-config.md §2.1) */
		if (x->kind == PT_DEV && x->gid >= 0) {
			if (strstr(x->path, "/card"))
				video = x->gid;
			else
				render = x->gid;
		}
	}
	if (pt.render_gid >= 0)
		render = pt.render_gid;
	if (pt.video_gid >= 0)
		video = pt.video_gid;
	if (!nodes) {
		pt_free(&pt);
		return 0;
	}
	size_t n = selection(&pt, inv, sel, ARRAY_SIZE(sel), buf, sizeof(buf), err);
	pt_free(&pt);
	if (n == 0)
		return -err->code;
	struct plan_request req = {
		.selectors = sel,
		.nselectors = n,
		.style = dev ? LXGPU_STYLE_DEV : LXGPU_STYLE_RAW,
		.wildcard = wildcard,
		.format = c->format,
		.privileged = ct_privileged(c),
		.dev_supported = f->dev_supported,
		.nodes_guaranteed = f->nodes_guaranteed,
		.render_gid = render,
		.video_gid = video,
		.guard = guard,
		.ct_id = ct_id,
		.hook_cmd = f->hook_cmd,
	};
	if ((r = plan_build(inv, &req, plan, err)) < 0)
		return r;
	conf_edit_free(e);
	if ((r = edit_attach(c, inv, plan, e, rep, err)) < 0) {
		conf_edit_init(e, c);
		return r;
	}
	*outcome = conf_edit_changes(e, c) ? SYNC_EDIT : SYNC_IN_LINE;
	return 0;
}
