/* Device lines, lxgpu's record and the domain (docs/ownership.md). The
 * expectations come from LXC's and Proxmox's line formats (lxc.container.conf(5),
 * fstab(5)'s octal escapes, pct.conf(5)'s devN) and from docs/ownership.md,
 * not from the program. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/devlines.h"
#include "config/domain.h"
#include "config/edit.h"
#include "config/record.h"

static struct conf parse(const char *text, enum conf_format f)
{
	struct conf c;
	struct lxgpu_err err = { 0 };
	assert_int_equal(conf_parse(text, strlen(text), f, &c, &err), 0);
	return c;
}

static void test_rules(void **state)
{
	(void)state;
	char t;
	int maj, min;
	assert_true(dl_parse_rule("c 195:0 rwm", &t, &maj, &min));
	assert_int_equal(t, 'c');
	assert_int_equal(maj, 195);
	assert_int_equal(min, 0);
	assert_true(dl_parse_rule("c 195:* rwm", &t, &maj, &min));
	assert_int_equal(min, -1);
	assert_true(dl_parse_rule("b *:* m", &t, &maj, &min));
	assert_int_equal(maj, -1);
	assert_true(dl_parse_rule("a", &t, &maj, &min));
	assert_int_equal(t, 'a');
	assert_true(dl_parse_rule("a *:* rwm", &t, &maj, &min));
	/* majors are 12 bits, minors 20 (linux/kdev_t.h) */
	assert_false(dl_parse_rule("c 4096:0 rwm", &t, &maj, &min));
	assert_false(dl_parse_rule("c 1:1048576 rwm", &t, &maj, &min));
	assert_true(dl_parse_rule("c 4095:1048575 rwm", &t, &maj, &min));
	assert_false(dl_parse_rule("c195:0 rwm", &t, &maj, &min));
	assert_false(dl_parse_rule("c 195 rwm", &t, &maj, &min));
	assert_false(dl_parse_rule("x 1:1 rwm", &t, &maj, &min));
	/* as LXC's device_cgroup_rule_parse: r, w and m only, one blank before
	 * and after the numbers, and the blank before the access is needed */
	assert_false(dl_parse_rule("c 508:* rwd", &t, &maj, &min));
	assert_false(dl_parse_rule("c 508:* rw m", &t, &maj, &min));
	assert_false(dl_parse_rule("c  195:0 rwm", &t, &maj, &min));
	assert_false(dl_parse_rule("c 195:*", &t, &maj, &min));
	assert_true(dl_parse_rule("c 508:* r", &t, &maj, &min));
	assert_true(dl_parse_rule("c 195:0 ", &t, &maj, &min));
}

static void test_scan(void **state)
{
	(void)state;
	struct conf c = parse("lxc.cgroup2.devices.deny: c 195:1 rwm\n"
			      "lxc.cgroup.devices.allow: c 195:* rwm\n"
			      "lxc.mount.entry: /srv/x\\040y dev//nvidia0/ none bind,create=file\n"
			      "lxc.mount.entry: /dev/dri/ dev/dri none bind,optional,create=dir\n"
			      "lxc.mount.entry: /run/lxgpu/104/dev/dri/renderD128 "
			      "dev/dri/renderD128 none bind,optional,create=file\n"
			      "dev7: path=/dev/nvidia0,gid=44,mode=0666\n"
			      "dev1000: /dev/nvidia0\n"
			      "lxc.environment: LXGPU_WROTE=c195:0\n"
			      "lxc.hook.pre-start: /usr/bin/lxgpu hook\n"
			      "lxc.environment: NVIDIA_VISIBLE_DEVICES=all\n"
			      "[snap]\nlxc.cgroup2.devices.allow: c 1:1 rwm\n",
			      CONF_PVE);
	struct dl_scan s;
	dl_scan(&c, &s);
	assert_int_equal(s.n, 9); /* dev1000 is no devN; nothing after [snap] */
	assert_true(s.entries[0].deny);
	assert_int_equal(s.entries[0].minor, 1);
	assert_true(s.entries[1].legacy);
	/* fstab's \040 is a space; targets are relative, without doubled '/' */
	assert_string_equal(s.entries[2].path, "/srv/x y");
	assert_string_equal(s.entries[2].target, "dev/nvidia0");
	assert_false(s.entries[2].dir);
	assert_string_equal(s.entries[3].path, "/dev/dri");
	assert_true(s.entries[3].dir);
	assert_true(s.entries[4].via_hook);
	assert_string_equal(s.entries[4].path, "/dev/dri/renderD128");
	assert_int_equal(s.entries[5].kind, DL_DEV);
	assert_string_equal(s.entries[5].path, "/dev/nvidia0");
	assert_int_equal(s.entries[5].gid, 44);
	assert_int_equal(s.entries[5].mode, 0666);
	assert_int_equal(s.entries[5].dev_index, 7);
	assert_int_equal(s.entries[6].kind, DL_RECORD);
	assert_int_equal(s.entries[6].rec, DL_REC_WROTE);
	assert_int_equal(s.entries[7].kind, DL_HOOK);
	assert_int_equal(s.entries[8].kind, DL_OTHER);
	dl_free(&s);
	conf_free(&c);
}

