/* inside: commands run inside a running container (inside.h). */
#include "cli/inside.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int ct_exec_inside(const struct lxgpu_ct *ct, char *const cmd[], int logfd, char *out, size_t size)
{
	out[0] = '\0';
	char *argv[24] = { "lxc-attach", "-n", ct->id, "-P", ct->lxcpath, "--" };
	size_t n = 6;
	for (size_t i = 0; cmd[i] && n < 23; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	int pipefd[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	int r = posix_spawnp(&pid, "lxc-attach", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -1;
	}
	size_t got = 0;
	char buf[8192];
	ssize_t k;
	while ((k = read(pipefd[0], buf, sizeof(buf))) > 0) {
		if (logfd >= 0 && write(logfd, buf, (size_t)k) != k)
			logfd = -1;
		size_t take = got + (size_t)k < size - 1 ? (size_t)k : size - 1 - got;
		memcpy(out + got, buf, take);
		got += take;
	}
	out[got] = '\0';
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ct_run_inside(const struct lxgpu_ct *ct, char *const cmd[], char *first, size_t size)
{
	char out[4096];
	int r = ct_exec_inside(ct, cmd, -1, out, sizeof(out));
	if (r < 0 && !out[0])
		snprintf(out, sizeof(out), "lxc-attach did not run");
	snprintf(first, size, "%.*s", (int)strcspn(out, "\n"), out);
	return r;
}
