/* top-refresh ROOT RUNS: the cost of one refresh of lxgpu top once NVML is
 * loaded. Opens lxgpu top's sampler on the host ROOT (NVML from
 * LD_LIBRARY_PATH, as lxgpu finds it), then times top_sample RUNS+1 times:
 * the first is cold (every process read), the rest warm (the processes
 * known from before, as in the live view). Against the floor, measured in
 * the same run: the same /proc files opened, read and closed, nothing else
 * (cgroup, status and cmdline of the processes NVML and the DRM scan name,
 * every fd's link and every DRM fd's fdinfo). Prints one line a figure. */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inventory/inventory.h"
#include "top/top.h"
#include "util/fs.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void slurp(int dirfd, const char *name)
{
	char buf[8192];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* The floor: every file a refresh must read, read (the fds and fdinfo only
 * when a GPU's figures come from fdinfo). */
static void floor_once(int procfd, bool fds_too)
{
	DIR *d = fdopendir(openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;
	char target[256];
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		int pid = openat(procfd, de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		slurp(pid, "cgroup");
		slurp(pid, "status");
		slurp(pid, "cmdline");
		DIR *fds =
			fds_too ? fdopendir(openat(pid, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC))
				: NULL;
		struct dirent *f;
		int info = fds_too ? openat(pid, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		while (fds && (f = readdir(fds))) {
			if (f->d_name[0] == '.')
				continue;
			ssize_t n = readlinkat(dirfd(fds), f->d_name, target, sizeof(target) - 1);
			if (n > 9 && strncmp(target, "/dev/dri/", 9) == 0)
				slurp(info, f->d_name);
		}
		if (fds)
			closedir(fds);
		if (info >= 0)
			close(info);
		close(pid);
	}
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	struct lxgpu_err err = { 0 };
	struct lxgpu_inventory inv;
	struct top_sampler *s;
	struct top_snapshot snap;
	if (argc != 3) {
		fprintf(stderr, "usage: top-refresh ROOT RUNS\n");
		return 2;
	}
	int runs = atoi(argv[2]);
	int rootfd = fs_open_root(argv[1], &err);
	if (rootfd < 0 || runs < 1) {
		fprintf(stderr, "top-refresh: %s\n", err.msg);
		return 1;
	}
	lxgpu_inventory_scan(rootfd, &inv);
	if (top_open(rootfd, &inv, NULL, 0, &s, &err) < 0) {
		fprintf(stderr, "top-refresh: %s\n", err.msg);
		return 1;
	}
	double *warm = calloc((size_t)runs, sizeof(double)),
	       *flo = calloc((size_t)runs, sizeof(double));
	double t = now_ms();
	if (top_sample(s, &snap, &err) < 0)
		return 1;
	double cold = now_ms() - t;
	size_t nprocs = snap.nprocs, ncts = snap.ncts, ngpus = snap.ngpus;
	bool fds_too = false;
	for (size_t i = 0; i < snap.ngpus; i++)
		fds_too |= strcmp(snap.gpus[i].source, "fdinfo") == 0;
	top_snapshot_free(&snap);
	int procfd = openat(rootfd, "proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < runs; i++) {
		t = now_ms();
		if (top_sample(s, &snap, &err) < 0)
			return 1;
		warm[i] = now_ms() - t;
		top_snapshot_free(&snap);
		t = now_ms();
		floor_once(procfd, fds_too);
		flo[i] = now_ms() - t;
	}
	qsort(warm, (size_t)runs, sizeof(double), cmp);
	qsort(flo, (size_t)runs, sizeof(double), cmp);
	double wm = warm[runs / 2], fm = flo[runs / 2];
	printf("gpus %zu, containers %zu, processes %zu (the host's counted as one container)\n",
	       ngpus, ncts, nprocs);
	printf("refresh, cold (every process read): %.2f ms\n", cold);
	printf("refresh, warm (median of %d): %.2f ms, p90 %.2f ms\n", runs, wm,
	       warm[(int)(runs * 0.9)]);
	printf("floor, the same files read (median): %.2f ms\n", fm);
	printf("ratio warm/floor: %.2f, cold/floor: %.2f\n", wm / fm, cold / fm);
	printf("target, a refresh <= 10 ms: warm %s, cold %s\n", wm <= 10 ? "met" : "NOT met",
	       cold <= 10 ? "met" : "NOT met");
	free(warm);
	free(flo);
	close(procfd);
	top_close(s);
	lxgpu_inventory_free(&inv);
	return 0;
}
