/* The machinery of the commands that change a container's config. */
#ifndef LXGPU_CLI_CHANGE_H
#define LXGPU_CLI_CHANGE_H

#include <stdbool.h>

#include "cli/cli.h"
#include "config/config.h"
#include "container/container.h"
#include "config/edit.h"
#include "inventory/inventory.h"
#include "check/passthrough.h"
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

/* Runs cmd inside the running container (lxc-attach, which pct exec uses
 * too); its first output line in `first`; its exit status, -1 when it did not run. */
int ct_run_inside(const struct lxgpu_ct *ct, char *const cmd[], char *first, size_t size);
/* The same with all its output: appended to logfd (unless -1), and up to
 * size-1 bytes of it in `out`. */
int ct_exec_inside(const struct lxgpu_ct *ct, char *const cmd[], int logfd, char *out, size_t size);
struct verdicts;
/* check's checks of one container, added to v; with `cuda`, a CUDA call
 * inside when it runs (doctor). */
void check_container(struct cli *cli, struct change *ch, struct verdicts *v, bool cuda);

/* The container's NVIDIA user-space driver as check sees it, from its config
 * and the files in its root (nothing runs inside it: cheap enough for the
 * status view). check prints the notes as its driver lines. */
enum ct_driver_mode { CT_DRIVER_NONE, CT_DRIVER_BIND, CT_DRIVER_COPY, CT_DRIVER_INSTALL };
struct ct_driver_note {
	int status;     /* enum pt_status */
	const char *id; /* check's JSON id: "driver-mismatch" */
	char fix[512];  /* "" when none */
	char msg[1024];
};
struct ct_driver {
	enum ct_driver_mode mode;
	/* the version it has (a stopped bind container: the one its next start
	 * binds), NULL when none or unknown; matches: it is the host module's */
	char *version;
	bool matches;
	struct ct_driver_note notes[2];
	size_t nnotes;
	int worst; /* of the notes */
};
/* false (nothing to look at) when the container has no NVIDIA node lines. */
bool ct_driver_look(struct cli *cli, const struct lxgpu_ct *ct, const struct conf *conf,
		    const struct pt_config *pt, const struct lxgpu_inventory *inv, bool running,
		    struct ct_driver *d);
void ct_driver_free(struct ct_driver *d);
const char *ct_driver_mode_name(enum ct_driver_mode m);

/* How LXC runs lxgpu's hook: "/usr/bin/lxgpu hook", with this run's
 * --sysroot on fake hosts. */
char *hook_command(struct cli *cli);

#endif
