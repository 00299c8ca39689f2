/* ct_list: which files are containers, and their order (container.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "container/container.h"
#include "util/fs.h"

#include "scratch.h"

static int setup(void **state)
{
	(void)state;
	return scratch_make("container") < 0 ? -1 : scratch_open();
}

static void test_vmids_by_value_then_names(void **state)
{
	(void)state;
	static const char *const dirs[] = { "etc",
					    "etc/pve",
					    "etc/pve/lxc",
					    "var",
					    "var/lib",
					    "var/lib/lxc",
					    "var/lib/lxc/web",
					    "var/lib/lxc/alpha",
					    "var/lib/lxc/101",
					    "var/lib/lxc/noconf",
					    "var/lib/lxc/.hidden" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mk(dirs[i]);
	/* 0100 and 99 are no VMIDs; 101 under lxcpath is Proxmox's generated one */
	static const char *const files[] = {
		"etc/pve/lxc/2000.conf",       "etc/pve/lxc/999.conf",
		"etc/pve/lxc/100.conf",        "etc/pve/lxc/999999999.conf",
		"etc/pve/lxc/0100.conf",       "etc/pve/lxc/99.conf",
		"etc/pve/lxc/1000000000.conf", "etc/pve/lxc/300.conf.lxgpu-tmp",
		"var/lib/lxc/web/config",      "var/lib/lxc/alpha/config",
		"var/lib/lxc/101/config",      "var/lib/lxc/.hidden/config",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put(files[i], "arch: amd64\n");

	static const char *const want[] = { "100", "999", "2000", "999999999", "alpha", "web" };
	struct ct_ids ids;
	char buf[CT_ID_BUF];
	size_t n = ct_list(rootfd, "/var/lib/lxc", &ids);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ct_id(&ids, i, buf), want[i]);
	ct_ids_free(&ids);
}

/* Hundreds of VMIDs made in reverse order: the in-place sort orders them. */
static void test_many_in_order(void **state)
{
	(void)state;
	char rel[64];
	mk("many");
	mk("many/etc");
	mk("many/etc/pve");
	mk("many/etc/pve/lxc");
	for (int id = 5099; id >= 100; id -= 7) {
		snprintf(rel, sizeof(rel), "many/etc/pve/lxc/%d.conf", id);
		put(rel, "arch: amd64\n");
	}
	struct lxgpu_err err = { 0 };
	char path[512];
	snprintf(path, sizeof(path), "%s/many", root);
	int many = fs_open_root(path, &err);
	assert_true(many >= 0);
	struct ct_ids ids;
	char buf[CT_ID_BUF];
	size_t n = ct_list(many, "/var/lib/lxc", &ids);
	assert_int_equal(n, (5099 - 100) / 7 + 1);
	int want = 5099 - 7 * (int)(n - 1);
	for (size_t i = 0; i < n; i++, want += 7) {
		snprintf(rel, sizeof(rel), "%d", want);
		assert_string_equal(ct_id(&ids, i, buf), rel);
	}
	ct_ids_free(&ids);
	close(many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmids_by_value_then_names),
		cmocka_unit_test(test_many_in_order),
	};
	return cmocka_run_group_tests(tests, setup, scratch_remove);
}
