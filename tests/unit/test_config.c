/* The config parser and editor. Expectations come from Proxmox's grammar as
 * pve-container's parse_pct_config reads it and from
 * LXC's "key = value" rules, not from the program. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/devlines.h"
#include "config/idmap.h"

static struct conf parse(const char *text, enum conf_format f)
{
	struct conf c;
	struct lxgpu_err err = { 0 };
	assert_int_equal(conf_parse(text, strlen(text), f, &c, &err), 0);
	return c;
}

static void expect_line(const char *text, enum conf_kind kind, const char *key, const char *value)
{
	struct conf c = parse(text, CONF_PVE);
	assert_int_equal(c.nlines, 1);
	if (c.lines[0].kind != kind)
		fail_msg("%s: kind %d, want %d", text, c.lines[0].kind, kind);
	if (key) {
		assert_string_equal(c.lines[0].key, key);
		assert_string_equal(c.lines[0].value, value);
	}
	conf_free(&c);
}

/* pve-container's parse_pct_config, its regexes run on each line */
static void test_pve_grammar(void **state)
{
	(void)state;
	const char *allow = "lxc.cgroup2.devices.allow";
	expect_line("lxc.cgroup2.devices.allow: c 195:* rwm", CONF_KEY, allow, "c 195:* rwm");
	expect_line("lxc.cgroup2.devices.allow = c 195:* rwm", CONF_KEY, allow, "c 195:* rwm");
	expect_line("lxc.cgroup2.devices.allow=c 195:* rwm", CONF_KEY, allow, "c 195:* rwm");
	expect_line("lxc.cgroup2.devices.allow :c 195:* rwm", CONF_INVALID, NULL, NULL);
	expect_line("lxc.cgroup2.devices.allow:", CONF_KEY, allow, "");
	expect_line("LXC.mount.entry: /dev/x dev/x none bind", CONF_INVALID, NULL, NULL);
	expect_line("Memory: 512", CONF_INVALID, NULL, NULL);
	expect_line(" memory: 512", CONF_INVALID, NULL, NULL);
	expect_line("dev0 : /dev/x", CONF_INVALID, NULL, NULL);
	expect_line("memory:512", CONF_KEY, "memory", "512");
	expect_line("  # indented comment", CONF_INVALID, NULL, NULL);
	expect_line("#lxc.cgroup2.devices.allow: c 195:* rwm", CONF_COMMENT, NULL, NULL);
	expect_line("tags:  ", CONF_KEY, "tags", " ");
	expect_line("foo: bar", CONF_KEY, "foo", "bar");
	expect_line("key:", CONF_INVALID, NULL, NULL);
	expect_line("[a]", CONF_INVALID, NULL, NULL);
	expect_line("[1abc]", CONF_INVALID, NULL, NULL);
	expect_line("[my.snap]", CONF_INVALID, NULL, NULL);
	expect_line("[pve:pending]", CONF_SECTION, NULL, NULL);
	expect_line("[PVE:Pending]  ", CONF_SECTION, NULL, NULL);
	expect_line("[before_gpu-2]", CONF_SECTION, NULL, NULL);
	expect_line("memory: 512\r", CONF_KEY, "memory", "512");
	expect_line("dev0: /dev/nvidia0,gid=44,mode=0666", CONF_KEY, "dev0",
		    "/dev/nvidia0,gid=44,mode=0666");
	expect_line("  \t\r", CONF_BLANK, NULL, NULL);
}

static void test_lxc_grammar(void **state)
{
	(void)state;
	struct conf c = parse("lxc.net.0.type = empty\n  lxc.mount.entry=/dev/x dev/x none bind\n"
			      "# a comment\nlxc.uts.name\nfoo = bar\n"
			      "lxc.environment = \"A=b c\"\n\n",
			      CONF_LXC);
	assert_int_equal(c.nlines, 7);
	assert_int_equal(c.lines[0].kind, CONF_KEY);
	assert_string_equal(c.lines[0].value, "empty");
	assert_string_equal(c.lines[1].key, "lxc.mount.entry");
	assert_string_equal(c.lines[1].value, "/dev/x dev/x none bind");
	assert_int_equal(c.lines[2].kind, CONF_COMMENT);
	assert_int_equal(c.lines[3].kind,
			 CONF_INVALID); /* lxc-start: "Invalid configuration line" */
	assert_int_equal(c.lines[4].kind, CONF_COMMENT); /* not lxc.*: LXC ignores it */
	assert_string_equal(c.lines[5].value, "A=b c");
	assert_int_equal(c.lines[6].kind, CONF_BLANK);
	assert_int_equal(c.main_end, 7); /* no sections in LXC configs */
	assert_int_equal(conf_first_invalid(&c), 3);
	conf_free(&c);
}

