/* host: the host's own driver, for `lxgpu host`. host/host.c reads its state
 * beneath the host root fd (read-only, on top of the inventory) and turns it
 * into status lines, each with what to do next; host/prepare.c plans and
 * makes the reversible changes of `host prepare` (a modprobe.d file, apt-get,
 * update-initramfs, systemctl), recording each in HOST_RECORD for --undo.
 * External commands are found through PATH, so tests put fakes first. */
#ifndef LXGPU_HOST_H
#define LXGPU_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "inventory/inventory.h"

#define HOST_BLACKLIST_FILE "/etc/modprobe.d/lxgpu-blacklist-nouveau.conf"
#define HOST_RECORD         "/var/lib/lxgpu/host/prepared"
#define HOST_LOG_DIR        "/var/log/lxgpu"
#define HOST_UNIT           "lxgpu-sync.service"

enum host_status { HOST_OK, HOST_INFO, HOST_WARN, HOST_BAD };

struct host_line {
	const char *id; /* stable: "gpu", "nouveau", "nvidia-module", "dkms", ... */
	enum host_status status;
	char *message;
	char *fix; /* NULL when nothing is to be done */
};

struct host_state {
	char kernel[128];           /* running kernel release; "" when unknown */
	bool proxmox;               /* pve-manager installed, or a -pve kernel */
	char headers_pkg[192];      /* proxmox-headers-<K> or linux-headers-<K> */
	bool headers;               /* /lib/modules/<K>/build is there */
	bool nvidia_gpu;            /* an NVIDIA GPU, whatever it is bound to */
	char *nouveau_blacklist;    /* what blacklists nouveau; NULL when nothing */
	const char *nvidia_version; /* the loaded module's, borrowed from the inventory */
	bool dkms_tree, dkms_built; /* /var/lib/dkms/nvidia/<V>[/<K>] */
	char dkms_pkg[260];         /* "nvidia-kernel-dkms 580.95.05-1" (Debian's); "" when none */
	long persistenced_pid;      /* -1 when it does not run */
	bool boot_unit;             /* lxgpu-sync.service enabled */
	char *unit_path;            /* where lxgpu-sync.service is installed; NULL when not */
	struct host_line *lines;
	size_t nlines, cap;
};

/* The running kernel's release into `release` ("" when unknown); whether it
 * is a Proxmox kernel (-pve). */
bool host_kernel(int rootfd, char *release, size_t size);
/* The package of a kernel's headers: proxmox-headers-<K> or linux-headers-<K>. */
void host_headers_package(const char *release, bool pve_kernel, char *out, size_t size);
/* Never fails: what cannot be read is a line saying so. The lines are also
 * `lxgpu doctor`'s host checks (check/doctor.c), so every fact is worded once. */
void host_scan(int rootfd, const struct lxgpu_inventory *inv, struct host_state *out);
void host_free(struct host_state *st);
const char *host_status_name(enum host_status s);
/* Whether `v` looks like an NVIDIA driver version: "580.95.05", "550.54". */
bool host_version_valid(const char *v);
/* The version in NVIDIA's latest.txt ("580.95.05 580.95.05/NVIDIA-...run"). */
bool host_parse_latest(const char *text, char *out, size_t size);
/* The newest release of driver branch `branch` (580) that NVIDIA's index page
 * of Linux-x86_64 drivers links ("580.95.05/"); false when it has none. */
bool host_newest_of_branch(const char *listing, unsigned branch, char *out, size_t size);

/* One change of `host prepare` (or of its undo). */
enum host_step_kind { HOST_STEP_WRITE, HOST_STEP_REMOVE, HOST_STEP_RUN };
struct host_step {
	enum host_step_kind kind;
	char *path;    /* WRITE, REMOVE: host view */
	char *text;    /* WRITE: the new content */
	char *argv[8]; /* RUN: the command, NULL-terminated */
	char *record;  /* the HOST_RECORD line this step adds ("file PATH"), or NULL */
	char *undo_of; /* in an undo plan: the record line this step takes back */
};
struct host_plan {
	struct host_step *steps;
	size_t n, cap;
	char *nothing; /* why there is nothing to do, when n == 0 */
};

/* The steps that bring the host to what lxgpu needs; fails (changing
 * nothing) when a step could not work: no unit installed, no kernel release. */
int host_prepare_plan(const struct host_state *st, struct host_plan *out, struct lxgpu_err *err);
/* The steps that take back what HOST_RECORD says prepare did, last first. */
int host_undo_plan(int rootfd, struct host_plan *out, struct lxgpu_err *err);
/* Runs the plan; a step's output goes to `logfd`. On a failure the steps of
 * this run already done are taken back, so the host is as it was. `undo`
 * removes HOST_RECORD's lines instead of adding them. */
int host_plan_run(int rootfd, const struct host_plan *plan, bool undo, int logfd,
		  struct lxgpu_err *err);
void host_plan_free(struct host_plan *plan);
/* Runs argv (found through PATH) with stdout and stderr to logfd (-1: to
 * /dev/null) and, when `out` is given, up to size-1 bytes of its stdout
 * in it as well. Returns its exit status, or a negative errno (err set). */
int host_run(char *const argv[], int logfd, char *out, size_t size, struct lxgpu_err *err);

#endif
