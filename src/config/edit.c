/* edit: attach, sync and detach as edits of the main section (see edit.h). */
#include "config/edit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/devlist.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

const char *edit_why_name(enum edit_why w)
{
	return w == EDIT_OURS ? "lxgpu" : w == EDIT_ADOPTED ? "adopted" : "pruned";
}

static void report_remove(struct edit_report *rep, struct conf_edit *e, size_t line,
			  enum edit_why why)
{
	if (e->remove[line])
		return;
	e->remove[line] = true;
	rep->removed = xrealloc(rep->removed, (rep->nremoved + 1) * sizeof(*rep->removed));
	rep->removed[rep->nremoved++] = (struct edit_line){ line, why };
}

static void report_kept(struct edit_report *rep, size_t line, enum edit_note why)
{
	rep->kept = xrealloc(rep->kept, (rep->nkept + 1) * sizeof(*rep->kept));
	rep->kept[rep->nkept++] = (struct edit_line){ line, why };
}

static void keep_other(struct edit_report *rep, const struct conf *c, size_t line)
{
	rep->kept_other = xrealloc(rep->kept_other, (rep->nkept_other + 1) * sizeof(char *));
	rep->kept_other[rep->nkept_other++] = conf_line_text(c, line);
}

bool edit_rule_dead(const struct edit_opts *o, const struct dl_entry *x)
{
	return o && o->live_known && dl_rule_dead(x, o->live, o->nlive);
}

/* A kept line that reaches what the domain holds and more: `c 226:*`, any
 * major, 'a', a directory mount holding a domain path. */
static bool reaches_more(const struct ct_domain *d, const struct dl_entry *x)
{
	if (x->kind == DL_RULE) {
		if (x->deny)
			return false;
		if (x->type == 'a' || x->major < 0)
			return true;
		bool dri = x->major == 226; /* the DRM major, whoever's GPU */
		for (size_t i = 0; i < d->nnodes; i++)
			dri |= d->nodes[i].major == (unsigned)x->major;
		return x->type == 'c' && x->minor < 0 && (dri || domain_has_major(d, x->major));
	}
	if (x->kind != DL_MOUNT && x->kind != DL_DEV)
		return false;
	_cleanup_free_ char *dir = xasprintf("%s/", strcmp(x->path, "/") ? x->path : "");
	if (d->nvidia && strncmp("/dev/nvidia", dir, strlen(dir)) == 0)
		return true;
	for (size_t i = 0; i < d->npaths; i++)
		if (strncmp(d->paths[i], dir, strlen(dir)) == 0)
			return true;
	return false;
}

/* Whether line is one of lines (key and trimmed value, which Proxmox reads
 * alike; any devN key for a devN line: the editor numbers them). */
static bool same_line(const struct conf *c, size_t line, const char *want)
{
	const struct conf_line *l = &c->lines[line];
	const char *sep = c->format == CONF_PVE ? ": " : " = ";
	const char *s = strstr(want, sep);
	if (!s)
		return false;
	size_t klen = (size_t)(s - want);
	bool dev_key = dl_dev_key(l->key) && strncmp(want, "dev", 3) == 0;
	return (dev_key || (strlen(l->key) == klen && strncmp(l->key, want, klen) == 0)) &&
	       strcmp(l->value, s + strlen(sep)) == 0;
}

/* The new devN lines take the indices no remaining line (main section,
 * [pve:pending], its delete list) uses, so that no key is written twice
 * (Proxmox would keep only the last). */
static int number_dev_lines(const struct conf *c, const struct conf_edit *e, char **lines,
			    size_t nlines, const bool *kept, struct lxgpu_err *err)
{
	bool used[256];
	if (c->format != CONF_PVE)
		return 0;
	/* a removed line frees its index only if no kept line has the same key */
	dl_used_dev_indices(c, e->remove, used);
	for (size_t k = 0; k < nlines; k++) {
		const char *colon = strchr(lines[k], ':');
		if (kept[k] || strncmp(lines[k], "dev", 3) != 0 ||
		    !isdigit((unsigned char)lines[k][3]) || !colon)
			continue;
		int n = 0;
		while (n < 256 && used[n])
			n++;
		if (n == 256)
			return lxgpu_failx(err, ENOSPC, "no free devN (dev0 to dev255 are used)");
		used[n] = true;
		char *renamed = xasprintf("dev%d%s", n, colon);
		free(lines[k]);
		lines[k] = renamed;
	}
	return 0;
}

