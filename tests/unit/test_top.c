/* lxgpu top's parsers (src/top/parse.c) on the text the kernel writes: cgroup
 * paths of every container manager, NSpid, cmdline, DRM fdinfo
 * (Documentation/gpu/drm-usage-stats.rst, amdgpu's and xe's keys); and the
 * tables of src/top/view.c at every width. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "top/parse.h"
#include "top/view.h"

#define LEN(s) (sizeof(s) - 1)

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* /proc/PID/cgroup, and the container ("" for the host's) and nested one */
static const struct {
	const char *text, *ct, *nested;
} cgroups[] = {
	/* Proxmox (pve-container: lxc.cgroup.dir.container = lxc/VMID, inner = ns) */
	{ "0::/lxc/101/ns/init.scope\n", "101", "" },
	{ "0::/lxc/101/ns/system.slice/ssh.service\n", "101", "" },
	{ "0::/lxc.payload.102/init.scope\n", "102", "" },
	{ "0::/lxc/103\n", "103", "" }, /* the container's own cgroup, no ns below */
	/* LXC's monitor and the host's services */
	{ "0::/lxc.monitor/101\n", "", "" },
	{ "0::/lxc.monitor.web\n", "", "" },
	{ "0::/system.slice/pve-cluster.service\n", "", "" },
	{ "0::/\n", "", "" },
	/* plain LXC: by name, also a user's container under its systemd slice,
	 * LXC 3's /lxc/NAME, a name with dots */
	{ "0::/lxc.payload.web/system.slice/nginx.service\n", "web", "" },
	{ "0::/user.slice/user-1000.slice/user@1000.service/app.slice/lxc.payload.c1/init.scope\n",
	  "c1", "" },
	{ "0::/lxc/old-name/init.scope", "old-name", "" },
	{ "0::/lxc.payload.db.example.org/init.scope\n", "db.example.org", "" },
	/* nested: systemd scopes, then the cgroupfs drivers' paths */
	{ "0::/lxc/101/ns/system.slice/docker-" ID64 ".scope\n", "101", "docker 0123456789ab" },
	{ "0::/lxc/101/ns/machine.slice/libpod-" ID64 ".scope/container\n", "101",
	  "podman 0123456789ab" },
	{ "0::/lxc/101/ns/kubepods.slice/cri-containerd-" ID64 ".scope\n", "101",
	  "containerd 0123456789ab" },
	{ "0::/lxc/101/ns/kubepods.slice/crio-" ID64 ".scope\n", "101", "cri-o 0123456789ab" },
	{ "0::/lxc.payload.web/docker/" ID64 "\n", "web", "docker 0123456789ab" },
	{ "0::/lxc.payload.web/libpod_parent/libpod-" ID64 "\n", "web", "podman 0123456789ab" },
	{ "0::/lxc/101/ns/lxc.payload.inner/init.scope\n", "101", "lxc inner" },
	/* podman's conmon and a short "id" are no container */
	{ "0::/lxc/101/ns/machine.slice/libpod-conmon-" ID64 ".scope\n", "101", "" },
	{ "0::/lxc/101/ns/system.slice/docker-abc.scope\n", "101", "" },
	/* a hybrid host: the v2 line says nothing, a v1 line does; else v2 wins */
	{ "12:devices:/lxc/103/ns\n11:memory:/lxc/103/ns\n1:name=systemd:/lxc/103/ns/x\n0::/\n",
	  "103", "" },
	{ "4:cpu:/lxc/1\n0::/lxc/2/ns\n", "2", "" },
	/* garbage */
	{ "", "", "" },
	{ "no colons here\nlxc/101\n", "", "" },
	{ "0::/lxc\n", "", "" },
	{ "0::/lxc.payload.\n", "", "" },
	{ "::::::\n0::", "", "" },
};

static void test_cgroup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++) {
		struct top_cgroup cg;
		bool found = top_cgroup_parse(cgroups[i].text, strlen(cgroups[i].text), &cg);
		if (found != (cgroups[i].ct[0] != '\0') || strcmp(cg.ct, cgroups[i].ct) != 0 ||
		    strcmp(cg.nested, cgroups[i].nested) != 0)
			fail_msg("%s: got \"%s\" \"%s\", want \"%s\" \"%s\"", cgroups[i].text,
				 cg.ct, cg.nested, cgroups[i].ct, cgroups[i].nested);
	}
}