/* ref/pve-samples/08-pending-dev-and-snapshot.conf, shortened */
static const char sample08[] = "#GPU worker%3A CUDA 12 toolkit installed\n"
			       "arch: amd64\n"
			       "hostname: cuda-worker\n"
			       "unprivileged: 1\n"
			       "lxc.apparmor.profile: generated\n"
			       "\n"
			       "[pve:pending]\n"
			       "delete: timezone\n"
			       "dev0: /dev/nvidia0,gid=44,mode=0666\n"
			       "dev2: /dev/nvidia-uvm,gid=44,mode=0666\n"
			       "\n"
			       "[before_gpu]\n"
			       "#clean install, before GPU passthrough\n"
			       "arch: amd64\n"
			       "hostname: old-name\n"
			       "snaptime: 1718000000\n";

static void test_sections(void **state)
{
	(void)state;
	struct conf c = parse(sample08, CONF_PVE);
	assert_int_equal(c.main_end, 6);
	assert_int_equal(c.pending, 6);
	assert_string_equal(conf_get(&c, "hostname"), "cuda-worker"); /* not the snapshot's */
	assert_null(conf_get(&c, "snaptime"));
	assert_string_equal(conf_get_pending(&c, "dev2"), "/dev/nvidia-uvm,gid=44,mode=0666");
	assert_null(conf_get_pending(&c, "snaptime"));
	assert_true(conf_is_true(conf_get(&c, "unprivileged")));
	assert_false(conf_is_true("0"));
	assert_true(conf_is_true("Yes"));
	conf_free(&c);

	c = parse("memory: 1\nmemory: 2\n", CONF_PVE);
	assert_string_equal(conf_get(&c, "memory"), "2"); /* the last wins (§1.5) */
	conf_free(&c);
}

static void roundtrip(const char *text)
{
	struct conf c = parse(text, CONF_PVE);
	struct conf_edit e;
	size_t len;
	conf_edit_init(&e, &c);
	assert_false(conf_edit_changes(&e, &c));
	char *out = conf_render(&c, &e, &len);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(out, text, len);
	free(out);
	char *diff = conf_diff(&c, &e, "x");
	assert_string_equal(diff, "");
	free(diff);
	conf_edit_free(&e);
	conf_free(&c);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(sample08);
	roundtrip("");
	roundtrip("arch: amd64\r\nmemory: 512\r\n");
	roundtrip("arch: amd64\nmemory: 512");
	roundtrip("\n\n[snap]\n");
	roundtrip("#only a description");
}

static char *edited(const char *text, const char *const *add, size_t nadd, size_t remove_line)
{
	struct conf c = parse(text, CONF_PVE);
	struct conf_edit e;
	conf_edit_init(&e, &c);
	if (remove_line != (size_t)-1)
		e.remove[remove_line] = true;
	conf_edit_place(&e, &c);
	for (size_t i = 0; i < nadd; i++)
		conf_edit_add(&e, add[i]);
	char *out = conf_render(&c, &e, NULL);
	conf_edit_free(&e);
	conf_free(&c);
	return out;
}

