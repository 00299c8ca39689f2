/* `lxgpu map add NAME node=NODE,gpu=GPU... | rm NAME | list`: the cluster's
 * named GPU mappings (cluster/mapping.h), in /etc/pve/lxgpu/mappings.cfg,
 * written under the mappings' lock through a temp file and a rename. A
 * container attached with --gpu map:NAME records the name; each node gives
 * it NAME's GPU there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/facts.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "cluster/mapping.h"
#include "config/config.h"
#include "config/devlines.h"
#include "config/record.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* The model node's published facts give `gpu`; NULL when they do not have it
 * (*published: whether the node has facts at all). */
static char *model_on(struct cli *cli, const char *node, const char *gpu, bool *published)
{
	struct lxgpu_err err = { 0 };
	struct lxgpu_inventory inv;
	json_t *facts = facts_read(cli, node, &err);
	*published = facts != NULL;
	if (!facts)
		return NULL;
	facts_inventory(facts, &inv);
	json_decref(facts);
	const struct lxgpu_gpu *g = lxgpu_gpu_find(&inv, gpu);
	char *model = g ? xstrdup(g->model ? g->model : "GPU") : NULL;
	lxgpu_inventory_free(&inv);
	return model;
}

/* The containers of the cluster whose record names map:NAME: "101 (pve1)". */
static char *users_of(struct cli *cli, const char *name)
{
	struct cluster_ct *cts;
	size_t n = cluster_cts(cli->rootfd, &cts);
	char *users = xstrdup("");
	_cleanup_free_ char *item = xasprintf("map:%s", name);
	for (size_t i = 0; i < n; i++) {
		struct lxgpu_err err = { 0 };
		_cleanup_free_ char *text = NULL;
		size_t len;
		struct conf c;
		struct dl_scan s;
		struct lxgpu_record rec;
		if (cluster_ct_read(cli->rootfd, &cts[i], &text, &len, &err) < 0 ||
		    conf_parse(text, len, CONF_PVE, &c, &err) < 0)
			continue;
		dl_scan(&c, &s);
		if (record_read(&c, &s, &rec, &err) == 0) {
			for (size_t k = 0; k < rec.ndevices; k++)
				if (strcmp(rec.devices[k], item) == 0) {
					char *t = xasprintf("%s%sCT %s (%s)", users,
							    users[0] ? ", " : "", cts[i].vmid,
							    cts[i].node);
					free(users);
					users = t;
					break;
				}
			record_free(&rec);
		}
		dl_free(&s);
		conf_free(&c);
	}
	cluster_cts_free(cts, n);
	return users;
}

static json_t *map_json(struct cli *cli, const struct gpu_map *m)
{
	json_t *o = json_object(), *entries = json_array();
	json_object_set_new(o, "name", json_text(m->name));
	for (size_t k = 0; k < m->n; k++) {
		bool published;
		_cleanup_free_ char *model =
			model_on(cli, m->entries[k].node, m->entries[k].gpu, &published);
		json_t *e = json_object();
		json_object_set_new(e, "node", json_text(m->entries[k].node));
		json_object_set_new(e, "gpu", json_text(m->entries[k].gpu));
		json_object_set_new(e, "model", json_str_or_null(model));
		json_object_set_new(e, "published", json_boolean(published));
		json_array_append_new(entries, e);
	}
	json_object_set_new(o, "entries", entries);
	return o;
}

static void map_text(struct cli *cli, const struct gpu_map *m, struct table *t)
{
	for (size_t k = 0; k < m->n; k++) {
		bool published;
		_cleanup_free_ char *model =
			model_on(cli, m->entries[k].node, m->entries[k].gpu, &published);
		const char *row[] = { k ? "" : m->name, m->entries[k].node, m->entries[k].gpu,
				      model       ? model
				      : published ? "(not in the node's published GPUs)"
						  : "(the node has published nothing)" };
		table_add(t, row);
	}
}

static int list(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct gpu_maps maps;
	if (maps_read(cli->rootfd, &maps, &err) < 0)
		return cli_fail(&err);
	if (cli->json) {
		json_t *doc = json_object(), *arr = json_array();
		for (size_t i = 0; i < maps.n; i++)
			json_array_append_new(arr, map_json(cli, &maps.maps[i]));
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "mappings", arr);
		maps_free(&maps);
		return print_json(doc);
	}
	if (maps.n == 0) {
		printf("no GPU mapping (lxgpu map add NAME node=NODE,gpu=GPU... makes one)\n");
	} else {
		static const char *const header[] = { "MAPPING", "NODE", "GPU", "MODEL" };
		struct table t;
		table_init(&t, 4, header);
		for (size_t i = 0; i < maps.n; i++)
			map_text(cli, &maps.maps[i], &t);
		table_print(&t, stdout, cli->color, "");
		table_free(&t);
	}
	maps_free(&maps);
	return EXIT_OK;
}

