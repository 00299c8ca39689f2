/* installer: NVIDIA's .run (installer.h). `lxgpu driver CT --mode install` is
 * the guide's way: the installer of exactly the host module's version,
 * downloaded into a cache (or given with --installer), pushed into the
 * running container and run there without its kernel module, silently; its
 * log is kept on the host. host install-driver gets its installer here too. */
#include "cli/installer.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply/apply.h"
#include "util/cleanup.h"
#include "cli/cli.h"
#include "config/idmap.h"
#include "cli/change.h"
#include "cli/inside.h"
#include "cli/output.h"
#include "cli/progress_bar.h"
#include "host/download.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "util/xalloc.h"

extern char **environ;

#define CACHE_DIR  "var/cache/lxgpu"
#define LOG_DIR    "var/log/lxgpu"
#define NVIDIA_URL "https://download.nvidia.com/XFree86/Linux-x86_64"

/* mkdir -p beneath the host root; returns the directory's fd. */
static int host_dir(int rootfd, const char *path, struct lxgpu_err *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	for (char *p = copy;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		char *slash = strrchr(copy, '/');
		_cleanup_close_ int parent =
			slash ? (*slash = '\0',
				 fs_open_in(rootfd, copy, O_PATH | O_DIRECTORY, 0, err))
			      : fs_open_in(rootfd, "/", O_PATH | O_DIRECTORY, 0, err);
		if (slash)
			*slash = '/';
		if (parent < 0)
			return parent;
		if (mkdirat(parent, slash ? slash + 1 : copy, 0755) < 0 && errno != EEXIST)
			return lxgpu_fail(err, errno, "mkdir /%s", copy);
		*p = saved;
		if (saved == '\0')
			break;
	}
	return fs_open_in(rootfd, path, O_RDONLY | O_DIRECTORY, 0, err);
}

/* The installer of `version`: --installer, or NVIDIA's file in the cache
 * (downloaded when missing). Returns an O_PATH fd of it. */
