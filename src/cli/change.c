/* The machinery every config-changing command shares: load a container's
 * config under its lock, print what an edit does (or would do), write it. */
#include "cli/change.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply/apply.h"
#include "util/cleanup.h"
#include "cli/output.h"
#include "guest/guest.h"
#include "util/xalloc.h"

extern char **environ;

void change_free(struct change *ch)
{
	conf_edit_free(&ch->edit);
	edit_report_free(&ch->report);
	plan_free(&ch->plan);
	conf_free(&ch->conf);
	if (ch->have_inv)
		lxgpu_inventory_free(&ch->inv);
	ct_close(&ch->ct);
	free(ch->old_text);
	free(ch->new_text);
	if (ch->lockfd >= 0)
		close(ch->lockfd);
}

int ct_arg(struct cli *cli)
{
	const char *why;
	if (!ct_arg_valid(cli->args[0], &why))
		return cli_error(EXIT_USAGE, "%s %s: %s", cli->cmd->name, cli->args[0], why);
	return -1;
}

const char *ct_label(const struct lxgpu_ct *ct)
{
	return ct->format == CONF_PVE ? "CT" : "container";
}

/* Opens, locks (unless only looking), reads and parses the config. */
int change_load(struct cli *cli, struct change *ch, bool lock, struct lxgpu_err *err)
{
	return change_load_id(cli, ch, cli->args[0], lock, err);
}

int change_open(struct cli *cli, struct change *ch, bool lock)
{
	struct lxgpu_err err = { 0 };
	int r = ct_arg(cli);
	if (r >= 0) {
		memset(ch, 0, sizeof(*ch));
		ch->lockfd = ch->ct.dirfd = -EBADF;
		return r;
	}
	if (change_load(cli, ch, lock, &err) < 0) {
		change_free(ch);
		return cli_fail(&err);
	}
	return -1;
}