static int pending_conflicts(const struct conf *c, const struct edit_want *w, struct lxgpu_err *err)
{
	if (c->pending >= c->nlines)
		return 0;
	for (size_t i = c->pending + 1; i < c->nlines && c->lines[i].kind != CONF_SECTION; i++) {
		const struct conf_line *l = &c->lines[i];
		if (l->kind != CONF_KEY || !dl_dev_key(l->key))
			continue;
		for (size_t k = 0; k < w->npaths; k++) {
			size_t n = strlen(w->paths[k]);
			if (strncmp(l->value, w->paths[k], n) == 0 &&
			    (l->value[n] == '\0' || l->value[n] == ','))
				return lxgpu_failx(
					err, EEXIST,
					"%s in [pve:pending] already passes %s (staged by pct "
					"set on a running container): restart the container "
					"or revert it (pct set ID --revert %s) first",
					l->key, w->paths[k], l->key);
		}
	}
	return 0;
}

/* Proxmox keeps the last value of a key: of two devN lines of one index only
 * the last passes its node, and removing it would pass the other. lxgpu
 * edits no such config. */
static int duplicate_dev(const struct conf *c, struct lxgpu_err *err)
{
	size_t first, second;
	if (!dl_duplicate_dev(c, &first, &second))
		return 0;
	return lxgpu_failx(err, EEXIST,
			   "%s is set twice (lines %zu and %zu): Proxmox keeps only the last; "
			   "remove one first",
			   c->lines[first].key, first + 1, second + 1);
}

/* An empty edit and report, for a config lxgpu may edit (no devN twice). */
static int begin_edit(const struct conf *c, struct conf_edit *e, struct edit_report *rep,
		      struct lxgpu_err *err)
{
	int ret;
	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	if ((ret = duplicate_dev(c, err)) < 0)
		conf_edit_free(e);
	return ret;
}

/* begin_edit, dl_scan and record_read, undone on failure. */
static int begin(const struct conf *c, struct conf_edit *e, struct edit_report *rep,
		 struct dl_scan *s, struct lxgpu_record *r, struct lxgpu_err *err)
{
	int ret;
	dl_scan(c, s);
	if ((ret = begin_edit(c, e, rep, err)) < 0) {
		dl_free(s);
		return ret;
	}
	if (record_read(c, s, r, err) < 0) {
		dl_free(s);
		conf_edit_free(e);
		return lxgpu_wrap(err, "lxgpu's record");
	}
	return 0;
}

/* LXC attaches no device program when its rule list is empty (cgfsng.c):
 * a plain LXC config that includes no base config (common.conf) and loses
 * its last device rule gives the container every device. */
/* --prune gives way where it would open every device: the dead rules stay. */
static void unprune(const struct conf *c, struct conf_edit *e, struct edit_report *rep)
{
	if (devlist_opens_all(c, NULL) || !devlist_opens_all(c, e))
		return;
	for (size_t i = 0; i < rep->nremoved;) {
		if (rep->removed[i].why != EDIT_PRUNED) {
			i++;
			continue;
		}
		e->remove[rep->removed[i].line] = false;
		report_kept(rep, rep->removed[i].line, NOTE_DEAD);
		memmove(&rep->removed[i], &rep->removed[i + 1],
			(rep->nremoved - i - 1) * sizeof(*rep->removed));
		rep->nremoved--;
	}
}

/* The lines of w that are already there stay where they are: the edit
 * touches only what differs (attach twice changes nothing). kept[k]: line k
 * of w is there. */
static void keep_in_place(const struct conf *c, const struct edit_want *w, size_t reset_end,
			  struct conf_edit *e, struct edit_report *rep, bool *kept)
{
	for (size_t i = 0; i < rep->nremoved;) {
		size_t line = rep->removed[i].line, k;
		/* a rule before an `a` rule does nothing (LXC resets its list there):
		 * lxgpu's goes after it */
		bool reset = line < reset_end &&
			     strncmp(c->lines[line].key, "lxc.cgroup2.devices.", 20) == 0;
		for (k = 0; k < w->nlines && !reset; k++)
			if (!kept[k] && same_line(c, line, w->lines[k]))
				break;
		if (reset)
			k = w->nlines;
		if (k == w->nlines) {
			i++;
			continue;
		}
		kept[k] = true;
		e->remove[line] = false;
		if (rep->removed[i].why == EDIT_ADOPTED) {
			rep->adopted =
				xrealloc(rep->adopted, (rep->nadopted + 1) * sizeof(*rep->adopted));
			rep->adopted[rep->nadopted++] = line;
		}
		/* keep the report in line order: shift, do not swap */
		memmove(&rep->removed[i], &rep->removed[i + 1],
			(rep->nremoved - i - 1) * sizeof(*rep->removed));
		rep->nremoved--;
	}
}

