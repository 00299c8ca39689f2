/* nvml: NVIDIA's management library, loaded with dlopen("libnvidia-ml.so.1")
 * (the soname the driver installs; the tests put a stand-in of theirs first
 * on LD_LIBRARY_PATH), for lxgpu top and metrics only. Private to top/. */
#ifndef LXGPU_TOP_NVML_H
#define LXGPU_TOP_NVML_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct nvml;

struct nvml_gpu {
	char name[96], uuid[96];
	char pci[32]; /* normalised: "0000:00:06.0", "" when NVML gave none */
	unsigned long long mem_used, mem_total;
	int util, enc, dec; /* percent, -1 when not supported */
};

struct nvml_proc {
	int pid;
	unsigned long long mem; /* TOP_UNKNOWN when NVML cannot tell */
	int sm, enc, dec;       /* percent, -1 when not known */
};

/* Loads the library and initialises it. `driver`: the kernel module's
 * version, for the message when the library is missing (NULL when unknown). */
int nvml_open(struct nvml **out, const char *driver, struct lxgpu_err *err);
size_t nvml_count(const struct nvml *n);
/* GPU i's identity (read once by nvml_open). */
const struct nvml_gpu *nvml_info(const struct nvml *n, size_t i);
/* GPU i now: its figures into *g, its processes (compute and graphics, one
 * entry a PID) appended to *procs. `first`: the first sample, whose
 * per-process utilisation is not known yet. */
int nvml_sample(struct nvml *n, size_t i, bool first, struct nvml_gpu *g, struct nvml_proc **procs,
		size_t *nprocs, size_t *cap, struct lxgpu_err *err);
void nvml_close(struct nvml *n);

#endif
