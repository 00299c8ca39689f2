/* props: the 7 invariants of docs/ownership.md, each decided by the model
 * (model.h) on what lxgpu made (ops.h) of one config. Shared by the
 * property test (prop_config.c) and the fuzz target (fuzz_owner.c). */
#ifndef PROP_PROPS_H
#define PROP_PROPS_H

#include <stdint.h>

#include "host.h"
#include "model.h"
#include "ops.h"

#define NPROPS 7

struct prop_input {
	const char *label; /* what the config holds, or the fixture's name */
	uint64_t seed;     /* 0 for a fixture */
	const struct test_host *host;
	enum model_format format;
	struct text text;
	const struct model_request *req;
};

enum prop_result { PROP_HOLDS, PROP_FAILS, PROP_SKIPPED };

struct prop_failure {
	char why[1024];    /* which step, and which line broke it */
	struct text shown; /* the output that breaks it (malloc'd), or none */
	struct text other; /* what it was compared with (malloc'd), or none */
	const char *other_name;
};

/* An input and what lxgpu made of it, each step run when first needed. */
struct prop_run;
struct prop_run *prop_run_new(const struct prop_input *in);
void prop_run_free(struct prop_run *run);
/* Invariant `which` (1 to 7); on PROP_FAILS, *f says why. PROP_SKIPPED when
 * it says nothing about this input (lxgpu refused the attach, invariant 6 on
 * a config with lines of the vendor...). */
enum prop_result prop_check(int which, struct prop_run *run, struct prop_failure *f);
void prop_failure_free(struct prop_failure *f);
/* One line: the invariant's name. */
const char *prop_name(int which);

#endif
