/* hook: container-start work (MUST rules in hook.h). */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "driver_files.h"
#include "fs.h"
#include "inject.h"
#include "procfs.h"

int hook_parse(int nargs, char **args, struct hook_call *call, struct lxgpu_err *err)
{
	memset(call, 0, sizeof(*call));
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
	call->rootfs = getenv("LXC_ROOTFS_MOUNT");
	if (!call->section || strcmp(call->section, "lxc") != 0)
		return lxgpu_failx(err, EINVAL, "hook: not run by LXC (section %s, want lxc)",
				   call->section ? call->section : "none");
	if (!call->type || strcmp(call->type, "mount") != 0)
		return lxgpu_failx(err, EINVAL, "hook: must run as lxc.hook.mount (got %s)",
				   call->type ? call->type : "no hook type");
	if (!call->rootfs || call->rootfs[0] != '/')
		return lxgpu_failx(err, EINVAL,
				   "hook: LXC_ROOTFS_MOUNT is %s, not an absolute path",
				   call->rootfs ? call->rootfs : "unset");
	return 0;
}

int hook_run(int hostroot, const struct hook_call *call, size_t *files, struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct nv_version_info info;
	struct driver_files d;
	struct inject_result res;
	size_t len;
	int r;

	*files = 0;
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
	r = inject_driver(hostroot, ctroot, &d, INJECT_BIND, -1, -1, &res, err);
	driver_files_free(&d);
	if (r < 0)
		return lxgpu_wrap(err, "hook %s", call->name);
	*files = res.files;
	return 0;
}
