/* drm: the fdinfo scan of drm.h. */
#include "top/sample/drm.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "top/sample/procs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/xalloc.h"

static bool numeric(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* The GPU of a client: by drm-pdev, else by the node its fd links to. */
static bool gpu_of(const struct drm_gpu *gpus, size_t ngpus, const char *pdev, const char *node,
		   size_t *out)
{
	for (size_t i = 0; i < ngpus; i++)
		if (pdev[0] ? strcmp(pdev, gpus[i].pci) == 0
			    : (gpus[i].card && strcmp(node, gpus[i].card) == 0) ||
				      (gpus[i].render && strcmp(node, gpus[i].render) == 0)) {
			*out = i;
			return true;
		}
	return false;
}

static void scan_pid(int procfd, const char *name, const struct drm_gpu *gpus, size_t ngpus,
		     struct drm_scan *out)
{
	struct lxgpu_err err = { 0 };
	_cleanup_close_ int dir = fs_open_child(procfd, name, O_PATH | O_DIRECTORY, &err);
	_cleanup_close_ int fdinfo = -EBADF;
	_cleanup_closedir_ DIR *fds = NULL;
	struct dirent *de;
	char target[256], buf[4096];

	if (dir < 0)
		return;
	int fd = fs_open_child(dir, "fd", O_RDONLY | O_DIRECTORY, &err);
	if (fd < 0 || !(fds = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(fds))) {
		ssize_t n;
		size_t gpu;
		if (!numeric(de->d_name) ||
		    fs_readlink_child(dirfd(fds), de->d_name, target, sizeof(target), &err) < 0 ||
		    strncmp(target, "/dev/dri/", 9) != 0)
			continue;
		if (fdinfo < 0 &&
		    (fdinfo = fs_open_child(dir, "fdinfo", O_RDONLY | O_DIRECTORY, &err)) < 0)
			return;
		if ((n = procs_read_small(fdinfo, de->d_name, buf, sizeof(buf))) < 0)
			continue;
		xgrow(&out->clients, &out->cap, out->n + 1, sizeof(*out->clients));
		struct drm_client *c = &out->clients[out->n];
		if (!top_drm_fdinfo_parse(buf, (size_t)n, &c->info) ||
		    !gpu_of(gpus, ngpus, c->info.pdev, target, &gpu))
			continue;
		c->gpu = gpu;
		c->pid = atoi(name);
		c->id = c->info.have_client_id ? c->info.client_id
					       : 1ull << 63 | (unsigned long long)c->pid << 24 |
							 (unsigned long long)atoi(de->d_name);
		out->n++;
	}
}

static int by_key(const void *a, const void *b)
{
	const struct drm_client *x = a, *y = b;
	if (x->gpu != y->gpu)
		return x->gpu < y->gpu ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void drm_scan(int procfd, const struct drm_gpu *gpus, size_t ngpus, struct drm_scan *out)
{
	struct lxgpu_err err = { 0 };
	struct timespec ts;
	struct dirent *de;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	out->at_ns = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	int fd = fs_open_child(procfd, ".", O_RDONLY | O_DIRECTORY, &err);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (numeric(de->d_name))
			scan_pid(procfd, de->d_name, gpus, ngpus, out);
	/* one client a key, with its lowest PID (a forked child shares the file) */
	qsort(out->clients, out->n, sizeof(*out->clients), by_key);
	size_t kept = 0;
	for (size_t i = 0; i < out->n; i++)
		if (kept == 0 || out->clients[kept - 1].gpu != out->clients[i].gpu ||
		    out->clients[kept - 1].id != out->clients[i].id)
			out->clients[kept++] = out->clients[i];
	out->n = kept;
}

const struct drm_client *drm_find(const struct drm_scan *s, size_t gpu, unsigned long long id)
{
	struct drm_client key = { .gpu = gpu, .id = id, .pid = -1 };
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct drm_client *c = &s->clients[mid];
		if (c->gpu == gpu && c->id == id)
			return c;
		if (by_key(c, &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void drm_scan_free(struct drm_scan *s)
{
	free(s->clients);
	memset(s, 0, sizeof(*s));
}
