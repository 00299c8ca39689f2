/* `lxgpu cdi [CT]`: a CDI spec of the selected GPUs, on stdout, or written
 * into container CT as /etc/cdi/lxgpu-<vendor>.json, where podman,
 * containerd or Docker inside it find it (CDI's default spec directory). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "cli/cdi_spec.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/output.h"
#include "guest/guest.h"

static int write_spec(struct cli *cli, struct change *ch, int ctroot)
{
	struct lxgpu_err err = { 0 };
	struct cdi_written w;
	int r = EXIT_OK;
	if (cdi_spec_write(cli, ch, ctroot, &w, &err) < 0) {
		lxgpu_wrap(&err, "cdi %s", ch->ct.id);
		r = cli_fail(&err);
	} else if (cli->json) {
		json_t *out = json_object();
		json_object_set_new(out, "schema", json_integer(1));
		cdi_written_json(cli, &w, out);
		r = print_json(out);
	} else {
		cdi_written_print(cli, ch, &w);
	}
	cdi_written_free(&w);
	return r;
}

int cmd_cdi(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	bool into_ct = cli->nargs == 1;
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
					      &ch.conf, &err)) < 0)
			r = cli_fail(&err);
		else
			r = write_spec(cli, &ch, ctroot);
		change_free(&ch);
		return r;
	}
	memset(&ch, 0, sizeof(ch));
	ch.lockfd = ch.ct.dirfd = -EBADF;
	lxgpu_inventory_scan(cli->rootfd, &ch.inv);
	ch.have_inv = true;
	struct driver_files d = { 0 };
	enum lxgpu_vendor vendor = LXGPU_VENDOR_OTHER;
	json_t *doc = cdi_spec_build(cli, &ch, -EBADF, &d, &vendor, &err);
	driver_files_free(&d);
	if (!doc) {
		change_free(&ch);
		return lxgpu_wrap(&err, "cdi"), cli_fail(&err);
	}
	/* the spec is JSON already: --json changes nothing */
	_cleanup_free_ char *text = cdi_spec_text(doc);
	json_decref(doc);
	change_free(&ch);
	return fputs(text, stdout) < 0 || fflush(stdout) != 0
		       ? cli_error(EXIT_FAILED, "cdi: stdout: cannot write")
		       : EXIT_OK;
}
