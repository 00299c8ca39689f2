/* apply: config writes (MUST rules in apply.h). */
#include "apply/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "config/config.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define STATE_DIR "var/lib/lxgpu/backup"
#define TMP_TAG   ".lxgpu-tmp"

/* The temp file beside `file`: one name, not one per process, because every
 * writer of `file` holds the container's lock; a file of that name can only
 * be a killed run's, and goes without listing the directory (which, with
 * thousands of configs, made sync --all quadratic). */
static void temp_name(char *out, size_t size, const char *file)
{
	snprintf(out, size, "%s" TMP_TAG, file);
}

static void remove_stale_temp(int dirfd, const char *file)
{
	char tmp[512];
	temp_name(tmp, sizeof(tmp), file);
	unlinkat(dirfd, tmp, 0);
}

static char *backup_name(const struct lxgpu_ct *ct, const char *what)
{
	return xasprintf("%s-%s.%s", ct->format == CONF_PVE ? "pve" : "lxc", ct->id, what);
}

int apply_lock(int rootfd, const struct lxgpu_ct *ct, int timeout_ms, struct lxgpu_err *err)
{
	_cleanup_close_ int fd = -EBADF;
	char path[128];
	int r;

	if (ct->format == CONF_PVE) {
		/* pct's own lock file (PVE::LXC::Config::config_file_lock) */
		if ((r = fs_mkdirs_in(rootfd, "run/lock/lxc", 0755, err)) < 0)
			return r;
		snprintf(path, sizeof(path), "run/lock/lxc/pve-config-%s.lock", ct->id);
		fd = fs_open_in(rootfd, path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0644,
				err);
	} else {
		snprintf(path, sizeof(path), "%s", ct->dir);
		fd = fs_open_in(rootfd, ct->dir, O_RDONLY | O_DIRECTORY, 0, err);
	}
	if (fd < 0)
		return fd;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return lxgpu_fail(err, errno, "lock /%s", path);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000 +
			      (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= timeout_ms)
			return lxgpu_failx(
				err, EBUSY,
				"%s is locked by another process (pct, the web interface or "
				"another lxgpu): gave up after %d s",
				ct->path, timeout_ms / 1000);
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	/* a killed run's temp files go with the next run that holds the lock,
	 * whether or not that run writes */
	remove_stale_temp(ct->dirfd, ct->file);
	struct lxgpu_err ignored = { 0 };
	_cleanup_close_ int state =
		fs_open_in(rootfd, STATE_DIR, O_PATH | O_DIRECTORY, 0, &ignored);
	if (state >= 0) {
		_cleanup_free_ char *before = backup_name(ct, "before");
		_cleanup_free_ char *after = backup_name(ct, "after");
		remove_stale_temp(state, before);
		remove_stale_temp(state, after);
	}
	return TAKE_FD(fd);
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int apply_file(int dirfd, const char *file, const char *shown, const char *text, size_t len,
	       mode_t mode, struct lxgpu_err *err)
{
	char tmp[512];
	struct stat st;
	bool exists = false;
	int r;

	if (fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		exists = true;
		if (!S_ISREG(st.st_mode))
			return lxgpu_failx(err, EINVAL, "%s is not a regular file", shown);
		mode = st.st_mode & 07777;
	}
	temp_name(tmp, sizeof(tmp), file);
	/* Like PVE::Tools::file_set_contents: O_EXCL, and a stale name is retried. */
	_cleanup_close_ int fd = -EBADF;
	for (int tries = 0; tries < 3; tries++) {
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			break;
		unlinkat(dirfd, tmp, 0);
	}
	if (fd < 0)
		return lxgpu_fail(err, errno, "create a temporary file beside %s", shown);
	/* keep the owner too (best effort: pmxcfs has only root's) */
	if (exists)
		(void)!fchown(fd, st.st_uid, st.st_gid);
	if ((r = write_all(fd, text, len)) < 0 || fchmod(fd, mode) < 0 ||
	    (fsync(fd) < 0 && errno != EINVAL && errno != ENOSYS) || close(TAKE_FD(fd)) < 0) {
		int e = r < 0 ? -r : errno;
		unlinkat(dirfd, tmp, 0);
		/* pmxcfs answers EACCES to every write without quorum (§3.3) */
		return lxgpu_fail(err, e, "write %s%s", shown,
				  e == EACCES ? " (a Proxmox cluster without quorum?)" : "");
	}
	if (renameat(dirfd, tmp, dirfd, file) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return lxgpu_fail(err, e, "rename over %s", shown);
	}
	/* the rename lasts only once the directory is on disk (dirfd may be O_PATH) */
	_cleanup_close_ int dir = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0)
		(void)fsync(dir);
	return 0;
}

