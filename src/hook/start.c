/* hook/start: lxc.hook.pre-start (MUST rules in hook.h). LXC runs it before
 * it sets up the container's mounts, as root in the host's user namespace (in
 * a mount namespace of its own on Proxmox, lxc.monitor.unshare), with
 * LXC_CONFIG_FILE the config LXC reads: on Proxmox the one it generates from
 * /etc/pve/lxc/<vmid>.conf, "key = value" lines either way. */
#include "hook/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "config/config.h"
#include "config/idmap.h"
#include "container/container.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "inventory/inventory.h"
#include "nodes/nodes.h"
#include "check/passthrough.h"
#include "plan/plan.h"
#include "util/xalloc.h"

struct start {
	int hostroot;
	const struct hook_call *call;
	char *text;
	struct conf conf;
	struct lxgpu_inventory inv;
	struct pt_config pt;
	bool scanned;
};

static void start_free(struct start *st)
{
	pt_free(&st->pt);
	if (st->scanned)
		lxgpu_inventory_free(&st->inv);
	conf_free(&st->conf);
	free(st->text);
}

static void rescan(struct start *st)
{
	pt_free(&st->pt);
	if (st->scanned)
		lxgpu_inventory_free(&st->inv);
	lxgpu_inventory_scan(st->hostroot, &st->inv);
	st->scanned = true;
	pt_scan(&st->conf, &st->inv, &st->pt);
}

/* --- the guard ----------------------------------------------------------- */

/* Missing or stale NVIDIA nodes, made as nvidia-modprobe makes them: after a
 * boot nvidia-uvm has no node until something runs CUDA, and an optional
 * mount entry would skip it without a word. */
static int repair_host_nodes(struct start *st, struct hook_result *res, struct lxgpu_err *err)
{
	struct node_plan np;
	int r = 0;

	nodes_plan(st->hostroot, &st->inv, &np);
	if (np.load_uvm && st->call->real_host && nodes_load_uvm(err) == 0) {
		nodes_plan_free(&np);
		rescan(st);
		nodes_plan(st->hostroot, &st->inv, &np);
	}
	lxgpu_err_clear(err); /* no modprobe: the judge below names what is missing */
	if (np.n > 0) {
		r = nodes_apply(st->hostroot, &np, err);
		res->host_nodes = np.n;
		rescan(st);
	}
	nodes_plan_free(&np);
	return r;
}

/* Every GPU the config records is on this node; a model=, any or map:
 * selection resolves here (the start-host hook then gives its lines). */
static int judge_gpus(const struct start *st, bool *floating, struct lxgpu_err *err)
{
	struct lxgpu_plan plan;
	if (st->pt.record_error)
		return lxgpu_failx(err, EINVAL, "%s", st->pt.record_error);
	int r = hook_resolve(st->hostroot, st->call->name, &st->conf, &st->inv, &plan, floating,
			     err);
	plan_free(&plan);
	if (r < 0)
		return r;
	for (size_t i = 0; i < st->pt.record.ndevices; i++)
		if (!plan_selector_floating(st->pt.record.devices[i]) &&
		    !lxgpu_gpu_find(&st->inv, st->pt.record.devices[i]))
			return lxgpu_failx(err, ENODEV,
					   "GPU %s is not on this node: start the container on "
					   "the node that has it, or give it one of this node's "
					   "with lxgpu attach %s",
					   st->pt.record.devices[i], st->call->name);
	return 0;
}

/* lxgpu's lines do what they say on this host; else the first problem (a
 * node's, which says most, before a rule's) and how many more. Hand-written
 * lines are the admin's: a start is never refused for them. */
static int judge_lines(const struct start *st, struct lxgpu_err *err)
{
	char msg[400], first[400] = "", fix[128];
	size_t bad = 0;
	bool privileged = ct_privileged(&st->conf);

	for (int rules = 0; rules < 2; rules++)
		for (size_t i = 0; i < st->pt.n; i++) {
			const struct pt_entry *e = &st->pt.entries[i];
			if (e->owner != PT_LXGPU || (e->d->kind == DL_RULE) != rules ||
			    pt_judge(&st->pt, i, &st->inv, st->hostroot, privileged, st->call->name,
				     msg, sizeof(msg), fix, sizeof(fix)) != PT_BAD)
				continue;
			if (bad++ == 0)
				snprintf(first, sizeof(first), "%s", msg);
		}
	if (bad == 0)
		return 0;
	char more[48] = "";
	if (bad > 1)
		snprintf(more, sizeof(more), " (and %zu more)", bad - 1);
	return lxgpu_failx(err, ESTALE, "%s%s: run lxgpu sync %s", first, more, st->call->name);
}

