/* `lxgpu` with no command: the host's GPUs and drivers, and every container
 * that has a GPU, with its health, read at a glance. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/checks.h"
#include "cli/cluster_view.h"
#include "cli/output.h"
#include "cli/progress_bar.h"
#include "config/config.h"
#include "config/idmap.h"
#include "container/container.h"
#include "util/fs.h"
#include "inventory/inventory.h"
#include "check/passthrough.h"
#include "plan/plan.h"
#include "top/view.h"
#include "util/xalloc.h"

struct ct_status {
	char *id, *path, *gpus, *style, *problem;
	char *fix; /* what to run about the problem, NULL when none */
	bool pve, running;
	enum pt_status health; /* the worst of its config lines and its driver */
	size_t nproblems;
	bool nvidia; /* drv is set: it has NVIDIA node lines */
	struct ct_driver drv;
};

/* The problem and its fix, when worse than what the status has. */
static void worse(struct ct_status *out, enum pt_status st, const char *msg, const char *fix)
{
	if (st != PT_OK)
		out->nproblems++;
	if (st <= out->health)
		return;
	out->health = st;
	free(out->problem);
	free(out->fix);
	out->problem = xstrdup(msg);
	out->fix = fix && fix[0] ? xstrdup(fix) : NULL;
}

static char *gpus_text(const struct pt_config *pt, const struct lxgpu_inventory *inv)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < pt->record.ndevices; i++) {
		/* model=, any: the GPU they take here, after their name */
		const char *item = pt->record.devices[i];
		const struct lxgpu_gpu *g = plan_gpu_of(inv, item, NULL);
		char *t = g && plan_selector_floating(item)
				  ? xasprintf("%s%s%d (%s)", s, i ? "," : "", g->index, item)
			  : g ? xasprintf("%s%s%d", s, i ? "," : "", g->index)
			  : plan_selector_floating(item)
				  ? xasprintf("%s%s%s", s, i ? "," : "", item)
				  : xasprintf("%s%s%s (gone)", s, i ? "," : "", item);
		free(s);
		s = t;
	}
	if (!s[0]) {
		free(s);
		s = xstrdup("hand-written");
	}
	return s;
}

/* The status of one container; false when it has no GPU line. */
static bool judge_ct(struct cli *cli, const struct lxgpu_inventory *inv, const char *arg,
		     struct ct_status *out)
{
	int rootfd = cli->rootfd;
	const char *lxcpath = cli->lxcpath;
	struct lxgpu_err err = { 0 };
	struct lxgpu_ct ct;
	struct conf conf = { 0 };
	struct pt_config pt = { 0 };
	_cleanup_free_ char *text = NULL;
	size_t len;
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (ct_open(rootfd, arg, lxcpath, &ct, &err) < 0 || ct_read(&ct, &text, &len, &err) < 0 ||
	    conf_parse(text, len, ct.format, &conf, &err) < 0) {
		ct_close(&ct);
		return false;
	}
	pt_scan(&conf, inv, &pt);
	if (pt.n > 0) {
		bool privileged = ct_privileged(&conf), dev = false, raw = false;
		found = true;
		out->id = xstrdup(ct.id);
		out->path = xstrdup(ct.path);
		out->pve = ct.format == CONF_PVE;
		out->running = ct_running(rootfd, &ct);
		out->gpus = gpus_text(&pt, inv);
		/* check's fixes: sync repairs a line that no longer matches the host,
		 * show explains a warning */
		char show[128];
		snprintf(show, sizeof(show), "lxgpu show %s", ct.id);
		for (size_t i = 0; i < pt.n; i++) {
			char msg[512], fix[128];
			enum pt_status st = pt_judge(&pt, i, inv, rootfd, privileged, ct.id, msg,
						     sizeof(msg), fix, sizeof(fix));
			dev |= pt.entries[i].d->kind == DL_DEV;
			raw |= pt.entries[i].d->kind == DL_RULE ||
			       pt.entries[i].d->kind == DL_MOUNT;
			worse(out, st, msg, fix[0] ? fix : show);
		}
		if (pt.record.version > 0)
			out->style = xstrdup(record_style_name(pt.record.style));
		else
			out->style = xstrdup(dev && raw ? "mixed" : dev ? "dev" : "raw");
		out->nvidia = ct_driver_look(cli, &ct, &conf, &pt, inv, out->running, &out->drv);
		for (size_t i = 0; out->nvidia && i < out->drv.nnotes; i++)
			worse(out, out->drv.notes[i].status, out->drv.notes[i].msg,
			      out->drv.notes[i].fix);
	}
	pt_free(&pt);
	conf_free(&conf);
	ct_close(&ct);
	return found;
}

