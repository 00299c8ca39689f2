/* props: the invariants (see props.h). Every verdict comes from the model;
 * lxgpu's output is only ever the thing judged. */
#include "props.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "props_run.h"

const char *prop_name(int which)
{
	static const char *const names[NPROPS + 1] = {
		"",
		"attach twice: the second changes no byte",
		"attach then sync on the same host: no change",
		"never wider: allowed after attach/sync within allowed before plus the record",
		"lines outside lxgpu's domain kept byte for byte, in order; sections untouched",
		"one mount entry or devN per node lxgpu passes",
		"no line of the vendor: attach then detach gives the bytes back",
		"after an update, sync = detach + attach of the recorded request",
	};
	return which >= 1 && which <= NPROPS ? names[which] : "?";
}

/* The first line of the config that gives the probe, for the message. */
static void blame(const struct model_config *c, const struct test_host *h,
		  const struct model_probe *p, char *buf, size_t size)
{
	snprintf(buf, size, "no line grants it: a line that limited it is gone");
	for (size_t i = 0; i < c->main_end; i++) {
		struct model_rule rule;
		struct model_mount m;
		const struct host_node *n;
		bool grants = model_key_is(c, i, "lxc.cgroup2.devices.allow") &&
			      model_rule_parse(c->lines[i].value, true, &rule) &&
			      (rule.type == 'a' || rule.type == p->type) &&
			      (rule.major < 0 || (unsigned)rule.major == p->major) &&
			      (rule.minor < 0 || (unsigned)rule.minor == p->minor) &&
			      (p->access & ~rule.mask) == 0;
		grants |= model_mount_of(c, i, &m) && m.dev && (n = host_node_at(h, m.source)) &&
			  p->type == 'c' && n->major == p->major && n->minor == p->minor;
		if (grants) {
			char line[600];
			snprintf(buf, size, "%s grants it", line_name(c, i, line, sizeof(line)));
			return;
		}
	}
}

/* Invariant 3 for one step: what the container may open after, and the host
 * nodes bound into it, within what it had before plus what is asked. */
static enum prop_result never_wider(struct prop_run *r, enum step s, struct prop_failure *f)
{
	const struct text *in = input_of(r, s), *out = run_step(r, s);
	const struct test_host *h = host_of(r, s);
	if (!in || !out || !h)
		return PROP_SKIPPED;
	struct view before, after;
	struct model_gpus asked;
	struct model_devices was, now, asks;
	struct model_nodeset bound_was, bound_now;
	struct model_probe p;
	enum prop_result res = PROP_HOLDS;
	view(in, r->in.format, &before);
	view(out, r->in.format, &after);
	domain_of(r, s, &before, h, &asked);
	bool wildcard = s == ATTACH ? r->in.req->wildcard : before.rec.wildcard;
	model_allowed(&before.c, h, &was);
	model_allowed(&after.c, h, &now);
	model_asks(&asked, wildcard, &asks);
	model_bound(&before.c, h, &bound_was);
	model_bound(&after.c, h, &bound_now);
	if (model_escapes(&now, &was, &asks, &p)) {
		char probe[64], why[700];
		model_probe_name(&p, probe, sizeof(probe));
		blame(&after.c, h, &p, why, sizeof(why));
		res = fail(f, out,
			   "after %s on %s the container may open %s, which it could not before "
			   "and the record does not ask for; %s",
			   step_names[s], h->name, probe, why);
	}
	const struct host_node *need[32];
	size_t nneed = model_gpu_nodes(&asked, need, 32);
	for (size_t i = 0; i < bound_now.n && res == PROP_HOLDS; i++) {
		unsigned major = bound_now.nodes[i][0], minor = bound_now.nodes[i][1];
		bool asked_for = false;
		for (size_t k = 0; k < nneed; k++)
			asked_for |= need[k]->major == major && need[k]->minor == minor;
		if (!asked_for && !model_nodeset_has(&bound_was, major, minor))
			res = fail(f, out,
				   "after %s on %s the host node %u:%u is bound into the "
				   "container, which it was not before and the record does not ask",
				   step_names[s], h->name, major, minor);
	}
	model_nodeset_free(&bound_was);
	model_nodeset_free(&bound_now);
	model_devices_free(&was);
	model_devices_free(&now);
	model_devices_free(&asks);
	unview(&before);
	unview(&after);
	return res;
}

/* The text plus the "\n" a changed config always ends with. */
static bool same_but_newline(const struct text *orig, const char *bytes, size_t len, size_t *expect)
{
	bool add = orig->len > 0 && orig->bytes[orig->len - 1] != '\n';
	*expect = orig->len + (add ? 1 : 0);
	return len == *expect && memcmp(bytes, orig->bytes, orig->len) == 0 &&
	       (!add || bytes[orig->len] == '\n');
}

