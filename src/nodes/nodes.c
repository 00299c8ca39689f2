/* nodes: NVIDIA's device nodes, made like nvidia-modprobe does (nodes.h). */
#include "nodes/nodes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "inventory/procfs.h"
#include "util/xalloc.h"

struct params {
	bool modify;
	unsigned uid, gid, mode;
};

/* The driver's own say (nv-caps.c, nv-procfs.c of open-gpu-kernel-modules): "ModifyDeviceFiles: 1",
 * "DeviceFileUID: 0", "DeviceFileGID: 0", "DeviceFileMode: 438" (0666). */
static void read_params(int rootfd, struct params *p)
{
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	struct kv kv;
	size_t len, pos = 0;
	unsigned v;

	*p = (struct params){ true, 0, 0, 0666 };
	if (fs_read_in(rootfd, "proc/driver/nvidia/params", FS_PROC_MAX, &text, &len, &err) < 0)
		return;
	while (kv_next(text, len, &pos, &kv)) {
		if (!parse_uint(kv.value, kv.valuelen, 0xffffffffu, &v))
			continue;
		if (kv_is(&kv, "ModifyDeviceFiles"))
			p->modify = v != 0;
		else if (kv_is(&kv, "DeviceFileUID"))
			p->uid = v;
		else if (kv_is(&kv, "DeviceFileGID"))
			p->gid = v;
		else if (kv_is(&kv, "DeviceFileMode"))
			p->mode = v & 07777;
	}
}

/* One node: made when missing, replaced when its numbers are wrong. `want`
 * holds all but action and why. */
static void want(struct node_plan *plan, const struct lxgpu_inventory *inv, struct node_op want)
{
	const char *path = want.path;
	unsigned major = want.major, minor = want.minor;
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct lxgpu_node *n = &inv->nodes[i];
		if (strcmp(n->path, path) != 0)
			continue;
		if (n->type == 'c' && n->major == major && n->minor == minor)
			return;
		char why[128];
		snprintf(why, sizeof(why), "%s %u:%u, not %u:%u",
			 n->type == 'c' ? "was" : "was not a device, want", n->major, n->minor,
			 major, minor);
		want.action = NODE_REPLACE;
		want.why = xstrdup(why);
		goto add;
	}
	want.action = NODE_CREATE;
	want.why = xstrdup("missing");
add:
	want.path = xstrdup(path);
	plan->ops = xrealloc(plan->ops, (plan->n + 1) * sizeof(*plan->ops));
	plan->ops[plan->n++] = want;
}

/* A node in /dev/nvidia-caps on another major than nvidia-caps' that no
 * capability names: left by an earlier driver or kernel, it would open
 * whatever owns that major now, and a /dev/nvidia-caps mount passes it on. */
static void drop_stale_caps(struct node_plan *plan, const struct lxgpu_inventory *inv,
			    unsigned caps)
{
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct lxgpu_node *n = &inv->nodes[i];
		bool planned = false;
		if (n->role != LXGPU_NODE_CAP || n->type != 'c' || n->major == caps)
			continue;
		for (size_t k = 0; k < plan->n && !planned; k++)
			planned = strcmp(plan->ops[k].path, n->path) == 0;
		if (planned)
			continue;
		char why[128];
		snprintf(why, sizeof(why),
			 "nvidia-caps is major %u now, and no capability names it", caps);
		plan->ops = xrealloc(plan->ops, (plan->n + 1) * sizeof(*plan->ops));
		plan->ops[plan->n++] = (struct node_op){ .path = xstrdup(n->path),
							 .action = NODE_REMOVE,
							 .major = n->major,
							 .minor = n->minor,
							 .role = n->role,
							 .gpu = n->gpu,
							 .why = xstrdup(why) };
	}
}

static struct node_op node(const char *path, enum lxgpu_node_role role, int gpu, unsigned major,
			   unsigned minor, unsigned mode, const struct params *p)
{
	return (struct node_op){ .path = (char *)path,
				 .major = major,
				 .minor = minor,
				 .mode = mode,
				 .uid = p->uid,
				 .gid = p->gid,
				 .role = role,
				 .gpu = gpu };
}

