/* passthrough: what a container's GPU lines do on this host, and whose they
 * are: lxgpu's (its record says so), hand-written, or another tool's. The
 * judge behind show, check, status, doctor and the start hook. Reads the
 * inventory; changes nothing. */
#ifndef LXGPU_PASSTHROUGH_H
#define LXGPU_PASSTHROUGH_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/devlines.h"
#include "config/domain.h"
#include "inventory/inventory.h"
#include "config/record.h"

enum pt_owner {
	PT_LXGPU, /* lxgpu's: its record, its hooks, what the record says it wrote */
	PT_HAND,  /* anyone else's */
	PT_TOOL,  /* another tool's GPU line: NVIDIA_VISIBLE_DEVICES, LXC's nvidia hook */
};

struct pt_entry {
	const struct dl_entry *d; /* into pt_config.scan */
	enum pt_owner owner;
	bool dead;      /* a rule of a major no driver registers now */
	bool adoptable; /* hand-written, in the domain of the recorded GPUs: sync adopts it */
	bool wider;     /* hand-written, reaches the recorded GPUs' nodes and more */
};

struct pt_config {
	struct dl_scan scan;
	struct pt_entry *entries; /* the GPU lines worth a word, in line order */
	size_t n;
	struct lxgpu_record record;
	char *record_error;      /* why the record cannot be read; NULL when it can */
	struct ct_domain domain; /* of the recorded GPUs that are on this host */
};

/* The GPU lines of the main section. */
void pt_scan(const struct conf *c, const struct lxgpu_inventory *inv, struct pt_config *out);
void pt_free(struct pt_config *p);

/* Whether an entry gives the container access to `node`. */
bool pt_concerns(const struct pt_entry *e, const struct lxgpu_node *node);
/* Whether the config passes a node (a mount or devN) at all. */
bool pt_passes_nodes(const struct pt_config *pt);
/* lxgpu's lxc.hook.mount line (the driver bind), or NULL. */
const struct dl_entry *pt_mount_hook(const struct conf *c, const struct pt_config *pt);

enum pt_status { PT_OK, PT_WARN, PT_BAD };

/* Whether entry i still does what it says on this host (stale majors,
 * missing nodes, GPUs gone, rules missing for bind mounts), and for a
 * hand-written line whether sync would adopt it, or it is wider than
 * needed, dead, or not a GPU's. `fix` gets the command that mends it. */
enum pt_status pt_judge(const struct pt_config *pt, size_t i, const struct lxgpu_inventory *inv,
			int rootfd, bool privileged, const char *ct_id, char *msg, size_t size,
			char *fix, size_t fixsize);
const char *pt_owner_name(enum pt_owner o);
const char *pt_kind_name(enum dl_kind k);
/* The GPU a recorded id (UUID or PCI address, "/GI/CI" for MIG) names, or NULL. */
const struct lxgpu_gpu *pt_find_gpu(const struct lxgpu_inventory *inv, const char *id);

/* The id LXGPU_DEVICES records for a GPU: its UUID, else its PCI address. */
const char *pt_gpu_id(const struct lxgpu_gpu *g);

#endif