static void add_status(struct ct_status **list, size_t *n, const struct ct_status *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = *s;
}

static size_t scan_containers(struct cli *cli, const struct lxgpu_inventory *inv,
			      struct ct_status **out)
{
	struct ct_ids ids;
	size_t nids = ct_list(cli->rootfd, cli->lxcpath, &ids), n = 0;
	struct ct_status s;
	char buf[CT_ID_BUF];
	*out = NULL;
	for (size_t i = 0; i < nids; i++)
		if (judge_ct(cli, inv, ct_id(&ids, i, buf), &s))
			add_status(out, &n, &s);
	ct_ids_free(&ids);
	return n;
}

/* Containers with GPU lines on the other nodes of a Proxmox cluster: listed,
 * never edited from here (their hosts are not this one). */
static void print_other_nodes(struct cli *cli, json_t *doc)
{
	char local[256] = "", target[512];
	struct lxgpu_err err = { 0 };
	_cleanup_close_ int pve = fs_open_in(cli->rootfd, "etc/pve", O_PATH | O_DIRECTORY, 0, &err);
	_cleanup_closedir_ DIR *nodes = NULL;
	struct dirent *de;

	if (pve < 0)
		return;
	/* /etc/pve/lxc -> nodes/<this node>/lxc (pmxcfs) */
	if (fs_readlink_child(pve, "lxc", target, sizeof(target), &err) == 0)
		sscanf(target, "nodes/%255[^/]/lxc", local);
	lxgpu_err_clear(&err);
	if (fs_opendir_in(cli->rootfd, "etc/pve/nodes", (void **)&nodes, &err) < 0)
		return;
	json_t *arr = json_array();
	while ((de = readdir(nodes))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, local) == 0)
			continue;
		char dir[512];
		snprintf(dir, sizeof(dir), "etc/pve/nodes/%s/lxc", de->d_name);
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *c;
		lxgpu_err_clear(&err);
		if (fs_opendir_in(cli->rootfd, dir, (void **)&d, &err) < 0)
			continue;
		while ((c = readdir(d))) {
			_cleanup_free_ char *text = NULL;
			struct conf conf;
			size_t len;
			lxgpu_err_clear(&err);
			if (!strstr(c->d_name, ".conf") ||
			    fs_read_child(dirfd(d), c->d_name, CONF_MAX, &text, &len, &err) < 0 ||
			    conf_parse(text, len, CONF_PVE, &conf, &err) < 0)
				continue;
			const char *rec = conf_get(&conf, "lxc.environment");
			bool gpu = strstr(text, "/dev/nvidia") || strstr(text, "/dev/dri") ||
				   strstr(text, "/dev/kfd");
			if (gpu) {
				char id[64];
				snprintf(id, sizeof(id), "%.*s", (int)(strcspn(c->d_name, ".")),
					 c->d_name);
				const char *devices = rec && strncmp(rec, "LXGPU_DEVICES=", 14) == 0
							      ? rec + 14
							      : "hand-written";
				if (doc) {
					json_t *o = json_object();
					json_object_set_new(o, "ct", json_text(id));
					json_object_set_new(o, "node", json_text(de->d_name));
					json_object_set_new(o, "gpus", json_text(devices));
					json_array_append_new(arr, o);
				} else {
					printf("CT %s on node %s: GPU %s (read-only here: run "
					       "lxgpu on %s)\n",
					       id, de->d_name, devices, de->d_name);
				}
			}
			conf_free(&conf);
		}
	}
	if (doc)
		json_object_set_new(doc, "other_nodes", arr);
	else
		json_decref(arr);
}

