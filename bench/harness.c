/* bench-harness: times commands run alternately, so that every command sees
 * the same machine state, and prints medians, peak RSS and ratios.
 *
 *   bench-harness RUNS NAME 'CMD ARGS...' [NAME 'CMD ARGS...']...
 *
 * Commands are split on spaces and exec'd directly (no shell, whose start-up
 * would be measured too); stdout and stderr go to /dev/null. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8
#define MAX_ARGS 64

struct cmd {
	const char *name;
	char *argv[MAX_ARGS];
	double *ms;
	long max_rss_kib;
	int failures;
};

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

static void run_once(struct cmd *c, int i)
{
	double start = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(c->argv[0], c->argv);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
		perror("bench-harness");
		exit(1);
	}
	c->ms[i] = now_ms() - start;
	if (ru.ru_maxrss > c->max_rss_kib)
		c->max_rss_kib = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		c->failures++;
}

int main(int argc, char **argv)
{
	struct cmd cmds[MAX_CMDS] = { 0 };
	int ncmds = 0;

	if (argc < 4 || (argc - 2) % 2 != 0) {
		fprintf(stderr,
			"usage: bench-harness RUNS NAME 'CMD ARGS...' [NAME 'CMD...']...\n");
		return 2;
	}
	int runs = atoi(argv[1]);
	if (runs < 1)
		return 2;
	for (int a = 2; a + 1 < argc && ncmds < MAX_CMDS; a += 2) {
		struct cmd *c = &cmds[ncmds++];
		int n = 0;
		c->name = argv[a];
		for (char *tok = strtok(argv[a + 1], " "); tok && n < MAX_ARGS - 1;
		     tok = strtok(NULL, " "))
			c->argv[n++] = tok;
		c->ms = calloc((size_t)runs, sizeof(double));
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

	printf("%-16s %8s %8s %8s %10s %6s\n", "command", "median", "p10", "p90", "peak_rss",
	       "fails");
	double median[MAX_CMDS];
	for (int k = 0; k < ncmds; k++) {
		qsort(cmds[k].ms, (size_t)runs, sizeof(double), cmp_double);
		median[k] = pct(cmds[k].ms, runs, 0.5);
		printf("%-16s %6.3fms %6.3fms %6.3fms %7ldKiB %6d\n", cmds[k].name, median[k],
		       pct(cmds[k].ms, runs, 0.1), pct(cmds[k].ms, runs, 0.9), cmds[k].max_rss_kib,
		       cmds[k].failures);
	}
	for (int k = 1; k < ncmds; k++)
		printf("ratio %s/%s = %.3f\n", cmds[0].name, cmds[k].name, median[0] / median[k]);
	return 0;
}
