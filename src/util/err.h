/* The error contract (README): a function that can fail takes
 * `struct lxgpu_err *err` last and returns a negative errno (or NULL). The
 * failure site names the object and the cause, once; each stage on the way up
 * may prefix context with lxgpu_wrap; only the CLI prints it, once. */
#ifndef LXGPU_ERR_H
#define LXGPU_ERR_H

#include <stdbool.h>

struct lxgpu_err {
	int code;       /* errno-style cause, never 0 once set */
	char msg[1024]; /* lower case, no trailing punctuation, so prefixes compose */
};

/* Sets "<what>: <strerror(code)>" and returns -code. */
int lxgpu_fail(struct lxgpu_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets "<what>" alone (the message already says why) and returns -code. */
int lxgpu_failx(struct lxgpu_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes "<context>: " to the message already set and returns -code. */
int lxgpu_wrap(struct lxgpu_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lxgpu_err_clear(struct lxgpu_err *err);

static inline bool lxgpu_err_is_set(const struct lxgpu_err *err)
{
	return err->code != 0;
}

#endif
