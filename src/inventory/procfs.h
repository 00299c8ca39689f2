/* Parsers for the text the kernel exposes in /proc and /sys. Pure: each takes
 * a buffer and fills a struct; none reads a file. Every one is fuzzed
 * (tests/fuzz/fuzz_procfs.c). Formats: proc(5); nv-procfs.c and nv-caps.c
 * of NVIDIA's open-gpu-kernel-modules. */
#ifndef LXGPU_PROCFS_H
#define LXGPU_PROCFS_H

#include <stdbool.h>
#include <stddef.h>

/* One "name: value" line; name and value trimmed, pointing into the buffer. */
struct kv {
	const char *key, *value;
	size_t keylen, valuelen;
};
/* Iterates "key: value" lines; *pos is the cursor. Lines without ':' are skipped. */
bool kv_next(const char *buf, size_t len, size_t *pos, struct kv *out);
bool kv_is(const struct kv *kv, const char *key);

/* /proc/devices, character section only: major numbers by exact name. */
struct proc_major {
	unsigned major;
	char name[64];
};
struct proc_devices {
	struct proc_major *majors;
	size_t nmajors, cap;
};
/* false when there is no "Character devices:" section. */
bool proc_devices_parse(const char *buf, size_t len, struct proc_devices *out);
/* -1 when the name is not registered. */
int proc_devices_major(const struct proc_devices *devs, const char *name);
void proc_devices_free(struct proc_devices *devs);

/* /proc/driver/nvidia/version, line "NVRM version: ...". */
enum nv_kind { NV_KIND_UNKNOWN, NV_KIND_PROPRIETARY, NV_KIND_OPEN };
struct nv_version_info {
	char version[32];
	enum nv_kind kind;
};
bool nv_version_parse(const char *buf, size_t len, struct nv_version_info *out);

/* /proc/driver/nvidia/gpus/<bus>/information. */
struct nv_information {
	char model[128];
	char uuid[64];
	char pci[32]; /* normalised: 0000:00:06.0 */
	int minor;    /* -1 when "Device Minor" is absent (older drivers) */
	int excluded; /* "GPU Excluded" or the older "Blacklisted": 1, 0; -1 absent */
};
/* false unless a valid "GPU UUID" and "Bus Location" were found. */
bool nv_information_parse(const char *buf, size_t len, struct nv_information *out);

/* A sysfs "dev" file: "226:128\n". */
bool sysfs_parse_dev(const char *buf, size_t len, unsigned *major, unsigned *minor);

/* A capability file of /proc/driver/nvidia/capabilities (nv-caps.c):
 * "DeviceFileMinor: 1\nDeviceFileMode: 256\nDeviceFileModify: 1\n". */
bool nv_cap_parse(const char *buf, size_t len, unsigned *minor, unsigned *mode);

/* /proc/driver/nvidia-caps/mig-minors: "gpu0/gi0/ci1/access 5" lines. */
bool mig_minor_next(const char *buf, size_t len, size_t *pos, char name[64], unsigned *minor);

/* Whether a modprobe.d file keeps `module` from loading ("blacklist nouveau",
 * "install nouveau /bin/false"), and the same for a kernel command line
 * ("modprobe.blacklist=nouveau,...", "module_blacklist=", "rd.driver.blacklist="). */
bool modprobe_conf_blacklists(const char *buf, size_t len, const char *module);
bool cmdline_blacklists(const char *buf, size_t len, const char *module);

/* "0000:00:06.0", "00000000:01:00.0", "01:00.0" (domain 0) -> "0000:01:00.0". */
bool pci_addr_parse(const char *s, size_t len, char out[32]);
/* Orders PCI addresses as numbers (domain, bus, device, function). */
int pci_addr_cmp(const char *a, const char *b);

/* A sysfs number such as "0x10de\n" or "0x030200\n". */
bool sysfs_parse_hex(const char *buf, size_t len, unsigned *out);
/* The number at the end of a device name ("nvidia3", "renderD128"): digits
 * only, no sign, no space, no leading zero. */
bool parse_name_number(const char *s, unsigned max, unsigned *out);
/* A decimal such as "Device Minor: 0" or "DeviceFileMode: 438". */
bool parse_uint(const char *s, size_t len, unsigned max, unsigned *out);

#endif
