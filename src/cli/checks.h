/* checks: what check sees of one container, shared by check, doctor and the
 * status view: its config lines judged against the host, its NVIDIA
 * user-space driver, and (doctor) a call into it. */
#ifndef LXGPU_CLI_CHECKS_H
#define LXGPU_CLI_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "check/passthrough.h"
#include "cli/change.h"
#include "cli/cli.h"
#include "config/config.h"
#include "container/container.h"
#include "inventory/inventory.h"

struct verdicts;
/* check's checks of one container, added to v; with `cuda`, a CUDA call
 * inside when it runs (doctor). */
void check_container(struct cli *cli, struct change *ch, struct verdicts *v, bool cuda);

/* The container's NVIDIA user-space driver as check sees it, from its config
 * and the files in its root (nothing runs inside it: cheap enough for the
 * status view). check prints the notes as its driver lines. */
enum ct_driver_mode { CT_DRIVER_NONE, CT_DRIVER_BIND, CT_DRIVER_COPY, CT_DRIVER_INSTALL };
struct ct_driver_note {
	int status;     /* enum pt_status */
	const char *id; /* check's JSON id: "driver-mismatch" */
	char fix[512];  /* "" when none */
	char msg[1024];
};
struct ct_driver {
	enum ct_driver_mode mode;
	/* the version it has (a stopped bind container: the one its next start
	 * binds), NULL when none or unknown; matches: it is the host module's */
	char *version;
	bool matches;
	struct ct_driver_note notes[2];
	size_t nnotes;
	int worst; /* of the notes */
};
/* false (nothing to look at) when the container has no NVIDIA node lines. */
bool ct_driver_look(struct cli *cli, const struct lxgpu_ct *ct, const struct conf *conf,
		    const struct pt_config *pt, const struct lxgpu_inventory *inv, bool running,
		    struct ct_driver *d);
void ct_driver_free(struct ct_driver *d);
/* Bind mode in an unprivileged container: the hook's mount targets for the
 * host's driver `version` (files to bind onto, links) that the container's
 * root cannot make itself, in directories of the host's ids (its idmap
 * says): *blocked of them, the first in `first`; with `make`, made now as the
 * host's root, owned by the container's root. */
int ct_bind_targets(struct cli *cli, int ctroot, const struct conf *conf, const char *version,
		    bool make, size_t *blocked, char *first, size_t size, struct lxgpu_err *err);
/* The line that says so, ending in `done` ("made them as the host's root"). */
void ct_bind_targets_line(const struct lxgpu_ct *ct, const struct conf *conf, size_t blocked,
			  const char *first, const char *done);
const char *ct_driver_mode_name(enum ct_driver_mode m);

#endif
