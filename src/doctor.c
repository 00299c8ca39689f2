/* doctor: host, Docker and message checks (see doctor.h). */
#include "doctor.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "dpkg.h"
#include "fs.h"
#include "nodes.h"
#include "xalloc.h"

static void item(struct doctor_list *l, enum doctor_status st, const char *id, const char *fix,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void item(struct doctor_list *l, enum doctor_status st, const char *id, const char *fix,
		 const char *fmt, ...)
{
	va_list ap;
	l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
	struct doctor_item *it = &l->items[l->n++];
	it->status = st;
	it->id = id;
	it->fix = fix ? xstrdup(fix) : NULL;
	va_start(ap, fmt);
	if (vasprintf(&it->message, fmt, ap) < 0)
		it->message = xstrdup(id);
	va_end(ap);
}

void doctor_list_free(struct doctor_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].message);
		free(l->items[i].fix);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool exists(int rootfd, const char *path)
{
	struct lxgpu_err err = { 0 };
	struct stat st;
	return fs_lstat_in(rootfd, path, &st, &err) == 0;
}

/* A directory beneath the root, symlinks resolved inside it. */
static bool is_dir(int rootfd, const char *path)
{
	struct lxgpu_err err = { 0 };
	_cleanup_close_ int fd = fs_open_in(rootfd, path, O_PATH | O_DIRECTORY, 0, &err);
	return fd >= 0;
}

/* "blacklist nouveau" in a modprobe.d file: the file's path, or "". */
static void nouveau_blacklisted(int rootfd, char *where, size_t size)
{
	static const char *const dirs[] = { "etc/modprobe.d", "run/modprobe.d",
					    "usr/lib/modprobe.d", "lib/modprobe.d" };
	where[0] = '\0';
	for (size_t d = 0; d < ARRAY_SIZE(dirs) && !where[0]; d++) {
		struct lxgpu_err err = { 0 };
		_cleanup_closedir_ DIR *dir = NULL;
		if (fs_opendir_in(rootfd, dirs[d], (void **)&dir, &err) < 0)
			continue;
		for (struct dirent *e; !where[0] && (e = readdir(dir));) {
			size_t n = strlen(e->d_name);
			if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0)
				continue;
			_cleanup_free_ char *text = NULL;
			size_t len;
			if (fs_read_child(dirfd(dir), e->d_name, 1u << 20, &text, &len, &err) < 0) {
				lxgpu_err_clear(&err);
				continue;
			}
			for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
				char word[32], module[32];
				if (sscanf(line, " %31s %31s", word, module) == 2 &&
				    strcmp(word, "blacklist") == 0 &&
				    strcmp(module, "nouveau") == 0)
					snprintf(where, size, "/%s/%s", dirs[d], e->d_name);
			}
		}
	}
}

static bool dpkg_installed(const char *status, const char *const *names, char *which, size_t size)
{
	struct dpkg_pkg pkg;
	for (const char *c = status; c && dpkg_next(&c, &pkg);)
		for (size_t i = 0; names[i]; i++)
			if (pkg.installed && strcmp(pkg.name, names[i]) == 0) {
				snprintf(which, size, "%s %s", pkg.name, pkg.version);
				return true;
			}
	return false;
}

static void check_nvidia_install(int rootfd, const struct lxgpu_inventory *inv,
				 struct doctor_list *l)
{
	static const char *const dkms_packages[] = { "nvidia-kernel-dkms",
						     "nvidia-open-kernel-dkms",
						     "nvidia-kernel-open-dkms", NULL };
	const char *version = lxgpu_nvidia_version(inv);
	_cleanup_free_ char *release = NULL, *status = NULL;
	struct lxgpu_err err = { 0 };
	char path[512], which[256] = "", kernel[128] = "";
	size_t len;

	if (fs_read_in(rootfd, "proc/sys/kernel/osrelease", 4096, &release, &len, &err) == 0)
		snprintf(kernel, sizeof(kernel), "%.*s", (int)strcspn(release, "\n"), release);
	lxgpu_err_clear(&err);
	(void)fs_read_in(rootfd, "var/lib/dpkg/status", 64u << 20, &status, &len, &err);
	size_t kl = strlen(kernel);
	bool pve = kl > 4 && strcmp(kernel + kl - 4, "-pve") == 0;

