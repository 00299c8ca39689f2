/* progress_bar: a one-line bar on stderr for long work ("label [###   ]  42%
 * 12.3/29.1 MiB"), redrawn in place at most ~10 times a second, and only on a
 * terminal: the work reports bytes through struct progress (util/progress.h). */
#ifndef LXGPU_CLI_PROGRESS_H
#define LXGPU_CLI_PROGRESS_H

#include <stdbool.h>
#include <time.h>

#include "cli/cli.h"
#include "util/progress.h"

struct cli_bar {
	struct progress p;
	char label[128];
	struct timespec last;
	bool drawn;      /* something is on the line: cli_bar_end ends it */
	long long shown; /* bytes of the last drawing, -1 before the first */
};

/* The width of the terminal on fd (TIOCGWINSZ), or fallback. */
int cli_term_columns(int fd, int fallback);

/* The progress to hand to the work: NULL (no bar) unless stderr is a terminal
 * and not --quiet. `total`: bytes expected, 0 when unknown. */
struct progress *cli_bar_start(struct cli_bar *bar, const struct cli *cli, const char *label,
			       long long total);
/* Draws the last state if it was skipped by the rate limit, then a newline. */
void cli_bar_end(struct cli_bar *bar);

#endif