static void test_dead(void **state)
{
	(void)state;
	static const unsigned live[] = { 195, 238, 241 };
	struct dl_entry e = { .kind = DL_RULE, .type = 'c', .minor = -1 };
	/* a dynamic major (254 down to 234, 511 down to 384) nobody registers */
	e.major = 508;
	assert_true(dl_rule_dead(&e, live, 3));
	e.major = 234;
	assert_true(dl_rule_dead(&e, live, 3));
	e.major = 238;
	assert_false(dl_rule_dead(&e, live, 3));
	/* fixed majors wait for their module: ttyUSB, nvidia, drm */
	e.major = 188;
	assert_false(dl_rule_dead(&e, live, 3));
	e.major = 226;
	assert_false(dl_rule_dead(&e, live, 3));
	e.major = 508;
	e.deny = true;
	assert_false(dl_rule_dead(&e, live, 3));
}

static int read_record(const char *text, struct lxgpu_record *r, struct lxgpu_err *err)
{
	struct conf c = parse(text, CONF_PVE);
	struct dl_scan s;
	dl_scan(&c, &s);
	int ret = record_read(&c, &s, r, err);
	dl_free(&s);
	conf_free(&c);
	return ret;
}

static void test_record_v2(void **state)
{
	(void)state;
	struct lxgpu_record r;
	struct lxgpu_err err = { 0 };
	assert_int_equal(read_record("lxc.environment: LXGPU_DEVICES=GPU-a,0000:01:00.0/2/0\n"
				     "lxc.environment: LXGPU_REQUEST=v2,style=dev,rules=wildcard,"
				     "guard=yes,render=104,video=44,driver=copy\n"
				     "lxc.environment: LXGPU_WROTE=c195:*,c508:1,/dev/nvidia0\n",
				     &r, &err),
			 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.ndevices, 2);
	assert_string_equal(r.devices[1], "0000:01:00.0/2/0");
	assert_int_equal(r.style, LXGPU_STYLE_DEV);
	assert_true(r.wildcard);
	assert_true(r.guard);
	assert_int_equal(r.render_gid, 104);
	assert_int_equal(r.video_gid, 44);
	assert_int_equal(r.driver, REC_DRIVER_COPY);
	assert_true(record_has_rule(&r, 'c', 195, -1));
	assert_true(record_has_rule(&r, 'c', 508, 1));
	assert_false(record_has_rule(&r, 'c', 195, 0));
	assert_int_equal(r.nnodes, 1);
	/* written back the same way */
	char *v = record_request_value(&r);
	assert_string_equal(v, "LXGPU_REQUEST=v2,style=dev,rules=wildcard,guard=yes,render=104,"
			       "video=44,driver=copy");
	free(v);
	v = record_wrote_value(&r);
	assert_string_equal(v, "LXGPU_WROTE=c195:*,c508:1,/dev/nvidia0");
	free(v);
	record_free(&r);
}

