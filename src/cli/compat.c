/* `lxgpu compat [DRIVER | --cuda X.Y | --ct CT [--apply [--dry-run]]]`: the
 * guide's "driver and its compatibility with other components" as a tool
 * (compat.h has the rules), and its kernel-header step for the guest. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "cli/cli.h"
#include "cli/change.h"
#include "cli/output.h"
#include "plan/compat.h"
#include "config/idmap.h"
#include "container/container.h"
#include "util/dpkg.h"
#include "util/fs.h"
#include "guest/guest.h"
#include "guest/cuda.h"
#include "host/host.h"
#include "util/version.h"
#include "util/xalloc.h"

static const char *const run_symbol[] = { "✓", "✓", "✗", "!" };
static const char *const run_color[] = { C_GREEN, C_YELLOW, C_RED, C_YELLOW };

static bool parse_driver(const char *s, struct lxgpu_version *v)
{
	return version_parse(s, strlen(s), v) && v->nparts >= 2;
}

/* The toolkits of the table, newest first, once per major.minor. */
static size_t toolkits(const struct cuda_row **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cuda_nrows && n < max; i++) {
		const struct cuda_row *r =
			compat_toolkit_row(cuda_rows[i].major, cuda_rows[i].minor);
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= out[k] == r;
		if (!seen)
			out[n++] = r;
	}
	return n;
}

/* --- DRIVER ------------------------------------------------------------- */

static int compat_driver(struct cli *cli, const char *text)
{
	struct lxgpu_version d;
	unsigned major = 0, minor = 0;
	bool newer = false;
	const struct cuda_row *rows[128];
	char why[512];

	if (!parse_driver(text, &d))
		return cli_error(EXIT_USAGE,
				 "compat %s: not a driver version (want e.g. 580.95.05)", text);
	bool any = cuda_for_driver(&d, &major, &minor, &newer);
	const struct compat_branch *b = compat_branch_of(d.part[0]);
	size_t n = toolkits(rows, ARRAY_SIZE(rows));
	if (cli->json) {
		json_t *doc = json_object(), *list = json_array();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "driver", json_text(text));
		json_t *branch = json_object();
		char name[16];
		snprintf(name, sizeof(name), "R%u", d.part[0]);
		json_object_set_new(branch, "name", json_text(name));
		json_object_set_new(branch, "type", json_str_or_null(b ? b->type : NULL));
		json_object_set_new(branch, "eol", json_str_or_null(b ? b->eol : NULL));
		json_object_set_new(doc, "branch", branch);
		char cuda[16];
		snprintf(cuda, sizeof(cuda), "%u.%u", major, minor);
		json_object_set_new(doc, "cuda", any ? json_text(cuda) : json_null());
		json_object_set_new(doc, "newer_than_table", json_boolean(newer));
		for (size_t i = 0; i < n; i++) {
			enum compat_run r = compat_toolkit(&d, rows[i]->major, rows[i]->minor, why,
							   sizeof(why));
			json_t *o = json_object();
			snprintf(cuda, sizeof(cuda), "%u.%u", rows[i]->major, rows[i]->minor);
			json_object_set_new(o, "toolkit", json_text(cuda));
			json_object_set_new(o, "min_driver", json_text(rows[i]->linux_min));
			json_object_set_new(o, "run", json_text(compat_run_name(r)));
			json_object_set_new(o, "why", json_text(why));
			json_array_append_new(list, o);
		}
		json_object_set_new(doc, "toolkits", list);
		return print_json(doc) < 0 ? EXIT_FAILED : EXIT_OK;
	}
	printf("driver %s: branch R%u", text, d.part[0]);
	if (b)
		printf(" (%s, end of life %s, CUDA %s)", compat_branch_type_name(b->type), b->eol,
		       b->cuda);
	putchar('\n');
	if (any)
		printf("newest CUDA: %u.%u%s\n", major, minor,
		       newer ? " (or newer: the driver is newer than lxgpu's table)" : "");
	else
		printf("newest CUDA: none in the table (older than %s)\n",
		       cuda_rows[cuda_nrows - 1].linux_min);
	/* one line per family: what runs natively, through minor-version compatibility, not at all */
	for (size_t i = 0; i < n;) {
		unsigned fam = rows[i]->major >= 11 ? rows[i]->major : 0;
		char native[256] = "", minorc[256] = "", no[256] = "";
		for (; i < n && (rows[i]->major >= 11 ? rows[i]->major : 0) == fam; i++) {
			enum compat_run r = compat_toolkit(&d, rows[i]->major, rows[i]->minor, why,
							   sizeof(why));
			char *list = r == COMPAT_NATIVE ? native : r == COMPAT_MINOR ? minorc : no;
			size_t used = strlen(list);
			snprintf(list + used, sizeof(native) - used, "%s%u.%u", used ? " " : "",
				 rows[i]->major, rows[i]->minor);
		}
		const struct compat_family *f = compat_family_of(fam);
		if (fam)
			printf("  CUDA %u.x", fam);
		else
			printf("  older   ");
		if (native[0])
			printf("  %s%s%s runs: %s", color_of(cli->color, C_GREEN), "✓",
			       color_of(cli->color, C_RESET), native);
		if (minorc[0])
			printf("  %s%s%s through minor-version compatibility (≥ %s): %s",
			       color_of(cli->color, C_YELLOW), "✓", color_of(cli->color, C_RESET),
			       f->floor, minorc);
		if (no[0])
			printf("  %s%s%s not: %s", color_of(cli->color, C_RED), "✗",
			       color_of(cli->color, C_RESET), no);
		putchar('\n');
	}
	bool any_minor = false;
	for (size_t i = 0; i < n; i++)
		any_minor |= compat_toolkit(&d, rows[i]->major, rows[i]->minor, why, sizeof(why)) ==
			     COMPAT_MINOR;
	if (any_minor)
		printf("minor-version compatibility: no PTX JIT of code newer than the driver, not "
		       "the newest features; never across a major version\n");
	return EXIT_OK;
}