/* A driver copied into the container is the kernel module's version (a bound
 * one is, by the mount hook). Only a directory rootfs is looked at: on
 * Proxmox, its pre-start hook has mounted the volumes there before ours. */
static int judge_driver(const struct start *st, struct lxgpu_err *err)
{
	const char *host = lxgpu_nvidia_version(&st->inv), *path = st->call->rootfs;
	struct lxgpu_err ignored = { 0 };

	if (!host || !path)
		return 0;
	if (pt_mount_hook(&st->conf, &st->pt))
		return 0;
	if (strncmp(path, "dir:", 4) == 0)
		path += 4;
	if (path[0] != '/')
		return 0; /* overlay:, zfs:, a block device: not mounted yet */
	_cleanup_close_ int ctroot =
		fs_open_in(st->hostroot, path, O_PATH | O_DIRECTORY, 0, &ignored);
	if (ctroot < 0)
		return 0;
	_cleanup_free_ char *where = NULL;
	_cleanup_free_ char *have = guest_driver_version(ctroot, &where);
	if (!have || strcmp(have, host) == 0)
		return 0;
	return lxgpu_failx(err, ESTALE,
			   "the container's driver is %s (%s) but this host's kernel module is "
			   "%s (Driver/library version mismatch): run lxgpu sync %s",
			   have, where, host, st->call->name);
}

/* --- the container's own nodes ------------------------------------------- */

/* Unmounts the tmpfs at DL_HOOK_NODES/NAME (run: that directory's parent),
 * if one is there. */
