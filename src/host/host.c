/* host: the host's driver state, read beneath the root fd on top of the
 * inventory (which already has the GPUs, their bound drivers, the loaded
 * NVIDIA module and the nodes), and the status lines made of it. */
#include "host/host.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/dpkg.h"
#include "util/fs.h"
#include "nodes/nodes.h"
#include "util/version.h"
#include "inventory/procfs.h"
#include "util/xalloc.h"

/* Where systemd looks for units of the system instance (systemd.unit(5)). */
static const char *const unit_dirs[] = { "etc/systemd/system", "usr/local/lib/systemd/system",
					 "usr/lib/systemd/system", "lib/systemd/system" };

static bool exists(int rootfd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool exists(int rootfd, const char *fmt, ...)
{
	char path[512];
	struct stat st;
	struct lxgpu_err err = { 0 };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_PATH, 0, &err);
	return fd >= 0 && fstat(fd, &st) == 0;
}

static void add(struct host_state *st, const char *id, enum host_status s, const char *fix,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add(struct host_state *st, const char *id, enum host_status s, const char *fix,
		const char *fmt, ...)
{
	va_list ap;
	char msg[1024];
	xgrow(&st->lines, &st->cap, st->nlines + 1, sizeof(*st->lines));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->lines[st->nlines++] = (struct host_line){
		.id = id, .status = s, .message = xstrdup(msg), .fix = fix ? xstrdup(fix) : NULL
	};
}

/* What dpkg says: pve-manager (a Proxmox VE host), and Debian's NVIDIA DKMS
 * packages, which build the module under another DKMS name (nvidia-current),
 * so /var/lib/dkms/nvidia/<V> does not show them. */
static void dpkg_facts(int rootfd, struct host_state *st, bool *pve_manager)
{
	static const char *const dkms_packages[] = { "nvidia-kernel-dkms",
						     "nvidia-open-kernel-dkms",
						     "nvidia-kernel-open-dkms" };
	_cleanup_free_ char *status = NULL;
	struct lxgpu_err err = { 0 };
	struct dpkg_pkg pkg;
	size_t len;
	*pve_manager = false;
	if (fs_read_in(rootfd, "var/lib/dpkg/status", 64u << 20, &status, &len, &err) < 0)
		return;
	for (const char *c = status; dpkg_next(&c, &pkg);) {
		if (!pkg.installed)
			continue;
		*pve_manager |= strcmp(pkg.name, "pve-manager") == 0;
		for (size_t i = 0; i < ARRAY_SIZE(dkms_packages) && !st->dkms_pkg[0]; i++)
			if (strcmp(pkg.name, dkms_packages[i]) == 0)
				snprintf(st->dkms_pkg, sizeof(st->dkms_pkg), "%s %s", pkg.name,
					 pkg.version);
	}
}

static long persistenced(int rootfd)
{
	_cleanup_free_ char *pid = NULL, *comm = NULL;
	struct lxgpu_err err = { 0 };
	char path[64];
	size_t len;
	if (fs_read_in(rootfd, "run/nvidia-persistenced/nvidia-persistenced.pid", 64, &pid, &len,
		       &err) < 0)
		return -1;
	long n = strtol(pid, NULL, 10);
	snprintf(path, sizeof(path), "proc/%ld/comm", n);
	/* a stale pid file outlives the daemon; comm is cut at 15 characters */
	if (n <= 0 || fs_read_in(rootfd, path, 64, &comm, &len, &err) < 0 ||
	    strncmp(comm, "nvidia-persiste", 15) != 0)
		return -1;
	return n;
}

bool host_kernel(int rootfd, char *release, size_t size)
{
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	size_t len;

	release[0] = '\0';
	if (fs_read_in(rootfd, "proc/sys/kernel/osrelease", 4096, &text, &len, &err) == 0)
		snprintf(release, size, "%.*s", (int)strcspn(text, "\n"), text);
	size_t kl = strlen(release);
	return kl > 4 && strcmp(release + kl - 4, "-pve") == 0;
}

void host_headers_package(const char *release, bool pve_kernel, char *out, size_t size)
{
	/* Proxmox names its headers proxmox-headers-<K> since 8.0, pve-headers-<K>
	 * before; the proxmox- name is what apt finds on 8 and 9 */
	snprintf(out, size, "%s-%s", pve_kernel ? "proxmox-headers" : "linux-headers", release);
}

static void scan_state(int rootfd, const struct lxgpu_inventory *inv, struct host_state *st)
{
	bool pve_kernel = host_kernel(rootfd, st->kernel, sizeof(st->kernel)), pve_manager;
	dpkg_facts(rootfd, st, &pve_manager);
	st->proxmox = pve_kernel || pve_manager;
	host_headers_package(st->kernel, pve_kernel, st->headers_pkg, sizeof(st->headers_pkg));
	st->headers = st->kernel[0] && exists(rootfd, "lib/modules/%s/build", st->kernel);
	for (size_t i = 0; i < inv->ngpus; i++)
		st->nvidia_gpu |= inv->gpus[i].vendor == LXGPU_VENDOR_NVIDIA;
	st->nouveau_blacklist = lxgpu_module_blacklisted_by(rootfd, "nouveau");
	st->nvidia_version = lxgpu_nvidia_version(inv);
	if (st->nvidia_version) {
		st->dkms_tree = exists(rootfd, "var/lib/dkms/nvidia/%s", st->nvidia_version);
		st->dkms_built = st->kernel[0] && exists(rootfd, "var/lib/dkms/nvidia/%s/%s",
							 st->nvidia_version, st->kernel);
	}
	st->persistenced_pid = persistenced(rootfd);
	st->boot_unit = nodes_made_at_boot(rootfd);
	for (size_t i = 0; i < ARRAY_SIZE(unit_dirs) && !st->unit_path; i++)
		if (exists(rootfd, "%s/" HOST_UNIT, unit_dirs[i]))
			st->unit_path = xasprintf("/%s/" HOST_UNIT, unit_dirs[i]);
}

/* The fix discover gives for a GPU no container can use (its finding names
 * its PCI address): unbind from vfio-pci, leave NVreg_ExcludedGpus, ... */
static const char *finding_fix(const struct lxgpu_inventory *inv, const struct lxgpu_gpu *g)
{
	for (size_t i = 0; i < inv->nfindings; i++)
		if (inv->findings[i].fix && g->pci[0] && strstr(inv->findings[i].message, g->pci))
			return inv->findings[i].fix;
	return NULL;
}

static void gpu_line(struct host_state *st, const struct lxgpu_inventory *inv,
		     const struct lxgpu_gpu *g, bool all_vfio)
{
	const char *drv = g->kernel_driver;
	char what[256], ids[64];
	snprintf(ids, sizeof(ids), "%s [%04x:%04x]", lxgpu_vendor_name(g->vendor), g->vendor_id,
		 g->device_id);
	snprintf(what, sizeof(what), "GPU %d (%s, %s)", g->index,
		 g->pci[0] ? g->pci : "no PCI address", g->model ? g->model : ids);
	if (drv && strcmp(drv, "vfio-pci") == 0) {
		/* one GPU for a VM beside others for containers is a choice; all of
		 * them leaves lxgpu nothing to give */
		if (all_vfio)
			add(st, "gpu", HOST_BAD, finding_fix(inv, g),
			    "%s is bound to vfio-pci: it is given to a VM, and no GPU is left for "
			    "containers",
			    what);
		else
			add(st, "gpu", HOST_INFO, NULL,
			    "%s is bound to vfio-pci: it is given to a VM, lxgpu leaves it", what);
		return;
	}
	if (g->vendor == LXGPU_VENDOR_NVIDIA) {
		if (drv && strcmp(drv, "nvidia") == 0 && g->usable)
			add(st, "gpu", HOST_OK, NULL, "%s is bound to nvidia", what);
		else if (drv && strcmp(drv, "nvidia") == 0)
			add(st, "gpu", HOST_BAD, finding_fix(inv, g),
			    "%s is bound to nvidia, but %s: no container can use it", what,
			    g->reason ? g->reason : "it is not usable");
		else if (drv && strcmp(drv, "nouveau") == 0)
			add(st, "gpu", HOST_BAD,
			    st->nouveau_blacklist ? "update-initramfs -u -k all && reboot"
						  : "lxgpu host prepare, then reboot",
			    "%s is bound to nouveau, which CUDA cannot use", what);
		else if (drv)
			add(st, "gpu", HOST_WARN, NULL, "%s is bound to %s, not nvidia", what, drv);
		else {
			char fix[96];
			snprintf(fix, sizeof(fix), "echo %s > /sys/bus/pci/drivers_probe", g->pci);
			add(st, "gpu", HOST_BAD,
			    inv->nvidia_loaded ? fix : "lxgpu host install-driver",
			    "%s is bound to no driver%s", what,
			    inv->nvidia_loaded ? "" : ": the nvidia kernel module is not loaded");
		}
		return;
	}
	bool amd = g->vendor == LXGPU_VENDOR_AMD;
	bool own = drv && (amd ? strcmp(drv, "amdgpu") == 0
			       : strcmp(drv, "i915") == 0 || strcmp(drv, "xe") == 0);
	if (own)
		add(st, "gpu", HOST_OK, NULL,
		    "%s is bound to %s, the kernel's own driver: nothing to install", what, drv);
	else if (drv)
		add(st, "gpu", HOST_WARN, NULL, "%s is bound to %s, not %s", what, drv,
		    amd ? "amdgpu" : "i915 or xe");
	else
		add(st, "gpu", HOST_BAD, amd ? "modprobe amdgpu" : "modprobe i915",
		    "%s is bound to no driver", what);
}

/* Intel and AMD: the driver is in the kernel, its firmware is a package. */
static void firmware_line(int rootfd, struct host_state *st, const char *drv)
{
	/* Debian's packages; Proxmox ships all of it in pve-firmware */
	const char *pkg = st->proxmox                  ? "pve-firmware"
			  : strcmp(drv, "amdgpu") == 0 ? "firmware-amd-graphics"
						       : "firmware-misc-nonfree";
	char fix[128];
	snprintf(fix, sizeof(fix), "apt-get install %s, then reboot", pkg);
	if (exists(rootfd, "lib/firmware/%s", drv))
		add(st, "firmware", HOST_OK, NULL, "firmware for %s: /lib/firmware/%s", drv, drv);
	else
		add(st, "firmware", HOST_WARN, fix,
		    "no firmware for %s (/lib/firmware/%s): the GPU may run without acceleration",
		    drv, drv);
}

static void nvidia_lines(const struct lxgpu_inventory *inv, struct host_state *st)
{
	bool nouveau_bound = false;
	char fix[256];
	for (size_t i = 0; i < inv->ngpus; i++)
		nouveau_bound |= inv->gpus[i].kernel_driver &&
				 strcmp(inv->gpus[i].kernel_driver, "nouveau") == 0;
	if (st->nouveau_blacklist)
		add(st, "nouveau", HOST_OK, NULL, "nouveau is blacklisted (%s)",
		    st->nouveau_blacklist);
	else
		add(st, "nouveau", nouveau_bound ? HOST_BAD : HOST_WARN, "lxgpu host prepare",
		    "nouveau is not blacklisted: it can take the GPU before nvidia loads");

	const char *v = st->nvidia_version;
	const struct lxgpu_driver *d = NULL;
	for (size_t i = 0; i < inv->ndrivers; i++)
		if (inv->drivers[i].vendor == LXGPU_VENDOR_NVIDIA)
			d = &inv->drivers[i];
	if (v)
		add(st, "nvidia-module", HOST_OK, NULL, "nvidia %s (%s kernel module) is loaded", v,
		    d && d->kind ? d->kind : "unknown");
	else
		add(st, "nvidia-module", HOST_BAD, "lxgpu host install-driver",
		    "the nvidia kernel module is not loaded");
	if (v && st->dkms_built)
		add(st, "dkms", HOST_OK, NULL,
		    "nvidia %s was built by DKMS for the running kernel %s: rebuilt for each new "
		    "kernel",
		    v, st->kernel);
	else if (v && st->dkms_pkg[0])
		add(st, "dkms", HOST_OK, NULL,
		    "nvidia %s comes with DKMS (%s): rebuilt for each new kernel", v, st->dkms_pkg);
	else if (v && st->dkms_tree)
		add(st, "dkms", HOST_WARN, "dkms autoinstall",
		    "nvidia %s is a DKMS module, but not built for the running kernel %s", v,
		    st->kernel[0] ? st->kernel : "(unknown)");
	else if (v) {
		snprintf(fix, sizeof(fix), "lxgpu host install-driver --version %s", v);
		add(st, "dkms", HOST_WARN, fix,
		    "nvidia %s is not a DKMS module (no /var/lib/dkms/nvidia/%s): after a kernel "
		    "update the host boots without it",
		    v, v);
	}
	if (!st->kernel[0])
		add(st, "headers", HOST_WARN, NULL,
		    "kernel headers cannot be checked: the running kernel is unknown");
	else if (st->headers)
		add(st, "headers", HOST_OK, NULL, "headers for the running kernel %s", st->kernel);
	else {
		snprintf(fix, sizeof(fix), "lxgpu host prepare (apt-get install %s)",
			 st->headers_pkg);
		bool dkms = st->dkms_tree || st->dkms_pkg[0];
		add(st, "headers", dkms ? HOST_BAD : HOST_WARN, fix,
		    "no headers for the running kernel %s (/lib/modules/%s/build): %s", st->kernel,
		    st->kernel,
		    dkms ? "DKMS cannot build nvidia for the next kernel"
			 : "DKMS needs them to build nvidia");
	}
	if (st->persistenced_pid > 0)
		add(st, "persistenced", HOST_OK, NULL, "nvidia-persistenced runs (pid %ld)",
		    st->persistenced_pid);
	else if (v)
		add(st, "persistenced", HOST_WARN, "systemctl enable --now nvidia-persistenced",
		    "nvidia-persistenced does not run: each container's first CUDA call "
		    "initialises the GPU again");
	if (st->boot_unit)
		add(st, "boot-unit", HOST_OK, NULL,
		    HOST_UNIT " is enabled: device nodes are made at every boot");
	else
		add(st, "boot-unit", HOST_WARN, "lxgpu host prepare",
		    HOST_UNIT " is not enabled: after a reboot /dev/nvidia-uvm is missing until "
			      "something runs CUDA");
	if (!v)
		return;
	/* the nodes every CUDA container needs, and one per GPU nvidia has; the
	 * uvm nodes are made by hand (nvidia-modprobe), so they can outlive a
	 * module that came back under another major */
	char have[512] = "", missing[256] = "", stale[256] = "";
	bool ctl = false, uvm = false, tools = false;
	int uvm_major = proc_devices_major(&inv->majors, "nvidia-uvm");
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct lxgpu_node *n = &inv->nodes[i];
		if (n->role > LXGPU_NODE_UVM_TOOLS || n->type != 'c')
			continue;
		bool is_uvm = n->role == LXGPU_NODE_UVM || n->role == LXGPU_NODE_UVM_TOOLS;
		ctl |= n->role == LXGPU_NODE_CTL;
		uvm |= n->role == LXGPU_NODE_UVM;
		tools |= n->role == LXGPU_NODE_UVM_TOOLS;
		size_t l = strlen(have);
		snprintf(have + l, sizeof(have) - l, "%s%s %u:%u", l ? ", " : "", n->path, n->major,
			 n->minor);
		if (is_uvm && uvm_major >= 0 && n->major != (unsigned)uvm_major) {
			l = strlen(stale);
			snprintf(stale + l, sizeof(stale) - l, " %s", n->path);
		}
	}
	if (!ctl)
		strcat(missing, " /dev/nvidiactl");
	if (!uvm)
		strcat(missing, " /dev/nvidia-uvm");
	if (!tools)
		strcat(missing, " /dev/nvidia-uvm-tools");
	if (stale[0])
		add(st, "nodes", HOST_WARN, "lxgpu sync --all",
		    "not nvidia-uvm's major %d (/proc/devices):%s; present: %s", uvm_major, stale,
		    have);
	else if (missing[0])
		add(st, "nodes", HOST_WARN,
		    "lxgpu sync --all (and lxgpu host prepare for each boot)", "missing:%s%s%s",
		    missing, have[0] ? "; present: " : "", have);
	else
		add(st, "nodes", HOST_OK, NULL, "%s", have);
}