static void test_record_v1_and_refusals(void **state)
{
	(void)state;
	struct lxgpu_record r;
	struct lxgpu_err err = { 0 };
	/* lxgpu 0.1: its shape of mount is its own; rules as LXGPU_RULES lists them */
	assert_int_equal(read_record("lxc.environment: LXGPU_DEVICES=GPU-a\n"
				     "lxc.environment: LXGPU_RULES=195:0,238:*\n"
				     "lxc.environment: LXGPU_GIDS=render:104,video:44\n"
				     "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none "
				     "bind,optional,create=file\n"
				     "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind\n"
				     "lxc.hook.pre-start: /usr/bin/lxgpu hook --guard\n",
				     &r, &err),
			 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.style, LXGPU_STYLE_RAW);
	assert_false(r.wildcard); /* upgraded exact */
	assert_true(r.guard);
	assert_int_equal(r.render_gid, 104);
	assert_true(record_has_rule(&r, 'c', 238, -1));
	assert_int_equal(r.nv1_lines, 1); /* the mount of its shape, not the other */
	assert_int_equal(r.v1_lines[0], 3);
	record_free(&r);
	/* none */
	assert_int_equal(read_record("memory: 512\n", &r, &err), 0);
	assert_int_equal(r.version, 0);
	record_free(&r);
	/* no selection: no record, whatever else there is */
	assert_int_equal(read_record("lxc.environment: LXGPU_REQUEST=v2\n"
				     "lxc.environment: LXGPU_WROTE=c195:0\n",
				     &r, &err),
			 0);
	assert_int_equal(r.version, 0);
	record_free(&r);
	/* a newer lxgpu's, and one edited by hand */
	assert_int_equal(read_record("lxc.environment: LXGPU_DEVICES=GPU-a\n"
				     "lxc.environment: LXGPU_REQUEST=v3\n",
				     &r, &err),
			 -EPROTO);
	assert_non_null(strstr(err.msg, "newer lxgpu"));
	static const char *const unreadable[] = {
		"LXGPU_REQUEST=v2,guard=maybe\n",
		"LXGPU_REQUEST=version2\n",
		"LXGPU_REQUEST=v2\nlxc.environment: LXGPU_WROTE=c195:0,nvidia0\n",
	};
	for (size_t i = 0; i < sizeof(unreadable) / sizeof(*unreadable); i++) {
		struct lxgpu_err fresh = { 0 }; /* an error is set once */
		char text[256];
		snprintf(text, sizeof(text),
			 "lxc.environment: LXGPU_DEVICES=GPU-a\nlxc.environment: %s",
			 unreadable[i]);
		assert_int_equal(read_record(text, &r, &fresh), -EINVAL);
	}
}

static bool covers(const struct ct_domain *d, const char *line)
{
	struct conf c = parse(line, CONF_PVE);
	struct dl_scan s;
	dl_scan(&c, &s);
	assert_int_equal(s.n, 1);
	bool ok = domain_covers(d, &s.entries[0]);
	dl_free(&s);
	conf_free(&c);
	return ok;
}

static void test_domain(void **state)
{
	(void)state;
	struct ct_domain nv = { 0 }, intel = { 0 };
	nv.nvidia = true;
	domain_add_major(&nv, 195);
	domain_add_major(&nv, 238);
	assert_true(covers(&nv, "lxc.cgroup2.devices.allow: c 195:* rwm"));
	assert_true(covers(&nv, "lxc.cgroup2.devices.allow: c 195:1 rwm"));
	assert_true(covers(&nv, "lxc.cgroup.devices.allow: c 238:* rwm"));
	assert_false(covers(&nv, "lxc.cgroup2.devices.allow: b 195:0 rwm"));
	assert_false(covers(&nv, "lxc.cgroup2.devices.allow: c *:* rwm"));
	assert_false(covers(&nv, "lxc.cgroup2.devices.allow: a"));
	assert_false(covers(&nv, "lxc.cgroup2.devices.deny: c 195:0 rwm"));
	assert_false(covers(&nv, "lxc.cgroup2.devices.allow: c 226:* rwm"));
	assert_true(covers(&nv, "lxc.mount.entry: /dev/nvidia-caps dev/nvidia-caps none "
				"bind,create=dir"));
	assert_true(covers(&nv, "lxc.mount.entry: /srv/nv0 dev/nvidia0 none bind"));
	assert_true(covers(&nv, "lxc.mount.entry: /srv/nv0 /dev/nvidia0 none bind"));
	assert_false(covers(&nv, "lxc.mount.entry: /dev/dri dev/dri none bind,create=dir"));
	assert_false(covers(&nv, "lxc.mount.entry: /dev dev none rbind,create=dir"));
	assert_true(covers(&nv, "dev3: path=/dev/nvidia-uvm"));
	domain_add_node(&intel, 226, 128);
	domain_add_path(&intel, "/dev/dri/renderD128");
	assert_true(covers(&intel, "lxc.cgroup2.devices.allow: c 226:128 rwm"));
	assert_false(covers(&intel, "lxc.cgroup2.devices.allow: c 226:129 rwm"));
	assert_false(covers(&intel, "lxc.cgroup2.devices.allow: c 226:* rwm"));
	assert_true(covers(&intel, "dev0: /dev/dri/renderD128,gid=104"));
	assert_false(covers(&intel, "dev0: /dev/dri/renderD129,gid=104"));
	assert_false(covers(&intel, "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind"));
	domain_free(&nv);
	domain_free(&intel);
}