static int drop_tmpfs(int run, const char *name, struct lxgpu_err *err)
{
	struct stat parent, st;
	char proc[64];

	if (fstat(run, &parent) < 0)
		return lxgpu_fail(err, errno, DL_HOOK_NODES);
	if (fstatat(run, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_dev == parent.st_dev)
		return 0;
	_cleanup_close_ int old = openat(run, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", old);
	if (old < 0 || umount2(proc, MNT_DETACH) < 0)
		return lxgpu_fail(err, errno, "unmount the last start's " DL_HOOK_NODES "/%s",
				  name);
	return 0;
}

/* DL_HOOK_NODES/NAME as a fresh tmpfs: not the host's /run, which is nodev,
 * and nothing left of an earlier start (post-stop unmounts it, but a
 * container that was killed never ran its post-stop hook). */
static int fresh_tmpfs(int hostroot, const char *name, struct lxgpu_err *err)
{
	struct stat st;
	char proc[64];
	int r;

	if ((r = fs_mkdirs_in(hostroot, &DL_HOOK_NODES[1], 0755, err)) < 0)
		return r;
	_cleanup_close_ int run = fs_open_in(hostroot, DL_HOOK_NODES, O_PATH | O_DIRECTORY, 0, err);
	if (run < 0)
		return run;
	if (fstatat(run, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode))
			return lxgpu_failx(err, EEXIST, DL_HOOK_NODES "/%s is not a directory",
					   name);
		if ((r = drop_tmpfs(run, name, err)) < 0)
			return r;
	} else if (mkdirat(run, name, 0755) < 0 && errno != EEXIST) {
		return lxgpu_fail(err, errno, "mkdir " DL_HOOK_NODES "/%s", name);
	}
	_cleanup_close_ int dir = openat(run, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return lxgpu_fail(err, errno, DL_HOOK_NODES "/%s", name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dir);
	if (mount("lxgpu", proc, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return lxgpu_fail(err, errno, "mount a tmpfs on " DL_HOOK_NODES "/%s", name);
	/* the new mount, seen through the name */
	int fd = openat(run, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lxgpu_fail(err, errno, DL_HOOK_NODES "/%s", name);
	return fd;
}

/* mkdir -p of the directories of a node's path in the fresh tmpfs. */
static int node_dir(int top, const char *path, const char **base, struct lxgpu_err *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	int dir = fcntl(top, F_DUPFD_CLOEXEC, 3);
	char *save = NULL, *next;

	if (dir < 0)
		return lxgpu_fail(err, errno, "dup");
	*base = strrchr(path, '/') + 1;
	for (char *part = strtok_r(copy, "/", &save); part; part = next) {
		next = strtok_r(NULL, "/", &save);
		if (!next)
			break; /* the node's own name */
		if (mkdirat(dir, part, 0755) < 0 && errno != EEXIST) {
			close(dir);
			return lxgpu_fail(err, errno, "mkdir %s in " DL_HOOK_NODES, part);
		}
		int sub = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		if (sub < 0)
			return lxgpu_fail(err, errno, "%s in " DL_HOOK_NODES, part);
		dir = sub;
	}
	return dir;
}

/* The nodes the config passes from DL_HOOK_NODES/NAME: the host node's
 * numbers and mode as they are now, the container's root as owner and its
 * render (renderD*) or video (card*) group, through its idmap. */
static int make_ct_nodes(struct start *st, struct hook_result *res, struct lxgpu_err *err)
{
	const struct conf *c = &st->conf;
	bool any = false;

	for (size_t i = 0; i < st->pt.n; i++)
		any |= st->pt.entries[i].d->kind == DL_MOUNT && st->pt.entries[i].d->via_hook;
	if (!any)
		return 0;
	_cleanup_close_ int top = fresh_tmpfs(st->hostroot, st->call->name, err);
	if (top < 0)
		return top;
	long uid = ct_host_id(c, 'u', 0);
	for (size_t i = 0; i < st->pt.n; i++) {
		const struct dl_entry *e = st->pt.entries[i].d;
		const struct lxgpu_node *n = NULL;
		if (e->kind != DL_MOUNT || !e->via_hook || e->dir)
			continue;
		for (size_t k = 0; k < st->inv.nnodes && !n; k++)
			if (strcmp(st->inv.nodes[k].path, e->path) == 0)
				n = &st->inv.nodes[k];
		if (!n || n->type != 'c')
			continue; /* the mount is optional; --guard has refused already */
		bool card = strncmp(fs_basename(e->path), "card", 4) == 0;
		long inside = card ? st->pt.record.video_gid : st->pt.record.render_gid;
		long gid = ct_host_id(c, 'g', inside < 0 ? 0 : (unsigned long)inside);
		if (uid < 0 || gid < 0)
			return lxgpu_failx(err, EINVAL,
					   "%s: the container's %s %ld is not in its lxc.idmap",
					   e->path, uid < 0 ? "uid" : "gid",
					   uid < 0 ? 0L : (inside < 0 ? 0L : inside));
		const char *base = NULL;
		_cleanup_close_ int dir = node_dir(top, e->path, &base, err);
		if (dir < 0)
			return dir;
		if (mknodat(dir, base, S_IFCHR | (n->mode & 0777), makedev(n->major, n->minor)) <
			    0 &&
		    errno != EEXIST)
			return lxgpu_fail(err, errno, "mknod " DL_HOOK_NODES "/%s%s",
					  st->call->name, e->path);
		if (fchownat(dir, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(dir, base, n->mode & 0777, 0) < 0)
			return lxgpu_fail(err, errno, "chown " DL_HOOK_NODES "/%s%s",
					  st->call->name, e->path);
		res->nodes++;
	}
	return 0;
}

int hook_pre_start(int hostroot, const struct hook_call *call, struct hook_result *res,
		   struct lxgpu_err *err)
{
	struct start st = { .hostroot = hostroot, .call = call };
	size_t len;
	int r;

	if ((r = fs_read_in(hostroot, call->config, CONF_MAX, &st.text, &len, err)) < 0 ||
	    (r = conf_parse(st.text, len, CONF_LXC, &st.conf, err)) < 0) {
		start_free(&st);
		return lxgpu_wrap(err, "hook %s: %s", call->name, call->config);
	}
	rescan(&st);
	bool floating = false;
	if (call->guard) {
		/* a node-independent selection's lines are start-host's to set right */
		if ((r = repair_host_nodes(&st, res, err)) < 0 ||
		    (r = judge_gpus(&st, &floating, err)) < 0 ||
		    (!floating && (r = judge_lines(&st, err)) < 0) ||
		    (r = judge_driver(&st, err)) < 0) {
			start_free(&st);
			return lxgpu_wrap(err, "hook %s: refused", call->name);
		}
	}
	r = make_ct_nodes(&st, res, err);
	start_free(&st);
	return r < 0 ? lxgpu_wrap(err, "hook %s", call->name) : 0;
}

int hook_post_stop(int hostroot, const struct hook_call *call, struct lxgpu_err *err)
{
	_cleanup_close_ int run = fs_open_in(hostroot, DL_HOOK_NODES, O_PATH | O_DIRECTORY, 0, err);
	if (run < 0) {
		if (err->code != ENOENT)
			return lxgpu_wrap(err, "hook %s", call->name);
		lxgpu_err_clear(err); /* no tmpfs was ever made */
		return 0;
	}
	if (drop_tmpfs(run, call->name, err) < 0)
		return lxgpu_wrap(err, "hook %s", call->name);
	/* the empty mount point too; a busy or non-empty one stays */
	(void)unlinkat(run, call->name, AT_REMOVEDIR);
	return 0;
}
