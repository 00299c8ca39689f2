/* `lxgpu driver`: the container's user-space driver is the host kernel
 * module's exact version, and stays so (at every start: `lxgpu hook`,
 * cli/hook.c). */
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

#include "apply/apply.h"
#include "util/cleanup.h"
#include "cli/cdi_spec.h"
#include "cli/cli.h"
#include "config/idmap.h"
#include "cli/change.h"
#include "cli/checks.h"
#include "cli/inside.h"
#include "cli/installer.h"
#include "cli/output.h"
#include "cli/progress_bar.h"
#include "inventory/driver_files.h"
#include "config/edit.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "guest/inject.h"
#include "check/passthrough.h"
#include "util/xalloc.h"

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
	if (edit_driver(&ch->conf, hook, REC_DRIVER_BIND, &ch->edit, &ch->report, &err) < 0) {
		lxgpu_wrap(&err, "driver %s", ch->ct.id);
		return cli_fail(&err);
	}
	/* the hook runs as an unprivileged container's root: what it may not
	 * create, the host's root makes now (sync again after a driver update) */
	size_t blocked = 0;
	char first[256] = "";
	_cleanup_close_ int ctroot = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						     &ch->ct, &ch->conf, &err);
	lxgpu_err_clear(&err); /* a root not reachable now: the hook's own look at start */
	if (ctroot >= 0 && ct_bind_targets(cli, ctroot, &ch->conf, version, !cli->dry_run, &blocked,
					   first, sizeof(first), &err) < 0) {
		lxgpu_wrap(&err, "driver %s: the mount targets its root may not create", ch->ct.id);
		return cli_fail(&err);
	}
	int r = change_finish(cli, ch, "set the driver of", false);
	if (r == EXIT_OK && blocked > 0 && !cli->quiet && !cli->json)
		ct_bind_targets_line(&ch->ct, &ch->conf, blocked, first,
				     cli->dry_run ? "would make them as the host's root"
						  : "made them as the host's root");
	return r;
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
	if (edit_driver(&ch->conf, NULL, REC_DRIVER_COPY, &ch->edit, &ch->report, &err) < 0) {
		driver_files_free(&d);
		lxgpu_wrap(&err, "driver %s", ch->ct.id);
		return cli_fail(&err);
	}
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
	struct cli_bar bar;
	char label[128];
	snprintf(label, sizeof(label), "copying driver %s", version);
	struct progress *p = cli_bar_start(&bar, cli, label, 0);
	r = inject_driver(cli->rootfd, ctroot, &d, INJECT_COPY, uid, gid, p, &res, &err);
	cli_bar_end(&bar);
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

/* config.toml of nvidia-container-toolkit with no-cgroups = true in
 * [nvidia-container-cli] (NVIDIA Container Toolkit, config.toml): the key's
 * line set, or added to its section, or the section added. */
static char *toolkit_no_cgroups(const char *text, size_t len, size_t *outlen)
{
	size_t cap = len + 64, n = 0;
	char *out = xmalloc(cap);
	bool in_cli = false, done = false;
	for (const char *p = text; *p;) {
		size_t l = strcspn(p, "\n");
		const char *s = p + strspn(p, " \t");
		bool header = *s == '[';
		if (header && in_cli && !done) {
			n += (size_t)snprintf(out + n, cap - n, "no-cgroups = true\n");
			done = true;
		}
		if (header)
			in_cli = strncmp(s, "[nvidia-container-cli]", 22) == 0;
		const char *k = s + (*s == '#' ? 1 : 0);
		k += strspn(k, " \t");
		if (in_cli && !done && strncmp(k, "no-cgroups", 10) == 0 && strchr(" \t=", k[10])) {
			n += (size_t)snprintf(out + n, cap - n, "no-cgroups = true\n");
			done = true;
		} else {
			memcpy(out + n, p, l);
			n += l;
			out[n++] = '\n';
		}
		p += l + (p[l] == '\n');
	}
	if (!done)
		n += (size_t)snprintf(out + n, cap - n,
				      in_cli ? "no-cgroups = true\n"
					     : "\n[nvidia-container-cli]\nno-cgroups = true\n");
	*outlen = n;
	return out;
}

#define TOOLKIT_DIR  "etc/nvidia-container-runtime"
#define TOOLKIT_FILE "config.toml"

