/* passthrough: GPU lines in a config (see passthrough.h). */
#include "passthrough.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fs.h"
#include "xalloc.h"

#define DEVICES_VAR "LXGPU_DEVICES="
#define RULES_VAR   "LXGPU_RULES="
#define GIDS_VAR    "LXGPU_GIDS="

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Host paths of GPU nodes, and the directories that hold them. */
static bool gpu_path(const char *p, bool *dir)
{
	*dir = strcmp(p, "/dev/dri") == 0 || strcmp(p, "/dev/dri/") == 0 ||
	       strcmp(p, "/dev/nvidia-caps") == 0 || strcmp(p, "/dev/nvidia-caps/") == 0 ||
	       strcmp(p, "/dev/dri/by-path") == 0;
	return *dir || starts(p, "/dev/nvidia") || starts(p, "/dev/dri/") ||
	       strcmp(p, "/dev/kfd") == 0;
}

static bool is_gpu_major(const struct lxgpu_inventory *inv, int major)
{
	static const char *const names[] = { "nvidia",     "nvidia-frontend",
					     "nvidia-uvm", "nvidia-caps",
					     "drm",        "kfd" };
	/* 195 and 226 are fixed (anchors.md §4.2) even where no driver is loaded. */
	if (major == 195 || major == 226)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (proc_devices_major(&inv->majors, names[i]) == major)
			return true;
	for (size_t i = 0; i < inv->nnodes; i++)
		if (inv->nodes[i].type == 'c' && inv->nodes[i].major == (unsigned)major)
			return true;
	return false;
}

static bool is_registered(const struct lxgpu_inventory *inv, int major)
{
	for (size_t i = 0; i < inv->majors.nmajors; i++)
		if (inv->majors.majors[i].major == (unsigned)major)
			return true;
	return false;
}

/* "c 195:0 rwm", "c 508:* rwm", "a"; false when it is not a device rule. */
static bool parse_rule(const char *v, char *type, int *major, int *minor)
{
	const char *p = v;
	if (*p != 'c' && *p != 'b' && *p != 'a')
		return false;
	*type = *p++;
	*major = *minor = -1;
	if (*type == 'a' && (*p == '\0' || isspace((unsigned char)*p)))
		return true;
	if (!isspace((unsigned char)*p))
		return false;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '*') {
		p++;
	} else {
		char *end;
		long m = strtol(p, &end, 10);
		if (end == p || m < 0 || m > 4095)
			return false;
		*major = (int)m;
		p = end;
	}
	if (*p++ != ':')
		return false;
	if (*p == '*') {
		p++;
	} else {
		char *end;
		long m = strtol(p, &end, 10);
		if (end == p || m < 0 || m >= (1L << 20))
			return false;
		*minor = (int)m;
		p = end;
	}
	return *p == '\0' || isspace((unsigned char)*p);
}

static struct pt_entry *add(struct pt_config *out, size_t line, enum pt_kind kind)
{
	xgrow(&out->entries, &out->cap, out->n + 1, sizeof(*out->entries));
	struct pt_entry *e = &out->entries[out->n++];
	memset(e, 0, sizeof(*e));
	e->line = line;
	e->kind = kind;
	e->major = e->minor = -1;
	e->gid = -1;
	e->mode = -1;
	e->dev_index = -1;
	return e;
}

/* A devN value: "[path=]/dev/x[,gid=N][,mode=0NNN][,uid=N][,deny-write=1]". */
static bool parse_dev(const char *v, char **path, long *gid, int *mode)
{
	_cleanup_free_ char *copy = xstrdup(v);
	char *save = NULL;
	*path = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || strncmp(tok, "path=", 5) == 0) {
			free(*path);
			*path = xstrdup(eq ? eq + 1 : tok);
		} else if (strncmp(tok, "gid=", 4) == 0) {
			*gid = strtol(eq + 1, NULL, 10);
		} else if (strncmp(tok, "mode=", 5) == 0) {
			*mode = (int)strtol(eq + 1, NULL, 8);
		}
	}
	return *path != NULL;
}

