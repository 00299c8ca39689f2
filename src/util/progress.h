/* progress: how long work (a download, a driver copy) reports the bytes it has
 * done. The work calls progress_add; what is shown, if anything, is the
 * caller's (only the CLI prints). A NULL struct progress * means nobody asked. */
#ifndef LXGPU_PROGRESS_H
#define LXGPU_PROGRESS_H

struct progress {
	void (*fn)(void *ctx, long long done, long long total);
	void *ctx;
	long long done, total; /* bytes so far and in all; total 0 when unknown */
};

static inline void progress_set(struct progress *p, long long done, long long total)
{
	if (!p || !p->fn)
		return;
	p->done = done;
	p->total = total;
	p->fn(p->ctx, done, total);
}

static inline void progress_add(struct progress *p, long long n)
{
	if (p)
		progress_set(p, p->done + n, p->total);
}

#endif
