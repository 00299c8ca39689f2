/* model_mounts: what the config puts where in the container, and which host
 * nodes that binds in (model.h). lxc.mount.entry is fstab syntax (source,
 * target relative to the rootfs, ...); a Proxmox devN binds its path at the
 * same place (pve-container's update_lxc_config). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Where lxgpu's start hook makes a node for an unprivileged container
 * (src/config/devlines.h DL_HOOK_NODES): /run/lxgpu/<CT>/dev/x is the host's
 * /dev/x with the container's group. */
#define HOOK_NODES "/run/lxgpu/"

void model_dev_path(const char *value, char *path, size_t size, bool *deny_write)
{
	/* the whole value: one cut short could end in a token of its own
	 * (",size=32G" cut to ",s", read as the path) */
	char *buf = strdup(value);
	if (!buf)
		abort();
	path[0] = '\0';
	*deny_write = false;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "path=", 5) == 0)
			snprintf(path, size, "%s", tok + 5);
		else if (strncmp(tok, "deny-write=", 11) == 0)
			*deny_write = strcmp(tok + 11, "1") == 0;
		else if (!strchr(tok, '='))
			snprintf(path, size, "%s", tok);
	}
	free(buf);
}

bool model_dev_key(const char *key)
{
	if (strncmp(key, "dev", 3) != 0 || !isdigit((unsigned char)key[3]))
		return false;
	char *end;
	long n = strtol(key + 3, &end, 10);
	return *end == '\0' && n < 256 && !(key[3] == '0' && key[4]);
}

void model_target_of(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	for (const char *p = path; *p && n + 1 < size; p++) {
		if (*p == '/' && (n == 0 || buf[n - 1] == '/'))
			continue; /* leading and doubled slashes */
		buf[n++] = *p;
	}
	while (n > 0 && buf[n - 1] == '/')
		n--;
	buf[n] = '\0';
}

/* The host path a mount's source names: the kernel reads "/dev//dri/card0"
 * and "/dev/dri/card0/" as /dev/dri/card0 (path_resolution(7)). */
static void host_source(const char *source, char *buf, size_t size)
{
	char plain[256];
	size_t n = 0;
	for (const char *p = source; *p && n + 1 < sizeof(plain); p++)
		if (*p != '/' || n == 0 || plain[n - 1] != '/')
			plain[n++] = *p;
	while (n > 1 && plain[n - 1] == '/')
		n--;
	plain[n] = '\0';
	if (strncmp(plain, HOOK_NODES, strlen(HOOK_NODES)) == 0) {
		const char *rest = strchr(plain + strlen(HOOK_NODES), '/');
		if (rest) {
			snprintf(buf, size, "%s", rest);
			return;
		}
	}
	snprintf(buf, size, "%s", plain);
}

/* The next whitespace-separated field of *rest, cut to size; false when
 * there is none. */
static bool next_field(const char **rest, char *buf, size_t size)
{
	const char *p = *rest + strspn(*rest, " \t");
	size_t n = strcspn(p, " \t");
	if (n == 0)
		return false;
	snprintf(buf, size, "%.*s", (int)n, p);
	*rest = p + n;
	return true;
}

static void push(struct model_mount **out, size_t *n, const struct model_mount *m)
{
	*out = realloc(*out, (*n + 1) * sizeof(**out));
	if (!*out)
		abort();
	(*out)[(*n)++] = *m;
}

bool model_mount_of(const struct model_config *c, size_t i, struct model_mount *out)
{
	const struct model_line *l = &c->lines[i];
	memset(out, 0, sizeof(*out));
	out->line = i;
	if (i >= c->main_end || l->kind != MODEL_KEY)
		return false;
	if (strcmp(l->key, "lxc.mount.entry") == 0) {
		char source[256], target[256];
		const char *rest = l->value;
		/* whole fields: a longer one is cut here, never read as the next
		 * (LXC's getmntent_r reads lines of up to PATH_MAX bytes) */
		if (!next_field(&rest, source, sizeof(source)) ||
		    !next_field(&rest, target, sizeof(target)))
			return false;
		host_source(source, out->source, sizeof(out->source));
		model_target_of(target, out->target, sizeof(out->target));
		return true;
	}
	if (c->format != MODEL_PVE || !model_dev_key(l->key))
		return false;
	bool deny_write;
	out->dev = true;
	model_dev_path(l->value, out->source, sizeof(out->source), &deny_write);
	model_target_of(out->source, out->target, sizeof(out->target));
	return true;
}

size_t model_mounts(const struct model_config *c, struct model_mount **out)
{
	size_t n = 0;
	*out = NULL;
	for (size_t i = 0; i < c->main_end; i++) {
		struct model_mount m;
		if (!model_mount_of(c, i, &m))
			continue;
		bool later = false;
		for (size_t k = i + 1; m.dev && k < c->main_end; k++)
			later |= model_key_is(c, k, c->lines[i].key);
		if (!later) /* Proxmox keeps the last line of a devN key */
			push(out, &n, &m);
	}
	return n;
}

void model_nodeset_add(struct model_nodeset *s, unsigned major, unsigned minor)
{
	if (model_nodeset_has(s, major, minor))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->nodes = realloc(s->nodes, s->cap * sizeof(*s->nodes));
		if (!s->nodes)
			abort();
	}
	s->nodes[s->n][0] = major;
	s->nodes[s->n][1] = minor;
	s->n++;
}

bool model_nodeset_has(const struct model_nodeset *s, unsigned major, unsigned minor)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i][0] == major && s->nodes[i][1] == minor)
			return true;
	return false;
}

void model_nodeset_free(struct model_nodeset *s)
{
	free(s->nodes);
	memset(s, 0, sizeof(*s));
}

void model_bound(const struct model_config *c, const struct test_host *h, struct model_nodeset *out)
{
	struct model_mount *m;
	size_t n = model_mounts(c, &m);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct host_node *node = host_node_at(h, m[i].source);
		if (node) {
			model_nodeset_add(out, node->major, node->minor);
			continue;
		}
		/* a directory: every node below it */
		size_t len = strlen(m[i].source);
		while (len > 0 && m[i].source[len - 1] == '/')
			len--;
		for (size_t k = 0; !m[i].dev && k < host_nnodes(h); k++) {
			const struct host_node *below = host_node(h, k);
			if (below->type == 'c' && strncmp(below->path, m[i].source, len) == 0 &&
			    below->path[len] == '/')
				model_nodeset_add(out, below->major, below->minor);
		}
	}
	free(m);
}
