/* Allocation that cannot fail: running out of memory aborts (README),
 * as in crun and bubblewrap, so callers never carry an OOM path. */
#ifndef LXGPU_XALLOC_H
#define LXGPU_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Grows *p (holding *cap elements of `size`) to hold at least `need`. */
void xgrow(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
