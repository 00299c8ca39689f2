/* driver_files: the host's user-space driver (see driver_files.h). */
#include "inventory/driver_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "inventory/ldcache.h"
#include "util/version.h"
#include "util/xalloc.h"

/* libnvidia-container's utility, compute and video lists (its nvc_info.c):
 * what NVIDIA's own tool injects for those capabilities. */
static const char *const libs[] = {
	"libnvidia-ml",
	"libnvidia-cfg",
	"libnvidia-nscq",
	"libcuda",
	"libcudadebugger",
	"libnvidia-opencl",
	"libnvidia-gpucomp",
	"libnvidia-ptxjitcompiler",
	"libnvidia-fatbinaryloader",
	"libnvidia-allocator",
	"libnvidia-compiler",
	"libnvidia-pkcs11",
	"libnvidia-pkcs11-openssl3",
	"libnvidia-nvvm",
	"libnvidia-tileiras",
	"libvdpau_nvidia",
	"libnvidia-encode",
	"libnvidia-opticalflow",
	"libnvcuvid",
};
static const char *const bins[] = { "nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
				    "nvidia-cuda-mps-control", "nvidia-cuda-mps-server" };
static const char *const bin_dirs[] = { "/usr/bin",       "/usr/local/nvidia/bin",
					"/usr/local/bin", "/usr/sbin",
					"/bin",           "/sbin" };

const char *driver_version_of(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(name, prefix, n) != 0 || strncmp(name + n, ".so.", 4) != 0)
		return NULL;
	const char *v = name + n + 4;
	struct lxgpu_version parsed;
	return version_parse(v, strlen(v), &parsed) ? v : NULL;
}

/* The library a cache key names: "libcuda.so.1" -> "libcuda". */
static const char *lib_of(const char *soname)
{
	for (size_t i = 0; i < ARRAY_SIZE(libs); i++) {
		size_t n = strlen(libs[i]);
		if (strncmp(soname, libs[i], n) == 0 && strncmp(soname + n, ".so", 3) == 0 &&
		    (soname[n + 3] == '\0' || soname[n + 3] == '.'))
			return libs[i];
	}
	return NULL;
}

static bool regular_in(int rootfd, const char *path)
{
	struct stat st;
	struct lxgpu_err err = { 0 };
	return fs_lstat_in(rootfd, path, &st, &err) == 0 && S_ISREG(st.st_mode);
}

/* A binary, not a wrapper script: ELF's magic number. */
static bool elf_in(int rootfd, const char *path)
{
	struct lxgpu_err err = { 0 };
	char magic[4];
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_RDONLY | O_NONBLOCK, 0, &err);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 &&
	       memcmp(magic, "\177ELF", 4) == 0;
}

static struct driver_file *find_file(struct driver_files *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->files[i].name, name) == 0)
			return &d->files[i];
	return NULL;
}

static struct driver_file *add_file(struct driver_files *d, char *path, bool lib)
{
	d->files = xrealloc(d->files, (d->n + 1) * sizeof(*d->files));
	struct driver_file *f = &d->files[d->n++];
	memset(f, 0, sizeof(*f));
	f->path = path;
	f->name = strrchr(path, '/') + 1;
	f->lib = lib;
	return f;
}

static void add_link(struct driver_file *f, const char *name)
{
	if (strcmp(name, f->name) == 0)
		return;
	for (size_t i = 0; i < f->nlinks; i++)
		if (strcmp(f->links[i], name) == 0)
			return;
	f->links = xrealloc(f->links, (f->nlinks + 1) * sizeof(char *));
	f->links[f->nlinks++] = xstrdup(name);
}

/* The version of the libcuda file beside the cache's libcuda entries, for the
 * message when none is the module's version. */
static char *other_version(const struct ldcache *cache, int rootfd)
{
	for (size_t i = 0; i < cache->n; i++) {
		const char *path = cache->entries[i].path, *slash = strrchr(path, '/');
		if (!slash ||
		    strcmp(lib_of(cache->entries[i].soname) ? lib_of(cache->entries[i].soname) : "",
			   "libcuda") != 0)
			continue;
		_cleanup_free_ char *dir = xstrndup(path, (size_t)(slash - path));
		_cleanup_closedir_ DIR *d = NULL;
		struct lxgpu_err err = { 0 };
		struct dirent *de;
		if (fs_opendir_in(rootfd, dir[0] ? dir : "/", (void **)&d, &err) < 0)
			continue;
		while ((de = readdir(d))) {
			const char *v = driver_version_of(de->d_name, "libcuda");
			struct stat st;
			if (v && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode))
				return xstrdup(v);
		}
	}
	return NULL;
}

