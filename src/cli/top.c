/* `lxgpu top [CT...]`: GPU memory, SM time and processes by container. Live
 * on a terminal: the alternate screen, redrawn in place every interval
 * (cursor home, each line over the last one, the rest erased: no clearing,
 * no flicker), q quits, a resize redraws at once, and the terminal is put
 * back on q, SIGINT, SIGTERM and SIGHUP. --once, --json or not on a
 * terminal: one table (one document) of the figures over one interval. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gpu_use.h"
#include "cli/output.h"
#include "cli/progress_bar.h"
#include "top/view.h"
#include "util/xalloc.h"

static json_t *pct_json(int p)
{
	return p < 0 ? json_null() : json_integer(p);
}

static json_t *bytes_json(unsigned long long b)
{
	return b == TOP_UNKNOWN ? json_null() : json_integer((json_int_t)b);
}

static json_t *gpu_json(const struct top_gpu *g)
{
	json_t *o = json_object();
	json_object_set_new(o, "index", json_integer(g->index));
	json_object_set_new(o, "vendor", json_text(lxgpu_vendor_name(g->vendor)));
	json_object_set_new(o, "model", json_text(g->model));
	json_object_set_new(o, "uuid", json_str_or_null(g->uuid[0] ? g->uuid : NULL));
	json_object_set_new(o, "pci", json_str_or_null(g->pci[0] ? g->pci : NULL));
	json_object_set_new(o, "memory_used", bytes_json(g->mem_used));
	json_object_set_new(o, "memory_total", bytes_json(g->mem_total));
	json_object_set_new(o, "utilization", pct_json(g->util));
	json_object_set_new(o, "encoder", pct_json(g->enc));
	json_object_set_new(o, "decoder", pct_json(g->dec));
	json_object_set_new(o, "source", json_text(g->source));
	return o;
}

static json_t *proc_json(const struct top_snapshot *snap, const struct top_proc *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "pid", json_integer(p->pid));
	json_object_set_new(o, "ct_pid", p->ct_pid >= 0 ? json_integer(p->ct_pid) : json_null());
	json_object_set_new(o, "nested", json_str_or_null(p->nested));
	json_object_set_new(o, "command", json_text(p->command));
	json_object_set_new(o, "gpu", json_integer(snap->gpus[p->gpu].index));
	json_object_set_new(o, "memory", bytes_json(p->mem));
	json_object_set_new(o, "sm", pct_json(p->sm));
	json_object_set_new(o, "encoder", pct_json(p->enc));
	json_object_set_new(o, "decoder", pct_json(p->dec));
	return o;
}

static json_t *top_json(const struct top_snapshot *snap)
{
	json_t *doc = json_object(), *gpus = json_array(), *cts = json_array();
	json_object_set_new(doc, "schema", json_integer(1));
	json_object_set_new(doc, "milliseconds",
			    json_integer((json_int_t)(snap->seconds * 1000 + 0.5)));
	for (size_t i = 0; i < snap->ngpus; i++)
		json_array_append_new(gpus, gpu_json(&snap->gpus[i]));
	for (size_t i = 0; i < snap->ncts; i++) {
		const struct top_ct *c = &snap->cts[i];
		json_t *o = json_object(), *used = json_array(), *procs = json_array();
		json_object_set_new(o, "ct", json_str_or_null(c->ct));
		for (size_t g = 0; g < snap->ngpus && g < 64; g++)
			if (c->gpus & (1ull << g))
				json_array_append_new(used, json_integer(snap->gpus[g].index));
		json_object_set_new(o, "gpus", used);
		json_object_set_new(o, "memory", json_integer((json_int_t)c->mem));
		json_object_set_new(o, "sm", pct_json(c->sm));
		json_object_set_new(o, "encoder", pct_json(c->enc));
		json_object_set_new(o, "decoder", pct_json(c->dec));
		for (size_t k = 0; k < c->nprocs; k++)
			json_array_append_new(procs, proc_json(snap, &snap->procs[c->first + k]));
		json_object_set_new(o, "processes", procs);
		json_array_append_new(cts, o);
	}
	json_object_set_new(doc, "gpus", gpus);
	json_object_set_new(doc, "containers", cts);
	return doc;
}

/* The view's lines into f: bold headers on colour, \e[K after each line in
 * the live view (`live`), at most `rows` lines (0: all). */
static void put_lines(FILE *f, const struct view *v, bool color, bool live, size_t rows)
{
	size_t n = rows && v->n > rows ? rows - 1 : v->n;
	for (size_t i = 0; i < n; i++) {
		const struct view_line *l = &v->lines[i];
		fprintf(f, "%s%s%s%s%s", i && live ? "\n" : "",
			color_of(color && l->header, C_BOLD), l->text,
			color_of(color && l->header, C_RESET), live ? "\033[K" : "\n");
	}
	if (n < v->n)
		fprintf(f, "%s%s… %zu more lines (a taller terminal shows them)%s%s",
			n && live ? "\n" : "", color_of(color, C_DIM), v->n - n,
			color_of(color, C_RESET), live ? "\033[K" : "\n");
}

