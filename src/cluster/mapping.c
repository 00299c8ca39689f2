/* mapping: the cluster's named GPU mappings (see mapping.h). */
#include "cluster/mapping.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "inventory/procfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define MAPS_MAX (256u * 1024u)

bool map_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MAP_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return false;
	return true;
}

/* A GPU-UUID (GPU- and 36 hex digits and dashes) or a PCI address, with
 * /GI/CI for one MIG instance. */
static bool gpu_id_valid(const char *id)
{
	char pci[32];
	size_t n = strcspn(id, "/");
	if (id[n]) {
		unsigned g, c;
		int end = 0;
		if (sscanf(id + n, "/%3u/%3u%n", &g, &c, &end) != 2 || id[n + (size_t)end] ||
		    !isdigit((unsigned char)id[n + 1]))
			return false;
	}
	if (n == 40 && strncmp(id, "GPU-", 4) == 0)
		return strspn(id + 4, "0123456789abcdefABCDEF-") == 36;
	return pci_addr_parse(id, n, pci);
}

void map_entry_free(struct gpu_map_entry *e)
{
	free(e->node);
	free(e->gpu);
	e->node = e->gpu = NULL;
}

int map_entry_parse(const char *arg, struct gpu_map_entry *out, struct lxgpu_err *err)
{
	_cleanup_free_ char *copy = xstrdup(arg);
	char *save = NULL;
	memset(out, 0, sizeof(*out));
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char **slot = strncmp(t, "node=", 5) == 0  ? &out->node
			      : strncmp(t, "gpu=", 4) == 0 ? &out->gpu
							   : NULL;
		if (!slot || *slot) {
			map_entry_free(out);
			return lxgpu_failx(err, EINVAL, "'%s': want node=NODE,gpu=GPU", arg);
		}
		*slot = xstrdup(strchr(t, '=') + 1);
	}
	if (!out->node || !out->gpu) {
		map_entry_free(out);
		return lxgpu_failx(err, EINVAL, "'%s': want node=NODE,gpu=GPU", arg);
	}
	if (!cluster_node_valid(out->node) || !gpu_id_valid(out->gpu)) {
		int r = lxgpu_failx(err, EINVAL, "'%s': %s", arg,
				    !cluster_node_valid(out->node)
					    ? "not a node name (letters, digits and '-')"
					    : "gpu= is a GPU-UUID or a PCI address (/GI/CI for one "
					      "MIG instance)");
		map_entry_free(out);
		return r;
	}
	return 0;
}

void map_free(struct gpu_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		map_entry_free(&m->entries[i]);
	free(m->entries);
	free(m->name);
	memset(m, 0, sizeof(*m));
}

void maps_free(struct gpu_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		map_free(&m->maps[i]);
	free(m->maps);
	memset(m, 0, sizeof(*m));
}

void maps_add(struct gpu_maps *m, struct gpu_map *map)
{
	m->maps = xrealloc(m->maps, (m->n + 1) * sizeof(*m->maps));
	m->maps[m->n++] = *map;
	memset(map, 0, sizeof(*map));
}

bool maps_remove(struct gpu_maps *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->maps[i].name, name) == 0) {
			map_free(&m->maps[i]);
			memmove(&m->maps[i], &m->maps[i + 1], (m->n - i - 1) * sizeof(*m->maps));
			m->n--;
			return true;
		}
	return false;
}

const struct gpu_map *maps_find(const struct gpu_maps *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->maps[i].name, name) == 0)
			return &m->maps[i];
	return NULL;
}

int maps_parse(const char *text, size_t len, struct gpu_maps *out, struct lxgpu_err *err)
{
	_cleanup_free_ char *copy = xstrndup(text, len);
	char *save = NULL;
	size_t lineno = 0;

	memset(out, 0, sizeof(*out));
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		struct gpu_map map = { 0 };
		int r = 0;
		for (char *w = strtok_r(line, " \t\r", &save); w && r == 0;
		     w = strtok_r(NULL, " \t\r", &save)) {
			if (!map.name) {
				if (!map_name_valid(w) || maps_find(out, w))
					r = lxgpu_failx(err, EINVAL, "'%s': %s", w,
							maps_find(out, w) ? "named twice"
									  : "not a mapping name");
				else
					map.name = xstrdup(w);
				continue;
			}
			struct gpu_map_entry e;
			if ((r = map_entry_parse(w, &e, err)) == 0) {
				map.entries =
					xrealloc(map.entries, (map.n + 1) * sizeof(*map.entries));
				map.entries[map.n++] = e;
			}
		}
		if (r == 0 && map.n == 0)
			r = lxgpu_failx(err, EINVAL, "mapping %s names no GPU", map.name);
		if (r < 0) {
			map_free(&map);
			maps_free(out);
			return lxgpu_wrap(err, "/" CLUSTER_DIR "/" CLUSTER_MAPS_FILE " line %zu",
					  lineno);
		}
		maps_add(out, &map);
	}
	return 0;
}

