/* guest/cuda: CUDA toolkits and cuDNN in a container (see cuda.h). */
#include "guest/cuda.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/dpkg.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define SMALL_FILE (64u * 1024u)

int guest_cuda_parse_version_file(const char *text, unsigned *major, unsigned *minor,
				  unsigned *patch)
{
	*patch = 0;
	const char *cuda = strstr(text, "\"cuda\"");
	if (cuda) {
		const char *v = strstr(cuda, "\"version\"");
		const char *close = strchr(cuda, '}');
		if (v && (!close || v < close)) {
			v = strchr(v + 9, '"');
			if (v && sscanf(v + 1, "%u.%u.%u", major, minor, patch) >= 2)
				return 0;
		}
		return -1;
	}
	const char *txt = strstr(text, "CUDA Version ");
	if (txt && sscanf(txt + 13, "%u.%u.%u", major, minor, patch) >= 2)
		return 0;
	return -1;
}

/* "#define NAME 9" anywhere in text. */
static int define_of(const char *text, const char *name, unsigned *value)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strstr(p, "#define ")); p += 8) {
		const char *q = p + 8;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, name, n) == 0 && (q[n] == ' ' || q[n] == '\t') &&
		    sscanf(q + n, "%u", value) == 1)
			return 0;
	}
	return -1;
}

int guest_cuda_parse_cudnn_header(const char *text, unsigned *major, unsigned *minor,
				  unsigned *patch)
{
	*patch = 0;
	if (define_of(text, "CUDNN_MAJOR", major) < 0 || define_of(text, "CUDNN_MINOR", minor) < 0)
		return -1;
	define_of(text, "CUDNN_PATCHLEVEL", patch);
	return 0;
}

/* "cuda12.2" or "cuda12" or "cuda-12" in s: 12. */
static unsigned cuda_major_in(const char *s)
{
	for (const char *p = s; (p = strstr(p, "cuda")); p += 4) {
		const char *q = p + 4;
		if (*q == '-' || *q == '_')
			q++;
		unsigned m;
		if (*q >= '1' && *q <= '9' && sscanf(q, "%u", &m) == 1 && m >= 7 && m < 100)
			return m;
	}
	return 0;
}

static void item_set(struct guest_cuda_item *item, enum guest_cuda_kind kind, unsigned major,
		     unsigned minor, unsigned patch, unsigned cuda_major)
{
	item->kind = kind;
	item->major = major;
	item->minor = minor;
	item->patch = patch;
	item->cuda_major = cuda_major;
}

int guest_cuda_from_package(const char *name, const char *version, struct guest_cuda_item *item)
{
	unsigned a, b, c = 0, x, y;
	int n;

	memset(item, 0, sizeof(*item));
	/* NVIDIA's repository: cuda-toolkit-12-4 (12.4.1-1), cuda-cudart-12-4 (12.4.127-1) */
	if ((sscanf(name, "cuda-toolkit-%u-%u%n", &x, &y, &n) == 2 ||
	     sscanf(name, "cuda-cudart-%u-%u%n", &x, &y, &n) == 2) &&
	    name[n] == '\0') {
		if (sscanf(version, "%u.%u.%u", &a, &b, &c) < 2 || a != x || b != y)
			c = 0;
		item_set(item, GUEST_TOOLKIT, x, y, c, 0);
		snprintf(item->source, sizeof(item->source), "package %s %s", name, version);
		return 1;
	}
	/* Debian's own: nvidia-cuda-toolkit 12.2.140~12.2.2-1 */
	if (strcmp(name, "nvidia-cuda-toolkit") == 0 &&
	    sscanf(version, "%u.%u.%u", &a, &b, &c) >= 2) {
		item_set(item, GUEST_TOOLKIT, a, b, c, 0);
		snprintf(item->source, sizeof(item->source), "package %s %s", name, version);
		return 1;
	}
	/* libcudnn9-cuda-12 (9.1.0.70-1), libcudnn8 (8.9.7.29-1+cuda12.2), nvidia-cudnn */
	if ((strncmp(name, "libcudnn", 8) == 0 || strcmp(name, "nvidia-cudnn") == 0) &&
	    !strstr(name, "-dev") && !strstr(name, "-samples") &&
	    sscanf(version, "%u.%u.%u", &a, &b, &c) >= 2) {
		unsigned cuda = cuda_major_in(name);
		item_set(item, GUEST_CUDNN, a, b, c, cuda ? cuda : cuda_major_in(version));
		snprintf(item->source, sizeof(item->source), "package %s %s", name, version);
		return 1;
	}
	return 0;
}

