/* inventory: what the host has. Read-only; every path is read beneath the
 * host root fd (--sysroot), so tests run on fake hosts. Missing-but-expected
 * things, and unreadable or garbled kernel files, are findings, never errors. */
#ifndef LXGPU_INVENTORY_H
#define LXGPU_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/err.h"
#include "inventory/procfs.h"

enum lxgpu_vendor { LXGPU_VENDOR_OTHER, LXGPU_VENDOR_NVIDIA, LXGPU_VENDOR_AMD, LXGPU_VENDOR_INTEL };

enum lxgpu_node_role {
	LXGPU_NODE_GPU,        /* /dev/nvidiaN */
	LXGPU_NODE_CTL,        /* /dev/nvidiactl */
	LXGPU_NODE_MODESET,    /* /dev/nvidia-modeset */
	LXGPU_NODE_UVM,        /* /dev/nvidia-uvm */
	LXGPU_NODE_UVM_TOOLS,  /* /dev/nvidia-uvm-tools */
	LXGPU_NODE_CAP,        /* /dev/nvidia-caps/nvidia-capN; the last NVIDIA role */
	LXGPU_NODE_DRI_CARD,   /* /dev/dri/cardN */
	LXGPU_NODE_DRI_RENDER, /* /dev/dri/renderDN */
	LXGPU_NODE_KFD,        /* /dev/kfd */
};

struct lxgpu_node {
	char *path; /* the host's view: "/dev/nvidia0" */
	enum lxgpu_node_role role;
	char type; /* 'c', or '-' when something else stands where a node should */
	unsigned major, minor;
	unsigned mode; /* permission bits */
	unsigned uid, gid;
	int gpu;          /* index into gpus[], -1 for nodes every GPU shares */
	char *capability; /* nvidia-caps: "mig/config", "gpu0/mig/gi2/ci0"; else NULL */
};

/* A MIG GPU instance (ci == -1) or compute instance, from the access files of
 * /proc/driver/nvidia/capabilities/gpu<minor>/mig (tests/hosts/SOURCES.md §5). */
struct lxgpu_mig {
	int gi, ci;
	unsigned minor; /* its /dev/nvidia-caps/nvidia-cap<minor> */
	char *access;   /* the capability file, host view */
	bool node_present;
};

struct lxgpu_gpu {
	int index; /* position in the list ordered by PCI address */
	enum lxgpu_vendor vendor;
	unsigned vendor_id, device_id, class_id;
	char *model;
	char *uuid;           /* NVIDIA only, else NULL */
	char pci[32];         /* "0000:00:06.0", or "" when no PCI device is known */
	int minor;            /* NVIDIA /dev/nvidia<minor>, -1 when unknown */
	char *kernel_driver;  /* driver bound in sysfs; NULL when none */
	bool excluded;        /* NVIDIA "GPU Excluded: Yes" */
	bool has_information; /* listed by /proc/driver/nvidia/gpus */
	char *drm_card, *drm_render, *drm_by_path; /* /dev/dri paths, NULL when none */
	bool usable;                               /* can be given to a container as it is */
	char *reason;                              /* why not, when !usable */
	struct lxgpu_mig *mig;
	size_t nmig, cap_mig;
};

struct lxgpu_driver {
	enum lxgpu_vendor vendor;
	char *name;    /* kernel module: "nvidia" */
	char *version; /* "580.159.04" */
	char *kind;    /* "open", "proprietary" */
	char *cuda;    /* newest CUDA it supports: "13.0"; NULL when unknown */
};

enum lxgpu_severity { LXGPU_INFO, LXGPU_WARNING, LXGPU_ERROR };

struct lxgpu_finding {
	const char *id; /* stable, documented: "nvidia-uvm-missing" */
	enum lxgpu_severity severity;
	char *message;
	char *fix; /* a command or step that works today; NULL when none */
};

struct lxgpu_inventory {
	struct lxgpu_driver *drivers;
	size_t ndrivers, cap_drivers;
	struct lxgpu_gpu *gpus;
	size_t ngpus, cap_gpus;
	struct lxgpu_node *nodes;
	size_t nnodes, cap_nodes;
	struct lxgpu_finding *findings;
	size_t nfindings, cap_findings;
	struct proc_devices majors; /* character majors from /proc/devices */
	bool have_proc_devices;
	bool nvidia_loaded; /* /proc/driver/nvidia exists */
};

/* Never fails: what cannot be read becomes a finding. */
void lxgpu_inventory_scan(int rootfd, struct lxgpu_inventory *inv);
void lxgpu_inventory_free(struct lxgpu_inventory *inv);

const char *lxgpu_vendor_name(enum lxgpu_vendor v);
const char *lxgpu_severity_name(enum lxgpu_severity s);
const char *lxgpu_node_role_name(enum lxgpu_node_role r);
/* The nodes of GPU `index` but its MIG capabilities, in nodes[] order: how many. */
size_t lxgpu_gpu_nodes(const struct lxgpu_inventory *inv, int index, const struct lxgpu_node **out,
		       size_t max);
size_t lxgpu_findings_count(const struct lxgpu_inventory *inv, enum lxgpu_severity min);
/* The id lxgpu records for a GPU: its UUID, else its PCI address. */
const char *lxgpu_gpu_id(const struct lxgpu_gpu *g);
/* The GPU a recorded id (UUID or PCI address, "/GI/CI" for MIG) names, or NULL. */
const struct lxgpu_gpu *lxgpu_gpu_find(const struct lxgpu_inventory *inv, const char *id);
/* The loaded NVIDIA kernel module's version ("580.159.04"), NULL when none. */
const char *lxgpu_nvidia_version(const struct lxgpu_inventory *inv);

/* An inventory built by hand: a GPU (minor -1) or a node (a 'c' node of no
 * GPU) added as if the scan had found it, for nodes_simulate (--dry-run) and
 * the tests' fake hosts; the scanners' bookkeeping (scan/scan.c) adds theirs
 * with them too. */
struct lxgpu_gpu *inv_add_gpu(struct lxgpu_inventory *inv);
struct lxgpu_node *inv_add_node(struct lxgpu_inventory *inv, const char *path,
				enum lxgpu_node_role role);
/* What keeps `module` from loading: a modprobe.d file (host path) or "the kernel
 * command line"; NULL when nothing does (scan/pci.c; host status asks too). */
char *lxgpu_module_blacklisted_by(int rootfd, const char *module);

#endif
