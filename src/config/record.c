/* record: lxgpu's record in a config (see record.h, docs/ownership.md). */
#include "config/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

const char *record_style_name(enum lxgpu_style s)
{
	return s == LXGPU_STYLE_DEV ? "dev" : s == LXGPU_STYLE_RAW ? "raw" : "auto";
}

const char *record_driver_name(enum rec_driver d)
{
	static const char *const names[] = { [REC_DRIVER_NONE] = "none",
					     [REC_DRIVER_BIND] = "bind",
					     [REC_DRIVER_COPY] = "copy",
					     [REC_DRIVER_INSTALL] = "install" };
	return names[d];
}

static void push_str(char ***list, size_t *n, const char *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(char *));
	(*list)[(*n)++] = xstrdup(s);
}

void record_add_device(struct lxgpu_record *r, const char *id)
{
	push_str(&r->devices, &r->ndevices, id);
}

void record_add_node(struct lxgpu_record *r, const char *path)
{
	for (size_t i = 0; i < r->nnodes; i++)
		if (strcmp(r->nodes[i], path) == 0)
			return;
	push_str(&r->nodes, &r->nnodes, path);
}

bool record_has_rule(const struct lxgpu_record *r, char type, int major, int minor)
{
	for (size_t i = 0; i < r->nrules; i++)
		if (r->rules[i].type == type && r->rules[i].major == major &&
		    r->rules[i].minor == minor)
			return true;
	return false;
}

void record_add_rule(struct lxgpu_record *r, char type, int major, int minor)
{
	if (record_has_rule(r, type, major, minor))
		return;
	r->rules = xrealloc(r->rules, (r->nrules + 1) * sizeof(*r->rules));
	r->rules[r->nrules++] = (struct rec_rule){ type, major, minor };
}

void record_free(struct lxgpu_record *r)
{
	for (size_t i = 0; i < r->ndevices; i++)
		free(r->devices[i]);
	for (size_t i = 0; i < r->nnodes; i++)
		free(r->nodes[i]);
	free(r->devices);
	free(r->nodes);
	free(r->rules);
	free(r->v1_lines);
	memset(r, 0, sizeof(*r));
	r->render_gid = r->video_gid = -1;
}

/* Digits, at most max_digits of them, no leading zero (lxgpu never writes
 * one: "238:00" is not its item): the number; -1 otherwise. */
static long item_number(const char **s, int max_digits)
{
	size_t n = strspn(*s, "0123456789");
	if (n == 0 || n > (size_t)max_digits || (n > 1 && **s == '0'))
		return -1;
	long v = strtol(*s, NULL, 10);
	*s += n;
	return v;
}

/* "195:0" (0.1's LXGPU_RULES) or "c195:0", "c195:*" (v2's LXGPU_WROTE: typed);
 * digits only, as lxgpu writes them. */
static bool parse_rule_item(const char *s, bool typed, char *type, int *major, int *minor)
{
	char t = 'c';
	if (typed && *s != 'c' && *s != 'b')
		return false;
	if (typed)
		t = *s++;
	long maj = item_number(&s, 4), min = -1;
	if (maj < 0 || maj > 4095 || *s++ != ':')
		return false;
	if (*s == '*')
		s++;
	else if ((min = item_number(&s, 7)) < 0 || min >= (1L << 20))
		return false;
	if (*s)
		return false;
	*type = t;
	*major = (int)maj;
	*minor = (int)min;
	return true;
}

/* LXGPU_DEVICES, LXGPU_RULES and LXGPU_WROTE: comma-separated items. */
static int read_list(struct lxgpu_record *r, const char *value, enum dl_record rec,
		     struct lxgpu_err *err)
{
	_cleanup_free_ char *copy = xstrdup(value);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char type;
		int major, minor;
		if (rec == DL_REC_DEVICES) {
			record_add_device(r, t);
		} else if (t[0] == '/' && rec == DL_REC_WROTE) {
			record_add_node(r, t);
		} else if (parse_rule_item(t, rec == DL_REC_WROTE, &type, &major, &minor)) {
			record_add_rule(r, type, major, minor);
		} else if (rec == DL_REC_WROTE) {
			return lxgpu_failx(err, EINVAL, "LXGPU_WROTE: cannot read '%.40s'", t);
		}
		/* 0.1 skipped what it could not read in LXGPU_RULES: so does this */
	}
	return 0;
}