int guest_cuda_from_wheel(const char *dist_info, struct guest_cuda_item *item)
{
	static const char *const runtimes[] = { "nvidia_cuda_runtime_cu", "nvidia_cuda_runtime-" };
	const char *dash = strchr(dist_info, '-');
	unsigned a, b, c = 0, cu;

	memset(item, 0, sizeof(*item));
	if (!dash || !strstr(dist_info, ".dist-info") || sscanf(dash + 1, "%u.%u", &a, &b) != 2)
		return 0;
	sscanf(dash + 1, "%u.%u.%u", &a, &b, &c);
	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++)
		if (strncmp(dist_info, runtimes[i], strlen(runtimes[i])) == 0) {
			item_set(item, GUEST_TOOLKIT, a, b, c, 0);
			goto named;
		}
	if (strncmp(dist_info, "nvidia_cudnn_cu", 15) == 0 &&
	    sscanf(dist_info + 15, "%u", &cu) == 1) {
		item_set(item, GUEST_CUDNN, a, b, c, cu);
		goto named;
	}
	/* torch-2.5.1+cu124: the CUDA runtime it bundles, 12.4 */
	const char *local = strstr(dist_info, "+cu");
	if (strncmp(dist_info, "torch-", 6) == 0 && local && sscanf(local + 3, "%u", &cu) == 1 &&
	    cu >= 100) {
		unsigned major = cu >= 1000 ? cu / 100 : cu / 10;
		item_set(item, GUEST_TOOLKIT, major, cu - major * (cu >= 1000 ? 100 : 10), 0, 0);
		goto named;
	}
	return 0;
named:
	snprintf(item->source, sizeof(item->source), "wheel %.*s",
		 (int)(strstr(dist_info, ".dist-info") - dist_info), dist_info);
	return 1;
}

static void add(struct guest_cuda *g, const struct guest_cuda_item *item)
{
	for (size_t i = 0; i < g->n; i++) {
		const struct guest_cuda_item *o = &g->items[i];
		if (o->kind == item->kind && o->major == item->major && o->minor == item->minor &&
		    o->patch == item->patch && o->cuda_major == item->cuda_major) {
			/* /usr/local/cuda is a link to /usr/local/cuda-12.4: name the latter */
			if (strstr(g->items[i].source, "/usr/local/cuda/") &&
			    !strstr(item->source, "/usr/local/cuda/"))
				memcpy(g->items[i].source, item->source, sizeof(item->source));
			return;
		}
	}
	g->items = xrealloc(g->items, (g->n + 1) * sizeof(*g->items));
	g->items[g->n++] = *item;
}

/* Entries of dir (beneath ctroot) whose names start with prefix, each passed
 * to fn; at most 64 of them (bounded work). */
static void each_entry(int ctroot, const char *dir, const char *prefix,
		       void (*fn)(int ctroot, const char *dir, const char *name, void *ctx),
		       void *ctx)
{
	struct lxgpu_err err = { 0 };
	_cleanup_closedir_ DIR *d = NULL;
	char names[64][256];
	size_t n = 0;

	if (fs_opendir_in(ctroot, dir, (void **)&d, &err) < 0)
		return;
	for (struct dirent *e; n < ARRAY_SIZE(names) && (e = readdir(d));)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && e->d_name[0] != '.')
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	closedirp(&d);
	for (size_t i = 0; i < n; i++)
		fn(ctroot, dir, names[i], ctx);
}

static void toolkit_dir(int ctroot, const char *dir, const char *name, void *ctx)
{
	static const char *const files[] = { "version.json", "version.txt" };
	struct guest_cuda_item item = { .kind = GUEST_TOOLKIT };
	struct lxgpu_err err = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *text = NULL;
		char path[512];
		size_t len;
		if (snprintf(path, sizeof(path), "%s/%s/%s", dir, name, files[i]) >=
		    (int)sizeof(path))
			continue;
		lxgpu_err_clear(&err);
		if (fs_read_in(ctroot, path, SMALL_FILE, &text, &len, &err) < 0 ||
		    guest_cuda_parse_version_file(text, &item.major, &item.minor, &item.patch) < 0)
			continue;
		snprintf(item.source, sizeof(item.source), "/%.250s", path);
		add(ctx, &item);
		return;
	}
}

