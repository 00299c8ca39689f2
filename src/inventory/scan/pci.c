/* PCI display devices of the GPU vendors, from sysfs: vendor, device, class
 * and the kernel driver bound to each (tests/hosts/SOURCES.md: the H100 capture
 * shows vendor=0x10de class=0x030200 driver=../../../bus/pci/drivers/nvidia). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "inventory/inventory.h"
#include "inventory/scan/scan.h"
#include "util/xalloc.h"

#define PCI_DEVICES       "sys/bus/pci/devices"
#define PCI_CLASS_DISPLAY 0x03 /* base class: VGA 0x0300, 3D 0x0302, display 0x0380 */
/* AMD Instinct MI300-series report "Processing accelerators [1200]"
 * (apache/cloudstack#11701: MI325X, 1002:74a5, bound to amdgpu). */
#define PCI_CLASS_ACCELERATOR 0x12

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
		if (!read_hex(rootfd, de->d_name, "class", &class_id))
			continue;
		if ((class_id >> 16) != PCI_CLASS_DISPLAY &&
		    !((class_id >> 16) == PCI_CLASS_ACCELERATOR &&
		      vendor_of(vendor) == LXGPU_VENDOR_AMD))
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

/* Where modprobe reads its configuration (modprobe.d(5)). */
static const char *const modprobe_dirs[] = { "etc/modprobe.d", "run/modprobe.d",
					     "usr/local/lib/modprobe.d", "usr/lib/modprobe.d",
					     "lib/modprobe.d" };

/* The file that blacklists `module`, as a host path; NULL when none does. */
char *lxgpu_module_blacklisted_by(int rootfd, const char *module)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *cmdline = NULL;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(modprobe_dirs); i++) {
		_cleanup_closedir_ DIR *dir = NULL;
		struct dirent *de;
		lxgpu_err_clear(&err);
		if (fs_opendir_in(rootfd, modprobe_dirs[i], (void **)&dir, &err) < 0)
			continue;
		while ((de = readdir(dir))) {
			_cleanup_free_ char *text = NULL;
			size_t n = strlen(de->d_name);
			if (n < 6 || strcmp(de->d_name + n - 5, ".conf") != 0)
				continue;
			lxgpu_err_clear(&err);
			if (fs_read_child(dirfd(dir), de->d_name, 1u << 20, &text, &len, &err) ==
				    0 &&
			    modprobe_conf_blacklists(text, len, module))
				return xasprintf("/%s/%s", modprobe_dirs[i], de->d_name);
		}
	}
	lxgpu_err_clear(&err);
	if (fs_read_in(rootfd, "proc/cmdline", 65536, &cmdline, &len, &err) == 0 &&
	    cmdline_blacklists(cmdline, len, module))
		return xstrdup("the kernel command line");
	return NULL;
}

static void unusable(struct lxgpu_gpu *g, const char *reason)
{
	g->usable = false;
	free(g->reason);
	g->reason = xstrdup(reason);
}

