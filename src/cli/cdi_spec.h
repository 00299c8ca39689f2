/* cdi_spec: the CDI spec of a container's GPUs (plan/cdi.h), built and
 * written where podman inside the container finds it. */
#ifndef LXGPU_CLI_CDI_SPEC_H
#define LXGPU_CLI_CDI_SPEC_H

#include <jansson.h>

#include "cli/change.h"
#include "cli/cli.h"
#include "inventory/driver_files.h"
#include "plan/cdi.h"

/* The spec of --gpu's selection, else (ctroot >= 0) of the container's
 * record, else of every GPU, at --cdi-version; ch->plan its plan, *d the
 * NVIDIA driver files it mounts. NULL with err. */
json_t *cdi_spec_build(struct cli *cli, struct change *ch, int ctroot, struct driver_files *d,
		       enum lxgpu_vendor *vendor, struct lxgpu_err *err);
/* The document as written: indented, keys in order, a final newline. */
char *cdi_spec_text(const json_t *doc);
/* What cdi_spec_write did. */
struct cdi_written {
	json_t *doc; /* the spec */
	char *path;  /* in the container: /etc/cdi/lxgpu-<vendor>.json */
	char *diff;  /* from the file there before; "" when the same */
	bool same;   /* nothing to write */
};
/* Builds the spec and writes it into the container whose root is ctroot
 * (not with --dry-run), warning on stderr of what the container lacks for
 * it. 0, or -1 with err. */
int cdi_spec_write(struct cli *cli, struct change *ch, int ctroot, struct cdi_written *w,
		   struct lxgpu_err *err);
/* Its JSON into out: changed, path, diff (--dry-run) and the spec (taken
 * from w). */
void cdi_written_json(const struct cli *cli, struct cdi_written *w, json_t *out);
/* Its text: the diff with --dry-run, else a line unless --quiet. */
void cdi_written_print(const struct cli *cli, const struct change *ch, const struct cdi_written *w);
void cdi_written_free(struct cdi_written *w);

#endif
