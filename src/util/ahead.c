/* ahead: prepared on workers, taken in order (see ahead.h). */
#include "util/ahead.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* GIVEN: holds an item given back, for discard to free before the slot's
 * next item is prepared */
enum slot_state { SLOT_FREE, SLOT_CLAIMED, SLOT_READY, SLOT_GIVEN };

struct ahead {
	pthread_mutex_t lock;
	pthread_cond_t space; /* a slot came free, or stop */
	pthread_cond_t ready; /* an item is prepared */
	size_t n, window, item_size;
	size_t next;   /* the next item to claim */
	size_t given;  /* items below it are given back */
	unsigned idle; /* workers waiting for a free slot */
	bool stop;
	unsigned char *state; /* enum slot_state of each slot */
	char *items;          /* item i lives in slot i % window */
	ahead_prepare_fn prepare;
	ahead_discard_fn discard;
	void *ctx;
	pthread_t *threads;
	unsigned nthreads;
};

static void *slot(struct ahead *a, size_t i)
{
	return a->items + (i % a->window) * a->item_size;
}

/* Claims the next item if its slot is free (lock held); false when none.
 * *old: the slot holds an item given back, to discard first. */
static bool claim(struct ahead *a, size_t *i, bool *old)
{
	if (a->stop || a->next >= a->n || a->next >= a->given + a->window)
		return false;
	*i = a->next++;
	*old = a->state[*i % a->window] == SLOT_GIVEN;
	a->state[*i % a->window] = SLOT_CLAIMED;
	return true;
}

/* Prepares item i, claimed, with the lock held on entry and on return. */
static void run(struct ahead *a, size_t i, bool old)
{
	void *item = slot(a, i);
	pthread_mutex_unlock(&a->lock);
	if (old)
		a->discard(a->ctx, item); /* here, not on the taker's thread */
	memset(item, 0, a->item_size);
	a->prepare(a->ctx, i, item);
	pthread_mutex_lock(&a->lock);
	a->state[i % a->window] = SLOT_READY;
	pthread_cond_broadcast(&a->ready);
}

static void *worker(void *arg)
{
	struct ahead *a = arg;
	size_t i;
	bool old;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!claim(a, &i, &old)) {
			if (a->stop || a->next >= a->n) {
				pthread_mutex_unlock(&a->lock);
				return NULL;
			}
			a->idle++;
			pthread_cond_wait(&a->space, &a->lock);
			a->idle--;
		}
		run(a, i, old);
	}
}

struct ahead *ahead_start(size_t n, size_t window, size_t item_size, unsigned workers,
			  ahead_prepare_fn prepare, ahead_discard_fn discard, void *ctx)
{
	struct ahead *a = xcalloc(1, sizeof(*a));
	a->n = n;
	a->window = window > 0 ? window : 1;
	a->item_size = item_size;
	a->prepare = prepare;
	a->discard = discard;
	a->ctx = ctx;
	a->state = xcalloc(a->window, 1);
	a->items = xcalloc(a->window, item_size);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->space, NULL);
	pthread_cond_init(&a->ready, NULL);
	/* the taker prepares what no worker has claimed: one item needs none */
	if (workers >= n)
		workers = n > 0 ? (unsigned)(n - 1) : 0;
	a->threads = xcalloc(workers + 1, sizeof(*a->threads));
	for (unsigned t = 0; t < workers; t++)
		if (pthread_create(&a->threads[a->nthreads], NULL, worker, a) == 0)
			a->nthreads++; /* fewer threads, or none: the caller prepares the rest */
	return a;
}

void *ahead_take(struct ahead *a, size_t i)
{
	size_t mine;
	bool old;
	pthread_mutex_lock(&a->lock);
	/* until item i is ready, the next unclaimed ones (i itself when no
	 * worker has it) are prepared here: a sleep and a wake-up cost more than
	 * an item (about 50 us on a 2-CPU VM: 10,000 configs took 1.0 s instead
	 * of 0.6 s) */
	while (a->state[i % a->window] != SLOT_READY) {
		if (claim(a, &mine, &old))
			run(a, mine, old);
		else
			pthread_cond_wait(&a->ready, &a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return slot(a, i);
}

void ahead_give_back(struct ahead *a, size_t i)
{
	pthread_mutex_lock(&a->lock);
	a->state[i % a->window] = SLOT_GIVEN;
	a->given = i + 1;
	/* idle workers wake once half the window is free, not at every item:
	 * each wake is a system call on the taker's thread */
	if (a->idle > 0 && 2 * (a->given + a->window - a->next) >= a->window)
		pthread_cond_broadcast(&a->space);
	pthread_mutex_unlock(&a->lock);
}

void ahead_stop(struct ahead *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->space);
	pthread_mutex_unlock(&a->lock);
	for (unsigned t = 0; t < a->nthreads; t++)
		pthread_join(a->threads[t], NULL);
	for (size_t k = 0; k < a->window; k++)
		if (a->state[k] == SLOT_GIVEN)
			a->discard(a->ctx, a->items + k * a->item_size);
	pthread_cond_destroy(&a->ready);
	pthread_cond_destroy(&a->space);
	pthread_mutex_destroy(&a->lock);
	free(a->threads);
	free(a->state);
	free(a->items);
	free(a);
}

unsigned ahead_workers(unsigned max)
{
	cpu_set_t set;
	int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
	unsigned n = cpus > 1 ? (unsigned)cpus - 1 : 0;
	return n < max ? n : max;
}