/* Invariant 4 for one step. */
static enum prop_result keeps(struct prop_run *r, enum step s, struct prop_failure *f)
{
	const struct text *in = input_of(r, s), *out = run_step(r, s);
	const struct test_host *h = host_of(r, s);
	if (!in || !out || !h)
		return PROP_SKIPPED;
	struct view before, after;
	struct model_gpus dom;
	enum prop_result res = PROP_HOLDS;
	/* detach keeps hand-written lines of the domain too: attach adopted
	 * those it found, so one there now was never adopted (ownership.md) */
	bool detach = s == DETACH || s == DETACH_INPUT;
	bool prune = r->in.req->prune && !detach;
	view(in, r->in.format, &before);
	view(out, r->in.format, &after);
	domain_of(r, s, &before, h, &dom);
	size_t j = 0;
	for (size_t i = 0; i < before.c.main_end && res == PROP_HOLDS; i++) {
		if ((!detach && model_in_domain(&before.c, i, &dom)) ||
		    model_record_line(&before.c, i) || model_hook_line(&before.c, i) ||
		    model_recorded(&before.c, i, &before.rec) ||
		    (prune && model_dead_rule(&before.c, i, h)))
			continue;
		while (j < after.c.main_end && !same_line(&before.c, i, &after.c, j))
			j++;
		if (j == after.c.main_end) {
			char line[600];
			res = fail(f, out,
				   "after %s on %s, %s of the input is gone or out of order: it is "
				   "%s, and not lxgpu's",
				   step_names[s], h->name,
				   line_name(&before.c, i, line, sizeof(line)),
				   detach        ? "a hand-written line"
				   : s == ATTACH ? "outside the domain of the GPUs attached"
						 : "outside the domain of the GPUs recorded");
		}
		j++;
	}
	/* from the first section header on: the same bytes, but the final "\n" */
	size_t tail = in->len - before.c.main_end_off, expect;
	bool same = out->len == in->len && memcmp(out->bytes, in->bytes, in->len) == 0;
	struct text orig_tail = { in->bytes + before.c.main_end_off, tail };
	if (res == PROP_HOLDS && tail > 0 && !same &&
	    (out->len < tail || after.c.main_end_off + tail > out->len ||
	     !same_but_newline(&orig_tail, out->bytes + after.c.main_end_off,
			       out->len - after.c.main_end_off, &expect)))
		res = fail(f, out, "after %s on %s, the sections after the main one changed",
			   step_names[s], h->name);
	unview(&before);
	unview(&after);
	return res;
}

/* Invariant 5 for one step: each node the GPUs need has one entry. */
static enum prop_result one_mount(struct prop_run *r, enum step s, struct prop_failure *f)
{
	const struct text *in = input_of(r, s), *out = run_step(r, s);
	const struct test_host *h = host_of(r, s);
	if (!in || !out || !h)
		return PROP_SKIPPED;
	struct view before, after;
	struct model_gpus gpus;
	struct model_mount *m;
	const struct host_node *need[32];
	enum prop_result res = PROP_HOLDS;
	view(in, r->in.format, &before);
	view(out, r->in.format, &after);
	domain_of(r, s, &before, h, &gpus);
	size_t n = model_mounts(&after.c, &m), nneed = model_gpu_nodes(&gpus, need, 32);
	for (size_t k = 0; k < nneed && res == PROP_HOLDS; k++) {
		char target[256], lines[200] = "";
		size_t count = 0, used = 0;
		model_target_of(need[k]->path, target, sizeof(target));
		for (size_t i = 0; i < n; i++)
			if (strcmp(m[i].target, target) == 0) {
				count++;
				used += (size_t)snprintf(lines + used, sizeof(lines) - used, " %zu",
							 m[i].line + 1);
				if (used >= sizeof(lines))
					used = sizeof(lines) - 1;
			}
		if (count != 1)
			res = fail(f, out,
				   "after %s on %s, %zu entries put something on %s (lines%s)",
				   step_names[s], h->name, count, target, count ? lines : " none");
	}
	free(m);
	unview(&before);
	unview(&after);
	return res;
}

