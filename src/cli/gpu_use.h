/* gpu_use: what lxgpu top and lxgpu metrics share: --interval, the CTs
 * checked, the host scanned and the sampler of top/ opened (NVML loaded when
 * the host has NVIDIA's driver). Calls no command. */
#ifndef LXGPU_CLI_GPU_USE_H
#define LXGPU_CLI_GPU_USE_H

#include "cli/cli.h"
#include "inventory/inventory.h"
#include "top/top.h"

struct gpu_use {
	struct lxgpu_inventory inv;
	struct top_sampler *sampler;
	double interval; /* seconds */
};

/* -1 when open, else the exit code (the error printed). `cts`: the CT
 * arguments, each checked (it must exist); none for every container. */
int gpu_use_open(struct cli *cli, char *const *cts, size_t ncts, struct gpu_use *u);
/* Waits `seconds` (less when a signal comes), then samples. -1, or the exit
 * code. */
int gpu_use_next(struct gpu_use *u, double seconds, struct top_snapshot *snap);
void gpu_use_close(struct gpu_use *u);

#endif