/* --- --cuda X.Y --------------------------------------------------------- */

static int compat_cuda(struct cli *cli, const struct lxgpu_inventory *inv)
{
	unsigned major, minor;
	int end = 0;
	char why[512];

	/* X.Y as NVIDIA writes it: 12.04 is no CUDA release (it is not 12.4) */
	const char *dot = strchr(cli->cuda, '.');
	if (!isdigit((unsigned char)cli->cuda[0]) ||
	    sscanf(cli->cuda, "%u.%u%n", &major, &minor, &end) != 2 ||
	    (size_t)end != strlen(cli->cuda) || !isdigit((unsigned char)dot[1]) ||
	    (dot[1] == '0' && dot[2] != '\0'))
		return cli_error(EXIT_USAGE, "compat --cuda %s: want a CUDA version such as 12.4",
				 cli->cuda);
	const struct cuda_row *first = compat_toolkit_row(major, minor);
	const struct compat_family *fam = compat_family_of(major);
	if (!first)
		return cli_error(EXIT_FAILED,
				 "compat --cuda %s: CUDA %u.%u is not in lxgpu's table (newest: "
				 "%u.%u)",
				 cli->cuda, major, minor, cuda_rows[0].major, cuda_rows[0].minor);
	const char *host = lxgpu_nvidia_version(inv);
	struct lxgpu_version hv;
	enum compat_run hr = COMPAT_UNKNOWN;
	if (host && parse_driver(host, &hv))
		hr = compat_toolkit(&hv, major, minor, why, sizeof(why));
	if (cli->json) {
		json_t *doc = json_object(), *rel = json_array();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "cuda", json_text(cli->cuda));
		json_object_set_new(doc, "min_driver", json_text(first->linux_min));
		for (size_t i = 0; i < cuda_nrows; i++) {
			const struct cuda_row *r = &cuda_rows[i];
			if (r->major != major || r->minor != minor)
				continue;
			json_t *o = json_object();
			json_object_set_new(o, "toolkit", json_text(r->toolkit));
			json_object_set_new(o, "release", json_text(r->release));
			json_object_set_new(o, "min_driver", json_text(r->linux_min));
			json_array_append_new(rel, o);
		}
		json_object_set_new(doc, "releases", rel);
		json_object_set_new(doc, "minor_compat_min_driver",
				    json_str_or_null(fam ? fam->floor : NULL));
		json_t *h = json_object();
		json_object_set_new(h, "driver", json_str_or_null(host));
		json_object_set_new(h, "run", host ? json_text(compat_run_name(hr)) : json_null());
		json_object_set_new(h, "why", host ? json_text(why) : json_null());
		json_object_set_new(doc, "host", h);
		return print_json(doc) < 0 ? EXIT_FAILED : EXIT_OK;
	}
	printf("CUDA %u.%u needs driver %s or newer", major, minor, first->linux_min);
	for (size_t i = 0; i < cuda_nrows; i++) {
		const struct cuda_row *r = &cuda_rows[i];
		if (r->major == major && r->minor == minor && r != first)
			printf("; %s %s: %s", r->toolkit, r->release[0] ? r->release : "",
			       r->linux_min);
	}
	putchar('\n');
	if (fam)
		printf("through minor-version compatibility: %s or newer (the %u.x family), "
		       "without "
		       "PTX JIT of newer code and the newest features\n",
		       fam->floor, major);
	else
		printf("no minor-version compatibility before CUDA 11\n");
	if (host)
		printf("this host's driver %s: %s%s%s %s\n", host,
		       color_of(cli->color, run_color[hr]), run_symbol[hr],
		       color_of(cli->color, C_RESET), why);
	return EXIT_OK;
}

