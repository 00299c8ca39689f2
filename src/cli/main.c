/* main: the command table, global options, dispatch and help. Options are
 * parsed in two passes: the global ones before COMMAND (stopping at it), then
 * the global and the command's own options anywhere after it. Only this file
 * calls the commands (cmd_* of the command files); neither they nor the
 * helpers they share call back into it: __man and __complete get the table
 * through struct cli. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/output.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "plan/plan.h"
#include "util/xalloc.h"

#ifndef LXGPU_VERSION
#define LXGPU_VERSION "0.0.0"
#endif

static const int no_options[] = { 0 };
static const int attach_options[] = { KEY_GPU, KEY_STYLE, KEY_WILDCARD, KEY_DRY_RUN,
				      KEY_GID, KEY_GUARD, KEY_PRUNE,    0 };
static const int guard_option[] = { KEY_GUARD, 0 };
static const int dry_run_option[] = { KEY_DRY_RUN, 0 };
static const int driver_options[] = { KEY_MODE,    KEY_INSTALLER,   KEY_DOCKER,
				      KEY_DRY_RUN, KEY_CDI_VERSION, 0 };
static const int sync_options[] = { KEY_ALL, KEY_DRY_RUN, KEY_PRUNE, KEY_WAIT, 0 };
static const int status_options[] = { KEY_CLUSTER, 0 };
static const int check_options[] = { KEY_NODE, 0 };
static const int compat_options[] = { KEY_CUDA, KEY_CT, KEY_APPLY, KEY_DRY_RUN, 0 };
static const int doctor_options[] = { KEY_EXPLAIN, 0 };
static const int cdi_options[] = { KEY_GPU, KEY_DRY_RUN, KEY_CDI_VERSION, 0 };
static const int unhook_options[] = { KEY_ALL, KEY_DRY_RUN, 0 };
static const int top_options[] = { KEY_ONCE, KEY_INTERVAL, 0 };
static const int metrics_options[] = { KEY_INTERVAL, 0 };
static const int host_options[] = { KEY_DRY_RUN, KEY_UNDO, KEY_DRIVER_VERSION, KEY_INSTALLER, 0 };

static const struct cli_command cli_commands[] = {
	{ "status", cmd_status, "[--cluster]",
	  "the host's GPUs and every GPU container with its health (lxgpu alone does the same)",
	  status_options, 0, 0, false },
	{ "discover", cmd_discover, "",
	  "the host: GPUs, device nodes, drivers, CUDA version, findings", no_options, 0, 0,
	  false },
	{ "attach", cmd_attach,
	  "CT [--gpu SEL]... [--style auto|raw|dev] [--wildcard] [--gid GID] [--guard] [--prune] "
	  "[--dry-run]",
	  "give container CT exactly the selected GPUs", attach_options, 1, 1, false },
	{ "detach", cmd_detach, "CT [--dry-run]",
	  "remove the lines lxgpu wrote into CT, nothing else", dry_run_option, 1, 1, false },
	{ "undo", cmd_undo, "CT", "put back CT's config as it was before lxgpu's last change",
	  no_options, 1, 1, false },
	{ "show", cmd_show, "CT", "what CT has, and whether it still matches the host", no_options,
	  1, 1, false },
	{ "driver", cmd_driver,
	  "CT [--mode bind|copy|install] [--installer FILE.run] [--docker [--cdi-version V]] "
	  "[--dry-run]",
	  "give CT the host's user-space driver, of the kernel module's exact version",
	  driver_options, 1, 1, false },
	{ "check", cmd_check, "CT [--node NODE]",
	  "host vs container: device rules, nodes, driver version; or whether NODE can run it",
	  check_options, 1, 1, false },
	{ "sync", cmd_sync, "[CT...|--all] [--prune] [--dry-run] [--wait]",
	  "bring configs and device nodes back in line with the host", sync_options, 0, 1000,
	  false },
	{ "doctor", cmd_doctor, "[CT] [--explain MESSAGE]",
	  "every check from the host down to a CUDA call in the container, with the fix",
	  doctor_options, 0, 1, false },
	{ "compat", cmd_compat, "[DRIVER | --cuda X.Y | --ct CT [--apply [--dry-run]]]",
	  "driver <-> CUDA toolkit <-> cuDNN: what runs on what", compat_options, 0, 1, false },
	{ "host", cmd_host,
	  "status | prepare [--undo] [--dry-run] | install-driver [--version V | "
	  "--installer FILE.run] [--dry-run]",
	  "the host's own driver: what it has, blacklist nouveau and headers, install NVIDIA's",
	  host_options, 1, 1, false },
	{ "cdi", cmd_cdi, "[CT] [--gpu SEL]... [--cdi-version V] [--dry-run]",
	  "a CDI spec of the GPUs, for podman, containerd or Docker inside a container",
	  cdi_options, 0, 1, false },
	{ "map", cmd_map, "add NAME node=NODE,gpu=GPU... | rm NAME | list",
	  "named GPU mappings, cluster-wide: --gpu map:NAME takes NAME's GPU of the node where "
	  "the container starts",
	  no_options, 1, 64, false },
	{ "unhook", cmd_unhook, "[CT...|--all] [--dry-run]",
	  "remove lxgpu's start hooks from the configs (before lxgpu is removed)", unhook_options,
	  0, 1000, false },
	{ "top", cmd_top, "[CT...] [--once] [--interval S]",
	  "which container uses the GPUs: memory, SM time, processes, live", top_options, 0, 1000,
	  false },
	{ "metrics", cmd_metrics, "[--interval S]",
	  "the figures of top in Prometheus' text format, for node_exporter's textfile collector",
	  metrics_options, 0, 0, false },
	{ "hook", cmd_hook, "[--guard] [NAME lxc mount|pre-start|post-stop]",
	  "run by LXC at container start and stop (lxc.hook.mount, pre-start, post-stop)",
	  guard_option, 0, 3, true },
	/* for the build (the man page) and the shell (data/lxgpu.bash) */
	{ "__man", cmd_man, "", "lxgpu(1)'s COMMANDS and OPTIONS in roff", no_options, 0, 0, true },
	{ "__complete", cmd_complete, "-- CWORD WORD...", "completion candidates, one a line",
	  no_options, 2, 1000, true },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, false },
};