int change_load_id(struct cli *cli, struct change *ch, const char *id, bool lock,
		   struct lxgpu_err *err)
{
	int r;
	memset(ch, 0, sizeof(*ch));
	ch->lockfd = -EBADF;
	ch->ct.dirfd = -EBADF;
	if ((r = ct_open(cli->rootfd, id, cli->lxcpath, &ch->ct, err)) < 0)
		return r;
	if (lock &&
	    (r = ch->lockfd = apply_lock(cli->rootfd, &ch->ct, APPLY_LOCK_TIMEOUT_MS, err)) < 0)
		return r;
	if ((r = ct_read(&ch->ct, &ch->old_text, &ch->old_len, err)) < 0)
		return r;
	if ((r = conf_parse(ch->old_text, ch->old_len, ch->ct.format, &ch->conf, err)) < 0)
		return lxgpu_wrap(err, "%s", ch->ct.path);
	long bad = conf_first_invalid(&ch->conf);
	if (bad >= 0) {
		_cleanup_free_ char *text = conf_line_text(&ch->conf, (size_t)bad);
		if (strlen(text) > 60)
			strcpy(text + 57, "...");
		/* the line as it reaches a terminal: no control character of the file */
		for (char *p = text; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		return lxgpu_failx(err, EINVAL, "%s:%ld: not a %s config line: %s", ch->ct.path,
				   bad + 1, ch->ct.format == CONF_PVE ? "Proxmox" : "LXC", text);
	}
	const char *locked = ch->ct.format == CONF_PVE ? conf_get(&ch->conf, "lock") : NULL;
	if (locked) {
		char shown[64];
		snprintf(shown, sizeof(shown), "%s", locked);
		for (char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		return lxgpu_failx(err, EBUSY,
				   "CT %s is locked (%s): wait for it to finish, or pct unlock %s",
				   ch->ct.id, shown, ch->ct.id);
	}
	if (cli->shared_inv) {
		ch->inv = *cli->shared_inv; /* borrowed: change_free leaves it */
	} else {
		lxgpu_inventory_scan(cli->rootfd, &ch->inv);
		ch->have_inv = true;
	}
	ch->running = ct_running(cli->rootfd, &ch->ct);
	return 0;
}

/* The container's own render and video gids, for unprivileged containers. */
void container_gids(struct cli *cli, struct change *ch, long *render, long *video)
{
	struct lxgpu_err err = { 0 };
	*render = cli->render_gid;
	*video = cli->video_gid;
	if (*render >= 0 && *video >= 0)
		return;
	_cleanup_close_ int root = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						   &ch->ct, &ch->conf, &err);
	if (root < 0)
		return;
	if (*render < 0 && guest_group_gid(root, "render", render, &err) < 0)
		*render = -1;
	lxgpu_err_clear(&err);
	if (*video < 0 && guest_group_gid(root, "video", video, &err) < 0)
		*video = -1;
}

/* On a real Proxmox host, Proxmox's own parser reads what lxgpu wrote. */
static void validate_with_pct(struct cli *cli, const struct lxgpu_ct *ct)
{
	int pipefd[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	char *argv[] = { "pct", "config", ct->id, NULL };
	char buf[4096];

	if (ct->format != CONF_PVE || strcmp(cli->sysroot, "/") != 0 ||
	    pipe2(pipefd, O_CLOEXEC) < 0)
		return;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	int r = posix_spawnp(&pid, "pct", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return; /* no pct: not a Proxmox host */
	}
	ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "lxgpu: warning: pct config %s: %s\n", ct->id, line);
}

static void restart_hint(const struct lxgpu_ct *ct, char *buf, size_t size)
{
	if (ct->format == CONF_PVE)
		snprintf(buf, size, "pct reboot %s", ct->id);
	else
		snprintf(buf, size, "lxc-stop -n %s -P %s && lxc-start -n %s -P %s", ct->id,
			 ct->lxcpath, ct->id, ct->lxcpath);
}

int change_record(const struct change *ch, struct lxgpu_record *r, struct lxgpu_err *err)
{
	struct dl_scan s;
	dl_scan(&ch->conf, &s);
	int ret = record_read(&ch->conf, &s, r, err);
	dl_free(&s);
	return ret < 0 ? lxgpu_wrap(err, "lxgpu's record") : 0;
}

static const char *note_name(enum edit_note n)
{
	return n == NOTE_DEAD ? "dead-major" : "wider";
}

static json_t *lines_json(const struct change *ch, const struct edit_line *lines, size_t n,
			  bool removed)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *text = conf_line_text(&ch->conf, lines[i].line);
		json_t *o = json_object();
		json_object_set_new(o, "line", json_text(text));
		json_object_set_new(o, "why",
				    json_text(removed ? edit_why_name((enum edit_why)lines[i].why)
						      : note_name((enum edit_note)lines[i].why)));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The hand-written lines attach or sync left alone, and why they are worth a word. */
static void print_kept(const struct cli *cli, const struct change *ch)
{
	for (size_t i = 0; i < ch->report.nkept; i++) {
		_cleanup_free_ char *text = conf_line_text(&ch->conf, ch->report.kept[i].line);
		if (ch->report.kept[i].why == NOTE_DEAD)
			printf("kept %s%s%s: its major is registered by no driver (lxgpu sync %s "
			       "--prune removes it)\n",
			       color_of(cli->color, C_YELLOW), text, color_of(cli->color, C_RESET),
			       ch->ct.id);
		else
			printf("kept %s: hand-written, it reaches other devices too\n", text);
	}
}

static json_t *plan_json(const struct change *ch)
{
	json_t *o = json_object(), *nodes = json_array(), *rules = json_array(),
	       *gpus = json_array();
	for (size_t i = 0; i < ch->plan.ngpus; i++)
		json_array_append_new(gpus,
				      json_text(lxgpu_gpu_id(&ch->inv.gpus[ch->plan.gpus[i]])));
	for (size_t i = 0; i < ch->plan.nnodes; i++) {
		const struct lxgpu_node *n = ch->plan.nodes[i].node;
		json_t *no = json_object();
		char mode[8];
		snprintf(mode, sizeof(mode), "%04o", n->mode);
		json_object_set_new(no, "path", json_text(n->path));
		json_object_set_new(no, "major", json_integer(n->major));
		json_object_set_new(no, "minor", json_integer(n->minor));
		json_object_set_new(no, "mode", json_text(mode));
		json_object_set_new(no, "gid",
				    ch->plan.nodes[i].gid >= 0 ? json_integer(ch->plan.nodes[i].gid)
							       : json_null());
		json_array_append_new(nodes, no);
	}
	for (size_t i = 0; i < ch->plan.nrules; i++)
		json_array_append_new(rules, json_text(ch->plan.rules[i]));
	json_object_set_new(o, "style", json_text(plan_style_name(ch->plan.style)));
	json_object_set_new(o, "gpus", gpus);
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "devices", json_text(ch->plan.devices ? ch->plan.devices : ""));
	return o;
}

