/* `lxgpu doctor [CT] [--explain MESSAGE]`: every check from the host down to
 * a CUDA call inside each GPU container, one line each with the command that
 * fixes it; --explain reads an error message someone pasted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/checks.h"
#include "cli/output.h"
#include "config/idmap.h"
#include "container/container.h"
#include "check/doctor.h"
#include "guest/guest.h"
#include "check/passthrough.h"
#include "util/xalloc.h"

/* `text` with each word "CT" replaced by the container's id. */
static char *with_ct(const char *text, const char *id)
{
	if (!id)
		return xstrdup(text);
	size_t cap = strlen(text) + 1, len = 0;
	char *out = xmalloc(cap);
	for (const char *p = text; *p;) {
		bool word =
			strncmp(p, "CT", 2) == 0 && (p == text || p[-1] == ' ') &&
			(p[2] == '\0' || p[2] == ' ' || p[2] == ';' || p[2] == ',' || p[2] == ')');
		const char *piece = word ? id : p;
		size_t n = word ? strlen(id) : 1;
		if (len + n + 1 > cap)
			out = xrealloc(out, cap = (len + n + 1) * 2);
		memcpy(out + len, piece, n);
		len += n;
		p += word ? 2 : 1;
	}
	out[len] = '\0';
	return out;
}

static int explain(struct cli *cli)
{
	const struct doctor_explanation *e = doctor_explain(cli->explain);
	const char *id = cli->nargs > 0 ? cli->args[0] : NULL;
	if (!e) {
		if (cli->json) {
			json_t *doc = json_object();
			json_object_set_new(doc, "schema", json_integer(1));
			json_object_set_new(doc, "known", json_false());
			print_json(doc);
		}
		return cli_error(EXIT_FAILED,
				 "doctor --explain: not a message lxgpu knows; lxgpu doctor%s%s "
				 "checks everything",
				 id ? " " : "", id ? id : "");
	}
	_cleanup_free_ char *fix = with_ct(e->fix, id);
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "known", json_true());
		json_object_set_new(doc, "id", json_text(e->id));
		json_object_set_new(doc, "cause", json_text(e->cause));
		json_object_set_new(doc, "fix", json_text(fix));
		return print_json(doc) < 0 ? EXIT_FAILED : EXIT_OK;
	}
	printf("%s\ncause: %s\nfix: %s\n", e->id, e->cause, fix);
	return EXIT_OK;
}

static void add_items(struct verdicts *v, const struct doctor_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		verdict(v, (int)l->items[i].status, l->items[i].id, l->items[i].fix, "%s",
			l->items[i].message);
}

/* One container: check's checks with a CUDA call, and Docker inside. */
static int doctor_ct(struct cli *cli, const char *id, json_t *cts, bool named)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	struct verdicts v = {
		.list = json_array(), .color = cli->color, .json = cli->json, .indent = "  "
	};
	int r;

	if ((r = change_load_id(cli, &ch, id, false, &err)) < 0) {
		change_free(&ch);
		json_decref(v.list);
		if (!named)
			return PT_OK; /* not a container lxgpu can read: status says so */
		lxgpu_wrap(&err, "doctor %s", id);
		cli_fail(&err);
		return -1;
	}
	struct pt_config pt;
	pt_scan(&ch.conf, &ch.inv, &pt);
	bool gpu = false;
	for (size_t i = 0; i < pt.n; i++)
		gpu |= pt.entries[i].d->kind == DL_MOUNT || pt.entries[i].d->kind == DL_DEV ||
		       pt.entries[i].d->kind == DL_RECORD;
	pt_free(&pt);
	if (!gpu && !named) {
		change_free(&ch);
		json_decref(v.list);
		return PT_OK;
	}
	if (!cli->json)
		printf("%s %s (%s): %s, %s\n", ct_label(&ch.ct), ch.ct.id, ch.ct.path,
		       ct_privileged(&ch.conf) ? "privileged" : "unprivileged",
		       ch.running ? "running" : "stopped");
	check_container(cli, &ch, &v, true);
	_cleanup_close_ int root = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						   &ch.ct, &ch.conf, &err);
	if (root >= 0) {
		struct doctor_list l;
		memset(&l, 0, sizeof(l));
		doctor_docker(root, ch.ct.id, &l);
		add_items(&v, &l);
		doctor_list_free(&l);
	}
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "ct", json_text(ch.ct.id));
		json_object_set_new(o, "running", json_boolean(ch.running));
		json_object_set_new(o, "checks", v.list);
		json_array_append_new(cts, o);
	} else {
		json_decref(v.list);
	}
	change_free(&ch);
	return v.worst;
}

int cmd_doctor(struct cli *cli)
{
	struct lxgpu_inventory inv;
	struct doctor_list host;
	const char *why;

	if (cli->nargs > 0 && !ct_arg_valid(cli->args[0], &why))
		return cli_error(EXIT_USAGE, "doctor %s: %s", cli->args[0], why);
	if (cli->explain)
		return explain(cli);
	struct verdicts v = { .list = json_array(), .color = cli->color, .json = cli->json };
	v.indent = "  ";
	lxgpu_inventory_scan(cli->rootfd, &inv);
	cli->shared_inv = &inv;
	if (!cli->json)
		printf("host%s%s\n", cli->sysroot[0] && strcmp(cli->sysroot, "/") ? " " : "",
		       strcmp(cli->sysroot, "/") ? cli->sysroot : "");
	doctor_host(cli->rootfd, &inv, &host);
	add_items(&v, &host);
	doctor_list_free(&host);
	int worst = v.worst;
	json_t *cts = json_array();
	if (cli->nargs > 0) {
		int w = doctor_ct(cli, cli->args[0], cts, true);
		if (w < 0) {
			json_decref(cts);
			json_decref(v.list);
			cli->shared_inv = NULL;
			lxgpu_inventory_free(&inv);
			return EXIT_FAILED;
		}
		worst = w > worst ? w : worst;
	} else {
		struct ct_ids ids;
		char buf[CT_ID_BUF];
		size_t n = ct_list(cli->rootfd, cli->lxcpath, &ids);
		for (size_t i = 0; i < n; i++) {
			int w = doctor_ct(cli, ct_id(&ids, i, buf), cts, false);
			worst = w > worst ? w : worst;
		}
		ct_ids_free(&ids);
	}
	cli->shared_inv = NULL;
	lxgpu_inventory_free(&inv);
	int code = worst == PT_BAD ? EXIT_DRIFT : EXIT_OK;
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "host", v.list);
		json_object_set_new(doc, "containers", cts);
		json_object_set_new(doc, "drift", json_boolean(code == EXIT_DRIFT));
		print_json(doc);
	} else {
		json_decref(v.list);
		json_decref(cts);
		printf("%s\n", code == EXIT_OK ? "no problem found"
					       : "problems found: each ✗ line says its fix");
	}
	return code;
}
