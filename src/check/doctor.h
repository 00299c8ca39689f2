/* doctor: the checks `lxgpu doctor` adds to check's verdicts: the host's
 * (host status's lines from host/host.c, plus discover's warnings and errors),
 * Docker inside a container, and the error messages people paste
 * (--explain). Reads beneath the host root and the container root only;
 * prints nothing. */
#ifndef LXGPU_DOCTOR_H
#define LXGPU_DOCTOR_H

#include <stddef.h>

#include "inventory/inventory.h"

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_BAD }; /* as enum pt_status */

struct doctor_item {
	enum doctor_status status;
	const char *id; /* stable: "nouveau"; borrowed, not freed */
	char *message;
	char *fix; /* NULL when none */
};

struct doctor_list {
	struct doctor_item *items;
	size_t n;
};

/* The host, from the GPUs down to the nodes: each host_scan line is an item
 * (info counts as ok), then discover's warnings and errors. */
void doctor_host(int rootfd, const struct lxgpu_inventory *inv, struct doctor_list *out);
/* Container runtimes inside the container whose root is ctroot: Docker's
 * nvidia-container-toolkit with no-cgroups = true (LXC owns the device
 * cgroup, NVIDIA Container Toolkit, config.toml); podman's CDI spec. */
void doctor_docker(int ctroot, const char *ct_id, struct doctor_list *out);
void doctor_list_free(struct doctor_list *l);

/* Whether a toolkit config.toml sets no-cgroups = true in [nvidia-container-cli]. Pure. */
int doctor_toml_no_cgroups(const char *text);

struct doctor_explanation {
	const char *const *matches; /* any of these, case-insensitive */
	const char *also;           /* and this too, when not NULL */
	const char *id, *cause, *fix;
};
/* The known message `text` contains, or NULL. Pure. */
const struct doctor_explanation *doctor_explain(const char *text);

#endif