static void record_devices(struct pt_config *out, const char *list)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		out->recorded = xrealloc(out->recorded, (out->nrecorded + 1) * sizeof(char *));
		out->recorded[out->nrecorded++] = xstrdup(tok);
	}
}

static void record_rules(struct pt_config *out, const char *list)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int major, minor = -1;
		char star;
		if (sscanf(tok, "%d:%d", &major, &minor) != 2 &&
		    (sscanf(tok, "%d:%c", &major, &star) != 2 || star != '*'))
			continue;
		out->rules = xrealloc(out->rules, (out->nrules + 1) * sizeof(*out->rules));
		out->rules[out->nrules++] = (struct pt_rule){ major, minor };
	}
}

/* "/run/lxgpu/<name>/dev/dri/renderD128" -> "/dev/dri/renderD128"; NULL
 * for any other source. */
static const char *hook_node(const char *src)
{
	size_t n = strlen(PT_HOOK_NODES);
	if (strncmp(src, PT_HOOK_NODES "/", n + 1) != 0)
		return NULL;
	const char *name = src + n + 1, *rest = strchr(name, '/');
	return rest && rest > name ? rest : NULL;
}

/* One of lxgpu's records: "LXGPU_RULES=195:0" -> var "LXGPU_RULES=", path "195:0". */
static struct pt_entry *add_env(struct pt_config *out, size_t line, const char *value,
				const char *var)
{
	struct pt_entry *e = add(out, line, PT_ENV);
	e->path = xstrdup(value + strlen(var));
	e->var = var;
	return e;
}

static bool rule_recorded(const struct pt_config *pt, int major, int minor)
{
	for (size_t i = 0; i < pt->nrules; i++)
		if (pt->rules[i].major == major && pt->rules[i].minor == minor)
			return true;
	return false;
}

