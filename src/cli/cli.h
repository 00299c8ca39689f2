/* cli: the command table, options, text and JSON output, exit codes. The only
 * part of lxgpu that prints or exits. */
#ifndef LXGPU_CLI_H
#define LXGPU_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "util/err.h"

struct lxgpu_inventory;

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1, /* a single-CT command changed nothing */
	EXIT_USAGE = 2,  /* found from the arguments alone */
	EXIT_DRIFT = 3,  /* check, doctor or sync --dry-run found drift */
};

/* Option keys: short options use their letter, long-only ones start at 256. */
enum cli_key {
	KEY_QUIET = 'q',
	KEY_VERBOSE = 'v',
	KEY_HELP = 'h',
	KEY_VERSION = 'V',
	KEY_SYSROOT = 256,
	KEY_LXCPATH,
	KEY_JSON,
	KEY_NO_COLOR,
	KEY_GPU,
	KEY_STYLE,
	KEY_WILDCARD,
	KEY_DRY_RUN,
	KEY_GID,
	KEY_MODE,
	KEY_INSTALLER,
	KEY_DOCKER,
	KEY_ALL,
	KEY_GUARD,
	KEY_CUDA,
	KEY_CT,
	KEY_APPLY,
	KEY_EXPLAIN,
	KEY_UNDO,
	KEY_DRIVER_VERSION,
	KEY_PRUNE,
	KEY_CLUSTER,
	KEY_NODE,
	KEY_WAIT,
	KEY_ONCE,
	KEY_INTERVAL,
	KEY_CDI_VERSION,
};

enum driver_mode { DRIVER_MODE_BIND, DRIVER_MODE_COPY, DRIVER_MODE_INSTALL };

struct cli_option {
	const char *name;
	int has_arg; /* getopt_long's no_argument / required_argument */
	int key;
	const char *arg; /* metavariable shown in help: "DIR" */
	const char *help;
};

struct cli;
struct cli_command {
	const char *name;
	int (*run)(struct cli *cli);
	const char *synopsis; /* arguments after the name */
	const char *summary;
	const int *options; /* keys of the command's own options, 0-terminated */
	int min_args, max_args;
	bool hidden; /* run by LXC, not by people */
};

struct cli {
	const char *sysroot; /* "/" unless --sysroot / LXGPU_SYSROOT */
	bool sysroot_env;    /* it came from LXGPU_SYSROOT */
	int rootfd;
	const char *lxcpath; /* host view; default /var/lib/lxc */
	bool json, color, quiet;
	int verbose;
	const struct cli_command *cmd;
	/* the command table (main.c's), for __man and __complete */
	const struct cli_command *commands;
	char **args; /* positional arguments after the command */
	int nargs;
	/* command options */
	const char *gpus[64]; /* --gpu, in order */
	size_t ngpus;
	int style; /* enum lxgpu_style */
	bool wildcard, dry_run;
	long render_gid, video_gid; /* --gid, -1 when not given */
	enum driver_mode mode;
	const char *installer; /* --installer FILE.run */
	bool docker;
	bool all, guard;
	const char *cuda;           /* compat --cuda X.Y */
	const char *ct;             /* compat --ct CT */
	bool apply;                 /* compat --ct CT --apply */
	const char *explain;        /* doctor --explain MESSAGE */
	bool undo;                  /* host prepare --undo */
	bool prune;                 /* attach, sync --prune: dead rules go */
	const char *driver_version; /* host install-driver --driver-version V */
	bool cluster;               /* status --cluster */
	const char *node;           /* check --node NODE */
	bool wait;                  /* sync --wait: until /etc/pve is writable */
	bool once;                  /* top --once */
	const char *interval;       /* top, metrics --interval S */
	const char *cdi_version;    /* cdi, driver --docker --cdi-version V */
	/* the host as one scan saw it, for commands that look at many containers */
	const struct lxgpu_inventory *shared_inv;
};

/* options.c */
extern const struct cli_option cli_options[];
const struct cli_option *cli_option_by_key(int key);
/* Accepted by every command, before or after it. */
bool cli_option_is_global(int key);

/* Commands: the table's entries (main.c), one file each (attach.c holds
 * detach and undo too); only main.c calls them. */
int cmd_status(struct cli *cli);
int cmd_discover(struct cli *cli);
int cmd_attach(struct cli *cli);
int cmd_detach(struct cli *cli);
int cmd_undo(struct cli *cli);
int cmd_show(struct cli *cli);
int cmd_driver(struct cli *cli);
int cmd_check(struct cli *cli);
int cmd_hook(struct cli *cli);
int cmd_sync(struct cli *cli);
int cmd_compat(struct cli *cli);
int cmd_doctor(struct cli *cli);
int cmd_unhook(struct cli *cli);
int cmd_man(struct cli *cli);
int cmd_complete(struct cli *cli);
int cmd_host(struct cli *cli);
int cmd_cdi(struct cli *cli);
int cmd_map(struct cli *cli);
int cmd_top(struct cli *cli);
int cmd_metrics(struct cli *cli);

#endif