	/* DKMS: without it the guide's "install the driver again after every kernel update" */
	snprintf(path, sizeof(path), "var/lib/dkms/nvidia/%s", version);
	bool dkms_tree = is_dir(rootfd, path);
	snprintf(path, sizeof(path), "var/lib/dkms/nvidia/%s/%s", version, kernel);
	bool built_here = kernel[0] && is_dir(rootfd, path);
	if (dpkg_installed(status, dkms_packages, which, sizeof(which)))
		item(l, DOCTOR_OK, "dkms", NULL,
		     "nvidia %s comes with DKMS (%s): rebuilt for each "
		     "new kernel",
		     version, which);
	else if (dkms_tree && built_here)
		item(l, DOCTOR_OK, "dkms", NULL,
		     "nvidia %s is a DKMS module, built for the running kernel %s", version,
		     kernel);
	else if (dkms_tree)
		item(l, DOCTOR_WARN, "dkms", "dkms autoinstall",
		     "nvidia %s is a DKMS module but not built for the running kernel %s", version,
		     kernel);
	else {
		char fix[256];
		snprintf(fix, sizeof(fix),
			 "install it again with DKMS: sh NVIDIA-Linux-x86_64-%s.run --dkms",
			 version);
		item(l, DOCTOR_WARN, "dkms", fix,
		     "nvidia %s was installed without DKMS: after every kernel update it must be "
		     "installed again, or the host boots without a GPU driver",
		     version);
	}
	/* headers: what DKMS builds against */
	snprintf(path, sizeof(path), "lib/modules/%s/build", kernel);
	if (kernel[0] && is_dir(rootfd, path)) {
		item(l, DOCTOR_OK, "headers", NULL, "headers for the running kernel %s", kernel);
	} else if (kernel[0]) {
		char fix[256];
		bool dkms = dkms_tree || strstr(which, "dkms");
		snprintf(fix, sizeof(fix), "apt install %s-%s",
			 pve ? "proxmox-headers" : "linux-headers", kernel);
		item(l, dkms ? DOCTOR_BAD : DOCTOR_WARN, "headers", fix,
		     "no headers for the running kernel %s (/lib/modules/%s/build): %s", kernel,
		     kernel,
		     dkms ? "DKMS cannot build nvidia for it"
			  : "installing the driver again for this kernel needs them");
	}
	/* the persistence daemon keeps the GPU initialised between container starts */
	_cleanup_free_ char *pid = NULL, *comm = NULL;
	lxgpu_err_clear(&err);
	bool running = false;
	if (fs_read_in(rootfd, "run/nvidia-persistenced/nvidia-persistenced.pid", 64, &pid, &len,
		       &err) == 0) {
		snprintf(path, sizeof(path), "proc/%ld/comm", strtol(pid, NULL, 10));
		running = fs_read_in(rootfd, path, 64, &comm, &len, &err) == 0 &&
			  strncmp(comm, "nvidia-persiste", 15) == 0;
	}
	if (running)
		item(l, DOCTOR_OK, "persistenced", NULL, "nvidia-persistenced runs (pid %ld)",
		     strtol(pid, NULL, 10));
	else
		item(l, DOCTOR_WARN, "persistenced", "systemctl enable --now nvidia-persistenced",
		     "nvidia-persistenced does not run: each container's first CUDA call "
		     "initialises the GPU again, seconds that time out some tools");
}

/* The fix discover gives for a GPU no container can use (its findings name
 * its PCI address): unbind from vfio-pci, blacklist nouveau, load the driver. */
static const char *gpu_fix(const struct lxgpu_inventory *inv, const struct lxgpu_gpu *g)
{
	for (size_t i = 0; i < inv->nfindings; i++)
		if (inv->findings[i].fix && g->pci[0] && strstr(inv->findings[i].message, g->pci))
			return inv->findings[i].fix;
	return NULL;
}

