/* gen: configs and requests as admins really have them, from a seeded PRNG:
 * the same seed gives the same case, so a failure prints its seed and
 * PROP_SEED=<seed> PROP_COUNT=1 runs it again. */
#ifndef PROP_GEN_H
#define PROP_GEN_H

#include <stdint.h>

#include "host.h"
#include "model.h"
#include "ops.h"

struct rng {
	uint64_t state;
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* 0 <= result < n */
unsigned rng_below(struct rng *r, unsigned n);
bool rng_percent(struct rng *r, unsigned percent);

struct gen_case {
	uint64_t seed;
	const struct test_host *host;
	enum model_format format;
	struct text input;
	struct model_request req;
	char selectors[4][64]; /* req.selectors point here */
	char mix[200];         /* "privileged pve: guide igpu pending": what it holds */
};

void gen_case(uint64_t seed, struct gen_case *out);
void gen_case_free(struct gen_case *c);
/* The request for a case made of a fixed config (a fixture). */
void gen_request(struct rng *r, const struct test_host *h, bool pve, bool unprivileged,
		 struct gen_case *out);

#endif
