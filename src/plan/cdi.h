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
	/* the cdiVersion asked for (--cdi-version); NULL: the lowest the spec
	 * needs, without the fields an older runtime would refuse to read
	 * (podman 4.3's CDI library knows no "annotations") */
	const char *version;
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

/* The lowest cdiVersion whose fields doc uses, as the CDI reference library
 * computes it (specs-go/version.go), and the field that needs it. */
const char *cdi_min_version(const json_t *doc, const char **why);
/* The place of version v ("0.5.0", or "v0.5.0") among the versions CDI
 * defines, oldest first; -1 when it is none of them. */
int cdi_version_index(const char *v);

#endif
