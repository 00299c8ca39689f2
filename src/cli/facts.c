/* facts: this node's published GPUs (facts.h). The file is small (a few KiB
 * for eight GPUs), written through a temp file and a rename in the node's own
 * directory of /etc/pve (cluster_write), and rewritten only when its facts
 * change or the node booted again: pmxcfs sends every write to every node. */
#include "cli/facts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/output.h"
#include "cluster/cluster.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define FACTS_SCHEMA 1
#define FACTS_MAX    (256u * 1024u)
/* a node whose facts say it booted this much before the cluster's boot time
 * of it booted again since (btime and pvestatd's uptime differ by seconds) */
#define BOOT_SLACK_S 120

/* amdgpu's VRAM size (sysfs), in MiB; -1 when the kernel does not say (NVIDIA
 * tells only NVML) */
static long long memory_mib(struct cli *cli, const struct lxgpu_gpu *g)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *text = NULL;
	char path[128];
	if (!g->pci[0])
		return -1;
	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/mem_info_vram_total", g->pci);
	if (fs_read_in(cli->rootfd, path, 64, &text, NULL, &err) < 0)
		return -1;
	long long bytes = strtoll(text, NULL, 10);
	return bytes > 0 ? bytes >> 20 : -1;
}

static json_t *gpu_json(struct cli *cli, const struct lxgpu_gpu *g)
{
	json_t *o = json_object(), *mig = json_array();
	json_object_set_new(o, "index", json_integer(g->index));
	json_object_set_new(o, "vendor", json_text(lxgpu_vendor_name(g->vendor)));
	json_object_set_new(o, "model", json_str_or_null(g->model));
	json_object_set_new(o, "uuid", json_str_or_null(g->uuid));
	json_object_set_new(o, "pci", json_str_or_null(g->pci[0] ? g->pci : NULL));
	json_object_set_new(o, "minor", g->minor >= 0 ? json_integer(g->minor) : json_null());
	long long mem = memory_mib(cli, g);
	json_object_set_new(o, "memory_mib", mem >= 0 ? json_integer(mem) : json_null());
	size_t instances = 0;
	for (size_t m = 0; m < g->nmig; m++) {
		if (g->mig[m].ci < 0)
			continue;
		char id[32];
		snprintf(id, sizeof(id), "%d/%d", g->mig[m].gi, g->mig[m].ci);
		json_array_append_new(mig, json_string(id));
		instances++;
	}
	/* MIG mode as the capabilities show it: instances there, or none */
	json_object_set_new(o, "mig",
			    g->vendor != LXGPU_VENDOR_NVIDIA
				    ? json_null()
				    : json_text(instances || g->nmig ? "enabled" : "disabled"));
	json_object_set_new(o, "mig_instances", mig);
	json_object_set_new(o, "usable", json_boolean(g->usable));
	json_object_set_new(o, "reason", json_str_or_null(g->usable ? NULL : g->reason));
	return o;
}

json_t *facts_build(struct cli *cli, const struct lxgpu_inventory *inv, const char *node)
{
	char boot_id[40];
	long long btime;
	json_t *doc = json_object(), *gpus = json_array(), *drivers = json_array();
	json_t *majors = json_array();

	cluster_boot(cli->rootfd, boot_id, &btime);
	json_object_set_new(doc, "schema", json_integer(FACTS_SCHEMA));
	json_object_set_new(doc, "node", json_text(node));
	json_object_set_new(doc, "published", json_integer((json_int_t)time(NULL)));
	json_object_set_new(doc, "boot_id", json_str_or_null(boot_id[0] ? boot_id : NULL));
	json_object_set_new(doc, "boot_time", btime ? json_integer(btime) : json_null());
	/* the drivers as discover shows them */
	json_t *all = inventory_json(inv);
	json_array_extend(drivers, json_object_get(all, "drivers"));
	json_decref(all);
	for (size_t i = 0; i < inv->majors.nmajors; i++) {
		const struct proc_major *m = &inv->majors.majors[i];
		if (strncmp(m->name, "nvidia", 6) != 0 && strcmp(m->name, "kfd") != 0 &&
		    strcmp(m->name, "drm") != 0)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "major", json_integer(m->major));
		json_object_set_new(o, "name", json_text(m->name));
		json_array_append_new(majors, o);
	}
	for (size_t i = 0; i < inv->ngpus; i++)
		json_array_append_new(gpus, gpu_json(cli, &inv->gpus[i]));
	json_object_set_new(doc, "drivers", drivers);
	json_object_set_new(doc, "majors", majors);
	json_object_set_new(doc, "gpus", gpus);
	return doc;
}

