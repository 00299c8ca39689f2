/* The pure parsers of what a container and a host have installed: dpkg status
 * stanzas, CUDA version files, cuDNN headers, package and wheel names, the
 * toolkit config's no-cgroups, and the messages doctor --explain knows. The
 * inputs are the formats as their owners write them (NVIDIA's version.json
 * and cudnn_version.h, dpkg's status file, PyPI's dist-info names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plan/compat.h"
#include "check/doctor.h"
#include "util/dpkg.h"
#include "guest/cuda.h"

static void test_dpkg(void **state)
{
	(void)state;
	const char *status = "Package: cuda-toolkit-12-4\n"
			     "Status: install ok installed\n"
			     "Version: 12.4.1-1\n"
			     "Description: CUDA Toolkit 12.4\n"
			     " more description\n"
			     "\n"
			     "Package: libcudnn9-cuda-12\n"
			     "Status: deinstall ok config-files\n"
			     "Version: 1:9.1.0.70-1\n"
			     "\n\n"
			     "Package: last\n"
			     "Version: 2.0";
	struct dpkg_pkg p;
	const char *c = status;
	assert_true(dpkg_next(&c, &p));
	assert_string_equal(p.name, "cuda-toolkit-12-4");
	assert_string_equal(p.version, "12.4.1-1");
	assert_true(p.installed);
	assert_true(dpkg_next(&c, &p));
	assert_string_equal(p.name, "libcudnn9-cuda-12");
	assert_string_equal(p.version, "9.1.0.70-1"); /* without the epoch */
	assert_false(p.installed);
	assert_true(dpkg_next(&c, &p));
	assert_string_equal(p.name, "last");
	assert_string_equal(p.version, "2.0");
	assert_false(dpkg_next(&c, &p));
	c = "";
	assert_false(dpkg_next(&c, &p));
}

static void test_version_files(void **state)
{
	(void)state;
	unsigned a, b, c;
	/* /usr/local/cuda-12.4/version.json as NVIDIA ships it: "cuda" first,
	 * other components after with their own versions */
	assert_int_equal(guest_cuda_parse_version_file(
				 "{\n   \"cuda\" : {\n      \"name\" : \"CUDA SDK\",\n"
				 "      \"version\" : \"12.4.1\"\n   },\n   \"cuda_cccl\" : {\n"
				 "      \"version\" : \"12.4.127\"\n   }\n}\n",
				 &a, &b, &c),
			 0);
	assert_true(a == 12 && b == 4 && c == 1);
	/* a "cuda" object without its own version must not take the next one's */
	assert_int_equal(guest_cuda_parse_version_file(
				 "{ \"cuda\" : { \"name\" : \"x\" }, \"nvcc\" : { \"version\" : "
				 "\"12.4.131\" } }",
				 &a, &b, &c),
			 -1);
	/* before 11.1: version.txt */
	assert_int_equal(guest_cuda_parse_version_file("CUDA Version 10.2.89\n", &a, &b, &c), 0);
	assert_true(a == 10 && b == 2 && c == 89);
	assert_int_equal(guest_cuda_parse_version_file("garbage", &a, &b, &c), -1);
	/* cudnn_version.h */
	assert_int_equal(guest_cuda_parse_cudnn_header("#define CUDNN_MAJOR 9\n#define CUDNN_MINOR "
						       "1\n#define CUDNN_PATCHLEVEL 0\n",
						       &a, &b, &c),
			 0);
	assert_true(a == 9 && b == 1 && c == 0);
	assert_int_equal(guest_cuda_parse_cudnn_header("#define CUDNN_MAJOR_X 9\n", &a, &b, &c),
			 -1);
}

static void test_packages_and_wheels(void **state)
{
	(void)state;
	struct guest_cuda_item it;
	assert_int_equal(guest_cuda_from_package("cuda-toolkit-12-4", "12.4.1-1", &it), 1);
	assert_true(it.kind == GUEST_TOOLKIT && it.major == 12 && it.minor == 4 && it.patch == 1);
	assert_int_equal(guest_cuda_from_package("cuda-cudart-11-8", "11.8.89-1", &it), 1);
	assert_true(it.kind == GUEST_TOOLKIT && it.major == 11 && it.minor == 8 && it.patch == 89);
	assert_int_equal(guest_cuda_from_package("nvidia-cuda-toolkit", "12.2.140~12.2.2-1", &it),
			 1);
	assert_true(it.major == 12 && it.minor == 2);
	assert_int_equal(guest_cuda_from_package("libcudnn9-cuda-12", "9.1.0.70-1", &it), 1);
	assert_true(it.kind == GUEST_CUDNN && it.major == 9 && it.minor == 1 &&
		    it.cuda_major == 12);
	assert_int_equal(guest_cuda_from_package("libcudnn8", "8.9.7.29-1+cuda12.2", &it), 1);
	assert_true(it.kind == GUEST_CUDNN && it.major == 8 && it.minor == 9 &&
		    it.cuda_major == 12);
	assert_int_equal(guest_cuda_from_package("libcudnn9-dev-cuda-12", "9.1.0.70-1", &it), 0);
	assert_int_equal(guest_cuda_from_package("cuda-toolkit-12-4-config-common", "12.4", &it),
			 0);
	assert_int_equal(guest_cuda_from_package("bash", "5.2", &it), 0);

	assert_int_equal(guest_cuda_from_wheel("nvidia_cuda_runtime_cu12-12.4.127.dist-info", &it),
			 1);
	assert_true(it.kind == GUEST_TOOLKIT && it.major == 12 && it.minor == 4);
	assert_int_equal(guest_cuda_from_wheel("nvidia_cudnn_cu12-9.1.0.70.dist-info", &it), 1);
	assert_true(it.kind == GUEST_CUDNN && it.major == 9 && it.cuda_major == 12);
	assert_int_equal(guest_cuda_from_wheel("torch-2.5.1+cu124.dist-info", &it), 1);
	assert_true(it.kind == GUEST_TOOLKIT && it.major == 12 && it.minor == 4);
	assert_int_equal(guest_cuda_from_wheel("torch-2.1.0+cu118.dist-info", &it), 1);
	assert_true(it.major == 11 && it.minor == 8);
	assert_int_equal(guest_cuda_from_wheel("torch-2.5.1+cpu.dist-info", &it), 0);
	assert_int_equal(guest_cuda_from_wheel("torch-2.5.1.dist-info", &it), 0);
	assert_int_equal(guest_cuda_from_wheel("numpy-2.1.0.dist-info", &it), 0);
}

