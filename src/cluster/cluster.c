/* cluster: /etc/pve as lxgpu uses it (see cluster.h). */
#include "cluster/cluster.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define LOCK_WAIT_MS    10000
#define LOCK_EXPIRES_S  120 /* pmxcfs: a priv/lock directory older than this expires */
#define CLUSTER_MAX_RRD (4u << 20)

bool cluster_node_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= CLUSTER_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
	return true;
}

bool cluster_present(int rootfd)
{
	struct lxgpu_err err = { 0 };
	_cleanup_close_ int fd = fs_open_in(rootfd, "etc/pve/nodes", O_PATH | O_DIRECTORY, 0, &err);
	return fd >= 0;
}

/* The node name that s begins with, up to one of `end`. */
static bool take_name(const char *s, const char *end, char name[CLUSTER_NAME_MAX])
{
	size_t n = s ? strcspn(s, end) : 0;
	if (n == 0 || n >= CLUSTER_NAME_MAX)
		return false;
	snprintf(name, CLUSTER_NAME_MAX, "%.*s", (int)n, s);
	return cluster_node_valid(name);
}

bool cluster_node_name(int rootfd, char name[CLUSTER_NAME_MAX])
{
	struct lxgpu_err err = { 0 };
	char target[512];
	_cleanup_close_ int pve = fs_open_in(rootfd, "etc/pve", O_PATH | O_DIRECTORY, 0, &err);
	static const char *const links[] = { "local", "lxc" };
	for (size_t i = 0; pve >= 0 && i < ARRAY_SIZE(links); i++) {
		lxgpu_err_clear(&err);
		/* "nodes/NAME" or "nodes/NAME/lxc" */
		const char *at = fs_readlink_child(pve, links[i], target, sizeof(target), &err) == 0
					 ? strstr(target, "nodes/")
					 : NULL;
		if (at && take_name(at + 6, "/", name))
			return true;
	}
	_cleanup_free_ char *text = NULL;
	lxgpu_err_clear(&err);
	/* its first label */
	return fs_read_in(rootfd, "etc/hostname", 4096, &text, NULL, &err) == 0 &&
	       take_name(text, ".\n \t", name);
}

bool cluster_readonly(int rootfd)
{
	struct stat st;
	struct lxgpu_err err = { 0 };
	/* pmxcfs: directories 0555 without quorum, 0755 (shown) with it; its
	 * root too */
	return fs_lstat_in(rootfd, "etc/pve/.", &st, &err) == 0 && (st.st_mode & 0222) == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t cluster_nodes(int rootfd, char ***names)
{
	struct lxgpu_err err = { 0 };
	_cleanup_closedir_ DIR *dir = NULL;
	size_t n = 0, cap = 1;
	struct dirent *de;
	struct stat st;

	*names = xcalloc(cap, sizeof(char *)); /* NULL-terminated */
	if (fs_opendir_in(rootfd, "etc/pve/nodes", (void **)&dir, &err) < 0)
		return 0;
	while ((de = readdir(dir)))
		if (cluster_node_valid(de->d_name) &&
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			xgrow(names, &cap, n + 2, sizeof(char *));
			(*names)[n++] = xstrdup(de->d_name);
			(*names)[n] = NULL;
		}
	qsort(*names, n, sizeof(char *), by_name);
	return n;
}

void cluster_names_free(char **names)
{
	for (char **p = names; p && *p; p++)
		free(*p);
	free(names);
}

static int by_vmid(const void *a, const void *b)
{
	const struct cluster_ct *x = a, *y = b;
	int c = strcmp(x->node, y->node);
	if (c)
		return c;
	if (strlen(x->vmid) != strlen(y->vmid))
		return strlen(x->vmid) < strlen(y->vmid) ? -1 : 1;
	return strcmp(x->vmid, y->vmid);
}

size_t cluster_cts(int rootfd, struct cluster_ct **out)
{
	char **nodes;
	size_t nnodes = cluster_nodes(rootfd, &nodes), n = 0, cap = 0;
	struct cluster_ct *list = NULL;

	for (size_t i = 0; i < nnodes; i++) {
		char path[128];
		struct lxgpu_err err = { 0 };
		_cleanup_closedir_ DIR *dir = NULL;
		struct dirent *de;
		snprintf(path, sizeof(path), "etc/pve/nodes/%s/lxc", nodes[i]);
		if (fs_opendir_in(rootfd, path, (void **)&dir, &err) < 0)
			continue;
		while ((de = readdir(dir))) {
			size_t len = strlen(de->d_name);
			if (len < 6 || len > 14 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
			    strspn(de->d_name, "0123456789") != len - 5 || de->d_name[0] == '0')
				continue;
			xgrow(&list, &cap, n + 1, sizeof(*list));
			list[n].node = xstrdup(nodes[i]);
			list[n++].vmid = xstrndup(de->d_name, len - 5);
		}
	}
	cluster_names_free(nodes);
	if (n > 1)
		qsort(list, n, sizeof(*list), by_vmid);
	*out = list;
	return n;
}

void cluster_cts_free(struct cluster_ct *cts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cts[i].node);
		free(cts[i].vmid);
	}
	free(cts);
}

int cluster_ct_read(int rootfd, const struct cluster_ct *ct, char **text, size_t *len,
		    struct lxgpu_err *err)
{
	char path[160];
	snprintf(path, sizeof(path), "etc/pve/nodes/%s/lxc", ct->node);
	_cleanup_close_ int dir = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, err);
	if (dir < 0)
		return dir;
	char file[32];
	snprintf(file, sizeof(file), "%s.conf", ct->vmid);
	_cleanup_close_ int fd = fs_open_child(dir, file, O_RDONLY | O_NOCTTY | O_NONBLOCK, err);
	if (fd < 0)
		return fd;
	char shown[200];
	snprintf(shown, sizeof(shown), "/%s/%s", path, file);
	return fs_read_fd(fd, shown, 1u << 20, text, len, err);
}