static void test_cgroup_not_terminated(void **state)
{
	(void)state;
	/* the length is respected: no NUL after the text */
	char *text = malloc(16);
	memcpy(text, "0::/lxc/101/ns/x", 16);
	struct top_cgroup cg;
	assert_true(top_cgroup_parse(text, 16, &cg));
	assert_string_equal(cg.ct, "101");
	assert_false(top_cgroup_parse(text, 7, &cg)); /* "0::/lxc" */
	free(text);
}

static void test_nspid(void **state)
{
	(void)state;
	static const char status[] = "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\n"
				     "Tgid:\t1400\nNgid:\t0\nPid:\t1400\nPPid:\t1399\n"
				     "NSpid:\t1400\t88\t1\nNSpgid:\t1400\t88\t1\n";
	int pids[8];
	assert_int_equal(top_nspid_parse(status, LEN(status), pids, 8), 3);
	assert_int_equal(pids[0], 1400);
	assert_int_equal(pids[1], 88);
	assert_int_equal(pids[2], 1);
	assert_int_equal(top_nspid_parse(status, LEN(status), pids, 2), 2);
	assert_int_equal(top_nspid_parse("NSpid:\t900\n", 11, pids, 8), 1);
	assert_int_equal(top_nspid_parse("Name:\tx\n", 8, pids, 8), 0);
	assert_int_equal(top_nspid_parse("NSpid:\tabc\n", 11, pids, 8), 0);
	assert_int_equal(top_nspid_parse("NSpid:\t-3\t4\n", 12, pids, 8), 0);
}

static void test_cmdline(void **state)
{
	(void)state;
	char out[32];
	top_cmdline_text("python3\0train.py\0", 17, out, sizeof(out));
	assert_string_equal(out, "python3 train.py");
	top_cmdline_text("a\tb\033c\0", 7, out, sizeof(out));
	assert_string_equal(out, "a?b?c");
	top_cmdline_text("0123456789abcdefghij", 20, out, 16); /* cut to the buffer */
	assert_string_equal(out, "0123456789abcde");
	top_cmdline_text("", 0, out, sizeof(out));
	assert_string_equal(out, "");
}

/* amdgpu (drivers/gpu/drm/amd/amdgpu/amdgpu_fdinfo.c): legacy drm-memory-*
 * in KiB, engines in ns, only those that were busy */
static const char amdgpu[] = "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1118\n"
			     "drm-driver:\tamdgpu\ndrm-client-id:\t11\ndrm-pdev:\t0000:03:00.0\n"
			     "pasid:\t32774\ndrm-memory-vram:\t1048576 KiB\n"
			     "drm-memory-gtt: \t65536 KiB\ndrm-memory-cpu: \t0 KiB\n"
			     "amd-memory-visible-vram:\t0 KiB\ndrm-engine-gfx:\t1500000000 ns\n"
			     "drm-engine-enc:\t200 ns\ndrm-engine-capacity-dec:\t2\n"
			     "drm-engine-dec:\t300 ns\n";

static void test_fdinfo_amdgpu(void **state)
{
	(void)state;
	struct top_drm_fdinfo f;
	assert_true(top_drm_fdinfo_parse(amdgpu, LEN(amdgpu), &f));
	assert_string_equal(f.driver, "amdgpu");
	assert_string_equal(f.pdev, "0000:03:00.0");
	assert_true(f.have_client_id);
	assert_int_equal(f.client_id, 11);
	assert_true(f.have_mem_local);
	assert_int_equal(f.mem_local, 1ull << 30);
	assert_int_equal(f.mem_other, 64ull << 20);
	assert_int_equal(f.nengines, 3);
	assert_string_equal(f.engines[0].name, "gfx");
	assert_int_equal(f.engines[0].ns, 1500000000ull);
	assert_int_equal(f.engines[0].capacity, 1);
	assert_string_equal(f.engines[2].name, "dec");
	assert_int_equal(f.engines[2].capacity, 2);
	assert_int_equal(f.engines[2].ns, 300);
}