/* Capability files with their minors and modes: "mig/config", "gpu0/mig/gi2/access"... */
static void want_caps(struct node_plan *plan, int rootfd, const struct lxgpu_inventory *inv,
		      int caps_major, const struct params *p)
{
	static const char *const global[] = { "mig/config", "mig/monitor" };
	struct lxgpu_err err = { 0 };
	for (size_t i = 0; i < ARRAY_SIZE(global); i++) {
		_cleanup_free_ char *text = NULL;
		char path[128];
		size_t len;
		unsigned minor, mode;
		snprintf(path, sizeof(path), "proc/driver/nvidia/capabilities/%s", global[i]);
		lxgpu_err_clear(&err);
		if (fs_read_in(rootfd, path, 4096, &text, &len, &err) < 0 ||
		    !nv_cap_parse(text, len, &minor, &mode))
			continue;
		snprintf(path, sizeof(path), "/dev/nvidia-caps/nvidia-cap%u", minor);
		want(plan, inv,
		     node(path, LXGPU_NODE_CAP, -1, (unsigned)caps_major, minor, mode, p));
	}
	for (size_t g = 0; g < inv->ngpus; g++)
		for (size_t k = 0; k < inv->gpus[g].nmig; k++) {
			const struct lxgpu_mig *m = &inv->gpus[g].mig[k];
			_cleanup_free_ char *text = NULL;
			char path[128];
			size_t len;
			unsigned minor, mode = 0444;
			lxgpu_err_clear(&err);
			if (fs_read_in(rootfd, m->access, 4096, &text, &len, &err) == 0)
				nv_cap_parse(text, len, &minor, &mode);
			snprintf(path, sizeof(path), "/dev/nvidia-caps/nvidia-cap%u", m->minor);
			want(plan, inv,
			     node(path, LXGPU_NODE_CAP, inv->gpus[g].index, (unsigned)caps_major,
				  m->minor, mode, p));
		}
}

void nodes_plan(int rootfd, const struct lxgpu_inventory *inv, struct node_plan *out)
{
	struct params p;
	char path[64];

	memset(out, 0, sizeof(*out));
	if (!inv->nvidia_loaded)
		return;
	read_params(rootfd, &p);
	if (!p.modify) {
		out->hands_off = true;
		return;
	}
	int nv = proc_devices_major(&inv->majors, "nvidia");
	if (nv < 0)
		nv = proc_devices_major(&inv->majors, "nvidia-frontend");
	if (nv < 0)
		nv = 195; /* NV_MAJOR_DEVICE_NUMBER, fixed (nv.h of open-gpu-kernel-modules) */
	want(out, inv, node("/dev/nvidiactl", LXGPU_NODE_CTL, -1, (unsigned)nv, 255, p.mode, &p));
	for (size_t g = 0; g < inv->ngpus; g++) {
		const struct lxgpu_gpu *gpu = &inv->gpus[g];
		if (gpu->vendor != LXGPU_VENDOR_NVIDIA || gpu->minor < 0 || !gpu->has_information)
			continue;
		snprintf(path, sizeof(path), "/dev/nvidia%d", gpu->minor);
		want(out, inv,
		     node(path, LXGPU_NODE_GPU, gpu->index, (unsigned)nv, (unsigned)gpu->minor,
			  p.mode, &p));
	}
	struct stat st;
	struct lxgpu_err err = { 0 };
	if (fs_lstat_in(rootfd, "sys/module/nvidia_modeset", &st, &err) == 0)
		want(out, inv,
		     node("/dev/nvidia-modeset", LXGPU_NODE_MODESET, -1, (unsigned)nv, 254, p.mode,
			  &p));
	int uvm = proc_devices_major(&inv->majors, "nvidia-uvm");
	if (uvm < 0) {
		out->load_uvm = true; /* its nodes follow once it has a major */
	} else {
		want(out, inv,
		     node("/dev/nvidia-uvm", LXGPU_NODE_UVM, -1, (unsigned)uvm, 0, p.mode, &p));
		want(out, inv,
		     node("/dev/nvidia-uvm-tools", LXGPU_NODE_UVM_TOOLS, -1, (unsigned)uvm, 1,
			  p.mode, &p));
	}
	int caps = proc_devices_major(&inv->majors, "nvidia-caps");
	if (caps >= 0) {
		want_caps(out, rootfd, inv, caps, &p);
		drop_stale_caps(out, inv, (unsigned)caps);
	}
}