/* --- --ct CT: what the container has, and the kernel-header step -------- */

struct headers {
	bool pve_kernel, debian_guest;
	char kernel[128];  /* the host's release: "6.8.12-4-pve" */
	char package[192]; /* proxmox-headers-6.8.12-4-pve */
	char suite[32];    /* bookworm */
	char key[128];     /* the host's Proxmox archive key, beneath the root */
	char sources[512], pin[512];
	const char *why_not; /* why --apply cannot run, or NULL */
};

#define HEADERS_SOURCES "etc/apt/sources.list.d/lxgpu-proxmox.sources"
#define HEADERS_PIN     "etc/apt/preferences.d/lxgpu-proxmox"
#define HEADERS_KEY     "usr/share/keyrings/lxgpu-proxmox.gpg"

/* KEY=value of an os-release file, unquoted. */
static void os_release(const char *text, const char *key, char *out, size_t size)
{
	size_t n = strlen(key);
	out[0] = '\0';
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, n) != 0 || p[n] != '=')
			continue;
		const char *v = p + n + 1, *end = strchr(v, '\n');
		size_t len = end ? (size_t)(end - v) : strlen(v);
		if (len >= 2 && (v[0] == '"' || v[0] == '\'')) {
			v++;
			len -= 2;
		}
		snprintf(out, size, "%.*s", (int)len, v);
		return;
	}
}

/* The Debian release of the Proxmox host: its os-release, else pve-manager's
 * major (Proxmox VE 8 is bookworm, 9 is trixie). */
static void host_suite(int rootfd, char *out, size_t size)
{
	_cleanup_free_ char *text = NULL;
	struct lxgpu_err err = { 0 };
	size_t len;
	out[0] = '\0';
	if (fs_read_in(rootfd, "etc/os-release", 65536, &text, &len, &err) == 0)
		os_release(text, "VERSION_CODENAME", out, size);
	if (out[0])
		return;
	free(text);
	text = NULL;
	lxgpu_err_clear(&err);
	if (fs_read_in(rootfd, "var/lib/dpkg/status", 64u << 20, &text, &len, &err) < 0)
		return;
	struct dpkg_pkg pkg;
	for (const char *c = text; dpkg_next(&c, &pkg);)
		if (pkg.installed && strcmp(pkg.name, "pve-manager") == 0)
			snprintf(out, size, "%s",
				 atoi(pkg.version) == 9   ? "trixie"
				 : atoi(pkg.version) == 8 ? "bookworm"
				 : atoi(pkg.version) == 7 ? "bullseye"
							  : "");
}

