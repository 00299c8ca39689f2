/* container: where a container's config is and what it says (container.h). */
#include "container/container.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/dpkg.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* Proxmox VMIDs (pve-vmid in PVE::JSONSchema). */
#define VMID_MIN 100
#define VMID_MAX 999999999L

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

bool ct_arg_valid(const char *arg, const char **why)
{
	if (all_digits(arg)) {
		if (strlen(arg) > 9 || atol(arg) < VMID_MIN || arg[0] == '0') {
			*why = "a Proxmox VMID is a number from 100 to 999999999";
			return false;
		}
		return true;
	}
	/* LXC names become directory names: one path component, no dot files. */
	if (!*arg || strlen(arg) > 64 || arg[0] == '.' || arg[0] == '-') {
		*why = "not a VMID, and not a container name (1 to 64 characters, not starting "
		       "with '.' or '-')";
		return false;
	}
	for (const char *p = arg; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') {
			*why = "a container name has letters, digits, '.', '-' and '_' only";
			return false;
		}
	return true;
}

/* A VMID whose config is on another cluster node, or that is a VM. */
static int explain_missing_vmid(int rootfd, const char *vmid, struct lxgpu_err *err)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct lxgpu_err e = { 0 };
	struct dirent *de;
	struct stat st;
	char path[512];

	if (fs_opendir_in(rootfd, "etc/pve/nodes", (void **)&dir, &e) == 0)
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "etc/pve/nodes/%s/lxc/%s.conf", de->d_name,
				 vmid);
			lxgpu_err_clear(&e);
			if (fs_lstat_in(rootfd, path, &st, &e) == 0)
				return lxgpu_failx(err, EREMOTE,
						   "CT %s is on cluster node %s: run lxgpu there",
						   vmid, de->d_name);
			snprintf(path, sizeof(path), "etc/pve/nodes/%s/qemu-server/%s.conf",
				 de->d_name, vmid);
			lxgpu_err_clear(&e);
			if (fs_lstat_in(rootfd, path, &st, &e) == 0)
				return lxgpu_failx(err, EINVAL,
						   "%s is a virtual machine, not a container",
						   vmid);
		}
	return lxgpu_failx(err, ENOENT, "no container %s (no /etc/pve/lxc/%s.conf)", vmid, vmid);
}

/* /etc/pve/lxc, opened once per root and listing: sync --all opens thousands
 * of configs there, and the walk beneath the root cost more than the open.
 * A new listing opens it again (pmxcfs may have been mounted anew since).
 * Every Proxmox container shares the fd (lent: how many hold it now; one
 * still held at a new listing keeps the old fd open). */
static struct {
	int root, dir;
	unsigned lent;
} pve_lxc = { -1, -ENOENT, 0 };
/* sync opens containers on several threads (util/ahead.h) */
static pthread_mutex_t pve_lxc_lock = PTHREAD_MUTEX_INITIALIZER;

static void pve_lxc_forget(void)
{
	if (pve_lxc.dir >= 0 && pve_lxc.lent == 0)
		close(pve_lxc.dir);
	pve_lxc.root = -1;
	pve_lxc.dir = -ENOENT;
	pve_lxc.lent = 0;
}

/* The shared fd, lent to one more container; negative when there is none. */
static int pve_lxc_lend(int rootfd)
{
	pthread_mutex_lock(&pve_lxc_lock);
	if (pve_lxc.root != rootfd) {
		struct lxgpu_err e = { 0 };
		pve_lxc_forget();
		pve_lxc.root = rootfd;
		pve_lxc.dir = fs_open_in(rootfd, "etc/pve/lxc", O_PATH | O_DIRECTORY, 0, &e);
	}
	int fd = pve_lxc.dir;
	if (fd >= 0)
		pve_lxc.lent++;
	pthread_mutex_unlock(&pve_lxc_lock);
	return fd;
}

static void pve_lxc_give_back(int fd)
{
	pthread_mutex_lock(&pve_lxc_lock);
	if (fd == pve_lxc.dir && pve_lxc.lent > 0)
		pve_lxc.lent--;
	pthread_mutex_unlock(&pve_lxc_lock);
}

/* ct_open; listed: ct_list has just seen the config, and the caller reads it
 * next (which fails on one gone since): no stat of it here. */
static int open_ct(int rootfd, const char *arg, const char *lxcpath, bool listed,
		   struct lxgpu_ct *ct, struct lxgpu_err *err)
{
	struct stat st;
	struct lxgpu_err e = { 0 };