/* Under the lock: the change, checked against the file as it is now. */
static int change(struct cli *cli, bool add, const char *name, struct gpu_map *map)
{
	struct lxgpu_err err = { 0 };
	struct gpu_maps maps;
	int r;

	if (cluster_readonly(cli->rootfd))
		return cli_error(EXIT_FAILED,
				 "map %s: /etc/pve is read-only (this node has no quorum): nothing "
				 "changed",
				 add ? "add" : "rm");
	int lock = cluster_lock(cli->rootfd, "mappings", &err);
	if (lock < 0)
		return cli_fail(&err);
	if ((r = maps_read(cli->rootfd, &maps, &err)) < 0) {
		cluster_unlock(cli->rootfd, "mappings", lock);
		return cli_fail(&err);
	}
	if (add && maps_find(&maps, name))
		r = cli_error(EXIT_FAILED,
			      "map add %s: a mapping of that name exists (lxgpu map rm %s first)",
			      name, name);
	else if (!add && !maps_find(&maps, name))
		r = cli_error(EXIT_FAILED, "map rm %s: no such mapping (lxgpu map list)", name);
	else if (!add) {
		_cleanup_free_ char *users = users_of(cli, name);
		if (users[0])
			r = cli_error(EXIT_FAILED,
				      "map rm %s: %s records map:%s: give it another GPU (lxgpu "
				      "attach) first",
				      name, users, name);
		else
			r = -1;
	} else
		r = -1;
	if (r < 0) {
		json_t *doc = add ? map_json(cli, map) : NULL;
		if (add)
			maps_add(&maps, map);
		else
			maps_remove(&maps, name);
		if (maps_write(cli->rootfd, &maps, &err) < 0) {
			json_decref(doc);
			r = cli_fail(&err);
		} else if (cli->json) {
			json_t *out = json_object();
			json_object_set_new(out, "schema", json_integer(1));
			json_object_set_new(out, "action", json_text(add ? "add" : "rm"));
			json_object_set_new(out, "name", json_text(name));
			json_object_set_new(out, "mapping", doc ? doc : json_null());
			r = print_json(out);
		} else {
			json_decref(doc);
			if (!cli->quiet)
				printf("mapping %s %s (/%s/%s)\n", name, add ? "added" : "removed",
				       CLUSTER_DIR, CLUSTER_MAPS_FILE);
			r = EXIT_OK;
		}
	}
	maps_free(&maps);
	cluster_unlock(cli->rootfd, "mappings", lock);
	return r;
}

static int add(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	const char *name = cli->nargs > 1 ? cli->args[1] : "";
	if (cli->nargs < 3)
		return cli_error(EXIT_USAGE, "map add: NAME and node=NODE,gpu=GPU at least once");
	if (!map_name_valid(name))
		return cli_error(EXIT_USAGE,
				 "map add %s: a name is a letter or digit, then letters, digits, "
				 "'-', '_' or '.' (%d at most)",
				 name, MAP_NAME_MAX);
	struct gpu_map map = { .name = xstrdup(name) };
	int r = -1;
	for (int i = 2; i < cli->nargs && r < 0; i++) {
		struct gpu_map_entry e;
		if (map_entry_parse(cli->args[i], &e, &err) < 0) {
			r = cli_error(EXIT_USAGE, "map add %s: %s", name, err.msg);
			break;
		}
		map.entries = xrealloc(map.entries, (map.n + 1) * sizeof(*map.entries));
		map.entries[map.n++] = e;
		/* a GPU the node does not publish is a typo, not a mapping */
		bool published;
		_cleanup_free_ char *model = model_on(cli, e.node, e.gpu, &published);
		if (published && !model)
			r = cli_error(EXIT_FAILED,
				      "map add %s: node %s has no GPU %s (lxgpu status --cluster "
				      "lists its GPUs)",
				      name, e.node, e.gpu);
		else if (!published && !cli->quiet && !cli->json)
			fprintf(stderr,
				"lxgpu: map add %s: node %s has published no GPUs yet: %s is not "
				"checked\n",
				name, e.node, e.gpu);
	}
	if (r < 0)
		r = change(cli, true, name, &map);
	map_free(&map); /* what maps_add did not take */
	return r;
}

int cmd_map(struct cli *cli)
{
	const char *sub = cli->args[0];
	if (strcmp(sub, "list") == 0) {
		if (cli->nargs != 1)
			return cli_error(EXIT_USAGE, "map list: unexpected argument '%s'",
					 cli->args[1]);
		return list(cli);
	}
	if (strcmp(sub, "add") == 0)
		return add(cli);
	if (strcmp(sub, "rm") == 0) {
		if (cli->nargs != 2)
			return cli_error(EXIT_USAGE, "map rm: one NAME");
		return change(cli, false, cli->args[1], NULL);
	}
	return cli_error(EXIT_USAGE, "map %s: want add, rm or list", sub);
}
