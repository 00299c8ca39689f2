/* progress_bar: the progress bar (see progress_bar.h). */
#include "cli/progress_bar.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int cli_term_columns(int fd, int fallback)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return fallback;
}

static void draw(struct cli_bar *bar)
{
	long long done = bar->p.done, total = bar->p.total;
	double mib = 1 << 20;
	char tail[64], line[512];
	/* one column short of the width: a character in the last column makes
	 * some terminals wrap, and the next \r would then redraw the wrong line */
	int width = cli_term_columns(STDERR_FILENO, 80) - 1, n;

	if (width > (int)sizeof(line) - 1)
		width = (int)sizeof(line) - 1;
	if (total > 0) {
		if (done > total)
			done = total;
		int pct = (int)(100 * done / total);
		snprintf(tail, sizeof(tail), " %3d%% %.1f/%.1f MiB", pct, (double)done / mib,
			 (double)total / mib);
		int label = (int)strlen(bar->label), cells = width - label - 3 - (int)strlen(tail);
		if (cells < 10) { /* a narrow terminal: the label gives way to the bar */
			label += cells - 10;
			cells = 10;
		}
		if (label < 0)
			label = 0;
		int full = (int)(cells * done / total);
		n = snprintf(line, sizeof(line), "%.*s [", label, bar->label);
		for (int i = 0; i < cells && n < (int)sizeof(line) - 1; i++)
			line[n++] = i < full ? '#' : ' ';
		snprintf(line + n, sizeof(line) - (size_t)n, "]%s", tail);
	} else {
		snprintf(tail, sizeof(tail), " %.1f MiB", (double)done / mib);
		n = width - (int)strlen(tail);
		snprintf(line, sizeof(line), "%.*s%s", n > 0 ? n : 0, bar->label, tail);
	}
	line[width > 0 ? width : 0] = '\0';
	/* \r and erase-to-end: the new state replaces the old on the same line */
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	bar->drawn = true;
	bar->shown = bar->p.done;
}

static void on_progress(void *ctx, long long done, long long total)
{
	struct cli_bar *bar = ctx;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - bar->last.tv_sec) * 1000 +
		  (now.tv_nsec - bar->last.tv_nsec) / 1000000;
	/* ~10 redraws a second; the end is always drawn, once (libcurl reports
	 * the finished transfer several times) */
	bool end = total > 0 && done >= total;
	if (bar->drawn && ((ms < 100 && !end) || (end && bar->shown == done)))
		return;
	bar->last = now;
	draw(bar);
}

struct progress *cli_bar_start(struct cli_bar *bar, const struct cli *cli, const char *label,
			       long long total)
{
	memset(bar, 0, sizeof(*bar));
	bar->shown = -1;
	snprintf(bar->label, sizeof(bar->label), "%s", label);
	if (cli->quiet || !isatty(STDERR_FILENO))
		return NULL;
	bar->p.fn = on_progress;
	bar->p.ctx = bar;
	bar->p.total = total;
	return &bar->p;
}

void cli_bar_end(struct cli_bar *bar)
{
	if (!bar->p.fn)
		return;
	if (bar->drawn && bar->shown != bar->p.done)
		draw(bar);
	if (bar->drawn)
		fputc('\n', stderr);
	bar->drawn = false;
}
