/* passthrough: the GPU lines of a container config, recognised by content
 * (lxgpu marks nothing with comments: a '#' line is a Proxmox description),
 * and the lines lxgpu writes for a plan. Pure. */
#ifndef LXGPU_PASSTHROUGH_H
#define LXGPU_PASSTHROUGH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "inventory.h"

enum pt_kind {
	PT_RULE,  /* lxc.cgroup2.devices.allow (or the v1 key) for a GPU major */
	PT_MOUNT, /* lxc.mount.entry of a GPU node or of /dev/dri, /dev/nvidia-caps */
	PT_DEV,   /* Proxmox devN of a GPU node */
	PT_ENV,   /* lxc.environment: LXGPU_DEVICES=... (lxgpu's record) */
	PT_HOOK,  /* an lxc.hook.* line that runs lxgpu */
	PT_OTHER, /* another tool's GPU line: NVIDIA_VISIBLE_DEVICES, the LXC nvidia hook */
};

/* Where the pre-start hook makes a node for an unprivileged container, under
 * a directory of the container's name: a tmpfs of its own, bound in by
 * lxc.mount.entry (what Proxmox does for devN, proxmox-config.md §2.4). The
 * entry "/run/lxgpu/104/dev/dri/renderD128 dev/dri/renderD128 ..." passes
 * the host's /dev/dri/renderD128. */
#define PT_HOOK_NODES "/run/lxgpu"

struct pt_entry {
	size_t line; /* index into the config's lines */
	enum pt_kind kind;
	bool legacy;      /* lxc.cgroup.devices.allow: ignored on cgroup v2 hosts */
	bool dead;        /* a rule for a major no driver has registered */
	bool recorded;    /* a rule LXGPU_RULES says lxgpu wrote */
	char type;        /* rules: 'c', 'b' or 'a' */
	int major, minor; /* -1 for '*' */
	char *path;       /* mounts and devN: the host path passed; env: the value */
	bool dir;         /* a directory mount */
	bool via_hook;    /* a mount of the node lxgpu's pre-start hook makes (PT_HOOK_NODES) */
	const char *var;  /* env: "LXGPU_DEVICES=", "LXGPU_RULES=" or "LXGPU_GIDS=" */
	int dev_index;
	long gid; /* devN gid=, -1 when absent */
	int mode; /* devN mode=, -1 when absent */
};

struct pt_config {
	struct pt_entry *entries;
	size_t n, cap;
	char **recorded; /* LXGPU_DEVICES ids */
	size_t nrecorded;
	/* LXGPU_RULES: the rules lxgpu wrote ("195:0,238:*"), so that they stay
	 * its own when their major changes hands after a kernel update */
	struct pt_rule {
		int major, minor; /* minor -1 for '*' */
	} * rules;
	size_t nrules;
	long render_gid, video_gid; /* LXGPU_GIDS: the container's own, -1 when absent */
};

/* The GPU lines of the main section. Majors are the host's: inv says which
 * belong to GPU drivers, and which no driver has registered. */
void pt_scan(const struct conf *c, const struct lxgpu_inventory *inv, struct pt_config *out);
void pt_free(struct pt_config *p);

/* Whether an entry gives the container access to `node`. */
bool pt_concerns(const struct pt_entry *e, const struct lxgpu_node *node);

/* devN: the indices used in the main section, in [pve:pending] and in its
 * "delete:" list, which a new devN must not take (proxmox-config.md §7.6). */
void pt_used_dev_indices(const struct conf *c, bool used[256]);

enum pt_status { PT_OK, PT_WARN, PT_BAD };

/* Whether entry i still does what it says on this host: stale majors,
 * missing nodes, GPUs that are gone, rules missing for bind mounts. */
enum pt_status pt_judge(const struct pt_config *pt, size_t i, const struct lxgpu_inventory *inv,
			int rootfd, bool privileged, char *msg, size_t size);
const char *pt_kind_name(enum pt_kind k);
/* The GPU a recorded id (UUID or PCI address) names, or NULL. */
const struct lxgpu_gpu *pt_find_gpu(const struct lxgpu_inventory *inv, const char *id);

/* The id LXGPU_DEVICES records for a GPU: its UUID, else its PCI address. */
const char *pt_gpu_id(const struct lxgpu_gpu *g);

#endif
