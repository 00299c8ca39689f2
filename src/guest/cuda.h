/* guest/cuda: the CUDA toolkits and cuDNN releases installed in a container,
 * found the ways they get installed: NVIDIA's toolkit directories
 * (/usr/local/cuda-X.Y/version.json, version.txt before 11.1), Debian packages
 * (cuda-toolkit-X-Y, cuda-cudart-X-Y, libcudnnN*), cuDNN's header, and the
 * pip wheels PyTorch and friends bring (nvidia-cuda-runtime-cuXX,
 * nvidia-cudnn-cuXX, torch+cuXYZ). Every path goes through the container's
 * root fd (guest.h); the work is bounded by a fixed list of places. */
#ifndef LXGPU_GUEST_CUDA_H
#define LXGPU_GUEST_CUDA_H

#include <stddef.h>

enum guest_cuda_kind { GUEST_TOOLKIT, GUEST_CUDNN };

struct guest_cuda_item {
	enum guest_cuda_kind kind;
	unsigned major, minor, patch;
	unsigned cuda_major; /* cuDNN: the CUDA major it is built for, 0 when unknown */
	char source[256];    /* "/usr/local/cuda-12.4/version.json", "package cuda-toolkit-12-4" */
};

struct guest_cuda {
	struct guest_cuda_item *items;
	size_t n;
};

void guest_cuda_scan(int ctroot, struct guest_cuda *out);
void guest_cuda_free(struct guest_cuda *g);

/* Parsers, pure (the unit tests and fuzzing call them). */
/* version.json: "cuda": { ..., "version": "12.4.131" }; version.txt: "CUDA Version 10.2.89". */
int guest_cuda_parse_version_file(const char *text, unsigned *major, unsigned *minor,
				  unsigned *patch);
/* cudnn_version.h: CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL. */
int guest_cuda_parse_cudnn_header(const char *text, unsigned *major, unsigned *minor,
				  unsigned *patch);
/* A dpkg package or wheel name and version to an item; 0 when it is neither. */
int guest_cuda_from_package(const char *name, const char *version, struct guest_cuda_item *item);
int guest_cuda_from_wheel(const char *dist_info, struct guest_cuda_item *item);

#endif
