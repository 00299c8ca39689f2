/* devlines: the device lines of a config's main section, read from the text
 * alone: cgroup device rules, mount entries, Proxmox devN, lxgpu's record
 * and hook lines, and other tools' GPU lines. Pure: no host facts; which of
 * them concern a GPU is the domain's business (domain.h), which are lxgpu's
 * the record's (record.h). */
#ifndef LXGPU_DEVLINES_H
#define LXGPU_DEVLINES_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum dl_kind {
	DL_RULE,   /* lxc.cgroup2.devices.allow|deny (or the cgroup v1 keys) */
	DL_MOUNT,  /* lxc.mount.entry */
	DL_DEV,    /* Proxmox devN */
	DL_RECORD, /* lxc.environment: LXGPU_...=: lxgpu's record */
	DL_HOOK,   /* an lxc.hook.* line that runs lxgpu, or lxc.include of lxgpu's
		    * start-host.conf (Proxmox) */
	DL_OTHER,  /* another tool's GPU line: NVIDIA_VISIBLE_DEVICES=, LXC's nvidia hook */
};

enum dl_record {
	DL_REC_DEVICES, /* LXGPU_DEVICES=: the selection (0.1 and v2) */
	DL_REC_REQUEST, /* LXGPU_REQUEST=: the request (v2) */
	DL_REC_WROTE,   /* LXGPU_WROTE=: what lxgpu's lines give (v2) */
	DL_REC_RULES,   /* LXGPU_RULES=: the rules lxgpu wrote (0.1) */
	DL_REC_GIDS,    /* LXGPU_GIDS=: the container's groups (0.1) */
};

/* Where lxgpu's start hook makes a node for an unprivileged container, under
 * a directory of the container's name: a tmpfs of its own, bound in by
 * lxc.mount.entry (what Proxmox does for devN). The entry
 * "/run/lxgpu/104/dev/dri/renderD128 dev/dri/renderD128 ..." passes the
 * host's /dev/dri/renderD128. */
#define DL_HOOK_NODES "/run/lxgpu"

struct dl_entry {
	size_t line; /* index into the config's lines */
	enum dl_kind kind;
	/* rules */
	bool legacy;      /* lxc.cgroup.devices.*: cgroup v1, ignored on cgroup v2 hosts */
	bool deny;        /* a .deny line */
	char type;        /* 'a', 'b' or 'c' */
	int major, minor; /* -1 for '*' */
	/* mounts and devN */
	char *path;    /* the host path passed, without a trailing '/'; a hook node:
			* the node it stands for */
	char *target;  /* where it shows in the container: "dev/nvidia0" */
	bool dir;      /* a directory mount */
	bool via_hook; /* a node lxgpu's start hook makes (DL_HOOK_NODES) */
	int dev_index; /* devN: N */
	long gid;      /* devN gid=, -1 when absent */
	int mode;      /* devN mode=, -1 when absent */
	/* records, hooks and other tools: the value ("195:0,238:1" after the
	 * record's '=') */
	enum dl_record rec;
	char *value;
};

struct dl_scan {
	struct dl_entry *entries;
	size_t n, cap;
	/* one past the last line that resets LXC's device rules (an `a` rule, or
	 * lxc.cgroup2.devices.allow/deny or lxc.cgroup2 with an empty value,
	 * which clears what came before): a rule above it does nothing; 0: none */
	size_t reset_end;
};

void dl_scan(const struct conf *c, struct dl_scan *out);
void dl_free(struct dl_scan *s);
/* Whether a config's text could give dl_scan an entry, or a reset: false only
 * when no "lxc." and no "dev" before a digit appears anywhere (every key it
 * looks at is one of those) and no NUL byte does (conf_parse refuses that
 * text: its caller should hear why). sync --all skips most configs so,
 * without parsing them. */
bool dl_text_may_scan(const char *text, size_t len);

/* "c 195:0 rwm", "b *:* m", "a": false when it is not a device rule. */
bool dl_parse_rule(const char *value, char *type, int *major, int *minor);
/* Whether rule x allows a dynamic character major that no driver registers
 * now (live: the majors /proc/devices lists): a leftover of another kernel
 * or driver, such as nvidia-uvm's old major after an update. A fixed major
 * (195 nvidia, 226 drm, 188 ttyUSB: devices.txt) never is. */
bool dl_rule_dead(const struct dl_entry *x, const unsigned *live, size_t nlive);
/* The hook key's name: "pre-start" for lxc.hook.pre-start. */
const char *dl_hook_name(const struct conf *c, const struct dl_entry *e);
/* Whether c's main section has lxgpu's lxc.hook.<name> line (a DL_HOOK of
 * that name), without a whole dl_scan. */
bool dl_has_hook(const struct conf *c, const char *name);
/* Whether a GPU driver's node could sit at this host path: /dev/nvidia*,
 * /dev/dri, /dev/kfd (for messages and 0.1 records). */
bool dl_gpu_path(const char *path);

/* A devN key as Proxmox knows one: dev0 to dev255. */
bool dl_dev_key(const char *key);
/* Two main-section lines of one devN key, whatever their values (Proxmox
 * keeps the last): their indices in *first and *second; false when none. */
bool dl_duplicate_dev(const struct conf *c, size_t *first, size_t *second);

/* devN: the indices used in the main section (by a line not `removed`: an
 * nlines array, or NULL), in [pve:pending] and in its "delete:" list, which
 * a new devN must not take (pve-container's update_pct_config). */
void dl_used_dev_indices(const struct conf *c, const bool *removed, bool used[256]);

#endif