static void test_fdinfo_regions(void **state)
{
	(void)state;
	struct top_drm_fdinfo f;
	/* resident before drm-memory- before drm-total-, region by region */
	static const char newer[] = "drm-driver: amdgpu\ndrm-total-vram: 2048 KiB\n"
				    "drm-resident-vram: 1024 KiB\ndrm-memory-vram: 4096 KiB\n"
				    "drm-total-gtt: 8 MiB\n";
	assert_true(top_drm_fdinfo_parse(newer, LEN(newer), &f));
	assert_int_equal(f.mem_local, 1 << 20);
	assert_int_equal(f.mem_other, 8 << 20);
	assert_false(f.have_client_id);
	/* i915 on an integrated GPU: system memory only, in bytes */
	static const char i915[] = "drm-driver:\ti915\ndrm-pdev:\t0000:00:02.0\n"
				   "drm-client-id:\t7\ndrm-total-system0:\t4096\n"
				   "drm-resident-system0:\t2048\ndrm-engine-render:\t9 ns\n"
				   "drm-engine-capacity-video:\t2\ndrm-engine-video:\t5 ns\n";
	assert_true(top_drm_fdinfo_parse(i915, LEN(i915), &f));
	assert_false(f.have_mem_local);
	assert_true(f.have_mem_other);
	assert_int_equal(f.mem_other, 2048);
	assert_int_equal(f.engines[1].capacity, 2);
	/* xe on a discrete GPU: vram0 is the device's */
	static const char xe[] = "drm-driver:\txe\ndrm-resident-vram0:\t3 MiB\n"
				 "drm-cycles-rcs:\t10\ndrm-total-cycles-rcs:\t100\n";
	assert_true(top_drm_fdinfo_parse(xe, LEN(xe), &f));
	assert_int_equal(f.mem_local, 3 << 20);
	assert_true(f.engines[0].have_cycles);
	assert_false(f.engines[0].have_ns);
	assert_int_equal(f.engines[0].cycles, 10);
	assert_int_equal(f.engines[0].total_cycles, 100);
}

static void test_fdinfo_not_drm(void **state)
{
	(void)state;
	struct top_drm_fdinfo f;
	static const char file[] = "pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t7\n";
	assert_false(top_drm_fdinfo_parse(file, LEN(file), &f));
	static const char bad[] = "drm-driver:\tx\ndrm-pdev:\tnot-pci\ndrm-engine-gfx:\tmany ns\n"
				  "drm-memory-vram:\t12 PiB\ndrm-engine-:\t5 ns\n";
	assert_true(top_drm_fdinfo_parse(bad, LEN(bad), &f));
	assert_string_equal(f.pdev, "");
	assert_int_equal(f.nengines, 0);
	assert_false(f.have_mem_local);
	/* more engines than it keeps: the rest are left out, nothing overflows */
	char many[4096];
	size_t n = (size_t)snprintf(many, sizeof(many), "drm-driver: x\n");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "drm-engine-e%d: %d ns\n", i, i);
	assert_true(top_drm_fdinfo_parse(many, n, &f));
	assert_int_equal(f.nengines, TOP_DRM_ENGINES);
}

static void test_engine_percent(void **state)
{
	(void)state;
	struct top_drm_engine a = { .ns = 1000000000, .capacity = 1, .have_ns = true };
	struct top_drm_engine b = a;
	b.ns += 500000000;
	assert_int_equal(top_engine_percent(&a, &b, 1000000000), 50);
	b.capacity = 2; /* two engines of the class: half as much of it */
	assert_int_equal(top_engine_percent(&a, &b, 1000000000), 25);
	b.capacity = 1;
	assert_int_equal(top_engine_percent(&a, &b, 100000000), 100); /* capped */
	assert_int_equal(top_engine_percent(&b, &a, 1000000000), -1); /* went back */
	assert_int_equal(top_engine_percent(&a, &b, 0), -1);
	struct top_drm_engine c = { .cycles = 1000, .total_cycles = 10000, .have_cycles = true };
	struct top_drm_engine d = { .cycles = 1300, .total_cycles = 11000, .have_cycles = true };
	assert_int_equal(top_engine_percent(&c, &d, 12345), 30);
	assert_int_equal(top_engine_percent(&c, &c, 12345), -1); /* no time went by */
	struct top_drm_engine none = { 0 };
	assert_int_equal(top_engine_percent(&none, &b, 1000000000), -1);
}

static void test_engine_kind(void **state)
{
	(void)state;
	/* amdgpu's, i915's and xe's engine names, by what they count for */
	static const struct {
		const char *names;
		enum top_engine_kind kind;
	} kinds[] = {
		{ "gfx compute render rcs ccs vpe", TOP_ENGINE_MAIN },
		{ "enc enc_1", TOP_ENGINE_ENC },
		{ "dec jpeg video vcs", TOP_ENGINE_DEC },
		{ "copy bcs dma", TOP_ENGINE_COPY },
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char names[64], *save = NULL;
		snprintf(names, sizeof(names), "%s", kinds[k].names);
		for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save))
			if (top_engine_kind(n) != kinds[k].kind)
				fail_msg("engine %s: kind %d, want %d", n, top_engine_kind(n),
					 kinds[k].kind);
	}
}