static void print_option(FILE *f, const struct cli_option *o)
{
	char left[64];
	if (!o)
		return;
	snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-22s %s\n", left, o->help);
}

/* A global option that one of CMD's own options of the same name hides
 * after CMD (host's --version V). */
static bool shadowed(const struct cli_command *cmd, const struct cli_option *global)
{
	for (const int *k = cmd ? cmd->options : no_options; *k; k++) {
		const struct cli_option *own = cli_option_by_key(*k);
		if (own && strcmp(own->name, global->name) == 0)
			return true;
	}
	return false;
}

static void usage(FILE *f, const struct cli_command *cmd)
{
	if (cmd) {
		fprintf(f, "usage: lxgpu [GLOBAL] %s%s%s\n\n%s\n", cmd->name,
			cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->summary);
		if (cmd->options[0]) {
			fputs("\noptions:\n", f);
			for (const int *k = cmd->options; *k; k++)
				print_option(f, cli_option_by_key(*k));
		}
	} else {
		fputs("usage: lxgpu [GLOBAL] [COMMAND [ARGS]]\n\n"
		      "Gives LXC and Proxmox VE containers a GPU, and keeps it working.\n"
		      "With no command: the host's GPUs and every container that has one.\n\n"
		      "commands:\n",
		      f);
		for (const struct cli_command *c = cli_commands; c->name; c++)
			if (!c->hidden)
				fprintf(f, "  %-10s %s\n", c->name, c->summary);
	}
	fputs("\nglobal options (before or after COMMAND):\n", f);
	for (const struct cli_option *o = cli_options; o->name; o++)
		if (cli_option_is_global(o->key) && !shadowed(cmd, o))
			print_option(f, o);
}

static const struct cli_command *find_command(const char *name)
{
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static const char *option_name(char **argv, int opt)
{
	/* a short option by its letter; a long one (key >= 256) as it was typed */
	if (opt > 0 && opt < 256 && opt != '?' && opt != ':') {
		static char s[3];
		s[0] = '-';
		s[1] = (char)opt;
		return s;
	}
	return argv[optind - 1];
}

struct parsed {
	bool help, version, no_color;
	const char *sysroot, *lxcpath;
};

static bool parse_gid(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || v < 0 || v > 0x7fffffffL || (*end && *end != ','))
		return false;
	*out = v;
	return true;
}

/* --gid N, or --gid render=N,video=M (either part may be left out). */
static int parse_gid_option(struct cli *cli, const char *arg)
{
	if (arg[0] >= '0' && arg[0] <= '9') {
		if (!parse_gid(arg, &cli->render_gid) || strchr(arg, ','))
			return cli_error(EXIT_USAGE, "--gid %s: not a group id", arg);
		cli->video_gid = cli->render_gid;
		return -1;
	}
	_cleanup_free_ char *copy = xstrdup(arg);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		long *slot = strncmp(t, "render=", 7) == 0  ? &cli->render_gid
			     : strncmp(t, "video=", 6) == 0 ? &cli->video_gid
							    : NULL;
		if (!slot || !parse_gid(strchr(t, '=') + 1, slot))
			return cli_error(EXIT_USAGE, "--gid %s: want N or render=N,video=M", arg);
	}
	return -1;
}

