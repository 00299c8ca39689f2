/* guest: a container's files, read through an fd of its root (guest.h). */
#include "guest.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"
#include "xalloc.h"

extern char **environ;

long guest_parse_group(const char *text, size_t len, const char *group)
{
	size_t glen = strlen(group);
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		/* name:password:gid:members */
		if (n <= glen + 1 || memcmp(line, group, glen) != 0 || line[glen] != ':')
			continue;
		const char *pw_end = memchr(line + glen + 1, ':', n - glen - 1);
		if (!pw_end)
			continue;
		const char *g = pw_end + 1, *end = line + n;
		long gid = 0;
		int digits = 0;
		while (g < end && *g >= '0' && *g <= '9' && digits < 10) {
			gid = gid * 10 + (*g++ - '0');
			digits++;
		}
		if (digits > 0 && (g == end || *g == ':') && gid <= 0x7fffffffL)
			return gid;
	}
	return -1;
}

int guest_group_gid(int ctroot, const char *group, long *gid, struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = fs_read_in(ctroot, "etc/group", 4u << 20, &text, &len, err);
	if (r < 0)
		return lxgpu_wrap(err, "the container's group file");
	*gid = guest_parse_group(text, len, group);
	if (*gid < 0)
		return lxgpu_failx(err, ENOENT,
				   "the container's /etc/group has no group '%s' (create it with "
				   "groupadd -r %s, or pass --gid)",
				   group, group);
	return 0;
}

/* The init pid of a running container, asked of LXC itself. */
static long init_pid(const struct lxgpu_ct *ct)
{
	int pipefd[2];
	posix_spawn_file_actions_t fa;
	char buf[64] = "";
	pid_t pid;
	char *argv[] = { "lxc-info", "-H", "-p", "-n", ct->id, "-P", ct->lxcpath, NULL };

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	int r = posix_spawnp(&pid, "lxc-info", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -1;
	}
	ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	buf[n] = '\0';
	long v = strtol(buf, NULL, 10);
	return v > 1 ? v : -1;
}

int guest_open_root(int rootfd, bool real_host, const struct lxgpu_ct *ct, const struct conf *c,
		    struct lxgpu_err *err)
{
	if (c->format == CONF_LXC) {
		const char *rootfs = conf_get(c, "lxc.rootfs.path");
		if (rootfs && strncmp(rootfs, "dir:", 4) == 0)
			rootfs += 4;
		if (rootfs && rootfs[0] == '/')
			return fs_open_in(rootfd, rootfs, O_PATH | O_DIRECTORY, 0, err);
	}
	if (real_host && ct_running(rootfd, ct)) {
		long pid = init_pid(ct);
		if (pid > 0) {
			char path[64];
			snprintf(path, sizeof(path), "/proc/%ld/root", pid);
			/* the one magic link followed on purpose: into the container's root */
			return fs_open_root(path, err);
		}
	}
	return lxgpu_failx(err, ENOENT,
			   "the root filesystem of %s %s is not reachable while it is stopped",
			   c->format == CONF_PVE ? "CT" : "container", ct->id);
}
