/* cdi_spec: the CDI spec of a container's GPUs, for `lxgpu cdi` and `driver
 * --docker` (podman inside the container reads it): built from the
 * selection, or the container's record; written into the container as
 * /etc/cdi/lxgpu-<vendor>.json (CDI's default spec directory), owned by its
 * root. */
#include "cli/cdi_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "config/idmap.h"
#include "config/record.h"
#include "cli/output.h"
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

/* Writes text into the container as CDI_DIR/name (not with --dry-run), as
 * the container's root owns it; w->path and w->diff say what. */
static int write_into(struct cli *cli, struct change *ch, int ctroot, const char *name,
		      const char *text, struct cdi_written *w, struct lxgpu_err *err)
{
	_cleanup_free_ char *rel = xasprintf(CDI_DIR "/%s", name);
	_cleanup_free_ char *old = NULL;
	size_t oldlen = 0;

	w->path = xasprintf("/%s", rel);
	if (fs_read_in(ctroot, rel, 1u << 20, &old, &oldlen, err) < 0) {
		free(TAKE_PTR(old)); /* absent, or not a file: replaced, or refused below */
		lxgpu_err_clear(err);
	}
	w->same = old && strcmp(old, text) == 0;
	w->diff = w->same ? xstrdup("") : whole_file_diff(w->path, old, text);
	if (w->same || cli->dry_run)
		return 0;
	bool privileged = ct_privileged(&ch->conf);
	long uid = privileged ? -1 : ct_host_id(&ch->conf, 'u', 0);
	long gid = privileged ? -1 : ct_host_id(&ch->conf, 'g', 0);
	_cleanup_close_ int dir = guest_dir(ctroot, CDI_DIR, uid, gid, err);
	if (dir < 0 ||
	    guest_write_file(dir, name, text, strlen(text), 0644, uid, gid, w->path, err) < 0)
		return -1;
	return 0;
}

json_t *cdi_spec_build(struct cli *cli, struct change *ch, int ctroot, struct driver_files *d,
		       enum lxgpu_vendor *vendor, struct lxgpu_err *err)
{
	/* without --gpu, a container's GPUs are those its record selects */
	struct lxgpu_record rec = { 0 };
	bool recorded = cli->ngpus == 0 && ctroot >= 0 && change_record(ch, &rec, err) == 0 &&
			rec.ndevices > 0;
	lxgpu_err_clear(err);
	/* the nodes attach passes; planned as for a privileged container, whose
	 * nodes need no hook: which nodes does not depend on it */
	struct plan_request req = { .selectors =
					    recorded ? (const char *const *)rec.devices : cli->gpus,
				    .nselectors = recorded ? rec.ndevices : cli->ngpus,
				    .style = LXGPU_STYLE_RAW,
				    .format = CONF_LXC,
				    .privileged = true,
				    .render_gid = -1,
				    .video_gid = -1 };
	int r = plan_build(&ch->inv, &req, &ch->plan, err);
	record_free(&rec);
	if (r < 0 || cdi_vendor(&ch->inv, &ch->plan, vendor, err) < 0)
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
				    ctroot >= 0 ? guest_lib_dir(ctroot) : CDI_DEFAULT_LIB_DIR,
				    cli->cdi_version };
	return cdi_build(&creq, err);
}

int cdi_spec_write(struct cli *cli, struct change *ch, int ctroot, struct cdi_written *w,
		   struct lxgpu_err *err)
{
	struct driver_files d = { 0 };
	enum lxgpu_vendor vendor = LXGPU_VENDOR_OTHER;

	memset(w, 0, sizeof(*w));
	w->doc = cdi_spec_build(cli, ch, ctroot, &d, &vendor, err);
	driver_files_free(&d);
	if (!w->doc)
		return -1;
	_cleanup_free_ char *text = cdi_spec_text(w->doc);
	warn_missing(cli, ch, ctroot, vendor == LXGPU_VENDOR_NVIDIA);
	_cleanup_free_ char *name = xasprintf("lxgpu-%s.json", lxgpu_vendor_name(vendor));
	return write_into(cli, ch, ctroot, name, text, w, err);
}

void cdi_written_json(const struct cli *cli, struct cdi_written *w, json_t *out)
{
	json_object_set_new(out, "changed", json_boolean(!w->same && !cli->dry_run));
	json_object_set_new(out, "path", json_string(w->path));
	if (cli->dry_run)
		json_object_set_new(out, "diff", json_text(w->diff));
	json_object_set_new(out, "cdi", TAKE_PTR(w->doc));
}

void cdi_written_print(const struct cli *cli, const struct change *ch, const struct cdi_written *w)
{
	if (cli->dry_run)
		fputs(w->diff, stdout);
	else if (!cli->quiet && w->same)
		printf("%s %s: %s: no change\n", ct_label(&ch->ct), ch->ct.id, w->path);
	else if (!cli->quiet)
		printf("%s %s: wrote %s\n", ct_label(&ch->ct), ch->ct.id, w->path);
}

void cdi_written_free(struct cdi_written *w)
{
	json_decref(w->doc);
	free(w->path);
	free(w->diff);
}

char *cdi_spec_text(const json_t *doc)
{
	_cleanup_free_ char *dump = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	return xasprintf("%s\n", dump ? dump : "");
}
