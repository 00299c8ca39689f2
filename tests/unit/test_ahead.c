/* ahead (src/util/ahead.h): every item prepared exactly once, taken in
 * order, discarded once after it was given back, never more than the window
 * prepared ahead of the taker, with any number of workers (none included). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/ahead.h"

struct item {
	size_t index;
	unsigned long value;
	pthread_t by;
};

struct counts {
	pthread_mutex_t lock;
	size_t prepared[2000];
	size_t discarded[2000];
	size_t taken;     /* items the test has given back */
	size_t in_flight; /* prepared or being prepared, not given back */
	size_t most_in_flight;
	pthread_t taker;
	size_t by_taker;
};

static void prepare(void *ctx, size_t i, void *p)
{
	struct counts *c = ctx;
	struct item *it = p;
	pthread_mutex_lock(&c->lock);
	/* the slot is zeroed for each item */
	assert_int_equal(it->index, 0);
	assert_int_equal(it->value, 0);
	c->prepared[i]++;
	c->in_flight++;
	if (c->in_flight > c->most_in_flight)
		c->most_in_flight = c->in_flight;
	if (pthread_equal(pthread_self(), c->taker))
		c->by_taker++;
	pthread_mutex_unlock(&c->lock);
	/* some work, uneven, so that workers finish out of order */
	unsigned long v = i;
	for (size_t k = 0; k < (i % 7) * 300; k++)
		v = v * 6364136223846793005ul + 1442695040888963407ul;
	it->index = i;
	it->value = v;
	it->by = pthread_self();
}

static void discard(void *ctx, void *p)
{
	struct counts *c = ctx;
	struct item *it = p;
	pthread_mutex_lock(&c->lock);
	/* only items given back, each once */
	assert_true(it->index < c->taken);
	c->discarded[it->index]++;
	pthread_mutex_unlock(&c->lock);
}

static unsigned long expected_value(size_t i)
{
	unsigned long v = i;
	for (size_t k = 0; k < (i % 7) * 300; k++)
		v = v * 6364136223846793005ul + 1442695040888963407ul;
	return v;
}

static void run(size_t n, size_t window, unsigned workers, struct counts *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->taker = pthread_self();
	struct ahead *a = ahead_start(n, window, sizeof(struct item), workers, prepare, discard, c);
	for (size_t i = 0; i < n; i++) {
		struct item *it = ahead_take(a, i);
		assert_int_equal(it->index, i);
		assert_true(it->value == expected_value(i));
		if (i % 97 == 0) {
			/* a slow taker: the workers fill the window and wait */
			struct timespec t = { 0, 200000 };
			nanosleep(&t, NULL);
		}
		pthread_mutex_lock(&c->lock);
		c->in_flight--;
		c->taken++;
		pthread_mutex_unlock(&c->lock);
		ahead_give_back(a, i);
	}
	ahead_stop(a);
	pthread_mutex_destroy(&c->lock);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(c->prepared[i], 1);
		assert_int_equal(c->discarded[i], 1);
	}
	assert_true(c->most_in_flight <= window);
}

static void test_no_worker(void **state)
{
	(void)state;
	struct counts c;
	run(500, 8, 0, &c);
	/* no worker: the taker prepares every item, one at a time */
	assert_int_equal(c.by_taker, 500);
	assert_int_equal(c.most_in_flight, 1);
}

static void test_workers(void **state)
{
	(void)state;
	struct counts c;
	for (unsigned w = 1; w <= 4; w++) {
		run(2000, 16, w, &c);
		assert_int_equal(c.taken, 2000);
	}
}

static void test_window_of_one(void **state)
{
	(void)state;
	struct counts c;
	run(300, 1, 3, &c);
	assert_int_equal(c.most_in_flight, 1);
}

static void test_few_items(void **state)
{
	(void)state;
	struct counts c;
	run(0, 16, 2, &c); /* nothing to do: the workers end at once */
	run(1, 16, 4, &c);
	run(3, 16, 8, &c);
}

static void test_workers_bounded(void **state)
{
	(void)state;
	assert_true(ahead_workers(2) <= 2);
	assert_int_equal(ahead_workers(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_worker),       cmocka_unit_test(test_workers),
		cmocka_unit_test(test_window_of_one),   cmocka_unit_test(test_few_items),
		cmocka_unit_test(test_workers_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
