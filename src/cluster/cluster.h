/* cluster: the Proxmox cluster filesystem as lxgpu uses it (pmxcfs at
 * /etc/pve, the same on every node): this node's name, whether /etc/pve may
 * be written now (quorum), the nodes, a node's boot as the cluster last saw
 * it, and the files lxgpu keeps there: each node's published facts
 * (/etc/pve/nodes/<node>/lxgpu.json, written by the CLI) and the GPU
 * mappings (mapping.h). Every path is beneath the host root fd.
 *
 * What pmxcfs accepts (pve-cluster src/pmxcfs: memdb.c, pmxcfs.c,
 * cfs-plug-memdb.c), which the writers here follow:
 * - any name but "", "." and ".." in any directory, files up to 1 MiB
 *   (MEMDB_MAX_FILE_SIZE), 128 MiB in all;
 * - create, write, rename within one directory tree (temp file + rename:
 *   PVE::Tools::file_set_contents does the same), no fsync (ENOSYS);
 * - chmod only to 0640 (0600 below priv/), chown only to root and www-data;
 * - without quorum every write is refused (EACCES) and files show 0440,
 *   directories 0555: that is how "read-only" is told here;
 * - a directory made below priv/lock/ is a cluster-wide lock (cfs_lock). */
#ifndef LXGPU_CLUSTER_H
#define LXGPU_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

#define CLUSTER_FACTS_FILE "lxgpu.json" /* in etc/pve/nodes/<node>/ */
#define CLUSTER_DIR        "etc/pve/lxgpu"
#define CLUSTER_MAPS_FILE  "mappings.cfg" /* in CLUSTER_DIR */
#define CLUSTER_NAME_MAX   64
/* what a node name may be: Proxmox's pve-node, a host name's first label */
bool cluster_node_valid(const char *name);

/* Whether this host is a Proxmox node: etc/pve/nodes exists. */
bool cluster_present(int rootfd);
/* This node's name: where etc/pve/local or etc/pve/lxc points
 * (nodes/<name>[/lxc]), else the first label of etc/hostname; false when
 * neither says. */
bool cluster_node_name(int rootfd, char name[CLUSTER_NAME_MAX]);
/* Whether /etc/pve refuses writes now (pmxcfs without quorum shows its
 * directories without write bits). */
bool cluster_readonly(int rootfd);
/* The nodes: the directories of etc/pve/nodes, sorted, in a NULL-terminated
 * list. Returns how many. */
size_t cluster_nodes(int rootfd, char ***names);
void cluster_names_free(char **names);

/* Every container config of the cluster: etc/pve/nodes/<node>/lxc/<vmid>.conf,
 * by node, then VMID. Returns how many. */
struct cluster_ct {
	char *node, *vmid;
};
size_t cluster_cts(int rootfd, struct cluster_ct **out);
void cluster_cts_free(struct cluster_ct *cts, size_t n);
/* Its config's text (at most 1 MiB, a regular file). */
int cluster_ct_read(int rootfd, const struct cluster_ct *ct, char **text, size_t *len,
		    struct lxgpu_err *err);

/* This host's boot: /proc/sys/kernel/random/boot_id (NUL-terminated, "" when
 * unknown) and the btime of /proc/stat (0 when unknown). */
void cluster_boot(int rootfd, char boot_id[40], long long *btime);
/* When `node` last booted, as its pvestatd tells the cluster: its line
 * "pve2-node/NODE:UPTIME:SUBLEVEL:CTIME:..." in /etc/pve/.rrd gives
 * CTIME - UPTIME; 0 when the cluster has no such line (the node is off). */
long long cluster_node_booted(int rootfd, const char *node);

/* Writes `text` as `file` in the directory `dir` below etc/pve (made when
 * missing), through a temp file and a rename, mode 0640 (what pmxcfs allows).
 * Refuses (EROFS) when /etc/pve is read-only: nothing is written then. */
int cluster_write(int rootfd, const char *dir, const char *file, const char *text, size_t len,
		  struct lxgpu_err *err);

/* The lock of a cluster-wide file: a local flock (/run/lock/lxgpu-NAME.lock)
 * and pmxcfs's cluster lock, the directory etc/pve/priv/lock/lxgpu-NAME
 * (cfs_lock_file's); each waited for up to 10 s, a cluster lock older than
 * 120 s (pmxcfs lets such a lock expire) taken over. Returns the flock's fd;
 * cluster_unlock gives both back. */
int cluster_lock(int rootfd, const char *name, struct lxgpu_err *err);
void cluster_unlock(int rootfd, const char *name, int fd);

#endif
