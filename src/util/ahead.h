/* ahead: items 0..n-1 prepared by worker threads while the caller takes
 * them, in order: `sync --all` reads, plans and writes the next configs
 * while it reports this one. At most `window` items are prepared and not yet given
 * back, so memory stays bounded whatever n is. prepare must be safe to run
 * on several threads at once (it gets its own item; ctx is shared, read
 * only). While the item it takes is not ready, the caller prepares the
 * next ones itself (all of them with no worker). */
#ifndef LXGPU_AHEAD_H
#define LXGPU_AHEAD_H

#include <stddef.h>

typedef void (*ahead_prepare_fn)(void *ctx, size_t i, void *item);
/* Frees what an item given back owns (on a worker, before its slot's next
 * item, or at ahead_stop). */
typedef void (*ahead_discard_fn)(void *ctx, void *item);

struct ahead;

/* workers: how many threads (0: none; fewer when the system gives fewer, and
 * fewer than n).
 * Each item is item_size bytes, zeroed before prepare sees it. */
struct ahead *ahead_start(size_t n, size_t window, size_t item_size, unsigned workers,
			  ahead_prepare_fn prepare, ahead_discard_fn discard, void *ctx);
/* Item i, prepared; i is the one after the last item given back. */
void *ahead_take(struct ahead *a, size_t i);
/* Gives item i back, to be discarded: its slot is the next items'. */
void ahead_give_back(struct ahead *a, size_t i);
/* Waits for the workers, discards what is given back and frees a: after
 * every item was taken and given back (an item prepared and never taken is
 * not discarded). */
void ahead_stop(struct ahead *a);
/* The threads worth starting beside the caller: one less than the CPUs this
 * process may run on, at most max. */
unsigned ahead_workers(unsigned max);

#endif