/* Docker through nvidia-container-toolkit must leave the device cgroup to
 * LXC: no-cgroups = true. *changed: whether it was (or would be) set now. */
static int docker_toolkit(struct cli *cli, struct change *ch, int dirfd, const char *text,
			  size_t len, bool *changed, struct lxgpu_err *err)
{
	size_t n;
	_cleanup_free_ char *out = toolkit_no_cgroups(text, len, &n);
	bool same = n == len && memcmp(out, text, n) == 0;
	*changed = !same;
	if (!cli->quiet && !cli->json)
		printf("%s %s: /" TOOLKIT_DIR "/" TOOLKIT_FILE " %s\n", ct_label(&ch->ct),
		       ch->ct.id,
		       same           ? "has no-cgroups = true already"
		       : cli->dry_run ? "would get no-cgroups = true"
				      : "now has no-cgroups = true (LXC owns the device cgroup)");
	if (same || cli->dry_run)
		return 0;
	struct stat st;
	long uid = -1, gid = -1;
	if (fstatat(dirfd, TOOLKIT_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		uid = st.st_uid;
		gid = st.st_gid;
	}
	return guest_write_file(dirfd, TOOLKIT_FILE, out, n, 0644, uid, gid,
				"/" TOOLKIT_DIR "/" TOOLKIT_FILE, err);
}

/* `driver CT --docker`: the route to the GPU that the container runtimes in
 * the container take. Docker: nvidia-container-toolkit's no-cgroups; podman:
 * lxgpu's CDI spec in /etc/cdi (`podman run --device nvidia.com/gpu=all`). */
static int driver_docker(struct cli *cli, struct change *ch)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	_cleanup_close_ int root = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						   &ch->ct, &ch->conf, &err);
	if (root < 0)
		return lxgpu_wrap(&err, "driver %s --docker", ch->ct.id), cli_fail(&err);
	_cleanup_close_ int dirfd = fs_open_in(root, TOOLKIT_DIR, O_PATH | O_DIRECTORY, 0, &err);
	bool toolkit =
		dirfd >= 0 && fs_read_child(dirfd, TOOLKIT_FILE, 1u << 20, &text, &len, &err) == 0;
	lxgpu_err_clear(&err);
	bool podman = fs_has_program(root, "podman");
	if (!toolkit && !podman)
		return cli_error(
			EXIT_FAILED,
			"driver %s --docker: neither nvidia-container-toolkit (/" TOOLKIT_DIR
			"/" TOOLKIT_FILE ") nor podman is installed in it: install one "
			"there first",
			ch->ct.id);
	bool changed = false;
	struct cdi_written w = { 0 };
	if ((toolkit && docker_toolkit(cli, ch, dirfd, text, len, &changed, &err) < 0) ||
	    (podman && cdi_spec_write(cli, ch, root, &w, &err) < 0)) {
		cdi_written_free(&w);
		return lxgpu_wrap(&err, "driver %s --docker", ch->ct.id), cli_fail(&err);
	}
	int r = EXIT_OK;
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(
			doc, "changed",
			json_boolean(!cli->dry_run && (changed || (podman && !w.same))));
		json_object_set_new(doc, "no_cgroups",
				    toolkit ? json_boolean(!changed || !cli->dry_run)
					    : json_null());
		json_t *spec = json_null();
		if (podman) {
			spec = json_object();
			cdi_written_json(cli, &w, spec);
		}
		json_object_set_new(doc, "cdi", spec);
		r = print_json(doc);
	} else if (podman) {
		cdi_written_print(cli, ch, &w);
	}
	cdi_written_free(&w);
	return r;
}

int cmd_driver(struct cli *cli)
{
	struct change ch;
	int r = ct_arg(cli);
	if (r >= 0)
		return r;
	if (cli->mode == DRIVER_MODE_INSTALL)
		return driver_install(cli);
	if ((r = change_open(cli, &ch, !cli->dry_run)) >= 0)
		return r;
	r = cli->docker                     ? driver_docker(cli, &ch)
	    : cli->mode == DRIVER_MODE_COPY ? driver_copy(cli, &ch)
					    : driver_bind(cli, &ch);
	change_free(&ch);
	return r;
}
