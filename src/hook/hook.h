/* hook: what LXC runs at container start, `lxgpu hook`:
 * - from lxc.hook.mount: binds the host's current user-space driver into the
 *   container, so that it is the kernel module's exact version at every start;
 * - from lxc.hook.pre-start: makes the nodes an unprivileged container gets
 *   with its own group (hook/start.c), and with --guard checks the container
 *   against the host of the node it starts on: refuses a start that would
 *   fail, repairs missing NVIDIA nodes;
 * - from lxc.hook.start-host, for a model=, any or map: selection: gives the
 *   container this node's GPU's rules and nodes for this start
 *   (hook/starthost.c).
 *
 * MUST rules (tests/cli/driver.sh, hook.sh, unpriv.sh and tests/lxc/ check them):
 * - check how it was called before doing anything: section "lxc", type
 *   "mount" with LXC_ROOTFS_MOUNT an absolute directory, or "pre-start" with
 *   LXC_CONFIG_FILE an absolute path;
 * - reach the container's files only through the fd of LXC_ROOTFS_MOUNT,
 *   never following a symlink of the container's on the way to a write;
 * - bounded work: one read of /proc/driver/nvidia/version and of the host's
 *   ld.so.cache, then a fixed set of files, a bind and a few links each; at
 *   pre-start one read of the config and one inventory of the host;
 * - write on the host only NVIDIA's nodes (--guard) and, under /run/lxgpu/NAME,
 *   a tmpfs of the container's nodes;
 * - idempotent: a restart does it again in LXC's fresh mount namespace;
 * - never fail a start for what the container's root may not do: the mount
 *   hook runs as that root (LXC's child, in the container's user namespace),
 *   and where it cannot make the files to bind onto (directories of the
 *   host's root) it binds nothing and says so (hook_result.skipped);
 * - run no shell and nothing from the container; one line on stderr on error. */
#ifndef LXGPU_HOOK_H
#define LXGPU_HOOK_H

#include <stddef.h>

#include "util/err.h"

#include <stdbool.h>

enum hook_type { HOOK_MOUNT, HOOK_PRE_START, HOOK_POST_STOP, HOOK_START_HOST };

struct hook_call {
	const char *name, *section, *type; /* hook version 0: argv; version 1: LXC_HOOK_* */
	enum hook_type kind;
	const char *rootfs; /* mount: LXC_ROOTFS_MOUNT; pre-start: LXC_ROOTFS_PATH, may be NULL */
	const char *config; /* pre-start, start-host: LXC_CONFIG_FILE, host view */
	const char *pid;    /* start-host: LXC_PID, the container's init */
	bool guard;         /* --guard */
	bool real_host;     /* no --sysroot: modprobe may run */
};

struct hook_result {
	size_t files;      /* mount: driver files bound */
	char skipped[640]; /* mount: why nothing was bound and the start goes on; "" */
	size_t nodes;      /* pre-start: nodes made for the container */
	size_t host_nodes; /* pre-start, --guard: NVIDIA nodes made or repaired on the host */
};

/* Fills `call` from the arguments LXC passed and its environment. */
int hook_parse(int nargs, char **args, struct hook_call *call, struct lxgpu_err *err);
/* Runs the hook. */
int hook_run(int hostroot, const struct hook_call *call, struct hook_result *res,
	     struct lxgpu_err *err);
/* The pre-start work (hook/start.c). */
int hook_pre_start(int hostroot, const struct hook_call *call, struct hook_result *res,
		   struct lxgpu_err *err);
/* post-stop: the tmpfs pre-start mounted for the container's nodes goes. */
int hook_post_stop(int hostroot, const struct hook_call *call, struct lxgpu_err *err);
/* start-host: a node-independent selection's rules and nodes on this node
 * (hook/starthost.c). */
int hook_start_host(int hostroot, const struct hook_call *call, struct hook_result *res,
		    struct lxgpu_err *err);
/* The plan of a config whose record is node-independent (*floating), on this
 * node's inventory with the cluster's mappings; nothing when it is not. */
struct conf;
struct lxgpu_inventory;
struct lxgpu_plan;
int hook_resolve(int hostroot, const char *name, const struct conf *c,
		 const struct lxgpu_inventory *inv, struct lxgpu_plan *plan, bool *floating,
		 struct lxgpu_err *err);

#endif
