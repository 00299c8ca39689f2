/* guest: a container's files, read through an fd of its root (guest.h). */
#include "guest/guest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "inventory/driver_files.h"
#include "util/fs.h"
#include "util/xalloc.h"

extern char **environ;

long guest_parse_group(const char *text, size_t len, const char *group)
{
	size_t glen = strlen(group);
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		/* name:password:gid:members */
		if (n <= glen + 1 || memcmp(line, group, glen) != 0 || line[glen] != ':')
			continue;
		const char *pw_end = memchr(line + glen + 1, ':', n - glen - 1);
		if (!pw_end)
			continue;
		const char *g = pw_end + 1, *end = line + n;
		long gid = 0;
		int digits = 0;
		while (g < end && *g >= '0' && *g <= '9' && digits < 10) {
			gid = gid * 10 + (*g++ - '0');
			digits++;
		}
		if (digits > 0 && (g == end || *g == ':') && gid <= 0x7fffffffL)
			return gid;
	}
	return -1;
}

int guest_group_gid(int ctroot, const char *group, long *gid, struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = fs_read_in(ctroot, "etc/group", 4u << 20, &text, &len, err);
	if (r < 0)
		return lxgpu_wrap(err, "the container's group file");
	*gid = guest_parse_group(text, len, group);
	if (*gid < 0)
		return lxgpu_failx(err, ENOENT,
				   "the container's /etc/group has no group '%s' (create it with "
				   "groupadd -r %s, or pass --gid)",
				   group, group);
	return 0;
}

/* The init pid of a running container, asked of LXC itself. */
static long init_pid(const struct lxgpu_ct *ct)
{
	int pipefd[2];
	posix_spawn_file_actions_t fa;
	char buf[64] = "";
	pid_t pid;
	char *argv[] = { "lxc-info", "-H", "-p", "-n", ct->id, "-P", ct->lxcpath, NULL };

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	int r = posix_spawnp(&pid, "lxc-info", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -1;
	}
	ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	buf[n] = '\0';
	long v = strtol(buf, NULL, 10);
	return v > 1 ? v : -1;
}

int guest_open_root(int rootfd, bool real_host, const struct lxgpu_ct *ct, const struct conf *c,
		    struct lxgpu_err *err)
{
	/* a running container's root as it sees it, with every mount LXC made
	 * (a directory rootfs alone lacks them) */
	if (real_host && ct_running(rootfd, ct)) {
		long pid = init_pid(ct);
		if (pid > 0) {
			char path[64];
			snprintf(path, sizeof(path), "/proc/%ld/root", pid);
			/* the one magic link followed on purpose: into the container's root */
			return fs_open_root(path, err);
		}
	}
	if (c->format == CONF_LXC) {
		const char *rootfs = conf_get(c, "lxc.rootfs.path");
		if (rootfs && strncmp(rootfs, "dir:", 4) == 0)
			rootfs += 4;
		if (rootfs && rootfs[0] == '/')
			return fs_open_in(rootfd, rootfs, O_PATH | O_DIRECTORY, 0, err);
	}
	return lxgpu_failx(err, ENOENT,
			   "the root filesystem of %s %s is not reachable while it is stopped",
			   c->format == CONF_PVE ? "CT" : "container", ct->id);
}

#if defined(__aarch64__)
#define MULTIARCH "usr/lib/aarch64-linux-gnu"
#else
#define MULTIARCH "usr/lib/x86_64-linux-gnu"
#endif

const char *guest_lib_dir(int ctroot)
{
	struct stat st;
	struct lxgpu_err err = { 0 };
	if (fs_lstat_in(ctroot, "etc/debian_version", &st, &err) == 0)
		return MULTIARCH;
	return "usr/lib64";
}