static int once(struct cli *cli, struct gpu_use *u)
{
	struct top_snapshot first, snap;
	int r;
	if ((r = gpu_use_next(u, 0, &first)) >= 0)
		return r;
	top_snapshot_free(&first);
	if ((r = gpu_use_next(u, u->interval, &snap)) >= 0)
		return r;
	if (cli->json) {
		json_t *doc = top_json(&snap);
		top_snapshot_free(&snap);
		return print_json(doc);
	}
	struct view v;
	bool tty = isatty(STDOUT_FILENO);
	top_view(&snap, tty ? (size_t)cli_term_columns(STDOUT_FILENO, 80) : 0, &v);
	put_lines(stdout, &v, cli->color, false, 0);
	top_view_free(&v);
	top_snapshot_free(&snap);
	return EXIT_OK;
}

static volatile sig_atomic_t stop_signal, resized;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		stop_signal = sig;
}

/* All of s, in as few writes as the terminal takes (a signal may cut one). */
static void put(const char *s, size_t size)
{
	for (size_t done = 0; done < size;) {
		ssize_t w = write(STDOUT_FILENO, s + done, size - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
}

/* One frame, written at once: home, the title, the tables, the rest erased. */
static void draw(struct cli *cli, const struct top_snapshot *snap, double interval)
{
	struct winsize ws = { 0 };
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row)
		ws = (struct winsize){ .ws_row = 24, .ws_col = 80 };
	/* one column short: a character in the last column makes some
	 * terminals wrap before the erase */
	size_t width = ws.ws_col > 1 ? ws.ws_col - 1u : 1;
	char *buf = NULL, clock[16], title[256];
	size_t size = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return;
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	snprintf(title, sizeof(title), "lxgpu top  %s  every %g s  q quits%s%s", clock, interval,
		 strcmp(cli->sysroot, "/") ? "  host root " : "",
		 strcmp(cli->sysroot, "/") ? cli->sysroot : "");
	char *fitted = top_text_fit(title, width);
	fprintf(f, "\033[H%s%s%s\033[K\n\033[K\n", color_of(cli->color, C_DIM), fitted,
		color_of(cli->color, C_RESET));
	free(fitted);
	struct view v;
	top_view(snap, width, &v);
	put_lines(f, &v, cli->color, true, ws.ws_row > 2 ? ws.ws_row - 2u : 1);
	top_view_free(&v);
	fputs("\033[J", f);
	fclose(f);
	put(buf, size);
	free(buf);
}

/* Waits up to ms for q, a resize or a signal: 'q', 'r' (resized), 's'
 * (a signal) or 0 (the time is up). */
static int wait_key(bool keys, int ms)
{
	struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
	for (;;) {
		if (stop_signal)
			return 's';
		if (resized) {
			resized = 0;
			return 'r';
		}
		int n = poll(&p, keys ? 1 : 0, ms);
		if (n <= 0)
			return n == 0 ? 0 : stop_signal ? 's' : resized ? 'r' : 0;
		char c;
		if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
			return 'q';
		if (p.revents & (POLLHUP | POLLERR))
			keys = false;
	}
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int live(struct cli *cli, struct gpu_use *u)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };
	struct sigaction sa = { .sa_handler = on_signal }, old[4];
	struct termios saved, raw;
	struct top_snapshot snap;
	bool keys = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	int r = -1;

	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]); /* no SA_RESTART: poll returns at once */
	if (keys) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J",
			  leave[] = "\033[?25h\033[?1049l";
	put(enter, sizeof(enter) - 1);
	if ((r = gpu_use_next(u, 0, &snap)) < 0) {
		double next = mono() + u->interval;
		for (;;) {
			draw(cli, &snap, u->interval);
			double left = next - mono();
			int k = wait_key(keys, left > 0 ? (int)(left * 1000) + 1 : 0);
			if (k == 'q' || k == 's')
				break;
			if (k == 'r')
				continue; /* the same figures, at the new size */
			top_snapshot_free(&snap);
			next = mono() + u->interval;
			if ((r = gpu_use_next(u, 0, &snap)) >= 0)
				break;
		}
		if (r < 0)
			top_snapshot_free(&snap);
	}
	put(leave, sizeof(leave) - 1);
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (r >= 0)
		return r;
	return stop_signal ? 128 + stop_signal : EXIT_OK;
}

int cmd_top(struct cli *cli)
{
	struct gpu_use u;
	int r = gpu_use_open(cli, cli->args, (size_t)cli->nargs, &u);
	if (r >= 0)
		return r;
	if (cli->once || cli->json || !isatty(STDOUT_FILENO))
		r = once(cli, &u);
	else
		r = live(cli, &u);
	gpu_use_close(&u);
	return r;
}
