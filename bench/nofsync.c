/* bench-nofsync.so (LD_PRELOAD): an fsync that does nothing for a temp file
 * next to the Proxmox configs (a path with "/etc/pve/lxc/" and "tmp"), the
 * real one for every other file, so that bench/selftest.sh shows bench/run.sh
 * failing when sync renames a config into place from a file it never synced,
 * while its backups still are. (meson defines _GNU_SOURCE, for RTLD_NEXT.) */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fsync(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
		if (strstr(path, "/etc/pve/lxc/") && strstr(path, "tmp"))
			return 0;
	}
	int (*real_fsync)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real_fsync ? real_fsync(fd) : -1;
}
