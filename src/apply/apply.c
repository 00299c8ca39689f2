/* apply: config writes (MUST rules in apply.h). */
#include "apply/apply.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

/* The directories a run writes into, made and opened once: sync --all
 * writes thousands of configs beneath one root (O_PATH fds, kept open until
 * the process ends; a new root starts over). Under a mutex, as the batch
 * below: sync's worker threads lock and write configs side by side. */
static struct {
	int rootfd;
	int state, lock;
} dirs = { -1, -1, -1 };
static pthread_mutex_t dirs_mutex = PTHREAD_MUTEX_INITIALIZER;

static int run_dir_locked(int rootfd, const char *path, mode_t mode, int *slot,
			  struct lxgpu_err *err)
{
	int r;
	if (dirs.rootfd != rootfd) {
		if (dirs.state >= 0)
			close(dirs.state);
		if (dirs.lock >= 0)
			close(dirs.lock);
		dirs.rootfd = rootfd;
		dirs.state = dirs.lock = -1;
	}
	if (*slot >= 0)
		return *slot;
	struct lxgpu_err ignored = { 0 };
	int fd = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, &ignored);
	if (fd < 0) {
		if ((r = fs_mkdirs_in(rootfd, path, mode, err)) < 0)
			return r;
		if ((fd = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, err)) < 0)
			return fd;
	}
	return *slot = fd;
}

static int run_dir(int rootfd, const char *path, mode_t mode, int *slot, struct lxgpu_err *err)
{
	pthread_mutex_lock(&dirs_mutex);
	int fd = run_dir_locked(rootfd, path, mode, slot, err);
	pthread_mutex_unlock(&dirs_mutex);
	return fd;
}

/* apply_batch: the directories whose renames wait for one fsync each. */
#define BATCH_DIRS 16
static pthread_mutex_t batch_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool on;
	size_t n;
	char *dir[BATCH_DIRS];
	int fd[BATCH_DIRS];
} batch;

static char *backup_name(const struct lxgpu_ct *ct, const char *what)
{
	return xasprintf("%s-%s.%s", ct->format == CONF_PVE ? "pve" : "lxc", ct->id, what);
}

/* The undo file: "lxgpu-undo 2 <before bytes> <after bytes> <hash>\n",
 * then the config before lxgpu's last change and after it, and a hash of
 * both: a file torn by a crash is refused, never restored. Version 1, what
 * lxgpu wrote before, hashed with FNV-1a 64 a byte at a time; version 2
 * takes 8 bytes a step (undo_words): the byte-wise hash was about 4% of
 * sync --all's writes. Both are read. */
#define UNDO_MAGIC    "lxgpu-undo 2 "
#define UNDO_MAGIC_V1 "lxgpu-undo 1 "
#define FNV_OFFSET    0xcbf29ce484222325ull
#define FNV_PRIME     0x100000001b3ull

static uint64_t fnv1a(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
	return h;
}

/* FNV-1a's step over little-endian 64-bit words, folding the high half
 * down after each (a product carries a bit only upward); the last bytes
 * a byte at a time. */
static uint64_t undo_words(uint64_t h, const char *s, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ le64toh(w)) * FNV_PRIME;
		h ^= h >> 32;
	}
	return fnv1a(h, s + i, len - i);
}

static uint64_t undo_hash(int version, const char *before, size_t blen, const char *after,
			  size_t alen)
{
	if (version == 1)
		return fnv1a(fnv1a(FNV_OFFSET, before, blen), after, alen);
	return undo_words(undo_words(FNV_OFFSET, before, blen), after, alen);
}

/* The file, written in place in one writev: it need not outlive a crash
 * (undo refuses a torn one, and the config is no "after" then anyway). */