void host_scan(int rootfd, const struct lxgpu_inventory *inv, struct host_state *st)
{
	memset(st, 0, sizeof(*st));
	scan_state(rootfd, inv, st);
	if (st->kernel[0])
		add(st, "kernel", HOST_OK, NULL, "kernel %s%s", st->kernel,
		    st->proxmox ? " (Proxmox VE)" : "");
	else
		add(st, "kernel", HOST_WARN, NULL,
		    "the running kernel is unknown (no /proc/sys/kernel/osrelease)");
	/* an error, not news: lxgpu is run to give containers a GPU */
	if (inv->ngpus == 0)
		add(st, "gpu", HOST_BAD,
		    "lspci -nnk | grep -EiA3 'vga|3d|display' (is the card seated, enabled in the "
		    "firmware, not hidden by the hypervisor?)",
		    "no GPU on this host: no NVIDIA, AMD or Intel display or 3D controller on the "
		    "PCI bus");
	bool amdgpu = false, i915 = false, xe = false, all_vfio = inv->ngpus > 0;
	for (size_t i = 0; i < inv->ngpus; i++)
		all_vfio &= inv->gpus[i].kernel_driver &&
			    strcmp(inv->gpus[i].kernel_driver, "vfio-pci") == 0;
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		gpu_line(st, inv, g, all_vfio);
		const char *drv = g->kernel_driver ? g->kernel_driver : "";
		bool dri = strcmp(drv, "amdgpu") == 0 || strcmp(drv, "i915") == 0 ||
			   strcmp(drv, "xe") == 0;
		amdgpu |= strcmp(drv, "amdgpu") == 0;
		i915 |= strcmp(drv, "i915") == 0;
		xe |= strcmp(drv, "xe") == 0;
		if (g->vendor != LXGPU_VENDOR_NVIDIA && dri) {
			if (g->drm_card || g->drm_render)
				add(st, "nodes", HOST_OK, NULL, "GPU %d: %s%s%s", g->index,
				    g->drm_card ? g->drm_card : "",
				    g->drm_card && g->drm_render ? ", " : "",
				    g->drm_render ? g->drm_render : "");
			else /* nothing to pass to a container */
				add(st, "nodes", HOST_BAD, "udevadm trigger --subsystem-match=drm",
				    "GPU %d has no /dev/dri node: no container can use it",
				    g->index);
		}
	}
	if (amdgpu)
		firmware_line(rootfd, st, "amdgpu");
	if (i915)
		firmware_line(rootfd, st, "i915");
	if (xe)
		firmware_line(rootfd, st, "xe");
	if (st->nvidia_gpu)
		nvidia_lines(inv, st);
}