static void headers_plan(int rootfd, int ctroot, struct headers *h)
{
	static const char *const keys[] = {
		"usr/share/keyrings/proxmox-archive-keyring.gpg",
		"etc/apt/trusted.gpg.d/proxmox-release-trixie.gpg",
		"etc/apt/trusted.gpg.d/proxmox-release-bookworm.gpg",
		"etc/apt/trusted.gpg.d/proxmox-release-bullseye.gpg",
	};
	_cleanup_free_ char *guest = NULL;
	struct lxgpu_err err = { 0 };
	struct stat st;
	size_t len;

	memset(h, 0, sizeof(*h));
	h->pve_kernel = host_kernel(rootfd, h->kernel, sizeof(h->kernel));
	host_headers_package(h->kernel, h->pve_kernel, h->package, sizeof(h->package));
	lxgpu_err_clear(&err);
	char id[64] = "", like[128] = "";
	if (ctroot >= 0 && fs_read_in(ctroot, "etc/os-release", 65536, &guest, &len, &err) == 0) {
		os_release(guest, "ID", id, sizeof(id));
		os_release(guest, "ID_LIKE", like, sizeof(like));
	}
	lxgpu_err_clear(&err);
	h->debian_guest =
		strcmp(id, "debian") == 0 || strcmp(id, "ubuntu") == 0 || strstr(like, "debian") ||
		strstr(like, "ubuntu") ||
		(ctroot >= 0 && fs_lstat_in(ctroot, "etc/debian_version", &st, &err) == 0);
	host_suite(rootfd, h->suite, sizeof(h->suite));
	for (size_t i = 0; i < ARRAY_SIZE(keys) && !h->key[0]; i++) {
		lxgpu_err_clear(&err);
		if (fs_lstat_in(rootfd, keys[i], &st, &err) == 0 && S_ISREG(st.st_mode))
			snprintf(h->key, sizeof(h->key), "%s", keys[i]);
	}
	h->why_not = !h->kernel[0]      ? "the host's kernel release is unknown"
		     : !h->pve_kernel   ? "the host does not run a Proxmox kernel: its headers "
					  "come from the host distribution's linux-headers"
		     : !h->debian_guest ? "the container is not Debian or Ubuntu"
		     : !h->suite[0]     ? "the host's Debian release is unknown (no "
					  "VERSION_CODENAME in /etc/os-release, no pve-manager)"
		     : !h->key[0]       ? "the host has no Proxmox archive key to copy"
					: NULL;
	/* Proxmox's repository, for the one package: everything else from it
	 * is pinned away, so the container never takes Proxmox's other packages */
	snprintf(h->sources, sizeof(h->sources),
		 "# written by lxgpu: the Proxmox kernel headers of the host (%s) only,\n"
		 "# see /" HEADERS_PIN "\n"
		 "Types: deb\n"
		 "URIs: http://download.proxmox.com/debian/pve\n"
		 "Suites: %s\n"
		 "Components: pve-no-subscription\n"
		 "Signed-By: /" HEADERS_KEY "\n",
		 h->kernel, h->suite[0] ? h->suite : "SUITE");
	snprintf(h->pin, sizeof(h->pin),
		 "# written by lxgpu: from Proxmox's repository, only the host kernel's headers\n"
		 "Package: *\n"
		 "Pin: origin download.proxmox.com\n"
		 "Pin-Priority: -1\n"
		 "\n"
		 "Package: %s\n"
		 "Pin: origin download.proxmox.com\n"
		 "Pin-Priority: 500\n",
		 h->package);
}

/* Writes the three files into the container (or says it would). */
static int headers_apply(struct cli *cli, int ctroot, const struct headers *h, long uid, long gid,
			 struct lxgpu_err *err)
{
	static const struct {
		const char *dir, *name;
	} files[] = {
		{ "usr/share/keyrings", "lxgpu-proxmox.gpg" },
		{ "etc/apt/sources.list.d", "lxgpu-proxmox.sources" },
		{ "etc/apt/preferences.d", "lxgpu-proxmox" },
	};
	int r;
	if (h->why_not)
		return lxgpu_failx(err, ENOTSUP, "--apply: %s", h->why_not);
	if (cli->dry_run)
		return 0;
	_cleanup_free_ char *key = NULL;
	size_t keylen;
	if ((r = fs_read_in(cli->rootfd, h->key, 1u << 20, &key, &keylen, err)) < 0)
		return r;
	/* every directory first: a refused one (a symlink in the container) stops
	 * the command before any file is written */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int fd = fs_open_in_nosymlinks(ctroot, files[i].dir, O_PATH | O_DIRECTORY, err);
		if (fd < 0 && err->code != ENOENT)
			return fd;
		lxgpu_err_clear(err);
		if (fd >= 0)
			close(fd);
	}
	int dirs[ARRAY_SIZE(files)];
	size_t opened = 0;
	for (; opened < ARRAY_SIZE(files); opened++)
		if ((dirs[opened] = guest_dir(ctroot, files[opened].dir, uid, gid, err)) < 0)
			break;
	r = opened < ARRAY_SIZE(files) ? dirs[opened] : 0;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(files); i++) {
		char shown[128];
		snprintf(shown, sizeof(shown), "/%s/%s", files[i].dir, files[i].name);
		const char *text = i == 0 ? key : i == 1 ? h->sources : h->pin;
		size_t len = i == 0 ? keylen : strlen(text);
		r = guest_write_file(dirs[i], files[i].name, text, len, 0644, uid, gid, shown, err);
	}
	for (size_t i = 0; i < opened; i++)
		close(dirs[i]);
	if (r < 0)
		return r;
	return 0;
}

