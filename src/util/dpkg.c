/* dpkg: status file stanzas (see dpkg.h). */
#include "util/dpkg.h"

#include <stdio.h>
#include <string.h>

/* The value of "Field: value" in [line, end), copied to out. */
static void field(const char *line, const char *end, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	if ((size_t)(end - line) <= n || strncmp(line, name, n) != 0)
		return;
	const char *v = line + n;
	while (v < end && *v == ' ')
		v++;
	snprintf(out, size, "%.*s", (int)(end - v), v);
}

bool dpkg_next(const char **cursor, struct dpkg_pkg *pkg)
{
	const char *p = *cursor;
	char status[128];

	while (*p == '\n')
		p++;
	if (*p == '\0')
		return false;
	memset(pkg, 0, sizeof(*pkg));
	status[0] = '\0';
	while (*p && *p != '\n') {
		const char *end = strchr(p, '\n');
		if (!end)
			end = p + strlen(p);
		field(p, end, "Package:", pkg->name, sizeof(pkg->name));
		field(p, end, "Version:", pkg->version, sizeof(pkg->version));
		field(p, end, "Status:", status, sizeof(status));
		p = *end ? end + 1 : end;
	}
	*cursor = p;
	char *colon = strchr(pkg->version, ':'); /* the epoch */
	if (colon)
		memmove(pkg->version, colon + 1, strlen(colon + 1) + 1);
	pkg->installed = strcmp(status, "install ok installed") == 0;
	return true;
}
