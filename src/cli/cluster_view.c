/* cluster_view: the cluster as its nodes' published facts show it (see
 * cluster_view.h). A node's facts are what its lxgpu last wrote; they are
 * marked stale when they are from before its last boot (its boot id, for
 * this node; for another, the boot time its pvestatd broadcasts in
 * /etc/pve/.rrd). */
#include "cli/cluster_view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check/passthrough.h"
#include "cli/checks.h"
#include "cli/facts.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "cluster/mapping.h"
#include "config/devlines.h"
#include "config/record.h"
#include "guest/cuda.h"
#include "guest/guest.h"
#include "plan/compat.h"
#include "plan/plan.h"
#include "util/cleanup.h"
#include "util/version.h"
#include "util/xalloc.h"

struct node_view {
	char *name;
	json_t *facts; /* NULL: none */
	struct lxgpu_inventory inv;
	int stale; /* facts_stale's */
	long long booted;
	char why[1100]; /* why there are no facts */
};

static void node_load(struct cli *cli, const char *name, struct node_view *nv)
{
	struct lxgpu_err err = { 0 };
	memset(nv, 0, sizeof(*nv));
	nv->name = xstrdup(name);
	nv->stale = -1;
	nv->facts = facts_read(cli, name, &err);
	if (!nv->facts) {
		snprintf(nv->why, sizeof(nv->why), "%s",
			 err.code == ENOENT ? "it has published no GPUs (lxgpu sync there)"
					    : err.msg);
		return;
	}
	facts_inventory(nv->facts, &nv->inv);
	nv->stale = facts_stale(cli, name, nv->facts, &nv->booted);
}

static void node_free(struct node_view *nv)
{
	if (nv->facts) {
		json_decref(nv->facts);
		lxgpu_inventory_free(&nv->inv);
	}
	free(nv->name);
}

/* "0 NVIDIA H100 80GB HBM3 (GPU-…)": a GPU as the view names it */
static char *gpu_text(const struct lxgpu_gpu *g, const struct plan_pick *p)
{
	char mig[32] = "";
	if (p && p->gi >= 0)
		snprintf(mig, sizeof(mig), "/%d/%d", p->gi, p->ci);
	return xasprintf("%d%s %s (%s)", g->index, mig, g->model ? g->model : "GPU",
			 lxgpu_gpu_id(g));
}

/* The record's selection resolved on the node's facts: the GPUs it takes
 * there, "; "-joined, in *out; -errno with err when it does not resolve. */
static int resolve_on(const struct node_view *nv, const struct gpu_maps *maps, char *const *devices,
		      size_t n, char **out, struct lxgpu_err *err)
{
	struct cluster_where w = { 0 };
	cluster_where_for(maps, nv->name, &w);
	_cleanup_free_ struct plan_pick *picks = xcalloc(nv->inv.ngpus + 1, sizeof(*picks));
	int r = plan_select(&nv->inv, (const char *const *)devices, n, &w.where, picks, err);
	cluster_where_free(&w);
	*out = xstrdup("");
	for (size_t i = 0; r == 0 && i < nv->inv.ngpus; i++) {
		if (!picks[i].selected)
			continue;
		_cleanup_free_ char *g = gpu_text(&nv->inv.gpus[i], &picks[i]);
		char *t = xasprintf("%s%s%s", *out, (*out)[0] ? "; " : "", g);
		free(*out);
		*out = t;
	}
	return r;
}

static bool any_nvidia(const struct lxgpu_inventory *inv)
{
	for (size_t i = 0; i < inv->ngpus; i++)
		if (inv->gpus[i].vendor == LXGPU_VENDOR_NVIDIA)
			return true;
	return false;
}

/* --- status --cluster ------------------------------------------------------ */

struct ct_view {
	const struct cluster_ct *ct;
	char *selection, *resolved, *problem, *fix;
	const char *health; /* ok, warning, error, unknown */
	int stale;
};

