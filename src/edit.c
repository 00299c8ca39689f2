/* edit: attach and detach as edits of the main section (see edit.h). */
#include "edit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "xalloc.h"

const char *edit_why_name(enum edit_why w)
{
	return w == EDIT_OURS ? "lxgpu" : w == EDIT_HAND ? "hand-written" : "stale";
}

static void report_remove(struct edit_report *rep, struct conf_edit *e, size_t line,
			  enum edit_why why)
{
	if (e->remove[line])
		return;
	e->remove[line] = true;
	rep->removed = xrealloc(rep->removed, (rep->nremoved + 1) * sizeof(*rep->removed));
	rep->removed[rep->nremoved++] = (struct edit_removed){ line, why };
}

static void keep_other(struct edit_report *rep, const struct conf *c, size_t line)
{
	rep->kept_other = xrealloc(rep->kept_other, (rep->nkept_other + 1) * sizeof(char *));
	rep->kept_other[rep->nkept_other++] = conf_line_text(c, line);
}

static bool is_shared(enum lxgpu_node_role r)
{
	return r == LXGPU_NODE_CTL || r == LXGPU_NODE_UVM || r == LXGPU_NODE_UVM_TOOLS ||
	       r == LXGPU_NODE_MODESET || r == LXGPU_NODE_KFD;
}

/* Whether the node belongs to a GPU that the config records as lxgpu's. */
static bool recorded_node(const struct pt_config *pt, const struct lxgpu_inventory *inv,
			  const struct lxgpu_node *n)
{
	if (pt->nrecorded == 0)
		return false;
	if (is_shared(n->role))
		return true;
	for (size_t r = 0; r < pt->nrecorded; r++)
		for (size_t g = 0; g < inv->ngpus; g++)
			if (inv->gpus[g].index == n->gpu &&
			    strcasecmp(pt->recorded[r], pt_gpu_id(&inv->gpus[g])) == 0)
				return true;
	return false;
}

/* A rule, mount or devN that gives access to nothing that exists now. */
static bool concerns_nothing(const struct pt_entry *e, const struct lxgpu_inventory *inv)
{
	if (e->dead)
		return true;
	if (e->kind == PT_RULE)
		return false; /* a live major: maybe a node not made yet */
	for (size_t i = 0; i < inv->nnodes; i++)
		if (pt_concerns(e, &inv->nodes[i]))
			return false;
	return !e->dir;
}

/* Whether a line has the shape lxgpu writes (plan_lines): only then can it be
 * lxgpu's own; the guide's wildcard rules and directory mounts are not. */
static bool canonical(const struct conf *c, const struct pt_entry *x)
{
	const char *v = c->lines[x->line].value;
	char tail[16];
	unsigned major, minor;
	switch (x->kind) {
	case PT_RULE:
		return !x->legacy && (sscanf(v, "c %u:%u rwm%1s", &major, &minor, tail) == 2 ||
				      sscanf(v, "c %u:* rwm%1s", &major, tail) == 1);
	case PT_MOUNT: {
		_cleanup_free_ char *want =
			xasprintf("%s %s none bind,optional,create=file", x->path, x->path + 1);
		return !x->dir && strcmp(v, want) == 0;
	}
	case PT_DEV:
		return strstr(v, ",mode=0") != NULL && strncmp(v, "path=", 5) != 0;
	default:
		return true;
	}
}

/* The lines as lxgpu would write them, to tell its own from hand-written. */
static bool same_line(const struct conf *c, size_t line, char *const *lines, size_t n)
{
	const struct conf_line *l = &c->lines[line];
	for (size_t i = 0; i < n; i++) {
		const char *sep = c->format == CONF_PVE ? ": " : " = ";
		const char *s = strstr(lines[i], sep);
		if (!s)
			continue;
		size_t klen = (size_t)(s - lines[i]);
		const char *v = s + strlen(sep);
		bool dev_key = strncmp(l->key, "dev", 3) == 0 && strncmp(lines[i], "dev", 3) == 0;
		if ((dev_key || (strlen(l->key) == klen && strncmp(l->key, lines[i], klen) == 0)) &&
		    strcmp(l->value, v) == 0)
			return true;
	}
	return false;
}

