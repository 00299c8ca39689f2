/* output: text and JSON shared by the commands (tables, colours, verdicts,
 * diffs), and the one way a message reaches stderr (cli_error). Calls
 * nothing of the commands or the table. */
#include "cli/output.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/xalloc.h"

int cli_error(int code, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n = snprintf(line, sizeof(line), "lxgpu: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	/* one write: LXC logs a hook's output per read, and a line must stay one entry */
	fflush(stderr);
	(void)!write(STDERR_FILENO, line, strlen(line));
	return code;
}

int cli_fail(const struct lxgpu_err *err)
{
	return cli_error(EXIT_FAILED, "%s", err->msg[0] ? err->msg : "failed");
}

void table_init(struct table *t, size_t ncols, const char *const *header)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	table_add(t, header);
}

void table_add(struct table *t, const char *const *cells)
{
	xgrow(&t->cells, &t->cap, (t->nrows + 1) * t->ncols, sizeof(*t->cells));
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "-");
	t->nrows++;
}

/* Display width of UTF-8 text: count code points, not bytes. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void table_print(const struct table *t, FILE *f, bool color, const char *indent)
{
	size_t widths[16] = { 0 };
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < 16; c++) {
			size_t w = width(t->cells[r * t->ncols + c]);
			if (w > widths[c])
				widths[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent, f);
		if (r == 0)
			fputs(color_of(color, C_BOLD), f);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			bool last = c + 1 == t->ncols;
			fputs(cell, f);
			if (!last)
				fprintf(f, "%*s", (int)(widths[c] - width(cell) + 2), "");
		}
		if (r == 0)
			fputs(color_of(color, C_RESET), f);
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

const char *color_of(bool color, const char *code)
{
	return color ? code : "";
}

const char *severity_symbol(enum lxgpu_severity s)
{
	return s == LXGPU_ERROR ? "✗" : s == LXGPU_WARNING ? "!" : "i";
}

const char *severity_color(enum lxgpu_severity s)
{
	return s == LXGPU_ERROR ? C_RED : s == LXGPU_WARNING ? C_YELLOW : C_DIM;
}

void print_findings(FILE *f, const struct lxgpu_finding *findings, size_t n, bool color)
{
	if (n == 0) {
		fprintf(f, "%s✓%s no findings\n", color_of(color, C_GREEN),
			color_of(color, C_RESET));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct lxgpu_finding *x = &findings[i];
		fprintf(f, "%s%s %s%s  %s\n", color_of(color, severity_color(x->severity)),
			severity_symbol(x->severity), x->id, color_of(color, C_RESET), x->message);
		if (x->fix)
			fprintf(f, "    %sfix:%s %s\n", color_of(color, C_DIM),
				color_of(color, C_RESET), x->fix);
	}
}

int print_json(json_t *doc)
{
	int r = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(doc);
	fputc('\n', stdout);
	return r == 0 ? EXIT_OK : cli_error(EXIT_FAILED, "stdout: cannot write JSON");
}

json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	/* Not UTF-8 (a byte from a hand-edited config, say): show it, escaped. */
	char *copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *json_str_or_null(const char *s)
{
	return s ? json_text(s) : json_null();
}

json_t *findings_json(const struct lxgpu_finding *findings, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_object();
		json_object_set_new(f, "id", json_text(findings[i].id));
		json_object_set_new(f, "severity",
				    json_text(lxgpu_severity_name(findings[i].severity)));
		json_object_set_new(f, "message", json_text(findings[i].message));
		json_object_set_new(f, "fix", json_str_or_null(findings[i].fix));
		json_array_append_new(arr, f);
	}
	return arr;
}

void verdict(struct verdicts *v, int status, const char *id, const char *fix, const char *fmt, ...)
{
	static const char *const symbols[] = { "✓", "!", "✗" };
	static const char *const colors[] = { C_GREEN, C_YELLOW, C_RED };
	static const char *const names[] = { "ok", "warning", "error" };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status > v->worst)
		v->worst = status;
	if (v->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_text(id));
		json_object_set_new(o, "status", json_text(names[status]));
		json_object_set_new(o, "message", json_text(msg));
		json_object_set_new(o, "fix", json_str_or_null(fix));
		json_array_append_new(v->list, o);
		return;
	}
	const char *indent = v->indent ? v->indent : "";
	printf("%s%s%s%s %s\n", indent, color_of(v->color, colors[status]), symbols[status],
	       color_of(v->color, C_RESET), msg);
	if (fix)
		printf("%s    %sfix:%s %s\n", indent, color_of(v->color, C_DIM),
		       color_of(v->color, C_RESET), fix);
}

/* "- " or "+ " before each line of text, as a unified diff's body. */
static void diff_lines(FILE *f, char sign, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		fprintf(f, "%c%.*s\n", sign, (int)n, p);
		p += n + (p[n] == '\n');
	}
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

char *whole_file_diff(const char *path, const char *old, const char *new)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return xstrdup("");
	size_t nold = old ? count_lines(old) : 0, nnew = new ? count_lines(new) : 0;
	fprintf(f, "--- %s%s\n+++ %s%s\n@@ -%zu,%zu +%zu,%zu @@\n", old ? "a" : "/dev/null",
		old ? path : "", new ? "b" : "/dev/null", new ? path : "", (size_t)(nold ? 1 : 0),
		nold, (size_t)(nnew ? 1 : 0), nnew);
	if (old)
		diff_lines(f, '-', old);
	if (new)
		diff_lines(f, '+', new);
	fclose(f);
	return buf;
}