static void test_toml(void **state)
{
	(void)state;
	assert_int_equal(doctor_toml_no_cgroups("[nvidia-container-cli]\nno-cgroups = true\n"), 1);
	assert_int_equal(doctor_toml_no_cgroups("[nvidia-container-cli]\n#no-cgroups = true\n"
						"no-cgroups = false\n"),
			 0);
	/* the key of another section does not count */
	assert_int_equal(doctor_toml_no_cgroups("[nvidia-container-runtime]\nno-cgroups = true\n"
						"[nvidia-container-cli]\nldconfig = \"@/sbin\"\n"),
			 0);
	assert_int_equal(doctor_toml_no_cgroups("  [nvidia-container-cli]\n  no-cgroups = true"),
			 1);
}

static void test_explain(void **state)
{
	(void)state;
	/* the messages users report, as users paste them */
	static const struct {
		const char *text, *id;
	} known[] = {
		{ "Failed to initialize NVML: Driver/library version mismatch", "driver-mismatch" },
		{ "NVRM: API mismatch: the client has the version 570.148.08", "driver-mismatch" },
		{ "Failed to initialize NVML: Unknown Error", "nvml-unknown" },
		{ "RuntimeError: No CUDA GPUs are available", "no-cuda-device" },
		{ "Device /dev/nvidia-uvm does not exist", "pve-dev-missing" },
		{ "nvidia-container-cli: mount error: bpf_prog_query(BPF_CGROUP_DEVICE) failed",
		  "docker-cgroups" },
		{ "load library failed: libnvidia-ml.so.1: cannot open shared object file",
		  "no-driver-inside" },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct doctor_explanation *e = doctor_explain(known[i].text);
		assert_non_null(e);
		assert_string_equal(e->id, known[i].id);
	}
	assert_null(doctor_explain("everything is fine"));
}

/* Minor-version compatibility as Table 2 states it (NVIDIA's CUDA compatibility guide, table 2). */
static void test_compat_rules(void **state)
{
	(void)state;
	struct lxgpu_version d;
	char why[512];
	version_parse("580.65.06", 9, &d);
	assert_int_equal(compat_toolkit(&d, 13, 0, why, sizeof(why)), COMPAT_NATIVE);
	assert_int_equal(compat_toolkit(&d, 13, 2, why, sizeof(why)), COMPAT_MINOR);
	assert_int_equal(compat_toolkit(&d, 12, 9, why, sizeof(why)), COMPAT_NATIVE);
	version_parse("575.57.08", 9, &d);
	assert_int_equal(compat_toolkit(&d, 13, 0, why, sizeof(why)), COMPAT_NO);
	assert_non_null(strstr(why, "never crosses a major version"));
	version_parse("525.60.13", 9, &d);
	assert_int_equal(compat_toolkit(&d, 12, 8, why, sizeof(why)), COMPAT_MINOR);
	version_parse("525.60.12", 9, &d);
	assert_int_equal(compat_toolkit(&d, 12, 0, why, sizeof(why)), COMPAT_NO);
	version_parse("450.80.02", 9, &d);
	assert_int_equal(compat_toolkit(&d, 11, 8, why, sizeof(why)), COMPAT_MINOR);
	assert_int_equal(compat_toolkit(&d, 10, 2, why, sizeof(why)), COMPAT_NATIVE);
	/* cuDNN: the floor of the CUDA major it is built for (§3.4) */
	version_parse("570.86.10", 9, &d);
	assert_int_equal(compat_cudnn(&d, 9, 17, 13, why, sizeof(why)), COMPAT_NO);
	assert_int_equal(compat_cudnn(&d, 9, 17, 12, why, sizeof(why)), COMPAT_NATIVE);
	assert_int_equal(compat_cudnn(&d, 9, 17, 0, why, sizeof(why)), COMPAT_UNKNOWN);
	assert_string_equal(compat_branch_of(580)->type, "LTSB");
	assert_null(compat_branch_of(590));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpkg),
		cmocka_unit_test(test_version_files),
		cmocka_unit_test(test_packages_and_wheels),
		cmocka_unit_test(test_toml),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_compat_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
