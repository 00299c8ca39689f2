/* libFuzzer target for every parser of /proc and /sys text (src/inventory/procfs.c).
 * The first byte picks the parser; the rest is the text. Besides not
 * crashing, each parser's output must keep its documented shape. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/procfs.h"
#include "util/version.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t len;
	char *text = fuzz_text(data, size, &len);

	switch (data[0] % 10) {
	case 0: {
		struct nv_information info;
		if (nv_information_parse(text, len, &info)) {
			char again[32];
			check(strlen(info.uuid) == 40 && strncmp(info.uuid, "GPU-", 4) == 0);
			check(pci_addr_parse(info.pci, strlen(info.pci), again));
			check(strcmp(again, info.pci) == 0);
			check(info.minor >= -1 && info.minor <= 253);
		}
		break;
	}
	case 1: {
		struct nv_version_info v;
		if (nv_version_parse(text, len, &v)) {
			struct lxgpu_version parsed;
			check(version_parse(v.version, strlen(v.version), &parsed));
		}
		break;
	}
	case 2: {
		struct proc_devices devs = { 0 };
		proc_devices_parse(text, len, &devs);
		for (size_t i = 0; i < devs.nmajors; i++) {
			check(devs.majors[i].major <= 4095 && devs.majors[i].name[0]);
			check(proc_devices_major(&devs, devs.majors[i].name) >= 0);
		}
		proc_devices_free(&devs);
		break;
	}
	case 3: {
		unsigned minor, mode;
		if (nv_cap_parse(text, len, &minor, &mode))
			check(minor < (1u << 20) && mode <= 07777);
		break;
	}
	case 4: {
		char name[64];
		unsigned minor;
		size_t pos = 0;
		while (mig_minor_next(text, len, &pos, name, &minor))
			check(strlen(name) < 64 && name[0] && pos <= len);
		break;
	}
	case 5:
		modprobe_conf_blacklists(text, len, "nouveau");
		cmdline_blacklists(text, len, "nouveau");
		break;
	case 6: {
		unsigned major, minor;
		if (sysfs_parse_dev(text, len, &major, &minor))
			check(major <= 4095 && minor < (1u << 20));
		unsigned v;
		sysfs_parse_hex(text, len, &v);
		break;
	}
	case 7: {
		char out[32];
		if (pci_addr_parse(text, len, out)) {
			char again[32];
			check(pci_addr_parse(out, strlen(out), again) && strcmp(out, again) == 0);
			check(pci_addr_cmp(out, again) == 0);
		}
		break;
	}
	case 8: {
		struct kv kv;
		size_t pos = 0;
		while (kv_next(text, len, &pos, &kv))
			check(kv.key >= text && kv.key + kv.keylen <= text + len &&
			      kv.value + kv.valuelen <= text + len && pos <= len);
		break;
	}
	default: {
		struct lxgpu_version a, b;
		if (version_parse(text, len, &a)) {
			unsigned major, minor;
			b = a;
			check(version_cmp(&a, &b) == 0);
			cuda_for_driver(&a, &major, &minor, NULL);
		}
		break;
	}
	}
	free(text);
	return 0;
}
