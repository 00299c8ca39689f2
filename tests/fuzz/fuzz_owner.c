/* libFuzzer target for docs/ownership.md's invariants 1 to 6 on any config,
 * judged by the property tests' model (tests/prop/model.h), never by
 * lxgpu's own scanner; every call into lxgpu is in tests/prop/ops.c.
 * Input: byte 0 picks the test host (byte / 2) and the format (bit 0:
 * plain LXC); bytes 1 to 3 seed the request (tests/prop/gen.c's
 * gen_request: which GPUs, style, wildcard, guard, prune, gids); the rest
 * is the config. A broken invariant prints why and aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../prop/gen.h"
#include "../prop/props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void print_text(const char *title, const struct text *t)
{
	fprintf(stderr, "--- %s (%zu bytes)\n%.*s\n--- end\n", title, t->len, (int)t->len,
		t->bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	const struct test_host *h = test_hosts[(data[0] / 2) % ntest_hosts];
	enum model_format format = data[0] & 1 ? MODEL_LXC : MODEL_PVE;
	struct text text = { (char *)data + 4, size - 4 };
	struct model_config c;
	struct gen_case req;
	struct rng r;

	model_parse(text.bytes, text.len, format, &c);
	rng_seed(&r, (uint64_t)data[1] << 16 | (uint64_t)data[2] << 8 | data[3]);
	memset(&req, 0, sizeof(req));
	gen_request(&r, h, format == MODEL_PVE, model_unprivileged(&c), &req);
	model_free(&c);

	struct prop_input in = { "fuzz input", 0, h, format, text, &req.req };
	struct prop_run *run = prop_run_new(&in);
	for (int which = 1; which <= 6; which++) {
		struct prop_failure f;
		if (prop_check(which, run, &f) == PROP_FAILS) {
			fprintf(stderr,
				"fuzz_owner: invariant %d (%s) does not hold on host %s: %s\n",
				which, prop_name(which), h->name, f.why);
			print_text("input", &text);
			if (f.shown.bytes)
				print_text("output", &f.shown);
			abort();
		}
		prop_failure_free(&f);
	}
	prop_run_free(run);
	return 0;
}
