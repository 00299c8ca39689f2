/* view: the tables of view.h. */
#include "top/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define MAX_COLS 10

struct column {
	const char *head;
	bool shown;
	bool flex; /* cut first when the table is too wide */
	int drop;  /* dropped in this order when still too wide (1 first); 0 never */
};

struct tab {
	struct column cols[MAX_COLS];
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, row 0 the header */
};

size_t top_text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

char *top_text_fit(const char *s, size_t cols)
{
	if (!cols || top_text_width(s) <= cols)
		return xstrdup(s);
	size_t w = 0;
	const char *p = s;
	for (; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80 && w++ == cols - 1)
			break;
	return xasprintf("%.*s…", (int)(p - s), s);
}

void top_bytes_text(unsigned long long b, char *buf, size_t size)
{
	if (b == TOP_UNKNOWN)
		snprintf(buf, size, "-");
	else if (b < (1ull << 20))
		snprintf(buf, size, "%llu KiB", (b + 1023) >> 10);
	else if (b < (1ull << 30))
		snprintf(buf, size, "%llu MiB", (b + (1ull << 19)) >> 20);
	else
		snprintf(buf, size, "%.1f GiB", (double)b / (double)(1ull << 30));
}

static void pct_text(int p, char *buf, size_t size)
{
	if (p < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d%%", p);
}

static void tab_row(struct tab *t, const char *const *cells)
{
	xgrow(&t->cells, &t->cap, (t->nrows + 1) * t->ncols, sizeof(*t->cells));
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "-");
	t->nrows++;
}

static void tab_init(struct tab *t, const struct column *cols, size_t n)
{
	memset(t, 0, sizeof(*t));
	const char *head[MAX_COLS];
	memcpy(t->cols, cols, n * sizeof(*cols));
	t->ncols = n;
	for (size_t c = 0; c < n; c++)
		head[c] = cols[c].head;
	tab_row(t, head);
}

static void add_line(struct view *v, char *text, bool header)
{
	xgrow(&v->lines, &v->cap, v->n + 1, sizeof(*v->lines));
	v->lines[v->n++] = (struct view_line){ text, header };
}

static size_t total(const struct tab *t, const size_t *w)
{
	size_t sum = 0, n = 0;
	for (size_t c = 0; c < t->ncols; c++)
		if (t->cols[c].shown) {
			sum += w[c];
			n++;
		}
	return n ? sum + 2 * (n - 1) : 0;
}

/* Column widths that fit `width`: the flex column cut, then columns dropped
 * by rank, the flex column cut again after each. */
static void fit_widths(struct tab *t, size_t width, size_t *w)
{
	size_t natural[MAX_COLS];
	int ranks = 0;
	for (size_t c = 0; c < t->ncols; c++) {
		natural[c] = 0;
		for (size_t r = 0; r < t->nrows; r++) {
			size_t x = top_text_width(t->cells[r * t->ncols + c]);
			natural[c] = x > natural[c] ? x : natural[c];
		}
		ranks = t->cols[c].drop > ranks ? t->cols[c].drop : ranks;
	}
	for (int rank = 0;; rank++) {
		for (size_t c = 0; rank > 0 && c < t->ncols; c++)
			if (t->cols[c].drop == rank)
				t->cols[c].shown = false;
		memcpy(w, natural, t->ncols * sizeof(*w));
		for (size_t c = 0; width && c < t->ncols; c++) {
			size_t all = total(t, w);
			if (!t->cols[c].flex || !t->cols[c].shown || all <= width)
				continue;
			size_t least = top_text_width(t->cols[c].head) + 3;
			least = least < natural[c] ? least : natural[c];
			w[c] = natural[c] > least + (all - width) ? natural[c] - (all - width)
								  : least;
		}
		if (!width || total(t, w) <= width || rank >= ranks)
			return;
	}
}