void doctor_host(int rootfd, const struct lxgpu_inventory *inv, struct doctor_list *out)
{
	bool nvidia = false;

	memset(out, 0, sizeof(*out));
	if (inv->ngpus == 0)
		item(out, DOCTOR_BAD, "gpu",
		     "lspci -nnk | grep -EiA3 'vga|3d|display' (is the card seated, enabled in the "
		     "firmware, not hidden by the hypervisor?)",
		     "no GPU on this host: no display or 3D controller on the PCI bus");
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		nvidia |= g->vendor == LXGPU_VENDOR_NVIDIA;
		if (g->usable)
			item(out, DOCTOR_OK, "gpu", NULL, "GPU %d %s %s: bound to %s", g->index,
			     g->pci, g->model ? g->model : "", g->kernel_driver);
		else
			item(out, DOCTOR_BAD, "gpu", gpu_fix(inv, g), "GPU %d %s %s: %s", g->index,
			     g->pci, g->model ? g->model : "",
			     g->reason ? g->reason : "not usable");
	}
	for (size_t i = 0; i < inv->nfindings; i++) {
		const struct lxgpu_finding *f = &inv->findings[i];
		if (f->severity != LXGPU_INFO)
			item(out, f->severity == LXGPU_ERROR ? DOCTOR_BAD : DOCTOR_WARN, f->id,
			     f->fix, "%s", f->message);
	}
	if (nvidia) {
		char where[512];
		nouveau_blacklisted(rootfd, where, sizeof(where));
		if (where[0])
			item(out, DOCTOR_OK, "nouveau-blacklist", NULL,
			     "nouveau is blacklisted (%s)", where);
		else
			item(out, DOCTOR_WARN, "nouveau-blacklist",
			     "echo 'blacklist nouveau' >/etc/modprobe.d/blacklist-nouveau.conf && "
			     "update-initramfs -u",
			     "nouveau is not blacklisted: after a kernel update it can take the "
			     "GPU "
			     "before nvidia does");
	}
	const char *version = lxgpu_nvidia_version(inv);
	if (version) {
		const struct lxgpu_driver *d = NULL;
		for (size_t i = 0; i < inv->ndrivers; i++)
			if (inv->drivers[i].vendor == LXGPU_VENDOR_NVIDIA)
				d = &inv->drivers[i];
		const char *kind = d && d->kind ? d->kind : "unknown";
		const char *cuda = d && d->cuda ? d->cuda : NULL;
		item(out, DOCTOR_OK, "nvidia-module", NULL,
		     "nvidia %s (%s kernel module) loaded%s%s", version, kind,
		     cuda ? ", CUDA " : "", cuda ? cuda : "");
		check_nvidia_install(rootfd, inv, out);
		const struct lxgpu_node *uvm = NULL, *tools = NULL;
		for (size_t i = 0; i < inv->nnodes; i++) {
			if (inv->nodes[i].role == LXGPU_NODE_UVM)
				uvm = &inv->nodes[i];
			if (inv->nodes[i].role == LXGPU_NODE_UVM_TOOLS)
				tools = &inv->nodes[i];
		}
		int major = proc_devices_major(&inv->majors, "nvidia-uvm");
		if (uvm && tools && uvm->type == 'c' && tools->type == 'c' && major >= 0 &&
		    uvm->major == (unsigned)major && tools->major == (unsigned)major)
			item(out, DOCTOR_OK, "uvm", NULL,
			     "/dev/nvidia-uvm and -tools present (c %u:%u, %u:%u)", uvm->major,
			     uvm->minor, tools->major, tools->minor);
	}
	if (nvidia) {
		if (nodes_made_at_boot(rootfd))
			item(out, DOCTOR_OK, "boot-unit", NULL,
			     "lxgpu-sync.service is enabled: nodes and configs are put right at "
			     "every "
			     "boot");
		else
			item(out, DOCTOR_WARN, "boot-unit", "systemctl enable lxgpu-sync.service",
			     "lxgpu-sync.service is not enabled: after a reboot /dev/nvidia-uvm is "
			     "missing until something runs CUDA, and configs keep old majors");
	}
}

