/* parse: cgroup, NSpid, cmdline and DRM fdinfo text (parse.h). Pure. */
#include "top/parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/procfs.h"

/* Whether s (n bytes) is all hexadecimal digits, and at least 12 of them:
 * a container engine's id. */
static bool is_hex_id(const char *s, size_t n)
{
	if (n < 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "docker-<id>.scope" with prefix "docker-": the id's length, else 0. */
static size_t scope_id(const char *c, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	if (n <= p + 6 || strncmp(c, prefix, p) != 0 || strncmp(c + n - 6, ".scope", 6) != 0)
		return 0;
	return is_hex_id(c + p, n - p - 6) ? n - p - 6 : 0;
}

struct comp {
	const char *s;
	size_t n;
};

static bool comp_is(const struct comp *c, const char *word)
{
	return c->n == strlen(word) && strncmp(c->s, word, c->n) == 0;
}

/* A container's, an engine's or a region's name: visible bytes only (no
 * blank, no control character). */
static bool name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return n > 0;
}

/* An LXC container at components[i]: its name's component, or NULL. */
static const struct comp *lxc_at(const struct comp *cs, size_t n, size_t i, size_t *next)
{
	const struct comp *c = &cs[i];
	if (c->n > 12 && strncmp(c->s, "lxc.payload.", 12) == 0 && name_ok(c->s + 12, c->n - 12)) {
		*next = i + 1;
		return c;
	}
	if ((comp_is(c, "lxc") || comp_is(c, "lxc.payload")) && i + 1 < n &&
	    name_ok(cs[i + 1].s, cs[i + 1].n)) {
		*next = i + 2;
		return &cs[i + 1];
	}
	return NULL;
}

static void copy_name(char *dst, size_t size, const struct comp *c, size_t skip)
{
	snprintf(dst, size, "%.*s", (int)(c->n - skip), c->s + skip);
}

/* A container engine's container among cs[from..n). */
static void nested_of(const struct comp *cs, size_t n, size_t from, char *out, size_t size)
{
	static const struct {
		const char *prefix, *engine;
	} scopes[] = {
		{ "docker-", "docker" },
		{ "libpod-", "podman" },
		{ "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },
	};
	for (size_t i = from; i < n; i++) {
		const struct comp *c = &cs[i];
		size_t next, idn;
		const struct comp *inner = lxc_at(cs, n, i, &next);
		if (inner) {
			size_t skip = inner == c ? 12 : 0;
			snprintf(out, size, "lxc %.*s", (int)(inner->n - skip), inner->s + skip);
			return;
		}
		for (size_t k = 0; k < sizeof(scopes) / sizeof(scopes[0]); k++)
			if ((idn = scope_id(c->s, c->n, scopes[k].prefix)) > 0) {
				snprintf(out, size, "%s %.12s", scopes[k].engine,
					 c->s + strlen(scopes[k].prefix));
				return;
			}
		/* cgroupfs drivers: /docker/<id>, /libpod_parent/libpod-<id> */
		if (comp_is(c, "docker") && i + 1 < n && is_hex_id(cs[i + 1].s, cs[i + 1].n)) {
			snprintf(out, size, "docker %.12s", cs[i + 1].s);
			return;
		}
		if (c->n > 7 && strncmp(c->s, "libpod-", 7) == 0 && is_hex_id(c->s + 7, c->n - 7)) {
			snprintf(out, size, "podman %.12s", c->s + 7);
			return;
		}
	}
}

static bool path_container(const char *path, size_t len, struct top_cgroup *out)
{
	struct comp cs[64];
	size_t n = 0;
	for (size_t i = 0; i < len && n < 64;) {
		while (i < len && path[i] == '/')
			i++;
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		if (i > start)
			cs[n++] = (struct comp){ path + start, i - start };
	}
	for (size_t i = 0; i < n; i++) {
		size_t next;
		const struct comp *name = lxc_at(cs, n, i, &next);
		if (!name)
			continue;
		copy_name(out->ct, sizeof(out->ct), name, name == &cs[i] ? 12 : 0);
		nested_of(cs, n, next, out->nested, sizeof(out->nested));
		return true;
	}
	return false;
}

bool top_cgroup_parse(const char *buf, size_t len, struct top_cgroup *out)
{
	memset(out, 0, sizeof(*out));
	/* pass 0: the cgroup2 line "0::/path"; pass 1: the v1 lines */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t pos = 0; pos < len;) {
			const char *line = buf + pos;
			const char *nl = memchr(line, '\n', len - pos);
			size_t n = nl ? (size_t)(nl - line) : len - pos;
			pos += n + 1;
			const char *c1 = memchr(line, ':', n);
			const char *c2 =
				c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
			if (!c2)
				continue;
			bool v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
			if (v2 != (pass == 0))
				continue;
			if (path_container(c2 + 1, n - (size_t)(c2 + 1 - line), out))
				return true;
		}
	}
	memset(out, 0, sizeof(*out));
	return false;
}

