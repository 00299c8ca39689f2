/* model: the oracle of the property tests. It reads a container config the
 * way Proxmox and LXC read it, and says what the container may open, which
 * nodes it gets where, and which lines docs/ownership.md makes lxgpu's. It
 * shares no code with lxgpu (src/): a bug there is not a bug here.
 * Sources: pve-container's LXC/Config.pm and LXC.pm (grammar, devN, unprivileged
 * defaults), LXC's cgroups/cgfsng.c + cgroup2_devices.c (rule parsing, the
 * device list, "a" and the empty list), config/templates/common.conf.in and
 * userns.conf.in, pve-container's update_lxc_config and lxc-pve-userns.conf. */
#ifndef PROP_MODEL_H
#define PROP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "host.h"

/* == config lines (model_parse.c) */

enum model_format { MODEL_PVE, MODEL_LXC };

enum model_kind {
	MODEL_BLANK,
	MODEL_COMMENT, /* Proxmox: description text; LXC: a comment or a non-lxc. line */
	MODEL_SECTION, /* Proxmox: [pve:pending] or [snapshot] */
	MODEL_KEY,
	MODEL_UNPARSED, /* Proxmox drops it with a warning; LXC refuses it */
};

struct model_line {
	size_t off, len; /* its bytes in the text, without "\n" */
	bool eol;
	enum model_kind kind;
	char *key, *value; /* MODEL_KEY: as the parser reads them (trimmed) */
};

struct model_config {
	enum model_format format;
	const char *text; /* not owned */
	size_t len;
	struct model_line *lines;
	size_t nlines;
	size_t main_end;     /* the first section header, or nlines */
	size_t main_end_off; /* its offset in text, or len */
};

void model_parse(const char *text, size_t len, enum model_format format, struct model_config *out);
void model_free(struct model_config *c);
/* Whether main-section line i is a key line with this key. */
bool model_key_is(const struct model_config *c, size_t i, const char *key);
/* Whether the container runs unprivileged (unprivileged: 1, or any lxc.idmap). */
bool model_unprivileged(const struct model_config *c);

/* == what the container may open (model_rules.c) */

enum { MODEL_R = 1, MODEL_W = 2, MODEL_M = 4 };

struct model_rule {
	bool allow;
	char type;        /* 'a', 'b', 'c' */
	int major, minor; /* -1: '*' */
	char access[4];   /* as LXC keeps it: up to three of r, w, m */
	unsigned mask;    /* MODEL_R | MODEL_W | MODEL_M */
};

/* LXC's device list once every setting is applied: the kind of list and its
 * items, or no program at all (an empty list: LXC attaches none, so the
 * container may open everything). */
struct model_devices {
	enum { MODEL_ALL, MODEL_ALLOWLIST, MODEL_DENYLIST } mode;
	struct model_rule *items;
	size_t n, cap;
};

/* LXC's device_cgroup_rule_parse: false where LXC refuses the value. */
bool model_rule_parse(const char *value, bool allow, struct model_rule *out);
/* Everything the container may open: the defaults it starts from, devN, then
 * the main section's lxc.cgroup2.devices.* lines in order. */
void model_allowed(const struct model_config *c, const struct test_host *h,
		   struct model_devices *out);
bool model_allows(const struct model_devices *d, char type, unsigned major, unsigned minor,
		  unsigned access);
void model_devices_free(struct model_devices *d);

struct model_probe {
	char type;
	unsigned major, minor, access;
};
/* Whether some (type, major, minor, access) is allowed by `a` and by neither
 * b nor c (either may be NULL); the first one found goes to *where. Rules
 * are (type|a, major|*, minor|*): every number mentioned plus one that is
 * not decides it exactly. */
bool model_escapes(const struct model_devices *a, const struct model_devices *b,
		   const struct model_devices *c, struct model_probe *where);
/* "c 195:0 rw" */
void model_probe_name(const struct model_probe *p, char *buf, size_t size);

/* == lxgpu's domain, record and lines (model_owner.c) */

#define MODEL_MAX_GPUS 8

/* Some GPUs of a host. */
struct model_gpus {
	const struct test_host *host;
	bool on[MODEL_MAX_GPUS];
};

