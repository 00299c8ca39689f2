/* `lxgpu sync [CT...|--all] [--dry-run]`: NVIDIA's device nodes made or
 * repaired, then every GPU container's config brought back in line with the
 * host, and copied drivers of another version copied again. Run at boot by
 * lxgpu-sync.service, before any container starts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/checks.h"
#include "cli/facts.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "cluster/mapping.h"
#include "cli/progress_bar.h"
#include "config/idmap.h"
#include "container/container.h"
#include "inventory/driver_files.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "guest/inject.h"
#include "nodes/nodes.h"
#include "check/passthrough.h"
#include "config/record.h"
#include "plan/plan.h"
#include "plan/sync.h"
#include "util/ahead.h"
#include "util/xalloc.h"

/* Configs read, planned and written (lock, second read, undo file, temp,
 * fsync, rename) ahead of the one being reported, and the threads that do it;
 * the reports, the log lines and copied drivers stay on one thread, in
 * order. On a 16-CPU VM 10,000 changed configs took 0.29 s with three
 * threads (0.32 s when the writes were on one thread); four were 5% faster
 * there and 14% slower on a slower VM of the same kind, five 28% slower
 * (the kernel's file creations and renames on tmpfs are most of the time).
 * Each thread's malloc arena costs about 200 KiB of RSS, and the
 * window as much again for every 8 configs it holds (a config is held until
 * its slot is next used, so twice the window at most). */
#define SYNC_AHEAD   8
#define SYNC_WORKERS 3

enum result { R_IN_LINE, R_CHANGED, R_WOULD, R_FAILED, R_NO_GPU, R_UNMANAGED };

static const char *result_name(enum result r)
{
	static const char *const names[] = { "in-line", "changed", "would-change",
					     "failed",  "no-gpu",  "not-attached" };
	return names[r];
}

struct run {
	struct cli *cli;
	struct lxgpu_inventory inv;
	struct sync_facts facts;
	json_t *results;
	size_t counts[6];
	bool pve_readonly;
	bool nodes_made;
};

static void report(struct run *run, const char *id, const char *path, enum result r,
		   const char *msg, const struct conf_edit *e, const struct conf *c,
		   const char *diff)
{
	struct cli *cli = run->cli;
	run->counts[r]++;
	if (r == R_NO_GPU)
		return;
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "ct", json_text(id));
		json_object_set_new(o, "config", json_text(path));
		json_object_set_new(o, "result", json_text(result_name(r)));
		json_object_set_new(o, "message", json_str_or_null(msg));
		json_t *added = json_array(), *removed = json_array();
		size_t n = 0;
		_cleanup_free_ const char **lines = e ? conf_edit_added(e, &n) : NULL;
		for (size_t i = 0; i < n; i++)
			json_array_append_new(added, json_text(lines[i]));
		for (size_t i = 0; e && c && i < c->nlines; i++)
			if (e->remove[i]) {
				_cleanup_free_ char *t = conf_line_text(c, i);
				json_array_append_new(removed, json_text(t));
			}
		json_object_set_new(o, "added", added);
		json_object_set_new(o, "removed", removed);
		if (diff)
			json_object_set_new(o, "diff", json_text(diff));
		json_array_append_new(run->results, o);
		return;
	}
	if (cli->quiet && r != R_FAILED)
		return;
	static const char *const sym[] = { "✓", "↻", "~", "✗", "", "-" };
	static const char *const col[] = { C_GREEN, C_YELLOW, C_YELLOW, C_RED, "", "" };
	FILE *f = r == R_FAILED ? stderr : stdout;
	if (r == R_FAILED)
		fprintf(f, "lxgpu: sync %s: %s\n", id, msg);
	else
		fprintf(f, "%s%s%s %s %s%s%s\n", color_of(cli->color, col[r]), sym[r],
			color_of(cli->color, C_RESET), id, result_name(r), msg ? ": " : "",
			msg ? msg : "");
	if (diff && !cli->quiet)
		fputs(diff, stdout);
}