/* Prints what a change does (or would do), then writes it unless --dry-run. */
int change_finish(struct cli *cli, struct change *ch, const char *verb, bool with_plan)
{
	struct lxgpu_err err = { 0 };
	bool changed = conf_edit_changes(&ch->edit, &ch->conf);
	char hint[512];
	int r;

	size_t nadded;
	_cleanup_free_ const char **added_lines = conf_edit_added(&ch->edit, &nadded);
	if (changed)
		ch->new_text = conf_render(&ch->conf, &ch->edit, &ch->new_len);
	if (changed && !cli->dry_run) {
		if ((r = apply_write(cli->rootfd, &ch->ct, ch->old_text, ch->old_len, ch->new_text,
				     ch->new_len, NULL, &err)) < 0) {
			if (err.code == EROFS) /* the command and CT: nothing else says them */
				lxgpu_wrap(&err, "%s %s", cli->cmd ? cli->cmd->name : "",
					   ch->ct.id);
			return cli_fail(&err);
		}
		apply_log(cli->rootfd, "%s %s %s: %zu lines added, %zu removed%s%s", verb,
			  ct_label(&ch->ct), ch->ct.id, nadded, ch->report.nremoved,
			  ch->plan.devices ? ", GPUs " : "",
			  ch->plan.devices ? ch->plan.devices : "");
		validate_with_pct(cli, &ch->ct);
	}
	restart_hint(&ch->ct, hint, sizeof(hint));
	if (cli->json) {
		json_t *doc = json_object(), *added = json_array();
		for (size_t i = 0; changed && i < nadded; i++)
			json_array_append_new(added, json_text(added_lines[i]));
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ch->ct.id));
		json_object_set_new(doc, "config", json_text(ch->ct.path));
		json_object_set_new(doc, "changed", json_boolean(changed));
		json_object_set_new(doc, "dry_run", json_boolean(cli->dry_run));
		json_object_set_new(doc, "added", added);
		json_object_set_new(
			doc, "removed",
			changed ? lines_json(ch, ch->report.removed, ch->report.nremoved, true)
				: json_array());
		json_t *adopted = json_array();
		for (size_t i = 0; i < ch->report.nadopted; i++) {
			_cleanup_free_ char *text =
				conf_line_text(&ch->conf, ch->report.adopted[i]);
			json_array_append_new(adopted, json_text(text));
		}
		json_object_set_new(doc, "adopted", adopted);
		json_object_set_new(doc, "left_alone",
				    lines_json(ch, ch->report.kept, ch->report.nkept, false));
		json_t *kept = json_array();
		for (size_t i = 0; i < ch->report.nkept_other; i++)
			json_array_append_new(kept, json_text(ch->report.kept_other[i]));
		json_object_set_new(doc, "kept", kept);
		json_object_set_new(doc, "running", json_boolean(ch->running));
		if (cli->dry_run) {
			_cleanup_free_ char *diff =
				conf_diff(&ch->conf, &ch->edit, ch->ct.path + 1);
			json_object_set_new(doc, "diff", json_text(diff));
		}
		if (with_plan)
			json_object_set_new(doc, "plan", plan_json(ch));
		return print_json(doc);
	}
	if (cli->dry_run) {
		_cleanup_free_ char *diff = conf_diff(&ch->conf, &ch->edit, ch->ct.path + 1);
		fputs(diff, stdout);
		if (!changed && !cli->quiet)
			printf("%s %s: no change\n", ct_label(&ch->ct), ch->ct.id);
		return EXIT_OK;
	}
	if (cli->quiet)
		return EXIT_OK;
	if (!changed) {
		printf("%s %s: no change (%s)\n", ct_label(&ch->ct), ch->ct.id, ch->ct.path);
	} else {
		printf("%s %s %s (%s):\n", verb, ct_label(&ch->ct), ch->ct.id, ch->ct.path);
		for (size_t i = 0; i < nadded; i++)
			printf("  %s+ %s%s\n", color_of(cli->color, C_GREEN), added_lines[i],
			       color_of(cli->color, C_RESET));
		for (size_t i = 0; i < ch->report.nremoved; i++) {
			_cleanup_free_ char *text =
				conf_line_text(&ch->conf, ch->report.removed[i].line);
			printf("  %s- %s%s  (%s)\n", color_of(cli->color, C_RED), text,
			       color_of(cli->color, C_RESET),
			       edit_why_name((enum edit_why)ch->report.removed[i].why));
		}
		for (size_t i = 0; i < ch->report.nadopted; i++) {
			_cleanup_free_ char *text =
				conf_line_text(&ch->conf, ch->report.adopted[i]);
			printf("  = %s  (adopted: lxgpu's from now on)\n", text);
		}
	}
	print_kept(cli, ch);
	for (size_t i = 0; i < ch->report.nkept_other; i++)
		printf("kept another tool's GPU line: %s\n", ch->report.kept_other[i]);
	if (changed && ch->running)
		printf("%s %s is running: the change applies at its next start (%s)\n",
		       ct_label(&ch->ct), ch->ct.id, hint);
	return EXIT_OK;
}

/* "/usr/bin/lxgpu hook", or with the --sysroot this run has (fake hosts);
 * not with one from LXGPU_SYSROOT, which LXC's environment then gives the
 * hook at start (tests/lxc/cluster.sh: two nodes on one machine). */
char *hook_command(struct cli *cli)
{
	char exe[PATH_MAX], root[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		snprintf(exe, sizeof(exe), "/usr/bin/lxgpu");
	else
		exe[n] = '\0';
	if (strcmp(cli->sysroot, "/") == 0 || cli->sysroot_env || !realpath(cli->sysroot, root))
		return xasprintf("%s hook", exe);
	return xasprintf("%s --sysroot %s hook", exe, root);
}
