/* model_owner: which lines docs/ownership.md makes lxgpu's (model.h): its
 * record, its hooks, the lines its record says it wrote, and the domain of
 * the GPUs attached; and what the record asks for. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"

static const struct host_gpu *gpu(const struct model_gpus *g, size_t i)
{
	return i < g->host->ngpus && i < MODEL_MAX_GPUS && g->on[i] ? &g->host->gpus[i] : NULL;
}

static bool has_vendor(const struct model_gpus *g, enum host_vendor v)
{
	for (size_t i = 0; i < MODEL_MAX_GPUS; i++)
		if (gpu(g, i) && gpu(g, i)->vendor == v)
			return true;
	return false;
}

/* "0000:01:00.0", or "01:00.0" in domain 0 */
static bool same_pci(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0 || (strncmp(a, "0000:", 5) == 0 && strcasecmp(a + 5, b) == 0);
}

static bool gpu_named(const struct host_gpu *g, size_t index, const char *id)
{
	char number[16];
	snprintf(number, sizeof(number), "%zu", index);
	return (g->uuid && strcasecmp(g->uuid, id) == 0) || same_pci(g->pci, id) ||
	       strcmp(number, id) == 0;
}

void model_select(const struct test_host *h, const struct model_request *r, struct model_gpus *out)
{
	memset(out, 0, sizeof(*out));
	out->host = h;
	for (size_t i = 0; i < h->ngpus && i < MODEL_MAX_GPUS; i++)
		for (size_t s = 0; s < r->nselectors || (s == 0 && r->nselectors == 0); s++) {
			const char *sel = r->nselectors ? r->selectors[s] : "all";
			out->on[i] |= strcmp(sel, "all") == 0 || gpu_named(&h->gpus[i], i, sel);
		}
}

static bool env_var(const struct model_config *c, size_t i, const char *name, const char **value)
{
	size_t n = strlen(name);
	if (!model_key_is(c, i, "lxc.environment") || strncmp(c->lines[i].value, name, n) != 0 ||
	    c->lines[i].value[n] != '=')
		return false;
	*value = c->lines[i].value + n + 1;
	return true;
}

static char *dup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

void model_record(const struct model_config *c, struct model_record *out)
{
	const char *devices = NULL, *request = NULL, *rules = "", *wrote = "", *v;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->main_end; i++) {
		if (env_var(c, i, "LXGPU_DEVICES", &v))
			devices = v;
		else if (env_var(c, i, "LXGPU_REQUEST", &v))
			request = v;
		else if (env_var(c, i, "LXGPU_RULES", &v))
			rules = v;
		else if (env_var(c, i, "LXGPU_WROTE", &v))
			wrote = v;
	}
	out->rules = dup(rules);
	out->wrote = dup(wrote);
	if (!devices)
		return;
	out->version = request && strncmp(request, "v2", 2) == 0 &&
				       (request[2] == ',' || request[2] == '\0')
			       ? 2
			       : 1;
	out->wildcard = out->version == 2 && strstr(request, ",rules=wildcard") != NULL;
	/* the whole value: one cut short could end in an id of its own */
	char *buf = strdup(devices);
	if (!buf)
		abort();
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && out->nids < MODEL_MAX_GPUS;
	     tok = strtok_r(NULL, ",", &save))
		snprintf(out->ids[out->nids++], sizeof(out->ids[0]), "%s", tok);
	free(buf);
}

void model_record_free(struct model_record *r)
{
	free(r->rules);
	free(r->wrote);
	memset(r, 0, sizeof(*r));
}

void model_record_gpus(const struct model_record *r, const struct test_host *h,
		       struct model_gpus *out)
{
	memset(out, 0, sizeof(*out));
	out->host = h;
	for (size_t i = 0; i < h->ngpus && i < MODEL_MAX_GPUS; i++)
		for (size_t k = 0; k < r->nids; k++)
			out->on[i] |=
				(h->gpus[i].uuid && strcasecmp(h->gpus[i].uuid, r->ids[k]) == 0) ||
				same_pci(h->gpus[i].pci, r->ids[k]);
}

bool model_record_line(const struct model_config *c, size_t i)
{
	return model_key_is(c, i, "lxc.environment") &&
	       strncmp(c->lines[i].value, "LXGPU_", 6) == 0;
}

bool model_hook_line(const struct model_config *c, size_t i)
{
	if (i >= c->main_end || c->lines[i].kind != MODEL_KEY ||
	    strncmp(c->lines[i].key, "lxc.hook.", 9) != 0)
		return false;
	char cmd[256];
	if (sscanf(c->lines[i].value, "%255s", cmd) != 1)
		return false;
	const char *base = strrchr(cmd, '/');
	return strcmp(base ? base + 1 : cmd, "lxgpu") == 0;
}