void cluster_boot(int rootfd, char boot_id[40], long long *btime)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *id = NULL, *stat = NULL;

	boot_id[0] = '\0';
	*btime = 0;
	if (fs_read_in(rootfd, "proc/sys/kernel/random/boot_id", 256, &id, NULL, &err) == 0) {
		size_t n = strspn(id, "0123456789abcdef-");
		if (n > 0 && n < 40) {
			memcpy(boot_id, id, n);
			boot_id[n] = '\0';
		}
	}
	lxgpu_err_clear(&err);
	if (fs_read_in(rootfd, "proc/stat", FS_PROC_MAX, &stat, NULL, &err) == 0) {
		const char *p = strstr(stat, "\nbtime ");
		if (p)
			*btime = strtoll(p + 7, NULL, 10);
	}
}

long long cluster_node_booted(int rootfd, const char *node)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *text = NULL;
	char key[CLUSTER_NAME_MAX + 16];

	if (fs_read_in(rootfd, "etc/pve/.rrd", CLUSTER_MAX_RRD, &text, NULL, &err) < 0)
		return 0;
	/* PVE 8 broadcasts pve2-node/NODE, PVE 9 pve-node-9.0/NODE: both begin
	 * UPTIME:SUBLEVEL:CTIME (pvestatd's update_node_status) */
	static const char *const prefixes[] = { "pve2-node/", "pve-node-9.0/" };
	for (size_t k = 0; k < ARRAY_SIZE(prefixes); k++) {
		int n = snprintf(key, sizeof(key), "%s%s:", prefixes[k], node);
		for (const char *line = text; line && *line; line = strchr(line, '\n')) {
			if (*line == '\n')
				line++;
			if (strncmp(line, key, (size_t)n) != 0)
				continue;
			long long uptime, when;
			char sub[64];
			if (sscanf(line + n, "%lld:%63[^:]:%lld", &uptime, sub, &when) == 3 &&
			    uptime >= 0 && when > uptime)
				return when - uptime;
		}
	}
	return 0;
}

int cluster_write(int rootfd, const char *dir, const char *file, const char *text, size_t len,
		  struct lxgpu_err *err)
{
	char path[512];
	int r;

	if (cluster_readonly(rootfd))
		return lxgpu_failx(
			err, EROFS,
			"/etc/pve is read-only (this node has no quorum): nothing written");
	snprintf(path, sizeof(path), "etc/pve/%s", dir);
	if ((r = fs_mkdirs_in(rootfd, path, 0755, err)) < 0)
		return r;
	_cleanup_close_ int dfd = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, err);
	if (dfd < 0)
		return dfd;
	char shown[600];
	snprintf(shown, sizeof(shown), "/%s/%s", path, file);
	return apply_file(dfd, file, shown, text, len, 0640, err);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void pause_10ms(void)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	nanosleep(&t, NULL);
}

int cluster_lock(int rootfd, const char *name, struct lxgpu_err *err)
{
	char path[128];
	struct timespec start;
	int r;

	if ((r = fs_mkdirs_in(rootfd, "run/lock", 0755, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "run/lock/lxgpu-%s.lock", name);
	_cleanup_close_ int fd =
		fs_open_in(rootfd, path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0644, err);
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return lxgpu_fail(err, errno, "lock /%s", path);
		if (elapsed_ms(&start) >= LOCK_WAIT_MS)
			return lxgpu_failx(err, EBUSY, "/%s is held by another lxgpu: gave up",
					   path);
		pause_10ms();
	}
	/* the cluster-wide one: a directory in pmxcfs's priv/lock */
	if ((r = fs_mkdirs_in(rootfd, "etc/pve/priv/lock", 0700, err)) < 0)
		return r;
	_cleanup_close_ int locks =
		fs_open_in(rootfd, "etc/pve/priv/lock", O_PATH | O_DIRECTORY, 0, err);
	if (locks < 0)
		return locks;
	char dir[96];
	snprintf(dir, sizeof(dir), "lxgpu-%s", name);
	while (mkdirat(locks, dir, 0700) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return lxgpu_fail(err, errno, "lock /etc/pve/priv/lock/%s", dir);
		if (fstatat(locks, dir, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    time(NULL) - st.st_mtime > LOCK_EXPIRES_S) {
			(void)unlinkat(locks, dir, AT_REMOVEDIR); /* expired */
			continue;
		}
		if (elapsed_ms(&start) >= LOCK_WAIT_MS)
			return lxgpu_failx(err, EBUSY,
					   "/etc/pve/priv/lock/%s: another node's lxgpu holds the "
					   "lock: gave up after %d s",
					   dir, LOCK_WAIT_MS / 1000);
		pause_10ms();
	}
	return TAKE_FD(fd);
}

void cluster_unlock(int rootfd, const char *name, int fd)
{
	struct lxgpu_err err = { 0 };
	char dir[128];
	snprintf(dir, sizeof(dir), "etc/pve/priv/lock/lxgpu-%s", name);
	_cleanup_close_ int locks =
		fs_open_in(rootfd, "etc/pve/priv/lock", O_PATH | O_DIRECTORY, 0, &err);
	if (locks >= 0)
		(void)unlinkat(locks, fs_basename(dir), AT_REMOVEDIR);
	if (fd >= 0)
		close(fd);
}