/* A copied driver of another version is copied again; a bound one needs
 * nothing; an installed one can only be installed again, by its owner. */
static void resync_copy(struct run *run, struct lxgpu_ct *ct, const struct conf *c,
			enum rec_driver mode, char *msg, size_t size, bool *changed, bool *failed)
{
	struct cli *cli = run->cli;
	struct lxgpu_err err = { 0 };
	const char *host = lxgpu_nvidia_version(&run->inv);
	*changed = false;
	if (!host)
		return;
	bool bound = dl_has_hook(c, "mount");
	if ((bound || mode == REC_DRIVER_BIND) && (!bound || ct_privileged(c)))
		return; /* bound at every start */
	_cleanup_close_ int root =
		guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0, ct, c, &err);
	if (root < 0)
		return;
	if (bound) {
		/* by a hook that runs as the container's root: what that root may
		 * not create, the host's root makes */
		size_t blocked = 0;
		char first[256];
		if (ct_bind_targets(cli, root, c, host, !cli->dry_run, &blocked, first,
				    sizeof(first), &err) < 0) {
			snprintf(msg, size, "making the driver's mount targets failed: %.300s",
				 err.msg);
			*failed = true;
		} else if (blocked > 0) {
			snprintf(msg, size,
				 "%s %zu mount targets of driver %s that its root may not create",
				 cli->dry_run ? "would make" : "made", blocked, host);
			*changed = true;
		}
		return;
	}
	_cleanup_free_ char *have = guest_driver_version(root, NULL);
	if (!have || strcmp(have, host) == 0)
		return;
	if (mode == REC_DRIVER_INSTALL) {
		snprintf(msg, size,
			 "its installed driver %s is not the host's %s: lxgpu driver %s --mode "
			 "install",
			 have, host, ct->id);
		*failed = true;
		return;
	}
	*changed = true;
	if (cli->dry_run) {
		snprintf(msg, size, "its copied driver %s would be replaced by the host's %s", have,
			 host);
		return;
	}
	struct driver_files d;
	struct inject_result res;
	long uid = ct_privileged(c) ? -1 : ct_host_id(c, 'u', 0);
	long gid = ct_privileged(c) ? -1 : ct_host_id(c, 'g', 0);
	struct cli_bar bar;
	char label[128];
	snprintf(label, sizeof(label), "%s: driver %s", ct->id, host);
	struct progress *p = cli_bar_start(&bar, cli, label, 0);
	bool bad = driver_files_find(cli->rootfd, host, &d, &err) < 0 ||
		   inject_driver(cli->rootfd, root, &d, INJECT_COPY, uid, gid, p, &res, &err) < 0;
	cli_bar_end(&bar);
	if (bad) {
		snprintf(msg, size, "copying driver %s failed: %.300s", host, err.msg);
		*failed = true;
	} else
		snprintf(msg, size, "its copied driver %s was replaced by the host's %s", have,
			 host);
	if (d.files)
		driver_files_free(&d);
}

/* What a worker makes of one config before the reporting thread takes it
 * (ahead.h): read, parsed, planned and written, with nothing printed. */
struct prepared {
	const char *id;
	char id_buf[CT_ID_BUF];
	struct lxgpu_ct ct;
	char *text;
	size_t len;
	struct conf c;
	struct conf_edit e;
	struct edit_report rep;
	struct lxgpu_plan plan;
	enum sync_outcome outcome;
	char *out; /* SYNC_EDIT: the config as the edit leaves it */
	size_t outlen;
	bool failed;  /* err says why */
	bool scanned; /* text may hold GPU lines (dl_text_may_scan) */
	struct lxgpu_err err;
	/* SYNC_EDIT, not a dry run: write_config wrote the config (text, c and
	 * the plan are then from the read under its lock); else write_err says
	 * why, if sync_one does not */
	bool written;
	struct lxgpu_err write_err;
};

/* A Proxmox config's `lock:` (a backup, a migration...): such a config is
 * not synced. */
