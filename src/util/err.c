#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __attribute__((format(printf, 4, 0))) int
set_message(struct lxgpu_err *err, int code, bool with_cause, const char *fmt, va_list ap)
{
	if (code <= 0)
		code = EINVAL;
	/* Set once: the first failure is the cause; later ones are consequences. */
	if (err->code != 0)
		return -err->code;
	err->code = code;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_cause && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
	return -code;
}

int lxgpu_fail(struct lxgpu_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_message(err, code, true, fmt, ap);
	va_end(ap);
	return r;
}

int lxgpu_failx(struct lxgpu_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_message(err, code, false, fmt, ap);
	va_end(ap);
	return r;
}

int lxgpu_wrap(struct lxgpu_err *err, const char *fmt, ...)
{
	char prefix[512];
	va_list ap;

	if (err->code == 0)
		err->code = EINVAL;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -err->code;
	size_t plen = strlen(prefix), size = sizeof(err->msg);
	size_t keep = strnlen(err->msg, size - 1);
	if (plen + 2 + keep > size - 1)
		keep = size - 1 - plen - 2; /* plen < 512 < size - 2 */
	memmove(err->msg + plen + 2, err->msg, keep);
	err->msg[plen + 2 + keep] = '\0';
	memcpy(err->msg, prefix, plen);
	err->msg[plen] = ':';
	err->msg[plen + 1] = ' ';
	return -err->code;
}

void lxgpu_err_clear(struct lxgpu_err *err)
{
	err->code = 0;
	err->msg[0] = '\0';
}
