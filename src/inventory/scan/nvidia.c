/* NVIDIA: the kernel module's version and kind, its GPUs, and its device
 * nodes checked against /proc/devices. Only kernel interfaces are read (no
 * NVML, no nvidia-smi): nv-procfs.c of open-gpu-kernel-modules. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "inventory/inventory.h"
#include "inventory/scan/scan.h"
#include "util/version.h"
#include "util/xalloc.h"

#define NV_PROC            "proc/driver/nvidia"
#define NV_MAJOR           195 /* fixed: NV_MAJOR_DEVICE_NUMBER (nv.h of open-gpu-kernel-modules) */
#define NV_CTL_MINOR       255
#define NV_MODESET_MINOR   254
#define NV_UVM_MINOR       0
#define NV_UVM_TOOLS_MINOR 1

static void set_cuda(struct lxgpu_inventory *inv, struct lxgpu_driver *d)
{
	struct lxgpu_version v;
	unsigned major, minor;
	bool newer;

	if (!version_parse(d->version, strlen(d->version), &v))
		return;
	if (!cuda_for_driver(&v, &major, &minor, &newer)) {
		inv_add_finding(inv, "nvidia-driver-too-old", LXGPU_WARNING, NULL,
				"driver %s is older than every CUDA release lxgpu knows (7.0 needs "
				"346.46)",
				d->version);
		return;
	}
	d->cuda = xasprintf("%u.%u", major, minor);
	if (newer)
		inv_add_finding(inv, "cuda-table-outdated", LXGPU_INFO, NULL,
				"driver %s is newer than lxgpu's CUDA table: it supports CUDA %s "
				"or newer",
				d->version, d->cuda);
}

static void scan_driver(int rootfd, struct lxgpu_inventory *inv)
{
	_cleanup_free_ char *text = NULL, *modver = NULL;
	struct lxgpu_err err = { 0 }, moderr = { 0 };
	struct nv_version_info info = { "", NV_KIND_UNKNOWN };
	size_t len = 0, modlen = 0;
	bool have_proc = false;

	int r = fs_read_in(rootfd, NV_PROC "/version", FS_PROC_MAX, &text, &len, &err);
	if (r == -ENOENT) {
		inv->nvidia_loaded = false;
	} else if (r < 0) {
		inv->nvidia_loaded = true;
		inv_add_finding(inv, "nvidia-version-unreadable", LXGPU_ERROR, NULL, "%s", err.msg);
	} else {
		inv->nvidia_loaded = true;
		have_proc = nv_version_parse(text, len, &info);
		if (!have_proc)
			inv_add_finding(inv, "nvidia-version-unparsable", LXGPU_ERROR, NULL,
					"/proc/driver/nvidia/version has no \"NVRM version:\" line "
					"with a driver version");
	}

	/* The module's own version: the same number unless the module was swapped. */
	if (fs_read_in(rootfd, "sys/module/nvidia/version", 256, &modver, &modlen, &moderr) == 0) {
		const char *v = modver;
		size_t vlen = strcspn(v, " \t\r\n");
		struct lxgpu_version parsed;
		if (version_parse(v, vlen, &parsed)) {
			modver[vlen] = '\0';
			if (!have_proc && inv->nvidia_loaded) {
				snprintf(info.version, sizeof(info.version), "%s", v);
				have_proc = true;
			} else if (have_proc && strcmp(info.version, v) != 0) {
				inv_add_finding(inv, "nvidia-version-inconsistent", LXGPU_WARNING,
						"reboot the host, or unload and reload the nvidia "
						"modules",
						"/proc/driver/nvidia/version says %s but "
						"/sys/module/nvidia/version says %s",
						info.version, v);
			}
		}
	}
	if (!have_proc)
		return;

	struct lxgpu_driver *d = inv_add_driver(inv);
	d->vendor = LXGPU_VENDOR_NVIDIA;
	d->name = xstrdup("nvidia");
	d->version = xstrdup(info.version);
	d->kind = xstrdup(info.kind == NV_KIND_OPEN          ? "open"
			  : info.kind == NV_KIND_PROPRIETARY ? "proprietary"
							     : "unknown");
	set_cuda(inv, d);
}

