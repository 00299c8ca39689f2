/* domain: what attaching GPUs makes lxgpu responsible for in a container
 * (docs/ownership.md, "Domains"): the majors, nodes and paths of the
 * attached vendors' drivers. Plain data, built by plan from the host; the
 * editor asks it whether a hand-written line grants or mounts only that. */
#ifndef LXGPU_DOMAIN_H
#define LXGPU_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/devlines.h"

struct dom_node {
	unsigned major, minor;
};

struct ct_domain {
	bool nvidia;      /* every /dev/nvidia* path */
	unsigned *majors; /* every minor of these character majors */
	size_t nmajors;
	struct dom_node *nodes; /* these character nodes */
	size_t nnodes;
	char **paths; /* these host paths (shown at the same path inside) */
	size_t npaths;
};

void domain_add_major(struct ct_domain *d, unsigned major);
void domain_add_node(struct ct_domain *d, unsigned major, unsigned minor);
void domain_add_path(struct ct_domain *d, const char *path);
void domain_free(struct ct_domain *d);

/* Whether everything line e grants or mounts is in the domain: a c rule of
 * a domain major or node, a mount or devN whose host path or container
 * target is a domain path. Never a deny line, a wildcard major, 'a' or 'b'. */
bool domain_covers(const struct ct_domain *d, const struct dl_entry *e);
bool domain_has_major(const struct ct_domain *d, unsigned major);

#endif