/* The record's variable a line sets: "LXGPU_REQUEST=" of "...: LXGPU_REQUEST=v2,...". */
static size_t record_var(const char *line, const char **var)
{
	const char *v = strstr(line, "LXGPU_");
	const char *eq = v ? strchr(v, '=') : NULL;
	*var = v;
	return eq ? (size_t)(eq - v + 1) : 0;
}

/* A record line that changes keeps its place: the new value of the same
 * variable replaces the old line where it is. */
static void replace_records(const struct conf *c, const struct dl_scan *s,
			    const struct edit_want *w, struct conf_edit *e, bool *kept)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct dl_entry *x = &s->entries[i];
		const char *old;
		size_t n = record_var(c->lines[x->line].value, &old);
		if (x->kind != DL_RECORD || !e->remove[x->line] || e->replace[x->line] || !n)
			continue;
		for (size_t k = 0; k < w->nlines; k++) {
			const char *new;
			if (!kept[k] && record_var(w->lines[k], &new) == n &&
			    strncmp(old, new, n) == 0 &&
			    strncmp(w->lines[k], "lxc.environment", 15) == 0) {
				conf_edit_replace(e, x->line, w->lines[k]);
				kept[k] = true;
				break;
			}
		}
	}
}

/* edit_attach once begin_edit has run: on failure the edit and report are
 * freed, s and old are the caller's. */
static int attach(const struct conf *c, const struct dl_scan *s, const struct lxgpu_record *old,
		  const struct edit_want *w, const struct edit_opts *o, struct conf_edit *e,
		  struct edit_report *rep, struct lxgpu_err *err)
{
	_cleanup_free_ bool *kept = xcalloc(w->nlines + 1, sizeof(bool));
	int r;

	if ((r = pending_conflicts(c, w, err)) < 0)
		goto fail;
	for (size_t i = 0; i < s->n; i++) {
		const struct dl_entry *x = &s->entries[i];
		if (x->kind == DL_OTHER) {
			keep_other(rep, c, x->line);
		} else if (x->kind == DL_HOOK) {
			/* the pre-start, post-stop and start-host hooks are attach's; the
			 * mount hook is `driver`'s to keep */
			const char *hook = dl_hook_name(c, x);
			if (strcmp(hook, "pre-start") == 0 || strcmp(hook, "post-stop") == 0 ||
			    strcmp(hook, "start-host") == 0)
				report_remove(rep, e, x->line, EDIT_OURS);
		} else if (x->kind == DL_RECORD || record_owns(old, c, x)) {
			report_remove(rep, e, x->line, EDIT_OURS);
		} else if (domain_covers(w->domain, x)) {
			report_remove(rep, e, x->line, EDIT_ADOPTED);
		} else if (edit_rule_dead(o, x)) {
			if (o->prune)
				report_remove(rep, e, x->line, EDIT_PRUNED);
			else
				report_kept(rep, x->line, NOTE_DEAD);
		} else if (reaches_more(w->domain, x)) {
			report_kept(rep, x->line, NOTE_WIDER);
		}
	}
	keep_in_place(c, w, s->reset_end, e, rep, kept);
	replace_records(c, s, w, e, kept);
	char **lines = xcalloc(w->nlines + 1, sizeof(char *));
	for (size_t k = 0; k < w->nlines; k++)
		lines[k] = xstrdup(w->lines[k]);
	r = number_dev_lines(c, e, lines, w->nlines, kept, err);
	if (r == 0) {
		conf_edit_place(e, c);
		for (size_t k = 0; k < w->nlines; k++)
			if (!kept[k])
				conf_edit_add(e, lines[k]);
		unprune(c, e, rep);
	}
	for (size_t k = 0; k < w->nlines; k++)
		free(lines[k]);
	free(lines);
	if (r < 0)
		goto fail;
	return 0;
fail:
	edit_report_free(rep);
	conf_edit_free(e);
	return r;
}

int edit_attach(const struct conf *c, const struct edit_want *w, const struct edit_opts *o,
		struct conf_edit *e, struct edit_report *rep, struct lxgpu_err *err)
{
	struct dl_scan s;
	struct lxgpu_record old;
	int r;

