/* apply: the only code that writes container configs. Lock, read, write a
 * temp file in the same directory and rename it over the config: the file is
 * always the old or the new one, whole, even on kill -9. The previous config
 * is kept outside /etc/pve (which replicates to every node) for `undo`.
 *
 * MUST rules (tests/cli/attach-safety.sh checks each):
 * - hold the lock Proxmox's pct holds (/run/lock/lxc/pve-config-<vmid>.lock;
 *   for plain LXC, a flock on the container's directory) from read to rename;
 * - never write the config in place, never O_TRUNC it;
 * - write nothing but the temp file and its rename in the config's directory;
 * - end every file with "\n" and keep it under 1 MiB (pmxcfs);
 * - leave no temp file behind: one left by a killed run is removed by the next. */
#ifndef LXGPU_APPLY_H
#define LXGPU_APPLY_H

#include <stddef.h>
#include <sys/types.h>

#include "container/container.h"
#include "util/err.h"

/* Proxmox's lock_config waits 10 s (PVE::AbstractConfig). */
#define APPLY_LOCK_TIMEOUT_MS 10000

/* Threads: apply_lock, apply_drop_temp and apply_write may run on several
 * threads at once for different containers (sync's workers), between
 * apply_batch_begin and apply_batch_end, which run before the threads start
 * and after they stop; the rest on one thread. */

/* Takes the container's config lock; returns the lock fd (close to release). */
int apply_lock(int rootfd, const struct lxgpu_ct *ct, int timeout_ms, struct lxgpu_err *err);
/* Removes the temp file a killed run left beside the config: apply_lock
 * does, but in a batch only the write that follows does (it retries the
 * name); a batch that takes the lock and does not write calls this. */
void apply_drop_temp(const struct lxgpu_ct *ct);
/* Replaces the config with `new`, keeping `old` for undo. The lock must be
 * held; st: the config's stat from the read under it, NULL when not taken. */
int apply_write(int rootfd, const struct lxgpu_ct *ct, const char *old, size_t oldlen,
		const char *new_text, size_t newlen, const struct stat *st, struct lxgpu_err *err);
/* Puts back the config as it was before lxgpu's last change, if the config
 * is still what that change wrote. The lock must be held. */
int apply_undo(int rootfd, const struct lxgpu_ct *ct, struct lxgpu_err *err);
/* Writes `file` in dirfd through a temp file in the same directory and a
 * rename (the MUST rules above; `mode` for a new file, an existing one keeps
 * its own): also the cluster files of /etc/pve (cluster/). The caller holds
 * the file's lock. */
int apply_file(int dirfd, const char *file, const char *shown, const char *text, size_t len,
	       mode_t mode, struct lxgpu_err *err);
/* Between these, apply_write leaves each config directory's fsync (what
 * makes a rename last) to apply_batch_end, one a directory instead of one a
 * config: `sync --all`. Each file is still on disk before its rename. */
void apply_batch_begin(void);
void apply_batch_end(void);
/* One line to the system log (the host's /dev/log, beneath the root). */
void apply_log(int rootfd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
