/* download: an HTTP(S) file into a cache directory, resumed after a cut,
 * reporting its bytes as they come, and checked against its SHA-256 before
 * it gets its final name: the cache never holds a partial or wrong file under
 * that name. libcurl is loaded here only (dlopen), so that the commands that
 * download nothing never load it. */
#ifndef LXGPU_DOWNLOAD_H
#define LXGPU_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/progress.h"

struct download_request {
	const char *url;           /* the file */
	const char *sha256_url;    /* "<64 hex>  <name>", published beside it */
	int dirfd;                 /* the cache directory */
	const char *name;          /* the file's final name in it */
	struct progress *progress; /* bytes as they come, or NULL */
	int attempts;              /* transfers tried while each one gets further (default 3) */
};

/* 0 when dirfd/name is there and matches the published checksum. */
int download_file(const struct download_request *req, struct lxgpu_err *err);
/* A text file of at most max bytes (a checksum file, NVIDIA's latest.txt or
 * its listing of drivers) into *out, NUL-terminated, to be freed. */
int download_text(const char *url, size_t max, char **out, struct lxgpu_err *err);

#endif
