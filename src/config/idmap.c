/* idmap: what a container's config says about its user namespace (idmap.h). */
#include "config/idmap.h"

#include <stdio.h>
#include <string.h>

bool ct_privileged(const struct conf *c)
{
	if (c->format == CONF_PVE && conf_is_true(conf_get(c, "unprivileged")))
		return false;
	return conf_get(c, "lxc.idmap") == NULL && conf_get(c, "lxc.id_map") == NULL;
}

long ct_host_id(const struct conf *c, char kind, unsigned long inside)
{
	bool mapped = false;

	if (ct_privileged(c))
		return (long)inside;
	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *l = &c->lines[i];
		char k;
		unsigned long first, host, count;
		if (l->kind != CONF_KEY ||
		    (strcmp(l->key, "lxc.idmap") != 0 && strcmp(l->key, "lxc.id_map") != 0))
			continue;
		mapped = true;
		if (sscanf(l->value, " %c %lu %lu %lu", &k, &first, &host, &count) == 4 &&
		    k == kind && inside >= first && inside - first < count)
			return (long)(host + (inside - first));
	}
	/* Proxmox maps u/g 0 100000 65536 when the config names no map of its own. */
	if (!mapped && inside < 65536)
		return (long)(100000 + inside);
	return -1;
}
