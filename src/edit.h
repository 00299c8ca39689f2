/* edit: which lines of a container config attach and detach remove and add.
 * Pure: a parsed config, the inventory and a plan in; a conf_edit and a
 * report of what it replaces out. */
#ifndef LXGPU_EDIT_H
#define LXGPU_EDIT_H

#include "config.h"
#include "inventory.h"
#include "passthrough.h"
#include "plan.h"

enum edit_why {
	EDIT_OURS,  /* lxgpu wrote it */
	EDIT_HAND,  /* a hand-written (or another tool's) GPU line for the same nodes */
	EDIT_STALE, /* a rule for a major no driver has registered, or a node gone */
};

struct edit_removed {
	size_t line;
	enum edit_why why;
};

struct edit_report {
	struct edit_removed *removed;
	size_t nremoved;
	char **kept_other; /* other tools' GPU lines left alone (NVIDIA hook, NVIDIA_* env) */
	size_t nkept_other;
};

/* The edit that gives the container exactly the plan: lines of the nodes it
 * passes and lxgpu's earlier lines go, the plan's lines come in. An edit with
 * no change when the config already says what the plan says. On failure e
 * and rep hold nothing to free. */
int edit_attach(const struct conf *c, const struct lxgpu_inventory *inv,
		const struct lxgpu_plan *plan, struct conf_edit *e, struct edit_report *rep,
		struct lxgpu_err *err);
/* The edit that removes every GPU passthrough line and lxgpu's record. */
void edit_detach(const struct conf *c, const struct lxgpu_inventory *inv, struct conf_edit *e,
		 struct edit_report *rep);
/* The edit that makes `key: value` lxgpu's only hook line of that kind
 * (value NULL: none), leaving other hooks alone. */
void edit_hook(const struct conf *c, const struct lxgpu_inventory *inv, const char *key,
	       const char *value, struct conf_edit *e, struct edit_report *rep);
/* The edit that removes every lxc.hook.* line running lxgpu and nothing else
 * (`unhook`, before the package goes: the containers must still start). */
void edit_unhook(const struct conf *c, const struct lxgpu_inventory *inv, struct conf_edit *e,
		 struct edit_report *rep);
void edit_report_free(struct edit_report *rep);
const char *edit_why_name(enum edit_why w);

#endif
