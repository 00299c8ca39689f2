/* DRM nodes (/dev/dri/cardN, renderDN) of every GPU, mapped to their PCI
 * device through sysfs and never through their numbers, which change between
 * boots on multi-GPU hosts (tests/hosts/SOURCES.md §3); AMD's /dev/kfd; and the
 * in-kernel drivers amdgpu, i915 and xe. */
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

#define DRM_CLASS "sys/class/drm"

/* "../../devices/pci0000:00/0000:00:02.0/drm/card1" -> "0000:00:02.0";
 * "../../devices/platform/amdgpu_xcp.55/drm/card192" -> "amdgpu_xcp.55". */
static bool drm_parent(const char *target, char *out, size_t size)
{
	const char *drm = NULL;
	for (const char *p = strstr(target, "/drm/"); p; p = strstr(p + 1, "/drm/"))
		drm = p;
	if (!drm)
		return false;
	const char *start = drm;
	while (start > target && start[-1] != '/')
		start--;
	size_t len = (size_t)(drm - start);
	if (len == 0 || len >= size)
		return false;
	memcpy(out, start, len);
	out[len] = '\0';
	return true;
}

/* The parent device of a DRM entry: from the class link, or from the entry's
 * own "device" link when the class entry is a directory. */
static bool entry_parent(int rootfd, int classfd, const char *name, char *out, size_t size)
{
	char target[512], path[256];
	struct lxgpu_err err = { 0 };

	if (fs_readlink_child(classfd, name, target, sizeof(target), &err) == 0)
		return drm_parent(target, out, size);
	snprintf(path, sizeof(path), DRM_CLASS "/%s", name);
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, &err);
	if (fd < 0 || fs_readlink_child(fd, "device", target, sizeof(target), &err) < 0)
		return false;
	snprintf(out, size, "%s", fs_basename(target));
	return out[0] != '\0';
}

static void scan_entry(int rootfd, int classfd, struct lxgpu_inventory *inv, const char *name,
		       enum lxgpu_node_role role, int drm_major)
{
	char parent[128], pci[32], path[256];
	_cleanup_free_ char *dev = NULL;
	struct lxgpu_err err = { 0 };
	unsigned major = 0, minor = 0;
	size_t len;

	if (!entry_parent(rootfd, classfd, name, parent, sizeof(parent)))
		return;
	struct lxgpu_gpu *g =
		pci_addr_parse(parent, strlen(parent), pci) ? inv_gpu_by_pci(inv, pci) : NULL;
	if (!g) {
		if (!pci_addr_parse(parent, strlen(parent), pci))
			inv_add_finding(inv, "drm-node-without-pci-device", LXGPU_INFO, NULL,
					"/dev/dri/%s belongs to %s, not to a PCI device (a GPU "
					"partition?): it cannot be selected by GPU",
					name, parent);
		return; /* a DRM device of another vendor, e.g. a BMC's VGA */
	}
	snprintf(path, sizeof(path), DRM_CLASS "/%s/dev", name);
	bool have_dev = fs_read_in(rootfd, path, 64, &dev, &len, &err) == 0 &&
			sysfs_parse_dev(dev, len, &major, &minor);

	snprintf(path, sizeof(path), "/dev/dri/%s", name);
	struct lxgpu_node *n = inv_stat_node(inv, rootfd, path, role);
	if (!n) {
		inv_add_finding(inv, "drm-node-missing", LXGPU_WARNING,
				"udevadm trigger --subsystem-match=drm",
				"%s of GPU %d (%s) does not exist although the kernel has it%s%s",
				path, g->index, g->pci, have_dev ? " as " : "",
				have_dev ? dev : "");
		return;
	}
	n->gpu = g->index;
	char **slot = role == LXGPU_NODE_DRI_CARD ? &g->drm_card : &g->drm_render;
	free(*slot);
	*slot = xstrdup(path);
	if (n->type != 'c') {
		char fix[320];
		snprintf(fix, sizeof(fix), "rm -f %s && udevadm trigger --subsystem-match=drm",
			 path);
		inv_add_finding(inv, "node-not-a-device", LXGPU_ERROR, fix,
				"%s is not a character device (a leftover of a bind mount with "
				"create=file?)",
				path);
	} else if (have_dev && (n->major != major || n->minor != minor)) {
		char fix[320];
		snprintf(fix, sizeof(fix), "rm -f %s && udevadm trigger --subsystem-match=drm",
			 path);
		inv_add_finding(inv, "node-major-stale", LXGPU_ERROR, fix,
				"%s is %u:%u but the kernel's %s is %u:%u", path, n->major,
				n->minor, name, major, minor);
	} else if (drm_major >= 0 && n->major != (unsigned)drm_major) {
		inv_add_finding(inv, "node-major-stale", LXGPU_ERROR, NULL,
				"%s is %u:%u but /proc/devices registers drm as major %d", path,
				n->major, n->minor, drm_major);
	}
}

/* The stable name of a GPU's DRM node: /dev/dri/by-path/pci-<bus>-render. */
static void scan_by_path(int rootfd, struct lxgpu_inventory *inv, struct lxgpu_gpu *g)
{
	static const char *const kinds[] = { "render", "card" };
	char path[128], target[256];
	struct lxgpu_err err = { 0 };

	_cleanup_close_ int fd =
		fs_open_in(rootfd, "dev/dri/by-path", O_PATH | O_DIRECTORY, 0, &err);
	if (fd < 0)
		return;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		const char *node = k == 0 ? g->drm_render : g->drm_card;
		char name[96];
		snprintf(name, sizeof(name), "pci-%s-%s", g->pci, kinds[k]);
		lxgpu_err_clear(&err);
		if (!node || fs_readlink_child(fd, name, target, sizeof(target), &err) < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/dri/by-path/%s", name);
		if (strcmp(fs_basename(target), fs_basename(node)) != 0) {
			inv_add_finding(inv, "drm-by-path-stale", LXGPU_WARNING,
					"udevadm trigger --subsystem-match=drm",
					"%s points to %s but GPU %d's %s node is %s", path, target,
					g->index, kinds[k], node);
			continue;
		}
		if (!g->drm_by_path)
			g->drm_by_path = xstrdup(path);
	}
}