/* The editor alone, with a plan of one rule and one mount. */
static char *attach(const char *text, const struct ct_domain *d, bool prune)
{
	static char *const lines[] = {
		"lxc.environment: LXGPU_DEVICES=GPU-a",
		"lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no",
		"lxc.environment: LXGPU_WROTE=c195:0,/dev/nvidia0",
		"lxc.cgroup2.devices.allow: c 195:0 rwm",
		"lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file",
	};
	static char *const paths[] = { "/dev/nvidia0" };
	struct edit_want w = { lines, 5, paths, 1, d };
	struct edit_opts o = { .prune = prune, .live_known = true, .live = { 195 }, .nlive = 1 };
	struct conf c = parse(text, CONF_PVE), c2;
	struct conf_edit e;
	struct edit_report rep;
	struct lxgpu_err err = { 0 };
	size_t len;
	assert_int_equal(edit_attach(&c, &w, &o, &e, &rep, &err), 0);
	char *out = conf_render(&c, &e, &len);
	edit_report_free(&rep);
	conf_edit_free(&e);
	/* a second attach changes nothing */
	c2 = parse(out, CONF_PVE);
	assert_int_equal(edit_attach(&c2, &w, &o, &e, &rep, &err), 0);
	assert_false(conf_edit_changes(&e, &c2));
	edit_report_free(&rep);
	conf_edit_free(&e);
	conf_free(&c2);
	conf_free(&c);
	return out;
}

static void test_edit(void **state)
{
	(void)state;
	struct ct_domain nv = { .nvidia = true };
	domain_add_major(&nv, 195);
	/* adopted, kept where it says the same, the dead major kept without --prune */
	char *out =
		attach("memory: 512\n"
		       "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\n"
		       "lxc.cgroup2.devices.allow: c 195:* rwm\n"
		       "lxc.cgroup2.devices.allow: c 508:* rwm\n"
		       "lxc.cgroup2.devices.allow: c 226:* rwm\n"
		       "[snap]\nlxc.cgroup2.devices.allow: c 195:* rwm\n",
		       &nv, false);
	assert_string_equal(
		out, "memory: 512\n"
		     "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\n"
		     "lxc.cgroup2.devices.allow: c 508:* rwm\n"
		     "lxc.cgroup2.devices.allow: c 226:* rwm\n"
		     "lxc.environment: LXGPU_DEVICES=GPU-a\n"
		     "lxc.environment: LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no\n"
		     "lxc.environment: LXGPU_WROTE=c195:0,/dev/nvidia0\n"
		     "lxc.cgroup2.devices.allow: c 195:0 rwm\n"
		     "[snap]\nlxc.cgroup2.devices.allow: c 195:* rwm\n");
	free(out);
	out = attach("lxc.cgroup2.devices.allow: c 508:* rwm\n", &nv, true);
	assert_null(strstr(out, "508"));
	free(out);
	/* a record line that changes keeps its place */
	out = attach("lxc.environment: LXGPU_DEVICES=GPU-b\nswap: 0\n", &nv, false);
	assert_int_equal(strncmp(out, "lxc.environment: LXGPU_DEVICES=GPU-a\nswap: 0\n", 44), 0);
	free(out);
	domain_free(&nv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_record_v2),
		cmocka_unit_test(test_record_v1_and_refusals),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_edit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