static bool same_text(const struct text *a, const struct text *b)
{
	return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The first line where two texts differ, for the message. */
static void first_difference(const struct text *want, const struct text *got, enum model_format f,
			     char *buf, size_t size)
{
	struct model_config a, b;
	char was[600], now[600];
	model_parse(want->bytes, want->len, f, &a);
	model_parse(got->bytes, got->len, f, &b);
	size_t i = 0;
	while (i < a.nlines && i < b.nlines && same_line(&a, i, &b, i) &&
	       a.lines[i].eol == b.lines[i].eol)
		i++;
	if (i < a.nlines && i < b.nlines)
		snprintf(buf, size, "%s became %s", line_name(&a, i, was, sizeof(was)),
			 line_name(&b, i, now, sizeof(now)));
	else if (i < b.nlines)
		snprintf(buf, size, "%s was added", line_name(&b, i, now, sizeof(now)));
	else if (i < a.nlines)
		snprintf(buf, size, "%s is missing", line_name(&a, i, was, sizeof(was)));
	else
		snprintf(buf, size, "the same lines, but the final newline");
	model_free(&a);
	model_free(&b);
}

static enum prop_result unchanged(struct prop_run *r, enum step s, struct prop_failure *f)
{
	const struct text *a1 = run_step(r, ATTACH), *again;
	char where[700];
	if (!a1)
		return PROP_SKIPPED;
	if (!(again = run_step(r, s)))
		return fail(f, NULL, "%s refused after the first attach: %s", step_names[s],
			    r->steps[s].why);
	if (same_text(a1, again))
		return PROP_HOLDS;
	first_difference(a1, again, r->in.format, where, sizeof(where));
	compared_with(f, "the first attach's output", a1);
	return fail(f, again, "%s changed the attached config: %s", step_names[s], where);
}

/* Invariant 6 */
static enum prop_result roundtrip(struct prop_run *r, struct prop_failure *f)
{
	const struct text *in = &r->in.text, *a1 = run_step(r, ATTACH), *d;
	struct view v;
	struct model_gpus asked;
	bool vendor_lines = false;
	if (!a1)
		return PROP_SKIPPED;
	view(in, r->in.format, &v);
	model_select(r->in.host, r->in.req, &asked);
	for (size_t i = 0; i < v.c.main_end; i++)
		vendor_lines |= model_in_domain(&v.c, i, &asked) || model_record_line(&v.c, i) ||
				model_hook_line(&v.c, i);
	unview(&v);
	/* --prune consents to removing dead rules, whoever's */
	if (vendor_lines || r->in.req->prune)
		return PROP_SKIPPED;
	if (!(d = run_step(r, DETACH)))
		return fail(f, NULL, "detach refused: %s", r->steps[DETACH].why);
	size_t expect;
	if (same_but_newline(in, d->bytes, d->len, &expect) || same_text(in, d))
		return PROP_HOLDS;
	struct text want = { malloc(expect + 1), expect };
	if (!want.bytes)
		abort();
	memcpy(want.bytes, in->bytes, in->len);
	if (expect > in->len)
		want.bytes[in->len] = '\n';
	char where[700];
	first_difference(&want, d, r->in.format, where, sizeof(where));
	free(want.bytes);
	return fail(f, d, "attach then detach did not give the input back: %s", where);
}

#define ENTRY 600

static int compare_entries(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* "target <- c 195:0" per entry, or the source path when it is no host node */
static size_t mounted(const struct text *t, enum model_format format, const struct test_host *h,
		      char (*out)[ENTRY], size_t max)
{
	struct model_config c;
	struct model_mount *m;
	model_parse(t->bytes, t->len, format, &c);
	size_t n = model_mounts(&c, &m), k = 0;
	for (size_t i = 0; i < n && k < max; i++) {
		const struct host_node *node = host_node_at(h, m[i].source);
		if (node)
			snprintf(out[k++], ENTRY, "%s <- c %u:%u", m[i].target, node->major,
				 node->minor);
		else
			snprintf(out[k++], ENTRY, "%s <- %s", m[i].target, m[i].source);
	}
	free(m);
	model_free(&c);
	qsort(out, k, ENTRY, compare_entries);
	return k;
}

static size_t record_lines(const struct text *t, enum model_format format, char (*out)[ENTRY],
			   size_t max)
{
	struct model_config c;
	size_t k = 0;
	model_parse(t->bytes, t->len, format, &c);
	for (size_t i = 0; i < c.main_end && k < max; i++) {
		if (!model_record_line(&c, i))
			continue;
		/* as the parsers read it: a line kept in its own spelling says the same */
		snprintf(out[k], ENTRY, "%s=%s", c.lines[i].key, c.lines[i].value);
		/* driver= comes from `lxgpu driver`, which a fresh attach has not run */
		char *driver = strstr(out[k], ",driver=");
		if (strstr(out[k], "LXGPU_REQUEST=") && driver) {
			size_t field = 1 + strcspn(driver + 1, ",");
			memmove(driver, driver + field, strlen(driver + field) + 1);
		}
		k++;
	}
	model_free(&c);
	qsort(out, k, ENTRY, compare_entries);
	return k;
}

/* An entry of one sorted list that the other lacks, with which list has it. */
static bool same_list(char (*a)[ENTRY], size_t na, char (*b)[ENTRY], size_t nb,
		      const char **differs, bool *in_a)
{
	for (int side = 0; side < 2; side++) {
		char(*x)[ENTRY] = side ? b : a, (*y)[ENTRY] = side ? a : b;
		size_t nx = side ? nb : na, ny = side ? na : nb;
		for (size_t i = 0; i < nx; i++)
			if (!bsearch(x[i], y, ny, ENTRY, compare_entries)) {
				*differs = x[i];
				*in_a = side == 0;
				return false;
			}
	}
	return true;
}

/* Invariant 7 */
static enum prop_result update(struct prop_run *r, struct prop_failure *f)
{
	const struct test_host *twin = r->in.host->twin;
	if (!twin || !run_step(r, ATTACH))
		return PROP_SKIPPED;
	const struct text *s = run_step(r, SYNC_AFTER), *fresh = run_step(r, REATTACH_AFTER);
	if (!s && !fresh)
		return PROP_HOLDS; /* both refuse: the same answer */
	if (s && fresh)
		compared_with(f, step_names[REATTACH_AFTER], fresh);
	if (!s || !fresh)
		return fail(f, s ? s : fresh, "on %s, %s refused (%s) and %s did not", twin->name,
			    step_names[s ? REATTACH_AFTER : SYNC_AFTER],
			    r->steps[s ? REATTACH_AFTER : SYNC_AFTER].why,
			    step_names[s ? SYNC_AFTER : REATTACH_AFTER]);
	struct model_config cs, cf;
	struct model_devices ds, df;
	struct model_probe p;
	enum prop_result res = PROP_HOLDS;
	model_parse(s->bytes, s->len, r->in.format, &cs);
	model_parse(fresh->bytes, fresh->len, r->in.format, &cf);
	model_allowed(&cs, twin, &ds);
	model_allowed(&cf, twin, &df);
	bool sync_more = model_escapes(&ds, &df, NULL, &p);
	if (sync_more || model_escapes(&df, &ds, NULL, &p)) {
		char probe[64];
		model_probe_name(&p, probe, sizeof(probe));
		res = fail(f, s, "on %s, %s allows %s and %s does not", twin->name,
			   step_names[sync_more ? SYNC_AFTER : REATTACH_AFTER], probe,
			   step_names[sync_more ? REATTACH_AFTER : SYNC_AFTER]);
	}
	model_devices_free(&ds);
	model_devices_free(&df);
	model_free(&cs);
	model_free(&cf);
	static char a[64][ENTRY], b[64][ENTRY];
	const char *differs;
	size_t na, nb;
	bool in_sync;
	if (res == PROP_HOLDS) {
		na = mounted(s, r->in.format, twin, a, 64);
		nb = mounted(fresh, r->in.format, twin, b, 64);
		if (!same_list(a, na, b, nb, &differs, &in_sync))
			res = fail(f, s, "on %s, only %s mounts `%s`", twin->name,
				   in_sync ? "sync" : "the fresh attach", differs);
	}
	if (res == PROP_HOLDS) {
		na = record_lines(s, r->in.format, a, 64);
		nb = record_lines(fresh, r->in.format, b, 64);
		if (!same_list(a, na, b, nb, &differs, &in_sync))
			res = fail(f, s, "on %s, only %s records `%s`", twin->name,
				   in_sync ? "sync" : "the fresh attach", differs);
	}
	return res;
}

/* The worst of a few steps' results. */
static enum prop_result worst(enum prop_result a, enum prop_result b)
{
	return a == PROP_FAILS || b == PROP_FAILS   ? PROP_FAILS
	       : a == PROP_HOLDS || b == PROP_HOLDS ? PROP_HOLDS
						    : PROP_SKIPPED;
}

enum prop_result prop_check(int which, struct prop_run *r, struct prop_failure *f)
{
	static const enum step wider_steps[] = { ATTACH, SYNC, SYNC_INPUT, SYNC_AFTER };
	static const enum step keep_steps[] = { ATTACH, SYNC,         SYNC_INPUT,
						DETACH, DETACH_INPUT, SYNC_AFTER };
	enum prop_result res = PROP_SKIPPED;
	memset(f, 0, sizeof(*f));
	switch (which) {
	case 1:
		return unchanged(r, ATTACH_AGAIN, f);
	case 2:
		return unchanged(r, SYNC, f);
	case 3:
		for (size_t i = 0; i < 4 && res != PROP_FAILS; i++)
			res = worst(res, never_wider(r, wider_steps[i], f));
		return res;
	case 4:
		for (size_t i = 0; i < 6 && res != PROP_FAILS; i++)
			res = worst(res, keeps(r, keep_steps[i], f));
		return res;
	case 5:
		for (size_t i = 0; i < 4 && res != PROP_FAILS; i++)
			res = worst(res, one_mount(r, wider_steps[i], f));
		return res;
	case 6:
		return roundtrip(r, f);
	case 7:
		return update(r, f);
	}
	return PROP_SKIPPED;
}
