/* mapping: named GPU mappings, kept cluster-wide in
 * /etc/pve/lxgpu/mappings.cfg: a name and, for each node, the GPU it stands
 * for there (Proxmox's resource mappings for VMs, for containers). A
 * container attached with --gpu map:NAME gets, on the node where it runs, the
 * first GPU of NAME's entries for that node. The file, one mapping a line:
 *
 *   # comments and blank lines are kept out
 *   ml node=pve1,gpu=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f node=pve2,gpu=0000:41:00.0
 *
 * NAME: a letter or digit, then letters, digits, '-', '_' or '.' (32 at most);
 * gpu=: a GPU-UUID or a PCI address, with /GI/CI for one MIG instance. */
#ifndef LXGPU_MAPPING_H
#define LXGPU_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include "plan/plan.h"
#include "util/err.h"

#define MAP_NAME_MAX 32

struct gpu_map_entry {
	char *node, *gpu;
};

struct gpu_map {
	char *name;
	struct gpu_map_entry *entries;
	size_t n;
};

struct gpu_maps {
	struct gpu_map *maps;
	size_t n;
};

bool map_name_valid(const char *name);
/* "node=A,gpu=GPU-…" (either order) as the command line gives it. */
int map_entry_parse(const char *arg, struct gpu_map_entry *out, struct lxgpu_err *err);
void map_entry_free(struct gpu_map_entry *e);

/* The file's text; fails naming the line it cannot read. */
int maps_parse(const char *text, size_t len, struct gpu_maps *out, struct lxgpu_err *err);
char *maps_format(const struct gpu_maps *m);
const struct gpu_map *maps_find(const struct gpu_maps *m, const char *name);
/* Adds a mapping (taking its strings) / removes one by name (false: none). */
void maps_add(struct gpu_maps *m, struct gpu_map *map);
bool maps_remove(struct gpu_maps *m, const char *name);
void maps_free(struct gpu_maps *m);
void map_free(struct gpu_map *m);

/* The cluster's mappings; none (0) when the file does not exist. */
int maps_read(int rootfd, struct gpu_maps *out, struct lxgpu_err *err);
/* Writes them (the caller holds cluster_lock(rootfd, "mappings")). */
int maps_write(int rootfd, const struct gpu_maps *m, struct lxgpu_err *err);

/* Where node-independent selections resolve on this host: its node name and
 * the mappings as they are for it (plan_where), loaded once. A mappings file
 * that cannot be read leaves where.maps_known false (map: then fails with
 * that reason); err has its message. */
struct cluster_where {
	struct plan_where where;
	char node[64];
	struct gpu_maps maps;
	struct plan_map *pm;
	const char ***ids;
	char **nodes;
};
void cluster_where_load(int rootfd, struct cluster_where *w, struct lxgpu_err *err);
void cluster_where_free(struct cluster_where *w);
/* The same for another node (check --node): its entries instead of this one's. */
void cluster_where_for(const struct gpu_maps *maps, const char *node, struct cluster_where *w);

#endif