static void check_nvidia(int rootfd, struct lxgpu_inventory *inv, struct lxgpu_gpu *g)
{
	const char *drv = g->kernel_driver;
	char fix[512];

	if (drv && strcmp(drv, "nouveau") == 0) {
		_cleanup_free_ char *by = lxgpu_module_blacklisted_by(rootfd, "nouveau");
		unusable(g, "bound to nouveau");
		if (by)
			inv_add_finding(inv, "gpu-nouveau", LXGPU_ERROR,
					"update-initramfs -u -k all && reboot",
					"GPU %d (%s) is bound to nouveau, which CUDA cannot use, "
					"although %s blacklists it: the initramfs predates the "
					"blacklist",
					g->index, g->pci, by);
		else
			inv_add_finding(
				inv, "gpu-nouveau", LXGPU_ERROR,
				"printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' > "
				"/etc/modprobe.d/blacklist-nouveau.conf && update-initramfs -u "
				"-k all && reboot",
				"GPU %d (%s) is bound to nouveau, which CUDA cannot use, and "
				"nouveau is not blacklisted",
				g->index, g->pci);
		return;
	}
	if (drv && strcmp(drv, "nvidia") != 0)
		return; /* vfio-pci and others: handled for every vendor */
	if (!drv && !inv->nvidia_loaded) {
		unusable(g, "the nvidia kernel module is not loaded");
		inv_add_finding(inv, "nvidia-module-not-loaded", LXGPU_ERROR,
				"modprobe nvidia && nvidia-smi",
				"GPU %d (%s) has no driver: the nvidia kernel module is not loaded",
				g->index, g->pci);
		return;
	}
	if (!drv) {
		unusable(g, "no driver bound");
		snprintf(fix, sizeof(fix), "echo %s > /sys/bus/pci/drivers_probe", g->pci);
		inv_add_finding(inv, "gpu-no-driver", LXGPU_ERROR, fix,
				"GPU %d (%s) is bound to no driver although nvidia is loaded",
				g->index, g->pci);
		return;
	}
	if (g->excluded) {
		unusable(g, "excluded by the nvidia driver");
		inv_add_finding(
			inv, "gpu-excluded", LXGPU_ERROR,
			"remove it from NVreg_ExcludedGpus in /etc/modprobe.d, then reload "
			"the nvidia modules (or reboot)",
			"GPU %d (%s, %s) is excluded by the nvidia driver (GPU Excluded: Yes)",
			g->index, g->pci, g->uuid ? g->uuid : "no UUID");
		return;
	}
	if (!g->has_information)
		unusable(g, "not listed in /proc/driver/nvidia/gpus");
	else if (g->minor < 0)
		unusable(g, "its device minor is unknown");
}

void inv_check_usable(int rootfd, struct lxgpu_inventory *inv)
{
	static const char *const own[] = {
		[LXGPU_VENDOR_AMD] = "amdgpu", [LXGPU_VENDOR_INTEL] = "i915 or xe"
	};
	char fix[512];

	for (size_t i = 0; i < inv->ngpus; i++) {
		struct lxgpu_gpu *g = &inv->gpus[i];
		const char *drv = g->kernel_driver;
		g->usable = true;

		if (drv && strcmp(drv, "vfio-pci") == 0) {
			unusable(g, "given to a VM (vfio-pci)");
			snprintf(fix, sizeof(fix),
				 "only to use it in containers instead: remove its ids from the "
				 "vfio-pci options (/etc/modprobe.d, kernel command line), then "
				 "echo "
				 "%s > /sys/bus/pci/drivers/vfio-pci/unbind && echo %s > "
				 "/sys/bus/pci/drivers_probe",
				 g->pci, g->pci);
			inv_add_finding(inv, "gpu-vfio", LXGPU_INFO, fix,
					"GPU %d (%s) is bound to vfio-pci: it is given to a VM, no "
					"container can use it",
					g->index, g->pci);
			continue;
		}
		if (g->vendor == LXGPU_VENDOR_NVIDIA) {
			check_nvidia(rootfd, inv, g);
			continue;
		}
		bool ok = drv && (g->vendor == LXGPU_VENDOR_AMD
					  ? strcmp(drv, "amdgpu") == 0
					  : strcmp(drv, "i915") == 0 || strcmp(drv, "xe") == 0);
		if (ok && !g->drm_render && !g->drm_card) {
			unusable(g, "it has no DRM node");
			continue;
		}
		if (ok)
			continue;
		if (!drv) {
			unusable(g, "no driver bound");
			snprintf(fix, sizeof(fix), "modprobe %s",
				 g->vendor == LXGPU_VENDOR_AMD ? "amdgpu" : "i915");
			inv_add_finding(inv, "gpu-no-driver", LXGPU_ERROR, fix,
					"GPU %d (%s) is bound to no driver", g->index, g->pci);
		} else {
			unusable(g, "bound to a driver lxgpu does not know");
			inv_add_finding(inv, "gpu-foreign-driver", LXGPU_WARNING, NULL,
					"GPU %d (%s) is bound to %s, not %s", g->index, g->pci, drv,
					own[g->vendor]);
		}
	}
}
