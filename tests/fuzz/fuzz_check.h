/* What the fuzz targets share: check(), which aborts naming the target and
 * the line of the property that does not hold, and fuzz_text(), the input
 * after its first byte (which picks the parser) as a copy without a NUL
 * after it, so that a parser that reads past the length is caught. */
#ifndef LXGPU_FUZZ_CHECK_H
#define LXGPU_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define check(ok) fuzz_check_at((ok), __FILE__, __LINE__)
static inline void fuzz_check_at(int ok, const char *file, int line)
{
	if (!ok) {
		fprintf(stderr, "%s: property at line %d does not hold\n", file, line);
		abort();
	}
}

/* size > 0; free the result */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t *len)
{
	*len = size - 1;
	char *text = malloc(*len ? *len : 1);
	if (!text)
		abort();
	memcpy(text, data + 1, *len);
	return text;
}

#endif