static void free_statuses(struct ct_status *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].id);
		free(list[i].path);
		free(list[i].gpus);
		free(list[i].style);
		free(list[i].problem);
		free(list[i].fix);
		if (list[i].nvidia)
			ct_driver_free(&list[i].drv);
	}
	free(list);
}

static const char *health_name(enum pt_status s)
{
	return s == PT_OK ? "ok" : s == PT_WARN ? "warning" : "error";
}

/* The container's fix, or check when its problem has none. */
static char *ct_fix(const struct ct_status *c)
{
	if (c->fix && strncmp(c->fix, "lxgpu ", 6) == 0)
		return xstrdup(c->fix);
	if (c->fix) /* words, not a command: "restart the container: ..." */
		return xasprintf("%s %s: %s", c->pve ? "CT" : "container", c->id, c->fix);
	return xasprintf("lxgpu check %s", c->id);
}

/* The one thing to do first: a host error (every container depends on the
 * host), else the worst container's fix, else a host warning; NULL when all
 * is well. */
static char *next_step(const struct lxgpu_inventory *inv, const struct ct_status *cts, size_t n)
{
	const struct ct_status *worst = NULL;
	if (lxgpu_findings_count(inv, LXGPU_ERROR))
		return xstrdup("lxgpu discover");
	for (size_t i = 0; i < n; i++)
		if (cts[i].health != PT_OK && (!worst || cts[i].health > worst->health))
			worst = &cts[i];
	if (worst)
		return ct_fix(worst);
	if (lxgpu_findings_count(inv, LXGPU_WARNING))
		return xstrdup("lxgpu discover");
	return NULL;
}

/* "✓ copy 580.159.04", "✗ none": the mode, the version, and whether it
 * is the host module's. */
static void driver_text(const struct ct_status *c, char *buf, size_t size)
{
	const struct ct_driver *d = &c->drv;
	const char *mark = d->worst == PT_OK ? "✓" : d->worst == PT_WARN ? "!" : "✗";
	if (d->mode == CT_DRIVER_NONE && !d->version)
		snprintf(buf, size, "%s none", mark);
	else
		snprintf(buf, size, "%s %s %s", mark, ct_driver_mode_name(d->mode),
			 d->version ? d->version : "?");
}

static json_t *driver_json(const struct ct_status *c, const char *host)
{
	if (!c->nvidia)
		return json_null(); /* AMD and Intel: Mesa and ROCm live in the container */
	const struct ct_driver *d = &c->drv;
	const struct ct_driver_note *worst = NULL;
	for (size_t i = 0; i < d->nnotes; i++)
		if (!worst || d->notes[i].status > worst->status)
			worst = &d->notes[i];
	json_t *o = json_object();
	json_object_set_new(o, "mode", json_text(ct_driver_mode_name(d->mode)));
	json_object_set_new(o, "version", json_str_or_null(d->version));
	json_object_set_new(o, "host", json_str_or_null(host));
	json_object_set_new(o, "matches", json_boolean(d->matches));
	json_object_set_new(o, "health", json_text(health_name(d->worst)));
	json_object_set_new(o, "message", json_str_or_null(worst ? worst->msg : NULL));
	json_object_set_new(o, "fix", json_str_or_null(worst && worst->fix[0] ? worst->fix : NULL));
	return o;
}

static json_t *status_json(const struct lxgpu_inventory *inv, const struct ct_status *cts, size_t n)
{
	json_t *doc = inventory_json(inv), *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "ct", json_text(cts[i].id));
		json_object_set_new(o, "kind", json_text(cts[i].pve ? "pve" : "lxc"));
		json_object_set_new(o, "config", json_text(cts[i].path));
		json_object_set_new(o, "running", json_boolean(cts[i].running));
		json_object_set_new(o, "gpus", json_text(cts[i].gpus));
		json_object_set_new(o, "style", json_text(cts[i].style));
		json_object_set_new(o, "driver", driver_json(&cts[i], lxgpu_nvidia_version(inv)));
		json_object_set_new(o, "health", json_text(health_name(cts[i].health)));
		json_object_set_new(o, "problems", json_integer((json_int_t)cts[i].nproblems));
		json_object_set_new(o, "first_problem", json_str_or_null(cts[i].problem));
		_cleanup_free_ char *fix = cts[i].health != PT_OK ? ct_fix(&cts[i]) : NULL;
		json_object_set_new(o, "fix", json_str_or_null(fix));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "containers", arr);
	_cleanup_free_ char *next = next_step(inv, cts, n);
	json_object_set_new(doc, "next", json_str_or_null(next));
	return doc;
}