void inv_scan_drm(int rootfd, struct lxgpu_inventory *inv)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct lxgpu_err err = { 0 };
	struct dirent *de;
	unsigned number;

	if (fs_opendir_in(rootfd, DRM_CLASS, (void **)&dir, &err) < 0)
		return;
	int drm_major = proc_devices_major(&inv->majors, "drm");
	size_t first = inv->nnodes;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "renderD", 7) == 0 &&
		    parse_name_number(de->d_name + 7, 1u << 20, &number))
			scan_entry(rootfd, dirfd(dir), inv, de->d_name, LXGPU_NODE_DRI_RENDER,
				   drm_major);
		else if (strncmp(de->d_name, "card", 4) == 0 &&
			 parse_name_number(de->d_name + 4, 1u << 20, &number))
			scan_entry(rootfd, dirfd(dir), inv, de->d_name, LXGPU_NODE_DRI_CARD,
				   drm_major);
	}
	/* readdir order is the directory's: sort by role, then minor. */
	for (size_t i = first + 1; i < inv->nnodes; i++)
		for (size_t j = i; j > first; j--) {
			struct lxgpu_node *a = &inv->nodes[j - 1], *b = &inv->nodes[j];
			if (a->role < b->role || (a->role == b->role && a->minor <= b->minor))
				break;
			struct lxgpu_node t = *a;
			*a = *b;
			*b = t;
		}
	for (size_t i = 0; i < inv->ngpus; i++)
		if (inv->gpus[i].drm_card || inv->gpus[i].drm_render)
			scan_by_path(rootfd, inv, &inv->gpus[i]);
}

static bool has_gpu_bound_to(const struct lxgpu_inventory *inv, const char *driver)
{
	for (size_t i = 0; i < inv->ngpus; i++)
		if (inv->gpus[i].kernel_driver && strcmp(inv->gpus[i].kernel_driver, driver) == 0)
			return true;
	return false;
}

void inv_scan_kfd(int rootfd, struct lxgpu_inventory *inv)
{
	int kfd_major = proc_devices_major(&inv->majors, "kfd");
	struct lxgpu_node *n = inv_stat_node(inv, rootfd, "/dev/kfd", LXGPU_NODE_KFD);

	if (!n) {
		if (has_gpu_bound_to(inv, "amdgpu"))
			inv_add_finding(inv, "amd-kfd-missing", LXGPU_WARNING,
					kfd_major >= 0 ? "udevadm trigger --name-match=kfd"
						       : "modprobe amdgpu",
					"/dev/kfd does not exist%s: ROCm and HIP need it",
					kfd_major >= 0
						? ""
						: " and no kfd driver is registered (a kernel "
						  "without CONFIG_HSA_AMD?)");
		return;
	}
	if (n->type != 'c')
		inv_add_finding(inv, "node-not-a-device", LXGPU_ERROR,
				"rm -f /dev/kfd && udevadm trigger --name-match=kfd",
				"/dev/kfd is not a character device");
	else if (kfd_major >= 0 && n->major != (unsigned)kfd_major)
		inv_add_finding(inv, "node-major-stale", LXGPU_ERROR,
				"rm -f /dev/kfd && udevadm trigger --name-match=kfd",
				"/dev/kfd is %u:%u but /proc/devices registers kfd as major %d",
				n->major, n->minor, kfd_major);
}

void inv_scan_kernel_drivers(int rootfd, struct lxgpu_inventory *inv)
{
	static const struct {
		const char *name;
		enum lxgpu_vendor vendor;
	} drivers[] = {
		{ "amdgpu", LXGPU_VENDOR_AMD },
		{ "i915", LXGPU_VENDOR_INTEL },
		{ "xe", LXGPU_VENDOR_INTEL },
	};
	_cleanup_free_ char *release = NULL;
	struct lxgpu_err err = { 0 };
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		_cleanup_free_ char *modver = NULL;
		char path[64];

		if (!has_gpu_bound_to(inv, drivers[i].name))
			continue;
		struct lxgpu_driver *d = inv_add_driver(inv);
		d->vendor = drivers[i].vendor;
		d->name = xstrdup(drivers[i].name);
		/* Only out-of-tree (DKMS) builds have a version (tests/hosts/SOURCES.md §1.8). */
		snprintf(path, sizeof(path), "sys/module/%s/version", drivers[i].name);
		lxgpu_err_clear(&err);
		if (fs_read_in(rootfd, path, 256, &modver, &len, &err) == 0 && len > 0) {
			modver[strcspn(modver, " \t\r\n")] = '\0';
			d->version = xstrdup(modver);
			d->kind = xstrdup("dkms");
			continue;
		}
		if (!release) {
			lxgpu_err_clear(&err);
			if (fs_read_in(rootfd, "proc/sys/kernel/osrelease", 256, &release, &len,
				       &err) == 0)
				release[strcspn(release, " \t\r\n")] = '\0';
		}
		d->version = xstrdup(release && release[0] ? release : "unknown");
		d->kind = xstrdup("in-kernel");
	}
}