	memset(ct, 0, sizeof(*ct));
	ct->dirfd = -EBADF;
	ct->id = xstrdup(arg);
	/* Proxmox's directory: it is also the config's */
	if (all_digits(arg) && (ct->dirfd = pve_lxc_lend(rootfd)) >= 0) {
		ct->dirfd_shared = true;
		ct->format = CONF_PVE;
		ct->dir = xstrdup("/etc/pve/lxc");
		ct->file = xasprintf("%s.conf", arg);
		ct->lxcpath = xstrdup("/var/lib/lxc");
	} else {
		ct->format = CONF_LXC;
		ct->dir = xasprintf("%s/%s", strcmp(lxcpath, "/") == 0 ? "" : lxcpath, arg);
		ct->file = xstrdup("config");
		ct->lxcpath = xstrdup(lxcpath);
	}
	ct->path = xasprintf("%s/%s", ct->dir, ct->file);

	lxgpu_err_clear(&e);
	if (ct->dirfd < 0)
		ct->dirfd = fs_open_in(rootfd, ct->dir, O_PATH | O_DIRECTORY, 0, &e);
	if (ct->dirfd >= 0 && listed)
		return 0;
	if (ct->dirfd < 0 || fstatat(ct->dirfd, ct->file, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (ct->format == CONF_PVE)
			return explain_missing_vmid(rootfd, arg, err);
		return lxgpu_failx(err, ENOENT, "no container %s (no %s)", arg, ct->path);
	}
	if (!S_ISREG(st.st_mode))
		return lxgpu_failx(err, EINVAL, "%s is not a regular file", ct->path);
	return 0;
}

int ct_open(int rootfd, const char *arg, const char *lxcpath, struct lxgpu_ct *ct,
	    struct lxgpu_err *err)
{
	return open_ct(rootfd, arg, lxcpath, false, ct, err);
}

int ct_open_listed(int rootfd, const char *arg, const char *lxcpath, struct lxgpu_ct *ct,
		   struct lxgpu_err *err)
{
	return open_ct(rootfd, arg, lxcpath, true, ct, err);
}

void ct_close(struct lxgpu_ct *ct)
{
	if (ct->dirfd_shared)
		pve_lxc_give_back(ct->dirfd);
	else if (ct->dirfd >= 0)
		close(ct->dirfd);
	free(ct->id);
	free(ct->dir);
	free(ct->file);
	free(ct->path);
	free(ct->lxcpath);
	memset(ct, 0, sizeof(*ct));
	ct->dirfd = -EBADF;
}

int ct_read_keep(const struct lxgpu_ct *ct, int *fd, struct stat *st, char **text, size_t *len,
		 struct lxgpu_err *err)
{
	_cleanup_close_ int file =
		fs_open_child(ct->dirfd, ct->file, O_RDONLY | O_NOCTTY | O_NONBLOCK, err);
	if (file < 0)
		return lxgpu_wrap(err, "%s", ct->dir);
	int r = fs_read_fd_stat(file, ct->path, CONF_MAX, text, len, st, err);
	if (r == 0 && fd)
		*fd = TAKE_FD(file);
	return r;
}

int ct_read(const struct lxgpu_ct *ct, char **text, size_t *len, struct lxgpu_err *err)
{
	struct stat st;
	return ct_read_keep(ct, NULL, &st, text, len, err);
}

int ct_read_again(const struct lxgpu_ct *ct, int fd, const struct stat *was, struct stat *st,
		  char **text, size_t *len, struct lxgpu_err *err)
{
	if (fd >= 0 && fstatat(ct->dirfd, ct->file, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st->st_ino == was->st_ino && st->st_dev == was->st_dev)
		return fs_pread_whole(fd, st, ct->path, CONF_MAX, text, len, err);
	return ct_read_keep(ct, NULL, st, text, len, err);
}

/* The abstract socket names of /proc/net/unix, read once per run and sorted:
 * sync --all and status ask for every container, and a node that runs
 * hundreds has a file of thousands of lines (a search of it per container
 * made sync quadratic). Main thread only. */
static struct {
	int root;
	char **names; /* "@<path>", sorted */
	size_t n;
} sockets = { -1, NULL, 0 };

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_sockets(int rootfd)
{
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	size_t len, cap = 0;

	for (size_t i = 0; i < sockets.n; i++)
		free(sockets.names[i]);
	free(sockets.names);
	sockets.names = NULL;
	sockets.n = 0;
	sockets.root = rootfd; /* a root without the file is asked once too */
	if (fs_read_in(rootfd, "proc/net/unix", 64u << 20, &text, &len, &err) < 0)
		return;
	/* "Num RefCount Protocol Flags Type St Inode Path": the path is what
	 * follows the seventh field, to the end of the line */
	for (char *line = text, *next; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		char *p = line;
		for (int field = 0; field < 7 && *p; field++) {
			p += strspn(p, " ");
			p += strcspn(p, " ");
		}
		p += strspn(p, " ");
		if (*p != '@')
			continue;
		xgrow(&sockets.names, &cap, sockets.n + 1, sizeof(char *));
		sockets.names[sockets.n++] = xstrdup(p);
	}
	if (sockets.n > 1)
		qsort(sockets.names, sockets.n, sizeof(char *), compare_names);
}

bool ct_running(int rootfd, const struct lxgpu_ct *ct)
{
	char want[600];
	const char *key = want;

	if (sockets.root != rootfd)
		load_sockets(rootfd);
	/* LXC's abstract command socket: "@<lxcpath>/<name>/command" (Proxmox:
	 * PVE::LXC::check_running). */
	int n = snprintf(want, sizeof(want), "@%s/%s/command",
			 strcmp(ct->lxcpath, "/") ? ct->lxcpath : "", ct->id);
	return n > 0 && (size_t)n < sizeof(want) && sockets.n > 0 &&
	       bsearch(&key, sockets.names, sockets.n, sizeof(char *), compare_names) != NULL;
}

int ct_pve_container_version(int rootfd)
{
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	size_t len;

	if (fs_read_in(rootfd, "var/lib/dpkg/status", 64u << 20, &text, &len, &err) < 0)
		return 0;
	struct dpkg_pkg pkg;
	for (const char *cursor = text; dpkg_next(&cursor, &pkg);) {
		unsigned x = 0, y = 0, z = 0;
		if (pkg.installed && strcmp(pkg.name, "pve-container") == 0 &&
		    sscanf(pkg.version, "%u.%u.%u", &x, &y, &z) >= 2)
			return (int)(x * 10000 + y * 100 + z);
	}
	return 0;
}

/* VMIDs first, by value; then names. */
static int id_order(uint32_t x, uint32_t y, const char *names)
{
	if ((x & CT_ID_VMID) != (y & CT_ID_VMID))
		return x & CT_ID_VMID ? -1 : 1;
	if (x & CT_ID_VMID)
		return x < y ? -1 : x > y;
	return strcmp(names + x, names + y);
}

static void sift_down(uint32_t *at, size_t root, size_t n, const char *names)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && id_order(at[child], at[child + 1], names) < 0)
			child++;
		if (id_order(at[root], at[child], names) >= 0)
			return;
		uint32_t t = at[root];
		at[root] = at[child];
		at[child] = t;
	}
}