static int read_gid(const char *v, long *out)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < 0 || n > 0x7fffffffL)
		return -1;
	*out = n;
	return 0;
}

/* "v2,style=raw,rules=exact,guard=no,render=104,video=44,driver=bind" */
static int read_request(struct lxgpu_record *r, const char *value, struct lxgpu_err *err)
{
	_cleanup_free_ char *copy = xstrdup(value);
	char *save = NULL;
	char *t = strtok_r(copy, ",", &save);
	int version;
	char extra;
	/* "v" and a number as lxgpu writes it, first (strtok skips a leading
	 * ","): no sign, space or leading zero */
	size_t digits = t == copy && t[0] == 'v' ? strspn(t + 1, "0123456789") : 0;
	if (digits == 0 || digits > 6 || t[1] == '0' || t[1 + digits] ||
	    sscanf(t, "v%d%c", &version, &extra) != 1 || version < 2)
		return lxgpu_failx(err, EINVAL, "LXGPU_REQUEST: no version (v2) at its start");
	if (version > RECORD_VERSION)
		return lxgpu_failx(err, EPROTO,
				   "LXGPU_REQUEST: a record of version %d, written by a newer "
				   "lxgpu (this one reads up to %d): upgrade lxgpu",
				   version, RECORD_VERSION);
	r->version = version;
	r->style = LXGPU_STYLE_RAW;
	/* each key once: lxgpu writes no other, and two would be read two ways */
	static const char *const keys[] = {
		"style", "rules", "guard", "render", "video", "driver"
	};
	bool seen[ARRAY_SIZE(keys)] = { false };
	while ((t = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(t, '=');
		const char *v = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		bool ok = true;
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			if (strcmp(t, keys[k]) == 0) {
				ok = !seen[k];
				seen[k] = true;
			}
		if (!ok)
			return lxgpu_failx(err, EINVAL, "LXGPU_REQUEST: '%s' twice", t);
		if (strcmp(t, "style") == 0 && (ok = !strcmp(v, "raw") || !strcmp(v, "dev")))
			r->style = v[0] == 'd' ? LXGPU_STYLE_DEV : LXGPU_STYLE_RAW;
		else if (strcmp(t, "rules") == 0 &&
			 (ok = !strcmp(v, "exact") || !strcmp(v, "wildcard")))
			r->wildcard = v[0] == 'w';
		else if (strcmp(t, "guard") == 0 && (ok = !strcmp(v, "yes") || !strcmp(v, "no")))
			r->guard = v[0] == 'y';
		else if (strcmp(t, "render") == 0)
			ok = read_gid(v, &r->render_gid) == 0;
		else if (strcmp(t, "video") == 0)
			ok = read_gid(v, &r->video_gid) == 0;
		else if (strcmp(t, "driver") == 0) {
			ok = false;
			for (int d = REC_DRIVER_BIND; d <= REC_DRIVER_INSTALL && !ok; d++)
				if (strcmp(v, record_driver_name((enum rec_driver)d)) == 0) {
					r->driver = (enum rec_driver)d;
					ok = true;
				}
		} else
			ok = false;
		if (!ok)
			return lxgpu_failx(err, EINVAL, "LXGPU_REQUEST: cannot read '%.40s%s%.40s'",
					   t, eq ? "=" : "", v);
	}
	return 0;
}

/* Whether a rule, mount or devN line has the value lxgpu writes, as the
 * config's parser reads it (Proxmox's trims "\r" and blanks, LXC's blanks):
 * "c M:m rwm", "P P' none bind,optional,create=file" (P from the hook's
 * directory too), "P[,gid=G],mode=0NNN". Nobody else writes a GPU node's line
 * so; a line edited by hand to say more is no longer lxgpu's. */
static bool lxgpu_shape(const struct conf *c, const struct dl_entry *e)
{
	const char *v = c->lines[e->line].value;
	switch (e->kind) {
	case DL_RULE: {
		char want[48];
		if (e->legacy || e->deny || e->type != 'c' || e->major < 0)
			return false;
		if (e->minor < 0)
			snprintf(want, sizeof(want), "c %d:* rwm", e->major);
		else
			snprintf(want, sizeof(want), "c %d:%d rwm", e->major, e->minor);
		return strcmp(v, want) == 0;
	}
	case DL_MOUNT: {
		if (e->dir)
			return false;
		const char *src = v;
		if (e->via_hook) /* "/run/lxgpu/NAME" + P */
			src = strstr(v + strlen(DL_HOOK_NODES) + 1, "/");
		/* "P P' none bind,optional,create=file", P' = P without its "/" */
		size_t n = strlen(e->path);
		return src && n > 0 && strncmp(src, e->path, n) == 0 && src[n] == ' ' &&
		       strncmp(src + n + 1, e->path + 1, n - 1) == 0 &&
		       strcmp(src + 2 * n, " none bind,optional,create=file") == 0;
	}
	case DL_DEV: {
		/* "P[,gid=G],mode=0NNN", as plan_lines writes it */
		size_t n = strlen(e->path);
		if (strncmp(v, e->path, n) != 0)
			return false;
		v += n;
		if (strncmp(v, ",gid=", 5) == 0) {
			v += 5;
			size_t digits = strspn(v, "0123456789");
			if (digits == 0)
				return false;
			v += digits;
		}
		return strncmp(v, ",mode=0", 7) == 0 && strspn(v + 7, "01234567") == 3 &&
		       v[10] == '\0';
	}
	default:
		return false;
	}
}

static void read_v1(struct lxgpu_record *r, const struct conf *c, const struct dl_scan *s)
{
	bool dev = false;
	r->version = 1;
	r->style = LXGPU_STYLE_RAW;
	for (size_t i = 0; i < s->n; i++) {
		const struct dl_entry *e = &s->entries[i];
		if (e->kind == DL_RECORD && e->rec == DL_REC_GIDS)
			sscanf(e->value, "render:%ld,video:%ld", &r->render_gid, &r->video_gid);
		else if ((e->kind == DL_MOUNT || e->kind == DL_DEV) && dl_gpu_path(e->path) &&
			 lxgpu_shape(c, e)) {
			r->v1_lines = xrealloc(r->v1_lines, (r->nv1_lines + 1) * sizeof(size_t));
			r->v1_lines[r->nv1_lines++] = e->line;
			dev |= e->kind == DL_DEV;
		} else if (e->kind == DL_HOOK && strcmp(dl_hook_name(c, e), "pre-start") == 0)
			r->guard |= strstr(e->value, "--guard") != NULL;
		else if (e->kind == DL_HOOK && strcmp(dl_hook_name(c, e), "mount") == 0)
			r->driver = REC_DRIVER_BIND;
	}
	if (dev)
		r->style = LXGPU_STYLE_DEV;
}

int record_read(const struct conf *c, const struct dl_scan *s, struct lxgpu_record *r,
		struct lxgpu_err *err)
{
	const struct dl_entry *last[DL_REC_GIDS + 1] = { NULL };
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->render_gid = r->video_gid = -1;
	/* the last line of each wins, as the last assignment of a variable does */
	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].kind == DL_RECORD)
			last[s->entries[i].rec] = &s->entries[i];
	/* no selection, no record: the other LXGPU_* lines are leftovers, and
	 * say nothing of whose the other lines are */
	if (!last[DL_REC_DEVICES])
		return 0;
	if (last[DL_REC_REQUEST]) {
		if ((ret = read_request(r, last[DL_REC_REQUEST]->value, err)) == 0 &&
		    last[DL_REC_WROTE])
			ret = read_list(r, last[DL_REC_WROTE]->value, DL_REC_WROTE, err);
	} else {
		read_v1(r, c, s);
		if (last[DL_REC_RULES])
			ret = read_list(r, last[DL_REC_RULES]->value, DL_REC_RULES, err);
	}
	if (ret == 0)
		ret = read_list(r, last[DL_REC_DEVICES]->value, DL_REC_DEVICES, err);
	if (ret < 0)
		record_free(r);
	return ret;
}