/* The same facts but for when: a write that would change nothing else. */
static bool same_facts(json_t *a, json_t *b)
{
	_cleanup_free_ char *x = NULL, *y = NULL;
	json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
	json_object_del(ca, "published");
	json_object_del(cb, "published");
	x = json_dumps(ca, JSON_SORT_KEYS | JSON_COMPACT);
	y = json_dumps(cb, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(ca);
	json_decref(cb);
	return x && y && strcmp(x, y) == 0;
}

int facts_publish(struct cli *cli, const struct lxgpu_inventory *inv, struct lxgpu_err *err)
{
	char node[CLUSTER_NAME_MAX], dir[96];
	if (!cluster_present(cli->rootfd) || !cluster_node_name(cli->rootfd, node))
		return 1;
	json_t *doc = facts_build(cli, inv, node);
	struct lxgpu_err ignored = { 0 };
	json_t *old = facts_read(cli, node, &ignored);
	bool same = old && same_facts(old, doc);
	json_decref(old);
	if (same) {
		json_decref(doc);
		return 0;
	}
	_cleanup_free_ char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(doc);
	char *t = xasprintf("%s\n", text);
	snprintf(dir, sizeof(dir), "nodes/%s", node);
	int r = cluster_write(cli->rootfd, dir, CLUSTER_FACTS_FILE, t, strlen(t), err);
	free(t);
	return r < 0 ? r : 0;
}

json_t *facts_read(struct cli *cli, const char *node, struct lxgpu_err *err)
{
	char path[160];
	_cleanup_free_ char *text = NULL;
	size_t len;
	json_error_t jerr;

	snprintf(path, sizeof(path), "etc/pve/nodes/%s/" CLUSTER_FACTS_FILE, node);
	if (fs_read_in(cli->rootfd, path, FACTS_MAX, &text, &len, err) < 0)
		return NULL;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	if (!doc || !json_is_object(doc)) {
		json_decref(doc);
		lxgpu_failx(err, EINVAL, "/%s: not JSON (%s)", path, jerr.text);
		return NULL;
	}
	json_int_t schema = json_integer_value(json_object_get(doc, "schema"));
	if (schema != FACTS_SCHEMA) {
		json_decref(doc);
		lxgpu_failx(err, EPROTO, "/%s: schema %lld, this lxgpu reads %d%s", path,
			    (long long)schema, FACTS_SCHEMA,
			    schema > FACTS_SCHEMA ? ": upgrade lxgpu here" : "");
		return NULL;
	}
	return doc;
}

int facts_stale(struct cli *cli, const char *node, json_t *facts, long long *booted)
{
	char here[CLUSTER_NAME_MAX], boot_id[40];
	long long btime;
	*booted = 0;
	if (cluster_node_name(cli->rootfd, here) && strcmp(here, node) == 0) {
		cluster_boot(cli->rootfd, boot_id, &btime);
		*booted = btime;
		const char *theirs = json_string_value(json_object_get(facts, "boot_id"));
		if (!boot_id[0] || !theirs)
			return -1;
		return strcmp(theirs, boot_id) != 0;
	}
	*booted = cluster_node_booted(cli->rootfd, node);
	json_t *bt = json_object_get(facts, "boot_time");
	if (!*booted || !json_is_integer(bt))
		return -1;
	return json_integer_value(bt) + BOOT_SLACK_S < *booted;
}

static char *str_or_null(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

static enum lxgpu_vendor vendor_of(json_t *o)
{
	const char *v = json_string_value(json_object_get(o, "vendor"));
	for (int k = LXGPU_VENDOR_NVIDIA; v && k <= LXGPU_VENDOR_INTEL; k++)
		if (strcmp(v, lxgpu_vendor_name((enum lxgpu_vendor)k)) == 0)
			return (enum lxgpu_vendor)k;
	return LXGPU_VENDOR_OTHER;
}

void facts_inventory(json_t *facts, struct lxgpu_inventory *inv)
{
	size_t i;
	json_t *o;

	memset(inv, 0, sizeof(*inv));
	json_array_foreach(json_object_get(facts, "drivers"), i, o)
	{
		xgrow(&inv->drivers, &inv->cap_drivers, inv->ndrivers + 1, sizeof(*inv->drivers));
		struct lxgpu_driver *d = &inv->drivers[inv->ndrivers++];
		d->vendor = vendor_of(o);
		d->name = str_or_null(o, "name");
		d->version = str_or_null(o, "version");
		d->kind = str_or_null(o, "kind");
		d->cuda = str_or_null(o, "cuda");
		if (!d->name || !d->version || !d->kind) {
			/* the inventory never has a driver without these */
			free(d->name);
			free(d->version);
			free(d->kind);
			free(d->cuda);
			inv->ndrivers--;
		}
	}
	json_array_foreach(json_object_get(facts, "gpus"), i, o)
	{
		struct lxgpu_gpu *g = inv_add_gpu(inv);
		const char *pci = json_string_value(json_object_get(o, "pci"));
		g->index = (int)json_integer_value(json_object_get(o, "index"));
		g->vendor = vendor_of(o);
		g->model = str_or_null(o, "model");
		g->uuid = str_or_null(o, "uuid");
		snprintf(g->pci, sizeof(g->pci), "%s", pci ? pci : "");
		json_t *minor = json_object_get(o, "minor");
		g->minor = json_is_integer(minor) ? (int)json_integer_value(minor) : -1;
		g->usable = json_is_true(json_object_get(o, "usable"));
		g->reason = str_or_null(o, "reason");
		size_t k;
		json_t *m;
		json_array_foreach(json_object_get(o, "mig_instances"), k, m)
		{
			int gi, ci;
			if (!json_is_string(m) ||
			    sscanf(json_string_value(m), "%d/%d", &gi, &ci) != 2)
				continue;
			xgrow(&g->mig, &g->cap_mig, g->nmig + 1, sizeof(*g->mig));
			g->mig[g->nmig++] = (struct lxgpu_mig){ .gi = gi, .ci = ci };
		}
	}
	inv->have_proc_devices = false;
}
