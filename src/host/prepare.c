/* host prepare: the steps, running them, and the record that --undo reads.
 *
 * Every step is reversible and recorded, one line each in HOST_RECORD
 * ("package P", "file PATH", "unit U"), after it is done: the record names
 * exactly what lxgpu changed, nothing the host had before. A step that fails
 * takes back the steps of the same run, last first, and the record is put
 * back as it was, so a failed prepare leaves the host as it found it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "host/host.h"
#include "util/xalloc.h"

extern char **environ;

/* modprobe.d(5); modeset=0 as NVIDIA's installer writes it, so that nouveau
 * also stays off when something loads it by hand */
#define BLACKLIST_TEXT                                                                             \
	"# written by lxgpu host prepare (lxgpu host prepare --undo removes it)\n"                 \
	"blacklist nouveau\n"                                                                      \
	"options nouveau modeset=0\n"

static struct host_step *step(struct host_plan *p, enum host_step_kind kind)
{
	xgrow(&p->steps, &p->cap, p->n + 1, sizeof(*p->steps));
	struct host_step *s = &p->steps[p->n++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	return s;
}

static struct host_step *run_step(struct host_plan *p, const char *const *argv)
{
	struct host_step *s = step(p, HOST_STEP_RUN);
	for (size_t i = 0; argv[i] && i < ARRAY_SIZE(s->argv) - 1; i++)
		s->argv[i] = xstrdup(argv[i]);
	return s;
}

int host_prepare_plan(const struct host_state *st, struct host_plan *out, struct lxgpu_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!st->nvidia_gpu) {
		out->nothing = xstrdup("no NVIDIA GPU: the kernel's own drivers need nothing "
				       "prepared");
		return 0;
	}
	if (!st->headers && !st->kernel[0])
		return lxgpu_failx(err, ENOENT,
				   "the running kernel is unknown (no /proc/sys/kernel/osrelease): "
				   "its headers cannot be named");
	if (!st->boot_unit && !st->unit_path)
		return lxgpu_failx(err, ENOENT,
				   HOST_UNIT
				   " is not installed (in /etc/systemd/system or "
				   "/lib/systemd/system): install lxgpu with its unit first");
	/* apt first: the step most likely to fail, and the slowest to take back */
	if (!st->headers) {
		const char *argv[] = { "apt-get",       "install", "-y", "--no-install-recommends",
				       st->headers_pkg, NULL };
		run_step(out, argv)->record = xasprintf("package %s", st->headers_pkg);
	}
	if (!st->nouveau_blacklist) {
		struct host_step *s = step(out, HOST_STEP_WRITE);
		s->path = xstrdup(HOST_BLACKLIST_FILE);
		s->text = xstrdup(BLACKLIST_TEXT);
		s->record = xasprintf("file %s", HOST_BLACKLIST_FILE);
		/* the initramfs loads modules before the root filesystem's modprobe.d */
		const char *argv[] = { "update-initramfs", "-u", "-k", "all", NULL };
		run_step(out, argv);
	}
	if (!st->boot_unit) {
		const char *argv[] = { "systemctl", "enable", HOST_UNIT, NULL };
		run_step(out, argv)->record = xstrdup("unit " HOST_UNIT);
	}
	if (out->n == 0)
		out->nothing = xstrdup("the host is prepared: nouveau blacklisted, headers for the "
				       "running kernel, " HOST_UNIT " enabled");
	return 0;
}

