/* checks: check's checks of one container (checks.h), from its config lines
 * to the driver inside and a call into it; check, doctor and the status view
 * use them. */
#include "cli/checks.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "cli/cli.h"
#include "config/idmap.h"
#include "cli/change.h"
#include "cli/inside.h"
#include "cli/output.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "guest/inject.h"
#include "inventory/driver_files.h"
#include "check/passthrough.h"
#include "util/xalloc.h"

static bool has_nvidia_lines(const struct pt_config *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		if ((pt->entries[i].d->kind == DL_MOUNT || pt->entries[i].d->kind == DL_DEV) &&
		    strncmp(pt->entries[i].d->path, "/dev/nvidia", 11) == 0)
			return true;
	return false;
}

/* The hook line's program, which must exist on this host. */
static const struct conf_line *mount_hook(const struct conf *c, const struct pt_config *pt)
{
	const struct dl_entry *hook = pt_mount_hook(c, pt);
	return hook ? &c->lines[hook->line] : NULL;
}

static void note(struct ct_driver *d, int status, const char *id, const char *fix, const char *fmt,
		 ...) __attribute__((format(printf, 5, 6)));
static void note(struct ct_driver *d, int status, const char *id, const char *fix, const char *fmt,
		 ...)
{
	struct ct_driver_note *n = &d->notes[d->nnotes++];
	va_list ap;
	n->status = status;
	n->id = id;
	snprintf(n->fix, sizeof(n->fix), "%s", fix ? fix : "");
	va_start(ap, fmt);
	vsnprintf(n->msg, sizeof(n->msg), fmt, ap);
	va_end(ap);
	if (status > d->worst)
		d->worst = status;
}

/* " and N more" after the first of n */
struct more {
	char text[48];
};
static struct more more(size_t n)
{
	struct more m = { "" };
	if (n > 1)
		snprintf(m.text, sizeof(m.text), " and %zu more", n - 1);
	return m;
}

static const char *blocked_fix(const char *id, char *fix, size_t size)
{
	snprintf(fix, size,
		 "lxgpu sync %s (makes them as the host's root), or lxgpu driver %s --mode copy",
		 id, id);
	return fix;
}

int ct_bind_targets(struct cli *cli, int ctroot, const struct conf *conf, const char *version,
		    bool make, size_t *blocked, char *first, size_t size, struct lxgpu_err *err)
{
	struct driver_files d;
	struct inject_result res;
	long uid = ct_host_id(conf, 'u', 0), gid = ct_host_id(conf, 'g', 0);

	*blocked = 0;
	first[0] = '\0';
	/* two looks at directories before the host's ld.so.cache is read */
	if (ct_privileged(conf) || !version || inject_may_dirs(ctroot, inject_may_ct_root, conf))
		return 0;
	if (driver_files_find(cli->rootfd, version, &d, err) < 0) {
		lxgpu_err_clear(err); /* the hook and check say it where it matters */
		return 0;
	}
	*blocked = inject_blocked(ctroot, &d, inject_may_ct_root, conf, first, size);
	int r = 0;
	if (*blocked > 0 && make)
		r = inject_driver(cli->rootfd, ctroot, &d, INJECT_TARGETS, uid, gid, NULL, &res,
				  err);
	driver_files_free(&d);
	return r;
}

void ct_bind_targets_line(const struct lxgpu_ct *ct, const struct conf *conf, size_t blocked,
			  const char *first, const char *done)
{
	printf("%s %s: its root (host uid %ld) may not create the driver's mount targets (%s%s): "
	       "%s\n",
	       ct_label(ct), ct->id, ct_host_id(conf, 'u', 0), first, more(blocked).text, done);
}

bool ct_driver_look(struct cli *cli, const struct lxgpu_ct *ct, const struct conf *conf,
		    const struct pt_config *pt, const struct lxgpu_inventory *inv, bool running,
		    struct ct_driver *d)
{
	struct lxgpu_err err = { 0 };
	const char *host = lxgpu_nvidia_version(inv);
	char fix[256];
	bool real_host = strcmp(cli->sysroot, "/") == 0;
	const struct conf_line *hook = mount_hook(conf, pt);

