/* ops: every call the property tests make into lxgpu, in this one file and
 * ops.c, written against lxgpu's API as it is; when the API changes, only
 * ops.c changes. Nothing here decides whether lxgpu was right: the model
 * does (model.h). */
#ifndef PROP_OPS_H
#define PROP_OPS_H

#include <stddef.h>

#include "host.h"
#include "model.h"

/* A config's bytes. */
struct text {
	char *bytes;
	size_t len;
};

/* What `lxgpu attach` makes of the config on host h (as CT 104), into *out
 * (free out->bytes). False when lxgpu refuses, with why. */
bool op_attach(const struct test_host *h, enum model_format format, const struct text *in,
	       const struct model_request *req, struct text *out, char *why, size_t size);
/* `lxgpu sync`: the same from the config's record (prune: --prune). */
bool op_sync(const struct test_host *h, enum model_format format, const struct text *in, bool prune,
	     struct text *out, char *why, size_t size);
/* `lxgpu detach`. */
bool op_detach(const struct test_host *h, enum model_format format, const struct text *in,
	       struct text *out, char *why, size_t size);
/* Frees the inventories made of the test hosts. */
void ops_cleanup(void);

#endif
