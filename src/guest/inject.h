/* inject: puts the host's user-space driver into a container's root, bound
 * read-only (at every start, from the hook) or copied (once, `driver --mode
 * copy`), with the SONAME links the dynamic linker looks for. Every path
 * inside the container goes through its root fd (guest.h). */
#ifndef LXGPU_INJECT_H
#define LXGPU_INJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "inventory/driver_files.h"
#include "util/err.h"
#include "util/progress.h"

enum inject_mode { INJECT_BIND, INJECT_COPY };

struct inject_result {
	size_t files, links;
	const char *lib_dir; /* in the container, without the leading '/' */
};

/* uid/gid: owner of what is created (a copy into an unprivileged container
 * from the host), -1 to leave it to the caller's identity. p: a copy's bytes,
 * its total the files' sizes (NULL: not reported). */
int inject_driver(int hostroot, int ctroot, const struct driver_files *d, enum inject_mode mode,
		  long uid, long gid, struct progress *p, struct inject_result *res,
		  struct lxgpu_err *err);

#endif
