/* Path-safe file access beneath a root directory fd.
 *
 * MUST rules (each has a test in tests/unit/test_fs.c named after it):
 * - every multi-component path is resolved with openat2(RESOLVE_IN_ROOT |
 *   RESOLVE_NO_MAGICLINKS) from the fd of the root it belongs to (the host's
 *   root or --sysroot, or a container's rootfs): no symlink or ".." leaves it;
 * - a name read from a directory listing is opened with fs_open_child, one
 *   component, never following a symlink;
 * - reads accept regular files only, opened O_NONBLOCK, so a FIFO or a device
 *   where a file should be is refused instead of blocking or touching hardware;
 * - every fd is O_CLOEXEC.
 * There is no fallback to plain openat: without openat2 (Linux < 5.6) lxgpu
 * stops with an error rather than lose the guarantee. */
#ifndef LXGPU_FS_H
#define LXGPU_FS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/err.h"

#define FS_PROC_MAX (256u * 1024u)

int fs_open_root(const char *path, struct lxgpu_err *err);
/* `path` is read relative to rootfd, also when it starts with '/'. */
int fs_open_in(int rootfd, const char *path, int flags, mode_t mode, struct lxgpu_err *err);
int fs_open_child(int dirfd, const char *name, int flags, struct lxgpu_err *err);
/* Like fs_open_in, but no symlink may stand anywhere on the path: for the
 * directories lxgpu writes into inside a container (ELOOP when one does). */
int fs_open_in_nosymlinks(int rootfd, const char *path, int flags, struct lxgpu_err *err);

/* Reads a whole regular file into a NUL-terminated buffer; EFBIG past max. */
int fs_read_fd(int fd, const char *what, size_t max, char **out, size_t *len,
	       struct lxgpu_err *err);
/* fs_read_fd, and *st: the file's stat. */
int fs_read_fd_stat(int fd, const char *what, size_t max, char **out, size_t *len, struct stat *st,
		    struct lxgpu_err *err);
/* The file again from its start with pread (fd's offset stays), st: its
 * stat now, for its size. */
int fs_pread_whole(int fd, const struct stat *st, const char *what, size_t max, char **out,
		   size_t *len, struct lxgpu_err *err);
int fs_read_in(int rootfd, const char *path, size_t max, char **out, size_t *len,
	       struct lxgpu_err *err);
int fs_read_child(int dirfd, const char *name, size_t max, char **out, size_t *len,
		  struct lxgpu_err *err);
/* lstat of a path beneath rootfd: the last component is not followed. */
int fs_lstat_in(int rootfd, const char *path, struct stat *st, struct lxgpu_err *err);
/* Target of the symlink `name` directly in dirfd. */
int fs_readlink_child(int dirfd, const char *name, char *buf, size_t size, struct lxgpu_err *err);
/* Directory of `path` beneath rootfd as a DIR stream. */
int fs_opendir_in(int rootfd, const char *path, void **dirp, struct lxgpu_err *err);
/* Whether the root has program name where a package or an admin puts one:
 * /usr/bin, /usr/sbin, /usr/local/bin. */
bool fs_has_program(int rootfd, const char *name);
/* fdopendir(3) that owns fd: fd is closed when it fails too (NULL, errno). */
DIR *fs_fdopendir(int fd);

/* mkdir -p beneath rootfd; every prefix is resolved in the root again. */
int fs_mkdirs_in(int rootfd, const char *path, mode_t mode, struct lxgpu_err *err);

/* Last component of a path, for symlink targets such as ../drivers/nvidia. */
const char *fs_basename(const char *path);

#endif
