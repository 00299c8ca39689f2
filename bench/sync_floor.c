/* sync-floor ROOT: the least `lxgpu sync --all` can do when every Proxmox
 * config beneath ROOT changes, as docs/ownership.md and apply.h require it:
 * for each /etc/pve/lxc/<vmid>.conf, pct's lock (/run/lock/lxc/
 * pve-config-<vmid>.lock, made and flock'ed), the config read, the undo file
 * (before and after, one writev), and the new config through a temp file, an
 * fsync and a rename; then one fsync of the directory. It writes each config
 * back as it was, with no parsing, planning or output, so that bench/run.sh
 * can say how much of sync's time the writes alone take. Exit 1 when any
 * step fails. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static char text[65536];

static int dir_at(int rootfd, const char *path)
{
	char sub[256];
	/* made one level at a time, as lxgpu makes its state directories */
	for (const char *p = path; (p = strchr(p, '/')); p++) {
		snprintf(sub, sizeof(sub), "%.*s", (int)(p - path), path);
		mkdirat(rootfd, sub, 0755);
	}
	mkdirat(rootfd, path, 0700);
	return openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int rewrite(int conf, int lock, int state, const char *name)
{
	char path[300];
	size_t id_len = strlen(name) - strlen(".conf");
	snprintf(path, sizeof(path), "pve-config-%.*s.lock", (int)id_len, name);
	int lk = openat(lock, path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lk < 0 || flock(lk, LOCK_EX | LOCK_NB) < 0)
		return -1;
	int fd = openat(conf, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t len = fd < 0 ? -1 : read(fd, text, sizeof(text));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "pve-%.*s.undo", (int)id_len, name);
	int undo =
		len < 0 ? -1 : openat(state, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct iovec iov[2] = { { text, (size_t)len }, { text, (size_t)len } };
	bool ok = undo >= 0 && writev(undo, iov, 2) == 2 * len;
	if (undo >= 0)
		close(undo);
	snprintf(path, sizeof(path), "%s.floor-tmp", name);
	int tmp =
		ok ? openat(conf, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640)
		   : -1;
	ok = tmp >= 0 && write(tmp, text, (size_t)len) == len && fsync(tmp) == 0;
	if (tmp >= 0)
		ok = close(tmp) == 0 && ok;
	ok = ok && renameat(conf, path, conf, name) == 0;
	close(lk);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sync-floor ROOT\n");
		return 2;
	}
	int rootfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int conf =
		rootfd < 0 ? -1 : openat(rootfd, "etc/pve/lxc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int lock = rootfd < 0 ? -1 : dir_at(rootfd, "run/lock/lxc");
	int state = rootfd < 0 ? -1 : dir_at(rootfd, "var/lib/lxgpu/backup");
	DIR *d = conf < 0 ? NULL : fdopendir(dup(conf));
	if (!d || lock < 0 || state < 0) {
		fprintf(stderr,
			"sync-floor: %s: no etc/pve/lxc, or cannot make the lock and state "
			"directories\n",
			argv[1]);
		return 1;
	}
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (rewrite(conf, lock, state, de->d_name) < 0) {
			fprintf(stderr, "sync-floor: %s: rewriting it failed\n", de->d_name);
			return 1;
		}
		n++;
	}
	closedir(d);
	if (fsync(conf) < 0) {
		perror("sync-floor: fsync etc/pve/lxc");
		return 1;
	}
	printf("%zu\n", n);
	return 0;
}
