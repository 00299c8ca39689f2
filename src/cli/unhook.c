/* `lxgpu unhook [CT...|--all] [--dry-run]`: every lxc.hook.* line that runs
 * lxgpu removed from the containers' configs, through the same lock, temp
 * file and rename as every other change. The package's prerm runs it before
 * the binary goes, so that no container is left with a hook it cannot run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/output.h"
#include "container/container.h"
#include "config/edit.h"

enum outcome { U_NONE, U_DONE, U_WOULD, U_FAILED };

static const char *outcome_name(enum outcome o)
{
	static const char *const names[] = { "no-hook", "unhooked", "would-unhook", "failed" };
	return names[o];
}

struct tally {
	json_t *results;
	size_t failed, changed;
};

static void report(struct cli *cli, struct tally *t, const char *id, const char *path,
		   enum outcome o, const char *msg, const struct change *ch, const char *diff)
{
	if (o == U_FAILED)
		t->failed++;
	if (o == U_DONE || o == U_WOULD)
		t->changed++;
	if (cli->json) {
		json_t *r = json_object(), *removed = json_array();
		for (size_t i = 0; ch && i < ch->report.nremoved; i++) {
			_cleanup_free_ char *text =
				conf_line_text(&ch->conf, ch->report.removed[i].line);
			json_array_append_new(removed, json_text(text));
		}
		json_object_set_new(r, "ct", json_text(id));
		json_object_set_new(r, "config", json_str_or_null(path));
		json_object_set_new(r, "result", json_text(outcome_name(o)));
		json_object_set_new(r, "message", json_str_or_null(msg));
		json_object_set_new(r, "removed", removed);
		if (diff)
			json_object_set_new(r, "diff", json_text(diff));
		json_array_append_new(t->results, r);
		return;
	}
	if (o == U_FAILED) {
		cli_error(EXIT_FAILED, "unhook %s: %s", id, msg);
		return;
	}
	if (cli->quiet || (o == U_NONE && cli->all))
		return;
	if (o == U_NONE) {
		printf("%s: no lxgpu hook (%s)\n", id, path);
		return;
	}
	if (diff) {
		fputs(diff, stdout);
		return;
	}
	printf("%s %s (%s):\n", outcome_name(o), id, path);
	for (size_t i = 0; ch && i < ch->report.nremoved; i++) {
		_cleanup_free_ char *text = conf_line_text(&ch->conf, ch->report.removed[i].line);
		printf("  %s- %s%s\n", color_of(cli->color, C_RED), text,
		       color_of(cli->color, C_RESET));
	}
	if (ch && ch->running)
		printf("%s is running: its hooks are gone at its next start\n", id);
}

static void unhook_one(struct cli *cli, struct tally *t, const char *id)
{
	struct lxgpu_err err = { 0 };
	struct change ch;

	/* under the lock from the read to the rename: a dry run only looks */
	if (change_load_id(cli, &ch, id, !cli->dry_run, &err) < 0) {
		report(cli, t, id, ch.ct.path, U_FAILED, err.msg, NULL, NULL);
		change_free(&ch);
		return;
	}
	edit_unhook(&ch.conf, &ch.edit, &ch.report);
	if (!conf_edit_changes(&ch.edit, &ch.conf)) {
		report(cli, t, id, ch.ct.path, U_NONE, NULL, &ch, NULL);
		change_free(&ch);
		return;
	}
	if (cli->dry_run) {
		_cleanup_free_ char *diff = conf_diff(&ch.conf, &ch.edit, ch.ct.path + 1);
		report(cli, t, id, ch.ct.path, U_WOULD, NULL, &ch, diff);
		change_free(&ch);
		return;
	}
	ch.new_text = conf_render(&ch.conf, &ch.edit, &ch.new_len);
	if (apply_write(cli->rootfd, &ch.ct, ch.old_text, ch.old_len, ch.new_text, ch.new_len, NULL,
			&err) < 0) {
		report(cli, t, id, ch.ct.path, U_FAILED, err.msg, NULL, NULL);
	} else {
		apply_log(cli->rootfd, "unhook %s %s: %zu hook lines removed", ct_label(&ch.ct),
			  ch.ct.id, ch.report.nremoved);
		report(cli, t, id, ch.ct.path, U_DONE, NULL, &ch, NULL);
	}
	change_free(&ch);
}

int cmd_unhook(struct cli *cli)
{
	struct tally t = { .results = cli->json ? json_array() : NULL };
	struct ct_ids ids = { 0 };
	char buf[CT_ID_BUF];
	size_t n = 0;

	if (cli->all == (cli->nargs > 0)) {
		json_decref(t.results);
		return cli_error(EXIT_USAGE, "unhook: name the containers, or --all (not both)");
	}
	for (int i = 0; i < cli->nargs; i++) {
		const char *why;
		if (!ct_arg_valid(cli->args[i], &why)) {
			json_decref(t.results);
			return cli_error(EXIT_USAGE, "unhook %s: %s", cli->args[i], why);
		}
	}
	/* one scan for every container: the hooks do not depend on the GPUs */
	struct lxgpu_inventory inv;
	lxgpu_inventory_scan(cli->rootfd, &inv);
	cli->shared_inv = &inv;
	if (cli->all) {
		n = ct_list(cli->rootfd, cli->lxcpath, &ids);
		for (size_t i = 0; i < n; i++)
			unhook_one(cli, &t, ct_id(&ids, i, buf));
		ct_ids_free(&ids);
	} else {
		for (int i = 0; i < cli->nargs; i++)
			unhook_one(cli, &t, cli->args[i]);
	}
	cli->shared_inv = NULL;
	lxgpu_inventory_free(&inv);

	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "changed", json_boolean(t.changed > 0 && !cli->dry_run));
		json_object_set_new(doc, "dry_run", json_boolean(cli->dry_run));
		json_object_set_new(doc, "results", t.results);
		int r = print_json(doc);
		return r != EXIT_OK ? r : t.failed ? EXIT_FAILED : EXIT_OK;
	}
	if (cli->all && t.changed == 0 && t.failed == 0 && !cli->quiet)
		printf("no container has an lxgpu hook\n");
	return t.failed ? EXIT_FAILED : EXIT_OK;
}
