/* sync: what brings a container's GPU lines back in line with the host:
 * the same GPUs as it records (LXGPU_DEVICES: a GPU renumbered after a
 * reboot stays the same GPU), or as its hand-written lines pass; the style
 * its lines have; majors and minors as they are now. Pure. */
#ifndef LXGPU_SYNC_H
#define LXGPU_SYNC_H

#include "config.h"
#include "edit.h"
#include "inventory.h"
#include "plan.h"

struct sync_facts {
	bool dev_supported, nodes_guaranteed;
	const char *hook_cmd; /* for unprivileged containers' nodes */
};

enum sync_outcome {
	SYNC_NO_GPU,  /* no GPU line: nothing to do */
	SYNC_IN_LINE, /* the config says what the host has */
	SYNC_EDIT,    /* the edit in e brings it in line */
};

int sync_edit(const struct conf *c, const char *ct_id, const struct lxgpu_inventory *inv,
	      const struct sync_facts *f, struct lxgpu_plan *plan, struct conf_edit *e,
	      struct edit_report *rep, enum sync_outcome *outcome, struct lxgpu_err *err);

#endif
