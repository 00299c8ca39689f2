/* `lxgpu attach`, `detach`, `undo`: the commands that change which GPUs a
 * container's config passes, through edit (what) and apply (how). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cluster/mapping.h"
#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/checks.h"
#include "cli/output.h"
#include "config/idmap.h"
#include "container/container.h"
#include "config/devlines.h"
#include "config/edit.h"
#include "guest/guest.h"
#include "inventory/inventory.h"
#include "nodes/nodes.h"
#include "plan/plan.h"
#include "plan/sync.h"
#include "util/xalloc.h"

/* An unprivileged container whose root may not create the driver's mount
 * targets (lxc.hook.mount runs as that root): which way works, in a line. */
static void predict_bind(struct cli *cli, struct change *ch, enum rec_driver driver)
{
	struct lxgpu_err err = { 0 };
	const char *version = lxgpu_nvidia_version(&ch->inv);
	size_t blocked = 0;
	char first[256], done[256];

	if (ct_privileged(&ch->conf) || !version ||
	    (driver != REC_DRIVER_NONE && driver != REC_DRIVER_BIND))
		return;
	_cleanup_close_ int ctroot = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						     &ch->ct, &ch->conf, &err);
	if (ctroot < 0 ||
	    ct_bind_targets(cli, ctroot, &ch->conf, version, false, &blocked, first, sizeof(first),
			    &err) < 0 ||
	    blocked == 0)
		return;
	if (driver == REC_DRIVER_BIND)
		snprintf(done, sizeof(done),
			 "lxgpu sync %s makes them as the host's root, or use lxgpu driver %s "
			 "--mode copy",
			 ch->ct.id, ch->ct.id);
	else
		snprintf(done, sizeof(done),
			 "lxgpu driver %s --mode copy works, and so does --mode bind, which makes "
			 "them as the host's root",
			 ch->ct.id);
	ct_bind_targets_line(&ch->ct, &ch->conf, blocked, first, done);
}

int cmd_attach(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct lxgpu_record old;
	struct edit_opts opts;
	struct change ch;
	int r = change_open(cli, &ch, !cli->dry_run);
	if (r >= 0)
		return r;
	struct dl_scan scan;
	dl_scan(&ch.conf, &scan);
	bool resets = scan.reset_end > 0;
	dl_free(&scan);
	if (change_record(&ch, &old, &err) < 0) {
		lxgpu_wrap(&err, "attach %s", ch.ct.id);
		change_free(&ch);
		return cli_fail(&err);
	}
	struct plan_request req = {
		.selectors = cli->gpus,
		.nselectors = cli->ngpus,
		.style = (enum lxgpu_style)cli->style,
		.wildcard = cli->wildcard,
		.format = ch.ct.format,
		.privileged = ct_privileged(&ch.conf),
		.dev_supported =
			ch.ct.format == CONF_PVE && ct_pve_container_version(cli->rootfd) >= 50007,
		.nodes_guaranteed = nodes_made_at_boot(cli->rootfd),
		.guard = cli->guard,
		.ct_id = ch.ct.id,
		.render_gid = -1,
		.video_gid = -1,
		/* how its driver came stays recorded across a new attach */
		.driver = old.driver,
		.resets_devices = resets,
	};
	_cleanup_free_ char *hook = hook_command(cli);
	req.hook_cmd = hook;
	/* model=, any and map: resolve here as they will where it starts */
	struct cluster_where where;
	struct lxgpu_err maps_err = { 0 };
	cluster_where_load(cli->rootfd, &where, &maps_err);
	req.where = &where.where;
	if (!req.privileged) {
		container_gids(cli, &ch, &req.render_gid, &req.video_gid);
		/* a root that cannot be read now: the groups attach found before */
		if (req.render_gid < 0)
			req.render_gid = old.render_gid;
		if (req.video_gid < 0)
			req.video_gid = old.video_gid;
	}
	record_free(&old);
	sync_opts(&ch.inv, cli->prune, &opts);
	if ((r = plan_build(&ch.inv, &req, &ch.plan, &err)) < 0 ||
	    (r = sync_plan_edit(&ch.conf, &ch.plan, &opts, &ch.edit, &ch.report, &err)) < 0) {
		if (maps_err.code && strstr(err.msg, "mappings cannot be read"))
			lxgpu_wrap(&err, "%s", maps_err.msg);
		lxgpu_wrap(&err, "attach %s", ch.ct.id);
		cluster_where_free(&where);
		change_free(&ch);
		return cli_fail(&err);
	}
	cluster_where_free(&where);
	r = change_finish(cli, &ch, "attached to", true);
	if (r == EXIT_OK && !cli->json && !cli->quiet)
		predict_bind(cli, &ch, req.driver);
	change_free(&ch);
	return r;
}

int cmd_detach(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	int r = change_open(cli, &ch, !cli->dry_run);
	if (r >= 0)
		return r;
	if (edit_detach(&ch.conf, &ch.edit, &ch.report, &err) < 0) {
		lxgpu_wrap(&err, "detach %s", ch.ct.id);
		change_free(&ch);
		return cli_fail(&err);
	}
	r = change_finish(cli, &ch, "detached from", false);
	change_free(&ch);
	return r;
}

int cmd_undo(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct lxgpu_ct ct;
	int r = ct_arg(cli);
	if (r >= 0)
		return r;
	if ((r = ct_open(cli->rootfd, cli->args[0], cli->lxcpath, &ct, &err)) < 0) {
		ct_close(&ct);
		return cli_fail(&err);
	}
	_cleanup_close_ int lock = apply_lock(cli->rootfd, &ct, APPLY_LOCK_TIMEOUT_MS, &err);
	if (lock < 0 || apply_undo(cli->rootfd, &ct, &err) < 0) {
		ct_close(&ct);
		return cli_fail(&err);
	}
	apply_log(cli->rootfd, "undo %s %s: config put back as before lxgpu's last change",
		  ct_label(&ct), ct.id);
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ct.id));
		json_object_set_new(doc, "changed", json_true());
		ct_close(&ct);
		return print_json(doc);
	}
	if (!cli->quiet)
		printf("%s %s: %s is back as it was before lxgpu's last change\n", ct_label(&ct),
		       ct.id, ct.path);
	ct_close(&ct);
	return EXIT_OK;
}
