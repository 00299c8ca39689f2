/* download: cached, resumed, checked downloads (see download.h). */
#include "host/download.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/progress.h"
#include "util/sha256.h"
#include "util/xalloc.h"

/* The few libcurl functions lxgpu uses, looked up at run time. */
struct curl_api {
	void *handle;
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
};

static int load_curl(struct curl_api *api, struct lxgpu_err *err)
{
	api->handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!api->handle)
		return lxgpu_failx(
			err, ENOENT,
			"downloading needs libcurl (apt install libcurl4), or pass --installer");
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)&api->field = dlsym(api->handle, name);                                  \
		if (!api->field)                                                                   \
			return lxgpu_failx(err, ENOENT, "libcurl has no %s", name);                \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
#undef SYM
	api->global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

struct sink {
	struct curl_api *api;
	CURL *curl;
	int fd;    /* the .part file, or -1 for memory */
	char *mem; /* a small body (checksum file, latest.txt, a listing), NUL-ended */
	size_t memlen, memcap, memmax; /* memmax: a longer body fails the transfer */
	bool checked;                  /* the response code was looked at */
	long long offset;              /* bytes in the .part before this transfer */
	bool restarted;                /* the server ignored the range: written from 0 */
	struct progress *progress;     /* NULL: nobody asked */
};

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
	struct sink *s = user;
	size_t len = size * n;
	if (!s->checked) {
		long code = 0;
		s->checked = true;
		s->api->easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		/* asked for a range but got the whole file: start the part again */
		if (s->fd >= 0 && s->offset > 0 && code == 200) {
			if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
				return 0;
			s->offset = 0;
			s->restarted = true;
		}
	}
	if (s->fd < 0) {
		if (len > s->memmax - s->memlen)
			return 0;
		xgrow(&s->mem, &s->memcap, s->memlen + len + 1, 1);
		memcpy(s->mem + s->memlen, data, len);
		s->memlen += len;
		s->mem[s->memlen] = '\0';
		return len;
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = write(s->fd, data + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		done += (size_t)w;
	}
	return len;
}

static int on_progress(void *user, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
	struct sink *s = user;
	(void)ut;
	(void)un;
	/* curl counts this transfer only; a resumed one starts at the part's size */
	if (total > 0)
		progress_set(s->progress, now + s->offset, total + s->offset);
	return 0;
}

/* One GET; 0 done, -EAGAIN cut (worth resuming), else an error set. */
static int get(struct curl_api *api, const char *url, struct sink *sink, struct lxgpu_err *err)
{
	CURL *curl = api->easy_init();
	if (!curl)
		return lxgpu_failx(err, ENOMEM, "libcurl could not start");
	sink->api = api;
	sink->curl = curl;
	sink->checked = false;
	api->easy_setopt(curl, CURLOPT_URL, url);
	api->easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	api->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	api->easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	api->easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
	api->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a stalled transfer (under 1 KiB/s for 60 s) is a cut, not a hang */
	api->easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	api->easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
	api->easy_setopt(curl, CURLOPT_USERAGENT, "lxgpu/" LXGPU_VERSION);
	api->easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	api->easy_setopt(curl, CURLOPT_WRITEDATA, sink);
	api->easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	api->easy_setopt(curl, CURLOPT_XFERINFODATA, sink);
	api->easy_setopt(curl, CURLOPT_NOPROGRESS, sink->progress ? 0L : 1L);
	/* a plain Range header, not CURLOPT_RESUME_FROM: with it libcurl fails a 200
	 * answer outright, where on_data can start the part again */
	char range[32];
	if (sink->fd >= 0 && sink->offset > 0) {
		snprintf(range, sizeof(range), "%lld-", sink->offset);
		api->easy_setopt(curl, CURLOPT_RANGE, range);
	}
	CURLcode rc = api->easy_perform(curl);
	long code = 0;
	api->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	api->easy_cleanup(curl);
	if (rc == CURLE_OK)
		return 0;
	if (code == 416 && sink->offset > 0)
		return 0; /* the part is already whole: the checksum says whether it is right */
	if (rc == CURLE_HTTP_RETURNED_ERROR)
		return lxgpu_failx(err, code == 404 ? ENOENT : EIO, "%s: HTTP %ld", url, code);
	if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT ||
	    rc == CURLE_GOT_NOTHING)
		return -EAGAIN;
	return lxgpu_failx(err, EIO, "%s: %s", url, api->easy_strerror(rc));
}