static const char *pve_lock(const struct prepared *p)
{
	return p->ct.format == CONF_PVE ? conf_get(&p->c, "lock") : NULL;
}

/* Whether p's config sits in /etc/pve while it is read-only (no quorum):
 * such a config is not synced either. */
static bool pve_readonly_for(const struct run *run, const struct prepared *p)
{
	return p->ct.format == CONF_PVE && run->pve_readonly;
}

/* p->text planned: parsed, edited and, where it changes and this is not a
 * dry run, rendered. */
static void plan_config(const struct run *run, struct prepared *p)
{
	p->scanned = dl_text_may_scan(p->text, p->len);
	p->outcome = SYNC_NO_GPU;
	p->failed = p->scanned && (conf_parse(p->text, p->len, p->ct.format, &p->c, &p->err) < 0 ||
				   sync_edit(&p->c, p->id, &run->inv, &run->facts, &p->plan, &p->e,
					     &p->rep, &p->outcome, &p->err) < 0);
	if (!p->failed && p->outcome == SYNC_EDIT && !run->cli->dry_run)
		p->out = conf_render(&p->c, &p->e, &p->outlen);
}

/* What plan_config made, freed. */
static void plan_config_free(struct prepared *p)
{
	conf_edit_free(&p->e);
	edit_report_free(&p->rep);
	plan_free(&p->plan);
	conf_free(&p->c);
	free(p->out);
	p->out = NULL;
}

/* The write, under the config's lock, on the worker: the config read again,
 * planned again only if it changed since the first read, and written
 * (apply.h). Nothing is printed: sync_one reports, and says why a config
 * that was to change was not written. */
static void write_config(const struct run *run, struct prepared *p, int fd, const struct stat *was)
{
	_cleanup_free_ char *again = NULL;
	size_t len;
	struct stat st;

	if (pve_lock(p) || pve_readonly_for(run, p))
		return; /* sync_one says why */
	_cleanup_close_ int lock =
		apply_lock(run->cli->rootfd, &p->ct, APPLY_LOCK_TIMEOUT_MS, &p->write_err);
	if (lock < 0)
		return;
	bool read = ct_read_again(&p->ct, fd, was, &st, &again, &len, &p->write_err) == 0;
	if (read && (len != p->len || memcmp(again, p->text, len) != 0)) {
		plan_config_free(p);
		free(p->text);
		p->text = TAKE_PTR(again);
		p->len = len;
		plan_config(run, p);
	}
	p->written = read && !p->failed && p->outcome == SYNC_EDIT && !pve_lock(p) &&
		     apply_write(run->cli->rootfd, &p->ct, p->text, p->len, p->out, p->outlen, &st,
				 &p->write_err) == 0;
	if (!p->written)
		apply_drop_temp(&p->ct); /* what apply_lock leaves to a batch's write */
}

/* The reads, the plan and the write of one config: on a worker thread
 * (ahead.h), so nothing here prints or touches run but to read it. */
static void prepare(const struct run *run, const char *id, bool listed, struct prepared *p)
{
	/* the config stays open for the read under the lock */
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	p->id = id;
	p->ct.dirfd = -EBADF;
	if ((listed ? ct_open_listed : ct_open)(run->cli->rootfd, id, run->cli->lxcpath, &p->ct,
						&p->err) < 0 ||
	    ct_read_keep(&p->ct, run->cli->dry_run ? NULL : &fd, &st, &p->text, &p->len, &p->err) <
		    0) {
		p->failed = true;
		return;
	}
	plan_config(run, p);
	if (p->out)
		write_config(run, p, fd, &st);
}

static void prepared_free(void *ctx, void *item)
{
	struct prepared *p = item;
	(void)ctx;
	plan_config_free(p);
	free(p->text);
	ct_close(&p->ct);
}

/* The rest, in the order of the ids: the report, the log line, a copied
 * driver copied again. */
