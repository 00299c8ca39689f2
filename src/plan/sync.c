/* sync: one container's edit from its record (see sync.h). */
#include "plan/sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "config/idmap.h"
#include "config/devlines.h"
#include "util/xalloc.h"

void sync_request(const struct lxgpu_record *rec, const struct conf *c, const struct dl_scan *s,
		  const char *ct_id, const struct sync_facts *f, struct plan_request *req)
{
	*req = (struct plan_request){
		.selectors = (const char *const *)rec->devices,
		.nselectors = rec->ndevices,
		.style = rec->style,
		.wildcard = rec->wildcard,
		.format = c->format,
		.privileged = ct_privileged(c),
		.dev_supported = f->dev_supported,
		.nodes_guaranteed = f->nodes_guaranteed,
		.guard = rec->guard,
		.render_gid = rec->render_gid,
		.video_gid = rec->video_gid,
		.ct_id = ct_id,
		.hook_cmd = f->hook_cmd,
		.driver = rec->driver,
		.resets_devices = s->reset_end > 0,
		.where = f->where,
	};
}

void sync_opts(const struct lxgpu_inventory *inv, bool prune, struct edit_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->prune = prune;
	o->live_known = inv->have_proc_devices;
	for (size_t i = 0; i < inv->majors.nmajors && o->nlive < ARRAY_SIZE(o->live); i++)
		o->live[o->nlive++] = inv->majors.majors[i].major;
}

/* sync_plan_edit; s and rec: c's, when the caller has read them already. */
static int plan_edit(const struct conf *c, const struct dl_scan *s, const struct lxgpu_record *rec,
		     const struct lxgpu_plan *plan, const struct edit_opts *o, struct conf_edit *e,
		     struct edit_report *rep, struct lxgpu_err *err)
{
	char **lines;
	size_t n;
	plan_lines(plan, c->format, &lines, &n);
	struct edit_want w = { .lines = lines,
			       .nlines = n,
			       .paths = plan->paths,
			       .npaths = plan->npaths,
			       .domain = &plan->domain };
	int r = s ? edit_attach_seen(c, s, rec, &w, o, e, rep, err)
		  : edit_attach(c, &w, o, e, rep, err);
	plan_lines_free(lines, n);
	return r;
}

int sync_plan_edit(const struct conf *c, const struct lxgpu_plan *plan, const struct edit_opts *o,
		   struct conf_edit *e, struct edit_report *rep, struct lxgpu_err *err)
{
	return plan_edit(c, NULL, NULL, plan, o, e, rep, err);
}

/* Whether the config has a GPU line lxgpu did not write (for the outcome). */
static bool hand_written_gpu(const struct dl_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct dl_entry *x = &s->entries[i];
		if (((x->kind == DL_MOUNT || x->kind == DL_DEV) && dl_gpu_path(x->path)) ||
		    (x->kind == DL_RULE && (x->major == 195 || x->major == 226)))
			return true;
	}
	return false;
}

int sync_edit(const struct conf *c, const char *ct_id, const struct lxgpu_inventory *inv,
	      const struct sync_facts *f, struct lxgpu_plan *plan, struct conf_edit *e,
	      struct edit_report *rep, enum sync_outcome *outcome, struct lxgpu_err *err)
{
	struct dl_scan s;
	struct lxgpu_record rec;
	struct edit_opts o;
	struct plan_request req;
	int r;

	memset(plan, 0, sizeof(*plan));
	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	*outcome = SYNC_NO_GPU;
	sync_opts(inv, f->prune, &o);
	dl_scan(c, &s);
	if ((r = record_read(c, &s, &rec, err)) < 0) {
		dl_free(&s);
		return lxgpu_wrap(err, "lxgpu's record");
	}
	if (rec.version == 0) {
		*outcome = hand_written_gpu(&s) ? SYNC_UNMANAGED : SYNC_NO_GPU;
		dl_free(&s);
		if (f->prune && *outcome == SYNC_UNMANAGED) {
			/* consent to remove dead rules, whoever wrote them, in a GPU
			 * container: elsewhere a major may only wait for its module */
			conf_edit_free(e);
			edit_prune(c, &o, e, rep);
			if (conf_edit_changes(e, c))
				*outcome = SYNC_EDIT;
		}
		return 0;
	}
	if (rec.ndevices == 0) {
		r = lxgpu_failx(err, ENOENT,
				"lxgpu's record names no GPU (LXGPU_DEVICES): run lxgpu attach");
		goto out;
	}
	for (size_t i = 0; i < rec.ndevices; i++)
		if (!plan_selector_floating(rec.devices[i]) &&
		    !lxgpu_gpu_find(inv, rec.devices[i])) {
			r = lxgpu_failx(err, ENODEV,
					"GPU %s is not on this host (moved to another node, or "
					"removed?)",
					rec.devices[i]);
			goto out;
		}
	sync_request(&rec, c, &s, ct_id, f, &req);
	if ((r = plan_build(inv, &req, plan, err)) < 0)
		goto out;
	conf_edit_free(e);
	/* the scan and record read above are the edit's too */
	if ((r = plan_edit(c, &s, &rec, plan, &o, e, rep, err)) < 0) {
		conf_edit_init(e, c);
		goto out;
	}
	*outcome = conf_edit_changes(e, c) ? SYNC_EDIT : SYNC_IN_LINE;
out:
	record_free(&rec);
	dl_free(&s);
	return r;
}