static void scan_gpus(int rootfd, struct lxgpu_inventory *inv)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct lxgpu_err err = { 0 };
	struct dirent *de;

	if (fs_opendir_in(rootfd, NV_PROC "/gpus", (void **)&dir, &err) < 0) {
		if (err.code != ENOENT)
			inv_add_finding(inv, "nvidia-gpus-unreadable", LXGPU_ERROR, NULL, "%s",
					err.msg);
		return;
	}
	while ((de = readdir(dir))) {
		_cleanup_free_ char *text = NULL;
		struct nv_information info;
		char path[512];
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), NV_PROC "/gpus/%s/information", de->d_name);
		lxgpu_err_clear(&err);
		if (fs_read_in(rootfd, path, FS_PROC_MAX, &text, &len, &err) < 0) {
			inv_add_finding(inv, "nvidia-information-unreadable", LXGPU_WARNING, NULL,
					"%s", err.msg);
			continue;
		}
		if (!nv_information_parse(text, len, &info)) {
			inv_add_finding(inv, "nvidia-information-unparsable", LXGPU_WARNING, NULL,
					"/%s has no valid \"GPU UUID\" and \"Bus Location\": GPU "
					"skipped",
					path);
			continue;
		}
		struct lxgpu_gpu *g = inv_gpu_by_pci(inv, info.pci);
		if (!g) {
			/* Listed by the driver but not seen in sysfs: trust the driver. */
			g = inv_add_gpu(inv);
			g->vendor = LXGPU_VENDOR_NVIDIA;
			g->vendor_id = 0x10de;
			memcpy(g->pci, info.pci, sizeof(g->pci));
			g->kernel_driver = xstrdup("nvidia");
		}
		free(g->model);
		free(g->uuid);
		g->model = xstrdup(info.model[0] ? info.model : "NVIDIA GPU");
		g->uuid = xstrdup(info.uuid);
		g->minor = info.minor;
		g->excluded = info.excluded == 1;
		g->has_information = true;
		if (info.minor < 0)
			inv_add_finding(inv, "nvidia-minor-unknown", LXGPU_WARNING, NULL,
					"/%s has no \"Device Minor\" (an old driver): the device "
					"node of GPU %s is not known",
					path, info.uuid);
	}
}

