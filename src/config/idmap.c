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

/* Through the config's lxc.idmap lines, inside -> host (to_host) or back. */
static long map_id(const struct conf *c, char kind, unsigned long id, bool to_host)
{
	bool mapped = false;

	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *l = &c->lines[i];
		char k;
		unsigned long first, host, count;
		if (l->kind != CONF_KEY ||
		    (strcmp(l->key, "lxc.idmap") != 0 && strcmp(l->key, "lxc.id_map") != 0))
			continue;
		mapped = true;
		if (sscanf(l->value, " %c %lu %lu %lu", &k, &first, &host, &count) != 4 ||
		    k != kind)
			continue;
		unsigned long from = to_host ? first : host, to = to_host ? host : first;
		if (id >= from && id - from < count)
			return (long)(to + (id - from));
	}
	/* Proxmox maps u/g 0 100000 65536 when the config names no map of its own. */
	unsigned long from = to_host ? 0 : 100000, to = to_host ? 100000 : 0;
	if (!mapped && id >= from && id - from < 65536)
		return (long)(to + (id - from));
	return -1;
}

long ct_host_id(const struct conf *c, char kind, unsigned long inside)
{
	if (ct_privileged(c))
		return (long)inside;
	return map_id(c, kind, inside, true);
}

long ct_inside_id(const struct conf *c, char kind, unsigned long host)
{
	if (ct_privileged(c))
		return (long)host;
	return map_id(c, kind, host, false);
}

bool ct_root_may_write(const struct conf *c, unsigned long uid, unsigned long gid, unsigned mode)
{
	if (ct_privileged(c))
		return true;
	if (ct_inside_id(c, 'u', uid) >= 0 && ct_inside_id(c, 'g', gid) >= 0)
		return true; /* CAP_DAC_OVERRIDE in its namespace */
	/* write and search, in the class of the root's own ids */
	unsigned need = 03;
	if ((long)uid == ct_host_id(c, 'u', 0))
		need <<= 6;
	else if ((long)gid == ct_host_id(c, 'g', 0))
		need <<= 3;
	return (mode & need) == need;
}
