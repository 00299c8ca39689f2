/* top: which container uses the host's GPUs, and how much (lxgpu top,
 * lxgpu metrics). Read-only. NVIDIA's figures come from NVML, loaded with
 * dlopen("libnvidia-ml.so.1") by this folder alone and only when the host has
 * NVIDIA's driver (sample/nvml.c); AMD's and Intel's from the DRM keys of
 * /proc/PID/fdinfo (sample/drm.c). Processes are mapped to containers
 * through /proc/PID/cgroup, with their PID inside from NSpid
 * (sample/procs.c). Every path is read below the host root fd (--sysroot);
 * NVML is always the running host's.
 *
 * Use: top_open, then top_sample once to start the interval, and again after
 * each interval: each snapshot holds the figures since the previous one. */
#ifndef LXGPU_TOP_H
#define LXGPU_TOP_H

#include <stdbool.h>
#include <stddef.h>

#include "inventory/inventory.h"
#include "util/err.h"

/* Percentages are 0..100, or -1 when not known (the GPU has no such engine,
 * the driver cannot tell); memory is bytes, TOP_UNKNOWN when not known. */
#define TOP_UNKNOWN (~0ull)

struct top_gpu {
	int index; /* lxgpu's: the position in lxgpu discover's list */
	enum lxgpu_vendor vendor;
	char model[96];
	char uuid[96]; /* NVIDIA's, else "" */
	char pci[32];  /* "0000:00:06.0", or "" */
	unsigned long long mem_used, mem_total;
	int util, enc, dec;
	const char *source; /* "nvml" or "fdinfo" */
};

struct top_proc {
	int pid;            /* on the host */
	int ct_pid;         /* in its container's PID namespace, -1 when not known */
	const char *ct;     /* its container, NULL for the host's */
	const char *nested; /* "podman 0123456789ab" inside the container, or NULL */
	const char *command;
	int gpu; /* index into the snapshot's gpus */
	unsigned long long mem;
	int sm, enc, dec;
};

/* A container's processes summed (percentages of one GPU each: a container
 * busy on two GPUs can show 200); procs[first .. first+nprocs). */
struct top_ct {
	const char *ct; /* NULL: the host's processes */
	unsigned long long mem;
	int sm, enc, dec;
	unsigned long long gpus; /* bit i: uses snapshot GPU i (the first 64) */
	size_t first, nprocs;
};

struct top_snapshot {
	struct top_gpu *gpus;
	size_t ngpus;
	struct top_proc *procs; /* by container (as cts), then memory, then PID */
	size_t nprocs;
	struct top_ct *cts; /* by memory, then name; the host's last */
	size_t ncts;
	double seconds; /* since the previous sample */
	char **strings; /* what ct, nested and command point into */
	size_t nstrings, cap_strings;
};

struct top_sampler;

/* Loads NVML when the host has NVIDIA's driver (inv->nvidia_loaded); fails,
 * with what to install, when it cannot. `cts`: only these containers (the
 * host's processes dropped), each listed even when it uses nothing; NULL
 * for all. */
int top_open(int rootfd, const struct lxgpu_inventory *inv, char *const *cts, size_t ncts,
	     struct top_sampler **out, struct lxgpu_err *err);
/* A snapshot of now, with utilisation over the time since the previous call
 * (unknown, -1, in the first). */
int top_sample(struct top_sampler *s, struct top_snapshot *out, struct lxgpu_err *err);
void top_snapshot_free(struct top_snapshot *snap);
void top_close(struct top_sampler *s);

#endif