/* In place: glibc's qsort would allocate a copy of the array (400 KB at
 * 100,000 containers). */
static void sort_ids(uint32_t *at, size_t n, const char *names)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(at, i, n, names);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = at[0];
		at[0] = at[end];
		at[end] = t;
		sift_down(at, 0, end, names);
	}
}

static void add_id(struct ct_ids *l, uint32_t at, size_t *at_cap)
{
	xgrow(&l->at, at_cap, l->n + 1, sizeof(*l->at));
	l->at[l->n++] = at;
}

static void add_name(struct ct_ids *l, const char *name, size_t len, size_t *names_cap,
		     size_t *at_cap)
{
	if (l->names_len + len + 1 >= CT_ID_VMID)
		return;
	xgrow(&l->names, names_cap, l->names_len + len + 1, 1);
	memcpy(l->names + l->names_len, name, len);
	l->names[l->names_len + len] = '\0';
	add_id(l, (uint32_t)l->names_len, at_cap);
	l->names_len += len + 1;
}

size_t ct_list(int rootfd, const char *lxcpath, struct ct_ids *out)
{
	struct lxgpu_err err = { 0 };
	size_t names_cap = 0, at_cap = 0;
	struct dirent *de;
	const char *why;
	char id[256];

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&pve_lxc_lock);
	pve_lxc_forget();
	pthread_mutex_unlock(&pve_lxc_lock);
	_cleanup_closedir_ DIR *pdir = NULL;
	if (fs_opendir_in(rootfd, "etc/pve/lxc", (void **)&pdir, &err) == 0) {
		while ((de = readdir(pdir))) {
			size_t len = strlen(de->d_name);
			if (len < 6 || len - 5 >= sizeof(id) ||
			    strcmp(de->d_name + len - 5, ".conf") != 0)
				continue;
			memcpy(id, de->d_name, len - 5);
			id[len - 5] = '\0';
			if (all_digits(id) && ct_arg_valid(id, &why))
				add_id(out, CT_ID_VMID | (uint32_t)strtoul(id, NULL, 10), &at_cap);
		}
	}
	_cleanup_closedir_ DIR *ldir = NULL;
	lxgpu_err_clear(&err);
	if (fs_opendir_in(rootfd, lxcpath, (void **)&ldir, &err) == 0) {
		struct stat st;
		while ((de = readdir(ldir))) {
			/* numeric names are Proxmox's generated configs (or would be read as VMIDs) */
			if (de->d_name[0] == '.' || all_digits(de->d_name) ||
			    !ct_arg_valid(de->d_name, &why))
				continue;
			char config[300];
			snprintf(config, sizeof(config), "%s/config", de->d_name);
			if (fstatat(dirfd(ldir), config, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			add_name(out, de->d_name, strlen(de->d_name), &names_cap, &at_cap);
		}
	}
	sort_ids(out->at, out->n, out->names);
	return out->n;
}

void ct_ids_free(struct ct_ids *l)
{
	free(l->names);
	free(l->at);
	memset(l, 0, sizeof(*l));
}
