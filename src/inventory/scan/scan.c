/* scan: the bookkeeping the scanners share (scan/scan.h): each grows one of
 * the inventory's arrays by one zeroed entry, or records a node from its
 * lstat. */
#include "inventory/scan/scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "util/fs.h"
#include "util/xalloc.h"

struct lxgpu_gpu *inv_add_gpu(struct lxgpu_inventory *inv)
{
	xgrow(&inv->gpus, &inv->cap_gpus, inv->ngpus + 1, sizeof(*inv->gpus));
	struct lxgpu_gpu *g = &inv->gpus[inv->ngpus++];
	memset(g, 0, sizeof(*g));
	g->minor = -1;
	return g;
}

struct lxgpu_node *inv_add_node(struct lxgpu_inventory *inv, const char *path,
				enum lxgpu_node_role role)
{
	xgrow(&inv->nodes, &inv->cap_nodes, inv->nnodes + 1, sizeof(*inv->nodes));
	struct lxgpu_node *n = &inv->nodes[inv->nnodes++];
	memset(n, 0, sizeof(*n));
	n->path = xstrdup(path);
	n->role = role;
	n->type = 'c';
	n->gpu = -1;
	return n;
}

void inv_add_finding(struct lxgpu_inventory *inv, const char *id, enum lxgpu_severity sev,
		     const char *fix, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup(id);
	va_end(ap);
	xgrow(&inv->findings, &inv->cap_findings, inv->nfindings + 1, sizeof(*inv->findings));
	struct lxgpu_finding *f = &inv->findings[inv->nfindings++];
	f->id = id;
	f->severity = sev;
	f->message = msg;
	f->fix = fix ? xstrdup(fix) : NULL;
}

struct lxgpu_driver *inv_add_driver(struct lxgpu_inventory *inv)
{
	xgrow(&inv->drivers, &inv->cap_drivers, inv->ndrivers + 1, sizeof(*inv->drivers));
	struct lxgpu_driver *d = &inv->drivers[inv->ndrivers++];
	memset(d, 0, sizeof(*d));
	return d;
}

struct lxgpu_node *inv_stat_node(struct lxgpu_inventory *inv, int rootfd, const char *path,
				 enum lxgpu_node_role role)
{
	struct stat st;
	struct lxgpu_err err = { 0 };

	if (fs_lstat_in(rootfd, path, &st, &err) < 0)
		return NULL;
	return inv_add_node_stat(inv, path, role, &st);
}

struct lxgpu_node *inv_add_node_stat(struct lxgpu_inventory *inv, const char *path,
				     enum lxgpu_node_role role, const struct stat *st)
{
	struct lxgpu_node *n = inv_add_node(inv, path, role);
	n->type = S_ISCHR(st->st_mode) ? 'c' : '-';
	n->major = S_ISCHR(st->st_mode) ? major(st->st_rdev) : 0;
	n->minor = S_ISCHR(st->st_mode) ? minor(st->st_rdev) : 0;
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	return n;
}

struct lxgpu_gpu *inv_gpu_by_pci(struct lxgpu_inventory *inv, const char *pci)
{
	for (size_t i = 0; i < inv->ngpus; i++)
		if (pci[0] && strcmp(inv->gpus[i].pci, pci) == 0)
			return &inv->gpus[i];
	return NULL;
}
