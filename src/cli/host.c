/* `lxgpu host status | prepare [--undo] | install-driver`: the host's own
 * driver. status prints host/host.c's lines; prepare runs host/prepare.c's
 * steps; install-driver gets NVIDIA's .run through driver --mode install's
 * download and cache (cli/installer.c) and runs it on the host with DKMS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/installer.h"
#include "cli/output.h"
#include "config/config.h"
#include "container/container.h"
#include "host/download.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "util/version.h"
#include "util/xalloc.h"

#define CACHE_DIR "/var/cache/lxgpu"

static const char *const symbols[] = { "✓", "i", "!", "✗" };
static const char *const colors[] = { C_GREEN, C_DIM, C_YELLOW, C_RED };

static int host_status_cmd(struct cli *cli, const struct lxgpu_inventory *inv,
			   const struct host_state *st)
{
	(void)inv;
	if (cli->json) {
		json_t *doc = json_object(), *lines = json_array();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "kernel",
				    json_str_or_null(st->kernel[0] ? st->kernel : NULL));
		json_object_set_new(doc, "proxmox", json_boolean(st->proxmox));
		json_object_set_new(doc, "nvidia_version", json_str_or_null(st->nvidia_version));
		for (size_t i = 0; i < st->nlines; i++) {
			const struct host_line *l = &st->lines[i];
			json_t *o = json_object();
			json_object_set_new(o, "id", json_text(l->id));
			json_object_set_new(o, "status", json_text(host_status_name(l->status)));
			json_object_set_new(o, "message", json_text(l->message));
			json_object_set_new(o, "fix", json_str_or_null(l->fix));
			json_array_append_new(lines, o);
		}
		json_object_set_new(doc, "lines", lines);
		return print_json(doc) < 0 ? EXIT_FAILED : EXIT_OK;
	}
	for (size_t i = 0; i < st->nlines; i++) {
		const struct host_line *l = &st->lines[i];
		printf("%s%s%s %s\n", color_of(cli->color, colors[l->status]), symbols[l->status],
		       color_of(cli->color, C_RESET), l->message);
		if (l->fix)
			printf("    %sfix:%s %s\n", color_of(cli->color, C_DIM),
			       color_of(cli->color, C_RESET), l->fix);
	}
	return EXIT_OK;
}

static char *command_line(char *const argv[])
{
	char buf[1024] = "";
	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, "%s%s", i ? " " : "", argv[i]);
	}
	return xstrdup(buf);
}

/* The diff of a write step (the new file) or a remove step (the file as it is). */
static char *step_diff(int rootfd, const struct host_step *s)
{
	_cleanup_free_ char *old = NULL;
	struct lxgpu_err e = { 0 };
	size_t len;
	bool w = s->kind == HOST_STEP_WRITE;
	if (!w)
		(void)fs_read_in(rootfd, s->path, 1u << 20, &old, &len, &e);
	return whole_file_diff(s->path, w ? NULL : old ? old : "", w ? s->text : NULL);
}

