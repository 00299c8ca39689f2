/* bench-harness: times commands run alternately, so that every command sees
 * the same machine state, and prints medians, peak RSS and ratios.
 *
 *   bench-harness [--tsv] [--mountns] RUNS NAME 'CMD ARGS...' [NAME 'CMD ARGS...']...
 *   bench-harness --once REPORT CMD [ARGS...]
 *
 * Commands are split on spaces and exec'd directly (no shell, whose start-up
 * would be measured too); leading NAME=VALUE words are put in the command's
 * environment (as env(1) does, without env's own exec); stdout and stderr go
 * to /dev/null. One warm-up round runs first; its times are not kept.
 *
 * --tsv      one line a command, tab-separated: name, median, p10, p90 (ms),
 *            peak RSS (KiB, the largest of every run), failed runs; no ratios.
 * --mountns  every run in a new private mount namespace, made before the
 *            clock starts (LXC has made the container's before it runs a
 *            hook): what the command mounts goes away with the namespace, and
 *            the next run starts from the same mounts. Needs CAP_SYS_ADMIN.
 * --once     runs CMD once with this process's stdin, stdout and stderr and
 *            writes "WALL_MS PEAK_RSS_KIB" to REPORT; exits with CMD's status
 *            (128 + the signal when a signal ended it). For runs that need a
 *            fresh state before each, which the caller makes (bench/run.sh's
 *            sync runs). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8
#define MAX_ARGS 64

struct cmd {
	const char *name;
	char *env[MAX_ARGS];
	char *argv[MAX_ARGS];
	double *ms;
	long max_rss_kib;
	int failures;
};

/* --mountns: the namespace every run's own is copied from, and the working
 * directory to go back to (setns moves it to the namespace's root). */
static int home_ns = -1, home_cwd = -1;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return sorted[i];
}

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "bench-harness: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Back to the home namespace (the last run's goes when its process has
 * gone), then a private copy of it: mounts made in the copy propagate
 * nowhere. */
static void fresh_mount_ns(void)
{
	if (setns(home_ns, CLONE_NEWNS) < 0 || fchdir(home_cwd) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("a new mount namespace");
}

/* Forks, execs and waits for c (quiet: stdout and stderr to /dev/null);
 * returns the wait status, with the wall time and peak RSS. */
static int spawn(const struct cmd *c, bool quiet, double *ms, long *rss_kib)
{
	if (home_ns >= 0)
		fresh_mount_ns();
	double start = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			dup2(null, 2);
		}
		for (int i = 0; c->env[i]; i++)
			putenv(c->env[i]);
		execvp(c->argv[0], c->argv);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
		die("fork");
	*ms = now_ms() - start;
	*rss_kib = ru.ru_maxrss;
	return status;
}

static void run_once(struct cmd *c, int i)
{
	long rss_kib;
	int status = spawn(c, true, &c->ms[i], &rss_kib);
	if (rss_kib > c->max_rss_kib)
		c->max_rss_kib = rss_kib;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		c->failures++;
}

/* Splits "NAME=VALUE... CMD ARGS..." on spaces into c. */
static void parse_cmd(struct cmd *c, char *line)
{
	int nenv = 0, nargs = 0;
	for (char *tok = strtok(line, " "); tok && nargs < MAX_ARGS - 1; tok = strtok(NULL, " ")) {
		if (nargs == 0 && strchr(tok, '=') && nenv < MAX_ARGS - 1)
			c->env[nenv++] = tok;
		else
			c->argv[nargs++] = tok;
	}
}

static int once(const char *report, char **argv)
{
	struct cmd c = { 0 };
	double ms;
	long rss_kib;
	for (int i = 0; argv[i] && i < MAX_ARGS - 1; i++)
		c.argv[i] = argv[i];
	int status = spawn(&c, false, &ms, &rss_kib);
	FILE *f = fopen(report, "w");
	if (!f || fprintf(f, "%.3f %ld\n", ms, rss_kib) < 0 || fclose(f) != 0)
		die(report);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-harness [--tsv] [--mountns] RUNS NAME 'CMD ARGS...' "
			"[NAME 'CMD...']...\n"
			"       bench-harness --once REPORT CMD [ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct cmd cmds[MAX_CMDS] = { 0 };
	int ncmds = 0, a = 1;
	bool tsv = false;

	if (argc >= 4 && strcmp(argv[1], "--once") == 0)
		return once(argv[2], argv + 3);
	for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		if (strcmp(argv[a], "--tsv") == 0) {
			tsv = true;
		} else if (strcmp(argv[a], "--mountns") == 0) {
			home_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
			home_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (home_ns < 0 || home_cwd < 0)
				die("--mountns");
		} else {
			return usage();
		}
	}
	if (argc - a < 3 || (argc - a - 1) % 2 != 0)
		return usage();
	int runs = atoi(argv[a]);
	if (runs < 1)
		return usage();
	for (a++; a + 1 < argc && ncmds < MAX_CMDS; a += 2) {
		struct cmd *c = &cmds[ncmds++];
		c->name = argv[a];
		parse_cmd(c, argv[a + 1]);
		c->ms = calloc((size_t)runs, sizeof(double));
		if (!c->argv[0] || !c->ms)
			return usage();
	}
	/* One warm-up round fills the page cache and dentry cache for all. */
	for (int k = 0; k < ncmds; k++) {
		double *saved = cmds[k].ms;
		double scratch[1];
		cmds[k].ms = scratch;
		run_once(&cmds[k], 0);
		cmds[k].ms = saved;
		cmds[k].failures = 0;
	}
	for (int i = 0; i < runs; i++)
		for (int k = 0; k < ncmds; k++)
			run_once(&cmds[k], i);

	if (!tsv)
		printf("%-16s %8s %8s %8s %10s %6s\n", "command", "median", "p10", "p90",
		       "peak_rss", "fails");
	double median[MAX_CMDS];
	for (int k = 0; k < ncmds; k++) {
		qsort(cmds[k].ms, (size_t)runs, sizeof(double), cmp_double);
		median[k] = pct(cmds[k].ms, runs, 0.5);
		printf(tsv ? "%s\t%.4f\t%.4f\t%.4f\t%ld\t%d\n"
			   : "%-16s %6.3fms %6.3fms %6.3fms %7ldKiB %6d\n",
		       cmds[k].name, median[k], pct(cmds[k].ms, runs, 0.1),
		       pct(cmds[k].ms, runs, 0.9), cmds[k].max_rss_kib, cmds[k].failures);
	}
	for (int k = 1; k < ncmds && !tsv; k++)
		printf("ratio %s/%s = %.3f\n", cmds[0].name, cmds[k].name, median[0] / median[k]);
	for (int k = 0; k < ncmds; k++)
		free(cmds[k].ms);
	return 0;
}