/* Which NVIDIA node a /dev name is, and the minor it must have (-1: any). */
static bool classify(const char *name, enum lxgpu_node_role *role, int *minor)
{
	static const struct {
		const char *name;
		enum lxgpu_node_role role;
		int minor;
	} fixed[] = {
		{ "nvidiactl", LXGPU_NODE_CTL, NV_CTL_MINOR },
		{ "nvidia-modeset", LXGPU_NODE_MODESET, NV_MODESET_MINOR },
		{ "nvidia-uvm", LXGPU_NODE_UVM, NV_UVM_MINOR },
		{ "nvidia-uvm-tools", LXGPU_NODE_UVM_TOOLS, NV_UVM_TOOLS_MINOR },
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (strcmp(name, fixed[i].name) == 0) {
			*role = fixed[i].role;
			*minor = fixed[i].minor;
			return true;
		}
	unsigned n;
	if (strncmp(name, "nvidia", 6) == 0 && parse_name_number(name + 6, 253, &n)) {
		*role = LXGPU_NODE_GPU;
		*minor = (int)n;
		return true;
	}
	return false;
}

/* The minor a node's name demands: nvidia3 is 195:3, nvidia-cap21 is N:21. */
static int name_minor(const struct lxgpu_node *n)
{
	const char *name = fs_basename(n->path);
	enum lxgpu_node_role role;
	unsigned number;
	int minor = -1;

	if (n->role == LXGPU_NODE_CAP)
		return parse_name_number(name + 10, 1u << 20, &number) ? (int)number : -1;
	return classify(name, &role, &minor) ? minor : -1;
}

static void record_node(struct lxgpu_inventory *inv, int dirfd, const char *dirpath,
			const char *name, enum lxgpu_node_role role)
{
	struct stat st;
	char path[512];

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return; /* removed between readdir and stat */
	snprintf(path, sizeof(path), "/%s/%s", dirpath, name);
	inv_add_node_stat(inv, path, role, &st);
}

static void scan_caps_dir(int devfd, struct lxgpu_inventory *inv)
{
	struct lxgpu_err err = { 0 };
	int fd = fs_open_child(devfd, "nvidia-caps", O_RDONLY | O_DIRECTORY, &err);
	if (fd < 0)
		return;
	_cleanup_closedir_ DIR *dir = fs_fdopendir(fd);
	if (!dir)
		return;
	struct dirent *de;
	unsigned n;
	while ((de = readdir(dir)))
		if (strncmp(de->d_name, "nvidia-cap", 10) == 0 &&
		    parse_name_number(de->d_name + 10, 1u << 20, &n))
			record_node(inv, dirfd(dir), "dev/nvidia-caps", de->d_name, LXGPU_NODE_CAP);
}

static int node_order(const void *a, const void *b)
{
	const struct lxgpu_node *x = a, *y = b;
	if (x->role != y->role)
		return (int)x->role - (int)y->role;
	if (x->minor != y->minor)
		return x->minor < y->minor ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* "nvidia-modprobe ..." that recreates an NVIDIA node (NVIDIA/nvidia-modprobe). */
static char *nvidia_node_fix(const struct lxgpu_node *n, bool remove_first)
{
	char cmd[512];
	switch (n->role) {
	case LXGPU_NODE_GPU:
		snprintf(cmd, sizeof(cmd), "nvidia-modprobe -c %u", n->minor);
		break;
	case LXGPU_NODE_CTL:
		snprintf(cmd, sizeof(cmd), "nvidia-modprobe -c 255");
		break;
	case LXGPU_NODE_MODESET:
		snprintf(cmd, sizeof(cmd), "nvidia-modprobe -m");
		break;
	case LXGPU_NODE_UVM:
	case LXGPU_NODE_UVM_TOOLS:
		return xasprintf("%snvidia-modprobe -u -c 0",
				 remove_first ? "rm -f /dev/nvidia-uvm /dev/nvidia-uvm-tools && "
					      : "");
	default:
		if (n->capability)
			snprintf(cmd, sizeof(cmd),
				 "nvidia-modprobe -f /proc/driver/nvidia/capabilities/%s",
				 n->capability);
		else
			snprintf(cmd, sizeof(cmd),
				 "nvidia-modprobe -f /proc/driver/nvidia/capabilities/<the file "
				 "whose DeviceFileMinor is %u>",
				 n->minor);
		break;
	}
	return remove_first ? xasprintf("rm -f %s && %s", n->path, cmd) : xstrdup(cmd);
}

static const char *expected_major_name(const struct lxgpu_inventory *inv, enum lxgpu_node_role r,
				       int *major)
{
	switch (r) {
	case LXGPU_NODE_GPU:
	case LXGPU_NODE_CTL:
	case LXGPU_NODE_MODESET:
		/* Called nvidia-frontend before driver 550.40 (nv.h of open-gpu-kernel-modules). */
		*major = proc_devices_major(&inv->majors, "nvidia");
		if (*major >= 0)
			return "nvidia";
		*major = proc_devices_major(&inv->majors, "nvidia-frontend");
		return "nvidia-frontend";
	case LXGPU_NODE_UVM:
	case LXGPU_NODE_UVM_TOOLS:
		*major = proc_devices_major(&inv->majors, "nvidia-uvm");
		return "nvidia-uvm";
	default:
		*major = proc_devices_major(&inv->majors, "nvidia-caps");
		return "nvidia-caps";
	}
}

static void check_node(struct lxgpu_inventory *inv, struct lxgpu_node *n, int want_minor)
{
	int want_major;
	const char *name = expected_major_name(inv, n->role, &want_major);
	_cleanup_free_ char *fix = NULL;

	if (n->type != 'c') {
		fix = nvidia_node_fix(n, true);
		inv_add_finding(inv, "node-not-a-device", LXGPU_ERROR, fix,
				"%s is not a character device (a leftover of a bind mount with "
				"create=file?)",
				n->path);
		return;
	}
	if (!inv->have_proc_devices)
		return;
	if (want_major < 0) {
		if (inv->nvidia_loaded)
			inv_add_finding(inv, "node-without-driver", LXGPU_WARNING, NULL,
					"%s is %u:%u but no driver has registered \"%s\" in "
					"/proc/devices",
					n->path, n->major, n->minor, name);
		return;
	}
	if (n->major != (unsigned)want_major) {
		fix = nvidia_node_fix(n, true);
		inv_add_finding(inv, "node-major-stale", LXGPU_ERROR, fix,
				"%s is %u:%u but /proc/devices registers %s as major %d "
				"(a node left from another kernel or driver)",
				n->path, n->major, n->minor, name, want_major);
	} else if (want_minor >= 0 && n->minor != (unsigned)want_minor) {
		fix = nvidia_node_fix(n, true);
		inv_add_finding(inv, "node-minor-wrong", LXGPU_ERROR, fix,
				"%s is %u:%u but must be %d:%d", n->path, n->major, n->minor,
				want_major, want_minor);
	}
}

static const struct lxgpu_node *find_node(const struct lxgpu_inventory *inv,
					  enum lxgpu_node_role role, int minor)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (inv->nodes[i].role == role &&
		    (minor < 0 || inv->nodes[i].minor == (unsigned)minor))
			return &inv->nodes[i];
	return NULL;
}

static void check_missing(int rootfd, struct lxgpu_inventory *inv)
{
	struct stat st;
	struct lxgpu_err err = { 0 };

	if (!inv->nvidia_loaded)
		return;
	if (!find_node(inv, LXGPU_NODE_CTL, -1))
		inv_add_finding(inv, "nvidiactl-missing", LXGPU_ERROR, "nvidia-modprobe -c 255",
				"/dev/nvidiactl does not exist: no container (and no host program) "
				"can use the GPUs");
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		if (g->vendor != LXGPU_VENDOR_NVIDIA || g->minor < 0 || !g->has_information)
			continue;
		if (!find_node(inv, LXGPU_NODE_GPU, g->minor)) {
			char fix[64];
			snprintf(fix, sizeof(fix), "nvidia-modprobe -c %d", g->minor);
			inv_add_finding(inv, "nvidia-gpu-node-missing", LXGPU_ERROR, fix,
					"/dev/nvidia%d of GPU %d (%s) does not exist", g->minor,
					g->index, g->pci);
		}
	}
	bool uvm_loaded = proc_devices_major(&inv->majors, "nvidia-uvm") >= 0;
	if (!find_node(inv, LXGPU_NODE_UVM, -1))
		inv_add_finding(
			inv, "nvidia-uvm-missing", LXGPU_WARNING, "nvidia-modprobe -u -c 0",
			"/dev/nvidia-uvm does not exist%s: normal after boot until something "
			"uses CUDA on the host, but until then containers get no CUDA",
			uvm_loaded ? "" : " and the nvidia-uvm module is not loaded");
	else if (!find_node(inv, LXGPU_NODE_UVM_TOOLS, -1))
		inv_add_finding(inv, "nvidia-uvm-tools-missing", LXGPU_WARNING,
				"nvidia-modprobe -u -c 0",
				"/dev/nvidia-uvm-tools does not exist (CUDA profilers need it)");
	if (!find_node(inv, LXGPU_NODE_MODESET, -1) &&
	    fs_lstat_in(rootfd, "sys/module/nvidia_modeset", &st, &err) == 0)
		inv_add_finding(inv, "nvidia-modeset-missing", LXGPU_INFO, "nvidia-modprobe -m",
				"nvidia_modeset is loaded but /dev/nvidia-modeset does not exist");
}