int host_undo_plan(int rootfd, struct host_plan *out, struct lxgpu_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	memset(out, 0, sizeof(*out));
	int r = fs_read_in(rootfd, HOST_RECORD, 1u << 20, &text, &len, err);
	if (r == -ENOENT) {
		lxgpu_err_clear(err);
		out->nothing = xstrdup("nothing to undo: no " HOST_RECORD);
		return 0;
	}
	if (r < 0)
		return r;
	/* lines, last first */
	char *lines[64];
	size_t n = 0;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n == ARRAY_SIZE(lines))
			return lxgpu_failx(err, EFBIG, "%s: too many lines", HOST_RECORD);
		lines[n++] = l;
	}
	while (n-- > 0) {
		const char *l = lines[n], *arg = strchr(l, ' ');
		struct host_step *s;
		if (!arg || !arg[1])
			return lxgpu_failx(err, EINVAL, "%s: '%s': not a line lxgpu writes",
					   HOST_RECORD, l);
		arg++;
		if (strncmp(l, "package ", 8) == 0) {
			const char *argv[] = { "apt-get", "remove", "-y", arg, NULL };
			s = run_step(out, argv);
		} else if (strncmp(l, "unit ", 5) == 0) {
			const char *argv[] = { "systemctl", "disable", arg, NULL };
			s = run_step(out, argv);
		} else if (strncmp(l, "file ", 5) == 0 && arg[0] == '/') {
			s = step(out, HOST_STEP_REMOVE);
			s->path = xstrdup(arg);
		} else
			return lxgpu_failx(err, EINVAL, "%s: '%s': not a line lxgpu writes",
					   HOST_RECORD, l);
		s->undo_of = xstrdup(l);
		if (strcmp(arg, HOST_BLACKLIST_FILE) == 0) {
			const char *argv[] = { "update-initramfs", "-u", "-k", "all", NULL };
			run_step(out, argv);
		}
	}
	if (out->n == 0)
		out->nothing = xstrdup("nothing to undo: " HOST_RECORD " is empty");
	return 0;
}

void host_plan_free(struct host_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct host_step *s = &plan->steps[i];
		free(s->path);
		free(s->text);
		free(s->record);
		free(s->undo_of);
		for (size_t j = 0; s->argv[j]; j++)
			free(s->argv[j]);
	}
	free(plan->steps);
	free(plan->nothing);
	memset(plan, 0, sizeof(*plan));
}

