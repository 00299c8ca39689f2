/* installer: NVIDIA's .run installer, for `driver --mode install` and `host
 * install-driver`: where it comes from (--installer, or NVIDIA's file
 * downloaded into the cache), what its options are, and the guide's install
 * into a running container. */
#ifndef LXGPU_CLI_INSTALLER_H
#define LXGPU_CLI_INSTALLER_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "util/err.h"

/* NVIDIA's .run of `version`: --installer, or downloaded into the cache; an
 * O_PATH fd, its file name in `name`. */
int driver_installer_fd(struct cli *cli, const char *version, char *name, size_t size,
			struct lxgpu_err *err);
/* Whether the installer's --advanced-options text lists exactly this option. */
bool installer_lists(const char *help, const char *opt);
/* `driver CT --mode install`: the installer of the host module's version run
 * in the container, lxgpu's mount hook out of its config; the exit code. */
int driver_install(struct cli *cli);

#endif