static void sync_one(struct run *run, struct prepared *p)
{
	struct cli *cli = run->cli;
	const char *id = p->id;
	struct lxgpu_ct *ct = &p->ct;
	_cleanup_free_ char *diff = NULL;
	_cleanup_free_ const char **added = NULL;
	char msg[512] = "";
	bool copied = false, copy_failed = false;

	if (p->failed) {
		report(run, id, ct->path ? ct->path : id, R_FAILED, p->err.msg, NULL, NULL, NULL);
		return;
	}
	if (!p->scanned || p->outcome == SYNC_NO_GPU) {
		report(run, id, ct->path, R_NO_GPU, NULL, NULL, NULL, NULL);
		return;
	}
	if (p->outcome == SYNC_UNMANAGED) {
		/* its GPU lines are the admin's: lxgpu plans only from a record */
		snprintf(msg, sizeof(msg),
			 "hand-written GPU lines, left alone (lxgpu attach %s "
			 "adopts them)",
			 id);
		report(run, id, ct->path, R_UNMANAGED, msg, NULL, NULL, NULL);
		return;
	}
	/* mode: the record's (sync_edit planned from it) */
	resync_copy(run, ct, &p->c, p->plan.record.driver, msg, sizeof(msg), &copied, &copy_failed);
	if (p->outcome == SYNC_IN_LINE) {
		report(run, id, ct->path,
		       copy_failed ? R_FAILED
		       : copied    ? (cli->dry_run ? R_WOULD : R_CHANGED)
				   : R_IN_LINE,
		       msg[0] ? msg : NULL, NULL, NULL, NULL);
		return;
	}
	const char *locked = pve_lock(p);
	if (locked) {
		snprintf(msg, sizeof(msg), "CT %s is locked (%s): not synced", id, locked);
		report(run, id, ct->path, R_FAILED, msg, NULL, NULL, NULL);
		return;
	}
	if (pve_readonly_for(run, p)) {
		report(run, id, ct->path, R_FAILED, "/etc/pve is read-only (no quorum yet)", NULL,
		       NULL, NULL);
		return;
	}
	if (cli->dry_run) {
		diff = conf_diff(&p->c, &p->e, ct->path + 1);
		report(run, id, ct->path, R_WOULD, msg[0] ? msg : NULL, &p->e, &p->c, diff);
		return;
	}
	if (!p->written) {
		report(run, id, ct->path, R_FAILED, p->write_err.msg, NULL, NULL, NULL);
		return;
	}
	size_t nadded;
	added = conf_edit_added(&p->e, &nadded);
	apply_log(cli->rootfd, "sync %s: %zu lines added, %zu removed, GPUs %s", id, nadded,
		  p->rep.nremoved, p->plan.devices ? p->plan.devices : "");
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s%zu lines rewritten%s",
		 msg[0] ? "; " : "", nadded,
		 ct_running(cli->rootfd, ct) ? " (applies at its next start)" : "");
	report(run, id, ct->path, copy_failed ? R_FAILED : R_CHANGED, msg, &p->e, &p->c, NULL);
}

/* The configs, read, planned and written ahead on worker threads (ahead.h). */
struct sync_list {
	const struct run *run;
	struct ct_ids ids;
	bool all;
};

static void prepare_item(void *ctx, size_t i, void *item)
{
	const struct sync_list *l = ctx;
	struct prepared *p = item;
	/* a VMID's text in the item's buffer, which outlives this call */
	prepare(l->run, l->all ? ct_id(&l->ids, i, p->id_buf) : l->run->cli->args[i], l->all, p);
}

/* pmxcfs without quorum shows its files 0440 and directories 0555 and
 * refuses every write (pve-docs, pmxcfs). */
static bool pve_readonly(int rootfd)
{
	return cluster_readonly(rootfd);
}

/* sync --wait: until pmxcfs has quorum (its directories show write bits
 * again), checked every 5 s; the boot's lxgpu-sync.service has made the
 * nodes meanwhile (lxgpu-sync-quorum.service runs this). */
