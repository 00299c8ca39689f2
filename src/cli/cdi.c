/* `lxgpu cdi [CT]`: a CDI spec of the selected GPUs, on stdout, or written
 * into container CT as /etc/cdi/lxgpu-<vendor>.json, where podman,
 * containerd or Docker inside it find it (CDI's default spec directory). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/cdi.h"
#include "util/cleanup.h"
#include "cli/cli.h"
#include "config/idmap.h"
#include "cli/change.h"
#include "cli/output.h"
#include "inventory/driver_files.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "check/passthrough.h"
#include "util/xalloc.h"

#define CDI_DIR "etc/cdi"

/* What the container lacks for the spec to work: the nodes, the driver.
 * Warnings: the spec is right for the host either way, and attach or driver
 * may come after it. */
static void warn_missing(struct cli *cli, struct change *ch, int ctroot, bool nvidia)
{
	struct pt_config pt;
	char missing[512] = "";
	size_t used = 0;
	bool hook = false;

	pt_scan(&ch->conf, &ch->inv, &pt);
	for (size_t i = 0; i < ch->plan.nnodes; i++) {
		const struct lxgpu_node *n = ch->plan.nodes[i].node;
		bool passed = false;
		for (size_t k = 0; k < pt.n && !passed; k++)
			passed = (pt.entries[k].d->kind == DL_MOUNT ||
				  pt.entries[k].d->kind == DL_DEV) &&
				 pt_concerns(&pt.entries[k], n);
		if (!passed && used < sizeof(missing)) {
			int w = snprintf(missing + used, sizeof(missing) - used, "%s%s",
					 used ? ", " : "", n->path);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	hook = pt_mount_hook(&ch->conf, &pt) != NULL;
	pt_free(&pt);
	if (cli->quiet)
		return;
	if (missing[0])
		fprintf(stderr, "lxgpu: warning: %s %s does not pass %s: run lxgpu attach %s\n",
			ct_label(&ch->ct), ch->ct.id, missing, ch->ct.id);
	if (nvidia && !hook) {
		const char *host = lxgpu_nvidia_version(&ch->inv);
		_cleanup_free_ char *where = NULL;
		_cleanup_free_ char *have = guest_driver_version(ctroot, &where);
		if (!have || !host || strcmp(have, host) != 0)
			fprintf(stderr,
				"lxgpu: warning: %s %s has no NVIDIA driver %s that the spec can "
				"mount: run lxgpu driver %s --mode bind\n",
				ct_label(&ch->ct), ch->ct.id, host ? host : "", ch->ct.id);
	}
}

/* Writes the spec into the container (or prints the diff), as root of the
 * container owns it. */
static int write_into(struct cli *cli, struct change *ch, int ctroot, const char *name,
		      const char *text, json_t *doc)
{
	struct lxgpu_err err = { 0 };
	_cleanup_free_ char *rel = xasprintf(CDI_DIR "/%s", name);
	_cleanup_free_ char *shown = xasprintf("/%s", rel);
	_cleanup_free_ char *old = NULL;
	size_t oldlen = 0;

	if (fs_read_in(ctroot, rel, 1u << 20, &old, &oldlen, &err) < 0) {
		free(TAKE_PTR(old)); /* absent, or not a file: replaced, or refused below */
		lxgpu_err_clear(&err);
	}
	bool same = old && strcmp(old, text) == 0;
	if (!same && !cli->dry_run) {
		bool privileged = ct_privileged(&ch->conf);
		long uid = privileged ? -1 : ct_host_id(&ch->conf, 'u', 0);
		long gid = privileged ? -1 : ct_host_id(&ch->conf, 'g', 0);
		_cleanup_close_ int dir = guest_dir(ctroot, CDI_DIR, uid, gid, &err);
		if (dir < 0 || guest_write_file(dir, name, text, strlen(text), 0644, uid, gid,
						shown, &err) < 0) {
			json_decref(doc);
			lxgpu_wrap(&err, "cdi %s", ch->ct.id);
			return cli_fail(&err);
		}
	}
	_cleanup_free_ char *diff = same ? xstrdup("") : whole_file_diff(shown, old, text);
	if (cli->json) {
		json_t *out = json_object();
		json_object_set_new(out, "schema", json_integer(1));
		json_object_set_new(out, "changed", json_boolean(!same && !cli->dry_run));
		json_object_set_new(out, "path", json_string(shown));
		if (cli->dry_run)
			json_object_set_new(out, "diff", json_text(diff));
		json_object_set_new(out, "cdi", doc);
		return print_json(out);
	}
	json_decref(doc);
	if (same) {
		if (!cli->quiet)
			printf("%s %s: %s: no change\n", ct_label(&ch->ct), ch->ct.id, shown);
	} else if (cli->dry_run) {
		fputs(diff, stdout);
	} else if (!cli->quiet) {
		printf("%s %s: wrote %s\n", ct_label(&ch->ct), ch->ct.id, shown);
	}
	return EXIT_OK;
}

/* The spec of the selection: ch->plan, the driver files in *d, the document. */
static json_t *build(struct cli *cli, struct change *ch, int ctroot, struct driver_files *d,
		     enum lxgpu_vendor *vendor, struct lxgpu_err *err)
{
	/* the nodes attach passes; planned as for a privileged container, whose
	 * nodes need no hook: which nodes does not depend on it */
	struct plan_request req = { .selectors = cli->gpus,
				    .nselectors = cli->ngpus,
				    .style = LXGPU_STYLE_RAW,
				    .format = CONF_LXC,
				    .privileged = true,
				    .render_gid = -1,
				    .video_gid = -1 };
	if (plan_build(&ch->inv, &req, &ch->plan, err) < 0 ||
	    cdi_vendor(&ch->inv, &ch->plan, vendor, err) < 0)
		return NULL;
	if (*vendor == LXGPU_VENDOR_NVIDIA) {
		const char *version = lxgpu_nvidia_version(&ch->inv);
		if (!version) {
			lxgpu_failx(err, ENOENT, "no NVIDIA driver loaded on this host");
			return NULL;
		}
		/* the files the bind mode puts into the container */
		if (driver_files_find(cli->rootfd, version, d, err) < 0)
			return NULL;
	}
	struct cdi_request creq = { &ch->inv, &ch->plan, *vendor == LXGPU_VENDOR_NVIDIA ? d : NULL,
				    ctroot >= 0 ? guest_lib_dir(ctroot) : CDI_DEFAULT_LIB_DIR };
	return cdi_build(&creq, err);
}

int cmd_cdi(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	struct driver_files d = { 0 };
	bool into_ct = cli->nargs == 1;
	enum lxgpu_vendor vendor = LXGPU_VENDOR_OTHER;
	_cleanup_close_ int ctroot = -EBADF;
	int r;

	if (into_ct && (r = ct_arg(cli)) >= 0)
		return r;
	if (!into_ct && cli->dry_run)
		return cli_error(EXIT_USAGE,
				 "cdi: --dry-run goes with a container (without one, the spec goes "
				 "to stdout and nothing is written)");
	if (into_ct) {
		if (change_load(cli, &ch, false, &err) < 0 ||
		    (ctroot = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0, &ch.ct,
					      &ch.conf, &err)) < 0) {
			change_free(&ch);
			return cli_fail(&err);
		}
	} else {
		memset(&ch, 0, sizeof(ch));
		ch.lockfd = ch.ct.dirfd = -EBADF;
		lxgpu_inventory_scan(cli->rootfd, &ch.inv);
		ch.have_inv = true;
	}
	json_t *doc = build(cli, &ch, ctroot, &d, &vendor, &err);
	if (!doc) {
		lxgpu_wrap(&err, "cdi%s%s", into_ct ? " " : "", into_ct ? ch.ct.id : "");
		driver_files_free(&d);
		change_free(&ch);
		return cli_fail(&err);
	}
	_cleanup_free_ char *dump = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	_cleanup_free_ char *text = xasprintf("%s\n", dump ? dump : "");
	if (into_ct) {
		warn_missing(cli, &ch, ctroot, vendor == LXGPU_VENDOR_NVIDIA);
		_cleanup_free_ char *name = xasprintf("lxgpu-%s.json", lxgpu_vendor_name(vendor));
		r = write_into(cli, &ch, ctroot, name, text, doc);
	} else {
		/* the spec is JSON already: --json changes nothing */
		json_decref(doc);
		r = fputs(text, stdout) < 0 || fflush(stdout) != 0
			    ? cli_error(EXIT_FAILED, "cdi: stdout: cannot write")
			    : EXIT_OK;
	}
	driver_files_free(&d);
	change_free(&ch);
	return r;
}