/* A kept devN line keeps its own index, which the planned line it stands for
 * may not have had: the new devN lines take the indices no remaining line
 * (main section, [pve:pending], its delete list) uses, so that no key is
 * written twice (Proxmox would keep only the last). */
static void renumber_dev_lines(const struct conf *c, const struct conf_edit *e, char **lines,
			       size_t nlines, const bool *kept)
{
	bool used[256];
	if (c->format != CONF_PVE)
		return;
	pt_used_dev_indices(c, used);
	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *l = &c->lines[i];
		if (e->remove[i] && l->kind == CONF_KEY && strncmp(l->key, "dev", 3) == 0 &&
		    isdigit((unsigned char)l->key[3]) && atoi(l->key + 3) < 256)
			used[atoi(l->key + 3)] = false;
	}
	for (size_t k = 0; k < nlines; k++) {
		const char *colon = strchr(lines[k], ':');
		if (kept[k] || strncmp(lines[k], "dev", 3) != 0 ||
		    !isdigit((unsigned char)lines[k][3]) || !colon)
			continue;
		int n = 0;
		while (n < 256 && used[n])
			n++;
		if (n == 256)
			continue; /* plan_lines has refused more than 256 already */
		used[n] = true;
		char *renamed = xasprintf("dev%d%s", n, colon);
		free(lines[k]);
		lines[k] = renamed;
	}
}

static int pending_conflicts(const struct conf *c, const struct lxgpu_plan *plan,
			     struct lxgpu_err *err)
{
	if (c->pending >= c->nlines)
		return 0;
	for (size_t i = c->pending + 1; i < c->nlines && c->lines[i].kind != CONF_SECTION; i++) {
		const struct conf_line *l = &c->lines[i];
		if (l->kind != CONF_KEY || strncmp(l->key, "dev", 3) != 0)
			continue;
		for (size_t k = 0; k < plan->nnodes; k++) {
			const char *path = plan->nodes[k].node->path;
			size_t n = strlen(path);
			if (strncmp(l->value, path, n) == 0 &&
			    (l->value[n] == '\0' || l->value[n] == ','))
				return lxgpu_failx(
					err, EEXIST,
					"%s in [pve:pending] already passes %s (staged by pct "
					"set on a running container): restart the container "
					"or revert it (pct set ID --revert %s) first",
					l->key, path, l->key);
		}
	}
	return 0;
}

int edit_attach(const struct conf *c, const struct lxgpu_inventory *inv,
		const struct lxgpu_plan *plan, struct conf_edit *e, struct edit_report *rep,
		struct lxgpu_err *err)
{
	struct pt_config pt;
	bool used[256];
	char **lines = NULL;
	size_t nlines = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	if ((r = pending_conflicts(c, plan, err)) < 0) {
		conf_edit_free(e);
		return r;
	}
	pt_scan(c, inv, &pt);
	bool had_record = pt.nrecorded > 0;
	for (size_t i = 0; i < pt.n; i++) {
		const struct pt_entry *x = &pt.entries[i];
		if (x->kind == PT_OTHER) {
			keep_other(rep, c, x->line);
			continue;
		}
		/* the pre-start and post-stop hooks are attach's; the mount hook is
		 * `driver`'s to keep */
		if (x->kind == PT_ENV ||
		    (x->kind == PT_HOOK &&
		     (strcmp(c->lines[x->line].key, "lxc.hook.pre-start") == 0 ||
		      strcmp(c->lines[x->line].key, "lxc.hook.post-stop") == 0))) {
			report_remove(rep, e, x->line, EDIT_OURS);
			continue;
		}
		if (x->kind == PT_HOOK)
			continue;
		if (concerns_nothing(x, inv)) {
			report_remove(rep, e, x->line, EDIT_STALE);
			continue;
		}
		bool planned = false, recorded = false;
		for (size_t k = 0; k < plan->nnodes; k++)
			planned |= pt_concerns(x, plan->nodes[k].node);
		for (size_t k = 0; k < inv->nnodes && !planned; k++)
			recorded |= pt_concerns(x, &inv->nodes[k]) &&
				    recorded_node(&pt, inv, &inv->nodes[k]);
		/* in a config lxgpu manages, lines of its shape are its own, also those
		 * of a node that now belongs to another GPU (renumbered after a reboot) */
		recorded |= had_record && canonical(c, x);
		if (planned || recorded)
			report_remove(rep, e, x->line,
				      had_record && canonical(c, x) ? EDIT_OURS : EDIT_HAND);
	}
	pt_used_dev_indices(c, used);
	for (size_t i = 0; i < pt.n; i++)
		if (pt.entries[i].kind == PT_DEV && e->remove[pt.entries[i].line] &&
		    pt.entries[i].dev_index >= 0 && pt.entries[i].dev_index < 256)
			used[pt.entries[i].dev_index] = false;
	pt_free(&pt);
	if ((r = plan_lines(plan, c->format, used, &lines, &nlines, err)) < 0) {
		edit_report_free(rep);
		conf_edit_free(e);
		return r;
	}
	/* A line that would go and come back as it is stays where it is: the
	 * edit touches only what differs (attach twice changes nothing). */
	_cleanup_free_ bool *kept = xcalloc(nlines + 1, sizeof(bool));
	for (size_t i = 0; i < rep->nremoved;) {
		size_t line = rep->removed[i].line, k;
		for (k = 0; k < nlines; k++)
			if (!kept[k] && same_line(c, line, &lines[k], 1))
				break;
		if (k == nlines) {
			i++;
			continue;
		}
		kept[k] = true;
		e->remove[line] = false;
		/* keep the report in line order: shift, do not swap */
		memmove(&rep->removed[i], &rep->removed[i + 1],
			(rep->nremoved - i - 1) * sizeof(*rep->removed));
		rep->nremoved--;
	}
	renumber_dev_lines(c, e, lines, nlines, kept);
	conf_edit_place(e, c);
	for (size_t i = 0; i < nlines; i++)
		if (!kept[i])
			conf_edit_add(e, lines[i]);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	return 0;
}