static void judge_cluster_ct(struct cli *cli, const struct cluster_ct *ct,
			     const struct node_view *nv, const struct gpu_maps *maps,
			     struct ct_view *v, bool *gpu)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *text = NULL;
	struct conf c;
	struct dl_scan s;
	struct lxgpu_record rec;
	size_t len;

	memset(v, 0, sizeof(*v));
	*gpu = false;
	v->ct = ct;
	v->stale = nv->stale;
	if (cluster_ct_read(cli->rootfd, ct, &text, &len, &err) < 0 ||
	    conf_parse(text, len, CONF_PVE, &c, &err) < 0)
		return;
	dl_scan(&c, &s);
	bool lines = false;
	for (size_t i = 0; i < s.n; i++)
		lines |= ((s.entries[i].kind == DL_MOUNT || s.entries[i].kind == DL_DEV) &&
			  dl_gpu_path(s.entries[i].path)) ||
			 s.entries[i].kind == DL_RECORD;
	*gpu = lines;
	if (record_read(&c, &s, &rec, &err) < 0) {
		v->health = "error";
		v->selection = xstrdup("?");
		v->problem = xstrdup(err.msg);
	} else if (rec.version == 0) {
		v->health = "unknown";
		v->selection = xstrdup("hand-written");
		v->problem =
			xstrdup("its GPU lines are hand-written: lxgpu judges them on its node "
				"only");
		v->fix = xasprintf("lxgpu attach %s (on %s)", ct->vmid, ct->node);
	} else {
		v->selection = xstrdup("");
		for (size_t i = 0; i < rec.ndevices; i++) {
			char *t = xasprintf("%s%s%s", v->selection, i ? "," : "", rec.devices[i]);
			free(v->selection);
			v->selection = t;
		}
		if (!nv->facts) {
			v->health = "unknown";
			v->problem = xasprintf("node %s: %s", nv->name, nv->why);
			v->fix = xasprintf("lxgpu sync --all (on %s)", nv->name);
		} else if (resolve_on(nv, maps, rec.devices, rec.ndevices, &v->resolved, &err) <
			   0) {
			v->health = "error";
			v->problem = xasprintf("on node %s: %s", nv->name, err.msg);
			v->fix = xasprintf("lxgpu check %s --node NODE (which node can run it)",
					   ct->vmid);
		} else if (any_nvidia(&nv->inv) && !lxgpu_nvidia_version(&nv->inv)) {
			v->health = "error";
			v->problem = xasprintf("node %s has no NVIDIA driver loaded", nv->name);
			v->fix = xasprintf("lxgpu host status (on %s)", nv->name);
		} else {
			v->health = nv->stale == 1 ? "warning" : "ok";
			if (nv->stale == 1) {
				v->problem = xasprintf(
					"node %s's facts are from before its last boot", nv->name);
				v->fix = xasprintf("lxgpu sync --all (on %s)", nv->name);
			}
		}
		record_free(&rec);
	}
	dl_free(&s);
	conf_free(&c);
}

static void ct_view_free(struct ct_view *v)
{
	free(v->selection);
	free(v->resolved);
	free(v->problem);
	free(v->fix);
}

static json_t *stale_json(int stale)
{
	return stale < 0 ? json_null() : json_boolean(stale == 1);
}

static json_t *node_json(const struct node_view *nv)
{
	json_t *o = json_object();
	json_object_set_new(o, "node", json_text(nv->name));
	json_object_set_new(o, "facts", json_boolean(nv->facts != NULL));
	json_object_set_new(o, "problem", json_str_or_null(nv->facts ? NULL : nv->why));
	json_t *f = nv->facts;
	json_object_set_new(o, "published", json_deep_copy(json_object_get(f, "published")));
	json_object_set_new(o, "boot_time", json_deep_copy(json_object_get(f, "boot_time")));
	json_object_set_new(o, "booted", nv->booted ? json_integer(nv->booted) : json_null());
	json_object_set_new(o, "stale", stale_json(nv->stale));
	json_t *d = json_object_get(f, "drivers"), *g = json_object_get(f, "gpus");
	json_object_set_new(o, "drivers", d ? json_deep_copy(d) : json_array());
	json_object_set_new(o, "gpus", g ? json_deep_copy(g) : json_array());
	return o;
}

