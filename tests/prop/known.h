/* known: issue 14's five cases, each as the smallest config that shows it.
 * They run with the generated configs and the fixtures; each must hold
 * every invariant once lxgpu keeps docs/ownership.md. */
#ifndef PROP_KNOWN_H
#define PROP_KNOWN_H

#include "host.h"
#include "model.h"

struct known_case {
	const char *name;
	const char *host; /* a test host's name */
	enum model_format format;
	const char *text;
	struct model_request req;
};

extern const struct known_case known_cases[];
extern const size_t nknown_cases;

#endif