/* Returns -1 to go on, else the exit code of a usage error. */
static int apply_option(struct cli *cli, struct parsed *p, int key, const char *arg)
{
	switch (key) {
	case KEY_GPU:
		if (strncmp(arg, "MIG-", 4) == 0)
			return cli_error(
				EXIT_USAGE,
				"--gpu %s: a MIG UUID comes from NVML, which lxgpu does not "
				"load; name the instance GPU/GI/CI as lxgpu discover lists it",
				arg);
		if (!plan_selector_valid(arg))
			return cli_error(
				EXIT_USAGE,
				"--gpu %s: not an index, a GPU-UUID, a PCI address or all, "
				"with /GI/CI for one MIG instance; nor model=NAME, any or map:NAME",
				arg);
		if (cli->ngpus == ARRAY_SIZE(cli->gpus))
			return cli_error(EXIT_USAGE, "--gpu: at most %zu", ARRAY_SIZE(cli->gpus));
		cli->gpus[cli->ngpus++] = arg;
		break;
	case KEY_STYLE:
		if (strcmp(arg, "auto") == 0)
			cli->style = LXGPU_STYLE_AUTO;
		else if (strcmp(arg, "raw") == 0)
			cli->style = LXGPU_STYLE_RAW;
		else if (strcmp(arg, "dev") == 0)
			cli->style = LXGPU_STYLE_DEV;
		else
			return cli_error(EXIT_USAGE, "--style %s: want auto, raw or dev", arg);
		break;
	case KEY_WILDCARD:
		cli->wildcard = true;
		break;
	case KEY_DRY_RUN:
		cli->dry_run = true;
		break;
	case KEY_GID:
		return parse_gid_option(cli, arg);
	case KEY_MODE:
		if (strcmp(arg, "bind") == 0)
			cli->mode = DRIVER_MODE_BIND;
		else if (strcmp(arg, "copy") == 0)
			cli->mode = DRIVER_MODE_COPY;
		else if (strcmp(arg, "install") == 0)
			cli->mode = DRIVER_MODE_INSTALL;
		else
			return cli_error(EXIT_USAGE, "--mode %s: want bind, copy or install", arg);
		break;
	case KEY_INSTALLER:
		cli->installer = arg;
		break;
	case KEY_DOCKER:
		cli->docker = true;
		break;
	case KEY_ALL:
		cli->all = true;
		break;
	case KEY_GUARD:
		cli->guard = true;
		break;
	case KEY_CUDA:
		cli->cuda = arg;
		break;
	case KEY_CT:
		cli->ct = arg;
		break;
	case KEY_APPLY:
		cli->apply = true;
		break;
	case KEY_EXPLAIN:
		cli->explain = arg;
		break;
	case KEY_UNDO:
		cli->undo = true;
		break;
	case KEY_PRUNE:
		cli->prune = true;
		break;
	case KEY_CLUSTER:
		cli->cluster = true;
		break;
	case KEY_NODE:
		cli->node = arg;
		break;
	case KEY_WAIT:
		cli->wait = true;
		break;
	case KEY_DRIVER_VERSION:
		cli->driver_version = arg;
		break;
	case KEY_ONCE:
		cli->once = true;
		break;
	case KEY_CDI_VERSION:
		cli->cdi_version = arg;
		break;
	case KEY_INTERVAL:
		cli->interval = arg;
		break;
	case KEY_SYSROOT:
		p->sysroot = arg;
		break;
	case KEY_LXCPATH:
		p->lxcpath = arg;
		break;
	case KEY_JSON:
		cli->json = true;
		break;
	case KEY_NO_COLOR:
		p->no_color = true;
		break;
	case KEY_QUIET:
		cli->quiet = true;
		break;
	case KEY_VERBOSE:
		cli->verbose++;
		break;
	case KEY_HELP:
		p->help = true;
		break;
	case KEY_VERSION:
		p->version = true;
		break;
	default:
		break;
	}
	return -1;
}

