/* model_rules: what a container may open on a cgroup2 host, as LXC decides
 * it (model.h). LXC keeps the lxc.cgroup2.devices.* settings as one ordered
 * list, where an empty value clears the settings of that key; at start it
 * turns them into a device list: "a" resets the list and makes it an
 * allowlist (deny = a) or a denylist (allow = a); an allowlist keeps only
 * allow items and a denylist only deny items; a setting equal to an item
 * (type, major, minor, access) flips it. An empty list attaches no program. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* LXC's common.conf: the allowlist of privileged containers. */
static const char *const common_allow[] = {
	"c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 5:0 rwm",
	"c 5:1 rwm", "c 5:2 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 136:* rwm", "c 10:229 rwm",
};

struct setting {
	bool allow;
	char value[160];
};

struct settings {
	struct setting *s;
	size_t n, cap;
};

static void add(struct settings *l, bool allow, const char *value)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->s = realloc(l->s, l->cap * sizeof(*l->s));
		if (!l->s)
			abort();
	}
	l->s[l->n].allow = allow;
	snprintf(l->s[l->n].value, sizeof(l->s[l->n].value), "%s", value);
	l->n++;
}

/* lxc_clear_cgroups: "lxc.cgroup2" clears all, "lxc.cgroup2.devices.allow"
 * the allow settings only. */
static void clear(struct settings *l, bool all, bool allow)
{
	size_t kept = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!all && l->s[i].allow != allow)
			l->s[kept++] = l->s[i];
	l->n = kept;
}

/* One main-section line as LXC's confile reads it. */
static void apply_key(struct settings *l, const char *key, const char *value)
{
	bool allow = strcmp(key, "lxc.cgroup2.devices.allow") == 0;
	bool deny = strcmp(key, "lxc.cgroup2.devices.deny") == 0;
	if (strcmp(key, "lxc.cgroup2") == 0 && value[0] == '\0')
		clear(l, true, false);
	else if ((allow || deny) && value[0] == '\0')
		clear(l, false, allow);
	else if (allow || deny)
		add(l, allow, value);
}

static void common_conf(struct settings *l)
{
	add(l, false, "a");
	for (size_t i = 0; i < sizeof(common_allow) / sizeof(*common_allow); i++)
		add(l, true, common_allow[i]);
}

/* LXC's userns.conf resets both lists; Proxmox's userns.conf.d/01-pve.conf
 * then makes it a denylist. */
