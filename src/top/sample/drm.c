/* drm: the fdinfo scan of drm.h. */
#include "top/sample/drm.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "inventory/procfs.h"
#include "top/sample/procs.h"

struct linux_dirent64 { /* getdents64(2) */
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#include "util/fs.h"
#include "util/xalloc.h"

/* A name of /proc or of /proc/PID/fd: a number, its value in *out. */
static bool number(const char *name, unsigned *out)
{
	return parse_uint(name, strlen(name), 0x7fffffff, out);
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

/* The entries of a directory fd, by getdents64 (no DIR: a refresh opens one
 * for every process). Calls fn for each name; false from fn stops. */
static void each_entry(int fd, bool (*fn)(const char *name, void *ctx), void *ctx)
{
	char buf[8192] __attribute__((aligned(8)));
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);
			off += de->d_reclen;
			if (!fn(de->d_name, ctx))
				return;
		}
	}
}

struct pid_scan {
	int procfd;
	const char *pid;
	unsigned pidnum;
	int fds, fdinfo; /* /proc/PID/fd and /proc/PID/fdinfo, -1 until opened */
	const struct drm_gpu *gpus;
	size_t ngpus;
	struct drm_scan *out;
};

static bool scan_fd(const char *name, void *ctx)
{
	struct pid_scan *p = ctx;
	struct lxgpu_err err = { 0 };
	char target[256], buf[4096], path[64];
	unsigned fd;
	size_t gpu;
	ssize_t n;

	if (!number(name, &fd) ||
	    fs_readlink_child(p->fds, name, target, sizeof(target), &err) < 0 ||
	    strncmp(target, "/dev/dri/", 9) != 0)
		return true;
	if (p->fdinfo < 0) {
		snprintf(path, sizeof(path), "%s/fdinfo", p->pid);
		if ((p->fdinfo = fs_open_in(p->procfd, path, O_RDONLY | O_DIRECTORY, 0, &err)) < 0)
			return false;
	}
	if ((n = procs_read_small(p->fdinfo, name, buf, sizeof(buf))) < 0)
		return true;
	struct drm_scan *out = p->out;
	xgrow(&out->clients, &out->cap, out->n + 1, sizeof(*out->clients));
	struct drm_client *c = &out->clients[out->n];
	if (!top_drm_fdinfo_parse(buf, (size_t)n, &c->info) ||
	    !gpu_of(p->gpus, p->ngpus, c->info.pdev, target, &gpu))
		return true;
	c->gpu = gpu;
	c->pid = (int)p->pidnum;
	c->id = c->info.have_client_id ? c->info.client_id
				       : 1ull << 63 | (unsigned long long)c->pid << 24 | fd;
	out->n++;
	return true;
}

/* /proc/PID/fd, resolved in /proc (one openat2, no fd of /proc/PID). */
static void scan_pid(int procfd, const char *name, unsigned pid, const struct drm_gpu *gpus,
		     size_t ngpus, struct drm_scan *out)
{
	struct lxgpu_err err = { 0 };
	char path[64];
	struct pid_scan p = { procfd, name, pid, -1, -1, gpus, ngpus, out };
	snprintf(path, sizeof(path), "%s/fd", name);
	if ((p.fds = fs_open_in(procfd, path, O_RDONLY | O_DIRECTORY, 0, &err)) < 0)
		return;
	each_entry(p.fds, scan_fd, &p);
	close(p.fds);
	if (p.fdinfo >= 0)
		close(p.fdinfo);
}

static bool scan_process(const char *name, void *ctx)
{
	struct pid_scan *all = ctx;
	unsigned pid;
	if (number(name, &pid))
		scan_pid(all->procfd, name, pid, all->gpus, all->ngpus, all->out);
	return true;
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

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	out->at_ns = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	int fd = fs_open_child(procfd, ".", O_RDONLY | O_DIRECTORY, &err);
	if (fd < 0)
		return;
	struct pid_scan all = { procfd, NULL, 0, -1, -1, gpus, ngpus, out };
	each_entry(fd, scan_process, &all);
	close(fd);
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
