/* Path-safe file access beneath a root fd; the MUST rules are in fs.h. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

/* Paths in messages are shown as the host sees them: "/proc/devices". */
static const char *shown(const char *path, char *buf, size_t size)
{
	if (path[0] == '/')
		return path;
	snprintf(buf, size, "/%s", path);
	return buf;
}

int fs_open_root(const char *path, struct lxgpu_err *err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lxgpu_fail(err, errno, "%s", path);
	return fd;
}

static int open_how_in(int rootfd, const char *path, int flags, mode_t mode,
		       unsigned long long resolve, struct lxgpu_err *err)
{
	struct open_how how = {
		.flags = (unsigned)flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = resolve,
	};
	char buf[4096];
	const char *rel = path;

	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		rel = ".";
	for (int tries = 0;; tries++) {
		int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		/* EAGAIN: a concurrent rename raced the in-root resolution. */
		if (errno == EAGAIN && tries < 16)
			continue;
		if (errno == ENOSYS)
			return lxgpu_failx(err, ENOSYS,
					   "openat2 is missing: lxgpu needs Linux 5.6 or newer");
		if (errno == ELOOP && (resolve & RESOLVE_NO_SYMLINKS))
			return lxgpu_failx(err, ELOOP, "%s: a symlink on the path, refused",
					   shown(path, buf, sizeof(buf)));
		return lxgpu_fail(err, errno, "%s", shown(path, buf, sizeof(buf)));
	}
}

int fs_open_in(int rootfd, const char *path, int flags, mode_t mode, struct lxgpu_err *err)
{
	return open_how_in(rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, err);
}

int fs_open_in_nosymlinks(int rootfd, const char *path, int flags, struct lxgpu_err *err)
{
	return open_how_in(rootfd, path, flags, 0,
			   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS, err);
}

int fs_open_child(int dirfd, const char *name, int flags, struct lxgpu_err *err)
{
	if (name[0] == '\0' || strchr(name, '/') || strcmp(name, "..") == 0)
		return lxgpu_failx(err, EINVAL, "%s: not a single path component", name);
	int fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return lxgpu_fail(err, errno, "%s", name);
	return fd;
}

/* fd's regular file (st: its stat), read from the current offset, or with
 * pread from the start (positioned: the offset stays). */
static int read_whole(int fd, const struct stat *st, bool positioned, const char *what, size_t max,
		      char **out, size_t *len, struct lxgpu_err *err)
{
	if (!S_ISREG(st->st_mode))
		return lxgpu_failx(err, EINVAL, "%s: not a regular file", what);

	/* /proc and /sys report size 0 or a page: read until EOF, whatever st_size
	 * says; a file with a size gets a buffer of its size (sync holds dozens) */
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	_cleanup_free_ char *buf = xmalloc(cap + 1);
	size_t n = 0;
	for (;;) {
		if (n == cap) {
			if (cap > max)
				return lxgpu_failx(err, EFBIG, "%s: larger than %zu bytes", what,
						   max);
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = positioned ? pread(fd, buf + n, cap - n, (off_t)n)
				       : read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return lxgpu_fail(err, errno, "%s", what);
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* a regular file that gave its whole size with room to spare is at
		 * its end (a short read of a regular file is one); /proc's size 0
		 * never matches */
		if (n == (size_t)st->st_size && n < cap)
			break;
	}
	if (n > max)
		return lxgpu_failx(err, EFBIG, "%s: larger than %zu bytes", what, max);
	buf[n] = '\0';
	*out = TAKE_PTR(buf);
	if (len)
		*len = n;
	return 0;
}

int fs_read_fd_stat(int fd, const char *what, size_t max, char **out, size_t *len, struct stat *st,
		    struct lxgpu_err *err)
{
	if (fstat(fd, st) < 0)
		return lxgpu_fail(err, errno, "%s", what);
	return read_whole(fd, st, false, what, max, out, len, err);
}

int fs_read_fd(int fd, const char *what, size_t max, char **out, size_t *len, struct lxgpu_err *err)
{
	struct stat st;
	return fs_read_fd_stat(fd, what, max, out, len, &st, err);
}

int fs_pread_whole(int fd, const struct stat *st, const char *what, size_t max, char **out,
		   size_t *len, struct lxgpu_err *err)
{
	return read_whole(fd, st, true, what, max, out, len, err);
}

int fs_read_in(int rootfd, const char *path, size_t max, char **out, size_t *len,
	       struct lxgpu_err *err)
{
	char buf[4096];
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, err);
	if (fd < 0)
		return fd;
	return fs_read_fd(fd, shown(path, buf, sizeof(buf)), max, out, len, err);
}

int fs_read_child(int dirfd, const char *name, size_t max, char **out, size_t *len,
		  struct lxgpu_err *err)
{
	_cleanup_close_ int fd = fs_open_child(dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK, err);
	if (fd < 0)
		return fd;
	return fs_read_fd(fd, name, max, out, len, err);
}

int fs_lstat_in(int rootfd, const char *path, struct stat *st, struct lxgpu_err *err)
{
	char buf[4096];
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_PATH | O_NOFOLLOW, 0, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		return lxgpu_fail(err, errno, "%s", shown(path, buf, sizeof(buf)));
	return 0;
}

int fs_readlink_child(int dirfd, const char *name, char *buf, size_t size, struct lxgpu_err *err)
{
	if (strchr(name, '/'))
		return lxgpu_failx(err, EINVAL, "%s: not a single path component", name);
	ssize_t n = readlinkat(dirfd, name, buf, size - 1);
	if (n < 0)
		return lxgpu_fail(err, errno, "%s", name);
	if ((size_t)n >= size - 1)
		return lxgpu_failx(err, ENAMETOOLONG, "%s: link target too long", name);
	buf[n] = '\0';
	return 0;
}

int fs_opendir_in(int rootfd, const char *path, void **dirp, struct lxgpu_err *err)
{
	char buf[4096];
	int fd = fs_open_in(rootfd, path, O_RDONLY | O_DIRECTORY, 0, err);
	if (fd < 0)
		return fd;
	DIR *d = fs_fdopendir(fd);
	if (!d)
		return lxgpu_fail(err, errno, "%s", shown(path, buf, sizeof(buf)));
	*dirp = d;
	return 0;
}

DIR *fs_fdopendir(int fd)
{
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

const char *fs_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int fs_mkdirs_in(int rootfd, const char *path, mode_t mode, struct lxgpu_err *err)
{
	_cleanup_free_ char *prefix = xstrdup(path);
	_cleanup_close_ int parent = fs_open_in(rootfd, "/", O_PATH | O_DIRECTORY, 0, err);
	if (parent < 0)
		return parent;
	for (char *p = prefix;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		const char *name = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
		if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
			return lxgpu_fail(err, errno, "mkdir /%s", prefix);
		closep(&parent);
		parent = fs_open_in(rootfd, prefix, O_PATH | O_DIRECTORY, 0, err);
		if (parent < 0)
			return parent;
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

bool fs_has_program(int rootfd, const char *name)
{
	static const char *const dirs[] = { "usr/bin", "usr/sbin", "usr/local/bin" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct stat st;
		struct lxgpu_err err = { 0 };
		_cleanup_free_ char *path = xasprintf("%s/%s", dirs[i], name);
		if (fs_lstat_in(rootfd, path, &st, &err) == 0)
			return true;
	}
	return false;
}