bool record_owns(const struct lxgpu_record *r, const struct conf *c, const struct dl_entry *e)
{
	switch (e->kind) {
	case DL_RECORD:
	case DL_HOOK:
		return true;
	case DL_RULE:
		return (r->version >= 2 || e->type == 'c') && lxgpu_shape(c, e) &&
		       record_has_rule(r, e->type, e->major, e->minor);
	case DL_MOUNT:
	case DL_DEV:
		/* 0.1's lines were read by their shape; v2's are the style's lines
		 * of the paths it records */
		for (size_t i = 0; i < r->nv1_lines; i++)
			if (r->v1_lines[i] == e->line)
				return true;
		if (r->version < 2 || (e->kind == DL_DEV) != (r->style == LXGPU_STYLE_DEV) ||
		    !lxgpu_shape(c, e))
			return false;
		for (size_t i = 0; i < r->nnodes; i++)
			if (strcmp(r->nodes[i], e->path) == 0)
				return true;
		return false;
	case DL_OTHER:
		break;
	}
	return false;
}

/* "NAME=" + item, or s + "," + item: one realloc, no reformatting */
static char *join(char *s, const char *item)
{
	size_t n = strlen(s), k = strlen(item);
	bool first = s[n - 1] == '=';
	s = xrealloc(s, n + k + 2);
	if (!first)
		s[n++] = ',';
	memcpy(s + n, item, k + 1);
	return s;
}