static void print_indented(const char *title, const char *text)
{
	printf("  /%s:\n", title);
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		printf("    %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

static json_t *item_json(const struct guest_cuda_item *it, enum compat_run r, const char *why)
{
	char v[48];
	json_t *o = json_object();
	snprintf(v, sizeof(v), "%u.%u.%u", it->major, it->minor, it->patch);
	json_object_set_new(o, "version", json_text(v));
	if (it->kind == GUEST_CUDNN)
		json_object_set_new(o, "cuda_major",
				    it->cuda_major ? json_integer(it->cuda_major) : json_null());
	json_object_set_new(o, "source", json_text(it->source));
	json_object_set_new(o, "run", json_text(compat_run_name(r)));
	json_object_set_new(o, "why", json_text(why));
	return o;
}

static int compat_ct(struct cli *cli)
{
	struct lxgpu_err err = { 0 };
	struct change ch;
	struct guest_cuda g;
	struct headers h;
	const char *why_ct;
	char why[512];
	int r, code = EXIT_OK;

	if (!ct_arg_valid(cli->ct, &why_ct))
		return cli_error(EXIT_USAGE, "compat --ct %s: %s", cli->ct, why_ct);
	if ((r = change_load_id(cli, &ch, cli->ct, false, &err)) < 0) {
		change_free(&ch);
		return cli_fail(&err);
	}
	_cleanup_close_ int ctroot = guest_open_root(cli->rootfd, strcmp(cli->sysroot, "/") == 0,
						     &ch.ct, &ch.conf, &err);
	if (ctroot < 0) {
		change_free(&ch);
		lxgpu_wrap(&err, "compat --ct %s", cli->ct);
		return cli_fail(&err);
	}
	const char *host = lxgpu_nvidia_version(&ch.inv);
	struct lxgpu_version hv;
	bool have_driver = host && parse_driver(host, &hv);
	guest_cuda_scan(ctroot, &g);
	headers_plan(cli->rootfd, ctroot, &h);
	/* a cuDNN header says no CUDA major: the toolkits' one, when they agree */
	unsigned only_major = 0;
	for (size_t i = 0; i < g.n; i++)
		if (g.items[i].kind == GUEST_TOOLKIT)
			only_major = only_major == 0 || only_major == g.items[i].major
					     ? g.items[i].major
					     : ~0u;
	json_t *tk = json_array(), *dnn = json_array();
	if (!cli->json)
		printf("%s %s: host driver %s\n", ct_label(&ch.ct), ch.ct.id,
		       host ? host : "none (no NVIDIA driver loaded)");
	for (size_t i = 0; i < g.n; i++) {
		struct guest_cuda_item *it = &g.items[i];
		enum compat_run run = COMPAT_UNKNOWN;
		if (it->kind == GUEST_CUDNN && it->cuda_major == 0 && only_major != ~0u)
			it->cuda_major = only_major;
		snprintf(why, sizeof(why), "no NVIDIA driver on the host");
		if (have_driver)
			run = it->kind == GUEST_TOOLKIT
				      ? compat_toolkit(&hv, it->major, it->minor, why, sizeof(why))
				      : compat_cudnn(&hv, it->major, it->minor, it->cuda_major, why,
						     sizeof(why));
		if (run == COMPAT_NO)
			code = EXIT_DRIFT;
		if (cli->json) {
			json_array_append_new(it->kind == GUEST_TOOLKIT ? tk : dnn,
					      item_json(it, run, why));
			continue;
		}
		char what[64];
		if (it->kind == GUEST_TOOLKIT)
			snprintf(what, sizeof(what), "CUDA %u.%u.%u", it->major, it->minor,
				 it->patch);
		else if (it->cuda_major)
			snprintf(what, sizeof(what), "cuDNN %u.%u.%u for CUDA %u", it->major,
				 it->minor, it->patch, it->cuda_major);
		else
			snprintf(what, sizeof(what), "cuDNN %u.%u.%u", it->major, it->minor,
				 it->patch);
		printf("%s%s%s %s (%s): %s\n", color_of(cli->color, run_color[run]),
		       run_symbol[run], color_of(cli->color, C_RESET), what, it->source, why);
	}
	if (!cli->json && g.n == 0)
		printf("no CUDA toolkit or cuDNN found (/usr/local/cuda-X.Y, packages, pip "
		       "wheels)\n");
	/* the kernel-header step of the guide, generated */
	long uid = ct_privileged(&ch.conf) ? -1 : ct_host_id(&ch.conf, 'u', 0);
	long gid = ct_privileged(&ch.conf) ? -1 : ct_host_id(&ch.conf, 'g', 0);
	if (cli->apply && headers_apply(cli, ctroot, &h, uid, gid, &err) < 0) {
		guest_cuda_free(&g);
		json_decref(tk);
		json_decref(dnn);
		change_free(&ch);
		lxgpu_wrap(&err, "compat --ct %s", cli->ct);
		return cli_fail(&err);
	}
	if (cli->json) {
		json_t *doc = json_object(), *hd = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ch.ct.id));
		json_object_set_new(doc, "driver", json_str_or_null(host));
		json_object_set_new(doc, "toolkits", tk);
		json_object_set_new(doc, "cudnn", dnn);
		json_object_set_new(hd, "needed_for_toolkits", json_false());
		/* null when the running kernel is unknown: no package to name */
		json_object_set_new(hd, "kernel", json_str_or_null(h.kernel[0] ? h.kernel : NULL));
		json_object_set_new(hd, "package",
				    json_str_or_null(h.kernel[0] ? h.package : NULL));
		json_object_set_new(hd, "applicable", json_boolean(h.why_not == NULL));
		json_object_set_new(hd, "why_not", json_str_or_null(h.why_not));
		json_t *files = json_object();
		json_object_set_new(files, "/" HEADERS_SOURCES, json_text(h.sources));
		json_object_set_new(files, "/" HEADERS_PIN, json_text(h.pin));
		json_object_set_new(hd, "files", files);
		json_object_set_new(hd, "changed", json_boolean(cli->apply && !cli->dry_run));
		json_object_set_new(doc, "headers", hd);
		print_json(doc);
	} else {
		printf("\nkernel headers: none needed for CUDA toolkits, cuDNN or pip wheels (user "
		       "space only: cuda-toolkit-X-Y, not the \"cuda\" meta-package, which pulls "
		       "in a driver and DKMS); only a module built inside the container needs "
		       "them, and its uname -r is the host's %s.\n",
		       h.kernel[0] ? h.kernel : "(unknown)");
		if (h.why_not) {
			printf("no apt source for them: %s\n", h.why_not);
		} else {
			printf("%s %s from Proxmox's repository, pinned to that one package:\n",
			       cli->apply ? (cli->dry_run ? "would write" : "wrote") : "for",
			       h.package);
			print_indented(HEADERS_SOURCES, h.sources);
			print_indented(HEADERS_PIN, h.pin);
			printf("  /%s: the host's /%s\n", HEADERS_KEY, h.key);
			printf("then inside: apt-get update && apt-get install %s\n", h.package);
			if (!cli->apply)
				printf("(lxgpu compat --ct %s --apply writes them)\n", ch.ct.id);
		}
		json_decref(tk);
		json_decref(dnn);
	}
	guest_cuda_free(&g);
	change_free(&ch);
	return code;
}

int cmd_compat(struct cli *cli)
{
	int modes = (cli->nargs > 0) + (cli->cuda != NULL) + (cli->ct != NULL);
	if (modes > 1)
		return cli_error(EXIT_USAGE, "compat: one of DRIVER, --cuda or --ct");
	if (cli->apply && !cli->ct)
		return cli_error(EXIT_USAGE, "compat: --apply goes with --ct CT");
	if (cli->dry_run && !cli->apply)
		return cli_error(EXIT_USAGE, "compat: --dry-run goes with --apply");
	if (cli->ct)
		return compat_ct(cli);
	if (cli->nargs > 0)
		return compat_driver(cli, cli->args[0]);
	struct lxgpu_inventory inv;
	lxgpu_inventory_scan(cli->rootfd, &inv);
	int code;
	if (cli->cuda) {
		code = compat_cuda(cli, &inv);
	} else {
		const char *host = lxgpu_nvidia_version(&inv);
		code = host ? compat_driver(cli, host)
			    : cli_error(EXIT_FAILED, "compat: no NVIDIA driver on this host: name "
						     "one (lxgpu compat 580.95.05)");
	}
	lxgpu_inventory_free(&inv);
	return code;
}