/* What lxgpu was asked: --gpu values and options. */
struct model_request {
	const char *selectors[4]; /* an index, a UUID, a PCI address or "all" */
	size_t nselectors;
	bool dev_style, wildcard, guard, prune;
	long render_gid, video_gid; /* -1: unknown */
};

/* The GPUs the selectors name on h (index in PCI order, UUID, PCI, all). */
void model_select(const struct test_host *h, const struct model_request *r, struct model_gpus *out);

/* lxgpu's record: version 1 (lxgpu 0.1) or 2 (docs/ownership.md), 0: none. */
struct model_record {
	int version;
	char ids[MODEL_MAX_GPUS][64];
	size_t nids;
	bool wildcard; /* v2 rules=wildcard */
	char *rules;   /* v1 LXGPU_RULES value, "" when absent */
	char *wrote;   /* v2 LXGPU_WROTE value, "" when absent */
};
void model_record(const struct model_config *c, struct model_record *out);
void model_record_free(struct model_record *r);
/* The recorded GPUs as they are on h now (same UUID or PCI address). */
void model_record_gpus(const struct model_record *r, const struct test_host *h,
		       struct model_gpus *out);

/* Whether line i is lxc.environment: LXGPU_... */
bool model_record_line(const struct model_config *c, size_t i);
/* Whether line i is an lxc.hook.* line that runs lxgpu. */
bool model_hook_line(const struct model_config *c, size_t i);
/* Whether the record says lxgpu wrote line i (v2: LXGPU_WROTE; v1: a rule
 * LXGPU_RULES lists, or a node line of the exact shape 0.1 wrote). */
bool model_recorded(const struct model_config *c, size_t i, const struct model_record *r);
/* Whether line i is in the domain of the GPUs (docs/ownership.md, "Domains"). */
bool model_in_domain(const struct model_config *c, size_t i, const struct model_gpus *g);
/* Whether line i is an allow rule for a character major no driver registers. */
bool model_dead_rule(const struct model_config *c, size_t i, const struct test_host *h);

/* The nodes the GPUs need (README: NVIDIA's own node, nvidiactl,
 * nvidia-uvm(-tools), nvidia-modeset; AMD and Intel their card and render
 * nodes, AMD /dev/kfd): how many, at most max. */
size_t model_gpu_nodes(const struct model_gpus *g, const struct host_node **out, size_t max);
/* The rules those nodes need, exact or with '*' minors: what a record asks. */
void model_asks(const struct model_gpus *g, bool wildcard, struct model_devices *out);

/* == what is mounted where (model_mounts.c) */

struct model_mount {
	size_t line;
	bool dev;         /* a Proxmox devN */
	char target[256]; /* in the container, normalized: "dev/nvidia0" */
	char source[256]; /* the host path ("/run/lxgpu/ID/dev/x" read as "/dev/x") */
};
/* Line i as a mount entry or devN: false when it is neither. */
bool model_mount_of(const struct model_config *c, size_t i, struct model_mount *out);
/* The main section's lxc.mount.entry lines and devN (the last line of a devN
 * key): how many (*out to free). */
size_t model_mounts(const struct model_config *c, struct model_mount **out);
/* A devN value ("/dev/x,gid=44", "path=/dev/x,deny-write=1"): its path. */
void model_dev_path(const char *value, char *path, size_t size, bool *deny_write);
/* Whether the key is dev0 ... dev255. */
bool model_dev_key(const char *key);
/* "dev/nvidia0" for "/dev/nvidia0": a node's target in the container. */
void model_target_of(const char *path, char *buf, size_t size);

/* Host character nodes bound into the container (file or directory mounts,
 * devN), as a set of "major:minor". */
struct model_nodeset {
	unsigned (*nodes)[2];
	size_t n, cap;
};
void model_bound(const struct model_config *c, const struct test_host *h,
		 struct model_nodeset *out);
void model_nodeset_add(struct model_nodeset *s, unsigned major, unsigned minor);
bool model_nodeset_has(const struct model_nodeset *s, unsigned major, unsigned minor);
void model_nodeset_free(struct model_nodeset *s);

#endif
