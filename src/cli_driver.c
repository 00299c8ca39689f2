/* `lxgpu driver`, `lxgpu check` and `lxgpu hook`: the container's user-space
 * driver is the host kernel module's exact version, and stays so. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "cli_change.h"
#include "cli_output.h"
#include "driver_files.h"
#include "edit.h"
#include "fs.h"
#include "guest.h"
#include "hook.h"
#include "inject.h"
#include "passthrough.h"
#include "xalloc.h"

extern char **environ;

static const char *host_nvidia_version(const struct lxgpu_inventory *inv)
{
	for (size_t i = 0; i < inv->ndrivers; i++)
		if (inv->drivers[i].vendor == LXGPU_VENDOR_NVIDIA)
			return inv->drivers[i].version;
	return NULL;
}

/* Runs a command inside a running container (LXC's lxc-attach, which pct exec
 * uses too); its first output line in `first`. */
static int run_inside(const struct lxgpu_ct *ct, char *const cmd[], char *first, size_t size)
{
	char *argv[16] = { "lxc-attach", "-n", ct->id, "-P", ct->lxcpath, "--" };
	size_t n = 6;
	for (size_t i = 0; cmd[i] && n < 15; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	int pipefd[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	int r = posix_spawnp(&pid, "lxc-attach", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		snprintf(first, size, "lxc-attach: %s", strerror(r));
		return -1;
	}
	char buf[4096];
	ssize_t got = 0, k;
	while ((k = read(pipefd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += k;
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	buf[got > 0 ? got : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	size_t keep = strnlen(buf, size - 1);
	memcpy(first, buf, keep);
	first[keep] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int driver_bind(struct cli *cli, struct change *ch)
{
	struct lxgpu_err err = { 0 };
	struct driver_files d;
	const char *version = host_nvidia_version(&ch->inv);

	if (!version)
		return cli_error(EXIT_FAILED, "driver %s: no NVIDIA driver on this host to bind",
				 ch->ct.id);
	/* the hook would fail every start if the host's files were not there now */
	if (driver_files_find(cli->rootfd, version, &d, &err) < 0) {
		lxgpu_wrap(&err, "driver %s", ch->ct.id);
		return cli_fail(&err);
	}
	driver_files_free(&d);
	_cleanup_free_ char *hook = hook_command(cli);
	edit_hook(&ch->conf, &ch->inv, "lxc.hook.mount", hook, &ch->edit, &ch->report);
	return change_finish(cli, ch, "set the driver of", false);
}

static int driver_copy(struct cli *cli, struct change *ch)
{
	struct lxgpu_err err = { 0 };
	struct driver_files d;
	struct inject_result res;
	const char *version = host_nvidia_version(&ch->inv);
	long uid, gid;
	int r;

	if (!version)
		return cli_error(EXIT_FAILED, "driver %s: no NVIDIA driver on this host to copy",
				 ch->ct.id);
	if (driver_files_find(cli->rootfd, version, &d, &err) < 0) {
		lxgpu_wrap(&err, "driver %s", ch->ct.id);
		return cli_fail(&err);
	}
	/* copying replaces binding: lxgpu's mount hook goes */
	edit_hook(&ch->conf, &ch->inv, "lxc.hook.mount", NULL, &ch->edit, &ch->report);
	if (cli->dry_run) {
		if (!cli->json)
			for (size_t i = 0; i < d.n; i++)
				printf("would copy %s\n", d.files[i].path);
		driver_files_free(&d);
		return change_finish(cli, ch, "set the driver of", false);
	}
	bool real_host = strcmp(cli->sysroot, "/") == 0;
	_cleanup_close_ int ctroot =
		guest_open_root(cli->rootfd, real_host, &ch->ct, &ch->conf, &err);
	if (ctroot < 0) {
		driver_files_free(&d);
		lxgpu_wrap(&err, "driver %s", ch->ct.id);
		return cli_fail(&err);
	}
	/* an unprivileged container's root owns what is copied */
	bool privileged = ct_privileged(&ch->conf);
	uid = privileged ? -1 : ct_host_id(&ch->conf, 'u', 0);
	gid = privileged ? -1 : ct_host_id(&ch->conf, 'g', 0);
	r = inject_driver(cli->rootfd, ctroot, &d, INJECT_COPY, uid, gid, &res, &err);
	driver_files_free(&d);
	if (r < 0) {
		lxgpu_wrap(&err, "driver %s", ch->ct.id);
		return cli_fail(&err);
	}
	if (!cli->quiet && !cli->json)
		printf("copied driver %s into %s %s: %zu files and %zu links in /%s and /usr/bin\n",
		       version, ct_label(&ch->ct), ch->ct.id, res.files, res.links, res.lib_dir);
	if (real_host && ch->running) {
		char first[256];
		char *ldconfig[] = { "ldconfig", NULL };
		if (run_inside(&ch->ct, ldconfig, first, sizeof(first)) != 0)
			fprintf(stderr, "lxgpu: warning: ldconfig in %s %s failed: %s\n",
				ct_label(&ch->ct), ch->ct.id, first);
	}
	return change_finish(cli, ch, "set the driver of", false);
}

int cmd_driver(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	int r = ct_arg(cli);
	if (r >= 0)
		return r;
	if (cli->mode == DRIVER_MODE_INSTALL)
		return cmd_driver_install(cli);
	if ((r = change_load(cli, &ch, !cli->dry_run, &err)) < 0) {
		change_free(&ch);
		return cli_fail(&err);
	}
	r = cli->mode == DRIVER_MODE_COPY ? driver_copy(cli, &ch) : driver_bind(cli, &ch);
	change_free(&ch);
	return r;
}

/* --- check ------------------------------------------------------------- */

struct verdicts {
	json_t *list;
	int worst; /* enum pt_status */
	bool color, json;
};

static void verdict(struct verdicts *v, enum pt_status st, const char *id, const char *fix,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void verdict(struct verdicts *v, enum pt_status st, const char *id, const char *fix,
		    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((int)st > v->worst)
		v->worst = (int)st;
	if (v->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_text(id));
		json_object_set_new(o, "status",
				    json_text(st == PT_OK     ? "ok"
					      : st == PT_WARN ? "warning"
							      : "error"));
		json_object_set_new(o, "message", json_text(msg));
		json_object_set_new(o, "fix", json_str_or_null(fix));
		json_array_append_new(v->list, o);
		return;
	}
	const char *sym = st == PT_OK ? "✓" : st == PT_WARN ? "!" : "✗";
	const char *col = st == PT_OK ? C_GREEN : st == PT_WARN ? C_YELLOW : C_RED;
	printf("%s%s%s %s\n", color_of(v->color, col), sym, color_of(v->color, C_RESET), msg);
	if (fix)
		printf("    %sfix:%s %s\n", color_of(v->color, C_DIM), color_of(v->color, C_RESET),
		       fix);
}

static bool has_nvidia_lines(const struct pt_config *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		if ((pt->entries[i].kind == PT_MOUNT || pt->entries[i].kind == PT_DEV) &&
		    strncmp(pt->entries[i].path, "/dev/nvidia", 11) == 0)
			return true;
	return false;
}

/* The hook line's program, which must exist on this host. */
static const struct conf_line *mount_hook(const struct conf *c, const struct pt_config *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		if (pt->entries[i].kind == PT_HOOK &&
		    strcmp(c->lines[pt->entries[i].line].key, "lxc.hook.mount") == 0)
			return &c->lines[pt->entries[i].line];
	return NULL;
}

static void check_driver(struct cli *cli, struct change *ch, const struct pt_config *pt,
			 struct verdicts *v)
{
	struct lxgpu_err err = { 0 };
	const char *host = host_nvidia_version(&ch->inv);
	char fix[256];
	bool real_host = strcmp(cli->sysroot, "/") == 0;
	const struct conf_line *hook = mount_hook(&ch->conf, pt);

	snprintf(fix, sizeof(fix), "lxgpu driver %s --mode bind", ch->ct.id);
	if (!host) {
		verdict(v, PT_BAD, "host-driver", "lxgpu discover",
			"the host has no NVIDIA driver loaded");
		return;
	}
	if (hook) {
		char prog[PATH_MAX];
		struct stat st;
		sscanf(hook->value, "%4095s", prog);
		/* a hook written for a fake host (--sysroot in its command) runs the real program */
		bool exists = fs_lstat_in(cli->rootfd, prog, &st, &err) == 0 ||
			      (strstr(hook->value, " --sysroot ") && lstat(prog, &st) == 0);
		if (!exists)
			verdict(v, PT_BAD, "hook-missing", fix,
				"the driver hook runs %s, which does not exist on this host: the "
				"container cannot start",
				prog);
		else
			verdict(v, PT_OK, "driver-bind", NULL,
				"driver bound at every start: the host's %s (lxc.hook.mount)",
				host);
	}
	_cleanup_close_ int ctroot =
		guest_open_root(cli->rootfd, real_host, &ch->ct, &ch->conf, &err);
	if (ctroot < 0) {
		if (!hook)
			verdict(v, PT_WARN, "driver-unknown", NULL, "%s", err.msg);
		return;
	}
	_cleanup_free_ char *where = NULL;
	_cleanup_free_ char *have = guest_driver_version(ctroot, &where);
	if (hook && !ch->running)
		return; /* the files in its root are last start's placeholders */
	if (!have) {
		verdict(v, PT_BAD, "driver-missing", fix,
			"no NVIDIA user-space driver in the container (no libnvidia-ml)");
	} else if (strcmp(have, host) != 0) {
		char copyfix[512];
		if (hook)
			snprintf(
				copyfix, sizeof(copyfix),
				"restart the container: the hook binds the host's driver at start");
		else
			snprintf(copyfix, sizeof(copyfix),
				 "lxgpu driver %s --mode bind (or --mode copy again)", ch->ct.id);
		verdict(v, PT_BAD, "driver-mismatch", copyfix,
			"the container's driver is %s (%s) but the host's module is %s: NVML says "
			"\"Driver/library version mismatch\"",
			have, where, host);
	} else if (!hook) {
		verdict(v, PT_OK, "driver-version", NULL,
			"the container's driver is %s (%s), as the host's", have, where);
	} else {
		verdict(v, PT_OK, "driver-version", NULL,
			"the running container has the host's %s bound (%s)", have, where);
	}
}

int cmd_check(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	struct pt_config pt;
	struct verdicts v = { .list = json_array(), .color = cli->color, .json = cli->json };
	int r = ct_arg(cli);
	if (r >= 0) {
		json_decref(v.list);
		return r;
	}
	if ((r = change_load(cli, &ch, false, &err)) < 0) {
		change_free(&ch);
		json_decref(v.list);
		return cli_fail(&err);
	}
	pt_scan(&ch.conf, &ch.inv, &pt);
	bool privileged = ct_privileged(&ch.conf);
	if (!cli->json)
		printf("%s %s (%s): %s, %s\n", ct_label(&ch.ct), ch.ct.id, ch.ct.path,
		       privileged ? "privileged" : "unprivileged",
		       ch.running ? "running" : "stopped");
	size_t nodes = 0;
	for (size_t i = 0; i < pt.n; i++) {
		char msg[512], fix[128];
		enum pt_status st =
			pt_judge(&pt, i, &ch.inv, cli->rootfd, privileged, msg, sizeof(msg));
		nodes += pt.entries[i].kind == PT_MOUNT || pt.entries[i].kind == PT_DEV;
		if (st == PT_OK)
			continue;
		snprintf(fix, sizeof(fix), "lxgpu attach %s", ch.ct.id);
		_cleanup_free_ char *line = conf_line_text(&ch.conf, pt.entries[i].line);
		verdict(&v, st, "config-line", st == PT_BAD ? fix : NULL, "%s: %s", line, msg);
	}
	if (nodes == 0)
		verdict(&v, PT_BAD, "no-gpu", NULL,
			"no GPU passthrough line: lxgpu attach %s gives one", ch.ct.id);
	else if (v.worst == PT_OK)
		verdict(&v, PT_OK, "config", NULL, "device lines match the host's nodes");
	if (has_nvidia_lines(&pt))
		check_driver(cli, &ch, &pt, &v);
	else if (nodes > 0)
		verdict(&v, PT_OK, "driver-in-container", NULL,
			"AMD and Intel GPUs have no user-space driver to match: Mesa and ROCm live "
			"in the container");
	if (has_nvidia_lines(&pt) && ch.running && strcmp(cli->sysroot, "/") == 0) {
		char first[512];
		char *smi[] = { "nvidia-smi", "-L", NULL };
		int rc = run_inside(&ch.ct, smi, first, sizeof(first));
		if (rc == 0)
			verdict(&v, PT_OK, "probe", NULL, "inside: nvidia-smi -L: %s", first);
		else
			verdict(&v, PT_BAD, "probe", "lxgpu doctor",
				"inside: nvidia-smi -L failed: %s", first);
	}
	pt_free(&pt);
	int code = v.worst == PT_BAD ? EXIT_DRIFT : EXIT_OK;
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ch.ct.id));
		json_object_set_new(doc, "running", json_boolean(ch.running));
		json_object_set_new(doc, "host_driver",
				    json_str_or_null(host_nvidia_version(&ch.inv)));
		json_object_set_new(doc, "drift", json_boolean(code == EXIT_DRIFT));
		json_object_set_new(doc, "checks", v.list);
		print_json(doc);
	} else {
		json_decref(v.list);
	}
	change_free(&ch);
	return code;
}

/* --- hook --------------------------------------------------------------- */

int cmd_hook(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct hook_call call = { .guard = cli->guard,
				  .real_host = strcmp(cli->sysroot, "/") == 0 };
	struct hook_result res;

	if (hook_parse(cli->nargs, cli->args, &call, &err) < 0 ||
	    hook_run(cli->rootfd, &call, &res, &err) < 0)
		return cli_fail(&err);
	if (cli->verbose && call.kind == HOOK_MOUNT)
		fprintf(stderr, "lxgpu: hook %s: bound %zu driver files\n", call.name, res.files);
	if (cli->verbose && call.kind == HOOK_PRE_START)
		fprintf(stderr,
			"lxgpu: hook %s: made %zu nodes for it, %zu NVIDIA nodes on the host\n",
			call.name, res.nodes, res.host_nodes);
	return EXIT_OK;
}
