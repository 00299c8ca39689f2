/* PCI display devices of the GPU vendors, from sysfs: vendor, device, class
 * and the kernel driver bound to each (../shared/ref/hosts: the H100 capture
 * shows vendor=0x10de class=0x030200 driver=../../../bus/pci/drivers/nvidia). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fs.h"
#include "inventory.h"
#include "xalloc.h"

#define PCI_DEVICES       "sys/bus/pci/devices"
#define PCI_CLASS_DISPLAY 0x03 /* base class: VGA 0x0300, 3D 0x0302, display 0x0380 */

static enum lxgpu_vendor vendor_of(unsigned id)
{
	switch (id) {
	case 0x10de:
		return LXGPU_VENDOR_NVIDIA;
	case 0x1002:
		return LXGPU_VENDOR_AMD;
	case 0x8086:
		return LXGPU_VENDOR_INTEL;
	default:
		return LXGPU_VENDOR_OTHER;
	}
}

static bool read_hex(int rootfd, const char *dev, const char *file, unsigned *out)
{
	char path[128];
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct lxgpu_err err = { 0 };

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", dev, file);
	if (fs_read_in(rootfd, path, 64, &text, &len, &err) < 0)
		return false;
	return sysfs_parse_hex(text, len, out);
}

/* The driver bound to the device: the last component of its "driver" link. */
static char *bound_driver(int rootfd, const char *dev)
{
	char path[128], target[512];
	struct lxgpu_err err = { 0 };

	snprintf(path, sizeof(path), PCI_DEVICES "/%s", dev);
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, &err);
	if (fd < 0 || fs_readlink_child(fd, "driver", target, sizeof(target), &err) < 0)
		return NULL;
	const char *name = fs_basename(target);
	return name[0] ? xstrdup(name) : NULL;
}

void inv_scan_pci(int rootfd, struct lxgpu_inventory *inv)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct lxgpu_err err = { 0 };
	struct dirent *de;

	if (fs_opendir_in(rootfd, PCI_DEVICES, (void **)&dir, &err) < 0)
		return; /* no sysfs (a container, a minimal fake host): GPUs come from drivers */
	while ((de = readdir(dir))) {
		char pci[32];
		unsigned vendor, class_id;

		if (!pci_addr_parse(de->d_name, strlen(de->d_name), pci))
			continue;
		if (!read_hex(rootfd, de->d_name, "vendor", &vendor) ||
		    vendor_of(vendor) == LXGPU_VENDOR_OTHER)
			continue;
		if (!read_hex(rootfd, de->d_name, "class", &class_id) ||
		    (class_id >> 16) != PCI_CLASS_DISPLAY)
			continue;

		struct lxgpu_gpu *g = inv_add_gpu(inv);
		g->vendor = vendor_of(vendor);
		g->vendor_id = vendor;
		g->class_id = class_id;
		if (!read_hex(rootfd, de->d_name, "device", &g->device_id))
			g->device_id = 0;
		memcpy(g->pci, pci, sizeof(g->pci));
		g->kernel_driver = bound_driver(rootfd, de->d_name);
	}
}