static int write_undo(int state, const char *name, const char *before, size_t blen,
		      const char *after, size_t alen, struct lxgpu_err *err)
{
	char head[96];
	int n = snprintf(head, sizeof(head), UNDO_MAGIC "%zu %zu %016llx\n", blen, alen,
			 (unsigned long long)undo_hash(2, before, blen, after, alen));
	struct iovec iov[3] = { { head, (size_t)n },
				{ (void *)before, blen },
				{ (void *)after, alen } };
	size_t total = (size_t)n + blen + alen;
	_cleanup_close_ int fd =
		openat(state, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lxgpu_fail(err, errno, "/" STATE_DIR "/%s", name);
	ssize_t w = writev(fd, iov, 3);
	if (w >= 0 && (size_t)w < total) {
		/* short: the rest, plainly */
		size_t done = (size_t)w;
		for (int i = 0; i < 3; i++) {
			if (done >= iov[i].iov_len) {
				done -= iov[i].iov_len;
				continue;
			}
			const char *p = (const char *)iov[i].iov_base + done;
			size_t left = iov[i].iov_len - done;
			done = 0;
			while (left > 0) {
				ssize_t k = write(fd, p, left);
				if (k < 0 && errno == EINTR)
					continue;
				if (k < 0)
					return lxgpu_fail(err, errno, "write /" STATE_DIR "/%s",
							  name);
				p += k;
				left -= (size_t)k;
			}
		}
	} else if (w < 0) {
		return lxgpu_fail(err, errno, "write /" STATE_DIR "/%s", name);
	}
	return 0;
}

/* The undo file's two configs, pointing into text; false when it is not one
 * whole undo file. */
static bool parse_undo(const char *text, size_t len, const char **before, size_t *blen,
		       const char **after, size_t *alen)
{
	size_t m = strlen(UNDO_MAGIC);
	const char *nl = memchr(text, '\n', len < 96 ? len : 96);
	unsigned long long b, a, hash;
	char tail;
	if (!nl || len < m)
		return false;
	int version = memcmp(text, UNDO_MAGIC, m) == 0      ? 2
		      : memcmp(text, UNDO_MAGIC_V1, m) == 0 ? 1
							    : 0;
	if (version == 0)
		return false;
	_cleanup_free_ char *head = xstrndup(text + m, (size_t)(nl - text) - m);
	if (sscanf(head, "%llu %llu %llx%c", &b, &a, &hash, &tail) != 3)
		return false;
	size_t body = len - (size_t)(nl + 1 - text);
	if (b > CONF_MAX || a > CONF_MAX || b + a != body)
		return false;
	*before = nl + 1;
	*blen = b;
	*after = nl + 1 + b;
	*alen = a;
	return undo_hash(version, *before, b, *after, a) == hash;
}

void apply_drop_temp(const struct lxgpu_ct *ct)
{
	remove_stale_temp(ct->dirfd, ct->file);
}

int apply_lock(int rootfd, const struct lxgpu_ct *ct, int timeout_ms, struct lxgpu_err *err)
{
	_cleanup_close_ int fd = -EBADF;
	char path[128];

	if (ct->format == CONF_PVE) {
		/* pct's own lock file (PVE::LXC::Config::config_file_lock) */
		int lockdir = run_dir(rootfd, "run/lock/lxc", 0755, &dirs.lock, err);
		if (lockdir < 0)
			return lockdir;
		snprintf(path, sizeof(path), "run/lock/lxc/pve-config-%s.lock", ct->id);
		fd = openat(lockdir, path + strlen("run/lock/lxc/"),
			    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return lxgpu_fail(err, errno, "/%s", path);
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
	 * whether or not that run writes; in a batch, with its write (replace_file
	 * retries the name) or apply_drop_temp: one unlink less a config */
	if (!batch.on)
		remove_stale_temp(ct->dirfd, ct->file);
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

/* The process's umask and ids, asked once (apply_batch_begin asks before
 * sync's workers start: umask can only be read by setting it). */
static struct {
	pthread_once_t once;
	mode_t umask;
	uid_t uid;
	gid_t gid;
} process = { .once = PTHREAD_ONCE_INIT };

static void process_read(void)
{
	process.umask = umask(0);
	umask(process.umask);
	process.uid = geteuid();
	process.gid = getegid();
}

/* A new file has its mode unless the umask takes bits (then fchmod puts
 * them back). */
static mode_t process_umask(void)
{
	pthread_once(&process.once, process_read);
	return process.umask;
}

/* Whether a file this process creates in a directory (dir: its stat, NULL
 * when not known) gets the owner st has already: no fchown needed then. */
static bool owner_as_created(const struct stat *st, const struct stat *dir)
{
	if (!dir || (dir->st_mode & S_ISGID))
		return false; /* a setgid directory gives its own group */
	pthread_once(&process.once, process_read);
	return st->st_uid == process.uid && st->st_gid == process.gid;
}

/* Writes `file` in dirfd through a temp file, on disk before the rename, and
 * the rename; `mode` for new files. sync_dir: the directory on disk too
 * before it returns; without (a batch syncs it later), the name is the old
 * file or the new one, whole, whenever it stops. dir_stat: dirfd's stat,
 * file_stat: the file's, when the caller has them. */
static int replace_file(int dirfd, const char *file, const char *shown, const char *text,
			size_t len, mode_t mode, bool sync_dir, const struct stat *dir_stat,
			const struct stat *file_stat, struct lxgpu_err *err)
{
	char tmp[512];
	struct stat st;
	int r;

	if (!file_stat && fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0)
		file_stat = &st;
	if (file_stat) {
		if (!S_ISREG(file_stat->st_mode))
			return lxgpu_failx(err, EINVAL, "%s is not a regular file", shown);
		mode = file_stat->st_mode & 07777;
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
	if (file_stat && !owner_as_created(file_stat, dir_stat))
		(void)!fchown(fd, file_stat->st_uid, file_stat->st_gid);
	if ((r = write_all(fd, text, len)) < 0 ||
	    ((mode & process_umask()) && fchmod(fd, mode) < 0) ||
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
	if (sync_dir) {
		_cleanup_close_ int dir = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir >= 0)
			(void)fsync(dir);
	}
	return 0;
}

/* A Proxmox config while pmxcfs has no quorum: its directories show no write
 * bit and every write fails (cluster/cluster.h); refused before anything is
 * written, the backups too. *dir: the directory's stat, NULL when not read. */
static int pve_writable(const struct lxgpu_ct *ct, struct stat *st, const struct stat **dir,
			struct lxgpu_err *err)
{
	*dir = NULL;
	/* the config's own directory (pmxcfs shows every one 0555 then): one
	 * fstat of the fd sync holds anyway */
	if (ct->format != CONF_PVE || fstatat(ct->dirfd, "", st, AT_EMPTY_PATH) < 0)
		return 0;
	if ((st->st_mode & 0222) == 0)
		return lxgpu_failx(
			err, EROFS,
			"/etc/pve is read-only (this node has no quorum): nothing changed");
	*dir = st;
	return 0;
}

void apply_batch_begin(void)
{
	pthread_once(&process.once, process_read);
	batch.on = true;
}

void apply_batch_end(void)
{
	for (size_t i = 0; i < batch.n; i++) {
		(void)fsync(batch.fd[i]);
		close(batch.fd[i]);
		free(batch.dir[i]);
	}
	memset(&batch, 0, sizeof(batch));
}

/* The config's directory in the batch: false when there is none, or no
 * room (the caller then syncs it now). */
static bool batch_dir_locked(const struct lxgpu_ct *ct)
{
	if (!batch.on)
		return false;
	for (size_t i = 0; i < batch.n; i++)
		if (strcmp(batch.dir[i], ct->dir) == 0)
			return true;
	if (batch.n == BATCH_DIRS)
		return false;
	int fd = openat(ct->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	batch.fd[batch.n] = fd;
	batch.dir[batch.n++] = xstrdup(ct->dir);
	return true;
}

static bool batch_dir(const struct lxgpu_ct *ct)
{
	pthread_mutex_lock(&batch_mutex);
	bool in = batch_dir_locked(ct);
	pthread_mutex_unlock(&batch_mutex);
	return in;
}

int apply_file(int dirfd, const char *file, const char *shown, const char *text, size_t len,
	       mode_t mode, struct lxgpu_err *err)
{
	return replace_file(dirfd, file, shown, text, len, mode, true, NULL, NULL, err);
}

int apply_write(int rootfd, const struct lxgpu_ct *ct, const char *old, size_t oldlen,
		const char *new_text, size_t newlen, const struct stat *st, struct lxgpu_err *err)
{
	struct stat dir_st;
	const struct stat *dir;
	int r;

	if ((r = pve_writable(ct, &dir_st, &dir, err)) < 0)
		return r;
	if (newlen > CONF_MAX)
		return lxgpu_failx(err, EFBIG, "%s would grow past %u bytes", ct->path, CONF_MAX);
	/* an empty config is the one detach gives back where attach found one */
	if (newlen > 0 && new_text[newlen - 1] != '\n')
		return lxgpu_failx(err, EINVAL,
				   "%s: refusing to write a config without a final newline",
				   ct->path);
	int state = run_dir(rootfd, STATE_DIR, 0700, &dirs.state, err);
	if (state < 0)
		return state;
	/* the undo file first: undo trusts it only when the config equals its
	 * "after", so it need not outlive a crash; the config must: only its
	 * write waits for the disk */
	_cleanup_free_ char *undo = backup_name(ct, "undo");
	if ((r = write_undo(state, undo, old, oldlen, new_text, newlen, err)) < 0)
		return r;
	return replace_file(ct->dirfd, ct->file, ct->path, new_text, newlen, 0640, !batch_dir(ct),
			    dir, st, err);
}

/* The config before lxgpu's last change, when the config is still what
 * that change wrote: from the undo file, or from the .before/.after pair
 * lxgpu 0.2 and older kept. *store holds what *before points into. */
static int read_backup(int state, const struct lxgpu_ct *ct, const char *current, size_t clen,
		       char **store, const char **before, size_t *blen, struct lxgpu_err *err)
{
	_cleanup_free_ char *undo = backup_name(ct, "undo");
	_cleanup_free_ char *before_name = backup_name(ct, "before");
	_cleanup_free_ char *after_name = backup_name(ct, "after");
	_cleanup_free_ char *text = NULL, *old_before = NULL, *old_after = NULL;
	struct lxgpu_err ignored = { 0 };
	const char *after;
	size_t len, alen;
	bool found = false;

	if (fs_read_child(state, undo, 2 * CONF_MAX + 96, &text, &len, &ignored) == 0) {
		if (!parse_undo(text, len, before, blen, &after, &alen))
			return lxgpu_failx(err, EINVAL,
					   "/%s/%s is damaged (a crash while it was written?): "
					   "refusing to undo",
					   STATE_DIR, undo);
		if (alen == clen && memcmp(after, current, clen) == 0) {
			*store = TAKE_PTR(text);
			return 0;
		}
		found = true;
	}
	lxgpu_err_clear(&ignored);
	if (fs_read_child(state, before_name, CONF_MAX, &old_before, blen, &ignored) == 0 &&
	    fs_read_child(state, after_name, CONF_MAX, &old_after, &alen, &ignored) == 0) {
		if (alen == clen && memcmp(old_after, current, clen) == 0) {
			*before = old_before;
			*store = TAKE_PTR(old_before);
			return 0;
		}
		found = true;
	}
	if (!found)
		return lxgpu_failx(err, ENOENT, "nothing to undo for %s: lxgpu has not changed it",
				   ct->path);
	return lxgpu_failx(err, ESTALE,
			   "%s changed after lxgpu's last change: refusing to undo (the config "
			   "before it is kept in /%s)",
			   ct->path, STATE_DIR);
}

int apply_undo(int rootfd, const struct lxgpu_ct *ct, struct lxgpu_err *err)
{
	_cleanup_free_ char *current = NULL, *store = NULL;
	const char *before = NULL;
	size_t blen = 0, clen;
	struct stat dir_st;
	const struct stat *dir;
	int r;

	if ((r = pve_writable(ct, &dir_st, &dir, err)) < 0)
		return r;
	_cleanup_close_ int state = fs_open_in(rootfd, STATE_DIR, O_PATH | O_DIRECTORY, 0, err);
	if (state < 0) {
		lxgpu_err_clear(err);
		return lxgpu_failx(err, ENOENT, "nothing to undo for %s: lxgpu has not changed it",
				   ct->path);
	}
	if ((r = ct_read(ct, &current, &clen, err)) < 0 ||
	    (r = read_backup(state, ct, current, clen, &store, &before, &blen, err)) < 0)
		return r;
	if ((r = replace_file(ct->dirfd, ct->file, ct->path, before, blen, 0640, true, dir, NULL,
			      err)) < 0)
		return r;
	const char *const what[] = { "undo", "after", "before" };
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *name = backup_name(ct, what[i]);
		unlinkat(state, name, 0);
	}
	return 0;
}

void apply_log(int rootfd, const char *fmt, ...)
{
	/* one socket a run, bound to the root's /dev/log once (sync --all logs
	 * a line per config it changes) */
	static int sock = -1, sock_root = -1;
	char msg[900], line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* RFC 3164 as glibc's syslog(3) sends it: <facility*8+severity>, LOG_USER|LOG_NOTICE. */
	static pid_t pid;
	if (!pid)
		pid = getpid();
	int n = snprintf(line, sizeof(line), "<13>lxgpu[%ld]: %s", (long)pid, msg);
	if (sock_root != rootfd) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		struct lxgpu_err err = { 0 };
		if (sock >= 0)
			close(sock);
		sock = -1;
		sock_root = rootfd;
		_cleanup_close_ int dev = fs_open_in(rootfd, "dev", O_PATH | O_DIRECTORY, 0, &err);
		if (dev < 0)
			return;
		/* a short address whatever the sysroot's length: through our fd of /dev */
		snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/log", dev);
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			close(sock);
			sock = -1; /* no syslog listening: nothing to log to this run */
		}
	}
	if (sock >= 0)
		(void)send(sock, line, n > 0 ? (size_t)n : 0, MSG_DONTWAIT | MSG_NOSIGNAL);
}
