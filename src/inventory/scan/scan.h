/* scan: private to the inventory. The scanners (scan/<noun>.c) that
 * inventory.c runs in order, and the bookkeeping they share (scan/scan.c):
 * growing the inventory's arrays and recording findings and nodes. A scanner
 * includes this header and inventory.h for the types; it never calls into
 * inventory.c, which calls the scanners. */
#ifndef LXGPU_INVENTORY_SCAN_H
#define LXGPU_INVENTORY_SCAN_H

#include <sys/stat.h>

#include "inventory/inventory.h"

/* The bookkeeping (scan/scan.c; inv_add_gpu and inv_add_node are public:
 * inventory.h). */
void inv_add_finding(struct lxgpu_inventory *inv, const char *id, enum lxgpu_severity sev,
		     const char *fix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
struct lxgpu_gpu *inv_gpu_by_pci(struct lxgpu_inventory *inv, const char *pci);
/* Records the node at `path` (host view, beneath rootfd) if it exists. */
struct lxgpu_node *inv_stat_node(struct lxgpu_inventory *inv, int rootfd, const char *path,
				 enum lxgpu_node_role role);
struct lxgpu_node *inv_add_node_stat(struct lxgpu_inventory *inv, const char *path,
				     enum lxgpu_node_role role, const struct stat *st);
struct lxgpu_driver *inv_add_driver(struct lxgpu_inventory *inv);

/* The scanners, in the order inventory.c runs them. */
void inv_scan_pci(int rootfd, struct lxgpu_inventory *inv);    /* scan/pci.c */
void inv_scan_nvidia(int rootfd, struct lxgpu_inventory *inv); /* scan/nvidia.c */
void inv_scan_nvidia_nodes(int rootfd, struct lxgpu_inventory *inv);
void inv_scan_mig(int rootfd, struct lxgpu_inventory *inv); /* scan/mig.c */
void inv_check_nvidia_nodes(int rootfd, struct lxgpu_inventory *inv);
void inv_scan_drm(int rootfd, struct lxgpu_inventory *inv); /* scan/drm.c */
void inv_scan_kfd(int rootfd, struct lxgpu_inventory *inv);
void inv_scan_kernel_drivers(int rootfd, struct lxgpu_inventory *inv);
void inv_check_usable(int rootfd, struct lxgpu_inventory *inv); /* scan/pci.c */

#endif
