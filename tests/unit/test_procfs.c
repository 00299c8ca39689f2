/* Kernel text parsers, on text copied from real hosts (sources cited) and on
 * garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inventory/procfs.h"

#define LEN(s) (sizeof(s) - 1)

/* The H100 capture (tests/hosts/SOURCES.md): a GPU's information file, tabs as captured. */
static const char h100_information[] = "Model: \t\t NVIDIA H100 80GB HBM3\n"
				       "IRQ:   \t\t 41\n"
				       "GPU UUID: \t GPU-14d254be-3087-0aa8-a7aa-03759525cf2f\n"
				       "Video BIOS: \t 96.00.da.00.0c\n"
				       "Bus Type: \t PCIe\n"
				       "DMA Size: \t 52 bits\n"
				       "DMA Mask: \t 0xfffffffffffff\n"
				       "Bus Location: \t 0000:00:06.0\n"
				       "Device Minor: \t 0\n"
				       "GPU Firmware: \t 580.159.04\n"
				       "GPU Excluded:\t No\n";

static void test_information_h100(void **state)
{
	(void)state;
	struct nv_information info;
	assert_true(nv_information_parse(h100_information, LEN(h100_information), &info));
	assert_string_equal(info.model, "NVIDIA H100 80GB HBM3");
	assert_string_equal(info.uuid, "GPU-14d254be-3087-0aa8-a7aa-03759525cf2f");
	assert_string_equal(info.pci, "0000:00:06.0");
	assert_int_equal(info.minor, 0);
	assert_int_equal(info.excluded, 0);
}

static void test_information_old_drivers(void **state)
{
	(void)state;
	struct nv_information info;
	/* tests/hosts/SOURCES.md §4.6, canonical/lxd#3950: no Device Minor (UUID made valid) */
	static const char gtx650[] = "Model:           GeForce GTX 650\n"
				     "IRQ:             44\n"
				     "GPU UUID:        GPU-00000000-1111-2222-3333-444444444444\n"
				     "Bus Location:    0000:04:00.0\n";
	assert_true(nv_information_parse(gtx650, LEN(gtx650), &info));
	assert_int_equal(info.minor, -1);
	assert_int_equal(info.excluded, -1);
	assert_string_equal(info.pci, "0000:04:00.0");
	/* §4.6, ray-project sample: "Blacklisted:" instead of "GPU Excluded:" */
	static const char v100[] = "Model:           Tesla V100-SXM2-16GB\n"
				   "GPU UUID:        GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
				   "Bus Location:    0000:00:1e.0\n"
				   "Device Minor:    0\n"
				   "Blacklisted:     Yes";
	assert_true(nv_information_parse(v100, LEN(v100), &info));
	assert_int_equal(info.excluded, 1);
	/* §4.6: Device Minor 5 on a multi-GPU H100 node */
	static const char minor5[] = "GPU UUID: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
				     "Bus Location:    0000:62:00.0\nDevice Minor:    5\n";
	assert_true(nv_information_parse(minor5, LEN(minor5), &info));
	assert_int_equal(info.minor, 5);
}

static void test_information_garbage(void **state)
{
	(void)state;
	struct nv_information info;
	/* §4.6, kata-containers/runtime#2546: a degraded file, truncated */
	static const char unknown[] = "Model: \t\t Unknown\nIRQ:   \t\t 35\nGPU U";
	assert_false(nv_information_parse(unknown, LEN(unknown), &info));
	static const char bad_uuid[] = "GPU UUID: GPU-xyz\nBus Location: 0000:01:00.0\n";
	assert_false(nv_information_parse(bad_uuid, LEN(bad_uuid), &info));
	static const char bad_bus[] = "GPU UUID: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
				      "Bus Location: 0000:01:00\n";
	assert_false(nv_information_parse(bad_bus, LEN(bad_bus), &info));
	static const char bad_minor[] = "GPU UUID: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
					"Bus Location: 01:00.0\nDevice Minor: 255\n";
	assert_true(nv_information_parse(bad_minor, LEN(bad_minor), &info));
	assert_int_equal(info.minor, -1); /* 255 is nvidiactl, never a GPU */
	assert_string_equal(info.pci, "0000:01:00.0");
	static const char binary[] = "Model: \x01\xff\x80junk\n\0\0GPU UUID: \n";
	assert_false(nv_information_parse(binary, LEN(binary), &info));
	assert_false(nv_information_parse("", 0, &info));
}