static int hash_fd(int fd, char out[65])
{
	struct sha256 s;
	char buf[1 << 16];
	ssize_t n;
	sha256_init(&s);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&s, buf, (size_t)n);
	if (n < 0)
		return -errno;
	sha256_hex(&s, out);
	return 0;
}

/* "<64 hex>  <name>" or a bare digest. */
static bool parse_sha256(const char *text, char out[65])
{
	while (isspace((unsigned char)*text))
		text++;
	for (int i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)text[i]))
			return false;
		out[i] = (char)tolower((unsigned char)text[i]);
	}
	out[64] = '\0';
	return text[64] == '\0' || isspace((unsigned char)text[64]);
}

int download_file(const struct download_request *req, struct lxgpu_err *err)
{
	struct curl_api api = { 0 };
	char want[65], have[65];
	int r;

	if ((r = load_curl(&api, err)) < 0)
		return r;
	/* one download of the cache at a time: two would append to the same part */
	if (flock(req->dirfd, LOCK_EX) < 0)
		return lxgpu_fail(err, errno, "lock the download cache");
	_cleanup_free_ char *sums = NULL;
	if ((r = download_text(req->sha256_url, 4096, &sums, err)) < 0)
		return lxgpu_wrap(err, "the published checksum");
	if (!parse_sha256(sums, want))
		return lxgpu_failx(err, EINVAL, "%s is not a SHA-256 checksum file",
				   req->sha256_url);

	/* a cached file is used only when it still matches */
	_cleanup_close_ int cached =
		openat(req->dirfd, req->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (cached >= 0 && hash_fd(cached, have) == 0 && strcmp(have, want) == 0)
		return 0;
	if (cached >= 0)
		unlinkat(req->dirfd, req->name, 0);

	_cleanup_free_ char *part = xasprintf("%s.part", req->name);
	_cleanup_close_ int fd = openat(req->dirfd, part,
					O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return lxgpu_fail(err, errno, "%s in the cache", part);
	int attempts = req->attempts > 0 ? req->attempts : 3;
	bool fresh = false; /* the part was started over in this run */
	for (int attempt = 1;; attempt++) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			return lxgpu_fail(err, errno, "%s", part);
		fresh |= st.st_size == 0;
		struct sink s = { .fd = fd, .offset = st.st_size, .progress = req->progress };
		r = get(&api, req->url, &s, err);
		fresh |= s.restarted;
		if (r == 0) {
			if ((r = hash_fd(fd, have)) < 0)
				return lxgpu_fail(err, -r, "%s", part);
			if (strcmp(have, want) == 0)
				break;
			/* a part left by another file's download: start it over, once */
			if (!fresh) {
				if (ftruncate(fd, 0) < 0)
					return lxgpu_fail(err, errno, "%s", part);
				fresh = true;
				attempt = 0;
				continue;
			}
			unlinkat(req->dirfd, part, 0);
			return lxgpu_failx(err, EBADMSG,
					   "%s: checksum %s, but %s publishes %s: the download was "
					   "removed",
					   req->name, have, req->sha256_url, want);
		}
		struct stat now;
		fstat(fd, &now);
		if (now.st_size == 0)
			unlinkat(req->dirfd, part, 0); /* nothing worth resuming */
		if (r != -EAGAIN)
			return r; /* the part stays: a later run resumes it */
		if (attempt >= attempts || (now.st_size <= st.st_size && !s.restarted))
			return lxgpu_failx(err, EIO,
					   "%s: cut off at %lld bytes; run again to resume",
					   req->url, (long long)now.st_size);
	}
	if (fsync(fd) < 0 || renameat(req->dirfd, part, req->dirfd, req->name) < 0)
		return lxgpu_fail(err, errno, "%s", req->name);
	return 0;
}

int download_text(const char *url, size_t max, char **out, struct lxgpu_err *err)
{
	struct curl_api api = { 0 };
	struct sink s = { .fd = -1, .memmax = max };
	int r;

	*out = NULL;
	if ((r = load_curl(&api, err)) < 0)
		return r;
	if ((r = get(&api, url, &s, err)) < 0) {
		free(s.mem);
		return r == -EAGAIN ? lxgpu_failx(err, EIO, "%s: cut off", url) : r;
	}
	*out = s.mem ? s.mem : xstrdup("");
	return 0;
}