/* The table's lines, each cut to `width` at last. */
static void tab_lines(struct tab *t, size_t width, struct view *v)
{
	size_t w[MAX_COLS];
	fit_widths(t, width, w);
	for (size_t r = 0; r < t->nrows; r++) {
		char *line = xstrdup("");
		size_t last = 0;
		for (size_t c = 0; c < t->ncols; c++)
			if (t->cols[c].shown)
				last = c;
		for (size_t c = 0; c < t->ncols; c++) {
			if (!t->cols[c].shown)
				continue;
			char *cell = top_text_fit(t->cells[r * t->ncols + c], w[c]);
			size_t pad = c == last ? 0 : w[c] - top_text_width(cell) + 2;
			char *next = xasprintf("%s%s%*s", line, cell, (int)pad, "");
			free(cell);
			free(line);
			line = next;
		}
		if (width && top_text_width(line) > width) {
			char *cut = top_text_fit(line, width);
			free(line);
			line = cut;
		}
		add_line(v, line, r == 0);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

static bool any_pct(const struct top_snapshot *snap, bool enc)
{
	for (size_t i = 0; i < snap->ngpus; i++)
		if ((enc ? snap->gpus[i].enc : snap->gpus[i].dec) >= 0)
			return true;
	return false;
}

/* A table whose ENC and DEC columns (at enc, enc + 1) show only when a GPU
 * has them. */
static void tab_video(struct tab *t, const struct column *cols, size_t n, size_t enc,
		      const struct top_snapshot *snap)
{
	tab_init(t, cols, n);
	t->cols[enc].shown = any_pct(snap, true);
	t->cols[enc + 1].shown = any_pct(snap, false);
}

/* The cells of memory and of the three shares. */
struct figures {
	char mem[32], sm[16], enc[16], dec[16];
};

static void figures_text(struct figures *f, unsigned long long mem, int sm, int enc, int dec)
{
	top_bytes_text(mem, f->mem, sizeof(f->mem));
	pct_text(sm, f->sm, sizeof(f->sm));
	pct_text(enc, f->enc, sizeof(f->enc));
	pct_text(dec, f->dec, sizeof(f->dec));
}

static void gpu_table(const struct top_snapshot *snap, size_t width, struct view *v)
{
	static const struct column cols[] = {
		{ "GPU", true, false, 0 },    { "MODEL", true, true, 0 },
		{ "MEMORY", true, false, 0 }, { "UTIL", true, false, 0 },
		{ "ENC", true, false, 1 },    { "DEC", true, false, 1 },
	};
	struct tab t;
	tab_video(&t, cols, 6, 4, snap);
	for (size_t i = 0; i < snap->ngpus; i++) {
		const struct top_gpu *g = &snap->gpus[i];
		struct figures f;
		char index[16], all[32], mem[80];
		snprintf(index, sizeof(index), "%d", g->index);
		figures_text(&f, g->mem_used, g->util, g->enc, g->dec);
		top_bytes_text(g->mem_total, all, sizeof(all));
		snprintf(mem, sizeof(mem), "%s / %s", f.mem, all);
		const char *row[] = { index, g->model, mem, f.sm, f.enc, f.dec };
		tab_row(&t, row);
	}
	tab_lines(&t, width, v);
}

/* "0,1" from a bit set of GPU positions, as their indices. */
static void gpus_text(const struct top_snapshot *snap, unsigned long long bits, char *buf,
		      size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < snap->ngpus && i < 64 && n + 12 < size; i++)
		if (bits & (1ull << i))
			n += (size_t)snprintf(buf + n, size - n, "%s%d", n ? "," : "",
					      snap->gpus[i].index);
}

static void ct_table(const struct top_snapshot *snap, size_t width, struct view *v)
{
	static const struct column cols[] = {
		{ "CT", true, true, 0 },      { "GPUS", true, false, 3 },
		{ "MEMORY", true, false, 0 }, { "SM", true, false, 0 },
		{ "ENC", true, false, 1 },    { "DEC", true, false, 1 },
		{ "PROCS", true, false, 2 },
	};
	struct tab t;
	tab_video(&t, cols, 7, 4, snap);
	for (size_t i = 0; i < snap->ncts; i++) {
		const struct top_ct *c = &snap->cts[i];
		struct figures f;
		char gpus[64], procs[16];
		gpus_text(snap, c->gpus, gpus, sizeof(gpus));
		figures_text(&f, c->mem, c->sm, c->enc, c->dec);
		snprintf(procs, sizeof(procs), "%zu", c->nprocs);
		const char *row[] = { c->ct ? c->ct : "(host)",
				      gpus[0] ? gpus : NULL,
				      f.mem,
				      f.sm,
				      f.enc,
				      f.dec,
				      procs };
		tab_row(&t, row);
	}
	tab_lines(&t, width, v);
}

static void proc_table(const struct top_snapshot *snap, size_t width, struct view *v)
{
	static const struct column cols[] = {
		{ "PID", true, false, 0 },    { "CT", true, false, 0 },
		{ "CT PID", true, false, 2 }, { "GPU", true, false, 0 },
		{ "MEMORY", true, false, 0 }, { "SM", true, false, 0 },
		{ "ENC", true, false, 1 },    { "DEC", true, false, 1 },
		{ "COMMAND", true, true, 0 },
	};
	struct tab t;
	tab_video(&t, cols, 9, 6, snap);
	for (size_t i = 0; i < snap->nprocs; i++) {
		const struct top_proc *p = &snap->procs[i];
		struct figures f;
		char pid[16], ctpid[16], gpu[16], ct[160];
		snprintf(pid, sizeof(pid), "%d", p->pid);
		snprintf(ctpid, sizeof(ctpid), "%d", p->ct_pid);
		snprintf(gpu, sizeof(gpu), "%d", snap->gpus[p->gpu].index);
		/* "101/podman": the engine of a nested container (its id is in --json) */
		snprintf(ct, sizeof(ct), "%s%s%.*s", p->ct ? p->ct : "(host)", p->nested ? "/" : "",
			 p->nested ? (int)strcspn(p->nested, " ") : 0, p->nested ? p->nested : "");
		figures_text(&f, p->mem, p->sm, p->enc, p->dec);
		const char *row[] = { pid,   ct,    p->ct_pid >= 0 ? ctpid : NULL,
				      gpu,   f.mem, f.sm,
				      f.enc, f.dec, p->command };
		tab_row(&t, row);
	}
	tab_lines(&t, width, v);
}

void top_view(const struct top_snapshot *snap, size_t width, struct view *out)
{
	memset(out, 0, sizeof(*out));
	if (snap->ngpus == 0) {
		add_line(out, top_text_fit("no GPU that lxgpu top can read", width ? width : 100),
			 false);
		return;
	}
	gpu_table(snap, width, out);
	add_line(out, xstrdup(""), false);
	if (snap->ncts == 0) {
		add_line(out, top_text_fit("no process uses a GPU", width ? width : 100), false);
		return;
	}
	ct_table(snap, width, out);
	add_line(out, xstrdup(""), false);
	proc_table(snap, width, out);
}

void top_view_free(struct view *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->lines[i].text);
	free(v->lines);
	memset(v, 0, sizeof(*v));
}