void pt_scan(const struct conf *c, const struct lxgpu_inventory *inv, struct pt_config *out)
{
	bool passes_nodes = false;

	memset(out, 0, sizeof(*out));
	out->render_gid = out->video_gid = -1;
	/* the record first: it decides which rules are lxgpu's */
	for (size_t i = 0; i < c->main_end; i++)
		if (c->lines[i].kind == CONF_KEY &&
		    strcmp(c->lines[i].key, "lxc.environment") == 0 &&
		    starts(c->lines[i].value, RULES_VAR))
			record_rules(out, c->lines[i].value + strlen(RULES_VAR));
	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *l = &c->lines[i];
		if (l->kind != CONF_KEY)
			continue;
		const char *k = l->key, *v = l->value;
		bool dir;

		if (strcmp(k, "lxc.cgroup2.devices.allow") == 0 ||
		    strcmp(k, "lxc.cgroup.devices.allow") == 0) {
			char type;
			int major, minor;
			if (!parse_rule(v, &type, &major, &minor) || type == 'a')
				continue;
			bool gpu = major >= 0 && is_gpu_major(inv, major);
			bool dead = major >= 0 && !gpu && inv->have_proc_devices &&
				    !is_registered(inv, major);
			bool recorded =
				type == 'c' && rule_recorded(out, major, minor) && k[10] != '.';
			if (!gpu && !dead && !recorded)
				continue;
			struct pt_entry *e = add(out, i, PT_RULE);
			e->legacy = k[10] == '.'; /* "lxc.cgroup.devices" */
			e->dead = dead || (recorded && !gpu);
			e->recorded = recorded;
			e->type = type;
			e->major = major;
			e->minor = minor;
		} else if (strcmp(k, "lxc.mount.entry") == 0) {
			char src[512];
			if (sscanf(v, "%511s", src) != 1)
				continue;
			const char *host = hook_node(src);
			if (!gpu_path(host ? host : src, &dir))
				continue;
			struct pt_entry *e = add(out, i, PT_MOUNT);
			size_t n = strlen(src);
			if (n > 1 && src[n - 1] == '/')
				src[n - 1] = '\0';
			e->path = xstrdup(host ? host : src);
			e->dir = dir;
			e->via_hook = host != NULL;
			passes_nodes = true;
		} else if (c->format == CONF_PVE && starts(k, "dev") &&
			   isdigit((unsigned char)k[3])) {
			char *path;
			long gid = -1;
			int mode = -1;
			if (!parse_dev(v, &path, &gid, &mode))
				continue;
			if (!gpu_path(path, &dir)) {
				free(path);
				continue;
			}
			struct pt_entry *e = add(out, i, PT_DEV);
			e->path = path;
			e->dev_index = atoi(k + 3);
			e->gid = gid;
			e->mode = mode;
			passes_nodes = true;
		} else if (strcmp(k, "lxc.environment") == 0 ||
			   strcmp(k, "lxc.environment.runtime") == 0) {
			if (starts(v, DEVICES_VAR)) {
				struct pt_entry *e = add_env(out, i, v, DEVICES_VAR);
				record_devices(out, e->path);
			} else if (starts(v, RULES_VAR)) {
				add_env(out, i, v, RULES_VAR);
			} else if (starts(v, GIDS_VAR)) {
				add_env(out, i, v, GIDS_VAR);
				sscanf(v + strlen(GIDS_VAR), "render:%ld,video:%ld",
				       &out->render_gid, &out->video_gid);
			} else if (starts(v, "NVIDIA_VISIBLE_DEVICES=") ||
				   starts(v, "NVIDIA_DRIVER_CAPABILITIES=")) {
				add(out, i, PT_OTHER)->path = xstrdup(v);
			}
		} else if (starts(k, "lxc.hook.")) {
			if (strstr(v, "lxgpu"))
				add(out, i, PT_HOOK)->path = xstrdup(v);
			else if (strstr(v, "hooks/nvidia") || strstr(v, "nvidia-modprobe"))
				add(out, i, PT_OTHER)->path = xstrdup(v);
		}
	}
	/* A rule for a major nobody registered is a GPU leftover only next to
	 * hand-made GPU lines (the guide's): lxgpu's own lines never need one,
	 * and another device's driver may simply not be loaded yet. */
	bool leftovers = passes_nodes && out->nrecorded == 0;
	for (size_t i = 0; i < out->n;) {
		if (out->entries[i].kind == PT_RULE && out->entries[i].dead && !leftovers &&
		    !out->entries[i].recorded) {
			memmove(&out->entries[i], &out->entries[i + 1],
				(out->n - i - 1) * sizeof(*out->entries));
			out->n--;
		} else {
			i++;
		}
	}
}

void pt_free(struct pt_config *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].path);
	for (size_t i = 0; i < p->nrecorded; i++)
		free(p->recorded[i]);
	free(p->entries);
	free(p->recorded);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

bool pt_concerns(const struct pt_entry *e, const struct lxgpu_node *node)
{
	switch (e->kind) {
	case PT_RULE:
		return node->type == 'c' && e->type == 'c' && e->major == (int)node->major &&
		       (e->minor < 0 || e->minor == (int)node->minor);
	case PT_MOUNT:
	case PT_DEV:
		if (strcmp(e->path, node->path) == 0)
			return true;
		size_t n = strlen(e->path);
		return e->dir && strncmp(node->path, e->path, n) == 0 && node->path[n] == '/';
	default:
		return false;
	}
}