int doctor_toml_no_cgroups(const char *text)
{
	bool in_cli = false;
	for (const char *p = text; p && *p;) {
		size_t n = strcspn(p, "\n");
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(n < 255 ? n : 255), p);
		p += n + (p[n] == '\n');
		char *s = line + strspn(line, " \t");
		if (*s == '[') {
			in_cli = strncmp(s, "[nvidia-container-cli]", 22) == 0;
			continue;
		}
		char key[64], value[64];
		if (in_cli && sscanf(s, "%63[a-z-] = %63s", key, value) == 2 &&
		    strcmp(key, "no-cgroups") == 0)
			return strcmp(value, "true") == 0;
	}
	return 0;
}

void doctor_docker(int ctroot, const char *ct_id, struct doctor_list *out)
{
	static const char *const config = "etc/nvidia-container-runtime/config.toml";
	char fix[128];
	snprintf(fix, sizeof(fix), "lxgpu driver %s --docker", ct_id);
	if (!exists(ctroot, "usr/bin/dockerd") && !exists(ctroot, "usr/sbin/dockerd"))
		return;
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	size_t len;
	if (fs_read_in(ctroot, config, 1u << 20, &text, &len, &err) < 0) {
		char install[160];
		snprintf(install, sizeof(install),
			 "install nvidia-container-toolkit in the container, then lxgpu driver %s "
			 "--docker",
			 ct_id);
		item(out, DOCTOR_WARN, "docker-toolkit", install,
		     "Docker runs in the container without nvidia-container-toolkit: its "
		     "containers get no GPU");
		return;
	}
	if (doctor_toml_no_cgroups(text))
		item(out, DOCTOR_OK, "docker-no-cgroups", NULL,
		     "Docker inside: nvidia-container-toolkit has no-cgroups = true (LXC owns the "
		     "device cgroup)");
	else
		item(out, DOCTOR_BAD, "docker-no-cgroups", fix,
		     "Docker inside: nvidia-container-toolkit sets up device cgroups itself, which "
		     "fails in LXC (\"bpf_prog_query(BPF_CGROUP_DEVICE) failed\"): /%s needs "
		     "no-cgroups = true",
		     config);
}

/* --- --explain: the messages of anchors.md §2, and what they mean here ----- */

#define MATCHES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define PVE_DEV_CAUSE                                                                              \
	"Proxmox refused to start the container: a devN line names a node the host does not "      \
	"have now (/dev/nvidia-uvm* appear only once something used CUDA after boot)"
#define PVE_DEV_FIX                                                                                \
	"lxgpu sync CT (makes NVIDIA's nodes, rewrites the lines); systemctl enable "              \
	"lxgpu-sync.service"