static void test_placement(void **state)
{
	(void)state;
	static const char *const add[] = { "lxc.a: 1", "lxc.b: 2" };
	char *out;

	/* after the last non-blank main line, before the blank line and the section (§7 rule 2) */
	out = edited(sample08, add, 2, (size_t)-1);
	assert_non_null(strstr(out, "lxc.apparmor.profile: generated\nlxc.a: 1\nlxc.b: 2\n\n"
				    "[pve:pending]\n"));
	assert_string_equal(strstr(out, "[pve:pending]"), strstr(sample08, "[pve:pending]"));
	free(out);

	/* no final newline: one is added before the new lines */
	out = edited("arch: amd64\nmemory: 512", add, 2, (size_t)-1);
	assert_string_equal(out, "arch: amd64\nmemory: 512\nlxc.a: 1\nlxc.b: 2\n");
	free(out);

	/* CRLF lines are kept as they are; new lines are LF only (§7 rule 3) */
	out = edited("arch: amd64\r\nmemory: 512\r\n", add, 1, (size_t)-1);
	assert_string_equal(out, "arch: amd64\r\nmemory: 512\r\nlxc.a: 1\n");
	free(out);

	/* an empty main section: before the first section header */
	out = edited("[snap]\narch: amd64\n", add, 1, (size_t)-1);
	assert_string_equal(out, "lxc.a: 1\n[snap]\narch: amd64\n");
	free(out);

	/* removing the last line moves the insertion point up */
	out = edited("arch: amd64\nlxc.old: x\n\n[snap]\nz: 1\n", add, 1, 1);
	assert_string_equal(out, "arch: amd64\nlxc.a: 1\n\n[snap]\nz: 1\n");
	free(out);
}

static void test_diff(void **state)
{
	(void)state;
	static const char text[] = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\nlxc.x: 1\n\n[snap]\ng: 7\n";
	struct conf c = parse(text, CONF_PVE);
	struct conf_edit e;
	conf_edit_init(&e, &c);
	e.remove[6] = true;
	conf_edit_place(&e, &c);
	conf_edit_add(&e, "lxc.y: 2");
	char *diff = conf_diff(&c, &e, "etc/pve/lxc/100.conf");
	assert_string_equal(diff, "--- a/etc/pve/lxc/100.conf\n"
				  "+++ b/etc/pve/lxc/100.conf\n"
				  "@@ -4,7 +4,7 @@\n"
				  " d: 4\n"
				  " e: 5\n"
				  " f: 6\n"
				  "-lxc.x: 1\n"
				  "+lxc.y: 2\n"
				  " \n"
				  " [snap]\n"
				  " g: 7\n");
	free(diff);
	conf_edit_free(&e);
	conf_free(&c);

	struct conf c2 = parse("a: 1", CONF_PVE);
	conf_edit_init(&e, &c2);
	conf_edit_place(&e, &c2);
	conf_edit_add(&e, "lxc.y: 2");
	diff = conf_diff(&c2, &e, "f");
	assert_string_equal(diff, "--- a/f\n+++ b/f\n@@ -1,1 +1,2 @@\n"
				  "-a: 1\n\\ No newline at end of file\n+a: 1\n+lxc.y: 2\n");
	free(diff);
	conf_edit_free(&e);
	conf_free(&c2);
}

