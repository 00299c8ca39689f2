/* plan: pure. The inventory, a selection (--gpu) and the container's facts
 * give what the container gets: device nodes, cgroup rules, the record of
 * the selection, and the config lines for them in the container's format. */
#ifndef LXGPU_PLAN_H
#define LXGPU_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/domain.h"
#include "util/err.h"
#include "inventory/inventory.h"
#include "config/record.h"

/* A GPU mapping (--gpu map:NAME) as it is on this node: the ids (UUID or PCI
 * address, /GI/CI) of its entries for this node, in order; `nodes` lists the
 * nodes it has entries for, for messages. */
struct plan_map {
	const char *name;
	const char *const *ids;
	size_t nids;
	const char *nodes;
};

/* Where node-independent selectors (model=, any, map:) are resolved: this
 * node's name and the cluster's mappings, for messages and map:. */
struct plan_where {
	const char *node; /* NULL when unknown */
	const struct plan_map *maps;
	size_t nmaps;
	bool maps_known; /* the mappings could be read */
};

struct plan_request {
	const char *const *selectors; /* --gpu values; none means "all" */
	size_t nselectors;
	enum lxgpu_style style;
	bool wildcard;
	enum conf_format format;
	bool privileged;
	bool dev_supported;         /* pve-container >= 5.0.7 */
	bool nodes_guaranteed;      /* lxgpu's boot unit makes every NVIDIA node exist at start */
	bool guard;                 /* add the start-time guard (lxc.hook.pre-start) */
	long render_gid, video_gid; /* the container's own, -1 when unknown */
	const char *ct_id;          /* LXC's name of the container (the VMID on Proxmox) */
	const char *hook_cmd;       /* "/usr/bin/lxgpu hook": how LXC runs lxgpu's hook */
	enum rec_driver driver;     /* how its driver came (the record keeps it) */
	bool resets_devices;        /* its main section has an `a` rule, which resets
				     * the rules Proxmox makes of devN (they come first) */
	const struct plan_where *where; /* for model=, any and map:; NULL: none known */
};

struct plan_node {
	const struct lxgpu_node *node; /* in the inventory */
	long gid;                      /* the gid the node gets in the container, -1: root */
	bool via_hook; /* made at start by the hook, owned by the container's group */
};

struct lxgpu_plan {
	enum lxgpu_style style;
	bool wildcard;
	int *gpus; /* indices into inv->gpus */
	size_t ngpus;
	struct plan_node *nodes;
	size_t nnodes;
	char **rules; /* "c 195:0 rwm" */
	size_t nrules;
	char *devices; /* the LXGPU_DEVICES value */
	bool hook; /* needs lxgpu's pre-start hook (nodes for an unprivileged container, guard) */
	bool guard;
	bool floating; /* a node-independent selection (model=, any, map:): resolved where
			* the container starts, by lxgpu's start-host hook */
	char *ct_id, *hook_cmd;
	long render_gid, video_gid;
	struct lxgpu_record record; /* the record plan_lines writes */
	struct ct_domain domain;    /* what the plan makes lxgpu responsible for */
	char **paths;               /* the host paths of nodes, for the editor */
	size_t npaths;
};

/* What the selectors pick on each GPU: nothing, all of it, or one MIG compute
 * instance ("GPU-…/2/0": GPU instance 2, compute instance 0). */
struct plan_pick {
	bool selected;
	int gi, ci;    /* -1: the whole GPU */
	bool floating; /* picked by a node-independent selector */
};

/* Which GPUs the selectors name (index, GPU-uuid, PCI address, "all", each
 * optionally /GI/CI for one MIG instance; and the node-independent ones
 * below, resolved on this inventory): fills picks[ngpus]; fails naming a
 * selector that matches nothing. The concrete selectors pick first.
 *
 * Node-independent selectors pick one GPU each, the lowest-numbered usable
 * one that no earlier selector took:
 * - "any": any GPU;
 * - "model=NAME": one whose model (as discover shows it) is NAME, or begins
 *   with NAME and a space, compared without case ("model=NVIDIA H100" takes
 *   an "NVIDIA H100 80GB HBM3" or an "NVIDIA H100 PCIe", not an "NVIDIA
 *   H100X");
 * - "map:NAME": the first of mapping NAME's GPUs for this node. */
int plan_select(const struct lxgpu_inventory *inv, const char *const *selectors, size_t n,
		const struct plan_where *where, struct plan_pick *picks, struct lxgpu_err *err);
/* Whether a selector is well-formed, from the argument alone. */
bool plan_selector_valid(const char *sel);
/* Whether it is node-independent: model=NAME, any, map:NAME. */
bool plan_selector_floating(const char *sel);
/* The GPU a record item takes here on its own (an id: lxgpu_gpu_find; model=,
 * any, map: as plan_select resolves it), NULL when none. */
const struct lxgpu_gpu *plan_gpu_of(const struct lxgpu_inventory *inv, const char *item,
				    const struct plan_where *where);
/* Whether a model matches model=NAME's NAME (the rule above). */
bool plan_model_matches(const char *model, const char *name);

/* The domain of the GPUs of a record (those not on this host add nothing;
 * node-independent ones: the GPUs they resolve to here, without mappings). */
void plan_domain(const struct lxgpu_inventory *inv, char *const *ids, size_t n,
		 struct ct_domain *out);
/* The include line a Proxmox config gets for lxgpu's start-host hook
 * (pve-container passes lxc.include through; lxc.hook.start-host it drops). */
#ifndef LXGPU_START_HOST_CONF
#define LXGPU_START_HOST_CONF "/usr/share/lxgpu/start-host.conf"
#endif

int plan_build(const struct lxgpu_inventory *inv, const struct plan_request *req,
	       struct lxgpu_plan *out, struct lxgpu_err *err);
void plan_free(struct lxgpu_plan *p);

/* The config lines of the plan (without "\n"): its record, rules, mounts or
 * devN (numbered from 0: the editor gives them free indices), hooks. */
void plan_lines(const struct lxgpu_plan *p, enum conf_format format, char ***out, size_t *nout);
void plan_lines_free(char **lines, size_t n);

const char *plan_style_name(enum lxgpu_style s);

#endif
