/* doctor: host, Docker and message checks (see doctor.h). */
#include "check/doctor.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "host/host.h"
#include "util/xalloc.h"

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

void doctor_host(int rootfd, const struct lxgpu_inventory *inv, struct doctor_list *out)
{
	/* host status's lines, each fact worded once (host/host.c); an INFO line
	 * (a GPU left to a VM) is nothing to fix */
	static const enum doctor_status map[] = { [HOST_OK] = DOCTOR_OK,
						  [HOST_INFO] = DOCTOR_OK,
						  [HOST_WARN] = DOCTOR_WARN,
						  [HOST_BAD] = DOCTOR_BAD };
	struct host_state st;

	memset(out, 0, sizeof(*out));
	host_scan(rootfd, inv, &st);
	for (size_t i = 0; i < st.nlines; i++)
		item(out, map[st.lines[i].status], st.lines[i].id, st.lines[i].fix, "%s",
		     st.lines[i].message);
	host_free(&st);
	/* what discover found beyond them: stale nodes, a missing uvm node, ...;
	 * "no-gpu" is host_scan's gpu line already */
	for (size_t i = 0; i < inv->nfindings; i++) {
		const struct lxgpu_finding *f = &inv->findings[i];
		if (f->severity != LXGPU_INFO && strcmp(f->id, "no-gpu") != 0)
			item(out, f->severity == LXGPU_ERROR ? DOCTOR_BAD : DOCTOR_WARN, f->id,
			     f->fix, "%s", f->message);
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

/* podman finds GPUs through a CDI spec in /etc/cdi: lxgpu's, of any vendor */
static void doctor_podman(int ctroot, const char *fix, struct doctor_list *out)
{
	static const char *const specs[] = { "etc/cdi/lxgpu-nvidia.json", "etc/cdi/lxgpu-amd.json",
					     "etc/cdi/lxgpu-intel.json" };
	if (!fs_has_program(ctroot, "podman"))
		return;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (exists(ctroot, specs[i])) {
			item(out, DOCTOR_OK, "podman-cdi", NULL,
			     "podman inside: lxgpu's CDI spec /%s (podman run --device KIND=all)",
			     specs[i]);
			return;
		}
	item(out, DOCTOR_WARN, "podman-cdi", fix,
	     "podman runs in the container without lxgpu's CDI spec in /etc/cdi: podman run "
	     "--device nvidia.com/gpu=all fails (unresolvable CDI devices)");
}

void doctor_docker(int ctroot, const char *ct_id, struct doctor_list *out)
{
	static const char *const config = "etc/nvidia-container-runtime/config.toml";
	char fix[128];
	snprintf(fix, sizeof(fix), "lxgpu driver %s --docker", ct_id);
	doctor_podman(ctroot, fix, out);
	if (!fs_has_program(ctroot, "dockerd"))
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

/* --- --explain: the messages users report, and what they mean here ----- */

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