	memset(d, 0, sizeof(*d));
	if (!has_nvidia_lines(pt))
		return false;
	d->mode = hook ? CT_DRIVER_BIND : CT_DRIVER_NONE;
	snprintf(fix, sizeof(fix), "lxgpu driver %s --mode bind", ct->id);
	if (!host) {
		note(d, PT_BAD, "host-driver", "lxgpu discover",
		     "the host has no NVIDIA driver loaded");
		return true;
	}
	_cleanup_close_ int ctroot = guest_open_root(cli->rootfd, real_host, ct, conf, &err);
	size_t blocked = 0;
	char first[256] = "";
	if (hook && ctroot >= 0)
		ct_bind_targets(cli, ctroot, conf, host, false, &blocked, first, sizeof(first),
				&err);
	if (hook) {
		char prog[PATH_MAX];
		struct stat st;
		sscanf(hook->value, "%4095s", prog);
		/* a hook written for a fake host (--sysroot in its command) runs the real program */
		bool exists = fs_lstat_in(cli->rootfd, prog, &st, &err) == 0 ||
			      (strstr(hook->value, " --sysroot ") && lstat(prog, &st) == 0);
		if (!exists)
			note(d, PT_BAD, "hook-missing", fix,
			     "the driver hook runs %s, which does not exist on this host: the "
			     "container cannot start",
			     prog);
		else if (blocked > 0)
			note(d, PT_BAD, "driver-targets", blocked_fix(ct->id, fix, sizeof(fix)),
			     "the driver hook cannot bind: the container's root (host uid %ld) may "
			     "not create %s%s to bind onto, it starts without the driver",
			     ct_host_id(conf, 'u', 0), first, more(blocked).text);
		else
			note(d, PT_OK, "driver-bind", NULL,
			     "driver bound at every start: the host's %s (lxc.hook.mount)", host);
	}
	if (ctroot < 0) {
		if (!hook)
			note(d, PT_WARN, "driver-unknown", NULL, "%s", err.msg);
		return true;
	}
	_cleanup_free_ char *where = NULL;
	_cleanup_free_ char *have = guest_driver_version(ctroot, &where);
	if (hook && !running) {
		/* the files in its root are last start's placeholders: the next
		 * start binds the host's */
		d->version = xstrdup(host);
		d->matches = true;
		return true;
	}
	struct stat st;
	lxgpu_err_clear(&err);
	/* NVIDIA's installer leaves its log there (driver --mode install reads it) */
	if (!hook && have)
		d->mode = fs_lstat_in(ctroot, "var/log/nvidia-installer.log", &st, &err) == 0
				  ? CT_DRIVER_INSTALL
				  : CT_DRIVER_COPY;
	d->version = have ? xstrdup(have) : NULL;
	d->matches = have && strcmp(have, host) == 0;
	if (!have) {
		note(d, PT_BAD, "driver-missing", fix,
		     "no NVIDIA user-space driver in the container (no libnvidia-ml)");
	} else if (!d->matches) {
		char copyfix[512];
		if (hook)
			snprintf(
				copyfix, sizeof(copyfix),
				"restart the container: the hook binds the host's driver at start");
		else
			snprintf(copyfix, sizeof(copyfix),
				 "lxgpu driver %s --mode bind (or --mode copy again)", ct->id);
		note(d, PT_BAD, "driver-mismatch", copyfix,
		     "the container's driver is %s (%s) but the host's module is %s: NVML says "
		     "\"Driver/library version mismatch\"",
		     have, where, host);
	} else if (!hook) {
		note(d, PT_OK, "driver-version", NULL,
		     "the container's driver is %s (%s), as the host's", have, where);
	} else {
		note(d, PT_OK, "driver-version", NULL,
		     "the running container has the host's %s bound (%s)", have, where);
	}
	return true;
}

void ct_driver_free(struct ct_driver *d)
{
	free(d->version);
	d->version = NULL;
}

const char *ct_driver_mode_name(enum ct_driver_mode m)
{
	static const char *const names[] = { "none", "bind", "copy", "install" };
	return names[m];
}

/* A CUDA driver call inside, through the container's own python3 (ctypes, in
 * the standard library): cuInit, then a context and an allocation on GPU 0,
 * which needs nvidia-uvm too. Its one output line says what happened. */