static void test_refusals(void **state)
{
	(void)state;
	struct conf c;
	struct lxgpu_err err = { 0 };
	static const char nul[] = "arch: amd64\n\0\n";
	assert_int_equal(conf_parse(nul, sizeof(nul) - 1, CONF_PVE, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "not a config: a NUL byte at offset 12");
	lxgpu_err_clear(&err);
	char *big = malloc(CONF_MAX + 2);
	memset(big, 'a', CONF_MAX + 1);
	assert_int_equal(conf_parse(big, CONF_MAX + 1, CONF_PVE, &c, &err), -EFBIG);
	free(big);
	c = parse("arch: amd64\nthis is not a config line\n", CONF_PVE);
	assert_int_equal(conf_first_invalid(&c), 1);
	conf_free(&c);
	/* invalid lines in a snapshot are not the main section's business */
	c = parse("arch: amd64\n[snap]\nnot a line\n", CONF_PVE);
	assert_int_equal(conf_first_invalid(&c), -1);
	conf_free(&c);
}

/* Who the container's root is on the host and what it may write, as the
 * kernel decides in a user namespace (privileged_wrt_inode_uidgid: both of
 * the inode's ids mapped, else generic_permission's owner/group/other bits). */
static void test_idmap(void **state)
{
	(void)state;
	struct conf pve = parse("arch: amd64\nunprivileged: 1\n", CONF_PVE);
	assert_int_equal(ct_host_id(&pve, 'u', 0), 100000);
	assert_int_equal(ct_inside_id(&pve, 'u', 100000), 0);
	assert_int_equal(ct_inside_id(&pve, 'g', 165535), 65535);
	assert_int_equal(ct_inside_id(&pve, 'u', 165536), -1);
	assert_int_equal(ct_inside_id(&pve, 'u', 0), -1);
	assert_true(ct_root_may_write(&pve, 100000, 100000, 0755));
	assert_true(ct_root_may_write(&pve, 101000, 101000, 0500)); /* DAC override */
	assert_false(ct_root_may_write(&pve, 0, 0, 0755));          /* other: r-x */
	assert_true(ct_root_may_write(&pve, 0, 0, 0777));
	assert_false(ct_root_may_write(&pve, 0, 100000, 0755)); /* group r-x */
	assert_true(ct_root_may_write(&pve, 0, 100000, 0775));
	assert_false(ct_root_may_write(&pve, 100000, 0, 0555)); /* owner, gid unmapped */
	assert_true(ct_root_may_write(&pve, 100000, 0, 0755));
	conf_free(&pve);

	struct conf lxc = parse("lxc.idmap = u 0 200000 1000\nlxc.idmap = g 0 300000 1000\n"
				"lxc.idmap = u 1000 1000 1\n",
				CONF_LXC);
	assert_int_equal(ct_host_id(&lxc, 'g', 0), 300000);
	assert_int_equal(ct_inside_id(&lxc, 'u', 1000), 1000);
	assert_int_equal(ct_inside_id(&lxc, 'u', 100000), -1); /* no Proxmox default */
	assert_true(ct_root_may_write(&lxc, 200005, 300005, 0));
	assert_false(ct_root_may_write(&lxc, 1000, 1000, 0755)); /* gid 1000 unmapped */
	assert_false(ct_root_may_write(&lxc, 100000, 100000, 0755));
	conf_free(&lxc);

	struct conf priv = parse("lxc.rootfs.path = dir:/x\n", CONF_LXC);
	assert_int_equal(ct_inside_id(&priv, 'u', 0), 0);
	assert_true(ct_root_may_write(&priv, 0, 0, 0555));
	conf_free(&priv);
}

/* dl_text_may_scan: false only where dl_scan would find nothing; each text
 * it passes has a line dl_scan reports. */
static void test_may_scan(void **state)
{
	(void)state;
	static const char *const skipped[] = {
		"arch: amd64\nhostname: web\nmemory: 512\n",
		"description: devices%3A none\nnet0: name=eth0,bridge=vmbr0\n",
		"",
		"# lxc dev notes\n[snap]\nostype: debian\n",
		"hostname: dev\n",
	};
	static const struct {
		const char *text;
		enum conf_format format;
	} kept[] = {
		{ "arch: amd64\nlxc.cgroup2.devices.allow: c 195:0 rwm\n", CONF_PVE },
		{ "dev0: /dev/nvidia0\n", CONF_PVE },
		{ "lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind 0 0\n", CONF_LXC },
		{ "memory: 512\nlxc.cgroup2.devices.allow:\n", CONF_PVE },
	};
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		assert_false(dl_text_may_scan(skipped[i], strlen(skipped[i])));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		struct conf c;
		struct dl_scan s;
		struct lxgpu_err err = { 0 };
		assert_true(dl_text_may_scan(kept[i].text, strlen(kept[i].text)));
		assert_int_equal(
			conf_parse(kept[i].text, strlen(kept[i].text), kept[i].format, &c, &err),
			0);
		dl_scan(&c, &s);
		assert_true(s.n > 0 || s.reset_end > 0);
		dl_free(&s);
		conf_free(&c);
	}
	/* a NUL byte: conf_parse says why, so the text is not skipped */
	assert_true(dl_text_may_scan("arch: amd64\n\0\n", 14));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pve_grammar), cmocka_unit_test(test_lxc_grammar),
		cmocka_unit_test(test_sections),    cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_placement),   cmocka_unit_test(test_diff),
		cmocka_unit_test(test_refusals),    cmocka_unit_test(test_idmap),
		cmocka_unit_test(test_may_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
