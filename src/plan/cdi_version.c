/* cdi_version: the lowest cdiVersion a spec's fields need, by the rules of
 * container-device-interface's specs-go/version.go (requiresV040 ...
 * requiresV110), read off the JSON document itself so that a field added to
 * the spec later is judged too. */
#include "plan/cdi.h"

#include <string.h>

/* The versions a runtime may know, oldest first (validSpecVersions). */
static const char *const known[] = { "0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0",
				     "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0" };
#define EARLIEST 2 /* 0.3.0: what a spec that needs nothing newer is given */

int cdi_version_index(const char *v)
{
	if (v && v[0] == 'v')
		v++;
	for (size_t i = 0; v && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], v) == 0)
			return (int)i;
	return -1;
}

static bool nonempty(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return (json_is_array(v) && json_array_size(v) > 0) ||
	       (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_string(v) && json_string_length(v) > 0) || json_is_true(v);
}

/* Raises *need to version index v, with its reason, when v is newer. */
static void needs(int v, const char *reason, int *need, const char **why)
{
	if (v > *need) {
		*need = v;
		*why = reason;
	}
}

static void edits_need(const json_t *edits, int *need, const char **why)
{
	const json_t *rdt = json_object_get(edits, "intelRdt");
	if (nonempty(edits, "netDevices"))
		needs(9, "netDevices", need, why);
	if (rdt && (nonempty(rdt, "schemata") || nonempty(rdt, "enableMonitoring")))
		needs(9, "intelRdt's schemata or enableMonitoring", need, why);
	if (rdt)
		needs(6, "intelRdt", need, why);
	if (nonempty(edits, "additionalGids"))
		needs(6, "additionalGids", need, why);
	size_t i;
	const json_t *x;
	json_array_foreach(json_object_get(edits, "deviceNodes"), i, x) if (nonempty(x, "hostPath"))
		needs(4, "a device node's hostPath", need, why);
	json_array_foreach(json_object_get(edits, "mounts"), i, x) if (nonempty(x, "type"))
		needs(3, "a mount's type", need, why);
}

const char *cdi_min_version(const json_t *doc, const char **why)
{
	int need = EARLIEST;
	*why = "the fields every spec has";
	if (nonempty(doc, "annotations"))
		needs(5, "annotations", &need, why);
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const char *class = kind ? strchr(kind, '/') : NULL;
	if (class && strchr(class, '.'))
		needs(5, "a class with a '.'", &need, why);
	edits_need(json_object_get(doc, "containerEdits"), &need, why);
	size_t i;
	const json_t *d;
	json_array_foreach(json_object_get(doc, "devices"), i, d)
	{
		const char *name = json_string_value(json_object_get(d, "name"));
		if (name && name[0] >= '0' && name[0] <= '9')
			needs(4, "device names that start with a digit", &need, why);
		if (nonempty(d, "annotations"))
			needs(5, "annotations", &need, why);
		edits_need(json_object_get(d, "containerEdits"), &need, why);
	}
	return known[need];
}