void host_free(struct host_state *st)
{
	for (size_t i = 0; i < st->nlines; i++) {
		free(st->lines[i].message);
		free(st->lines[i].fix);
	}
	free(st->lines);
	free(st->nouveau_blacklist);
	free(st->unit_path);
	memset(st, 0, sizeof(*st));
}

const char *host_status_name(enum host_status s)
{
	static const char *const names[] = { "ok", "info", "warning", "error" };
	return names[s];
}

bool host_version_valid(const char *v)
{
	int dots = 0;
	size_t n = strlen(v);
	if (n == 0 || n > 20 || !isdigit((unsigned char)v[0]) || !isdigit((unsigned char)v[n - 1]))
		return false;
	for (const char *p = v; *p; p++) {
		if (*p == '.' && p[1] != '.')
			dots++;
		else if (!isdigit((unsigned char)*p))
			return false;
	}
	return dots >= 1 && dots <= 2;
}

bool host_parse_latest(const char *text, char *out, size_t size)
{
	while (*text == ' ' || *text == '\t')
		text++;
	size_t n = strcspn(text, " \t\r\n");
	if (n == 0 || n >= size)
		return false;
	memcpy(out, text, n);
	out[n] = '\0';
	return host_version_valid(out);
}

bool host_newest_of_branch(const char *listing, unsigned branch, char *out, size_t size)
{
	struct lxgpu_version best = { 0 };
	bool found = false;
	/* an index page links each release as href="580.95.05/" (or '...' or bare) */
	for (const char *p = listing; (p = strstr(p, "href="));) {
		p += 5;
		if (*p == '"' || *p == '\'')
			p++;
		if (p[0] == '.' && p[1] == '/')
			p += 2;
		size_t n = strspn(p, "0123456789.");
		struct lxgpu_version v;
		if (n > 0 && n < size && p[n] == '/' && version_parse(p, n, &v) && v.nparts >= 2 &&
		    v.part[0] == branch && (!found || version_cmp(&v, &best) > 0)) {
			best = v;
			snprintf(out, size, "%.*s", (int)n, p);
			found = true;
		}
		p += n;
	}
	return found;
}
