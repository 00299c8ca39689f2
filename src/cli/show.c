/* `lxgpu show CT`: the GPU lines a container has, lxgpu's and anyone
 * else's, and whether each still matches the host. */
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/config.h"
#include "config/idmap.h"
#include "container/container.h"
#include "util/fs.h"
#include "inventory/inventory.h"
#include "check/passthrough.h"
#include "config/record.h"
#include "plan/plan.h"
#include "util/xalloc.h"

static const char *status_name(enum pt_status s)
{
	return s == PT_OK ? "ok" : s == PT_WARN ? "warning" : "error";
}

static const char *status_symbol(enum pt_status s)
{
	return s == PT_OK ? "✓" : s == PT_WARN ? "!" : "✗";
}

static bool passes_dri(const struct pt_config *pt)
{
	for (size_t i = 0; i < pt->n; i++) {
		const struct dl_entry *d = pt->entries[i].d;
		if ((d->kind == DL_MOUNT || d->kind == DL_DEV) &&
		    (strncmp(d->path, "/dev/dri", 8) == 0 || strcmp(d->path, "/dev/kfd") == 0))
			return true;
	}
	return false;
}

/* "lxgpu attached GPU 0 (GPU-…): raw lines, exact rules, no guard (record v2)" */
static void print_record(const struct pt_config *pt, const struct lxgpu_inventory *inv)
{
	const struct lxgpu_record *r = &pt->record;
	if (pt->record_error) {
		printf("lxgpu's record cannot be read: %s\n", pt->record_error);
		return;
	}
	if (r->version == 0) {
		if (pt->n > 0)
			printf("no lxgpu record: these lines are hand-written or another tool's\n");
		return;
	}
	printf("lxgpu attached");
	for (size_t i = 0; i < r->ndevices; i++) {
		const struct lxgpu_gpu *g = plan_gpu_of(inv, r->devices[i], NULL);
		if (g)
			printf("%s GPU %d (%s)", i ? "," : "", g->index, r->devices[i]);
		else if (plan_selector_floating(r->devices[i]))
			printf("%s %s (resolved where it starts)", i ? "," : "", r->devices[i]);
		else
			printf("%s %s (not on this host)", i ? "," : "", r->devices[i]);
	}
	printf(": %s lines, %s rules, %s, driver %s (record v%d)\n", record_style_name(r->style),
	       r->wildcard ? "wildcard" : "exact", r->guard ? "guarded" : "no guard",
	       record_driver_name(r->driver), r->version);
}

int cmd_show(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct lxgpu_ct ct;
	struct conf conf = { 0 };
	struct lxgpu_inventory inv;
	struct pt_config pt = { 0 };
	_cleanup_free_ char *text = NULL;
	size_t len;
	const char *why;
	int worst = PT_OK;

	if (!ct_arg_valid(cli->args[0], &why))
		return cli_error(EXIT_USAGE, "show %s: %s", cli->args[0], why);
	if (ct_open(cli->rootfd, cli->args[0], cli->lxcpath, &ct, &err) < 0 ||
	    ct_read(&ct, &text, &len, &err) < 0 ||
	    conf_parse(text, len, ct.format, &conf, &err) < 0) {
		ct_close(&ct);
		return cli_fail(&err);
	}
	lxgpu_inventory_scan(cli->rootfd, &inv);
	pt_scan(&conf, &inv, &pt);
	bool privileged = ct_privileged(&conf), running = ct_running(cli->rootfd, &ct);

	json_t *doc = json_object(), *lines = json_array(), *notes = json_array();
	if (!cli->json)
		printf("%s %s (%s): %s, %s\n", ct.format == CONF_PVE ? "CT" : "container", ct.id,
		       ct.path, privileged ? "privileged" : "unprivileged",
		       running ? "running" : "stopped");
	if (!cli->json && pt.n == 0)
		printf("no GPU passthrough lines\n");
	if (!cli->json)
		print_record(&pt, &inv);
	for (size_t i = 0; i < pt.n; i++) {
		char msg[512], fix[128];
		const struct pt_entry *e = &pt.entries[i];
		enum pt_status st = pt_judge(&pt, i, &inv, cli->rootfd, privileged, ct.id, msg,
					     sizeof(msg), fix, sizeof(fix));
		_cleanup_free_ char *line = conf_line_text(&conf, e->d->line);
		if ((int)st > worst)
			worst = (int)st;
		if (cli->json) {
			json_t *o = json_object();
			json_object_set_new(o, "line", json_text(line));
			json_object_set_new(o, "number", json_integer((json_int_t)e->d->line + 1));
			json_object_set_new(o, "kind", json_text(pt_kind_name(e->d->kind)));
			json_object_set_new(o, "owner", json_text(pt_owner_name(e->owner)));
			json_object_set_new(o, "status", json_text(status_name(st)));
			json_object_set_new(o, "message", json_text(msg));
			json_object_set_new(o, "fix", fix[0] ? json_text(fix) : json_null());
			json_array_append_new(lines, o);
			continue;
		}
		const char *color = st == PT_OK ? C_GREEN : st == PT_WARN ? C_YELLOW : C_RED;
		printf("%s%s%s %s  [%s]\n    %s\n", color_of(cli->color, color), status_symbol(st),
		       color_of(cli->color, C_RESET), line, pt_owner_name(e->owner), msg);
		if (fix[0])
			printf("    fix: %s\n", fix);
	}
	const char *note = NULL;
	if (passes_dri(&pt))
		note = "users other than root inside the container need its render (and video) "
		       "group to use the GPU: usermod -aG render,video USER";
	if (note) {
		json_array_append_new(notes, json_text(note));
		if (!cli->json)
			printf("note: %s\n", note);
	}
	int r = EXIT_OK;
	if (cli->json) {
		json_t *devices = json_array();
		for (size_t i = 0; i < pt.record.ndevices; i++)
			json_array_append_new(devices, json_text(pt.record.devices[i]));
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ct.id));
		json_object_set_new(doc, "config", json_text(ct.path));
		json_object_set_new(doc, "privileged", json_boolean(privileged));
		json_object_set_new(doc, "running", json_boolean(running));
		json_object_set_new(doc, "devices", devices);
		json_object_set_new(doc, "record", json_integer(pt.record.version));
		json_object_set_new(doc, "health", json_text(status_name((enum pt_status)worst)));
		json_object_set_new(doc, "lines", lines);
		json_object_set_new(doc, "notes", notes);
		r = print_json(doc);
	} else {
		json_decref(doc);
		json_decref(lines);
		json_decref(notes);
	}
	pt_free(&pt);
	lxgpu_inventory_free(&inv);
	conf_free(&conf);
	ct_close(&ct);
	return r;
}
