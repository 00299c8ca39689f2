/* cdi: a Container Device Interface spec (cncf-tags/container-device-interface,
 * SPEC.md) for the GPUs of a plan, for podman, containerd or Docker running
 * inside the LXC container. Every path in it is the LXC container's view:
 * the device nodes where attach binds them (the host's paths), the driver
 * files where `driver --mode bind` (or copy) puts them. Pure: inventory,
 * plan and driver file list in, a JSON document out. */
#ifndef LXGPU_CDI_H
#define LXGPU_CDI_H

#include <jansson.h>

#include "inventory/driver_files.h"
#include "util/err.h"
#include "inventory/inventory.h"
#include "plan/plan.h"

/* 0.6.0: device names may start with a digit (0.5.0) and the spec carries
 * annotations (0.6.0); nothing of 0.7.0 or later is used (SPEC.md, versions). */
#define CDI_VERSION "0.6.0"

/* Where inject puts the libraries in a Debian or Ubuntu container
 * (guest_lib_dir): the default when no container is named. */
#if defined(__aarch64__)
#define CDI_DEFAULT_LIB_DIR "usr/lib/aarch64-linux-gnu"
#else
#define CDI_DEFAULT_LIB_DIR "usr/lib/x86_64-linux-gnu"
#endif

struct cdi_request {
	const struct lxgpu_inventory *inv;
	const struct lxgpu_plan *plan;
	/* NVIDIA: the host's user-space driver, mounted from where inject puts
	 * it; NULL for AMD and Intel, whose user space comes with the image */
	const struct driver_files *driver;
	const char *lib_dir; /* the container's library directory, no leading '/' */
};

/* "nvidia.com/gpu", "amd.com/gpu", "intel.com/gpu"; NULL for other vendors. */
const char *cdi_kind(enum lxgpu_vendor v);
/* The vendor of the plan's GPUs; fails when they are of more than one (a
 * spec has one kind) or of none that CDI names. */
int cdi_vendor(const struct lxgpu_inventory *inv, const struct lxgpu_plan *plan,
	       enum lxgpu_vendor *out, struct lxgpu_err *err);
/* The spec: a device per selected GPU by index and by UUID (PCI address when
 * it has none), one named "all", and the edits they share. */
json_t *cdi_build(const struct cdi_request *req, struct lxgpu_err *err);

#endif