char *record_devices_value(const struct lxgpu_record *r)
{
	char *s = xstrdup("LXGPU_DEVICES=");
	for (size_t i = 0; i < r->ndevices; i++)
		s = join(s, r->devices[i]);
	return s;
}

char *record_request_value(const struct lxgpu_record *r)
{
	char gids[64] = "", driver[32] = "";
	if (r->render_gid >= 0 || r->video_gid >= 0) {
		int n = 0;
		if (r->render_gid >= 0)
			n = snprintf(gids, sizeof(gids), ",render=%ld", r->render_gid);
		if (r->video_gid >= 0)
			snprintf(gids + n, sizeof(gids) - (size_t)n, ",video=%ld", r->video_gid);
	}
	if (r->driver != REC_DRIVER_NONE)
		snprintf(driver, sizeof(driver), ",driver=%s", record_driver_name(r->driver));
	return xasprintf("LXGPU_REQUEST=v%d,style=%s,rules=%s,guard=%s%s%s", RECORD_VERSION,
			 r->style == LXGPU_STYLE_DEV ? "dev" : "raw",
			 r->wildcard ? "wildcard" : "exact", r->guard ? "yes" : "no", gids, driver);
}

char *record_wrote_value(const struct lxgpu_record *r)
{
	char *s = xstrdup("LXGPU_WROTE=");
	for (size_t i = 0; i < r->nrules; i++) {
		char item[32];
		if (r->rules[i].minor < 0)
			snprintf(item, sizeof(item), "%c%d:*", r->rules[i].type, r->rules[i].major);
		else
			snprintf(item, sizeof(item), "%c%d:%d", r->rules[i].type, r->rules[i].major,
				 r->rules[i].minor);
		s = join(s, item);
	}
	for (size_t i = 0; i < r->nnodes; i++)
		s = join(s, r->nodes[i]);
	return s;
}
