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

/* INJECT_TARGETS: only what a bind needs beforehand, the empty files to bind
 * onto and the links, made for a container whose root cannot make them. */
enum inject_mode { INJECT_BIND, INJECT_COPY, INJECT_TARGETS };

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

/* Whether entries may be made in directory dirfd (O_PATH), by whom `arg` says. */
typedef bool (*inject_may_fn)(int dirfd, const void *arg);
/* By the caller, as the kernel decides for its effective ids (the mount hook,
 * as an unprivileged container's root); arg unused. */
bool inject_may_self(int dirfd, const void *arg);
/* By the root of the container whose config (struct conf) is arg, from the
 * directory's owner and mode and the config's idmap (ct_root_may_write). */
bool inject_may_ct_root(int dirfd, const void *arg);
/* Whether `may` says entries may be made in both directories a bind uses
 * (the library directory and usr/bin, or the nearest one there above each). */
bool inject_may_dirs(int ctroot, inject_may_fn may, const void *arg);
/* The files to bind onto and the links that a bind of d into ctroot needs
 * made and that `may` says cannot be: how many, and the first one's path in
 * the container in `first`. 0 also when a directory cannot be looked at:
 * inject_driver then says why. */
size_t inject_blocked(int ctroot, const struct driver_files *d, inject_may_fn may, const void *arg,
		      char *first, size_t size);

#endif