static void print_node(struct cli *cli, const struct node_view *nv, const char *here)
{
	bool c = cli->color;
	printf("%snode %s%s%s", color_of(c, C_BOLD), nv->name, color_of(c, C_RESET),
	       strcmp(nv->name, here) == 0 ? " (this node)" : "");
	if (!nv->facts) {
		printf(": %s\n\n", nv->why);
		return;
	}
	time_t when = (time_t)json_integer_value(json_object_get(nv->facts, "published"));
	char date[32] = "?";
	struct tm tm;
	if (when && localtime_r(&when, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
	printf(": facts of %s%s%s\n", date, nv->stale == 1 ? color_of(c, C_YELLOW) : "",
	       nv->stale == 1 ? " (from before its last boot: lxgpu sync there)" : "");
	if (nv->stale == 1)
		fputs(color_of(c, C_RESET), stdout);
	print_drivers(stdout, &nv->inv, c);
	if (nv->inv.ngpus == 0)
		printf("no GPU\n");
	for (size_t i = 0; i < nv->inv.ngpus; i++) {
		const struct lxgpu_gpu *g = &nv->inv.gpus[i];
		printf("  GPU %d  %s  %s  %s%s%s\n", g->index, g->pci[0] ? g->pci : "-",
		       g->model ? g->model : "?", g->uuid ? g->uuid : "-",
		       g->usable ? "" : "  cannot be given: ", g->usable ? "" : g->reason);
	}
	fputc('\n', stdout);
}

int cluster_status(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	char here[CLUSTER_NAME_MAX] = "";
	char **names;
	struct gpu_maps maps;

	if (!cluster_present(cli->rootfd))
		return cli_error(EXIT_FAILED, "status --cluster: this host is no Proxmox VE node "
					      "(no /etc/pve/nodes)");
	cluster_node_name(cli->rootfd, here);
	if (maps_read(cli->rootfd, &maps, &err) < 0)
		fprintf(stderr, "lxgpu: status --cluster: %s: map: selections not resolved\n",
			err.msg);
	size_t n = cluster_nodes(cli->rootfd, &names);
	struct node_view *nodes = xcalloc(n + 1, sizeof(*nodes));
	for (size_t i = 0; i < n; i++)
		node_load(cli, names[i], &nodes[i]);
	struct cluster_ct *cts;
	size_t ncts = cluster_cts(cli->rootfd, &cts), nviews = 0;
	struct ct_view *views = xcalloc(ncts + 1, sizeof(*views));
	for (size_t i = 0; i < ncts; i++) {
		const struct node_view *nv = NULL;
		bool gpu;
		for (size_t k = 0; k < n && !nv; k++)
			if (strcmp(nodes[k].name, cts[i].node) == 0)
				nv = &nodes[k];
		if (!nv)
			continue;
		judge_cluster_ct(cli, &cts[i], nv, &maps, &views[nviews], &gpu);
		if (gpu)
			nviews++;
		else
			ct_view_free(&views[nviews]);
	}
	if (cli->json) {
		json_t *doc = json_object(), *jn = json_array(), *jc = json_array();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "node", json_str_or_null(here[0] ? here : NULL));
		json_object_set_new(doc, "readonly", json_boolean(cluster_readonly(cli->rootfd)));
		for (size_t i = 0; i < n; i++)
			json_array_append_new(jn, node_json(&nodes[i]));
		for (size_t i = 0; i < nviews; i++) {
			json_t *o = json_object();
			json_object_set_new(o, "ct", json_text(views[i].ct->vmid));
			json_object_set_new(o, "node", json_text(views[i].ct->node));
			json_object_set_new(o, "selection", json_str_or_null(views[i].selection));
			json_object_set_new(o, "resolved", json_str_or_null(views[i].resolved));
			json_object_set_new(
				o, "health",
				json_text(views[i].health ? views[i].health : "unknown"));
			json_object_set_new(o, "problem", json_str_or_null(views[i].problem));
			json_object_set_new(o, "fix", json_str_or_null(views[i].fix));
			json_object_set_new(o, "stale", stale_json(views[i].stale));
			json_array_append_new(jc, o);
		}
		json_object_set_new(doc, "nodes", jn);
		json_object_set_new(doc, "containers", jc);
		print_json(doc);
	} else {
		printf("cluster of %zu node%s%s%s%s\n\n", n, n == 1 ? "" : "s",
		       here[0] ? ", this is " : "", here,
		       cluster_readonly(cli->rootfd) ? " (/etc/pve read-only: no quorum)" : "");
		for (size_t i = 0; i < n; i++)
			print_node(cli, &nodes[i], here);
		if (nviews == 0)
			printf("no container of the cluster has a GPU\n");
		else {
			static const char *const header[] = { "CT", "NODE", "SELECTION",
							      "GPU THERE", "HEALTH" };
			struct table t;
			table_init(&t, 5, header);
			for (size_t i = 0; i < nviews; i++) {
				char health[64];
				const char *h = views[i].health ? views[i].health : "unknown";
				snprintf(health, sizeof(health), "%s %s%s",
					 strcmp(h, "ok") == 0      ? "✓"
					 : strcmp(h, "error") == 0 ? "✗"
								   : "!",
					 h, views[i].stale == 1 ? " (stale facts)" : "");
				const char *row[] = { views[i].ct->vmid, views[i].ct->node,
						      views[i].selection, views[i].resolved,
						      health };
				table_add(&t, row);
			}
			table_print(&t, stdout, cli->color, "");
			table_free(&t);
			for (size_t i = 0; i < nviews; i++)
				if (views[i].problem)
					printf("CT %s: %s\n    fix: %s\n", views[i].ct->vmid,
					       views[i].problem, views[i].fix ? views[i].fix : "-");
		}
	}
	for (size_t i = 0; i < nviews; i++)
		ct_view_free(&views[i]);
	free(views);
	cluster_cts_free(cts, ncts);
	for (size_t i = 0; i < n; i++)
		node_free(&nodes[i]);
	free(nodes);
	cluster_names_free(names);
	maps_free(&maps);
	return EXIT_OK;
}

/* --- check CT --node NODE -------------------------------------------------- */

/* The fix for a GPU bound by its UUID or address that NODE does not have:
 * a selection NODE resolves, when it has a GPU of that model. */
static void uuid_fix(const struct change *ch, const struct node_view *nv,
		     const struct lxgpu_record *rec, char *fix, size_t size)
{
	snprintf(fix, size,
		 "start it on a node that has its GPU, or name one NODE has: lxgpu "
		 "map add NAME node=A,gpu=... node=B,gpu=..., then lxgpu attach %s "
		 "--gpu map:NAME",
		 ch->ct.id);
	for (size_t i = 0; i < rec->ndevices; i++) {
		const struct lxgpu_gpu *g = lxgpu_gpu_find(&ch->inv, rec->devices[i]);
		if (!g || !g->model)
			continue;
		for (size_t k = 0; k < nv->inv.ngpus; k++)
			if (plan_model_matches(nv->inv.gpus[k].model, g->model)) {
				snprintf(fix, size,
					 "lxgpu attach %s --gpu \"model=%s\" (a selection "
					 "every node resolves)",
					 ch->ct.id, g->model);
				return;
			}
	}
}

static void check_selection(struct cli *cli, struct change *ch, const struct node_view *nv,
			    const struct lxgpu_record *rec, struct verdicts *v)
{
	struct lxgpu_err err = { 0 };
	struct gpu_maps maps;
	_cleanup_free_ char *resolved = NULL;
	char fix[512];
	bool floating = false;

	for (size_t i = 0; i < rec->ndevices; i++)
		floating |= plan_selector_floating(rec->devices[i]);
	if (maps_read(cli->rootfd, &maps, &err) < 0) {
		verdict(v, PT_BAD, "selection", NULL, "%s", err.msg);
		return;
	}
	if (resolve_on(nv, &maps, rec->devices, rec->ndevices, &resolved, &err) == 0) {
		verdict(v, PT_OK, "selection", NULL, "%s resolves on %s to GPU %s",
			floating ? "the selection" : "its GPU", nv->name, resolved);
	} else if (floating) {
		snprintf(fix, sizeof(fix),
			 "choose a node that has one (lxgpu status --cluster), or add %s's GPU "
			 "to a mapping (lxgpu map)",
			 nv->name);
		verdict(v, PT_BAD, "selection", fix, "%s", err.msg);
	} else {
		uuid_fix(ch, nv, rec, fix, sizeof(fix));
		verdict(v, PT_BAD, "selection", fix,
			"its GPU is bound by UUID or PCI address and %s does not have it: %s",
			nv->name, err.msg);
	}
	maps_free(&maps);
	if (floating) {
		struct dl_scan s;
		bool hook = false;
		dl_scan(&ch->conf, &s);
		for (size_t i = 0; i < s.n; i++)
			hook |= s.entries[i].kind == DL_HOOK &&
				strcmp(dl_hook_name(&ch->conf, &s.entries[i]), "start-host") == 0;
		dl_free(&s);
		if (hook)
			verdict(v, PT_OK, "start-host", NULL,
				"lxgpu's start-host hook gives it %s's GPU at its first start "
				"there",
				nv->name);
		else
			verdict(v, PT_WARN, "start-host", NULL,
				"no start-host hook line: it needs lxgpu sync %s on %s before it "
				"starts there (lxgpu attach again adds the line)",
				ch->ct.id, nv->name);
	}
}

/* The driver it has against NODE's kernel module, and its CUDA against it. */
static void check_driver(struct cli *cli, struct change *ch, const struct node_view *nv,
			 struct verdicts *v)
{
	struct lxgpu_err err = { 0 };
	struct pt_config pt;
	struct ct_driver d;
	char fix[512];
	const char *theirs = lxgpu_nvidia_version(&nv->inv);

	pt_scan(&ch->conf, &ch->inv, &pt);
	bool nvidia = ct_driver_look(cli, &ch->ct, &ch->conf, &pt, &ch->inv, ch->running, &d);
	pt_free(&pt);
	if (!nvidia)
		return;
	if (!theirs) {
		snprintf(fix, sizeof(fix), "lxgpu host install-driver (on %s)", nv->name);
		verdict(v, PT_BAD, "node-driver", fix, "%s has no NVIDIA driver loaded", nv->name);
		ct_driver_free(&d);
		return;
	}
	if (d.mode == CT_DRIVER_BIND) {
		verdict(v, PT_OK, "driver", NULL,
			"bind: each start binds the node's own driver, %s on %s", theirs, nv->name);
	} else if (!d.version) {
		verdict(v, PT_WARN, "driver", NULL,
			"the container's driver cannot be read now: whether it is %s's %s is not "
			"known",
			nv->name, theirs);
	} else if (strcmp(d.version, theirs) == 0) {
		verdict(v, PT_OK, "driver", NULL, "%s: the container's driver %s is %s's module's",
			ct_driver_mode_name(d.mode), d.version, nv->name);
	} else {
		if (d.mode == CT_DRIVER_INSTALL)
			snprintf(fix, sizeof(fix),
				 "lxgpu driver %s --mode bind (each node's own at start), or "
				 "--mode install on %s after the move",
				 ch->ct.id, nv->name);
		else
			snprintf(fix, sizeof(fix),
				 "lxgpu driver %s --mode bind (each node's own at start), or lxgpu "
				 "sync %s on %s after the move (copies %s)",
				 ch->ct.id, ch->ct.id, nv->name, theirs);
		verdict(v, PT_BAD, "driver", fix,
			"%s: the container's driver %s is not %s's module %s: NVML would say "
			"\"Driver/library version mismatch\"",
			ct_driver_mode_name(d.mode), d.version, nv->name, theirs);
	}
	ct_driver_free(&d);
	struct lxgpu_version hv;
	_cleanup_close_ int root = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						   &ch->ct, &ch->conf, &err);
	if (root < 0 || !version_parse(theirs, strlen(theirs), &hv)) {
		verdict(v, PT_WARN, "cuda", NULL, "its CUDA toolkits cannot be read now: %s",
			root < 0 ? err.msg : "the node's driver version");
		return;
	}
	struct guest_cuda g;
	guest_cuda_scan(root, &g);
	for (size_t i = 0; i < g.n; i++) {
		const struct guest_cuda_item *it = &g.items[i];
		char why[256];
		enum compat_run run =
			it->kind == GUEST_TOOLKIT
				? compat_toolkit(&hv, it->major, it->minor, why, sizeof(why))
				: compat_cudnn(&hv, it->major, it->minor, it->cuda_major, why,
					       sizeof(why));
		snprintf(fix, sizeof(fix),
			 "a newer driver on %s (lxgpu host install-driver there), or an older "
			 "toolkit in the container (lxgpu compat %s)",
			 nv->name, theirs);
		verdict(v,
			run == COMPAT_NO        ? PT_BAD
			: run == COMPAT_UNKNOWN ? PT_WARN
						: PT_OK,
			it->kind == GUEST_TOOLKIT ? "cuda" : "cudnn", run == COMPAT_NO ? fix : NULL,
			"%s %u.%u (%s) on %s's driver %s: %s",
			it->kind == GUEST_TOOLKIT ? "CUDA" : "cuDNN", it->major, it->minor,
			it->source, nv->name, theirs, why);
	}
	if (g.n == 0)
		verdict(v, PT_OK, "cuda", NULL, "no CUDA toolkit or cuDNN in the container");
	guest_cuda_free(&g);
}

