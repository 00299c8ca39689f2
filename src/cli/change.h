/* The machinery of the commands that change a container's config. */
#ifndef LXGPU_CLI_CHANGE_H
#define LXGPU_CLI_CHANGE_H

#include <stdbool.h>

#include "cli/cli.h"
#include "config/config.h"
#include "container/container.h"
#include "config/edit.h"
#include "inventory/inventory.h"
#include "plan/plan.h"
#include "config/record.h"

/* Everything one change needs, released together by change_free. */
struct change {
	struct lxgpu_ct ct;
	struct lxgpu_inventory inv;
	struct conf conf;
	struct conf_edit edit;
	struct edit_report report;
	struct lxgpu_plan plan;
	char *old_text, *new_text;
	size_t old_len, new_len;
	int lockfd;
	bool running, have_inv;
};

/* The record of ch's config (an error for one lxgpu cannot read). */
int change_record(const struct change *ch, struct lxgpu_record *r, struct lxgpu_err *err);
/* The CT argument alone: -1 when fine, else the usage error's exit code. */
int ct_arg(struct cli *cli);
const char *ct_label(const struct lxgpu_ct *ct);
/* Opens, locks (unless only looking), reads and parses cli->args[0]'s config,
 * refusing what lxgpu must not edit; scans the host. */
int change_load(struct cli *cli, struct change *ch, bool lock, struct lxgpu_err *err);
/* ct_arg, then change_load of it: -1 when ch is loaded, else the exit code of
 * the error already printed (ch freed). */
int change_open(struct cli *cli, struct change *ch, bool lock);
/* The same for container `id` (an option's value rather than the argument). */
int change_load_id(struct cli *cli, struct change *ch, const char *id, bool lock,
		   struct lxgpu_err *err);
/* Writes ch->edit (unless --dry-run) and prints what it does; `verb` for the
 * log and the output ("attached to"); with_plan adds ch->plan to the JSON. */
int change_finish(struct cli *cli, struct change *ch, const char *verb, bool with_plan);
void change_free(struct change *ch);
/* The container's own render and video gids (--gid, or its /etc/group). */
void container_gids(struct cli *cli, struct change *ch, long *render, long *video);

/* How LXC runs lxgpu's hook: "/usr/bin/lxgpu hook", with this run's
 * --sysroot on fake hosts. */
char *hook_command(struct cli *cli);

#endif