	if ((r = begin(c, e, rep, &s, &old, err)) < 0)
		return r;
	r = attach(c, &s, &old, w, o, e, rep, err);
	record_free(&old);
	dl_free(&s);
	return r;
}

int edit_attach_seen(const struct conf *c, const struct dl_scan *s, const struct lxgpu_record *old,
		     const struct edit_want *w, const struct edit_opts *o, struct conf_edit *e,
		     struct edit_report *rep, struct lxgpu_err *err)
{
	int r;
	if ((r = begin_edit(c, e, rep, err)) < 0)
		return r;
	return attach(c, s, old, w, o, e, rep, err);
}

int edit_detach(const struct conf *c, struct conf_edit *e, struct edit_report *rep,
		struct lxgpu_err *err)
{
	struct dl_scan s;
	struct lxgpu_record old;
	int r;

	if ((r = begin(c, e, rep, &s, &old, err)) < 0)
		return r;
	for (size_t i = 0; i < s.n; i++) {
		const struct dl_entry *x = &s.entries[i];
		if (x->kind == DL_OTHER)
			keep_other(rep, c, x->line);
		else if (record_owns(&old, c, x))
			report_remove(rep, e, x->line, EDIT_OURS);
	}
	record_free(&old);
	dl_free(&s);
	return 0;
}

void edit_prune(const struct conf *c, const struct edit_opts *o, struct conf_edit *e,
		struct edit_report *rep)
{
	struct dl_scan s;
	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	dl_scan(c, &s);
	for (size_t i = 0; i < s.n; i++)
		if (edit_rule_dead(o, &s.entries[i]))
			report_remove(rep, e, s.entries[i].line, EDIT_PRUNED);
	unprune(c, e, rep);
	dl_free(&s);
}

int edit_driver(const struct conf *c, const char *hook, enum rec_driver driver, struct conf_edit *e,
		struct edit_report *rep, struct lxgpu_err *err)
{
	struct dl_scan s;
	struct lxgpu_record rec;
	bool have = false;
	int r;

	if ((r = begin(c, e, rep, &s, &rec, err)) < 0)
		return r;
	for (size_t i = 0; i < s.n; i++) {
		const struct dl_entry *x = &s.entries[i];
		if (x->kind == DL_HOOK && strcmp(dl_hook_name(c, x), "mount") == 0) {
			if (hook && !have && strcmp(c->lines[x->line].value, hook) == 0)
				have = true; /* already there: keep it where it is */
			else
				report_remove(rep, e, x->line, EDIT_OURS);
		}
	}
	/* the request says how the driver came (sync copies a copied one again):
	 * its line changes where it is */
	if (rec.version == RECORD_VERSION && rec.driver != driver) {
		rec.driver = driver;
		_cleanup_free_ char *value = record_request_value(&rec);
		_cleanup_free_ char *line = conf_format_line(c->format, "lxc.environment", value);
		bool placed = false;
		for (size_t i = 0; i < s.n; i++)
			if (s.entries[i].kind == DL_RECORD && s.entries[i].rec == DL_REC_REQUEST) {
				report_remove(rep, e, s.entries[i].line, EDIT_OURS);
				if (!placed)
					conf_edit_replace(e, s.entries[i].line, line);
				placed = true;
			}
	}
	conf_edit_place(e, c);
	if (hook && !have) {
		_cleanup_free_ char *line = conf_format_line(c->format, "lxc.hook.mount", hook);
		conf_edit_add(e, line);
	}
	record_free(&rec);
	dl_free(&s);
	return 0;
}

void edit_unhook(const struct conf *c, struct conf_edit *e, struct edit_report *rep)
{
	struct dl_scan s;
	memset(rep, 0, sizeof(*rep));
	conf_edit_init(e, c);
	dl_scan(c, &s);
	for (size_t i = 0; i < s.n; i++)
		if (s.entries[i].kind == DL_HOOK)
			report_remove(rep, e, s.entries[i].line, EDIT_OURS);
	dl_free(&s);
}

void edit_report_free(struct edit_report *rep)
{
	for (size_t i = 0; i < rep->nkept_other; i++)
		free(rep->kept_other[i]);
	free(rep->kept_other);
	free(rep->removed);
	free(rep->adopted);
	free(rep->kept);
	memset(rep, 0, sizeof(*rep));
}
