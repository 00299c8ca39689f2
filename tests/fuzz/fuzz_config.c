/* libFuzzer target for the config parser and editor. For any input:
 * - an unchanged parse renders the same bytes;
 * - attach then detach of an input without GPU lines gives the input back
 *   (with a final newline added where attach had to add one);
 * - attach never touches anything after the main section;
 * - a text dl_text_may_scan rules out scans to nothing.
 * The first byte picks the format (Proxmox or LXC) and the attach style. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/devlines.h"
#include "config/edit.h"
#include "inventory/inventory.h"
#include "plan/plan.h"
#include "plan/sync.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct lxgpu_inventory inv;

static void node(const char *path, enum lxgpu_node_role role, unsigned major, unsigned minor,
		 int gpu)
{
	struct lxgpu_node *n = inv_add_node(&inv, path, role);
	n->major = major;
	n->minor = minor;
	n->mode = 0666;
	n->gpu = gpu;
}

/* The H100 capture's GPU and nodes (tests/hosts/SOURCES.md). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static const char devices[] = "Character devices:\n195 nvidia\n238 nvidia-uvm\n";
	inv.have_proc_devices = proc_devices_parse(devices, sizeof(devices) - 1, &inv.majors);
	struct lxgpu_gpu *g = inv_add_gpu(&inv);
	g->vendor = LXGPU_VENDOR_NVIDIA;
	g->uuid = strdup("GPU-14d254be-3087-0aa8-a7aa-03759525cf2f");
	strcpy(g->pci, "0000:00:06.0");
	g->minor = 0;
	g->usable = true;
	g->has_information = true;
	node("/dev/nvidia0", LXGPU_NODE_GPU, 195, 0, 0);
	node("/dev/nvidiactl", LXGPU_NODE_CTL, 195, 255, -1);
	node("/dev/nvidia-uvm", LXGPU_NODE_UVM, 238, 0, -1);
	node("/dev/nvidia-uvm-tools", LXGPU_NODE_UVM_TOOLS, 238, 1, -1);
	return 0;
}

static char *apply(const struct conf *c, const struct conf_edit *e, size_t *len)
{
	return conf_render(c, e, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	enum conf_format format = data[0] & 1 ? CONF_LXC : CONF_PVE;
	bool dev = format == CONF_PVE && (data[0] & 2);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct lxgpu_err err = { 0 };
	struct conf c;

	if (conf_parse(text, len, format, &c, &err) < 0)
		return 0;
	struct conf_edit e;
	conf_edit_init(&e, &c);
	size_t outlen;
	char *out = apply(&c, &e, &outlen);
	check(outlen == len && memcmp(out, text, len) == 0);
	free(out);
	conf_edit_free(&e);

	/* only inputs without device lines: attach then detach must give them back */
	struct dl_scan scan;
	dl_scan(&c, &scan);
	/* sync --all skips a text dl_text_may_scan rules out: it must hold nothing */
	check(dl_text_may_scan(text, len) || (scan.n == 0 && scan.reset_end == 0));
	bool clean = scan.n == 0 && conf_first_invalid(&c) < 0;
	dl_free(&scan);
	struct lxgpu_plan plan;
	struct plan_request req = { .style = dev ? LXGPU_STYLE_DEV : LXGPU_STYLE_RAW,
				    .format = format,
				    .privileged = true,
				    .dev_supported = true,
				    .render_gid = -1,
				    .video_gid = -1 };
	struct edit_report rep;
	if (!clean || plan_build(&inv, &req, &plan, &err) < 0) {
		conf_free(&c);
		return 0;
	}
	struct edit_opts opts;
	sync_opts(&inv, false, &opts);
	if (sync_plan_edit(&c, &plan, &opts, &e, &rep, &err) == 0) {
		char *attached = apply(&c, &e, &outlen);
		/* everything from the first section header on is untouched, but for
		 * the "\n" a changed text always ends with */
		if (c.main_end < c.nlines) {
			const char *tail = text + c.lines[c.main_end].off;
			size_t tlen = len - c.lines[c.main_end].off;
			bool eol_added = len > 0 && text[len - 1] != '\n';
			size_t end = outlen - (eol_added ? 1 : 0);
			check(outlen >= tlen + (eol_added ? 1 : 0) &&
			      memcmp(attached + end - tlen, tail, tlen) == 0 &&
			      (!eol_added || attached[outlen - 1] == '\n'));
		}
		struct conf c2;
		struct conf_edit e2;
		struct edit_report rep2;
		check(conf_parse(attached, outlen, format, &c2, &err) == 0);
		check(conf_first_invalid(&c2) < 0);
		check(edit_detach(&c2, &e2, &rep2, &err) == 0);
		size_t backlen;
		char *back = apply(&c2, &e2, &backlen);
		bool same = backlen == len && memcmp(back, text, len) == 0;
		bool newline_added = backlen == len + 1 && memcmp(back, text, len) == 0 &&
				     back[len] == '\n' && len > 0 && text[len - 1] != '\n';
		check(same || newline_added);
		free(back);
		free(attached);
		edit_report_free(&rep2);
		conf_edit_free(&e2);
		conf_free(&c2);
		edit_report_free(&rep);
		conf_edit_free(&e);
	}
	plan_free(&plan);
	conf_free(&c);
	return 0;
}
