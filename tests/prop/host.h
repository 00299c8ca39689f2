/* host: the property tests' own description of a host (its GPUs, device
 * nodes and /proc/devices), written by hand from the captures behind
 * the fake hosts of tests/hosts. The model reads it directly; ops.c turns it into
 * lxgpu's inventory. Every host has a twin "after an update": majors that
 * moved, GPUs or DRI cards renumbered, the same GPUs by UUID and PCI. */
#ifndef PROP_HOST_H
#define PROP_HOST_H

#include <stdbool.h>
#include <stddef.h>

enum host_vendor { HOST_NVIDIA, HOST_AMD, HOST_INTEL };

struct host_gpu {
	enum host_vendor vendor;
	const char *uuid;          /* NVIDIA's "GPU-..."; NULL for others */
	const char *pci;           /* "0000:01:00.0" */
	int nvidia_minor;          /* /dev/nvidia<minor>; -1 when not NVIDIA */
	const char *card, *render; /* its DRI nodes, NULL when it has none */
};

struct host_node {
	const char *path;
	char type; /* 'c' a character device, 'l' a symbolic link */
	unsigned major, minor, mode, gid;
	int gpu;          /* index into gpus[] (PCI order), -1 for shared or not a GPU's */
	const char *link; /* 'l': the absolute path it points to */
};

struct host_major {
	unsigned major;
	const char *name;
};

struct test_host {
	const char *name;
	const struct host_gpu *gpus;
	size_t ngpus;
	const struct host_node *nodes; /* its own; host_node() adds those every host has */
	size_t nnodes;
	const struct host_major *majors; /* its own; host_major_name() adds the common ones */
	size_t nmajors;
	const struct test_host *twin; /* the same host after an update; NULL for a twin */
};

extern const struct test_host *const test_hosts[];
extern const size_t ntest_hosts;

/* The host or twin of that name, NULL when none. */
const struct test_host *host_named(const char *name);
/* Node i of the host, its own and then the common ones (tun, USB, Coral...). */
size_t host_nnodes(const struct test_host *h);
const struct host_node *host_node(const struct test_host *h, size_t i);
/* The character node at path, links followed; NULL when there is none. */
const struct host_node *host_node_at(const struct test_host *h, const char *path);
/* The /proc/devices name of a character major, NULL when none registered it. */
const char *host_major_name(const struct test_host *h, unsigned major);
/* Every registered character major, in /proc/devices order: how many. */
size_t host_nmajors(const struct test_host *h);
const struct host_major *host_major(const struct test_host *h, size_t i);

#endif