char *maps_format(const struct gpu_maps *m)
{
	char *s = xstrdup("# lxgpu's GPU mappings (lxgpu map add|rm|list; lxgpu(1), MAPPINGS)\n");
	for (size_t i = 0; i < m->n; i++) {
		char *t = xasprintf("%s%s", s, m->maps[i].name);
		free(s);
		s = t;
		for (size_t k = 0; k < m->maps[i].n; k++) {
			t = xasprintf("%s node=%s,gpu=%s", s, m->maps[i].entries[k].node,
				      m->maps[i].entries[k].gpu);
			free(s);
			s = t;
		}
		t = xasprintf("%s\n", s);
		free(s);
		s = t;
	}
	return s;
}

int maps_read(int rootfd, struct gpu_maps *out, struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	memset(out, 0, sizeof(*out));
	if (fs_read_in(rootfd, CLUSTER_DIR "/" CLUSTER_MAPS_FILE, MAPS_MAX, &text, &len, err) < 0) {
		if (err->code != ENOENT)
			return -err->code;
		lxgpu_err_clear(err);
		return 0;
	}
	return maps_parse(text, len, out, err);
}

int maps_write(int rootfd, const struct gpu_maps *m, struct lxgpu_err *err)
{
	_cleanup_free_ char *text = maps_format(m);
	return cluster_write(rootfd, "lxgpu", CLUSTER_MAPS_FILE, text, strlen(text), err);
}

void cluster_where_for(const struct gpu_maps *maps, const char *node, struct cluster_where *w)
{
	snprintf(w->node, sizeof(w->node), "%s", node ? node : "");
	w->where.node = node ? w->node : NULL;
	w->where.maps_known = true;
	w->pm = xcalloc(maps->n + 1, sizeof(*w->pm));
	w->ids = xcalloc(maps->n + 1, sizeof(*w->ids));
	w->nodes = xcalloc(maps->n + 1, sizeof(*w->nodes));
	for (size_t i = 0; i < maps->n; i++) {
		const struct gpu_map *m = &maps->maps[i];
		size_t k = 0;
		w->ids[i] = xcalloc(m->n + 1, sizeof(char *));
		w->nodes[i] = xstrdup("");
		for (size_t e = 0; e < m->n; e++) {
			if (node && strcmp(m->entries[e].node, node) == 0)
				w->ids[i][k++] = m->entries[e].gpu;
			bool seen = false;
			for (size_t p = 0; p < e; p++)
				seen |= strcmp(m->entries[p].node, m->entries[e].node) == 0;
			if (!seen) {
				char *t = xasprintf("%s%s%s", w->nodes[i],
						    w->nodes[i][0] ? ", " : "", m->entries[e].node);
				free(w->nodes[i]);
				w->nodes[i] = t;
			}
		}
		w->pm[i] = (struct plan_map){ m->name, w->ids[i], k, w->nodes[i] };
	}
	w->where.maps = w->pm;
	w->where.nmaps = maps->n;
}

void cluster_where_load(int rootfd, struct cluster_where *w, struct lxgpu_err *err)
{
	char node[CLUSTER_NAME_MAX];
	bool named = cluster_node_name(rootfd, node);
	memset(w, 0, sizeof(*w));
	bool known = maps_read(rootfd, &w->maps, err) == 0;
	cluster_where_for(&w->maps, named ? node : NULL, w);
	w->where.maps_known = known;
}

void cluster_where_free(struct cluster_where *w)
{
	for (size_t i = 0; i < w->where.nmaps; i++) {
		free(w->ids[i]);
		free(w->nodes[i]);
	}
	free(w->ids);
	free(w->nodes);
	free(w->pm);
	maps_free(&w->maps);
	memset(w, 0, sizeof(*w));
}