int host_run(char *const argv[], int logfd, char *out, size_t size, struct lxgpu_err *err)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 };
	pid_t pid;
	int status, r;

	if (out && pipe2(pipefd, O_CLOEXEC) < 0)
		return lxgpu_fail(err, errno, "pipe");
	_cleanup_close_ int rd = pipefd[0], wr = pipefd[1];
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int sink = logfd >= 0 ? logfd : null;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, null, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out ? wr : sink, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sink, STDERR_FILENO);
	/* apt-get and dpkg ask nothing: a question would wait for ever */
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return lxgpu_fail(err, r, "%s", argv[0]);
	if (out) {
		size_t got = 0;
		char buf[4096];
		ssize_t k;
		closep(&wr);
		while ((k = read(rd, buf, sizeof(buf))) > 0 || (k < 0 && errno == EINTR)) {
			if (k <= 0)
				continue;
			if (logfd >= 0 && write(logfd, buf, (size_t)k) != k)
				logfd = -1;
			size_t take = (size_t)k < size - 1 - got ? (size_t)k : size - 1 - got;
			memcpy(out + got, buf, take);
			got += take;
		}
		out[got] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return lxgpu_fail(err, errno, "wait for %s", argv[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Writes `text` (or removes the file when NULL) at `path` beneath the root:
 * a temp file in the same directory, then rename. */
static int put_file(int rootfd, const char *path, const char *text, struct lxgpu_err *err)
{
	_cleanup_free_ char *dir = xstrdup(path[0] == '/' ? path + 1 : path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return lxgpu_failx(err, EINVAL, "%s: not beneath a directory", path);
	*slash = '\0';
	const char *name = slash + 1;
	int r = fs_mkdirs_in(rootfd, dir, 0755, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = fs_open_in(rootfd, dir, O_RDONLY | O_DIRECTORY, 0, err);
	if (dfd < 0)
		return dfd;
	if (!text) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return lxgpu_fail(err, errno, "remove %s", path);
		return 0;
	}
	_cleanup_free_ char *tmp = xasprintf(".%s.lxgpu-tmp", name);
	unlinkat(dfd, tmp, 0); /* left by a killed run */
	_cleanup_close_ int fd =
		openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return lxgpu_fail(err, errno, "create %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ||
	    renameat(dfd, tmp, dfd, name) < 0) {
		int e = errno ? errno : EIO;
		unlinkat(dfd, tmp, 0);
		return lxgpu_fail(err, e, "write %s", path);
	}
	return 0;
}

static char *read_or_null(int rootfd, const char *path)
{
	struct lxgpu_err e = { 0 };
	char *text = NULL;
	size_t len;
	return fs_read_in(rootfd, path, 1u << 20, &text, &len, &e) == 0 ? text : NULL;
}

/* The record with `line` added, or with it taken out (undo). */
static int record(int rootfd, const char *line, bool remove, struct lxgpu_err *err)
{
	_cleanup_free_ char *old = read_or_null(rootfd, HOST_RECORD);
	_cleanup_free_ char *text = NULL;
	if (!remove) {
		text = xasprintf("%s%s\n", old ? old : "", line);
	} else {
		text = xstrdup("");
		size_t n = strlen(line);
		for (const char *p = old; p && *p;) {
			size_t l = strcspn(p, "\n");
			if (!(l == n && strncmp(p, line, n) == 0)) {
				char *t = xasprintf("%s%.*s\n", text, (int)l, p);
				free(text);
				text = t;
			}
			p += l + (p[l] == '\n');
		}
	}
	/* an empty record goes: the host is as lxgpu found it */
	return put_file(rootfd, HOST_RECORD, text[0] ? text : NULL, err);
}

static const char *step_name(const struct host_step *s, char *buf, size_t size)
{
	if (s->kind != HOST_STEP_RUN) {
		snprintf(buf, size, "%s %s", s->kind == HOST_STEP_WRITE ? "write" : "remove",
			 s->path);
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; s->argv[i]; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, size - l, "%s%s", i ? " " : "", s->argv[i]);
	}
	return buf;
}

/* Takes back steps [0, done) of a prepare, last first; best effort, the
 * caller reports the failure that led here. */
static void rollback(int rootfd, const struct host_plan *p, size_t done, char **old_files,
		     int logfd)
{
	struct lxgpu_err e = { 0 };
	bool initramfs = false;
	for (size_t i = done; i-- > 0;) {
		const struct host_step *s = &p->steps[i];
		if (s->kind == HOST_STEP_WRITE) {
			put_file(rootfd, s->path, old_files[i], &e);
			if (initramfs) {
				char *argv[] = { "update-initramfs", "-u", "-k", "all", NULL };
				host_run(argv, logfd, NULL, 0, &e);
			}
		} else if (strcmp(s->argv[0], "update-initramfs") == 0) {
			initramfs = true;
		} else if (strcmp(s->argv[0], "apt-get") == 0) {
			char *argv[] = { "apt-get", "remove", "-y", s->argv[4], NULL };
			host_run(argv, logfd, NULL, 0, &e);
		} else if (strcmp(s->argv[0], "systemctl") == 0) {
			char *argv[] = { "systemctl", "disable", s->argv[2], NULL };
			host_run(argv, logfd, NULL, 0, &e);
		}
		lxgpu_err_clear(&e);
	}
}

int host_plan_run(int rootfd, const struct host_plan *plan, bool undo, int logfd,
		  struct lxgpu_err *err)
{
	_cleanup_free_ char *old_record = read_or_null(rootfd, HOST_RECORD);
	char **old_files = xcalloc(plan->n + 1, sizeof(*old_files));
	char name[512];
	int r = 0;
	size_t i;

	for (i = 0; i < plan->n; i++) {
		const struct host_step *s = &plan->steps[i];
		if (logfd >= 0)
			dprintf(logfd, "--- lxgpu: %s\n", step_name(s, name, sizeof(name)));
		if (s->kind == HOST_STEP_RUN) {
			r = host_run(s->argv, logfd, NULL, 0, err);
			if (r > 0)
				r = lxgpu_failx(err, EIO, "%s failed (exit %d)",
						step_name(s, name, sizeof(name)), r);
		} else {
			old_files[i] = read_or_null(rootfd, s->path);
			r = put_file(rootfd, s->path, s->kind == HOST_STEP_WRITE ? s->text : NULL,
				     err);
		}
		if (r >= 0 && (s->record || s->undo_of))
			r = record(rootfd, undo ? s->undo_of : s->record, undo, err);
		if (r < 0)
			break;
	}
	if (r < 0 && !undo) {
		struct lxgpu_err e = { 0 };
		rollback(rootfd, plan, i, old_files, logfd);
		put_file(rootfd, HOST_RECORD, old_record, &e);
	}
	for (size_t k = 0; k < plan->n; k++)
		free(old_files[k]);
	free(old_files);
	return r < 0 ? r : 0;
}