/* Whether a comma-separated list holds the item. */
static bool listed(const char *list, const char *item)
{
	size_t n = strlen(item);
	for (const char *p = list; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, item, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* The paths lxgpu 0.1 passed: the GPU drivers' nodes. */
static bool gpu_node_path(const char *p)
{
	return strncmp(p, "/dev/nvidia", 11) == 0 || strncmp(p, "/dev/dri/", 9) == 0 ||
	       strcmp(p, "/dev/kfd") == 0;
}

/* "P[,gid=N],mode=0NNN": lxgpu 0.1's devN */
static bool v1_dev_shape(const char *v)
{
	const char *comma = strchr(v, ',');
	char path[256];
	if (!comma || (size_t)(comma - v) >= sizeof(path))
		return false;
	snprintf(path, sizeof(path), "%.*s", (int)(comma - v), v);
	if (!gpu_node_path(path))
		return false;
	const char *p = comma;
	if (strncmp(p, ",gid=", 5) == 0) {
		p += 5;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return strncmp(p, ",mode=0", 7) == 0 && strlen(p) == 10 && strspn(p + 7, "01234567") == 3;
}

/* "P P' none bind,optional,create=file", P from /dev or from lxgpu's hook */
static bool v1_mount_shape(const struct model_mount *m, const char *value)
{
	char want[600];
	snprintf(want, sizeof(want), " %s none bind,optional,create=file", m->source + 1);
	const char *space = strchr(value, ' ');
	return gpu_node_path(m->source) && space && strcmp(space, want) == 0;
}

static bool allow_key(const struct model_config *c, size_t i)
{
	return model_key_is(c, i, "lxc.cgroup2.devices.allow") ||
	       model_key_is(c, i, "lxc.cgroup.devices.allow");
}

bool model_recorded(const struct model_config *c, size_t i, const struct model_record *r)
{
	struct model_rule rule;
	struct model_mount m;
	char item[300];
	if (r->version == 0)
		return false;
	if (allow_key(c, i) && model_rule_parse(c->lines[i].value, true, &rule) &&
	    rule.type == 'c' && rule.major >= 0) {
		char minor[16] = "*";
		if (rule.minor >= 0)
			snprintf(minor, sizeof(minor), "%d", rule.minor);
		if (r->version == 2) {
			snprintf(item, sizeof(item), "c%d:%s", rule.major, minor);
			return model_key_is(c, i, "lxc.cgroup2.devices.allow") &&
			       listed(r->wrote, item);
		}
		snprintf(item, sizeof(item), "c %d:%s rwm", rule.major, minor);
		bool shape = model_key_is(c, i, "lxc.cgroup2.devices.allow") &&
			     strcmp(c->lines[i].value, item) == 0;
		snprintf(item, sizeof(item), "%d:%s", rule.major, minor);
		return shape && listed(r->rules, item);
	}
	if (!model_mount_of(c, i, &m))
		return false;
	if (r->version == 2) {
		snprintf(item, sizeof(item), "/%s", m.target);
		return listed(r->wrote, m.source) || listed(r->wrote, item);
	}
	return m.dev ? v1_dev_shape(c->lines[i].value) : v1_mount_shape(&m, c->lines[i].value);
}

/* ownership.md: NVIDIA's majors are 195 and every one /proc/devices names
 * nvidia*; AMD's the kfd major. */
static bool domain_major(const struct model_gpus *g, unsigned major)
{
	bool nvidia = has_vendor(g, HOST_NVIDIA), amd = has_vendor(g, HOST_AMD);
	if (nvidia && major == 195)
		return true;
	for (size_t i = 0; i < host_nmajors(g->host); i++) {
		const struct host_major *m = host_major(g->host, i);
		if (m->major == major && ((nvidia && strncmp(m->name, "nvidia", 6) == 0) ||
					  (amd && strcmp(m->name, "kfd") == 0)))
			return true;
	}
	return false;
}

/* An AMD or Intel GPU's own DRI node (NVIDIA's are not in its domain). */
static bool domain_dri(const struct model_gpus *g, unsigned major, unsigned minor)
{
	for (size_t i = 0; i < MODEL_MAX_GPUS; i++) {
		const struct host_gpu *x = gpu(g, i);
		if (!x || x->vendor == HOST_NVIDIA)
			continue;
		const char *paths[] = { x->card, x->render };
		for (size_t k = 0; k < 2; k++) {
			const struct host_node *n =
				paths[k] ? host_node_at(g->host, paths[k]) : NULL;
			if (n && n->major == major && n->minor == minor)
				return true;
		}
	}
	return false;
}

static bool domain_path(const struct model_gpus *g, const char *path)
{
	if (has_vendor(g, HOST_NVIDIA) && strncmp(path, "/dev/nvidia", 11) == 0)
		return true;
	if (has_vendor(g, HOST_AMD) && strcmp(path, "/dev/kfd") == 0)
		return true;
	for (size_t i = 0; i < MODEL_MAX_GPUS; i++) {
		const struct host_gpu *x = gpu(g, i);
		char by_path[64];
		if (!x || x->vendor == HOST_NVIDIA)
			continue;
		snprintf(by_path, sizeof(by_path), "/dev/dri/by-path/pci-%s-", x->pci);
		if ((x->card && strcmp(path, x->card) == 0) ||
		    (x->render && strcmp(path, x->render) == 0) ||
		    strncmp(path, by_path, strlen(by_path)) == 0)
			return true;
	}
	return false;
}

bool model_in_domain(const struct model_config *c, size_t i, const struct model_gpus *g)
{
	struct model_rule rule;
	struct model_mount m;
	if (allow_key(c, i)) {
		const char *v = c->lines[i].value;
		if (v[0] == '/') { /* "/dev/nvidia0 rw": LXC stat()s the path */
			char path[256];
			return sscanf(v, "%255s", path) == 1 && domain_path(g, path);
		}
		return model_rule_parse(v, true, &rule) && rule.type == 'c' && rule.major >= 0 &&
		       (domain_major(g, (unsigned)rule.major) ||
			(rule.minor >= 0 &&
			 domain_dri(g, (unsigned)rule.major, (unsigned)rule.minor)));
	}
	if (!model_mount_of(c, i, &m))
		return false;
	char target[300];
	snprintf(target, sizeof(target), "/%s", m.target);
	return domain_path(g, m.source) || domain_path(g, target);
}

bool model_dead_rule(const struct model_config *c, size_t i, const struct test_host *h)
{
	struct model_rule rule;
	return allow_key(c, i) && model_rule_parse(c->lines[i].value, true, &rule) &&
	       rule.type == 'c' && rule.major >= 0 && !host_major_name(h, (unsigned)rule.major);
}

static void add_node(const struct host_node **out, size_t *n, size_t max,
		     const struct host_node *node)
{
	if (!node || *n == max)
		return;
	for (size_t i = 0; i < *n; i++)
		if (out[i] == node)
			return;
	out[(*n)++] = node;
}

size_t model_gpu_nodes(const struct model_gpus *g, const struct host_node **out, size_t max)
{
	static const char *const nvidia_shared[] = { "/dev/nvidiactl", "/dev/nvidia-uvm",
						     "/dev/nvidia-uvm-tools",
						     "/dev/nvidia-modeset" };
	size_t n = 0;
	for (size_t i = 0; i < MODEL_MAX_GPUS; i++) {
		const struct host_gpu *x = gpu(g, i);
		char path[32];
		if (!x)
			continue;
		if (x->vendor == HOST_NVIDIA) {
			snprintf(path, sizeof(path), "/dev/nvidia%d", x->nvidia_minor);
			add_node(out, &n, max, host_node_at(g->host, path));
			for (size_t k = 0; k < 4; k++)
				add_node(out, &n, max, host_node_at(g->host, nvidia_shared[k]));
			continue;
		}
		if (x->card)
			add_node(out, &n, max, host_node_at(g->host, x->card));
		if (x->render)
			add_node(out, &n, max, host_node_at(g->host, x->render));
		if (x->vendor == HOST_AMD)
			add_node(out, &n, max, host_node_at(g->host, "/dev/kfd"));
	}
	return n;
}

void model_asks(const struct model_gpus *g, bool wildcard, struct model_devices *out)
{
	const struct host_node *nodes[32];
	size_t n = model_gpu_nodes(g, nodes, 32);
	memset(out, 0, sizeof(*out));
	out->mode = MODEL_ALLOWLIST;
	out->items = calloc(n + 1, sizeof(*out->items));
	if (!out->items)
		abort();
	out->cap = n + 1;
	for (size_t i = 0; i < n; i++)
		out->items[out->n++] = (struct model_rule){
			.allow = true,
			.type = 'c',
			.major = (int)nodes[i]->major,
			.minor = wildcard ? -1 : (int)nodes[i]->minor,
			.access = "rwm",
			.mask = MODEL_R | MODEL_W | MODEL_M,
		};
}