void pt_used_dev_indices(const struct conf *c, bool used[256])
{
	size_t pending_end = c->pending;
	if (c->pending < c->nlines)
		for (pending_end = c->pending + 1; pending_end < c->nlines; pending_end++)
			if (c->lines[pending_end].kind == CONF_SECTION)
				break;
	memset(used, 0, 256 * sizeof(bool));
	for (size_t i = 0; i < c->nlines; i++) {
		const struct conf_line *l = &c->lines[i];
		bool pending = i > c->pending && i < pending_end;
		if ((i >= c->main_end && !pending) || l->kind != CONF_KEY)
			continue;
		if (starts(l->key, "dev") && isdigit((unsigned char)l->key[3])) {
			int n = atoi(l->key + 3);
			if (n >= 0 && n < 256)
				used[n] = true;
		} else if (pending && strcmp(l->key, "delete") == 0) {
			/* "delete: dev0,timezone"; ',' ';' or ' ' separate, '!' forces */
			_cleanup_free_ char *copy = xstrdup(l->value);
			char *save = NULL;
			for (char *t = strtok_r(copy, ",; ", &save); t;
			     t = strtok_r(NULL, ",; ", &save)) {
				if (*t == '!')
					t++;
				if (starts(t, "dev") && isdigit((unsigned char)t[3])) {
					int n = atoi(t + 3);
					if (n >= 0 && n < 256)
						used[n] = true;
				}
			}
		}
	}
}

const char *pt_gpu_id(const struct lxgpu_gpu *g)
{
	return g->uuid ? g->uuid : g->pci;
}

const char *pt_kind_name(enum pt_kind k)
{
	static const char *const names[] = {
		[PT_RULE] = "rule",  [PT_MOUNT] = "mount", [PT_DEV] = "dev",
		[PT_ENV] = "record", [PT_HOOK] = "hook",   [PT_OTHER] = "other tool"
	};
	return names[k];
}

const struct lxgpu_gpu *pt_find_gpu(const struct lxgpu_inventory *inv, const char *recorded)
{
	char pci[32], id[64];
	/* "GPU-…/2/0" records one MIG instance of the GPU */
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(recorded, "/"), recorded);
	bool is_pci = pci_addr_parse(id, strlen(id), pci);
	for (size_t g = 0; g < inv->ngpus; g++)
		if ((inv->gpus[g].uuid && strcasecmp(inv->gpus[g].uuid, id) == 0) ||
		    (is_pci && strcmp(inv->gpus[g].pci, pci) == 0))
			return &inv->gpus[g];
	return NULL;
}

static const struct lxgpu_node *node_at(const struct lxgpu_inventory *inv, const char *path)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (strcmp(inv->nodes[i].path, path) == 0)
			return &inv->nodes[i];
	return NULL;
}

static bool rule_allows(const struct pt_config *pt, const struct lxgpu_node *n)
{
	for (size_t i = 0; i < pt->n; i++)
		if (pt->entries[i].kind == PT_RULE && !pt->entries[i].legacy &&
		    pt_concerns(&pt->entries[i], n))
			return true;
	return false;
}

static bool group_only(const struct lxgpu_node *n)
{
	return (((n->mode >> 3) & 7) & ~(n->mode & 7)) != 0;
}

