/* `lxgpu` with no command: the host's GPUs and drivers, and every container
 * that has a GPU, with its health, read at a glance. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "cli_output.h"
#include "config.h"
#include "container.h"
#include "fs.h"
#include "inventory.h"
#include "passthrough.h"
#include "xalloc.h"

struct ct_status {
	char *id, *path, *gpus, *style, *problem;
	bool pve, running;
	enum pt_status health;
	size_t nproblems;
};

static bool numeric(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static char *gpus_text(const struct pt_config *pt, const struct lxgpu_inventory *inv)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < pt->nrecorded; i++) {
		const struct lxgpu_gpu *g = pt_find_gpu(inv, pt->recorded[i]);
		char *t = g ? xasprintf("%s%s%d", s, i ? "," : "", g->index)
			    : xasprintf("%s%s%s (gone)", s, i ? "," : "", pt->recorded[i]);
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
static bool judge_ct(int rootfd, const struct lxgpu_inventory *inv, const char *arg,
		     const char *lxcpath, struct ct_status *out)
{
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
		for (size_t i = 0; i < pt.n; i++) {
			char msg[512];
			enum pt_status st =
				pt_judge(&pt, i, inv, rootfd, privileged, msg, sizeof(msg));
			dev |= pt.entries[i].kind == PT_DEV;
			raw |= pt.entries[i].kind == PT_RULE || pt.entries[i].kind == PT_MOUNT;
			if (st != PT_OK)
				out->nproblems++;
			if (st > out->health) {
				out->health = st;
				free(out->problem);
				out->problem = xstrdup(msg);
			}
		}
		out->style = xstrdup(dev && raw ? "mixed" : dev ? "dev" : "raw");
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

static int by_id(const void *a, const void *b)
{
	const struct ct_status *x = a, *y = b;
	if (x->pve != y->pve)
		return x->pve ? -1 : 1;
	if (x->pve)
		return atol(x->id) < atol(y->id) ? -1 : atol(x->id) > atol(y->id);
	return strcmp(x->id, y->id);
}

/* Proxmox's /etc/pve/lxc/<vmid>.conf and LXC's <lxcpath>/<name>/config;
 * on Proxmox, /var/lib/lxc/<vmid> is generated at start and skipped. */
static size_t scan_containers(struct cli *cli, const struct lxgpu_inventory *inv,
			      struct ct_status **out)
{
	struct lxgpu_err err = { 0 };
	struct ct_status s;
	size_t n = 0;
	bool pve = false;
	*out = NULL;

	_cleanup_closedir_ DIR *pdir = NULL;
	if (fs_opendir_in(cli->rootfd, "etc/pve/lxc", (void **)&pdir, &err) == 0) {
		struct dirent *de;
		pve = true;
		while ((de = readdir(pdir))) {
			size_t len = strlen(de->d_name);
			if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
				continue;
			_cleanup_free_ char *id = xstrndup(de->d_name, len - 5);
			const char *why;
			if (numeric(id) && ct_arg_valid(id, &why) &&
			    judge_ct(cli->rootfd, inv, id, cli->lxcpath, &s))
				add_status(out, &n, &s);
		}
	}
	_cleanup_closedir_ DIR *ldir = NULL;
	lxgpu_err_clear(&err);
	if (fs_opendir_in(cli->rootfd, cli->lxcpath, (void **)&ldir, &err) == 0) {
		struct dirent *de;
		while ((de = readdir(ldir))) {
			const char *why;
			if (de->d_name[0] == '.' || (pve && numeric(de->d_name)) ||
			    !ct_arg_valid(de->d_name, &why) || numeric(de->d_name))
				continue;
			if (judge_ct(cli->rootfd, inv, de->d_name, cli->lxcpath, &s))
				add_status(out, &n, &s);
		}
	}
	if (n > 1)
		qsort(*out, n, sizeof(**out), by_id);
	return n;
}

static void free_statuses(struct ct_status *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].id);
		free(list[i].path);
		free(list[i].gpus);
		free(list[i].style);
		free(list[i].problem);
	}
	free(list);
}

static const char *health_name(enum pt_status s)
{
	return s == PT_OK ? "ok" : s == PT_WARN ? "warning" : "error";
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
		json_object_set_new(o, "health", json_text(health_name(cts[i].health)));
		json_object_set_new(o, "problems", json_integer((json_int_t)cts[i].nproblems));
		json_object_set_new(o, "first_problem", json_str_or_null(cts[i].problem));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "containers", arr);
	return doc;
}

int cmd_status(struct cli *cli)
{
	struct lxgpu_inventory inv;
	struct ct_status *cts;

	lxgpu_inventory_scan(cli->rootfd, &inv);
	size_t n = scan_containers(cli, &inv, &cts);
	if (cli->json) {
		json_t *doc = status_json(&inv, cts, n);
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
	print_gpus(stdout, &inv, c);
	size_t problems = lxgpu_findings_count(&inv, LXGPU_WARNING);
	if (problems)
		printf("%s! %zu host problem%s: lxgpu discover says what and how to fix %s%s\n",
		       color_of(c, C_YELLOW), problems, problems > 1 ? "s" : "",
		       problems > 1 ? "them" : "it", color_of(c, C_RESET));
	fputc('\n', stdout);
	if (n == 0) {
		printf("no container has a GPU (lxgpu attach CT gives one)\n");
	} else {
		static const char *const header[] = { "CT", "STATE", "GPU", "STYLE", "HEALTH" };
		struct table t;
		table_init(&t, 5, header);
		for (size_t i = 0; i < n; i++) {
			char health[64];
			snprintf(health, sizeof(health), "%s %s",
				 cts[i].health == PT_OK     ? "✓"
				 : cts[i].health == PT_WARN ? "!"
							    : "✗",
				 health_name(cts[i].health));
			const char *row[] = { cts[i].id, cts[i].running ? "running" : "stopped",
					      cts[i].gpus, cts[i].style, health };
			table_add(&t, row);
		}
		table_print(&t, stdout, c, "");
		table_free(&t);
		for (size_t i = 0; i < n; i++)
			if (cts[i].health != PT_OK)
				printf("%s%s %s%s: %s (lxgpu show %s)\n",
				       color_of(c, cts[i].health == PT_BAD ? C_RED : C_YELLOW),
				       cts[i].pve ? "CT" : "container", cts[i].id,
				       color_of(c, C_RESET), cts[i].problem, cts[i].id);
	}
	free_statuses(cts, n);
	lxgpu_inventory_free(&inv);
	return EXIT_OK;
}
