/* model_check: the oracle checked against what LXC and Proxmox are known to
 * do (model.h's sources), so that a wrong model fails here before it judges
 * lxgpu. Each case names the behaviour it pins. */
#include "model_check.h"

#include <stdio.h>
#include <string.h>

struct opens {
	const char *what;
	const char *host;
	enum model_format format;
	const char *config;
	char type;
	unsigned major, minor, access;
	bool allowed;
};

static const struct opens opens[] = {
	{ "privileged: common.conf's allowlist", "h100", MODEL_PVE, "arch: amd64\n", 'c', 1, 3,
	  MODEL_R | MODEL_W, true },
	{ "privileged: a GPU needs a rule", "h100", MODEL_PVE, "arch: amd64\n", 'c', 195, 0,
	  MODEL_R, false },
	{ "privileged: any mknod (c *:* m)", "h100", MODEL_PVE, "arch: amd64\n", 'c', 195, 0,
	  MODEL_M, true },
	{ "privileged: block devices are mknod only", "h100", MODEL_PVE, "arch: amd64\n", 'b', 8, 0,
	  MODEL_R, false },
	{ "a wildcard minor", "h100", MODEL_PVE, "lxc.cgroup2.devices.allow: c 195:* rwm\n", 'c',
	  195, 7, MODEL_R | MODEL_W, true },
	{ "a rule's access letters", "h100", MODEL_PVE, "lxc.cgroup2.devices.allow: c 195:0 r\n",
	  'c', 195, 0, MODEL_R | MODEL_W, false },
	{ "unprivileged: 01-pve.conf's allow = a, a denylist", "h100", MODEL_PVE,
	  "unprivileged: 1\n", 'c', 195, 0, MODEL_R | MODEL_W, true },
	{ "unprivileged: any lxc.idmap", "h100", MODEL_PVE, "lxc.idmap: u 0 100000 65536\n", 'c',
	  195, 3, MODEL_R, true },
	{ "unprivileged: a deny line", "h100", MODEL_PVE,
	  "unprivileged: 1\nlxc.cgroup2.devices.deny: c 195:1 rwm\n", 'c', 195, 1, MODEL_R, false },
	{ "unprivileged: allow lines change nothing", "h100", MODEL_PVE,
	  "unprivileged: 1\nlxc.cgroup2.devices.deny: c 195:* rwm\n"
	  "lxc.cgroup2.devices.allow: c 195:0 rwm\n",
	  'c', 195, 0, MODEL_R, false },
	{ "allow = a: no device list at all", "h100", MODEL_PVE, "lxc.cgroup2.devices.allow: a\n",
	  'c', 238, 9, MODEL_R | MODEL_W, true },
	{ "deny = a after allow = a: an allowlist again", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.allow: a\nlxc.cgroup2.devices.deny: a\n"
	  "lxc.cgroup2.devices.allow: c 10:200 rwm\n",
	  'c', 1, 3, MODEL_R, false },
	{ "a deny equal to an allow item flips it", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.deny: c 1:3 rwm\n", 'c', 1, 3, MODEL_R, false },
	{ "an allowlist skips other deny items", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.deny: c 1:3 w\n", 'c', 1, 3, MODEL_W, true },
	{ "an empty value clears that key's settings", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.allow:\nlxc.cgroup2.devices.allow: c 195:0 rwm\n", 'c', 1, 3,
	  MODEL_R, false },
	{ "cgroup v1 keys do nothing on cgroup2", "h100", MODEL_PVE,
	  "lxc.cgroup.devices.allow: c 195:* rwm\n", 'c', 195, 0, MODEL_R, false },
	{ "LXC refuses two spaces before the access", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.allow: c 195:0  rwm\n", 'c', 195, 0, MODEL_R, false },
	{ "devN: the node's current numbers, rw", "h100-after", MODEL_PVE,
	  "dev0: /dev/nvidia-uvm\n", 'c', 509, 0, MODEL_R | MODEL_W, true },
	{ "devN: not another minor", "h100", MODEL_PVE, "dev0: path=/dev/nvidia0,mode=0666\n", 'c',
	  195, 1, MODEL_R, false },
	{ "devN deny-write: read only", "h100", MODEL_PVE, "dev0: /dev/nvidia0,deny-write=1\n", 'c',
	  195, 0, MODEL_W, false },
	{ "devN follows by-path links", "intel-nvidia-drm", MODEL_PVE,
	  "dev0: /dev/dri/by-path/pci-0000:00:02.0-render\n", 'c', 226, 128, MODEL_R, true },
	{ "Proxmox: '=' reads as ':'", "h100", MODEL_PVE,
	  "lxc.cgroup2.devices.allow = c 195:0 rwm\n", 'c', 195, 0, MODEL_R, true },
	{ "Proxmox: only the main section", "h100", MODEL_PVE,
	  "arch: amd64\n\n[snap]\nlxc.cgroup2.devices.allow: c 195:0 rwm\n", 'c', 195, 0, MODEL_R,
	  false },
	{ "plain LXC without common.conf: no list", "h100", MODEL_LXC, "lxc.arch = linux64\n", 'c',
	  195, 0, MODEL_R, true },
	{ "plain LXC with common.conf", "h100", MODEL_LXC,
	  "lxc.include = /usr/share/lxc/config/common.conf\n", 'c', 195, 0, MODEL_R, false },
	{ "plain LXC userns.conf resets both lists", "h100", MODEL_LXC,
	  "lxc.include = /usr/share/lxc/config/common.conf\n"
	  "lxc.include = /usr/share/lxc/config/userns.conf\n",
	  'c', 195, 0, MODEL_R, true },
};

struct domain {
	const char *what;
	const char *host;
	int gpu; /* attached */
	const char *line;
	bool in;
};

/* 64 and 45 bytes: a devN value of 511 bytes up to ",s" */
#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define X45 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct domain domains[] = {
	{ "NVIDIA: a long devN value read whole", "h100", 0,
	  "dev1: path=/dev/nvidia" X64 X64 X64 X64 X64 X64 X64 X45 ",size=32G", true },
	{ "NVIDIA: 195, any minor", "intel-nvidia-drm", 1, "lxc.cgroup2.devices.allow: c 195:* rwm",
	  true },
	{ "NVIDIA: nvidia-uvm's major now", "intel-nvidia-drm", 1,
	  "lxc.cgroup2.devices.allow: c 508:0 rwm", true },
	{ "NVIDIA: a major no driver has", "h100", 0, "lxc.cgroup2.devices.allow: c 511:* rwm",
	  false },
	{ "NVIDIA: not its DRI nodes", "intel-nvidia-drm", 1,
	  "lxc.cgroup2.devices.allow: c 226:129 rwm", false },
	{ "NVIDIA: c 226:* reaches the iGPU", "intel-nvidia-drm", 1,
	  "lxc.cgroup2.devices.allow: c 226:* rwm", false },
	{ "NVIDIA: a deny grants nothing", "h100", 0, "lxc.cgroup2.devices.deny: c 195:1 rwm",
	  false },
	{ "NVIDIA: a v1 rule of its major", "h100", 0, "lxc.cgroup.devices.allow: c 195:* rwm",
	  true },
	{ "NVIDIA: /dev/nvidia* by target", "h100", 0,
	  "lxc.mount.entry: /somewhere/nvidia0 dev/nvidia0 none bind,optional,create=file", true },
	{ "NVIDIA: the caps directory", "h100", 0,
	  "lxc.mount.entry: /dev/nvidia-caps dev/nvidia-caps none bind,optional,create=dir", true },
	{ "NVIDIA: a /dev/dri mount reaches others", "h100", 0,
	  "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir", false },
	{ "NVIDIA: a Coral", "h100", 0, "lxc.cgroup2.devices.allow: c 120:* rwm", false },
	{ "Intel: its render node by devN", "intel-nvidia", 0, "dev0: /dev/dri/renderD128,gid=104",
	  true },
	{ "Intel: its minor of 226", "intel-nvidia", 0, "lxc.cgroup2.devices.allow: c 226:128 rwm",
	  true },
	{ "Intel: its by-path link", "intel-nvidia", 0,
	  "lxc.mount.entry: /dev/dri/by-path/pci-0000:00:02.0-render "
	  "dev/dri/by-path/pci-0000:00:02.0-render none bind,optional,create=file",
	  true },
	{ "Intel: not NVIDIA's lines", "intel-nvidia", 0, "lxc.cgroup2.devices.allow: c 195:0 rwm",
	  false },
	{ "AMD: the kfd major", "nvidia-amd", 1, "lxc.cgroup2.devices.allow: c 234:* rwm", true },
	{ "AMD: /dev/kfd", "nvidia-amd", 1, "dev1: /dev/kfd", true },
	{ "AMD: not the BMC's card", "nvidia-amd", 1, "dev1: /dev/dri/card0", false },
};

int model_check(void)
{
	int failed = 0;
	for (size_t i = 0; i < sizeof(opens) / sizeof(*opens); i++) {
		const struct opens *o = &opens[i];
		struct model_config c;
		struct model_devices d;
		model_parse(o->config, strlen(o->config), o->format, &c);
		model_allowed(&c, host_named(o->host), &d);
		if (model_allows(&d, o->type, o->major, o->minor, o->access) != o->allowed) {
			printf("# model check failed: %s: %c %u:%u should be %s\n", o->what,
			       o->type, o->major, o->minor, o->allowed ? "allowed" : "denied");
			failed++;
		}
		model_devices_free(&d);
		model_free(&c);
	}
	for (size_t i = 0; i < sizeof(domains) / sizeof(*domains); i++) {
		const struct domain *x = &domains[i];
		struct model_config c;
		struct model_gpus g = { .host = host_named(x->host) };
		g.on[x->gpu] = true;
		model_parse(x->line, strlen(x->line), MODEL_PVE, &c);
		if (model_in_domain(&c, 0, &g) != x->in) {
			printf("# model check failed: %s: `%s` should be %s the domain\n", x->what,
			       x->line, x->in ? "in" : "outside");
			failed++;
		}
		model_free(&c);
	}
	return failed;
}