int driver_files_find(int rootfd, const char *version, struct driver_files *out,
		      struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct ldcache cache;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	out->version = xstrdup(version);
	if ((r = fs_read_in(rootfd, "etc/ld.so.cache", 64u << 20, &text, &len, err)) < 0)
		return lxgpu_wrap(err, "the host's library cache");
	if (!ldcache_parse(text, len, &cache))
		return lxgpu_failx(err, EINVAL, "/etc/ld.so.cache is not a glibc library cache");
	for (size_t i = 0; i < cache.n; i++) {
		const char *lib = lib_of(cache.entries[i].soname);
		const char *path = cache.entries[i].path, *slash = strrchr(path, '/');
		if (!lib || !slash)
			continue;
		_cleanup_free_ char *file =
			xasprintf("%.*s/%s.so.%s", (int)(slash - path), path, lib, version);
		char name[256];
		snprintf(name, sizeof(name), "%s.so.%s", lib, version);
		struct driver_file *f = find_file(out, name);
		if (!f) {
			if (!regular_in(rootfd, file))
				continue;
			f = add_file(out, TAKE_PTR(file), true);
		} else if (strncmp(f->path, path, (size_t)(slash - path)) != 0 ||
			   f->path[slash - path] != '/') {
			continue; /* a second directory with the same file: the first one serves */
		}
		/* the host's own links: libcuda.so.1 and libcuda.so both point to it */
		add_link(f, cache.entries[i].soname);
	}
	bool cuda = false, nvml = false;
	for (size_t i = 0; i < out->n; i++) {
		cuda |= driver_version_of(out->files[i].name, "libcuda") != NULL;
		nvml |= driver_version_of(out->files[i].name, "libnvidia-ml") != NULL;
	}
	if (!cuda || !nvml) {
		_cleanup_free_ char *other = other_version(&cache, rootfd);
		ldcache_free(&cache);
		if (other)
			return lxgpu_failx(
				err, ENOENT,
				"the host's driver libraries are %s but its kernel module "
				"is %s: reboot the host (or reload the nvidia modules)",
				other, version);
		return lxgpu_failx(
			err, ENOENT,
			"no %s of driver %s in the host's library cache (is the user-space "
			"driver installed? ldconfig -p | grep libcuda)",
			cuda ? "libnvidia-ml" : "libcuda", version);
	}
	ldcache_free(&cache);
	/* the driver's own bin beside its libraries first (/usr/local/nvidia/bin for
	 * .../lib64): a /usr/bin/nvidia-smi may be a distribution's wrapper script */
	_cleanup_free_ char *own = NULL;
	for (size_t i = 0; i < out->n && !own; i++)
		if (driver_version_of(out->files[i].name, "libcuda")) {
			const char *p = out->files[i].path, *slash = strrchr(p, '/');
			own = xasprintf("%.*s/../bin", (int)(slash - p), p);
		}
	for (size_t b = 0; b < ARRAY_SIZE(bins); b++)
		for (size_t d = 0; d <= ARRAY_SIZE(bin_dirs); d++) {
			const char *dir = d == 0 ? own : bin_dirs[d - 1];
			if (!dir)
				continue;
			_cleanup_free_ char *path = xasprintf("%s/%s", dir, bins[b]);
			if (elf_in(rootfd, path)) {
				add_file(out, TAKE_PTR(path), false);
				break;
			}
		}
	return 0;
}

void driver_files_free(struct driver_files *d)
{
	for (size_t i = 0; i < d->n; i++) {
		for (size_t k = 0; k < d->files[i].nlinks; k++)
			free(d->files[i].links[k]);
		free(d->files[i].links);
		free(d->files[i].path);
	}
	free(d->files);
	free(d->version);
	memset(d, 0, sizeof(*d));
}
