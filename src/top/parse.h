/* parse: the kernel's text about a process, for lxgpu top and metrics. Pure:
 * each takes a buffer and fills a struct; none reads a file (the sampler in
 * top.c and sample/ reads them below --sysroot). Formats: proc(5) (cgroup,
 * status, cmdline), cgroups(7), and the kernel's
 * Documentation/gpu/drm-usage-stats.rst (fdinfo). */
#ifndef LXGPU_TOP_PARSE_H
#define LXGPU_TOP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* The container of a process, from /proc/PID/cgroup: the cgroup2 line
 * ("0::/path") first, else the first v1 line that names one. A component
 * "lxc.payload.ID" (LXC 4.0+, Proxmox) or "lxc" followed by ID (Proxmox's
 * /lxc/VMID/ns/..., older LXC's /lxc/NAME/...) is a container; the first
 * (outermost) one wins. Below it, a nested container (Docker, podman,
 * containerd, CRI-O, LXC) fills `nested` as "docker 0123456789ab".
 * lxc.monitor.* (LXC's own process) is the host's. Returns false for a
 * process of the host (ct and nested ""). */
struct top_cgroup {
	char ct[128];
	char nested[96];
};
bool top_cgroup_parse(const char *buf, size_t len, struct top_cgroup *out);

/* NSpid of /proc/PID/status: the PID in each PID namespace, outermost
 * first. Returns how many were found (0 when the line is missing). */
size_t top_nspid_parse(const char *buf, size_t len, int *pids, size_t max);

/* /proc/PID/cmdline (arguments separated by NUL) as one line: NULs become
 * spaces, control characters '?', trailing blanks dropped, at most size-1
 * bytes. */
void top_cmdline_text(const char *buf, size_t len, char *out, size_t size);

/* One DRM file's /proc/PID/fdinfo/FD, the keys of drm-usage-stats.rst. */
#define TOP_DRM_ENGINES 16
struct top_drm_engine {
	char name[24];                           /* "gfx", "render", "vcs" */
	unsigned long long ns;                   /* drm-engine-NAME: busy time */
	unsigned capacity;                       /* drm-engine-capacity-NAME, 1 when absent */
	unsigned long long cycles, total_cycles; /* drm-cycles-NAME, drm-total-cycles-NAME */
	bool have_ns, have_cycles;
};
struct top_drm_fdinfo {
	char driver[32]; /* drm-driver */
	char pdev[32];   /* drm-pdev, normalised: "0000:03:00.0"; "" when absent */
	unsigned long long client_id;
	bool have_client_id;
	/* bytes: resident if the driver says, else drm-memory-, else drm-total-;
	 * "local" for the regions on the device (vram*, local*), "other" for the
	 * rest (gtt, system) */
	unsigned long long mem_local, mem_other;
	bool have_mem_local, have_mem_other;
	struct top_drm_engine engines[TOP_DRM_ENGINES];
	size_t nengines;
};
/* false unless drm-driver is there: not a DRM file. */
bool top_drm_fdinfo_parse(const char *buf, size_t len, struct top_drm_fdinfo *out);

/* What an engine of a DRM driver is, for the ENC and DEC columns: amdgpu's
 * enc, dec and jpeg, Intel's video (both ways: shown as DEC) and vcs; copy
 * engines (copy, bcs, dma) count for neither. */
enum top_engine_kind { TOP_ENGINE_MAIN, TOP_ENGINE_ENC, TOP_ENGINE_DEC, TOP_ENGINE_COPY };
enum top_engine_kind top_engine_kind(const char *name);

/* Busy percent of one engine between two samples: cycles over total cycles
 * when the driver counts them (xe), else busy ns over wall ns times the
 * engine's capacity. -1 when it cannot be told (no delta, a counter went
 * back). */
int top_engine_percent(const struct top_drm_engine *before, const struct top_drm_engine *after,
		       unsigned long long wall_ns);

#endif