/* A Proxmox config while pmxcfs has no quorum: its directories show no write
 * bit and every write fails (cluster/cluster.h); refused before anything is
 * written, the backups too. */
static int pve_writable(int rootfd, const struct lxgpu_ct *ct, struct lxgpu_err *err)
{
	struct stat st;
	struct lxgpu_err ignored = { 0 };
	if (ct->format == CONF_PVE && fs_lstat_in(rootfd, "etc/pve/.", &st, &ignored) == 0 &&
	    (st.st_mode & 0222) == 0)
		return lxgpu_failx(
			err, EROFS,
			"/etc/pve is read-only (this node has no quorum): nothing changed");
	return 0;
}

int apply_write(int rootfd, const struct lxgpu_ct *ct, const char *old, size_t oldlen,
		const char *new_text, size_t newlen, struct lxgpu_err *err)
{
	int r;

	if ((r = pve_writable(rootfd, ct, err)) < 0)
		return r;
	if (newlen > CONF_MAX)
		return lxgpu_failx(err, EFBIG, "%s would grow past %u bytes", ct->path, CONF_MAX);
	/* an empty config is the one detach gives back where attach found one */
	if (newlen > 0 && new_text[newlen - 1] != '\n')
		return lxgpu_failx(err, EINVAL,
				   "%s: refusing to write a config without a final newline",
				   ct->path);
	if ((r = fs_mkdirs_in(rootfd, STATE_DIR, 0700, err)) < 0)
		return r;
	_cleanup_close_ int state = fs_open_in(rootfd, STATE_DIR, O_PATH | O_DIRECTORY, 0, err);
	if (state < 0)
		return state;
	_cleanup_free_ char *before = backup_name(ct, "before");
	_cleanup_free_ char *after = backup_name(ct, "after");
	/* "after" first: undo trusts a pair only when the config equals "after" */
	if ((r = apply_file(state, after, "/" STATE_DIR, new_text, newlen, 0600, err)) < 0 ||
	    (r = apply_file(state, before, "/" STATE_DIR, old, oldlen, 0600, err)) < 0)
		return r;
	return apply_file(ct->dirfd, ct->file, ct->path, new_text, newlen, 0640, err);
}

int apply_undo(int rootfd, const struct lxgpu_ct *ct, struct lxgpu_err *err)
{
	_cleanup_free_ char *before_name = backup_name(ct, "before");
	_cleanup_free_ char *after_name = backup_name(ct, "after");
	_cleanup_free_ char *before = NULL, *after = NULL, *current = NULL;
	size_t blen, alen, clen;
	int r;

	if ((r = pve_writable(rootfd, ct, err)) < 0)
		return r;
	_cleanup_close_ int state = fs_open_in(rootfd, STATE_DIR, O_PATH | O_DIRECTORY, 0, err);
	if (state < 0 || fs_read_child(state, before_name, CONF_MAX, &before, &blen, err) < 0 ||
	    fs_read_child(state, after_name, CONF_MAX, &after, &alen, err) < 0) {
		lxgpu_err_clear(err);
		return lxgpu_failx(err, ENOENT, "nothing to undo for %s: lxgpu has not changed it",
				   ct->path);
	}
	if ((r = ct_read(ct, &current, &clen, err)) < 0)
		return r;
	if (clen != alen || memcmp(current, after, alen) != 0)
		return lxgpu_failx(err, ESTALE,
				   "%s changed after lxgpu's last change: refusing to undo (the "
				   "config before it is /%s/%s)",
				   ct->path, STATE_DIR, before_name);
	if ((r = apply_file(ct->dirfd, ct->file, ct->path, before, blen, 0640, err)) < 0)
		return r;
	unlinkat(state, after_name, 0);
	unlinkat(state, before_name, 0);
	return 0;
}

void apply_log(int rootfd, const char *fmt, ...)
{
	char msg[900], line[1024], path[64];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct lxgpu_err err = { 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* RFC 3164 as glibc's syslog(3) sends it: <facility*8+severity>, LOG_USER|LOG_NOTICE. */
	int n = snprintf(line, sizeof(line), "<13>lxgpu[%ld]: %s", (long)getpid(), msg);
	_cleanup_close_ int dev = fs_open_in(rootfd, "dev", O_PATH | O_DIRECTORY, 0, &err);
	if (dev < 0)
		return;
	/* a short address whatever the sysroot's length: through our fd of /dev */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/log", dev);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	_cleanup_close_ int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return;
	(void)sendto(sock, line, n > 0 ? (size_t)n : 0, MSG_DONTWAIT | MSG_NOSIGNAL,
		     (struct sockaddr *)&addr, sizeof(addr));
}
