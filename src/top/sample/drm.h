/* drm: the DRM clients of AMD's and Intel's GPUs, from the drm-* keys of
 * /proc/PID/fdinfo/FD (the kernel's Documentation/gpu/drm-usage-stats.rst),
 * read for every fd that links to a /dev/dri node. Private to top/. */
#ifndef LXGPU_TOP_DRM_H
#define LXGPU_TOP_DRM_H

#include <stddef.h>

#include "top/parse.h"

/* A GPU to look for: its PCI address (drm-pdev) and its DRI nodes, for a
 * driver that gives no drm-pdev. */
struct drm_gpu {
	const char *pci, *card, *render;
};

struct drm_client {
	size_t gpu;            /* index into the scan's GPUs */
	unsigned long long id; /* drm-client-id; for a client without one, from PID and fd */
	int pid;               /* the lowest PID that holds it */
	struct top_drm_fdinfo info;
};

struct drm_scan {
	struct drm_client *clients; /* by gpu, then id: each client once */
	size_t n, cap;
	unsigned long long at_ns; /* CLOCK_MONOTONIC when the scan began */
};

void drm_scan(int procfd, const struct drm_gpu *gpus, size_t ngpus, struct drm_scan *out);
/* The same client in another scan, or NULL. */
const struct drm_client *drm_find(const struct drm_scan *s, size_t gpu, unsigned long long id);
void drm_scan_free(struct drm_scan *s);

#endif
