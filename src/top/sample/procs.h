/* procs: who a process is (its container, its PID inside, its command), from
 * /proc/PID/{cgroup,status,cmdline} below the host root, kept from one
 * sample to the next while the PID is still there. Private to top/. */
#ifndef LXGPU_TOP_PROCS_H
#define LXGPU_TOP_PROCS_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct proc_info {
	int pid;
	int ct_pid;        /* NSpid's second entry: the PID in the container, -1 */
	char ct[128];      /* "" for the host's */
	char nested[96];   /* "podman 0123456789ab", or "" */
	char command[256]; /* cmdline, else "[comm]" */
	bool seen;         /* asked for since the last procs_sweep */
};

struct procs;

int procs_open(int rootfd, struct procs **out, struct lxgpu_err *err);
/* /proc below the host root, for the DRM scan. */
int procs_dirfd(const struct procs *c);
/* The process, read now or kept from before; NULL when it is gone. The
 * pointer stays valid until the next procs_sweep. */
const struct proc_info *procs_get(struct procs *c, int pid);
/* Forgets the processes not asked for since the last sweep (a PID that comes
 * back after that is read again). */
void procs_sweep(struct procs *c);
void procs_close(struct procs *c);

/* Up to size-1 bytes of a small kernel file directly in dirfd (a regular
 * file, as util/fs.h wants), NUL-ended: how many, or -1. */
ssize_t procs_read_small(int dirfd, const char *name, char *buf, size_t size);

#endif
