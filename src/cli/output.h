/* Text and JSON output shared by the commands. */
#ifndef LXGPU_CLI_OUTPUT_H
#define LXGPU_CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "inventory/inventory.h"
#include "util/err.h"

/* Prints "lxgpu: <msg>" on stderr, in one write, and returns `code`. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error of err's message with EXIT_FAILED. */
int cli_fail(const struct lxgpu_err *err);

#define C_BOLD   "\033[1m"
#define C_DIM    "\033[2m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RESET  "\033[0m"

struct table {
	size_t ncols, nrows, cap;
	char **cells; /* row-major, nrows * ncols, row 0 is the header */
};

void table_init(struct table *t, size_t ncols, const char *const *header);
/* Adds a row of ncols cells; NULL prints as "-". */
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f, bool color, const char *indent);
void table_free(struct table *t);

const char *color_of(bool color, const char *code);
const char *severity_symbol(enum lxgpu_severity s);
const char *severity_color(enum lxgpu_severity s);
/* "✓ no findings" or one block per finding, with its fix. */
void print_findings(FILE *f, const struct lxgpu_finding *findings, size_t n, bool color);

/* Dumps doc (with "schema": 1 already set by the caller) and frees it. */
int print_json(json_t *doc);
/* A whole file as a unified diff: OLD NULL for a new file, NEW NULL for a
 * removed one; PATH is the host's or the container's view ("/etc/..."). */
char *whole_file_diff(const char *path, const char *old, const char *new);
/* A JSON string even when s is not UTF-8 (bad bytes become '?'). */
json_t *json_text(const char *s);
json_t *json_str_or_null(const char *s);
json_t *findings_json(const struct lxgpu_finding *findings, size_t n);

/* A list of checks, each ✓ / ! / ✗ with its fix: printed as it grows, or
 * collected as JSON {id, status, message, fix}. `worst` is the worst status
 * (enum pt_status: 0 ok, 1 warning, 2 error). */
struct verdicts {
	json_t *list;
	int worst;
	bool color, json;
	const char *indent; /* before each text line, "" when NULL */
};
void verdict(struct verdicts *v, int status, const char *id, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The host part of discover, reused by the status view. */
void print_drivers(FILE *f, const struct lxgpu_inventory *inv, bool color);
/* uuid: with the UUID column (status leaves it to discover, to fit a terminal) */
void print_gpus(FILE *f, const struct lxgpu_inventory *inv, bool color, bool uuid);
json_t *inventory_json(const struct lxgpu_inventory *inv);

#endif