void inv_scan_nvidia(int rootfd, struct lxgpu_inventory *inv)
{
	scan_driver(rootfd, inv);
	scan_gpus(rootfd, inv);
}

void inv_scan_nvidia_nodes(int rootfd, struct lxgpu_inventory *inv)
{
	struct lxgpu_err err = { 0 };
	struct dirent *de;
	int fd = fs_open_in(rootfd, "dev", O_RDONLY | O_DIRECTORY, 0, &err);
	if (fd < 0) {
		inv_add_finding(inv, "dev-unreadable", LXGPU_ERROR, NULL, "%s", err.msg);
		return;
	}
	_cleanup_closedir_ DIR *dir = fs_fdopendir(fd);
	if (!dir)
		return;
	size_t first = inv->nnodes;
	while ((de = readdir(dir))) {
		enum lxgpu_node_role role;
		int minor;
		if (strcmp(de->d_name, "nvidia-caps") == 0)
			scan_caps_dir(dirfd(dir), inv);
		else if (classify(de->d_name, &role, &minor))
			record_node(inv, dirfd(dir), "dev", de->d_name, role);
	}
	if (inv->nnodes - first > 1)
		qsort(inv->nodes + first, inv->nnodes - first, sizeof(*inv->nodes), node_order);

	for (size_t i = first; i < inv->nnodes; i++) {
		struct lxgpu_node *n = &inv->nodes[i];
		int minor = name_minor(n);
		for (size_t g = 0; n->role == LXGPU_NODE_GPU && g < inv->ngpus; g++)
			if (inv->gpus[g].vendor == LXGPU_VENDOR_NVIDIA &&
			    inv->gpus[g].minor == minor)
				n->gpu = inv->gpus[g].index;
	}
}

void inv_check_nvidia_nodes(int rootfd, struct lxgpu_inventory *inv)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (inv->nodes[i].role <= LXGPU_NODE_CAP)
			check_node(inv, &inv->nodes[i], name_minor(&inv->nodes[i]));
	check_missing(rootfd, inv);
}
