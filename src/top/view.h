/* view: a snapshot as text tables (GPUs, containers, processes) that fit a
 * width, for lxgpu top's live view and --once. Pure: lines in memory, the
 * CLI prints them. */
#ifndef LXGPU_TOP_VIEW_H
#define LXGPU_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "top/top.h"

struct view_line {
	char *text;
	bool header; /* a table's header row (bold on a terminal) */
};

struct view {
	struct view_line *lines;
	size_t n, cap;
};

/* width: the most characters (code points) a line may have, 0 for no
 * limit. When a table is wider, its MODEL or COMMAND column is cut with
 * "…", then the columns that matter least go (ENC, DEC, CT PID, GPUS), and
 * last each line is cut. */
void top_view(const struct top_snapshot *snap, size_t width, struct view *out);
void top_view_free(struct view *v);

/* "512 KiB", "3.2 GiB"; "-" for TOP_UNKNOWN. */
void top_bytes_text(unsigned long long bytes, char *buf, size_t size);
/* Display width of UTF-8 text: its code points. */
size_t top_text_width(const char *s);
/* s cut to at most `cols` code points, the last one "…" when it was cut;
 * whole when cols is 0. (The status view's problem lines too.) */
char *top_text_fit(const char *s, size_t cols);

#endif