static json_t *steps_json(int rootfd, const struct host_plan *plan)
{
	json_t *a = json_array();
	for (size_t i = 0; i < plan->n; i++) {
		const struct host_step *s = &plan->steps[i];
		json_t *o = json_object();
		if (s->kind == HOST_STEP_RUN) {
			json_t *argv = json_array();
			for (size_t j = 0; s->argv[j]; j++)
				json_array_append_new(argv, json_text(s->argv[j]));
			json_object_set_new(o, "action", json_string("run"));
			json_object_set_new(o, "command", argv);
		} else {
			_cleanup_free_ char *diff = step_diff(rootfd, s);
			json_object_set_new(
				o, "action",
				json_string(s->kind == HOST_STEP_WRITE ? "write" : "remove"));
			json_object_set_new(o, "path", json_text(s->path));
			json_object_set_new(o, "diff", json_text(diff));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static void print_steps(int rootfd, const struct host_plan *plan, const char *prefix)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct host_step *s = &plan->steps[i];
		if (s->kind == HOST_STEP_RUN) {
			_cleanup_free_ char *cmd = command_line(s->argv);
			printf("%s run: %s\n", prefix, cmd);
			continue;
		}
		_cleanup_free_ char *diff = step_diff(rootfd, s);
		printf("%s %s %s:\n%s", prefix, s->kind == HOST_STEP_WRITE ? "write" : "remove",
		       s->path, diff);
	}
}

static int open_log(int rootfd, const char *name, int flags, struct lxgpu_err *err)
{
	int r = fs_mkdirs_in(rootfd, &HOST_LOG_DIR[1], 0755, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dir = fs_open_in(rootfd, HOST_LOG_DIR, O_RDONLY | O_DIRECTORY, 0, err);
	if (dir < 0)
		return dir;
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0600);
	if (fd < 0)
		return lxgpu_fail(err, errno, "%s/%s", HOST_LOG_DIR, name);
	return fd;
}

static int host_prepare_cmd(struct cli *cli, const struct host_state *st)
{
	struct lxgpu_err err = { 0 };
	struct host_plan plan;
	const char *what = cli->undo ? "host prepare --undo" : "host prepare";
	int r = cli->undo ? host_undo_plan(cli->rootfd, &plan, &err)
			  : host_prepare_plan(st, &plan, &err);
	if (r < 0) {
		host_plan_free(&plan);
		lxgpu_wrap(&err, "%s", what);
		return cli_fail(&err);
	}
	bool initramfs = false;
	for (size_t i = 0; i < plan.n; i++)
		initramfs |= plan.steps[i].kind == HOST_STEP_RUN &&
			     strcmp(plan.steps[i].argv[0], "update-initramfs") == 0;
	if (!cli->dry_run && plan.n > 0) {
		_cleanup_close_ int log = open_log(cli->rootfd, "host-prepare.log", O_APPEND, &err);
		if (log < 0 || host_plan_run(cli->rootfd, &plan, cli->undo, log, &err) < 0) {
			host_plan_free(&plan);
			lxgpu_wrap(&err, "%s", what);
			return cli_error(EXIT_FAILED,
					 "%s%s (log: " HOST_LOG_DIR "/host-prepare.log)", err.msg,
					 cli->undo || log < 0 ? ""
							      : ": the steps done were taken back");
		}
	}
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "changed", json_boolean(!cli->dry_run && plan.n > 0));
		json_object_set_new(doc, "steps", steps_json(cli->rootfd, &plan));
		json_object_set_new(doc, "reboot", json_boolean(initramfs && !cli->undo));
		json_object_set_new(doc, "message", json_str_or_null(plan.nothing));
		host_plan_free(&plan);
		return print_json(doc) < 0 ? EXIT_FAILED : EXIT_OK;
	}
	if (plan.nothing)
		printf("%s\n", plan.nothing);
	else if (!cli->quiet)
		print_steps(cli->rootfd, &plan, cli->dry_run ? "would" : "did");
	if (!cli->dry_run && plan.n > 0 && !cli->quiet) {
		if (initramfs && !cli->undo)
			printf("reboot to start without nouveau\n");
		if (!cli->undo)
			printf("recorded in " HOST_RECORD ": lxgpu host prepare --undo takes it "
			       "back\n");
	}
	host_plan_free(&plan);
	return EXIT_OK;
}

/* Containers with a copied (or installed) user-space driver: those with one
 * in their rootfs and no lxgpu mount hook binding the host's at each start. */
struct copied {
	char *id, *version;
	bool running;
};