int cmd_status(struct cli *cli)
{
	struct lxgpu_inventory inv;
	struct ct_status *cts;

	if (cli->cluster)
		return cluster_status(cli);
	lxgpu_inventory_scan(cli->rootfd, &inv);
	size_t n = scan_containers(cli, &inv, &cts);
	if (cli->json) {
		json_t *doc = status_json(&inv, cts, n);
		print_other_nodes(cli, doc);
		free_statuses(cts, n);
		lxgpu_inventory_free(&inv);
		return print_json(doc);
	}
	bool c = cli->color;
	if (strcmp(cli->sysroot, "/") != 0)
		printf("%shost root: %s%s\n", color_of(c, C_DIM), cli->sysroot,
		       color_of(c, C_RESET));
	print_drivers(stdout, &inv, c);
	fputc('\n', stdout);
	print_gpus(stdout, &inv, c, false);
	size_t problems = lxgpu_findings_count(&inv, LXGPU_WARNING);
	if (problems)
		printf("%s! %zu host problem%s: lxgpu discover says what and how to fix %s%s\n",
		       color_of(c, C_YELLOW), problems, problems > 1 ? "s" : "",
		       problems > 1 ? "them" : "it", color_of(c, C_RESET));
	fputc('\n', stdout);
	if (n == 0) {
		printf("no container has a GPU (lxgpu attach CT gives one)\n");
	} else {
		static const char *const header[] = { "CT",    "STATE",  "GPU",
						      "STYLE", "DRIVER", "HEALTH" };
		struct table t;
		table_init(&t, 6, header);
		for (size_t i = 0; i < n; i++) {
			char health[64], driver[128];
			snprintf(health, sizeof(health), "%s %s",
				 cts[i].health == PT_OK     ? "✓"
				 : cts[i].health == PT_WARN ? "!"
							    : "✗",
				 health_name(cts[i].health));
			if (cts[i].nvidia)
				driver_text(&cts[i], driver, sizeof(driver));
			const char *row[] = {
				cts[i].id,    cts[i].running ? "running" : "stopped", cts[i].gpus,
				cts[i].style, cts[i].nvidia ? driver : NULL,          health
			};
			table_add(&t, row);
		}
		table_print(&t, stdout, c, "");
		table_free(&t);
		/* on a terminal a problem line fits its width (show and check
		 * have the whole text); piped, it stays whole for grep */
		int cols = isatty(STDOUT_FILENO) ? cli_term_columns(STDOUT_FILENO, 80) : 0;
		for (size_t i = 0; i < n; i++)
			if (cts[i].health != PT_OK) {
				_cleanup_free_ char *fix = ct_fix(&cts[i]);
				_cleanup_free_ char *head = xasprintf(
					"%s %s", cts[i].pve ? "CT" : "container", cts[i].id);
				int room = cols - (int)top_text_width(head) - 2;
				_cleanup_free_ char *problem = top_text_fit(
					cts[i].problem, cols ? (size_t)(room < 10 ? 10 : room) : 0);
				printf("%s%s%s: %s\n    %sfix:%s %s\n",
				       color_of(c, cts[i].health == PT_BAD ? C_RED : C_YELLOW),
				       head, color_of(c, C_RESET), problem, color_of(c, C_DIM),
				       color_of(c, C_RESET), fix);
			}
	}
	print_other_nodes(cli, NULL);
	_cleanup_free_ char *next = next_step(&inv, cts, n);
	if (next)
		printf("\n%snext:%s %s\n", color_of(c, C_BOLD), color_of(c, C_RESET), next);
	free_statuses(cts, n);
	lxgpu_inventory_free(&inv);
	return EXIT_OK;
}
