/* Driver versions and the CUDA table. The table tests are generated from
 * data/cuda-drivers.tsv (through the same rows the program uses) and check
 * properties of NVIDIA's table, not what the lookup happens to return; the
 * known-facts test uses numbers read off real hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/version.h"

static struct lxgpu_version v(const char *s)
{
	struct lxgpu_version out;
	assert_true(version_parse(s, strlen(s), &out));
	return out;
}

static void test_parse(void **state)
{
	(void)state;
	struct lxgpu_version x;
	x = v("580.159.04");
	assert_int_equal(x.part[0], 580);
	assert_int_equal(x.part[1], 159);
	assert_int_equal(x.part[2], 4);
	assert_int_equal(x.nparts, 3);
	x = v("570.26");
	assert_int_equal(x.part[2], 0);
	assert_int_equal(x.nparts, 2);
	static const char *const bad[] = { "",         "580",  "580.",         ".580.1",
					   "580..1",   "a.b",  "580.159.04.1", "580.159.04 ",
					   "123456.1", "5-8.1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(version_parse(bad[i], strlen(bad[i]), &x));
}

static void test_compare(void **state)
{
	(void)state;
	struct lxgpu_version a = v("570.26"), b = v("570.124.06"), c = v("570.26.0");
	assert_true(version_cmp(&a, &b) < 0); /* 26 < 124: numbers, not text */
	assert_true(version_cmp(&b, &a) > 0);
	assert_int_equal(version_cmp(&a, &c), 0);
	struct lxgpu_version d = v("455.23"), e = v("455.32");
	assert_true(version_cmp(&d, &e) < 0);
}

/* The version just below `x`: 530.30.02 -> 530.30.1, 570.26 -> 570.25. */
static struct lxgpu_version below(struct lxgpu_version x)
{
	for (int i = 2; i >= 0; i--) {
		if (x.part[i] > 0) {
			x.part[i]--;
			for (int j = i + 1; j < 3; j++)
				x.part[j] = 99999;
			return x;
		}
	}
	fail_msg("no version below 0.0.0");
	return x;
}

static void test_table_rows(void **state)
{
	(void)state;
	assert_true(cuda_nrows >= 60);
	for (size_t i = 0; i < cuda_nrows; i++) {
		const struct cuda_row *r = &cuda_rows[i];
		unsigned major, minor;
		/* At its own minimum driver, a row's CUDA version is supported. */
		assert_true(cuda_for_driver(&r->linux_version, &major, &minor, NULL));
		assert_true(major > r->major || (major == r->major && minor >= r->minor));

		/* Just below the lowest minimum of its CUDA version, it is not. */
		struct lxgpu_version lowest = r->linux_version;
		for (size_t k = 0; k < cuda_nrows; k++)
			if (cuda_rows[k].major == r->major && cuda_rows[k].minor == r->minor &&
			    version_cmp(&cuda_rows[k].linux_version, &lowest) < 0)
				lowest = cuda_rows[k].linux_version;
		struct lxgpu_version under = below(lowest);
		if (cuda_for_driver(&under, &major, &minor, NULL))
			assert_true(major < r->major || (major == r->major && minor < r->minor));
	}
}

static void test_known_hosts(void **state)
{
	(void)state;
	static const struct {
		const char *driver;
		unsigned major, minor;
	} facts[] = {
		/* the H100 capture (tests/hosts/SOURCES.md): nvidia-smi's header "CUDA Version: 13.0" */
		{ "580.159.04", 13, 0 },
		/* NVIDIA's CUDA compatibility guide: "Driver Version: 580.119.02 CUDA Version: 13.0" */
		{ "580.119.02", 13, 0 },
		/* Table 3 rows read by hand: 590.44.01 is 13.1 GA, 535.104.05 is 12.2 U2 */
		{ "590.48.01", 13, 1 },
		{ "535.104.05", 12, 2 },
		{ "535.183.01", 12, 2 },
		{ "550.54.14", 12, 4 },
		{ "530.30.02", 12, 1 },
		{ "470.82.01", 11, 4 },
		{ "346.46", 7, 0 },
	};
	for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		struct lxgpu_version d = v(facts[i].driver);
		unsigned major = 0, minor = 0;
		bool newer = true;
		assert_true(cuda_for_driver(&d, &major, &minor, &newer));
		assert_int_equal(major, facts[i].major);
		assert_int_equal(minor, facts[i].minor);
		assert_false(newer);
	}
	struct lxgpu_version old = v("340.29"), future = v("610.10");
	unsigned major, minor;
	bool newer;
	assert_false(cuda_for_driver(&old, &major, &minor, &newer));
	assert_true(cuda_for_driver(&future, &major, &minor, &newer));
	assert_true(newer);
	assert_int_equal(major, 13);
	assert_int_equal(minor, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_known_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