int driver_installer_fd(struct cli *cli, const char *version, char *name, size_t size,
			struct lxgpu_err *err)
{
	snprintf(name, size, "NVIDIA-Linux-x86_64-%s.run", version);
	if (cli->installer) {
		const char *base = fs_basename(cli->installer);
		/* a .run of another version would install a mismatching driver */
		if (strncmp(base, "NVIDIA-Linux-", 13) == 0 && !strstr(base, version))
			return lxgpu_failx(
				err, EINVAL,
				"--installer %s is not driver %s, the host module's version",
				cli->installer, version);
		snprintf(name, size, "%s", base);
		return fs_open_in(cli->rootfd, cli->installer, O_PATH, 0, err);
	}
	const char *base = getenv("LXGPU_NVIDIA_URL");
	if (!base || !base[0])
		base = NVIDIA_URL;
	_cleanup_free_ char *url = xasprintf("%s/%s/%s", base, version, name);
	_cleanup_free_ char *sums = xasprintf("%s.sha256sum", url);
	_cleanup_close_ int cache = host_dir(cli->rootfd, CACHE_DIR, err);
	if (cache < 0)
		return cache;
	struct cli_bar bar;
	struct download_request req = { .url = url,
					.sha256_url = sums,
					.dirfd = cache,
					.name = name,
					.progress = cli_bar_start(&bar, cli, name, 0) };
	int r = download_file(&req, err);
	cli_bar_end(&bar);
	if (r < 0)
		return r;
	int fd = openat(cache, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lxgpu_fail(err, errno, "/%s/%s", CACHE_DIR, name);
	return fd;
}

/* Whether the installer's option list has exactly this option. */
bool installer_lists(const char *help, const char *opt)
{
	size_t n = strlen(opt);
	for (const char *p = strstr(help, opt); p; p = strstr(p + 1, opt)) {
		char after = p[n];
		if ((p == help || p[-1] == ' ' || p[-1] == '\n' || p[-1] == ',') &&
		    (after == '\0' || after == ' ' || after == '\n' || after == '=' ||
		     after == ','))
			return true;
	}
	return false;
}

static int install(struct cli *cli, struct change *ch, struct lxgpu_err *err)
{
	const char *version = lxgpu_nvidia_version(&ch->inv);
	char name[256], pushed[320], help[65536], out[512];
	long uid = -1, gid = -1;
	int r;

	if (!version)
		return lxgpu_failx(err, ENODEV, "no NVIDIA driver on this host: nothing to match");
	if (cli->dry_run) {
		printf("would run NVIDIA's installer %s in %s %s (without its kernel module)\n",
		       cli->installer ? cli->installer : "NVIDIA-Linux-x86_64-VERSION.run",
		       ct_label(&ch->ct), ch->ct.id);
		return 0;
	}
	_cleanup_close_ int src = driver_installer_fd(cli, version, name, sizeof(name), err);
	if (src < 0)
		return src;
	if (!ch->running)
		return lxgpu_failx(
			err, EAGAIN,
			"%s %s is stopped: the installer runs inside it; start it and run "
			"this again%s",
			ct_label(&ch->ct), ch->ct.id,
			cli->installer ? "" : " (the installer is cached)");
	_cleanup_close_ int ctroot = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						     &ch->ct, &ch->conf, err);
	if (ctroot < 0)
		return ctroot;
	if (!ct_privileged(&ch->conf)) {
		uid = ct_host_id(&ch->conf, 'u', 0);
		gid = ct_host_id(&ch->conf, 'g', 0);
	}
	_cleanup_close_ int tmp = guest_dir(ctroot, "tmp", -1, -1, err);
	if (tmp < 0)
		return tmp;
	snprintf(pushed, sizeof(pushed), "lxgpu-%s", name);
	struct cli_bar bar;
	char label[384];
	snprintf(label, sizeof(label), "copying %s into %s", name, ch->ct.id);
	struct stat st;
	struct progress *p =
		cli_bar_start(&bar, cli, label, fstat(src, &st) == 0 ? (long long)st.st_size : 0);
	r = guest_copy_file(src, tmp, pushed, uid, gid, pushed, p, err);
	cli_bar_end(&bar);
	if (r < 0)
		return r;
	_cleanup_close_ int logs = host_dir(cli->rootfd, LOG_DIR, err);
	if (logs < 0)
		return logs;
	_cleanup_free_ char *logname = xasprintf("install-%s-%s.log", ch->ct.id, version);
	_cleanup_close_ int logfd =
		openat(logs, logname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	_cleanup_free_ char *path = xasprintf("/tmp/%s", pushed);

	/* ask the installer how it spells its options: the guide writes
	 * --no-kernel-modules, NVIDIA documents --no-kernel-module (its
	 * --advanced-options) */
	char *ask[] = { "sh", path, "--advanced-options", NULL };
	ct_exec_inside(&ch->ct, ask, logfd, help, sizeof(help));
	const char *nokmod = installer_lists(help, "--no-kernel-module")    ? "--no-kernel-module"
			     : installer_lists(help, "--no-kernel-modules") ? "--no-kernel-modules"
									    : NULL;
	if (!nokmod || !installer_lists(help, "--silent")) {
		unlinkat(tmp, pushed, 0);
		return lxgpu_failx(
			err, EINVAL,
			"%s lists neither --no-kernel-module nor --no-kernel-modules (or no "
			"--silent): not NVIDIA's installer? (/%s/%s)",
			name, LOG_DIR, logname);
	}
	char *cmd[12] = { "sh", path, "--silent", (char *)nokmod };
	size_t n = 4;
	static const char *const optional[] = { "--no-nouveau-check", "--no-systemd",
						"--no-install-compat32-libs" };
	for (size_t i = 0; i < ARRAY_SIZE(optional); i++)
		if (installer_lists(help, optional[i]))
			cmd[n++] = (char *)optional[i];
	cmd[n] = NULL;
	if (!cli->quiet && !cli->json)
		printf("running %s in %s %s (log: /%s/%s)\n", name, ct_label(&ch->ct), ch->ct.id,
		       LOG_DIR, logname);
	r = ct_exec_inside(&ch->ct, cmd, logfd, out, sizeof(out));
	unlinkat(tmp, pushed, 0);
	/* the installer's own log, kept beside ours */
	_cleanup_close_ int ilog =
		fs_open_in(ctroot, "var/log/nvidia-installer.log", O_RDONLY | O_NONBLOCK, 0, err);
	lxgpu_err_clear(err);
	if (ilog >= 0 && logfd >= 0) {
		char buf[8192];
		ssize_t k;
		dprintf(logfd, "\n--- /var/log/nvidia-installer.log in the container ---\n");
		while ((k = read(ilog, buf, sizeof(buf))) > 0)
			if (write(logfd, buf, (size_t)k) != k)
				break;
	}
	if (r != 0)
		return lxgpu_failx(err, EIO, "%s failed in %s %s (exit %d): see /%s/%s", name,
				   ct_label(&ch->ct), ch->ct.id, r, LOG_DIR, logname);
	_cleanup_free_ char *have = guest_driver_version(ctroot, NULL);
	if (!have || strcmp(have, version) != 0)
		return lxgpu_failx(err, EIO,
				   "%s ran, but the container's driver is %s, not %s: see /%s/%s",
				   name, have ? have : "missing", version, LOG_DIR, logname);
	return 0;
}

int driver_install(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	int r;

	/* an installed driver replaces a bound one: lxgpu's mount hook goes */
	if ((r = change_load(cli, &ch, !cli->dry_run, &err)) < 0 ||
	    (r = install(cli, &ch, &err)) < 0 ||
	    (r = edit_driver(&ch.conf, NULL, REC_DRIVER_INSTALL, &ch.edit, &ch.report, &err)) < 0) {
		change_free(&ch);
		lxgpu_wrap(&err, "driver %s", cli->args[0]);
		return cli_fail(&err);
	}
	r = change_finish(cli, &ch, "installed the driver in", false);
	change_free(&ch);
	return r;
}
