/* guest: files inside a container's root filesystem, always through an fd of
 * that root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (fs.h): no
 * path inside a container is trusted, a symlink to /etc stays inside it. */
#ifndef LXGPU_GUEST_H
#define LXGPU_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"
#include "container/container.h"
#include "util/err.h"
#include "util/progress.h"

/* An fd of the container's root: a plain LXC directory rootfs
 * (lxc.rootfs.path), or, on the real host, /proc/<init>/root of a running
 * container. */
int guest_open_root(int rootfd, bool real_host, const struct lxgpu_ct *ct, const struct conf *c,
		    struct lxgpu_err *err);
/* The gid of `group` in the container's /etc/group. */
int guest_group_gid(int ctroot, const char *group, long *gid, struct lxgpu_err *err);
/* Parses /etc/group text: pure, fuzzed. -1 when the group is not there. */
long guest_parse_group(const char *text, size_t len, const char *group);

/* Where the container's dynamic linker finds libraries without a cache:
 * Debian's multiarch usr/lib/<triplet>, else usr/lib64 (libnvidia-container's
 * choice, nvc_info.c of NVIDIA/libnvidia-container). */
const char *guest_lib_dir(int ctroot);
/* A directory beneath the container's root, its missing parts made (and
 * owned by uid:gid when not -1); no symlink may stand on the path. */
int guest_dir(int ctroot, const char *rel, long uid, long gid, struct lxgpu_err *err);
/* An empty regular file dir/name to bind onto (owned by uid:gid when not
 * -1), unless a regular file is there already. */
int guest_placeholder(int dirfd, const char *name, long uid, long gid, const char *shown,
		      struct lxgpu_err *err);
/* Binds a host file (srcfd, O_PATH) read-only onto dir/name, made empty if
 * missing: only onto a regular file. */
int guest_bind_file(int srcfd, int dirfd, const char *name, const char *shown,
		    struct lxgpu_err *err);
/* Copies a host file to dir/name through a temp file and rename; its bytes
 * are added to p (NULL: not reported). */
int guest_copy_file(int srcfd, int dirfd, const char *name, long uid, long gid, const char *shown,
		    struct progress *p, struct lxgpu_err *err);
/* Writes `text` as `name` in dirfd (temp file and rename, mode and owner). */
int guest_write_file(int dirfd, const char *name, const char *text, size_t len, mode_t mode,
		     long uid, long gid, const char *shown, struct lxgpu_err *err);
/* dir/name -> target, replacing a symlink or file of that name. */
int guest_symlink(int dirfd, const char *name, const char *target, long uid, long gid,
		  const char *shown, struct lxgpu_err *err);
/* The NVIDIA user-space driver version the container has: the version in the
 * name of the file libnvidia-ml.so.1 points to (else of a libnvidia-ml.so.V
 * file) in its library directories; NULL when none. *where: the directory. */
char *guest_driver_version(int ctroot, char **where);

#endif
