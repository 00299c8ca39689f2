/* ldcache: glibc's /etc/ld.so.cache ("glibc-ld.so.cache1.1", optionally
 * after the old "ld.so-1.7.0" table), read the way libnvidia-container does
 * (nvc_info.c of NVIDIA/libnvidia-container) to find the host's driver libraries. Pure; fuzzed. */
#ifndef LXGPU_LDCACHE_H
#define LXGPU_LDCACHE_H

#include <stdbool.h>
#include <stddef.h>

struct ldcache_entry {
	const char *soname; /* "libcuda.so.1", pointing into the buffer */
	const char *path;   /* "/usr/local/nvidia/lib64/libcuda.so.1" */
};

struct ldcache {
	struct ldcache_entry *entries;
	size_t n;
};

/* Entries for this machine's native ABI (x86-64 or aarch64 libc6). false
 * when the buffer is not a cache. Strings point into buf, which must stay. */
bool ldcache_parse(const char *buf, size_t len, struct ldcache *out);
void ldcache_free(struct ldcache *c);

#endif