static void userns_conf(struct settings *l, bool proxmox)
{
	clear(l, false, false);
	clear(l, false, true);
	if (proxmox)
		add(l, true, "a");
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* update_lxc_config: for dev0..dev255 (the last line of a key wins), a rule
 * for the host node's current numbers, stat()ed at start. */
static void dev_rules(const struct model_config *c, const struct test_host *h, struct settings *l)
{
	const char *values[256] = { NULL };
	for (size_t i = 0; i < c->main_end; i++)
		if (c->lines[i].kind == MODEL_KEY && model_dev_key(c->lines[i].key))
			values[atoi(c->lines[i].key + 3)] = c->lines[i].value;
	for (int index = 0; index < 256; index++) {
		char path[256], rule[64];
		bool deny_write;
		if (!values[index])
			continue;
		model_dev_path(values[index], path, sizeof(path), &deny_write);
		const struct host_node *n = host_node_at(h, path);
		if (!n)
			continue; /* Proxmox refuses to start: the model reads it as absent */
		snprintf(rule, sizeof(rule), "c %u:%u %s", n->major, n->minor,
			 deny_write ? "r" : "rw");
		add(l, true, rule);
		if (deny_write) {
			snprintf(rule, sizeof(rule), "c %u:%u w", n->major, n->minor);
			add(l, false, rule);
		}
	}
}

static bool parse_number(const char **v, int *out)
{
	if (**v == '*') {
		*out = -1;
		(*v)++;
		return true;
	}
	if (!isdigit((unsigned char)**v))
		return false;
	long n = 0;
	while (isdigit((unsigned char)**v)) {
		n = n * 10 + (**v - '0');
		if (n > INT_MAX)
			return false;
		(*v)++;
	}
	*out = (int)n;
	return true;
}

/* device_cgroup_parse_access: up to three of r, w, m; the rest is ignored. */
static bool parse_access(const char *v, struct model_rule *out)
{
	for (int count = 0; count < 3 && *v && *v != '\n'; count++, v++) {
		if (*v != 'r' && *v != 'w' && *v != 'm')
			return false;
		out->access[count] = *v;
		out->mask |= *v == 'r' ? MODEL_R : *v == 'w' ? MODEL_W : MODEL_M;
	}
	return true;
}

bool model_rule_parse(const char *v, bool allow, struct model_rule *out)
{
	memset(out, 0, sizeof(*out));
	out->allow = allow;
	out->major = out->minor = -1;
	if (strcmp(v, "a") == 0) {
		out->type = 'a'; /* the global rule: no access */
		return true;
	}
	if (*v != 'a' && *v != 'b' && *v != 'c')
		return false;
	out->type = *v++;
	if (!isspace((unsigned char)*v++))
		return false;
	if (!parse_number(&v, &out->major) || *v++ != ':' || !parse_number(&v, &out->minor))
		return false;
	if (!isspace((unsigned char)*v++))
		return false;
	return parse_access(v, out);
}

/* "allow = /dev/x rw": the node's numbers, as LXC stat()s it. */
static bool parse_path_rule(const char *v, const struct test_host *h, struct model_rule *out)
{
	char path[256];
	const char *space = strchr(v, ' ');
	if (!space || (size_t)(space - v) >= sizeof(path))
		return false;
	snprintf(path, sizeof(path), "%.*s", (int)(space - v), v);
	while (*space == ' ')
		space++;
	const struct host_node *n = host_node_at(h, path);
	memset(out, 0, sizeof(*out));
	if (!n || !*space || !parse_access(space, out))
		return false;
	out->allow = true;
	out->type = 'c';
	out->major = (int)n->major;
	out->minor = (int)n->minor;
	return true;
}

static bool emitted(const struct model_devices *d, const struct model_rule *r)
{
	return r->allow == (d->mode == MODEL_ALLOWLIST);
}

/* bpf_list_add_device */
static void list_add(struct model_devices *d, const struct model_rule *r)
{
	if (r->type == 'a' && r->major < 0 && r->minor < 0 && r->access[0] == '\0') {
		d->mode = r->allow ? MODEL_DENYLIST : MODEL_ALLOWLIST;
		d->n = 0;
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct model_rule *it = &d->items[i];
		if (it->type == r->type && it->major == r->major && it->minor == r->minor &&
		    strcmp(it->access, r->access) == 0 && emitted(d, it)) {
			it->allow = r->allow;
			return;
		}
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 32;
		d->items = realloc(d->items, d->cap * sizeof(*d->items));
		if (!d->items)
			abort();
	}
	d->items[d->n++] = *r;
}

void model_allowed(const struct model_config *c, const struct test_host *h,
		   struct model_devices *out)
{
	struct settings l = { 0 };
	bool unprivileged = model_unprivileged(c);

	if (c->format == MODEL_PVE) {
		/* update_lxc_config: common.conf, userns.conf, devN, then the lxc.* lines */
		common_conf(&l);
		if (unprivileged)
			userns_conf(&l, true);
		dev_rules(c, h, &l);
	}
	for (size_t i = 0; i < c->main_end; i++) {
		const struct model_line *line = &c->lines[i];
		if (line->kind != MODEL_KEY)
			continue;
		if (c->format == MODEL_LXC && strcmp(line->key, "lxc.include") == 0) {
			if (ends_with(line->value, "common.conf"))
				common_conf(&l);
			else if (ends_with(line->value, "userns.conf"))
				userns_conf(&l, false);
			continue;
		}
		apply_key(&l, line->key, line->value);
	}
	memset(out, 0, sizeof(*out));
	out->mode = MODEL_ALLOWLIST;
	for (size_t i = 0; i < l.n; i++) {
		struct model_rule r;
		bool ok = l.s[i].allow && l.s[i].value[0] == '/'
				  ? parse_path_rule(l.s[i].value, h, &r)
				  : model_rule_parse(l.s[i].value, l.s[i].allow, &r);
		/* LXC refuses to start on a rule it cannot parse; the model reads the
		 * config as if the line were not there */
		if (ok)
			list_add(out, &r);
	}
	if (out->n == 0)
		out->mode = MODEL_ALL;
	free(l.s);
}

static bool matches(const struct model_rule *r, char type, unsigned major, unsigned minor,
		    unsigned access)
{
	return (r->type == 'a' || r->type == type) &&
	       (r->major < 0 || (unsigned)r->major == major) &&
	       (r->minor < 0 || (unsigned)r->minor == minor) && (access & ~r->mask) == 0;
}

bool model_allows(const struct model_devices *d, char type, unsigned major, unsigned minor,
		  unsigned access)
{
	if (d->mode == MODEL_ALL)
		return true;
	for (size_t i = 0; i < d->n; i++)
		if (emitted(d, &d->items[i]) && matches(&d->items[i], type, major, minor, access))
			return d->items[i].allow;
	return d->mode == MODEL_DENYLIST;
}

void model_devices_free(struct model_devices *d)
{
	free(d->items);
	memset(d, 0, sizeof(*d));
}

struct numbers {
	unsigned v[512];
	size_t n;
};

static void mention(struct numbers *s, int v)
{
	if (v < 0)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == (unsigned)v)
			return;
	if (s->n < sizeof(s->v) / sizeof(*s->v) - 1)
		s->v[s->n++] = (unsigned)v;
}

/* one number no rule names: every such number is treated alike */
static void unmentioned(struct numbers *s)
{
	unsigned max = 0;
	for (size_t i = 0; i < s->n; i++)
		max = s->v[i] > max ? s->v[i] : max;
	s->v[s->n++] = max + 1;
}

bool model_escapes(const struct model_devices *a, const struct model_devices *b,
		   const struct model_devices *c, struct model_probe *where)
{
	static const unsigned accesses[] = { MODEL_R, MODEL_W, MODEL_R | MODEL_W, MODEL_M };
	const struct model_devices *all[] = { a, b, c };
	struct numbers majors = { .n = 0 }, minors = { .n = 0 };
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; all[k] && i < all[k]->n; i++) {
			mention(&majors, all[k]->items[i].major);
			mention(&minors, all[k]->items[i].minor);
		}
	unmentioned(&majors);
	unmentioned(&minors);
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < majors.n; i++)
			for (size_t j = 0; j < minors.n; j++)
				for (size_t k = 0; k < 4; k++) {
					struct model_probe p = { t ? 'b' : 'c', majors.v[i],
								 minors.v[j], accesses[k] };
					if (model_allows(a, p.type, p.major, p.minor, p.access) &&
					    !(b && model_allows(b, p.type, p.major, p.minor,
								p.access)) &&
					    !(c && model_allows(c, p.type, p.major, p.minor,
								p.access))) {
						*where = p;
						return true;
					}
				}
	return false;
}

void model_probe_name(const struct model_probe *p, char *buf, size_t size)
{
	snprintf(buf, size, "%c %u:%u %s%s%s", p->type, p->major, p->minor,
		 p->access & MODEL_R ? "r" : "", p->access & MODEL_W ? "w" : "",
		 p->access & MODEL_M ? "m" : "");
}