enum pt_status pt_judge(const struct pt_config *pt, size_t i, const struct lxgpu_inventory *inv,
			int rootfd, bool privileged, char *msg, size_t size)
{
	const struct pt_entry *e = &pt->entries[i];
	const struct lxgpu_node *n;
	struct stat st;
	struct lxgpu_err err = { 0 };

	switch (e->kind) {
	case PT_RULE:
		if (e->legacy) {
			snprintf(msg, size,
				 "a cgroup v1 key: ignored on cgroup v2 hosts (Proxmox VE 8); "
				 "use lxc.cgroup2.devices.allow");
			return PT_BAD;
		}
		if (e->dead) {
			snprintf(msg, size,
				 "major %d is registered by no driver: a leftover of another "
				 "kernel or driver",
				 e->major);
			return PT_BAD;
		}
		for (size_t k = 0; k < inv->nnodes; k++)
			if (pt_concerns(e, &inv->nodes[k])) {
				if (e->minor < 0)
					snprintf(msg, size,
						 "allows every minor of major %d (%s...): "
						 "every GPU of that driver",
						 e->major, inv->nodes[k].path);
				else
					snprintf(msg, size, "allows %s", inv->nodes[k].path);
				return e->minor < 0 ? PT_WARN : PT_OK;
			}
		snprintf(msg, size, "allows %c %d:%d, which no node on this host has", e->type,
			 e->major, e->minor);
		return PT_WARN;
	case PT_MOUNT:
	case PT_DEV:
		if (e->dir) {
			if (strcmp(e->path, "/dev/nvidia-caps") == 0)
				snprintf(msg, size,
					 "passes every NVIDIA capability node: the MIG "
					 "instances of every GPU");
			else
				snprintf(msg, size,
					 "passes every node under %s: every GPU's, "
					 "whatever numbers they get at the next boot",
					 e->path);
			return PT_WARN;
		}
		n = node_at(inv, e->path);
		if (!n) {
			if (fs_lstat_in(rootfd, e->path, &st, &err) < 0) {
				snprintf(msg, size, "%s does not exist on this host: %s", e->path,
					 e->kind == PT_DEV
						 ? "Proxmox refuses to start the container"
						 : "the optional mount skips it");
				return PT_BAD;
			}
			snprintf(msg, size, "passes %s", e->path);
			return PT_OK;
		}
		if (n->type != 'c') {
			snprintf(msg, size, "%s is not a device node on this host", e->path);
			return PT_BAD;
		}
		if (e->kind == PT_MOUNT && privileged && !rule_allows(pt, n)) {
			snprintf(msg, size,
				 "no lxc.cgroup2.devices.allow line allows %s (%u:%u): opening "
				 "it gives EPERM",
				 e->path, n->major, n->minor);
			return PT_BAD;
		}
		if (e->via_hook) {
			bool hook = false;
			for (size_t k = 0; k < pt->n; k++)
				hook |= pt->entries[k].kind == PT_HOOK &&
					strstr(pt->entries[k].path, " hook");
			if (!hook) {
				snprintf(msg, size,
					 "passes %s from lxgpu's hook directory, but no "
					 "lxc.hook.pre-start line runs lxgpu's hook to make it",
					 e->path);
				return PT_BAD;
			}
			snprintf(msg, size,
				 "passes %s (%u:%u), made at every start by lxgpu's hook, owned "
				 "by the container's group",
				 e->path, n->major, n->minor);
			return PT_OK;
		}
		if (!privileged && group_only(n) && (e->kind == PT_MOUNT || e->gid < 0)) {
			snprintf(msg, size,
				 "%s is %04o for group %u: in this unprivileged container %s",
				 e->path, n->mode, n->gid,
				 e->kind == PT_MOUNT
					 ? "it shows as nobody:nogroup and no one can open it"
					 : "it needs gid= (the container's group)");
			return PT_BAD;
		}
		snprintf(msg, size, "passes %s (%u:%u)", e->path, n->major, n->minor);
		return PT_OK;
	case PT_ENV:
		if (e->var && strcmp(e->var, RULES_VAR) == 0) {
			snprintf(msg, size, "records the device rules lxgpu wrote");
			return PT_OK;
		}
		if (e->var && strcmp(e->var, GIDS_VAR) == 0) {
			snprintf(msg, size,
				 "records the container's render and video groups, for the "
				 "hook's nodes");
			return PT_OK;
		}
		for (size_t r = 0; r < pt->nrecorded; r++)
			if (!pt_find_gpu(inv, pt->recorded[r])) {
				snprintf(msg, size, "GPU %s is not on this host", pt->recorded[r]);
				return PT_BAD;
			}
		snprintf(msg, size, "records the GPUs lxgpu attached");
		return PT_OK;
	case PT_HOOK:
		snprintf(msg, size, "lxgpu's start hook");
		return PT_OK;
	case PT_OTHER:
		break;
	}
	snprintf(msg, size, "another tool's GPU line (left alone)");
	return PT_OK;
}