static const char cuda_probe[] =
	"import ctypes as C, sys\n"
	"try:\n"
	"    c = C.CDLL('libcuda.so.1')\n"
	"except OSError as e:\n"
	"    print('cannot load libcuda.so.1: %s' % e); sys.exit(1)\n"
	"def fail(what, r):\n"
	"    n = C.c_char_p(); s = C.c_char_p()\n"
	"    c.cuGetErrorName(r, C.byref(n)); c.cuGetErrorString(r, C.byref(s))\n"
	"    print('%s: %s (%d): %s' % (what, (n.value or b'?').decode(), r, (s.value or "
	"b'').decode()))\n"
	"    sys.exit(1)\n"
	"r = c.cuInit(0)\n"
	"if r: fail('cuInit', r)\n"
	"v = C.c_int(); n = C.c_int(); d = C.c_int(); ctx = C.c_void_p(); p = C.c_uint64()\n"
	"c.cuDriverGetVersion(C.byref(v)); c.cuDeviceGetCount(C.byref(n))\n"
	"r = c.cuDeviceGet(C.byref(d), 0)\n"
	"if r: fail('cuDeviceGet', r)\n"
	"name = C.create_string_buffer(128); c.cuDeviceGetName(name, 128, d)\n"
	"r = c.cuDevicePrimaryCtxRetain(C.byref(ctx), d)\n"
	"if r: fail('cuDevicePrimaryCtxRetain', r)\n"
	"c.cuCtxSetCurrent(ctx)\n"
	"r = c.cuMemAlloc_v2(C.byref(p), 1 << 20)\n"
	"if r: fail('cuMemAlloc', r)\n"
	"c.cuMemFree_v2(p); c.cuDevicePrimaryCtxRelease(d)\n"
	"print('CUDA %d.%d driver API: %d GPU(s), a context and 1 MiB on %s' % (v.value // 1000, "
	"v.value % 1000 // 10, n.value, name.value.decode()))\n";

static void probe(struct change *ch, struct verdicts *v, bool cuda)
{
	char first[512];
	char *smi[] = { "nvidia-smi", "-L", NULL };
	int rc = ct_run_inside(&ch->ct, smi, first, sizeof(first));
	if (rc == 0)
		verdict(v, PT_OK, "probe", NULL, "inside: nvidia-smi -L: %s", first);
	else
		verdict(v, PT_BAD, "probe", "lxgpu doctor --explain \"<the message>\"",
			"inside: nvidia-smi -L failed: %s", first);
	if (!cuda)
		return;
	char *py[] = { "python3", "-c", (char *)cuda_probe, NULL };
	rc = ct_run_inside(&ch->ct, py, first, sizeof(first));
	if (rc == 0)
		verdict(v, PT_OK, "cuda", NULL, "inside: %s", first);
	else if (rc == 127 || strstr(first, "python3"))
		verdict(v, PT_WARN, "cuda", NULL,
			"inside: no python3 for a CUDA call (nvidia-smi is the only probe): %s",
			first);
	else
		verdict(v, PT_BAD, "cuda", "lxgpu doctor --explain \"<the message>\"",
			"inside: a CUDA call failed: %s", first);
}

void check_container(struct cli *cli, struct change *ch, struct verdicts *v, bool cuda)
{
	struct pt_config pt;
	pt_scan(&ch->conf, &ch->inv, &pt);
	bool privileged = ct_privileged(&ch->conf);
	size_t nodes = 0;
	int worst = v->worst;
	v->worst = PT_OK;
	for (size_t i = 0; i < pt.n; i++) {
		char msg[512], fix[128];
		enum pt_status st = pt_judge(&pt, i, &ch->inv, cli->rootfd, privileged, ch->ct.id,
					     msg, sizeof(msg), fix, sizeof(fix));
		nodes += pt.entries[i].d->kind == DL_MOUNT || pt.entries[i].d->kind == DL_DEV;
		if (st == PT_OK)
			continue;
		_cleanup_free_ char *line = conf_line_text(&ch->conf, pt.entries[i].d->line);
		verdict(v, st, "config-line", fix[0] ? fix : NULL, "%s: %s", line, msg);
	}
	if (nodes == 0)
		verdict(v, PT_BAD, "no-gpu", NULL,
			"no GPU passthrough line: lxgpu attach %s gives one", ch->ct.id);
	else if (v->worst == PT_OK)
		verdict(v, PT_OK, "config", NULL, "device lines match the host's nodes");
	else if (v->worst == PT_WARN)
		verdict(v, PT_OK, "config", NULL,
			"lxgpu's device lines match the host's nodes (warnings above are about "
			"hand-written lines)");
	struct ct_driver d;
	if (ct_driver_look(cli, &ch->ct, &ch->conf, &pt, &ch->inv, ch->running, &d)) {
		for (size_t i = 0; i < d.nnotes; i++)
			verdict(v, d.notes[i].status, d.notes[i].id,
				d.notes[i].fix[0] ? d.notes[i].fix : NULL, "%s", d.notes[i].msg);
		ct_driver_free(&d);
	} else if (nodes > 0)
		verdict(v, PT_OK, "driver-in-container", NULL,
			"AMD and Intel GPUs have no user-space driver to match: Mesa and ROCm live "
			"in the container");
	if (has_nvidia_lines(&pt) && ch->running && strcmp(cli->sysroot, "/") == 0)
		probe(ch, v, cuda);
	pt_free(&pt);
	if (worst > v->worst)
		v->worst = worst;
}