static size_t copied_drivers(struct cli *cli, struct copied **out)
{
	struct ct_ids ids;
	size_t nids = ct_list(cli->rootfd, cli->lxcpath, &ids), n = 0;
	*out = xcalloc(nids + 1, sizeof(**out));
	for (size_t i = 0; i < nids; i++) {
		struct lxgpu_err err = { 0 };
		struct lxgpu_ct ct = { 0 };
		struct conf c = { 0 };
		_cleanup_free_ char *text = NULL;
		size_t len;
		bool bound = false;
		char buf[CT_ID_BUF];
		const char *id = ct_id(&ids, i, buf);
		if (ct_open(cli->rootfd, id, cli->lxcpath, &ct, &err) < 0)
			continue;
		if (ct_read(&ct, &text, &len, &err) == 0 &&
		    conf_parse(text, len, ct.format, &c, &err) == 0) {
			for (size_t k = 0; k < c.main_end; k++)
				bound |= c.lines[k].kind == CONF_KEY &&
					 strcmp(c.lines[k].key, "lxc.hook.mount") == 0 &&
					 strstr(c.lines[k].value, "lxgpu");
			_cleanup_close_ int root =
				bound ? -EBADF
				      : guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
							&ct, &c, &err);
			char *have = root >= 0 ? guest_driver_version(root, NULL) : NULL;
			if (have)
				(*out)[n++] =
					(struct copied){ .id = xstrdup(id),
							 .version = have,
							 .running = ct_running(cli->rootfd, &ct) };
			conf_free(&c);
		}
		ct_close(&ct);
	}
	ct_ids_free(&ids);
	return n;
}

static void copied_free(struct copied *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].id);
		free(c[i].version);
	}
	free(c);
}

/* NVIDIA's server of Linux drivers: latest.txt, an index page, a folder per release. */
static const char *nvidia_base(void)
{
	const char *base = getenv("LXGPU_NVIDIA_URL");
	return base && base[0] ? base : "https://download.nvidia.com/XFree86/Linux-x86_64";
}

/* NVIDIA's newest driver, from latest.txt. */
static int latest_version(char *out, size_t size, struct lxgpu_err *err)
{
	_cleanup_free_ char *url = xasprintf("%s/latest.txt", nvidia_base()), *text = NULL;
	if (download_text(url, 4096, &text, err) < 0)
		return lxgpu_wrap(err, "NVIDIA's newest driver is unknown; pass --version V");
	if (!host_parse_latest(text, out, size))
		return lxgpu_failx(err, EPROTO,
				   "%s does not start with a driver version; pass --version V",
				   url);
	return 0;
}

/* The driver to install when none is named. With a module loaded, the newest
 * of its branch: that branch runs this GPU, a later one may not (580 is the
 * last for Maxwell, Pascal and Volta). Without one, NVIDIA's newest. */
static int default_version(const struct host_state *st, char *out, size_t size, char *why,
			   size_t whysize, struct lxgpu_err *err)
{
	struct lxgpu_version loaded;
	if (!st->nvidia_version ||
	    !version_parse(st->nvidia_version, strlen(st->nvidia_version), &loaded)) {
		int r = latest_version(out, size, err);
		if (r == 0)
			snprintf(why, whysize,
				 "NVIDIA's newest (latest.txt); GPUs before Turing need --version "
				 "of branch 580 or older");
		return r;
	}
	unsigned branch = loaded.part[0];
	_cleanup_free_ char *url = xasprintf("%s/", nvidia_base()), *listing = NULL;
	if (download_text(url, 4u << 20, &listing, err) < 0)
		return lxgpu_wrap(err, "NVIDIA's %u drivers are unknown; pass --version V", branch);
	struct lxgpu_version newest;
	if (!host_newest_of_branch(listing, branch, out, size) ||
	    !version_parse(out, strlen(out), &newest) || version_cmp(&newest, &loaded) < 0) {
		/* the loaded release again, with DKMS this time */
		snprintf(out, size, "%s", st->nvidia_version);
		snprintf(why, whysize, "the loaded module's; %s lists no newer %u driver", url,
			 branch);
		return 0;
	}
	snprintf(why, whysize, "the newest of branch %u, the loaded module's", branch);
	return 0;
}

/* The host path of a file beneath --sysroot, for the commands lxgpu runs. */
static char *real_path(struct cli *cli, const char *path)
{
	if (strcmp(cli->sysroot, "/") == 0)
		return xstrdup(path);
	return xasprintf("%s%s%s", cli->sysroot, path[0] == '/' ? "" : "/", path);
}

