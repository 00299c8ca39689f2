/* hook: container-start work (MUST rules in hook.h). */
#include "hook/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "container/container.h"
#include "inventory/driver_files.h"
#include "util/fs.h"
#include "guest/inject.h"
#include "inventory/procfs.h"

int hook_parse(int nargs, char **args, struct hook_call *call, struct lxgpu_err *err)
{
	bool guard = call->guard, real_host = call->real_host;
	memset(call, 0, sizeof(*call));
	call->guard = guard;
	call->real_host = real_host;
	/* LXC's hook version 0 passes "NAME SECTION TYPE"; version 1 sets
	 * LXC_HOOK_SECTION and LXC_HOOK_TYPE instead (lxc.container.conf(5)). */
	if (nargs == 3) {
		call->name = args[0];
		call->section = args[1];
		call->type = args[2];
	} else {
		call->name = getenv("LXC_NAME");
		call->section = getenv("LXC_HOOK_SECTION");
		call->type = getenv("LXC_HOOK_TYPE");
	}
	if (!call->section || strcmp(call->section, "lxc") != 0)
		return lxgpu_failx(err, EINVAL, "hook: not run by LXC (section %s, want lxc)",
				   call->section ? call->section : "none");
	const char *why;
	if (!call->name || !ct_arg_valid(call->name, &why))
		return lxgpu_failx(err, EINVAL, "hook: container name %s: %s",
				   call->name ? call->name : "unset",
				   call->name ? why : "LXC_NAME is not set");
	if (call->type && strcmp(call->type, "mount") == 0) {
		call->kind = HOOK_MOUNT;
		call->rootfs = getenv("LXC_ROOTFS_MOUNT");
		if (!call->rootfs || call->rootfs[0] != '/')
			return lxgpu_failx(err, EINVAL,
					   "hook: LXC_ROOTFS_MOUNT is %s, not an absolute path",
					   call->rootfs ? call->rootfs : "unset");
		if (call->guard)
			return lxgpu_failx(
				err, EINVAL,
				"hook: --guard belongs on lxc.hook.pre-start, not mount");
		return 0;
	}
	bool start_host = call->type && strcmp(call->type, "start-host") == 0;
	if (start_host || (call->type && strcmp(call->type, "pre-start") == 0)) {
		call->kind = start_host ? HOOK_START_HOST : HOOK_PRE_START;
		call->config = getenv("LXC_CONFIG_FILE");
		call->rootfs = start_host ? NULL : getenv("LXC_ROOTFS_PATH");
		call->pid = start_host ? getenv("LXC_PID") : NULL;
		if (!call->config || call->config[0] != '/')
			return lxgpu_failx(err, EINVAL,
					   "hook: LXC_CONFIG_FILE is %s, not an absolute path",
					   call->config ? call->config : "unset");
		return 0;
	}
	if (call->type && strcmp(call->type, "post-stop") == 0) {
		call->kind = HOOK_POST_STOP;
		if (call->guard)
			return lxgpu_failx(
				err, EINVAL,
				"hook: --guard belongs on lxc.hook.pre-start, not post-stop");
		return 0;
	}
	return lxgpu_failx(err, EINVAL,
			   "hook: must run as lxc.hook.mount, lxc.hook.pre-start or "
			   "lxc.hook.post-stop (got %s), or as lxc.hook.start-host for a "
			   "model=, any or map: selection",
			   call->type ? call->type : "no hook type");
}

static int bind_driver(int hostroot, const struct hook_call *call, struct hook_result *res,
		       struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct nv_version_info info;
	struct driver_files d;
	struct inject_result ir;
	size_t len;
	int r;

	_cleanup_close_ int ctroot = fs_open_root(call->rootfs, err);
	if (ctroot < 0)
		return lxgpu_wrap(err, "hook %s: the container's root", call->name);
	if ((r = fs_read_in(hostroot, "proc/driver/nvidia/version", FS_PROC_MAX, &text, &len,
			    err)) < 0)
		return lxgpu_wrap(err, "hook %s: no NVIDIA driver on this host to bind",
				  call->name);
	if (!nv_version_parse(text, len, &info))
		return lxgpu_failx(err, EINVAL,
				   "hook %s: /proc/driver/nvidia/version has no version",
				   call->name);
	if ((r = driver_files_find(hostroot, info.version, &d, err)) < 0)
		return lxgpu_wrap(err, "hook %s", call->name);
	/* all or nothing: a link to a file that is not bound would break more
	 * than a container without the driver */
	char first[256];
	size_t blocked = inject_blocked(ctroot, &d, inject_may_self, NULL, first, sizeof(first));
	if (blocked > 0) {
		char more[48] = "";
		if (blocked > 1)
			snprintf(more, sizeof(more), " (and %zu more)", blocked - 1);
		snprintf(res->skipped, sizeof(res->skipped),
			 "hook %s: driver %s not bound, the container starts without it: its "
			 "root may not create %s%s: run lxgpu sync %s (makes them as the host's "
			 "root) or lxgpu driver %s --mode copy",
			 call->name, info.version, first, more, call->name, call->name);
		driver_files_free(&d);
		return 0;
	}
	r = inject_driver(hostroot, ctroot, &d, INJECT_BIND, -1, -1, NULL, &ir, err);
	driver_files_free(&d);
	if (r < 0)
		return lxgpu_wrap(err, "hook %s", call->name);
	res->files = ir.files;
	return 0;
}

int hook_run(int hostroot, const struct hook_call *call, struct hook_result *res,
	     struct lxgpu_err *err)
{
	memset(res, 0, sizeof(*res));
	switch (call->kind) {
	case HOOK_MOUNT:
		return bind_driver(hostroot, call, res, err);
	case HOOK_PRE_START:
		return hook_pre_start(hostroot, call, res, err);
	case HOOK_POST_STOP:
		return hook_post_stop(hostroot, call, err);
	case HOOK_START_HOST:
		return hook_start_host(hostroot, call, res, err);
	}
	return lxgpu_failx(err, EINVAL, "hook: unknown kind");
}
