/* hook: what LXC runs at container start: `lxgpu hook`, from
 * lxc.hook.mount, binds the host's current user-space driver into the
 * container, so that it is the kernel module's exact version at every start.
 *
 * MUST rules (tests/cli/driver.sh and tests/lxc/driver.sh check them):
 * - check how it was called before doing anything: section "lxc", type
 *   "mount", LXC_ROOTFS_MOUNT an absolute directory;
 * - reach the container's files only through the fd of LXC_ROOTFS_MOUNT,
 *   never following a symlink of the container's on the way to a write;
 * - bounded work: one read of /proc/driver/nvidia/version and of the host's
 *   ld.so.cache, then a fixed set of files, a bind and a few links each;
 * - idempotent: a restart does it again in LXC's fresh mount namespace;
 * - run no shell and nothing from the container; one line on stderr on error. */
#ifndef LXGPU_HOOK_H
#define LXGPU_HOOK_H

#include <stddef.h>

#include "err.h"

struct hook_call {
	const char *name, *section, *type; /* hook version 0: argv; version 1: LXC_HOOK_* */
	const char *rootfs;                /* LXC_ROOTFS_MOUNT */
};

/* Fills `call` from the arguments LXC passed and its environment. */
int hook_parse(int nargs, char **args, struct hook_call *call, struct lxgpu_err *err);
/* Runs the hook; `files` counts what was bound. */
int hook_run(int hostroot, const struct hook_call *call, size_t *files, struct lxgpu_err *err);

#endif