static void test_text(void **state)
{
	(void)state;
	char buf[32];
	top_bytes_text(512, buf, sizeof(buf));
	assert_string_equal(buf, "1 KiB");
	top_bytes_text(300ull << 20, buf, sizeof(buf));
	assert_string_equal(buf, "300 MiB");
	top_bytes_text(3ull << 30, buf, sizeof(buf));
	assert_string_equal(buf, "3.0 GiB");
	top_bytes_text(TOP_UNKNOWN, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	char *s = top_text_fit("NVIDIA H100 80GB HBM3", 8);
	assert_string_equal(s, "NVIDIA …");
	assert_int_equal(top_text_width(s), 8);
	free(s);
	s = top_text_fit("äöü✓", 3); /* code points, not bytes */
	assert_string_equal(s, "äö…");
	free(s);
	s = top_text_fit("short", 10);
	assert_string_equal(s, "short");
	free(s);
}

/* A snapshot of two GPUs, two containers and the host's processes. */
static void snapshot(struct top_snapshot *s, struct top_gpu *g, struct top_proc *p,
		     struct top_ct *c)
{
	memset(s, 0, sizeof(*s));
	g[0] = (struct top_gpu){ 0,
				 LXGPU_VENDOR_NVIDIA,
				 "NVIDIA H100 80GB HBM3",
				 "GPU-1",
				 "0000:00:06.0",
				 9ull << 30,
				 80ull << 30,
				 61,
				 -1,
				 -1,
				 "nvml" };
	g[1] = g[0];
	g[1].index = 1;
	g[1].enc = 25;
	g[1].dec = 30;
	p[0] = (struct top_proc){
		1201, 45,         "101", NULL, "python3 train.py --epochs 10 --lr 0.001",
		0,    3ull << 30, 40,    -1,   -1
	};
	p[1] = (struct top_proc){
		1400, 88, "101", "podman 0123456789ab", "python3 serve.py", 1, 1ull << 30, 20, 0, 3
	};
	p[2] = (struct top_proc){
		1300, 7, "a-rather-long-container-name", NULL, "/opt/app/infer", 1, 300ull << 20, 0,
		0,    0
	};
	p[3] = (struct top_proc){ 900, -1,         NULL, NULL, "/usr/local/bin/ollama serve",
				  0,   2ull << 30, 1,    -1,   -1 };
	c[0] = (struct top_ct){ "101", 4ull << 30, 60, 0, 3, 3, 0, 2 };
	c[1] = (struct top_ct){ "a-rather-long-container-name", 300ull << 20, 0, 0, 0, 2, 2, 1 };
	c[2] = (struct top_ct){ NULL, 2ull << 30, 1, -1, -1, 1, 3, 1 };
	s->gpus = g;
	s->ngpus = 2;
	s->procs = p;
	s->nprocs = 4;
	s->cts = c;
	s->ncts = 3;
}

static void test_view_widths(void **state)
{
	(void)state;
	struct top_snapshot s;
	struct top_gpu g[2];
	struct top_proc p[4];
	struct top_ct c[3];
	snapshot(&s, g, p, c);
	for (size_t width = 10; width <= 160; width++) {
		struct view v;
		top_view(&s, width, &v);
		assert_true(v.n >= 3 + 1 + 4 + 1 + 5);
		assert_true(v.lines[0].header);
		for (size_t i = 0; i < v.n; i++)
			assert_true(top_text_width(v.lines[i].text) <= width);
		top_view_free(&v);
	}
	/* no limit: nothing cut, every column there */
	struct view v;
	top_view(&s, 0, &v);
	bool whole = false, enc = false;
	for (size_t i = 0; i < v.n; i++) {
		whole |= strstr(v.lines[i].text, "--lr 0.001") != NULL;
		enc |= v.lines[i].header && strstr(v.lines[i].text, "ENC  DEC") != NULL;
		assert_null(strstr(v.lines[i].text, "…"));
	}
	assert_true(whole);
	assert_true(enc);
	top_view_free(&v);
	/* no GPU */
	s.ngpus = 0;
	top_view(&s, 80, &v);
	assert_int_equal(v.n, 1);
	top_view_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup),         cmocka_unit_test(test_cgroup_not_terminated),
		cmocka_unit_test(test_nspid),          cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_fdinfo_amdgpu),  cmocka_unit_test(test_fdinfo_regions),
		cmocka_unit_test(test_fdinfo_not_drm), cmocka_unit_test(test_engine_percent),
		cmocka_unit_test(test_engine_kind),    cmocka_unit_test(test_text),
		cmocka_unit_test(test_view_widths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
