/* inside: commands run inside a running container (lxc-attach, which pct
 * exec uses too), for check's probe and the driver's installer. */
#ifndef LXGPU_CLI_INSIDE_H
#define LXGPU_CLI_INSIDE_H

#include <stddef.h>

#include "container/container.h"

/* Runs cmd inside the running container (lxc-attach, which pct exec uses
 * too); its first output line in `first`; its exit status, -1 when it did not run. */
int ct_run_inside(const struct lxgpu_ct *ct, char *const cmd[], char *first, size_t size);
/* The same with all its output: appended to logfd (unless -1), and up to
 * size-1 bytes of it in `out`. */
int ct_exec_inside(const struct lxgpu_ct *ct, char *const cmd[], int logfd, char *out, size_t size);

#endif