static struct option *long_options(const struct cli_command *cmd)
{
	size_t n = 0, all = 1; /* the table's entries, its terminator too */
	for (const struct cli_option *o = cli_options; o->name; o++)
		all++;
	struct option *opts = xcalloc(all * 2 + 1, sizeof(*opts));
	for (const struct cli_option *o = cli_options; o->name; o++) {
		bool own = false;
		for (const int *k = cmd ? cmd->options : no_options; *k; k++)
			own |= *k == o->key;
		if (!cli_option_is_global(o->key) && !own)
			continue;
		opts[n++] = (struct option){ o->name, o->has_arg, NULL, o->key };
	}
	return opts;
}

static int parse_pass(struct cli *cli, struct parsed *p, const struct cli_command *cmd, int argc,
		      char **argv, const char *shortopts)
{
	_cleanup_free_ struct option *opts = long_options(cmd);
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (opt == '?')
			return cli_error(EXIT_USAGE, "%s%s%s: unknown option", cmd ? cmd->name : "",
					 cmd ? ": " : "", option_name(argv, optopt));
		if (opt == ':')
			return cli_error(EXIT_USAGE, "%s%s%s: needs a value", cmd ? cmd->name : "",
					 cmd ? ": " : "", option_name(argv, optopt));
		int r = apply_option(cli, p, opt, optarg);
		if (r >= 0)
			return r;
	}
	return -1;
}

static bool want_color(bool no_color)
{
	const char *nc = getenv("NO_COLOR");
	if (no_color || (nc && nc[0]))
		return false;
	return isatty(STDOUT_FILENO);
}

int main(int argc, char **argv)
{
	struct cli cli = { .sysroot = "/",
			   .rootfd = -EBADF,
			   .lxcpath = "/var/lib/lxc",
			   .render_gid = -1,
			   .video_gid = -1 };
	struct parsed p = { 0 };
	const struct cli_command *cmd = NULL;
	struct lxgpu_err err = { 0 };
	int r;

	/* A fixed seed for jansson's hash tables: it reads /dev/urandom for one
	 * otherwise, three system calls in every run (the start hook's too).
	 * Every document lxgpu reads is root's: the host's, its own, its peers'
	 * in /etc/pve. */
	json_object_seed(0x6c786770);
	/* Pass 1: global options up to COMMAND ('+' stops at the first non-option). */
	r = parse_pass(&cli, &p, NULL, argc, argv, "+:qvhV");
	if (r >= 0)
		return r;
	int first = optind;
	if (first < argc) {
		cmd = find_command(argv[first]);
		if (!cmd)
			return cli_error(EXIT_USAGE, "%s: unknown command (see lxgpu --help)",
					 argv[first]);
		/* Pass 2: everything after COMMAND, options in any order. */
		int sub_argc = argc - first;
		char **sub_argv = argv + first;
		optind = 0;
		r = parse_pass(&cli, &p, cmd, sub_argc, sub_argv, ":qvhV");
		if (r >= 0)
			return r;
		cli.args = sub_argv + optind;
		cli.nargs = sub_argc - optind;
	}
	if (p.version) {
		printf("lxgpu %s\n", LXGPU_VERSION);
		return EXIT_OK;
	}
	if (p.help) {
		usage(stdout, cmd);
		return EXIT_OK;
	}
	if (cmd && (cli.nargs < cmd->min_args || cli.nargs > cmd->max_args)) {
		if (cli.nargs < cmd->min_args)
			return cli_error(EXIT_USAGE, "%s: missing argument (usage: lxgpu %s %s)",
					 cmd->name, cmd->name, cmd->synopsis);
		return cli_error(EXIT_USAGE, "%s: unexpected argument '%s'", cmd->name,
				 cli.args[cmd->max_args]);
	}

	if (!p.sysroot) {
		const char *env = getenv("LXGPU_SYSROOT");
		if (env && env[0]) {
			p.sysroot = env;
			cli.sysroot_env = true;
		}
	}
	if (p.sysroot) {
		if (p.sysroot[0] == '\0')
			return cli_error(EXIT_USAGE, "--sysroot: empty path");
		cli.sysroot = p.sysroot;
	}
	if (p.lxcpath) {
		if (p.lxcpath[0] != '/')
			return cli_error(EXIT_USAGE, "--lxcpath %s: must be an absolute path",
					 p.lxcpath);
		cli.lxcpath = p.lxcpath;
	}
	cli.color = want_color(p.no_color) && !cli.json;
	cli.cmd = cmd;
	cli.commands = cli_commands;

	cli.rootfd = fs_open_root(cli.sysroot, &err);
	if (cli.rootfd < 0) {
		lxgpu_wrap(&err, "--sysroot");
		return cli_fail(&err);
	}
	r = cmd ? cmd->run(&cli) : cmd_status(&cli);
	close(cli.rootfd);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_error(EXIT_FAILED, "stdout: %s", strerror(errno));
	return r;
}
