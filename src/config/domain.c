/* domain: lxgpu's responsibility in a container (see domain.h). */
#include "config/domain.h"

#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

bool domain_has_major(const struct ct_domain *d, unsigned major)
{
	for (size_t i = 0; i < d->nmajors; i++)
		if (d->majors[i] == major)
			return true;
	return false;
}

void domain_add_major(struct ct_domain *d, unsigned major)
{
	if (domain_has_major(d, major))
		return;
	d->majors = xrealloc(d->majors, (d->nmajors + 1) * sizeof(*d->majors));
	d->majors[d->nmajors++] = major;
}

void domain_add_node(struct ct_domain *d, unsigned major, unsigned minor)
{
	for (size_t i = 0; i < d->nnodes; i++)
		if (d->nodes[i].major == major && d->nodes[i].minor == minor)
			return;
	d->nodes = xrealloc(d->nodes, (d->nnodes + 1) * sizeof(*d->nodes));
	d->nodes[d->nnodes++] = (struct dom_node){ major, minor };
}

void domain_add_path(struct ct_domain *d, const char *path)
{
	for (size_t i = 0; i < d->npaths; i++)
		if (strcmp(d->paths[i], path) == 0)
			return;
	d->paths = xrealloc(d->paths, (d->npaths + 1) * sizeof(char *));
	d->paths[d->npaths++] = xstrdup(path);
}

void domain_free(struct ct_domain *d)
{
	for (size_t i = 0; i < d->npaths; i++)
		free(d->paths[i]);
	free(d->paths);
	free(d->majors);
	free(d->nodes);
	memset(d, 0, sizeof(*d));
}

/* A host path ("/dev/nvidia0") or a container target ("dev/nvidia0"): the
 * domain's paths show at the same place inside. */
static bool covers_path(const struct ct_domain *d, const char *p, bool target)
{
	_cleanup_free_ char *host = target ? xasprintf("/%s", p) : NULL;
	const char *path = target ? host : p;
	if (d->nvidia && strncmp(path, "/dev/nvidia", strlen("/dev/nvidia")) == 0)
		return true;
	for (size_t i = 0; i < d->npaths; i++)
		if (strcmp(d->paths[i], path) == 0)
			return true;
	return false;
}

bool domain_covers(const struct ct_domain *d, const struct dl_entry *e)
{
	switch (e->kind) {
	case DL_RULE:
		if (e->deny || e->type != 'c' || e->major < 0)
			return false;
		if (domain_has_major(d, (unsigned)e->major))
			return true;
		for (size_t i = 0; e->minor >= 0 && i < d->nnodes; i++)
			if (d->nodes[i].major == (unsigned)e->major &&
			    d->nodes[i].minor == (unsigned)e->minor)
				return true;
		return false;
	case DL_MOUNT:
	case DL_DEV:
		return covers_path(d, e->path, false) || covers_path(d, e->target, true);
	default:
		return false;
	}
}
