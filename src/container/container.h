/* container: finds a container's config (a Proxmox VMID or a plain LXC name)
 * and reads what lxgpu needs to know about it. Read-only. */
#ifndef LXGPU_CONTAINER_H
#define LXGPU_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config/config.h"
#include "util/err.h"

struct lxgpu_ct {
	enum conf_format
		format; /* CONF_PVE: /etc/pve/lxc/<vmid>.conf; CONF_LXC: <lxcpath>/<name>/config */
	char *id;       /* "101" or the LXC name */
	char *dir;      /* host view: "/etc/pve/lxc", "/var/lib/lxc/web" */
	char *file;     /* "101.conf", "config" */
	char *path;     /* dir/file, host view, for messages */
	char *lxcpath;  /* where LXC keeps its runtime state: /var/lib/lxc for Proxmox */
	int dirfd;      /* the config's directory, beneath the host root */
	bool dirfd_shared; /* /etc/pve/lxc's fd, which ct_close leaves open */
};

/* Checks a CT argument alone: EXIT_USAGE-worthy when false, *why says why. */
bool ct_arg_valid(const char *arg, const char **why);
/* Finds the container's config beneath rootfd. */
int ct_open(int rootfd, const char *arg, const char *lxcpath, struct lxgpu_ct *ct,
	    struct lxgpu_err *err);
/* ct_open of an id ct_list gave: no check that the config is there (the
 * read that follows says so if it went since), one lookup less a container. */
int ct_open_listed(int rootfd, const char *arg, const char *lxcpath, struct lxgpu_ct *ct,
		   struct lxgpu_err *err);
void ct_close(struct lxgpu_ct *ct);
/* Reads the config (at most CONF_MAX bytes; a regular file, not followed). */
int ct_read(const struct lxgpu_ct *ct, char **text, size_t *len, struct lxgpu_err *err);
/* ct_read, keeping the file open (*fd, when fd is not NULL) and its stat. */
int ct_read_keep(const struct lxgpu_ct *ct, int *fd, struct stat *st, char **text, size_t *len,
		 struct lxgpu_err *err);
/* The config read again (sync: under its lock, after a first read without):
 * through fd, which ct_read_keep gave with the stat `was`, while the name
 * still names that file (pread: an edit in place shows); else opened anew.
 * *st: its stat now. Two system calls instead of four, a config. */
int ct_read_again(const struct lxgpu_ct *ct, int fd, const struct stat *was, struct stat *st,
		  char **text, size_t *len, struct lxgpu_err *err);

/* Every container of this node: /etc/pve/lxc/<vmid>.conf and
 * <lxcpath>/<name>/config (on Proxmox, the generated /var/lib/lxc/<vmid> is
 * skipped); ids in order, Proxmox's first. */
struct ct_ids {
	char *names; /* LXC names, NUL-terminated, one after another */
	size_t names_len;
	uint32_t *at; /* id i: a VMID (CT_ID_VMID set), or names + at[i] */
	size_t n;
};
/* A VMID is kept as its number: sync --all over 100,000 Proxmox containers
 * keeps 400 KB of ids. VMIDs are below 2^30. */
#define CT_ID_VMID 0x80000000u
#define CT_ID_BUF  16
/* Returns how many (out->n). */
size_t ct_list(int rootfd, const char *lxcpath, struct ct_ids *out);
/* Id i as text; a VMID is written into buf. */
static inline const char *ct_id(const struct ct_ids *l, size_t i, char buf[CT_ID_BUF])
{
	if (!(l->at[i] & CT_ID_VMID))
		return l->names + l->at[i];
	snprintf(buf, CT_ID_BUF, "%u", (unsigned)(l->at[i] & ~CT_ID_VMID));
	return buf;
}
void ct_ids_free(struct ct_ids *l);

/* Whether LXC runs it now: its command socket in /proc/net/unix. */
bool ct_running(int rootfd, const struct lxgpu_ct *ct);
/* The installed pve-container version from the dpkg status file, as
 * major*10000 + minor*100 + patch; 0 when it is not installed. */
int ct_pve_container_version(int rootfd);

#endif