int nodes_apply(int rootfd, const struct node_plan *plan, struct lxgpu_err *err)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct node_op *op = &plan->ops[i];
		const char *slash = strrchr(op->path, '/');
		_cleanup_free_ char *dir = xstrndup(op->path, (size_t)(slash - op->path));
		const char *name = slash + 1;
		_cleanup_close_ int dirfd = fs_open_in(rootfd, dir, O_PATH | O_DIRECTORY, 0, err);
		if (dirfd < 0 && strcmp(dir, "/dev/nvidia-caps") == 0 && err->code == ENOENT) {
			/* the caps directory is 0755 (nv-caps.c, nv-procfs.c of open-gpu-kernel-modules) */
			lxgpu_err_clear(err);
			_cleanup_close_ int dev =
				fs_open_in(rootfd, "/dev", O_PATH | O_DIRECTORY, 0, err);
			if (dev < 0 || (mkdirat(dev, "nvidia-caps", 0755) < 0 && errno != EEXIST))
				return dev < 0 ? dev
					       : lxgpu_fail(err, errno, "mkdir /dev/nvidia-caps");
			dirfd = fs_open_in(rootfd, dir, O_PATH | O_DIRECTORY, 0, err);
		}
		if (dirfd < 0)
			return dirfd;
		if (op->action != NODE_CREATE && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return lxgpu_fail(err, errno, "remove the stale %s", op->path);
		if (op->action == NODE_REMOVE)
			continue;
		/* mknodat straight in the directory fd: it fails on an existing name or
		 * symlink rather than following it */
		if (mknodat(dirfd, name, S_IFCHR | (op->mode & 07777),
			    makedev(op->major, op->minor)) < 0 &&
		    errno != EEXIST)
			return lxgpu_fail(err, errno, "mknod %s", op->path);
		if (fchownat(dirfd, name, op->uid, op->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return lxgpu_fail(err, errno, "chown %s", op->path);
		_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		char proc[64];
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
			return lxgpu_failx(err, EEXIST, "%s: something else took its place",
					   op->path);
		/* mode without the umask; chmod through the fd, never a followed name */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, op->mode & 07777) < 0)
			return lxgpu_fail(err, errno, "chmod %s", op->path);
	}
	return 0;
}

void nodes_simulate(struct lxgpu_inventory *inv, const struct node_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct node_op *op = &plan->ops[i];
		struct lxgpu_node *n = NULL;
		for (size_t k = 0; k < inv->nnodes && !n; k++)
			if (strcmp(inv->nodes[k].path, op->path) == 0)
				n = &inv->nodes[k];
		if (op->action == NODE_REMOVE) {
			if (n) { /* the last node takes its place */
				free(n->path);
				free(n->capability);
				*n = inv->nodes[--inv->nnodes];
			}
			continue;
		}
		if (!n)
			n = inv_add_node(inv, op->path, op->role);
		n->type = 'c';
		n->major = op->major;
		n->minor = op->minor;
		n->mode = op->mode;
		n->uid = op->uid;
		n->gid = op->gid;
		n->gpu = op->gpu;
	}
}

void nodes_plan_free(struct node_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->ops[i].path);
		free(p->ops[i].why);
	}
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

bool nodes_made_at_boot(int rootfd)
{
	static const char *const wants[] = {
		"etc/systemd/system/multi-user.target.wants/lxgpu-sync.service",
		"etc/systemd/system/sysinit.target.wants/lxgpu-sync.service",
	};
	struct stat st;
	struct lxgpu_err err = { 0 };
	for (size_t i = 0; i < ARRAY_SIZE(wants); i++)
		if (fs_lstat_in(rootfd, wants[i], &st, &err) == 0)
			return true;
	return false;
}

extern char **environ;

int nodes_load_uvm(struct lxgpu_err *err)
{
	char *argv[] = { "modprobe", "nvidia-uvm", NULL };
	pid_t pid;
	int status;
	int r = posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ);
	if (r != 0)
		return lxgpu_fail(err, r, "modprobe nvidia-uvm");
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return lxgpu_failx(err, EIO, "modprobe nvidia-uvm failed");
	return 0;
}