static const struct doctor_explanation explanations[] = {
	{ MATCHES("Driver/library version mismatch", "API mismatch"), NULL, "driver-mismatch",
	  "the NVIDIA libraries the program loaded are not the kernel module's version: the "
	  "container has an older copy of the driver (the host was updated), or the host's own "
	  "libraries were updated without a reboot",
	  "lxgpu check CT shows both versions; lxgpu driver CT --mode bind makes the container "
	  "use the host's files at every start (if the host's libraries are newer than its "
	  "module, reboot the host)" },
	{ MATCHES("Failed to initialize NVML: Unknown Error"), NULL, "nvml-unknown",
	  "NVML found the libraries but may not open /dev/nvidia*: the device cgroup does not "
	  "allow the node (a rule names an old major, or Docker inside reset the rules)",
	  "lxgpu check CT names the line; lxgpu sync CT rewrites the rules; with Docker inside, "
	  "lxgpu driver CT --docker" },
	{ MATCHES("No CUDA GPUs are available", "no CUDA-capable device is detected",
		  "CUDA_ERROR_NO_DEVICE"),
	  NULL, "no-cuda-device",
	  "CUDA sees no GPU: /dev/nvidia<N> or /dev/nvidiactl is not in the container, or not "
	  "allowed by its device rules",
	  "lxgpu attach CT (then restart it); lxgpu check CT says which node is missing" },
	{ MATCHES("CUDA_ERROR_UNKNOWN", "unknown error (999)", "error 999",
		  "CUDA error: unknown error"),
	  NULL, "cuda-unknown",
	  "CUDA could not open /dev/nvidia-uvm: the node is missing (nvidia-uvm makes it only on "
	  "first use after boot) or its rule names another major",
	  "lxgpu sync CT (makes the node and rewrites the rule); systemctl enable "
	  "lxgpu-sync.service for every boot" },
	{ MATCHES("Device /dev/dri/"), "does not exist", "pve-dri-missing",
	  "Proxmox refused to start the container: a devN line names a DRM node the host does not "
	  "have under that number now: /dev/dri/cardN and renderDN are numbered in probe order, "
	  "which changes with a kernel update or another GPU",
	  "lxgpu sync CT (follows the GPU by its PCI address, /dev/dri/by-path); systemctl "
	  "enable lxgpu-sync.service to do it at every boot" },
	{ MATCHES("Device /dev/nvidia"), "does not exist", "pve-dev-missing", PVE_DEV_CAUSE,
	  PVE_DEV_FIX },
	{ MATCHES("is not a device"), NULL, "pve-dev-missing", PVE_DEV_CAUSE, PVE_DEV_FIX },
	{ MATCHES("Failed to mount", "Failed to run autodev hooks"), NULL, "mount-failed",
	  "an lxc.mount.entry for a node that is missing, without \"optional\", stops the start",
	  "lxgpu attach CT writes every node entry with optional; lxgpu sync makes the nodes" },
	{ MATCHES("bpf_prog_query(BPF_CGROUP_DEVICE) failed", "failed to add device rules"), NULL,
	  "docker-cgroups",
	  "Docker's nvidia-container-toolkit tries to set device cgroup rules inside LXC, which "
	  "it may not",
	  "lxgpu driver CT --docker (sets no-cgroups = true in "
	  "/etc/nvidia-container-runtime/config.toml)" },
	{ MATCHES("libnvidia-ml.so.1", "libcuda.so.1: cannot open"), NULL, "no-driver-inside",
	  "the container has no NVIDIA user-space driver (libnvidia-ml, libcuda)",
	  "lxgpu driver CT (binds the host's driver at every start)" },
	{ MATCHES("CUDA driver version is insufficient", "CUDA_ERROR_INSUFFICIENT_DRIVER",
		  "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
	  NULL, "toolkit-too-new",
	  "the program's CUDA toolkit is newer than the host driver supports (never across a "
	  "major version)",
	  "lxgpu compat --ct CT names what runs; install a toolkit the driver supports, or update "
	  "the host driver" },
	{ MATCHES("driver rpc error: timed out"), NULL, "rpc-timeout",
	  "nvidia-container-cli waited too long for the GPU to initialise: without "
	  "nvidia-persistenced on the host each start initialises it again",
	  "systemctl enable --now nvidia-persistenced (on the host)" },
	{ MATCHES("appears to already be loaded", "kernel module 'nvidia"), NULL,
	  "installer-kernel-module",
	  "NVIDIA's installer was run in the container without --no-kernel-module: it tried to "
	  "build and load a kernel module, which a container shares with the host",
	  "lxgpu driver CT --mode install (runs it with --no-kernel-module), or --mode bind" },
	{ MATCHES("renderD128: Permission denied", "/dev/dri/card0: Permission denied", "nogroup"),
	  NULL, "dri-group",
	  "in an unprivileged container the host's render/video group is not mapped: the node "
	  "shows as nobody:nogroup and no one may open it",
	  "lxgpu attach CT (the node gets the container's own render group: devN gid= on "
	  "Proxmox, the start hook elsewhere)" },
};

const struct doctor_explanation *doctor_explain(const char *text)
{
	for (size_t i = 0; i < ARRAY_SIZE(explanations); i++)
		for (const char *const *m = explanations[i].matches; *m; m++)
			if (strcasestr(text, *m) &&
			    (!explanations[i].also || strcasestr(text, explanations[i].also)))
				return &explanations[i];
	return NULL;
}