int guest_dir(int ctroot, const char *rel, long uid, long gid, struct lxgpu_err *err)
{
	_cleanup_free_ char *prefix = xstrdup(rel);
	int fd = fs_open_in_nosymlinks(ctroot, rel, O_PATH | O_DIRECTORY, err);
	if (fd >= 0 || err->code != ENOENT)
		return fd;
	lxgpu_err_clear(err);
	for (char *p = prefix;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		char *slash = strrchr(prefix, '/');
		_cleanup_close_ int parent = -EBADF;
		if (slash) {
			*slash = '\0';
			parent = fs_open_in_nosymlinks(ctroot, prefix, O_PATH | O_DIRECTORY, err);
			*slash = '/';
		} else {
			parent = fs_open_in_nosymlinks(ctroot, ".", O_PATH | O_DIRECTORY, err);
		}
		if (parent < 0)
			return parent;
		const char *name = slash ? slash + 1 : prefix;
		if (mkdirat(parent, name, 0755) == 0) {
			if (uid >= 0 &&
			    fchownat(parent, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
				return lxgpu_fail(err, errno, "chown /%s in the container", prefix);
		} else if (errno != EEXIST) {
			return lxgpu_fail(err, errno, "mkdir /%s in the container", prefix);
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	return fs_open_in_nosymlinks(ctroot, rel, O_PATH | O_DIRECTORY, err);
}

/* An existing entry of the container must be a regular file to be replaced or covered. */
static int regular_or_absent(int dirfd, const char *name, const char *shown, bool *exists,
			     struct lxgpu_err *err)
{
	struct stat st;
	*exists = false;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return lxgpu_fail(err, errno, "%s in the container", shown);
	}
	*exists = true;
	if (!S_ISREG(st.st_mode))
		return lxgpu_failx(err, EINVAL,
				   "%s in the container is %s, not a regular file: refusing to "
				   "replace it",
				   shown,
				   S_ISLNK(st.st_mode)    ? "a symlink"
				   : S_ISFIFO(st.st_mode) ? "a FIFO"
				   : S_ISDIR(st.st_mode)  ? "a directory"
							  : "a special file");
	return 0;
}

int guest_placeholder(int dirfd, const char *name, long uid, long gid, const char *shown,
		      struct lxgpu_err *err)
{
	bool exists;
	int r;

	if ((r = regular_or_absent(dirfd, name, shown, &exists, err)) < 0 || exists)
		return r;
	_cleanup_close_ int fd =
		openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return lxgpu_fail(err, errno, "create %s in the container", shown);
	if (uid >= 0 && fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
		return lxgpu_fail(err, errno, "chown %s in the container", shown);
	return 0;
}

int guest_bind_file(int srcfd, int dirfd, const char *name, const char *shown,
		    struct lxgpu_err *err)
{
	char src[64], dst[64];
	int r;

	if ((r = guest_placeholder(dirfd, name, -1, -1, shown, err)) < 0)
		return r;
	_cleanup_close_ int target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return lxgpu_fail(err, errno, "%s in the container", shown);
	/* the fds, not names: nothing can swap a path under us between check and mount */
	snprintf(src, sizeof(src), "/proc/self/fd/%d", srcfd);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", target);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return lxgpu_fail(err, errno, "bind %s", shown);
	_cleanup_close_ int mounted = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (mounted < 0)
		return lxgpu_fail(err, errno, "%s in the container", shown);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", mounted);
	/* read-only, and keep any flag the host's mount has (a user namespace may not drop them) */
	struct statvfs sv;
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
	if (fstatvfs(srcfd, &sv) == 0 && (sv.f_flag & ST_NOEXEC))
		flags |= MS_NOEXEC;
	if (mount(NULL, dst, NULL, flags, NULL) < 0)
		return lxgpu_fail(err, errno, "make %s read-only", shown);
	return 0;
}

/* A temp file beside `name` for a copy that is renamed into place. */
static int temp_beside(int dirfd, const char *name, char *tmp, size_t size, const char *shown,
		       struct lxgpu_err *err)
{
	snprintf(tmp, size, ".%s.lxgpu-tmp.%ld", name, (long)getpid());
	unlinkat(dirfd, tmp, 0);
	int out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return lxgpu_fail(err, errno, "create %s in the container", shown);
	return out;
}

/* Mode, owner, fsync, rename over `name`; the temp file goes on failure. */
static int publish(int out, int dirfd, const char *tmp, const char *name, mode_t mode, long uid,
		   long gid, const char *shown, struct lxgpu_err *err)
{
	if (fchmod(out, mode) < 0 || (uid >= 0 && fchown(out, (uid_t)uid, (gid_t)gid) < 0) ||
	    fsync(out) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return lxgpu_fail(err, e, "put %s into the container%s", shown,
				  e == EBUSY ? " (bound there by a running container's hook?)"
					     : "");
	}
	return 0;
}

int guest_copy_file(int srcfd, int dirfd, const char *name, long uid, long gid, const char *shown,
		    struct progress *p, struct lxgpu_err *err)
{
	char tmp[320], src[64];
	bool exists;
	int r;

	if ((r = regular_or_absent(dirfd, name, shown, &exists, err)) < 0)
		return r;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", srcfd);
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return lxgpu_fail(err, errno, "open the host's %s", shown);
	struct stat st;
	if (fstat(in, &st) < 0)
		return lxgpu_fail(err, errno, "%s", shown);
	_cleanup_close_ int out = temp_beside(dirfd, name, tmp, sizeof(tmp), shown, err);
	if (out < 0)
		return out;
	/* in slices when someone shows the progress: a driver file is up to 100 MiB */
	size_t slice = p ? 4u << 20 : 1u << 30;
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, slice, 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[65536];
			n = read(in, buf, sizeof(buf));
			if (n > 0 && write(out, buf, (size_t)n) != n)
				n = -1;
		}
		if (n == 0)
			break;
		if (n < 0) {
			int e = errno;
			unlinkat(dirfd, tmp, 0);
			return lxgpu_fail(err, e, "copy %s into the container", shown);
		}
		progress_add(p, n);
	}
	return publish(out, dirfd, tmp, name, st.st_mode & 0755, uid, gid, shown, err);
}

int guest_write_file(int dirfd, const char *name, const char *text, size_t len, mode_t mode,
		     long uid, long gid, const char *shown, struct lxgpu_err *err)
{
	char tmp[320];
	bool exists;
	int r;

	if ((r = regular_or_absent(dirfd, name, shown, &exists, err)) < 0)
		return r;
	_cleanup_close_ int out = temp_beside(dirfd, name, tmp, sizeof(tmp), shown, err);
	if (out < 0)
		return out;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(out, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			unlinkat(dirfd, tmp, 0);
			return lxgpu_fail(err, e, "write %s in the container", shown);
		}
		done += (size_t)n;
	}
	return publish(out, dirfd, tmp, name, mode, uid, gid, shown, err);
}

int guest_symlink(int dirfd, const char *name, const char *target, long uid, long gid,
		  const char *shown, struct lxgpu_err *err)
{
	char have[512];
	struct stat st;
	ssize_t n = readlinkat(dirfd, name, have, sizeof(have) - 1);
	if (n >= 0) {
		have[n] = '\0';
		if (strcmp(have, target) == 0)
			return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode))
			return lxgpu_failx(
				err, EINVAL,
				"%s in the container is not a file or a link: refusing to "
				"replace it",
				shown);
		if (unlinkat(dirfd, name, 0) < 0)
			return lxgpu_fail(err, errno, "replace %s in the container", shown);
	}
	if (symlinkat(target, dirfd, name) < 0)
		return lxgpu_fail(err, errno, "link %s in the container", shown);
	if (uid >= 0 && fchownat(dirfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
		return lxgpu_fail(err, errno, "chown %s in the container", shown);
	return 0;
}

char *guest_driver_version(int ctroot, char **where)
{
	static const char *const dirs[] = {
		MULTIARCH,      "usr/lib64", "usr/lib", "lib64", "usr/local/nvidia/lib64",
		"usr/local/lib"
	};
	struct lxgpu_err err = { 0 };
	char target[512];

	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		lxgpu_err_clear(&err);
		_cleanup_close_ int fd =
			fs_open_in(ctroot, dirs[d], O_RDONLY | O_DIRECTORY, 0, &err);
		if (fd < 0)
			continue;
		ssize_t n = readlinkat(fd, "libnvidia-ml.so.1", target, sizeof(target) - 1);
		const char *v = NULL;
		if (n > 0) {
			target[n] = '\0';
			v = driver_version_of(fs_basename(target), "libnvidia-ml");
		}
		if (!v) {
			_cleanup_closedir_ DIR *dir =
				fs_fdopendir(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
			struct dirent *de;
			while (dir && !v && (de = readdir(dir)))
				if ((v = driver_version_of(de->d_name, "libnvidia-ml")))
					snprintf(target, sizeof(target), "%s", de->d_name);
			if (v)
				v = driver_version_of(target, "libnvidia-ml");
		}
		if (v) {
			if (where)
				*where = xasprintf("/%s", dirs[d]);
			return xstrdup(v);
		}
	}
	return NULL;
}