int cluster_check_node(struct cli *cli, struct change *ch, const char *node)
{
	struct lxgpu_err err = { 0 };
	struct node_view nv;
	struct verdicts v = { .list = json_array(), .color = cli->color, .json = cli->json };
	struct lxgpu_record rec;
	char fix[256];

	node_load(cli, node, &nv);
	if (!cli->json)
		printf("%s %s on node %s, from its published facts:\n", ct_label(&ch->ct),
		       ch->ct.id, node);
	snprintf(fix, sizeof(fix), "lxgpu sync --all (on %s)", node);
	if (!nv.facts) {
		verdict(&v, PT_BAD, "facts", fix, "node %s: %s", node, nv.why);
	} else {
		if (nv.stale == 1)
			verdict(&v, PT_WARN, "facts", fix,
				"%s's facts are from before its last boot: its GPUs may have "
				"changed",
				node);
		if (change_record(ch, &rec, &err) < 0) {
			verdict(&v, PT_BAD, "record", NULL, "%s", err.msg);
		} else if (rec.version == 0) {
			snprintf(fix, sizeof(fix), "lxgpu attach %s", ch->ct.id);
			verdict(&v, PT_BAD, "record", fix,
				"no lxgpu record: its GPU lines are hand-written, and what they "
				"pass on %s cannot be told",
				node);
		} else {
			check_selection(cli, ch, &nv, &rec, &v);
			record_free(&rec);
			check_driver(cli, ch, &nv, &v);
		}
	}
	int code = v.worst == PT_BAD ? EXIT_DRIFT : EXIT_OK;
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ch->ct.id));
		json_object_set_new(doc, "node", json_text(node));
		json_object_set_new(doc, "can_run", json_boolean(code == EXIT_OK));
		json_object_set_new(doc, "stale", stale_json(nv.stale));
		json_object_set_new(doc, "checks", v.list);
		print_json(doc);
	} else {
		json_decref(v.list);
		printf("%s\n", code == EXIT_OK ? "it can run there"
					       : "it cannot run there as it is: the fixes above");
	}
	node_free(&nv);
	return code;
}
