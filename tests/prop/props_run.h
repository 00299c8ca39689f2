/* props_run: the steps of one property run, shared by props.c (the
 * invariants) and props_run.c (running lxgpu, reading its output with the
 * model). Internal to tests/prop. */
#ifndef PROP_PROPS_RUN_H
#define PROP_PROPS_RUN_H

#include "props.h"

enum step {
	ATTACH,         /* the input, attached as asked, on the host */
	ATTACH_AGAIN,   /* that, attached again */
	SYNC,           /* that, synced on the same host */
	SYNC_INPUT,     /* the input, synced */
	DETACH,         /* the attached config, detached */
	DETACH_INPUT,   /* the input, detached */
	SYNC_AFTER,     /* the attached config, synced on the host after an update */
	DETACH_AFTER,   /* ... detached there */
	REATTACH_AFTER, /* ... and attached again there from its record */
	NSTEPS,
};

/* "sync after attach": for messages */
extern const char *const step_names[NSTEPS];

struct step_out {
	bool done, ok;
	struct text out;
	char why[256];
};

struct prop_run {
	struct prop_input in;
	struct model_request recorded; /* REATTACH_AFTER's request */
	char ids[MODEL_MAX_GPUS][64];
	struct step_out steps[NSTEPS];
};

/* The output of step s (run now if it has not run), NULL when lxgpu refused. */
const struct text *run_step(struct prop_run *r, enum step s);
/* Step s's output as given (NULL: lxgpu refused), instead of running it:
 * outputs written by hand, to check the invariants themselves. */
void prop_run_preset(struct prop_run *r, enum step s, const struct text *out);
/* The config step s reads, and the host it runs on. */
const struct text *input_of(struct prop_run *r, enum step s);
const struct test_host *host_of(const struct prop_run *r, enum step s);

/* A config as the model reads it. */
struct view {
	struct model_config c;
	struct model_record rec;
};
void view(const struct text *t, enum model_format f, struct view *v);
void unview(struct view *v);
/* The GPUs of a step's domain: those attach is asked for, those recorded in
 * what sync and detach read. */
void domain_of(struct prop_run *r, enum step s, const struct view *before,
	       const struct test_host *h, struct model_gpus *g);

/* Failure text: why, the output shown, and what it was compared with. */
enum prop_result fail(struct prop_failure *f, const struct text *shown, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void compared_with(struct prop_failure *f, const char *name, const struct text *t);
/* "line 12 `c 195:* rwm`", control characters as \x0d */
const char *line_name(const struct model_config *c, size_t i, char *buf, size_t size);
bool same_line(const struct model_config *a, size_t i, const struct model_config *b, size_t j);

#endif
