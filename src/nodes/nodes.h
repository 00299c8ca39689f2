/* nodes: the NVIDIA device nodes the host should have, made the way
 * nvidia-modprobe makes them (its nvidia-modprobe-utils.c): majors from /proc/devices,
 * the fixed minors (nvidiactl 255, nvidia-modeset 254, nvidia-uvm 0 and
 * nvidia-uvm-tools 1), GPU minors from the driver, capability minors and
 * modes from /proc/driver/nvidia/capabilities, the other modes and owners
 * from the driver's params (DeviceFileUID/GID/Mode; ModifyDeviceFiles 0
 * means hands off). Only NVIDIA's nodes, only beneath the host root. */
#ifndef LXGPU_NODES_H
#define LXGPU_NODES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "inventory/inventory.h"

enum node_action { NODE_CREATE, NODE_REPLACE, NODE_REMOVE };

struct node_op {
	char *path; /* host view */
	enum node_action action;
	unsigned major, minor, mode, uid, gid;
	enum lxgpu_node_role role;
	int gpu; /* the GPU index it serves, -1 for shared nodes */
	char *why;
};

struct node_plan {
	struct node_op *ops;
	size_t n;
	bool load_uvm;  /* nvidia-uvm has no major yet: modprobe it first */
	bool hands_off; /* the driver's params say ModifyDeviceFiles: 0 */
};

/* What to make or repair; pure but for reading params and capability files. */
void nodes_plan(int rootfd, const struct lxgpu_inventory *inv, struct node_plan *out);
/* Changes the inventory as if the plan were applied (for --dry-run). */
void nodes_simulate(struct lxgpu_inventory *inv, const struct node_plan *plan);
/* Makes the nodes (mknod, chown, chmod; a stale one is replaced, a stale
 * capability node that nothing names is removed). */
int nodes_apply(int rootfd, const struct node_plan *plan, struct lxgpu_err *err);
void nodes_plan_free(struct node_plan *p);
/* Whether lxgpu's boot unit (lxgpu-sync.service) is enabled: then every
 * NVIDIA node exists before any container starts. */
bool nodes_made_at_boot(int rootfd);
/* Loads nvidia-uvm (so that it gets its major) with the host's modprobe. */
int nodes_load_uvm(struct lxgpu_err *err);

#endif