static int install(struct cli *cli, const struct host_state *st, char *version, size_t vsize,
		   char *why, size_t whysize, char *logname, size_t lsize, struct lxgpu_err *err)
{
	char name[256];
	static char help[65536];

	if (!st->nvidia_gpu)
		return lxgpu_failx(err, ENODEV,
				   "no NVIDIA GPU on this host: nothing to install (AMD's and "
				   "Intel's drivers are in the kernel)");
	if (!st->headers)
		return lxgpu_failx(
			err, ENOENT,
			"no headers for the running kernel %s: DKMS cannot build the module; run "
			"lxgpu host prepare first",
			st->kernel[0] ? st->kernel : "(unknown)");
	struct copied *cts = NULL;
	size_t ncts = copied_drivers(cli, &cts);
	char busy[512] = "";
	for (size_t i = 0; i < ncts; i++)
		if (cts[i].running) {
			size_t l = strlen(busy);
			snprintf(busy + l, sizeof(busy) - l, "%s%s (%s)", l ? ", " : "", cts[i].id,
				 cts[i].version);
		}
	copied_free(cts, ncts);
	if (busy[0])
		return lxgpu_failx(err, EBUSY,
				   "containers with a copied driver are running: %s; stop them "
				   "first",
				   busy);
	if (cli->driver_version) {
		snprintf(version, vsize, "%s", cli->driver_version);
		snprintf(why, whysize, "--version");
	} else if (cli->installer) {
		snprintf(why, whysize, "the installer's name");
		const char *base = fs_basename(cli->installer);
		size_t bl = strlen(base);
		if (strncmp(base, "NVIDIA-Linux-x86_64-", 20) == 0 && bl > 24 &&
		    strcmp(base + bl - 4, ".run") == 0)
			snprintf(version, vsize, "%.*s", (int)(bl - 24), base + 20);
		if (!host_version_valid(version))
			return lxgpu_failx(err, EINVAL,
					   "--installer %s: no version in its name "
					   "(NVIDIA-Linux-x86_64-V.run); add --version V",
					   cli->installer);
	} else {
		int r = default_version(st, version, vsize, why, whysize, err);
		if (r < 0)
			return r;
	}
	snprintf(logname, lsize, "host-install-%s.log", version);
	if (cli->dry_run)
		return 0;

	_cleanup_close_ int src = driver_installer_fd(cli, version, name, sizeof(name), err);
	if (src < 0)
		return src;
	_cleanup_free_ char *path = real_path(cli, cli->installer ? cli->installer : CACHE_DIR "/");
	if (!cli->installer) {
		char *t = xasprintf("%s%s", path, name);
		free(path);
		path = t;
	}
	_cleanup_close_ int log = open_log(cli->rootfd, logname, O_TRUNC, err);
	if (log < 0)
		return log;
	_cleanup_free_ char *ilog = real_path(cli, HOST_LOG_DIR "/nvidia-installer-");
	char *t = xasprintf("--log-file-name=%s%s.log", ilog, version);
	free(ilog);
	ilog = t;

	/* the options it has, as driver --mode install asks (NVIDIA's installer, --advanced-options) */
	char *ask[] = { "sh", path, "--advanced-options", NULL };
	int r = host_run(ask, log, help, sizeof(help), err);
	if (r < 0)
		return r;
	if (!installer_lists(help, "--dkms") || !installer_lists(help, "--silent"))
		return lxgpu_failx(err, EINVAL,
				   "%s lists no --dkms or no --silent: not NVIDIA's installer? "
				   "(" HOST_LOG_DIR "/%s)",
				   name, logname);
	/* --dkms: rebuilt for every new kernel; --silent implies no questions on
	 * older installers, --no-questions and --ui=none say so on newer ones */
	char *cmd[10] = { "sh", path, "--silent", "--dkms" };
	size_t n = 4;
	if (installer_lists(help, "--no-questions"))
		cmd[n++] = "--no-questions";
	if (installer_lists(help, "--ui"))
		cmd[n++] = "--ui=none";
	if (installer_lists(help, "--log-file-name"))
		cmd[n++] = ilog;
	cmd[n] = NULL;
	if (!cli->quiet && !cli->json)
		printf("running %s --silent --dkms (log: " HOST_LOG_DIR "/%s)\n", name, logname);
	dprintf(log, "--- lxgpu: running the installer\n");
	r = host_run(cmd, log, NULL, 0, err);
	if (r < 0)
		return r;
	if (r != 0)
		return lxgpu_failx(err, EIO, "%s failed (exit %d): see " HOST_LOG_DIR "/%s", name,
				   r, logname);
	char dkms[160];
	struct stat sb;
	snprintf(dkms, sizeof(dkms), "var/lib/dkms/nvidia/%s", version);
	if (fs_lstat_in(cli->rootfd, dkms, &sb, err) < 0) {
		lxgpu_err_clear(err);
		return lxgpu_failx(err, EIO,
				   "%s ran, but DKMS has no nvidia %s (/%s): see " HOST_LOG_DIR
				   "/%s",
				   name, version, dkms, logname);
	}
	return 0;
}

