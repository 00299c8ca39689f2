/* devlist: LXC's device settings list, as far as its emptiness goes (see
 * devlist.h). */
#include "config/devlist.h"

#include <ctype.h>
#include <string.h>

#include "config/devlines.h"
#include "config/idmap.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

struct setting {
	bool allow;
	bool reset; /* the value "a": sets the list's default, empties it */
};

struct settings {
	struct setting *s;
	size_t n, cap;
};

static void push(struct settings *l, bool allow, bool reset)
{
	xgrow(&l->s, &l->cap, l->n + 1, sizeof(*l->s));
	l->s[l->n++] = (struct setting){ allow, reset };
}

/* lxc_clear_cgroups: all settings, or those of one key. */
static void drop(struct settings *l, bool all, bool allow)
{
	size_t kept = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!all && l->s[i].allow != allow)
			l->s[kept++] = l->s[i];
	l->n = kept;
}

/* LXC's config/common.conf: deny a, then twelve allow rules. */
static void common_conf(struct settings *l)
{
	push(l, false, true);
	for (int i = 0; i < 12; i++)
		push(l, true, false);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

static void one(struct settings *l, enum conf_format format, const char *key, const char *value)
{
	bool allow = strcmp(key, "lxc.cgroup2.devices.allow") == 0;
	bool deny = strcmp(key, "lxc.cgroup2.devices.deny") == 0;
	if (format == CONF_LXC && strcmp(key, "lxc.include") == 0) {
		/* debian.common.conf and the like include common.conf */
		if (ends_with(value, "common.conf"))
			common_conf(l);
		else if (ends_with(value, "userns.conf"))
			drop(l, true, false);
	} else if (strcmp(key, "lxc.cgroup2") == 0 && !value[0]) {
		drop(l, true, false);
	} else if ((allow || deny) && !value[0]) {
		drop(l, false, allow);
	} else if (allow || deny) {
		char type;
		int major, minor;
		/* a rule LXC cannot parse stops the container from starting; one
		 * by path holds only while its node exists: neither counts as a
		 * fence, so that fixing it opens nothing */
		if (strcmp(value, "a") == 0)
			push(l, allow, true);
		else if (dl_parse_rule(value, &type, &major, &minor))
			push(l, allow, false);
	}
	/* a devN gives a rule only while its node exists (Proxmox refuses the
	 * start otherwise), and before the lxc.* lines, whose "a" empties the
	 * list: no fence either */
}

/* A line the edit writes, "key: value" or "key = value". */
static void one_text(struct settings *l, enum conf_format format, const char *line)
{
	const char *sep = strchr(line, format == CONF_PVE ? ':' : '=');
	if (!sep)
		return;
	size_t n = (size_t)(sep - line);
	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	_cleanup_free_ char *key = xstrndup(line, n);
	const char *value = sep + 1 + strspn(sep + 1, " \t");
	_cleanup_free_ char *trimmed = xstrdup(value);
	for (n = strlen(trimmed); n && isspace((unsigned char)trimmed[n - 1]); n--)
		trimmed[n - 1] = '\0';
	one(l, format, key, trimmed);
}

static void inserts(struct settings *l, const struct conf *c, const struct conf_edit *e, size_t at)
{
	if (e && e->insert_at == at)
		for (size_t k = 0; k < e->ninsert; k++)
			one_text(l, c->format, e->insert[k]);
}

bool devlist_opens_all(const struct conf *c, const struct conf_edit *e)
{
	struct settings l = { 0 };
	if (c->format == CONF_PVE) {
		/* pve-container includes common.conf; an unprivileged container then
		 * userns.conf, which empties the list, and Proxmox's
		 * userns.conf.d/01-pve.conf, which allows all ("a") */
		common_conf(&l);
		if (!ct_privileged(c)) {
			drop(&l, true, false);
			push(&l, true, true);
		}
	}
	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *line = &c->lines[i];
		inserts(&l, c, e, i);
		if (e && e->remove[i]) {
			if (e->replace && e->replace[i])
				one_text(&l, c->format, e->replace[i]);
		} else if (line->kind == CONF_KEY) {
			one(&l, c->format, line->key, line->value);
		}
	}
	inserts(&l, c, e, c->main_end);
	/* bpf_list_add_device: the last "a" sets the default, an allowlist
	 * unless it says allow (LXC's default); an allowlist with any rule
	 * fences, a denylist only with a deny rule */
	size_t i = l.n;
	while (i > 0 && !l.s[i - 1].reset)
		i--;
	bool allowlist = i == 0 || !l.s[i - 1].allow;
	bool fenced = false;
	for (; i < l.n; i++)
		fenced |= allowlist || !l.s[i].allow;
	free(l.s);
	return !fenced;
}
