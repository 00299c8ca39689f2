/* config: a Proxmox (/etc/pve/lxc/<vmid>.conf) or plain LXC container config
 * as lines that keep every byte. Pure text: parses, edits the main section
 * only, renders; never prints, never touches a file. Grammar:
 * pve-container's parse_pct_config (PVE) and LXC's "key = value". */
#ifndef LXGPU_CONFIG_H
#define LXGPU_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* pmxcfs refuses files over 1 MiB (pve-cluster's memdb.h); LXC has no
 * limit, but no sane config is larger. */
#define CONF_MAX (1024u * 1024u)

enum conf_format { CONF_PVE, CONF_LXC };

enum conf_kind {
	CONF_BLANK,
	CONF_COMMENT, /* PVE: description text; LXC: a comment */
	CONF_SECTION, /* PVE: [pve:pending] or [snapshot] */
	CONF_KEY,
	CONF_INVALID, /* neither parser would take it */
};

struct conf_line {
	size_t off, len; /* its bytes in text, without the "\n" */
	bool eol;        /* ends with "\n" (only the last line may not) */
	enum conf_kind kind;
	char *key, *value; /* CONF_KEY: trimmed copies; value may be "" */
};

struct conf {
	enum conf_format format;
	char *text;
	size_t len;
	struct conf_line *lines;
	size_t nlines, cap;
	size_t main_end; /* index of the first section header, or nlines */
	size_t pending;  /* index of "[pve:pending]", or nlines when none */
};

/* Fails only on what no parser would read: NUL bytes, more than CONF_MAX.
 * Invalid lines are kept as CONF_INVALID; see conf_first_invalid. */
int conf_parse(const char *text, size_t len, enum conf_format format, struct conf *out,
	       struct lxgpu_err *err);
void conf_free(struct conf *c);

/* The first CONF_INVALID line of the main section, or -1. */
long conf_first_invalid(const struct conf *c);
/* Last value of `key` in the main section ("" for an empty value), or NULL. */
const char *conf_get(const struct conf *c, const char *key);
/* Same, within [pve:pending]. */
const char *conf_get_pending(const struct conf *c, const char *key);
/* Whether the key is a boolean true the way Proxmox reads one (1|on|yes|true). */
bool conf_is_true(const char *value);
/* The bytes of line i, for messages: NUL-terminated copy. */
char *conf_line_text(const struct conf *c, size_t i);

/* An edit of the main section: lines to remove, lines to replace in place,
 * and new lines (without "\n") to insert before line `insert_at`. */
struct conf_edit {
	bool *remove;   /* nlines flags */
	char **replace; /* nlines: the line that takes a removed one's place, or NULL */
	size_t nlines;
	size_t insert_at;
	char **insert;
	size_t ninsert, cap;
};
void conf_edit_init(struct conf_edit *e, const struct conf *c);
/* Puts new lines after the last kept non-blank line of the main section. */
void conf_edit_place(struct conf_edit *e, const struct conf *c);
void conf_edit_add(struct conf_edit *e, const char *line);
/* Line i goes, `line` takes its place. */
void conf_edit_replace(struct conf_edit *e, size_t i, const char *line);
bool conf_edit_changes(const struct conf_edit *e, const struct conf *c);
/* The lines the edit writes: replacements in line order, then the inserted
 * ones. The array is the caller's to free, the lines the edit's. */
const char **conf_edit_added(const struct conf_edit *e, size_t *n);
void conf_edit_free(struct conf_edit *e);

/* The new text. A last line without "\n" gains one when lines follow it. */
char *conf_render(const struct conf *c, const struct conf_edit *e, size_t *len);
/* A unified diff (3 lines of context) of the edit, labelled a/LABEL b/LABEL. */
char *conf_diff(const struct conf *c, const struct conf_edit *e, const char *label);

/* "key: value" (PVE) or "key = value" (LXC). */
char *conf_format_line(enum conf_format format, const char *key, const char *value);

#endif
