/* discover-floor ROOT: the least a discovery can do. It reads the same kernel
 * files and stats the same nodes as `lxgpu discover`, with plain open/read and
 * no parsing, allocation or output, so that bench/run.sh measures what
 * lxgpu adds on top of the kernel's own cost. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[65536];

static void slurp(int rootfd, const char *path)
{
	int fd = openat(rootfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static void stat_matching(int rootfd, const char *dir, const char *prefix)
{
	int fd = openat(rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	struct dirent *de;
	struct stat st;
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW);
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	char path[512], link[512];
	struct stat st;
	int root = open(argc > 1 ? argv[1] : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return 1;
	slurp(root, "proc/devices");
	slurp(root, "proc/driver/nvidia/version");
	slurp(root, "sys/module/nvidia/version");

	int fd = openat(root, "sys/bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/vendor", de->d_name);
		slurp(root, path);
		if (strncmp(buf, "0x10de", 6) && strncmp(buf, "0x1002", 6) &&
		    strncmp(buf, "0x8086", 6))
			continue;
		snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/class", de->d_name);
		slurp(root, path);
		if (strncmp(buf, "0x03", 4) && strncmp(buf, "0x12", 4))
			continue;
		snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/device", de->d_name);
		slurp(root, path);
		snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/driver", de->d_name);
		(void)!readlinkat(root, path, link, sizeof(link));
	}
	if (d)
		closedir(d);

	fd = openat(root, "proc/driver/nvidia/gpus", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "proc/driver/nvidia/gpus/%s/information", de->d_name);
		slurp(root, path);
	}
	if (d)
		closedir(d);

	stat_matching(root, "dev", "nvidia");
	stat_matching(root, "dev/nvidia-caps", "nvidia-cap");
	fstatat(root, "sys/module/nvidia_modeset", &st, AT_SYMLINK_NOFOLLOW);
	close(root);
	return 0;
}