size_t top_nspid_parse(const char *buf, size_t len, int *pids, size_t max)
{
	size_t pos = 0, n = 0;
	struct kv kv;
	while (kv_next(buf, len, &pos, &kv)) {
		if (!kv_is(&kv, "NSpid"))
			continue;
		const char *p = kv.value, *end = kv.value + kv.valuelen;
		while (p < end && n < max) {
			long v = 0;
			const char *start = p;
			/* digits within the value alone: the text has no NUL after it */
			while (p < end && *p >= '0' && *p <= '9' && v <= 0x7fffffff)
				v = v * 10 + (*p++ - '0');
			if (p == start || v <= 0 || v > 0x7fffffff ||
			    (p < end && *p != ' ' && *p != '\t'))
				break;
			pids[n++] = (int)v;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
		}
		return n;
	}
	return 0;
}

void top_cmdline_text(const char *buf, size_t len, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < size; i++) {
		unsigned char c = (unsigned char)buf[i];
		out[n++] = c == '\0' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	if (size)
		out[n] = '\0';
}

/* "123 ns", "1024 KiB", "4 MiB", "7": the number in bytes (or ns), scaled. */
static bool parse_amount(const char *s, size_t len, unsigned long long *out)
{
	char buf[64], *end;
	if (len == 0 || len >= sizeof(buf) || !isdigit((unsigned char)s[0]))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	unsigned long long v = strtoull(buf, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (strcmp(end, "KiB") == 0)
		v <<= 10;
	else if (strcmp(end, "MiB") == 0)
		v <<= 20;
	else if (strcmp(end, "GiB") == 0)
		v <<= 30;
	else if (*end && strcmp(end, "ns") != 0)
		return false;
	*out = v;
	return true;
}

static struct top_drm_engine *engine(struct top_drm_fdinfo *f, const char *name, size_t n)
{
	if (!name_ok(name, n) || n >= sizeof(f->engines[0].name))
		return NULL;
	for (size_t i = 0; i < f->nengines; i++)
		if (strlen(f->engines[i].name) == n && strncmp(f->engines[i].name, name, n) == 0)
			return &f->engines[i];
	if (f->nengines == TOP_DRM_ENGINES)
		return NULL;
	struct top_drm_engine *e = &f->engines[f->nengines++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, n);
	e->capacity = 1;
	return e;
}

struct region {
	char name[24];
	unsigned long long v[3]; /* resident, memory, total */
	bool have[3];
};

/* key (without "drm-") starts with prefix: the rest's length, and *rest. */
static bool key_rest(const struct kv *kv, const char *prefix, const char **rest, size_t *n)
{
	size_t p = strlen(prefix);
	if (kv->keylen <= p || strncmp(kv->key, prefix, p) != 0)
		return false;
	*rest = kv->key + p;
	*n = kv->keylen - p;
	return true;
}

static void add_region(struct region *rs, size_t *nrs, const char *name, size_t n, int slot,
		       unsigned long long v)
{
	size_t i;
	if (!name_ok(name, n) || n >= sizeof(rs[0].name))
		return;
	for (i = 0; i < *nrs; i++)
		if (strlen(rs[i].name) == n && strncmp(rs[i].name, name, n) == 0)
			break;
	if (i == *nrs) {
		if (*nrs == 8)
			return;
		memset(&rs[i], 0, sizeof(rs[i]));
		memcpy(rs[i].name, name, n);
		(*nrs)++;
	}
	rs[i].v[slot] = v;
	rs[i].have[slot] = true;
}

bool top_drm_fdinfo_parse(const char *buf, size_t len, struct top_drm_fdinfo *out)
{
	struct region rs[8];
	size_t nrs = 0, pos = 0, n;
	struct kv kv;
	const char *rest;
	unsigned long long v;

	memset(out, 0, sizeof(*out));
	while (kv_next(buf, len, &pos, &kv)) {
		if (kv.keylen < 5 || strncmp(kv.key, "drm-", 4) != 0)
			continue;
		if (kv_is(&kv, "drm-driver")) {
			snprintf(out->driver, sizeof(out->driver), "%.*s", (int)kv.valuelen,
				 kv.value);
			continue;
		}
		if (kv_is(&kv, "drm-pdev")) {
			if (!pci_addr_parse(kv.value, kv.valuelen, out->pdev))
				out->pdev[0] = '\0';
			continue;
		}
		if (!parse_amount(kv.value, kv.valuelen, &v))
			continue;
		struct top_drm_engine *e = NULL;
		if (kv_is(&kv, "drm-client-id")) {
			out->client_id = v;
			out->have_client_id = true;
		} else if (key_rest(&kv, "drm-engine-capacity-", &rest, &n)) {
			if ((e = engine(out, rest, n)) && v > 0 && v < 1024)
				e->capacity = (unsigned)v;
		} else if (key_rest(&kv, "drm-engine-", &rest, &n)) {
			if ((e = engine(out, rest, n))) {
				e->ns = v;
				e->have_ns = true;
			}
		} else if (key_rest(&kv, "drm-total-cycles-", &rest, &n)) {
			if ((e = engine(out, rest, n))) {
				e->total_cycles = v;
				e->have_cycles = true;
			}
		} else if (key_rest(&kv, "drm-cycles-", &rest, &n)) {
			if ((e = engine(out, rest, n)))
				e->cycles = v;
		} else if (key_rest(&kv, "drm-resident-", &rest, &n)) {
			add_region(rs, &nrs, rest, n, 0, v);
		} else if (key_rest(&kv, "drm-memory-", &rest, &n)) {
			add_region(rs, &nrs, rest, n, 1, v);
		} else if (key_rest(&kv, "drm-total-", &rest, &n)) {
			add_region(rs, &nrs, rest, n, 2, v);
		}
	}
	if (!out->driver[0])
		return false;
	for (size_t i = 0; i < nrs; i++) {
		int slot = rs[i].have[0] ? 0 : rs[i].have[1] ? 1 : 2;
		bool local =
			strncmp(rs[i].name, "vram", 4) == 0 || strncmp(rs[i].name, "local", 5) == 0;
		if (local) {
			out->mem_local += rs[i].v[slot];
			out->have_mem_local = true;
		} else {
			out->mem_other += rs[i].v[slot];
			out->have_mem_other = true;
		}
	}
	return true;
}

enum top_engine_kind top_engine_kind(const char *name)
{
	if (strncmp(name, "enc", 3) == 0)
		return TOP_ENGINE_ENC;
	if (strncmp(name, "dec", 3) == 0 || strncmp(name, "jpeg", 4) == 0 ||
	    strcmp(name, "video") == 0 || strcmp(name, "vcs") == 0)
		return TOP_ENGINE_DEC;
	if (strcmp(name, "copy") == 0 || strcmp(name, "bcs") == 0 || strcmp(name, "dma") == 0)
		return TOP_ENGINE_COPY;
	return TOP_ENGINE_MAIN;
}

static int percent(double part, double whole)
{
	double p = 100.0 * part / whole;
	return p > 100.0 ? 100 : (int)(p + 0.5);
}

int top_engine_percent(const struct top_drm_engine *before, const struct top_drm_engine *after,
		       unsigned long long wall_ns)
{
	if (before->have_cycles && after->have_cycles) {
		if (after->total_cycles <= before->total_cycles || after->cycles < before->cycles)
			return -1;
		return percent((double)(after->cycles - before->cycles),
			       (double)(after->total_cycles - before->total_cycles));
	}
	if (!before->have_ns || !after->have_ns || after->ns < before->ns || wall_ns == 0)
		return -1;
	unsigned cap = after->capacity ? after->capacity : 1;
	return percent((double)(after->ns - before->ns), (double)wall_ns * cap);
}
