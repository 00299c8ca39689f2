/* ldcache: parse /etc/ld.so.cache (see ldcache.h). Layout, from glibc's
 * sysdeps/generic/dl-cache.h: a 48-byte header ("glibc-ld.so.cache" "1.1",
 * nlibs, len_strings, flags, padding, extension offset, unused), then nlibs
 * 24-byte entries {int32 flags; uint32 key, value, osversion; uint64 hwcap},
 * then strings; key and value are offsets from the header's start. */
#include "inventory/ldcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define OLD_MAGIC      "ld.so-1.7.0"
#define NEW_MAGIC      "glibc-ld.so.cache1.1"
#define NEW_HEADER     48
#define NEW_ENTRY      24
#define OLD_ENTRY      12
#define FLAG_TYPE_MASK 0x00ff
#define FLAG_ELF_LIBC6 0x0003
#define FLAG_ARCH_MASK 0xff00
#if defined(__x86_64__)
#define FLAG_ARCH 0x0300 /* FLAG_X8664_LIB64 */
#elif defined(__aarch64__)
#define FLAG_ARCH 0x0a00 /* FLAG_AARCH64_LIB64 */
#else
#define FLAG_ARCH 0x0000
#endif

static uint32_t u32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* A NUL-terminated string at `off` inside [0, len), or NULL. */
static const char *string_at(const char *base, size_t len, uint32_t off)
{
	if (off >= len || !memchr(base + off, '\0', len - off))
		return NULL;
	return base + off;
}

bool ldcache_parse(const char *buf, size_t len, struct ldcache *out)
{
	size_t start = 0;

	memset(out, 0, sizeof(out[0]));
	if (len >= sizeof(OLD_MAGIC) - 1 + 5 &&
	    memcmp(buf, OLD_MAGIC, sizeof(OLD_MAGIC) - 1) == 0) {
		/* the old table first: magic[11], then nlibs aligned to 4 */
		uint32_t nold = u32(buf + 12);
		if (nold > len / OLD_ENTRY)
			return false;
		start = 16 + (size_t)nold * OLD_ENTRY;
		start = (start + 7) & ~(size_t)7; /* the new header is 8-aligned */
	}
	if (start > len || len - start < NEW_HEADER ||
	    memcmp(buf + start, NEW_MAGIC, sizeof(NEW_MAGIC) - 1) != 0)
		return false;
	const char *base = buf + start;
	size_t avail = len - start;
	uint32_t nlibs = u32(base + 20);
	if (nlibs > (avail - NEW_HEADER) / NEW_ENTRY)
		return false;
	out->entries = xcalloc(nlibs + 1, sizeof(*out->entries));
	for (uint32_t i = 0; i < nlibs; i++) {
		const char *e = base + NEW_HEADER + (size_t)i * NEW_ENTRY;
		int32_t flags = (int32_t)u32(e);
		if ((flags & FLAG_TYPE_MASK) != FLAG_ELF_LIBC6 ||
		    (flags & FLAG_ARCH_MASK) != FLAG_ARCH)
			continue;
		const char *key = string_at(base, avail, u32(e + 4));
		const char *value = string_at(base, avail, u32(e + 8));
		if (!key || !value || !key[0] || value[0] != '/')
			continue;
		out->entries[out->n++] = (struct ldcache_entry){ key, value };
	}
	return true;
}

void ldcache_free(struct ldcache *c)
{
	free(c->entries);
	memset(c, 0, sizeof(*c));
}
