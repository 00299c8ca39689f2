/* inject: the host's driver into a container (see inject.h). */
#include "guest/inject.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "config/idmap.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "util/xalloc.h"

/* Whether `name` is one of the driver's libraries at another version than
 * d->version: "libcuda.so.570.86.10" while injecting 580.159.04. */
static bool other_version_of_ours(const char *name, const struct driver_files *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct driver_file *f = &d->files[i];
		const char *dot = f->lib ? strstr(f->name, ".so.") : NULL;
		if (!dot)
			continue;
		char stem[128];
		snprintf(stem, sizeof(stem), "%.*s", (int)(dot - f->name), f->name);
		const char *v = driver_version_of(name, stem);
		if (v)
			return strcmp(v, d->version) != 0;
	}
	return false;
}

/* An earlier driver's libraries (bind placeholders, or copies) are dead once
 * the links point at this version; each update would otherwise leave a set. */
static void prune_other_versions(int libdir, const struct driver_files *d)
{
	_cleanup_closedir_ DIR *dir =
		fs_fdopendir(openat(libdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!dir)
		return;
	for (struct dirent *e; (e = readdir(dir));) {
		struct stat st;
		if (!other_version_of_ours(e->d_name, d) ||
		    fstatat(libdir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		unlinkat(libdir, e->d_name, 0);
	}
}

/* The bytes a copy will write, so that its progress has a whole. */
static long long total_size(int hostroot, const struct driver_files *d)
{
	long long total = 0;
	for (size_t i = 0; i < d->n; i++) {
		struct lxgpu_err err = { 0 };
		struct stat st;
		_cleanup_close_ int fd = fs_open_in(hostroot, d->files[i].path, O_PATH, 0, &err);
		if (fd >= 0 && fstat(fd, &st) == 0)
			total += st.st_size;
	}
	return total;
}

bool inject_may_self(int dirfd, const void *arg)
{
	(void)arg;
	/* "." of the fd: no AT_EMPTY_PATH, which needs faccessat2 (Linux 5.8);
	 * the hook's real ids are its effective ones */
	return faccessat(dirfd, ".", W_OK | X_OK, 0) == 0;
}

bool inject_may_ct_root(int dirfd, const void *arg)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return true; /* nothing to say: inject_driver says what fails */
	return ct_root_may_write(arg, st.st_uid, st.st_gid, st.st_mode);
}

/* A directory of the container, or when it is missing (*missing) the nearest
 * one above it that is there. */
static int nearest_dir(int ctroot, const char *rel, bool *missing)
{
	_cleanup_free_ char *path = xstrdup(rel);
	struct lxgpu_err err = { 0 };

	*missing = false;
	for (;;) {
		int fd = fs_open_in_nosymlinks(ctroot, path, O_PATH | O_DIRECTORY, &err);
		if (fd >= 0 || err.code != ENOENT)
			return fd;
		lxgpu_err_clear(&err);
		*missing = true;
		char *slash = strrchr(path, '/');
		if (!slash)
			return fs_open_in_nosymlinks(ctroot, ".", O_PATH | O_DIRECTORY, &err);
		*slash = '\0';
	}
}

/* dir/name is a regular file (target NULL) or a link to target. */
static bool present(int dirfd, const char *name, const char *target)
{
	struct stat st;
	char have[512];
	if (!target)
		return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	ssize_t n = readlinkat(dirfd, name, have, sizeof(have) - 1);
	if (n < 0)
		return false;
	have[n] = '\0';
	return strcmp(have, target) == 0;
}

/* The two directories a bind makes entries in (libraries, programs), or
 * the nearest one above each: whether `may` allows entries there. The fds
 * stay open for the caller (-1 where none could be opened). */
struct bind_dirs {
	const char *rel[2];
	int fd[2];
	bool missing[2], may_make[2];
};

static void bind_dirs_open(int ctroot, inject_may_fn may, const void *arg, struct bind_dirs *b)
{
	b->rel[0] = guest_lib_dir(ctroot);
	b->rel[1] = "usr/bin";
	for (int k = 0; k < 2; k++) {
		b->fd[k] = nearest_dir(ctroot, b->rel[k], &b->missing[k]);
		b->may_make[k] = b->fd[k] < 0 || may(b->fd[k], arg);
	}
}

static void bind_dirs_close(struct bind_dirs *b)
{
	for (int k = 0; k < 2; k++)
		if (b->fd[k] >= 0)
			close(b->fd[k]);
}

bool inject_may_dirs(int ctroot, inject_may_fn may, const void *arg)
{
	struct bind_dirs b;
	bind_dirs_open(ctroot, may, arg, &b);
	bind_dirs_close(&b);
	return b.may_make[0] && b.may_make[1];
}

size_t inject_blocked(int ctroot, const struct driver_files *d, inject_may_fn may, const void *arg,
		      char *first, size_t size)
{
	struct bind_dirs b;
	size_t n = 0;

	first[0] = '\0';
	bind_dirs_open(ctroot, may, arg, &b);
	for (size_t i = 0; i < d->n; i++) {
		const struct driver_file *f = &d->files[i];
		int k = f->lib ? 0 : 1;
		if (b.may_make[k])
			continue;
		/* the file, its links, and libcuda.so (as inject_driver makes them) */
		bool dev_link = driver_version_of(f->name, "libcuda") != NULL;
		for (size_t j = 0; j < f->nlinks; j++)
			dev_link &= strcmp(f->links[j], "libcuda.so") != 0;
		size_t nnames = 1 + f->nlinks + (dev_link ? 1 : 0);
		for (size_t j = 0; j < nnames; j++) {
			const char *name = j == 0           ? f->name
					   : j <= f->nlinks ? f->links[j - 1]
							    : "libcuda.so";
			if (!b.missing[k] && present(b.fd[k], name, j == 0 ? NULL : f->name))
				continue;
			if (n++ == 0)
				snprintf(first, size, "/%s/%s", b.rel[k], name);
		}
	}
	bind_dirs_close(&b);
	return n;
}

int inject_driver(int hostroot, int ctroot, const struct driver_files *d, enum inject_mode mode,
		  long uid, long gid, struct progress *p, struct inject_result *res,
		  struct lxgpu_err *err)
{
	int r;

	memset(res, 0, sizeof(*res));
	if (p && mode == INJECT_COPY)
		progress_set(p, 0, total_size(hostroot, d));
	res->lib_dir = guest_lib_dir(ctroot);
	_cleanup_close_ int libdir = guest_dir(ctroot, res->lib_dir, uid, gid, err);
	if (libdir < 0)
		return libdir;
	_cleanup_close_ int bindir = guest_dir(ctroot, "usr/bin", uid, gid, err);
	if (bindir < 0)
		return bindir;
	for (size_t i = 0; i < d->n; i++) {
		const struct driver_file *f = &d->files[i];
		int dir = f->lib ? libdir : bindir;
		char shown[512];
		snprintf(shown, sizeof(shown), "/%s/%s", f->lib ? res->lib_dir : "usr/bin",
			 f->name);
		_cleanup_close_ int src = fs_open_in(hostroot, f->path, O_PATH, 0, err);
		if (src < 0)
			return lxgpu_wrap(err, "the host's driver file");
		r = mode == INJECT_BIND ? guest_bind_file(src, dir, f->name, shown, err)
		    : mode == INJECT_COPY
			    ? guest_copy_file(src, dir, f->name, uid, gid, shown, p, err)
			    : guest_placeholder(dir, f->name, uid, gid, shown, err);
		if (r < 0)
			return r;
		res->files++;
		for (size_t k = 0; k < f->nlinks; k++) {
			snprintf(shown, sizeof(shown), "/%s/%s", res->lib_dir, f->links[k]);
			if ((r = guest_symlink(libdir, f->links[k], f->name, uid, gid, shown,
					       err)) < 0)
				return r;
			res->links++;
		}
		/* programs that dlopen("libcuda.so") find it (nvidia-container-toolkit#944) */
		if (driver_version_of(f->name, "libcuda")) {
			if ((r = guest_symlink(libdir, "libcuda.so", f->name, uid, gid,
					       "libcuda.so", err)) < 0)
				return r;
		}
	}
	/* only once the new version is whole: a failed copy keeps the old one */
	prune_other_versions(libdir, d);
	return 0;
}
