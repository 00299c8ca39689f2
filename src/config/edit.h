/* edit: which lines of a container config attach, sync and detach remove and
 * add (docs/ownership.md). Pure: the config and what lxgpu is to write in, a
 * conf_edit and a report out. It knows the plan's lines and domain, never the
 * host: a line is lxgpu's when its record says so, adopted when it grants or
 * mounts only what the domain holds, and left alone otherwise. */
#ifndef LXGPU_EDIT_H
#define LXGPU_EDIT_H

#include "config/config.h"
#include "config/devlines.h"
#include "config/domain.h"
#include "util/err.h"
#include "config/record.h"

enum edit_why {
	EDIT_OURS,    /* lxgpu's: its record, hooks, or what the record says it wrote */
	EDIT_ADOPTED, /* hand-written, in the domain of the GPUs attached */
	EDIT_PRUNED,  /* a rule of a major no driver registers (--prune) */
};

enum edit_note {
	NOTE_WIDER, /* hand-written and kept: reaches the GPUs and other devices too */
	NOTE_DEAD,  /* hand-written and kept: a rule of a major no driver registers */
};

struct edit_line {
	size_t line;
	int why; /* removed: enum edit_why; kept: enum edit_note */
};

struct edit_report {
	struct edit_line *removed; /* in line order */
	size_t nremoved;
	size_t *adopted; /* hand-written lines that are exactly what lxgpu writes:
			  * kept where they are, lxgpu's from now on */
	size_t nadopted;
	struct edit_line
		*kept; /* hand-written GPU lines left alone, and why they are worth a word */
	size_t nkept;
	char **kept_other; /* other tools' GPU lines left alone (NVIDIA hook, NVIDIA_* env) */
	size_t nkept_other;
};

/* What lxgpu writes: plan_lines' lines (devN indices are the editor's to
 * choose), the host paths they pass, and the domain they make lxgpu's. */
struct edit_want {
	char *const *lines;
	size_t nlines;
	char *const *paths;
	size_t npaths;
	const struct ct_domain *domain;
};

/* Which rules are dead: the character majors drivers register now
 * (/proc/devices); with live_known false no rule is. prune removes them. */
struct edit_opts {
	bool prune;
	bool live_known;
	unsigned live[512];
	size_t nlive;
};

/* The edit that gives the container exactly what w says: lxgpu's earlier
 * lines and the hand-written lines of the domain go, w's lines come, a line
 * that would go and come back as it is stays where it is. No change when the
 * config already says it. Fails on a record lxgpu cannot read, a devN
 * staged in [pve:pending] for a node w passes, no free devN. */
int edit_attach(const struct conf *c, const struct edit_want *w, const struct edit_opts *o,
		struct conf_edit *e, struct edit_report *rep, struct lxgpu_err *err);
/* edit_attach of a config whose dl_scan and record the caller has read
 * (sync reads them first). */
int edit_attach_seen(const struct conf *c, const struct dl_scan *s, const struct lxgpu_record *old,
		     const struct edit_want *w, const struct edit_opts *o, struct conf_edit *e,
		     struct edit_report *rep, struct lxgpu_err *err);
/* The edit that removes lxgpu's lines (its record says which), nothing else. */
int edit_detach(const struct conf *c, struct conf_edit *e, struct edit_report *rep,
		struct lxgpu_err *err);
/* The edit that removes dead rules and nothing else (sync --prune of a
 * config lxgpu has no record in). */
void edit_prune(const struct conf *c, const struct edit_opts *o, struct conf_edit *e,
		struct edit_report *rep);
/* The edit that makes `hook` lxgpu's only lxc.hook.mount line (NULL: none)
 * and records the driver mode in the record's request, if it has one. */
int edit_driver(const struct conf *c, const char *hook, enum rec_driver driver, struct conf_edit *e,
		struct edit_report *rep, struct lxgpu_err *err);
/* The edit that removes every lxc.hook.* line running lxgpu and nothing else
 * (`unhook`, before the package goes: the containers must still start). */
void edit_unhook(const struct conf *c, struct conf_edit *e, struct edit_report *rep);
void edit_report_free(struct edit_report *rep);
const char *edit_why_name(enum edit_why w);

/* Whether a rule is dead by o (a fixed GPU major, 195 or 226, never is). */
bool edit_rule_dead(const struct edit_opts *o, const struct dl_entry *x);

#endif