static void wait_writable(struct cli *cli)
{
	bool said = false;
	while (cluster_present(cli->rootfd) && cluster_readonly(cli->rootfd)) {
		if (!said && !cli->quiet && !cli->json)
			fprintf(stderr, "lxgpu: sync: /etc/pve is read-only (no quorum yet): "
					"waiting until it is writable\n");
		said = true;
		struct timespec t = { 5, 0 };
		nanosleep(&t, NULL);
	}
}

/* This node's GPUs for the other nodes (facts.h): after the configs, so
 * that a failure here changes no result. */
static json_t *publish(struct run *run)
{
	struct cli *cli = run->cli;
	struct lxgpu_err err = { 0 };
	if (cli->dry_run)
		return json_null();
	int r = facts_publish(cli, &run->inv, &err);
	if (r == 1)
		return json_null(); /* not a Proxmox node */
	if (r < 0 && err.code != EROFS) {
		/* read-only: the notice above says so already */
		fprintf(stderr, "lxgpu: sync: publishing this node's GPUs: %s\n", err.msg);
		run->counts[R_FAILED]++;
	}
	return json_boolean(r == 0);
}

static void make_nodes(struct run *run, json_t *doc)
{
	struct cli *cli = run->cli;
	struct lxgpu_err err = { 0 };
	struct node_plan np;
	bool real_host = strcmp(cli->sysroot, "/") == 0;

	nodes_plan(cli->rootfd, &run->inv, &np);
	if (np.load_uvm && !cli->dry_run && real_host && nodes_load_uvm(&err) == 0) {
		/* nvidia-uvm now has a major: its nodes can be made */
		nodes_plan_free(&np);
		lxgpu_inventory_free(&run->inv);
		lxgpu_inventory_scan(cli->rootfd, &run->inv);
		nodes_plan(cli->rootfd, &run->inv, &np);
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < np.n; i++) {
		const struct node_op *op = &np.ops[i];
		if (cli->json) {
			json_t *o = json_object();
			json_object_set_new(o, "path", json_text(op->path));
			json_object_set_new(o, "action",
					    json_text(op->action == NODE_CREATE   ? "create"
						      : op->action == NODE_REMOVE ? "remove"
										  : "replace"));
			json_object_set_new(o, "major", json_integer(op->major));
			json_object_set_new(o, "minor", json_integer(op->minor));
			json_object_set_new(o, "why", json_text(op->why));
			json_array_append_new(arr, o);
		} else if (!cli->quiet) {
			static const char *const done[] = { [NODE_CREATE] = "made",
							    [NODE_REPLACE] = "remade",
							    [NODE_REMOVE] = "removed" };
			static const char *const would[] = { [NODE_CREATE] = "would make",
							     [NODE_REPLACE] = "would remake",
							     [NODE_REMOVE] = "would remove" };
			printf("%s %s c %u:%u (%s)\n",
			       cli->dry_run ? would[op->action] : done[op->action], op->path,
			       op->major, op->minor, op->why);
		}
	}
	if (np.load_uvm && (cli->dry_run || !real_host) && !cli->json && !cli->quiet)
		printf("%s nvidia-uvm (no major yet)\n",
		       cli->dry_run ? "would load" : "did not load");
	if (!cli->dry_run && np.n > 0 && nodes_apply(cli->rootfd, &np, &err) < 0) {
		fprintf(stderr, "lxgpu: sync: %s\n", err.msg);
		run->counts[R_FAILED]++;
	} else if (!cli->dry_run && np.n > 0) {
		run->nodes_made = true;
		apply_log(cli->rootfd, "sync: made %zu NVIDIA device nodes", np.n);
		lxgpu_inventory_free(&run->inv);
		lxgpu_inventory_scan(cli->rootfd, &run->inv);
	}
	if (cli->dry_run && np.n > 0) {
		run->counts[R_WOULD]++;
		nodes_simulate(&run->inv, &np); /* the configs' plans see the nodes to be */
	}
	if (doc)
		json_object_set_new(doc, "nodes", arr);
	else
		json_decref(arr);
	nodes_plan_free(&np);
}

