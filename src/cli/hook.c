/* `lxgpu hook`: what LXC runs at container start and stop (hook/hook.h);
 * its one line on error goes to stderr and the system log. */
#include <stdio.h>
#include <string.h>

#include "apply/apply.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "hook/hook.h"

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
	if (res.skipped[0]) {
		/* LXC logs hook output at DEBUG only: the system log has it too */
		fprintf(stderr, "lxgpu: warning: %s\n", res.skipped);
		apply_log(cli->rootfd, "%s", res.skipped);
	}
	if (cli->verbose && call.kind == HOOK_MOUNT)
		fprintf(stderr, "lxgpu: hook %s: bound %zu driver files\n", call.name, res.files);
	if (cli->verbose && call.kind == HOOK_PRE_START)
		fprintf(stderr,
			"lxgpu: hook %s: made %zu nodes for it, %zu NVIDIA nodes on the host\n",
			call.name, res.nodes, res.host_nodes);
	return EXIT_OK;
}
