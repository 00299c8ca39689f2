/* inventory: the scan's order, the lookups of its result and its release.
 * Vendors and node kinds are the scanners' (scan/<noun>.c, with their shared
 * bookkeeping in scan/scan.c): this file calls them, they never call it. */
#include "inventory/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inventory/scan/scan.h"
#include "util/fs.h"

const char *lxgpu_vendor_name(enum lxgpu_vendor v)
{
	switch (v) {
	case LXGPU_VENDOR_NVIDIA:
		return "nvidia";
	case LXGPU_VENDOR_AMD:
		return "amd";
	case LXGPU_VENDOR_INTEL:
		return "intel";
	case LXGPU_VENDOR_OTHER:
		break;
	}
	return "other";
}

const char *lxgpu_severity_name(enum lxgpu_severity s)
{
	switch (s) {
	case LXGPU_ERROR:
		return "error";
	case LXGPU_WARNING:
		return "warning";
	case LXGPU_INFO:
		break;
	}
	return "info";
}

const char *lxgpu_node_role_name(enum lxgpu_node_role r)
{
	static const char *const names[] = {
		[LXGPU_NODE_GPU] = "gpu",
		[LXGPU_NODE_CTL] = "ctl",
		[LXGPU_NODE_MODESET] = "modeset",
		[LXGPU_NODE_UVM] = "uvm",
		[LXGPU_NODE_UVM_TOOLS] = "uvm-tools",
		[LXGPU_NODE_CAP] = "cap",
		[LXGPU_NODE_DRI_CARD] = "card",
		[LXGPU_NODE_DRI_RENDER] = "render",
		[LXGPU_NODE_KFD] = "kfd",
	};
	return (size_t)r < sizeof(names) / sizeof(names[0]) && names[r] ? names[r] : "unknown";
}

size_t lxgpu_gpu_nodes(const struct lxgpu_inventory *inv, int index, const struct lxgpu_node **out,
		       size_t max)
{
	size_t n = 0;
	/* MIG capability nodes belong to one instance each: listed under gpus[].mig. */
	for (size_t i = 0; i < inv->nnodes && n < max; i++)
		if (inv->nodes[i].gpu == index && inv->nodes[i].role != LXGPU_NODE_CAP)
			out[n++] = &inv->nodes[i];
	return n;
}

const char *lxgpu_nvidia_version(const struct lxgpu_inventory *inv)
{
	for (size_t i = 0; i < inv->ndrivers; i++)
		if (inv->drivers[i].vendor == LXGPU_VENDOR_NVIDIA)
			return inv->drivers[i].version;
	return NULL;
}

const char *lxgpu_gpu_id(const struct lxgpu_gpu *g)
{
	return g->uuid ? g->uuid : g->pci;
}

const struct lxgpu_gpu *lxgpu_gpu_find(const struct lxgpu_inventory *inv, const char *recorded)
{
	char pci[32], id[64];
	/* "GPU-…/2/0" records one MIG instance of the GPU */
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(recorded, "/"), recorded);
	bool is_pci = pci_addr_parse(id, strlen(id), pci);
	for (size_t g = 0; g < inv->ngpus; g++)
		if ((inv->gpus[g].uuid && strcasecmp(inv->gpus[g].uuid, id) == 0) ||
		    (is_pci && strcmp(inv->gpus[g].pci, pci) == 0))
			return &inv->gpus[g];
	return NULL;
}

size_t lxgpu_findings_count(const struct lxgpu_inventory *inv, enum lxgpu_severity min)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->nfindings; i++)
		if (inv->findings[i].severity >= min)
			n++;
	return n;
}

static int gpu_order(const void *a, const void *b)
{
	const struct lxgpu_gpu *x = a, *y = b;
	/* GPUs the kernel gave no PCI address (fake or broken hosts) go last. */
	if (!x->pci[0] || !y->pci[0])
		return (int)!x->pci[0] - (int)!y->pci[0];
	return pci_addr_cmp(x->pci, y->pci);
}

void lxgpu_inventory_scan(int rootfd, struct lxgpu_inventory *inv)
{
	_Static_assert(LXGPU_INFO < LXGPU_WARNING && LXGPU_WARNING < LXGPU_ERROR, "severity order");
	char *text = NULL;
	size_t len = 0;
	struct lxgpu_err local = { 0 };

	memset(inv, 0, sizeof(*inv));
	if (fs_read_in(rootfd, "proc/devices", FS_PROC_MAX, &text, &len, &local) == 0) {
		inv->have_proc_devices = proc_devices_parse(text, len, &inv->majors);
		if (!inv->have_proc_devices)
			inv_add_finding(inv, "proc-devices-unparsable", LXGPU_ERROR, NULL,
					"/proc/devices has no \"Character devices:\" section; "
					"device majors cannot be checked");
	} else {
		inv_add_finding(inv, "proc-devices-unreadable", LXGPU_ERROR, NULL,
				"%s; device majors cannot be checked", local.msg);
	}
	free(text);

	inv_scan_pci(rootfd, inv);
	inv_scan_nvidia(rootfd, inv);
	if (inv->ngpus > 1)
		qsort(inv->gpus, inv->ngpus, sizeof(*inv->gpus), gpu_order);
	for (size_t i = 0; i < inv->ngpus; i++)
		inv->gpus[i].index = (int)i;
	inv_scan_nvidia_nodes(rootfd, inv);
	inv_scan_mig(rootfd, inv);
	inv_check_nvidia_nodes(rootfd, inv);
	inv_scan_drm(rootfd, inv);
	inv_scan_kfd(rootfd, inv);
	inv_scan_kernel_drivers(rootfd, inv);
	inv_check_usable(rootfd, inv);

	if (inv->ngpus == 0)
		inv_add_finding(
			inv, "no-gpu", LXGPU_ERROR, "lspci -nnk | grep -EA3 'VGA|3D|Display'",
			"no GPU found: no NVIDIA, AMD or Intel display device on the PCI bus "
			"and none listed by a loaded driver");
}

void lxgpu_inventory_free(struct lxgpu_inventory *inv)
{
	for (size_t i = 0; i < inv->ndrivers; i++) {
		free(inv->drivers[i].name);
		free(inv->drivers[i].version);
		free(inv->drivers[i].kind);
		free(inv->drivers[i].cuda);
	}
	for (size_t i = 0; i < inv->ngpus; i++) {
		free(inv->gpus[i].model);
		free(inv->gpus[i].uuid);
		free(inv->gpus[i].kernel_driver);
	}
	for (size_t i = 0; i < inv->ngpus; i++) {
		free(inv->gpus[i].drm_card);
		free(inv->gpus[i].drm_render);
		free(inv->gpus[i].drm_by_path);
		free(inv->gpus[i].reason);
		for (size_t m = 0; m < inv->gpus[i].nmig; m++)
			free(inv->gpus[i].mig[m].access);
		free(inv->gpus[i].mig);
	}
	for (size_t i = 0; i < inv->nnodes; i++) {
		free(inv->nodes[i].path);
		free(inv->nodes[i].capability);
	}
	for (size_t i = 0; i < inv->nfindings; i++) {
		free(inv->findings[i].message);
		free(inv->findings[i].fix);
	}
	free(inv->drivers);
	free(inv->gpus);
	free(inv->nodes);
	free(inv->findings);
	proc_devices_free(&inv->majors);
	memset(inv, 0, sizeof(*inv));
}