int cmd_sync(struct cli *cli)
{
	struct run run = { .cli = cli };
	struct sync_list list = { .run = &run, .all = cli->all };
	size_t nids;

	if (!cli->all && cli->nargs == 0)
		return cli_error(EXIT_USAGE, "sync: name containers, or --all");
	if (cli->all && cli->nargs > 0)
		return cli_error(EXIT_USAGE, "sync: containers or --all, not both");
	for (int i = 0; i < cli->nargs; i++) {
		const char *why;
		if (!ct_arg_valid(cli->args[i], &why))
			return cli_error(EXIT_USAGE, "sync %s: %s", cli->args[i], why);
	}
	if (cli->wait && !cli->dry_run)
		wait_writable(cli);
	json_t *doc = cli->json ? json_object() : NULL;
	run.results = json_array();
	lxgpu_inventory_scan(cli->rootfd, &run.inv);
	make_nodes(&run, doc);
	run.facts = (struct sync_facts){ .dev_supported =
						 ct_pve_container_version(cli->rootfd) >= 50007,
					 .nodes_guaranteed = nodes_made_at_boot(cli->rootfd),
					 .prune = cli->prune,
					 .hook_cmd = NULL };
	_cleanup_free_ char *hook = hook_command(cli);
	run.facts.hook_cmd = hook;
	/* model=, any and map: resolve to this node's GPUs */
	struct cluster_where where;
	struct lxgpu_err maps_err = { 0 };
	cluster_where_load(cli->rootfd, &where, &maps_err);
	run.facts.where = &where.where;
	run.pve_readonly = pve_readonly(cli->rootfd);
	if (run.pve_readonly && !cli->json)
		fprintf(stderr,
			"lxgpu: sync: /etc/pve is read-only (no quorum yet): device nodes %s, "
			"Proxmox configs not synced, this node's GPUs not published\n",
			cli->dry_run ? "checked" : "made");
	if (cli->all) {
		nids = ct_list(cli->rootfd, cli->lxcpath, &list.ids);
	} else {
		nids = (size_t)cli->nargs;
	}
	/* the next configs read, planned and written on the workers while this
	 * thread reports them, one at a time, in order */
	apply_batch_begin(); /* before the workers, which take locks */
	struct ahead *configs =
		ahead_start(nids, SYNC_AHEAD, sizeof(struct prepared), ahead_workers(SYNC_WORKERS),
			    prepare_item, prepared_free, &list);
	for (size_t i = 0; i < nids; i++) {
		sync_one(&run, ahead_take(configs, i));
		ahead_give_back(configs, i);
	}
	ahead_stop(configs);
	apply_batch_end();
	ct_ids_free(&list.ids);
	cluster_where_free(&where);
	json_t *published = publish(&run);
	int code = run.counts[R_FAILED]                  ? EXIT_FAILED
		   : run.counts[R_WOULD] && cli->dry_run ? EXIT_DRIFT
							 : EXIT_OK;
	if (cli->json) {
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "dry_run", json_boolean(cli->dry_run));
		json_object_set_new(
			doc, "changed",
			json_boolean(cli->dry_run ? run.counts[R_WOULD] > 0
						  : run.counts[R_CHANGED] > 0 || run.nodes_made));
		json_object_set_new(doc, "pve_readonly", json_boolean(run.pve_readonly));
		json_object_set_new(doc, "published", published);
		json_object_set_new(doc, "results", run.results);
		print_json(doc);
	} else {
		json_decref(run.results);
		json_decref(published);
		if (!cli->quiet)
			printf("%zu in line, %zu %s, %zu failed\n", run.counts[R_IN_LINE],
			       run.counts[cli->dry_run ? R_WOULD : R_CHANGED],
			       cli->dry_run ? "would change" : "changed", run.counts[R_FAILED]);
	}
	lxgpu_inventory_free(&run.inv);
	return code;
}
