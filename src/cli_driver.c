/* `lxgpu driver` and `lxgpu hook`: the container's user-space
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

#include "apply.h"
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

static int driver_bind(struct cli *cli, struct change *ch)
{
	struct lxgpu_err err = { 0 };
	struct driver_files d;
	const char *version = lxgpu_nvidia_version(&ch->inv);

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
	const char *version = lxgpu_nvidia_version(&ch->inv);
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
		if (ct_run_inside(&ch->ct, ldconfig, first, sizeof(first)) != 0)
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

/* --- hook --------------------------------------------------------------- */

int cmd_hook(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct hook_call call = { .guard = cli->guard,
				  .real_host = strcmp(cli->sysroot, "/") == 0 };
	struct hook_result res;

	if (hook_parse(cli->nargs, cli->args, &call, &err) < 0 ||
	    hook_run(cli->rootfd, &call, &res, &err) < 0) {
		/* LXC logs a hook's output only at DEBUG: the journal has it too */
		apply_log(cli->rootfd, "%s", err.msg);
		return cli_fail(&err);
	}
	if (cli->verbose && call.kind == HOOK_MOUNT)
		fprintf(stderr, "lxgpu: hook %s: bound %zu driver files\n", call.name, res.files);
	if (cli->verbose && call.kind == HOOK_PRE_START)
		fprintf(stderr,
			"lxgpu: hook %s: made %zu nodes for it, %zu NVIDIA nodes on the host\n",
			call.name, res.nodes, res.host_nodes);
	return EXIT_OK;
}