static void test_version_formats(void **state)
{
	(void)state;
	struct nv_version_info v;
	/* h100 capture line 104 */
	static const char open_h100[] = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
					"580.159.04  Release Build  (nixbld@)  \n"
					"GCC version:  gcc version 15.3.0 (GCC) \n";
	assert_true(nv_version_parse(open_h100, LEN(open_h100), &v));
	assert_string_equal(v.version, "580.159.04");
	assert_int_equal(v.kind, NV_KIND_OPEN);
	/* tests/hosts/SOURCES.md §4.4 */
	static const char prop[] = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.103.01  "
				   "Thu Jan  6 12:10:04 UTC 2022\n";
	assert_true(nv_version_parse(prop, LEN(prop), &v));
	assert_string_equal(v.version, "470.103.01");
	assert_int_equal(v.kind, NV_KIND_PROPRIETARY);
	/* §4.5: two-part version, Russian date, no final newline */
	static const char gentoo[] =
		"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  555.58 "
		" Release Build  (portage@localhost)  Сб 29 июн 2024 14:36:22 MSK";
	assert_true(nv_version_parse(gentoo, LEN(gentoo), &v));
	assert_string_equal(v.version, "555.58");
	assert_int_equal(v.kind, NV_KIND_OPEN);
	/* §4.5 truncated: "NVRM version: ... 595.84  Release Build" */
	static const char short_line[] = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
					 "595.84  Release Build";
	assert_true(nv_version_parse(short_line, LEN(short_line), &v));
	assert_string_equal(v.version, "595.84");

	static const char *const bad[] = {
		"",
		"NVRM version:",
		"NVRM version: NVIDIA UNIX x86_64 Kernel Module\n",
		"GCC version: 12\n",
		"nvrm version: NVIDIA UNIX x86_64 Kernel Module  1.2\n",
		"NVRM version: NVIDIA UNIX x86_64 Kernel Module  .1.  x\n",
		/* found by fuzz_procfs: digits and dots, but not a version */
		"NVRM version: NVIDIA UNIX_64 Kernel Module  gcc version 12..02 (rne",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(nv_version_parse(bad[i], strlen(bad[i]), &v));
}

static void test_proc_devices(void **state)
{
	(void)state;
	struct proc_devices d = { 0 };
	/* h100 capture lines 39-79, abridged: nvidia and nvidiactl share 195 */
	static const char h100[] = "Character devices:\n  1 mem\n195 nvidia\n195 nvidiactl\n"
				   "238 nvidia-uvm\n239 nvidia-nvswitch\n240 nvidia-nvlink\n"
				   "241 nvidia-caps\n242 nvidia-caps-imex-channels\n\n"
				   "Block devices:\n  7 loop\n238 nvidia-uvm-block-not-char\n";
	assert_true(proc_devices_parse(h100, LEN(h100), &d));
	assert_int_equal(proc_devices_major(&d, "nvidia"), 195);
	assert_int_equal(proc_devices_major(&d, "nvidia-uvm"), 238);
	assert_int_equal(proc_devices_major(&d, "nvidia-caps"), 241);
	assert_int_equal(proc_devices_major(&d, "nvidia-ca"), -1); /* exact names only */
	assert_int_equal(proc_devices_major(&d, "loop"), -1);      /* block section ignored */
	assert_int_equal(proc_devices_major(&d, "nvidia-uvm-block-not-char"), -1);
	proc_devices_free(&d);

	/* open-gpu-kernel-modules: "nvidia-frontend" before 550.40 */
	static const char old[] = "Character devices:\n195 nvidia-frontend\n511 nvidia-uvm";
	assert_true(proc_devices_parse(old, LEN(old), &d));
	assert_int_equal(proc_devices_major(&d, "nvidia-frontend"), 195);
	assert_int_equal(proc_devices_major(&d, "nvidia-uvm"), 511);
	proc_devices_free(&d);

	static const char junk[] = "Character devices:\nx nvidia\n99999 big\n12\n 13 \n14 ok\n";
	assert_true(proc_devices_parse(junk, LEN(junk), &d));
	assert_int_equal(d.nmajors, 1);
	assert_int_equal(proc_devices_major(&d, "ok"), 14);
	proc_devices_free(&d);

	assert_false(proc_devices_parse("Block devices:\n7 loop\n", 22, &d));
	proc_devices_free(&d);
}

static void test_pci_addr(void **state)
{
	(void)state;
	char out[32];
	assert_true(pci_addr_parse("0000:00:06.0", 12, out));
	assert_string_equal(out, "0000:00:06.0");
	assert_true(pci_addr_parse("00000000:3B:00.0", 16, out)); /* nvidia-smi's form */
	assert_string_equal(out, "0000:3b:00.0");
	assert_true(pci_addr_parse("01:00.1", 7, out));
	assert_string_equal(out, "0000:01:00.1");
	assert_true(pci_addr_parse("10000:e1:00.0", 13, out)); /* VMD domains exceed 16 bits */
	assert_string_equal(out, "10000:e1:00.0");
	static const char *const bad[] = {
		"",        "0000:00:06",    "0000:00:06.8", "0000:00:20.0", "0000:100:00.0",
		"zz:00.0", "0000:00:06.0x", ":00.0"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(pci_addr_parse(bad[i], strlen(bad[i]), out));
	assert_true(pci_addr_cmp("0000:00:06.0", "0000:01:00.0") < 0);
	assert_true(pci_addr_cmp("0000:af:00.0", "0000:03:00.0") > 0);
	assert_true(pci_addr_cmp("0001:00:00.0", "0000:ff:1f.7") > 0);
}

static void test_caps_and_blacklists(void **state)
{
	(void)state;
	unsigned minor, mode, major;
	/* h100 capture lines 165-168 */
	static const char monitor[] =
		"DeviceFileMinor: 2\nDeviceFileMode: 292\nDeviceFileModify: 1\n";
	assert_true(nv_cap_parse(monitor, LEN(monitor), &minor, &mode));
	assert_int_equal(minor, 2);
	assert_int_equal(mode, 0444);
	assert_false(nv_cap_parse("DeviceFileMode: 292\n", 20, &minor, &mode));

	/* tests/hosts/SOURCES.md §5.1 */
	static const char minors[] = "config 1\nmonitor 2\ngpu0/gi0/access 3\nbad\n"
				     "gpu31/gi14/ci7/access 4322";
	char name[64];
	size_t pos = 0;
	assert_true(mig_minor_next(minors, LEN(minors), &pos, name, &minor));
	assert_string_equal(name, "config");
	assert_true(mig_minor_next(minors, LEN(minors), &pos, name, &minor));
	assert_true(mig_minor_next(minors, LEN(minors), &pos, name, &minor));
	assert_string_equal(name, "gpu0/gi0/access");
	assert_int_equal(minor, 3);
	assert_true(mig_minor_next(minors, LEN(minors), &pos, name, &minor));
	assert_string_equal(name, "gpu31/gi14/ci7/access");
	assert_int_equal(minor, 4322);
	assert_false(mig_minor_next(minors, LEN(minors), &pos, name, &minor));

	assert_true(sysfs_parse_dev("226:128\n", 8, &major, &minor));
	assert_int_equal(major, 226);
	assert_int_equal(minor, 128);
	static const char *const bad_dev[] = { "226",    ":1",  "226:",  "226 :1",
					       "226: 1", "a:1", "5000:1" };
	for (size_t i = 0; i < sizeof(bad_dev) / sizeof(bad_dev[0]); i++)
		assert_false(sysfs_parse_dev(bad_dev[i], strlen(bad_dev[i]), &major, &minor));

	static const char conf[] =
		"# blacklist nouveau\nblacklist nouveau_x\n  blacklist\tnouveau\n";
	assert_true(modprobe_conf_blacklists(conf, LEN(conf), "nouveau"));
	static const char commented[] = "# blacklist nouveau\noptions nouveau modeset=0\n";
	assert_false(modprobe_conf_blacklists(commented, LEN(commented), "nouveau"));
	static const char install[] = "install nouveau /bin/false\n";
	assert_true(modprobe_conf_blacklists(install, LEN(install), "nouveau"));
	static const char dashes[] = "blacklist nvidia-drm\n";
	assert_true(modprobe_conf_blacklists(dashes, LEN(dashes), "nvidia_drm"));
	static const char cmdline[] =
		"BOOT_IMAGE=/vmlinuz quiet modprobe.blacklist=radeon,nouveau\n";
	assert_true(cmdline_blacklists(cmdline, LEN(cmdline), "nouveau"));
	assert_false(cmdline_blacklists(cmdline, LEN(cmdline), "nvidia"));
	static const char rd[] = "rd.driver.blacklist=nouveau";
	assert_true(cmdline_blacklists(rd, LEN(rd), "nouveau"));
	static const char partial[] = "modprobe.blacklist=nouveau2";
	assert_false(cmdline_blacklists(partial, LEN(partial), "nouveau"));
}

static void test_numbers(void **state)
{
	(void)state;
	unsigned n;
	assert_true(sysfs_parse_hex("0x10de\n", 7, &n));
	assert_int_equal(n, 0x10de);
	assert_true(sysfs_parse_hex("0x030200\n", 9, &n));
	assert_int_equal(n, 0x030200);
	assert_false(sysfs_parse_hex("10de", 4, &n));
	assert_false(sysfs_parse_hex("0x", 2, &n));
	assert_false(sysfs_parse_hex("0x12g4", 6, &n));
	assert_true(parse_name_number("128", 1000, &n));
	assert_int_equal(n, 128);
	assert_true(parse_name_number("0", 1000, &n));
	assert_false(parse_name_number("01", 1000, &n));
	assert_false(parse_name_number(" 1", 1000, &n));
	assert_false(parse_name_number("1a", 1000, &n));
	assert_false(parse_name_number("", 1000, &n));
	assert_false(parse_name_number("1001", 1000, &n));
}

static void test_kv(void **state)
{
	(void)state;
	/* h100 capture lines 161-164 */
	static const char cap[] = "DeviceFileMinor: 1\nDeviceFileMode: 256\nno colon\n:x\n"
				  "DeviceFileModify: 1";
	struct kv kv;
	size_t pos = 0;
	assert_true(kv_next(cap, LEN(cap), &pos, &kv));
	assert_true(kv_is(&kv, "DeviceFileMinor"));
	assert_int_equal(kv.valuelen, 1);
	assert_true(kv_next(cap, LEN(cap), &pos, &kv));
	assert_true(kv_is(&kv, "DeviceFileMode"));
	assert_true(kv_next(cap, LEN(cap), &pos, &kv));
	assert_true(kv_is(&kv, "DeviceFileModify"));
	assert_false(kv_next(cap, LEN(cap), &pos, &kv));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_information_h100),
		cmocka_unit_test(test_information_old_drivers),
		cmocka_unit_test(test_information_garbage),
		cmocka_unit_test(test_version_formats),
		cmocka_unit_test(test_proc_devices),
		cmocka_unit_test(test_pci_addr),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_caps_and_blacklists),
		cmocka_unit_test(test_kv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