static void wheel(int ctroot, const char *dir, const char *name, void *ctx)
{
	struct guest_cuda_item item;
	(void)ctroot;
	(void)dir;
	if (guest_cuda_from_wheel(name, &item))
		add(ctx, &item);
}

/* The wheels in one site-packages directory. */
static void scan_site(int ctroot, const char *path, void *ctx)
{
	static const char *const prefixes[] = { "nvidia_cu", "nvidia_cudnn", "torch-" };
	for (size_t p = 0; p < ARRAY_SIZE(prefixes); p++)
		each_entry(ctroot, path, prefixes[p], wheel, ctx);
}

/* <dir>/<python3.X>/{site,dist}-packages */
static void python_dir(int ctroot, const char *dir, const char *name, void *ctx)
{
	static const char *const kinds[] = { "site-packages", "dist-packages" };
	char path[512];
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		if (snprintf(path, sizeof(path), "%s/%s/%s", dir, name, kinds[k]) <
		    (int)sizeof(path))
			scan_site(ctroot, path, ctx);
	}
}

/* /opt/<app>/{.venv,venv}/lib: a virtual environment per application. */
static void opt_app(int ctroot, const char *dir, const char *name, void *ctx)
{
	static const char *const venvs[] = { ".venv", "venv" };
	char path[512];
	for (size_t i = 0; i < ARRAY_SIZE(venvs); i++) {
		if (snprintf(path, sizeof(path), "%s/%s/%s/lib", dir, name, venvs[i]) <
		    (int)sizeof(path))
			each_entry(ctroot, path, "python3", python_dir, ctx);
	}
}

static void scan_packages(int ctroot, struct guest_cuda *g)
{
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	struct dpkg_pkg pkg;
	struct guest_cuda_item item;
	size_t len;

	if (fs_read_in(ctroot, "var/lib/dpkg/status", 64u << 20, &text, &len, &err) < 0)
		return;
	for (const char *cursor = text; dpkg_next(&cursor, &pkg);)
		if (pkg.installed && guest_cuda_from_package(pkg.name, pkg.version, &item))
			add(g, &item);
}

static void scan_cudnn_headers(int ctroot, struct guest_cuda *g)
{
	static const char *const headers[] = {
		"usr/include/cudnn_version.h",
		"usr/include/x86_64-linux-gnu/cudnn_version_v9.h",
		"usr/include/x86_64-linux-gnu/cudnn_version_v8.h",
		"usr/local/cuda/include/cudnn_version.h",
	};
	struct lxgpu_err err = { 0 };
	for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
		_cleanup_free_ char *text = NULL;
		struct guest_cuda_item item = { .kind = GUEST_CUDNN };
		size_t len;
		lxgpu_err_clear(&err);
		if (fs_read_in(ctroot, headers[i], SMALL_FILE, &text, &len, &err) < 0 ||
		    guest_cuda_parse_cudnn_header(text, &item.major, &item.minor, &item.patch) < 0)
			continue;
		snprintf(item.source, sizeof(item.source), "/%s", headers[i]);
		/* the header does not say which CUDA; a package or wheel of the same
		 * release may, and then this one is the same item */
		bool known = false;
		for (size_t k = 0; k < g->n; k++)
			known |= g->items[k].kind == GUEST_CUDNN &&
				 g->items[k].major == item.major && g->items[k].minor == item.minor;
		if (!known)
			add(g, &item);
	}
}

void guest_cuda_scan(int ctroot, struct guest_cuda *out)
{
	memset(out, 0, sizeof(*out));
	each_entry(ctroot, "usr/local", "cuda", toolkit_dir, out);
	scan_packages(ctroot, out);
	scan_site(ctroot, "usr/lib/python3/dist-packages", out); /* Debian's python3-* */
	each_entry(ctroot, "usr/lib", "python3", python_dir, out);
	each_entry(ctroot, "usr/local/lib", "python3", python_dir, out);
	each_entry(ctroot, "opt", "", opt_app, out);
	scan_cudnn_headers(ctroot, out);
}

void guest_cuda_free(struct guest_cuda *g)
{
	free(g->items);
	memset(g, 0, sizeof(*g));
}
