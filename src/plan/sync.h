/* sync: what brings a container's GPU lines back in line with the host,
 * from its record alone (docs/ownership.md): the same GPUs (a GPU renumbered
 * after a reboot stays the same GPU), style, rules and guard as it records,
 * with majors and minors as they are now. Hand-written lines never widen
 * it. Pure. */
#ifndef LXGPU_SYNC_H
#define LXGPU_SYNC_H

#include "config/config.h"
#include "config/edit.h"
#include "inventory/inventory.h"
#include "plan/plan.h"

struct sync_facts {
	bool dev_supported, nodes_guaranteed;
	bool prune;                     /* --prune: dead rules go too */
	const char *hook_cmd;           /* for unprivileged containers' nodes */
	const struct plan_where *where; /* this node and the mappings: model=, any, map: */
};

enum sync_outcome {
	SYNC_NO_GPU,    /* no record and no GPU line: nothing to do */
	SYNC_UNMANAGED, /* hand-written GPU lines, no record: lxgpu's to adopt only by attach */
	SYNC_IN_LINE,   /* the config says what the record asks on this host */
	SYNC_EDIT,      /* the edit in e brings it in line */
};

/* The request a record makes (selectors point into rec): what sync and the
 * start hook plan from. */
void sync_request(const struct lxgpu_record *rec, const struct conf *c, const struct dl_scan *s,
		  const char *ct_id, const struct sync_facts *f, struct plan_request *req);
/* The edit options of this host: its live majors, and f's prune. */
void sync_opts(const struct lxgpu_inventory *inv, bool prune, struct edit_opts *o);

int sync_edit(const struct conf *c, const char *ct_id, const struct lxgpu_inventory *inv,
	      const struct sync_facts *f, struct lxgpu_plan *plan, struct conf_edit *e,
	      struct edit_report *rep, enum sync_outcome *outcome, struct lxgpu_err *err);

/* attach's and sync's edit of c for plan: plan_lines, then edit_attach. */
int sync_plan_edit(const struct conf *c, const struct lxgpu_plan *plan, const struct edit_opts *o,
		   struct conf_edit *e, struct edit_report *rep, struct lxgpu_err *err);

#endif
