/* driver_files: the host's NVIDIA user-space driver of the running kernel
 * module's exact version: libraries found through the host's ld.so.cache
 * (kept only when a file "<lib>.so.<version>" exists, as libnvidia-container
 * does in its nvc_info.c), their SONAME links, and the user binaries. Not the
 * kernel module, not firmware. Read-only, beneath the host root. */
#ifndef LXGPU_DRIVER_FILES_H
#define LXGPU_DRIVER_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct driver_file {
	char *path;       /* host view: /usr/local/nvidia/lib64/libcuda.so.580.159.04 */
	const char *name; /* its last component */
	bool lib;         /* a library (else a binary) */
	char **links;     /* names to link to it in the same directory: libcuda.so.1, libcuda.so */
	size_t nlinks;
};

struct driver_files {
	char *version;
	struct driver_file *files;
	size_t n;
};

/* Libraries (compute, utility, video) and binaries of `version`. Fails when
 * libcuda or libnvidia-ml of that version is not there, saying which version
 * the host's libraries have instead (a driver updated without a reboot). */
int driver_files_find(int rootfd, const char *version, struct driver_files *out,
		      struct lxgpu_err *err);
void driver_files_free(struct driver_files *d);

/* The version in a library's file name: "libcuda.so.580.159.04" -> "580.159.04"
 * for prefix "libcuda"; NULL when it has none. Pure. */
const char *driver_version_of(const char *name, const char *prefix);

#endif
