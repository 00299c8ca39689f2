/* dpkg: the packages of a dpkg status file (/var/lib/dpkg/status), one
 * stanza at a time. Pure. */
#ifndef LXGPU_DPKG_H
#define LXGPU_DPKG_H

#include <stdbool.h>
#include <stddef.h>

struct dpkg_pkg {
	char name[128];
	char version[128]; /* without the epoch: "12.4.1-1" */
	bool installed;    /* Status: install ok installed */
};

/* The next stanza from *cursor (a NUL-terminated status file, not changed);
 * false at the end. */
bool dpkg_next(const char **cursor, struct dpkg_pkg *pkg);

#endif
