/* guest: files inside a container's root filesystem, always through an fd of
 * that root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (fs.h): no
 * path inside a container is trusted, a symlink to /etc stays inside it. */
#ifndef LXGPU_GUEST_H
#define LXGPU_GUEST_H

#include <stdbool.h>

#include "config.h"
#include "container.h"
#include "err.h"

/* An fd of the container's root: a plain LXC directory rootfs
 * (lxc.rootfs.path), or, on the real host, /proc/<init>/root of a running
 * container. */
int guest_open_root(int rootfd, bool real_host, const struct lxgpu_ct *ct, const struct conf *c,
		    struct lxgpu_err *err);
/* The gid of `group` in the container's /etc/group. */
int guest_group_gid(int ctroot, const char *group, long *gid, struct lxgpu_err *err);
/* Parses /etc/group text: pure, fuzzed. -1 when the group is not there. */
long guest_parse_group(const char *text, size_t len, const char *group);

#endif