static int host_install_cmd(struct cli *cli, const struct host_state *st)
{
	struct lxgpu_err err = { 0 };
	char version[64] = "", why[256] = "", logname[128] = "";
	if (install(cli, st, version, sizeof(version), why, sizeof(why), logname, sizeof(logname),
		    &err) < 0) {
		lxgpu_wrap(&err, "host install-driver");
		return cli_fail(&err);
	}
	/* containers whose copied driver will not match the new module */
	struct copied *cts = NULL;
	size_t ncts = copied_drivers(cli, &cts);
	json_t *sync = json_array();
	char list[512] = "";
	for (size_t i = 0; i < ncts; i++) {
		if (strcmp(cts[i].version, version) == 0)
			continue;
		json_array_append_new(sync, json_text(cts[i].id));
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, " %s", cts[i].id);
	}
	copied_free(cts, ncts);
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "changed", json_boolean(!cli->dry_run));
		json_object_set_new(doc, "version", json_text(version));
		json_object_set_new(doc, "version_from", json_text(why));
		json_object_set_new(doc, "log", json_text(logname[0] ? logname : ""));
		json_object_set_new(doc, "sync", sync);
		return print_json(doc) < 0 ? EXIT_FAILED : EXIT_OK;
	}
	json_decref(sync);
	if (cli->dry_run) {
		printf("would install NVIDIA's driver %s (%s) with DKMS, from %s\n", version, why,
		       cli->installer ? cli->installer
				      : "NVIDIA's download (cached in " CACHE_DIR ")");
		if (list[0])
			printf("then these containers need lxgpu sync after the reboot:%s\n", list);
		return EXIT_OK;
	}
	printf("installed NVIDIA's driver %s with DKMS: it is rebuilt for every new kernel\n",
	       version);
	if (!st->nvidia_version || strcmp(st->nvidia_version, version) != 0)
		printf("the running module is %s until the host reboots\n",
		       st->nvidia_version ? st->nvidia_version : "none");
	if (list[0])
		printf("after the reboot, run lxgpu sync for their copied driver:%s\n", list);
	return EXIT_OK;
}

int cmd_host(struct cli *cli)
{
	const char *sub = cli->args[0];
	bool status = strcmp(sub, "status") == 0, prepare = strcmp(sub, "prepare") == 0,
	     installd = strcmp(sub, "install-driver") == 0;
	if (!status && !prepare && !installd)
		return cli_error(EXIT_USAGE,
				 "host %s: unknown subcommand (status, prepare or install-driver)",
				 sub);
	if (cli->undo && !prepare)
		return cli_error(EXIT_USAGE, "host %s: --undo is for host prepare", sub);
	if ((cli->driver_version || cli->installer) && !installd)
		return cli_error(EXIT_USAGE, "host %s: --%s is for host install-driver", sub,
				 cli->driver_version ? "version" : "installer");
	if (cli->dry_run && status)
		return cli_error(EXIT_USAGE, "host status: --dry-run: status changes nothing");
	if (cli->driver_version && !host_version_valid(cli->driver_version))
		return cli_error(EXIT_USAGE, "--version %s: not a driver version (580.95.05)",
				 cli->driver_version);

	struct lxgpu_inventory inv;
	struct host_state st;
	lxgpu_inventory_scan(cli->rootfd, &inv);
	host_scan(cli->rootfd, &inv, &st);
	int r = status    ? host_status_cmd(cli, &inv, &st)
		: prepare ? host_prepare_cmd(cli, &st)
			  : host_install_cmd(cli, &st);
	host_free(&st);
	lxgpu_inventory_free(&inv);
	return r;
}