void edit_detach(const struct conf *c, const struct lxgpu_inventory *inv, struct conf_edit *e,
		 struct edit_report *rep)
{
	struct pt_config pt;

	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	pt_scan(c, inv, &pt);
	bool had_record = pt.nrecorded > 0;
	for (size_t i = 0; i < pt.n; i++) {
		const struct pt_entry *x = &pt.entries[i];
		if (x->kind == PT_OTHER)
			keep_other(rep, c, x->line);
		else if (x->kind == PT_ENV || x->kind == PT_HOOK)
			report_remove(rep, e, x->line, EDIT_OURS);
		else if (concerns_nothing(x, inv))
			report_remove(rep, e, x->line, EDIT_STALE);
		else
			report_remove(rep, e, x->line,
				      had_record && canonical(c, x) ? EDIT_OURS : EDIT_HAND);
	}
	pt_free(&pt);
}

void edit_hook(const struct conf *c, const struct lxgpu_inventory *inv, const char *key,
	       const char *value, struct conf_edit *e, struct edit_report *rep)
{
	struct pt_config pt;
	bool have = false;

	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	pt_scan(c, inv, &pt);
	for (size_t i = 0; i < pt.n; i++) {
		const struct conf_line *l = &c->lines[pt.entries[i].line];
		if (pt.entries[i].kind != PT_HOOK || strcmp(l->key, key) != 0)
			continue;
		if (value && !have && strcmp(l->value, value) == 0)
			have = true; /* already there: keep it where it is */
		else
			report_remove(rep, e, pt.entries[i].line, EDIT_OURS);
	}
	pt_free(&pt);
	if (value && !have) {
		_cleanup_free_ char *line = conf_format_line(c->format, key, value);
		conf_edit_place(e, c);
		conf_edit_add(e, line);
	}
}

void edit_unhook(const struct conf *c, const struct lxgpu_inventory *inv, struct conf_edit *e,
		 struct edit_report *rep)
{
	struct pt_config pt;

	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	pt_scan(c, inv, &pt);
	for (size_t i = 0; i < pt.n; i++)
		if (pt.entries[i].kind == PT_HOOK)
			report_remove(rep, e, pt.entries[i].line, EDIT_OURS);
	pt_free(&pt);
}

void edit_report_free(struct edit_report *rep)
{
	for (size_t i = 0; i < rep->nkept_other; i++)
		free(rep->kept_other[i]);
	free(rep->kept_other);
	free(rep->removed);
	memset(rep, 0, sizeof(*rep));
}
