/* gen_blocks: the blocks of lines a generated config is made of (see
 * gen_blocks.h): the guide's, NVIDIA by hand and by devN, an iGPU for
 * Jellyfin, ROCm, a Coral and USB, an NPU, the second of two GPUs, NVIDIA
 * nodes from another directory, cgroup v1, deny and "a" rules, other
 * devices, another tool's lines, and what lxgpu 0.1 or a v2 attach left. */
#include "gen_blocks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* == lines */

static void __attribute__((format(printf, 2, 0))) vadd(struct lines *l, const char *fmt, va_list ap)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	if (vasprintf(&l->v[l->n], fmt, ap) < 0)
		abort();
	l->n++;
}

void gen_line(struct lines *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(l, fmt, ap);
	va_end(ap);
}

void gen_lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void __attribute__((format(printf, 3, 4)))
lxc(struct gen *g, const char *key, const char *fmt, ...)
{
	static const char *const pve_seps[] = {
		": ", ": ", ": ", ": ", ": ", ": ", " = ", "=", ":"
	};
	char value[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	const char *sep = g->pve                  ? pve_seps[rng_below(g->r, 9)]
			  : rng_percent(g->r, 90) ? " = "
						  : "=";
	gen_line(&g->main, "%s%s%s%s", key, sep, value, rng_percent(g->r, 4) ? " " : "");
}

static void rule(struct gen *g, const char *value)
{
	lxc(g, "lxc.cgroup2.devices.allow", "%s", value);
}

static void mount_file(struct gen *g, const char *source, const char *target)
{
	lxc(g, "lxc.mount.entry", "%s %s none bind,optional,create=file", source, target);
}

static void mount_dir(struct gen *g, const char *path)
{
	lxc(g, "lxc.mount.entry", "%s %s none bind,optional,create=dir", path, path + 1);
}

/* devN on Proxmox, a mount elsewhere */
static void dev_or_mount(struct gen *g, const char *path, const char *options)
{
	if (g->pve)
		gen_line(&g->main, "dev%d: %s%s", g->next_dev++, path, options);
	else
		mount_file(g, path, path + 1);
}

static const struct host_gpu *gpu_of(const struct test_host *h, enum host_vendor v, int *index)
{
	for (size_t i = 0; i < h->ngpus; i++)
		if (h->gpus[i].vendor == v) {
			if (index)
				*index = (int)i;
			return &h->gpus[i];
		}
	return NULL;
}

static unsigned major_of(const struct test_host *h, const char *path, unsigned fallback)
{
	const struct host_node *n = host_node_at(h, path);
	return n ? n->major : fallback;
}

/* == blocks */

/* The guide's block, with its made-up majors (issue 14). */
static void guide(struct gen *g)
{
	static const char *const majors[] = { "60", "195", "226", "254", "255", "508", "511" };
	static const char *const nodes[] = { "nvidia0", "nvidiactl", "nvidia-modeset", "nvidia-uvm",
					     "nvidia-uvm-tools" };
	for (size_t i = 0; i < 7; i++)
		lxc(g, "lxc.cgroup2.devices.allow", "c %s:* rwm", majors[i]);
	for (size_t i = 0; i < 5; i++) {
		char source[64], target[64];
		snprintf(source, sizeof(source), "/dev/%s", nodes[i]);
		snprintf(target, sizeof(target), "dev/%s", nodes[i]);
		mount_file(g, source, target);
	}
	mount_dir(g, "/dev/dri");
}

/* NVIDIA by hand, exact minors, uvm's major as now or as before an update */
static void nvidia_by_hand(struct gen *g)
{
	const struct test_host *numbers = rng_percent(g->r, 30) && g->h->twin ? g->h->twin : g->h;
	unsigned uvm = major_of(numbers, "/dev/nvidia-uvm", 238);
	char value[64];
	rule(g, "c 195:0 rwm");
	rule(g, "c 195:255 rwm");
	snprintf(value, sizeof(value), "c %u:* rwm", uvm);
	rule(g, value);
	mount_file(g, "/dev/nvidia0", "dev/nvidia0");
	mount_file(g, "/dev/nvidiactl", "dev/nvidiactl");
	mount_file(g, "/dev/nvidia-uvm", "dev/nvidia-uvm");
	if (rng_percent(g->r, 50))
		mount_file(g, "/dev/nvidia-uvm-tools", "dev/nvidia-uvm-tools");
	if (rng_percent(g->r, 30))
		mount_dir(g, "/dev/nvidia-caps");
}

static void nvidia_dev(struct gen *g)
{
	static const char *const paths[] = { "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm",
					     "/dev/nvidia-uvm-tools" };
	for (size_t i = 0; i < 4; i++)
		if (g->pve)
			gen_line(&g->main, "dev%d: %s%s%s", g->next_dev++,
				 rng_percent(g->r, 20) ? "path=" : "", paths[i],
				 rng_percent(g->r, 50) ? ",mode=0666" : "");
		else
			mount_file(g, paths[i], paths[i] + 1);
}

/* Jellyfin on the iGPU: its render node with the container's group, the
 * DRM major, the by-path links (issue 14, case 2) */
static void igpu(struct gen *g)
{
	const struct host_gpu *intel = gpu_of(g->h, HOST_INTEL, NULL);
	const char *render = intel ? intel->render : "/dev/dri/renderD128";
	if (g->pve && rng_percent(g->r, 70))
		gen_line(&g->main, "dev%d: %s,gid=104", g->next_dev++, render);
	else
		mount_file(g, render, render + 1);
	if (rng_percent(g->r, 30))
		dev_or_mount(g, "/dev/dri/card0", ""); /* card1 since a renumbering, maybe */
	rule(g, rng_percent(g->r, 70) ? "c 226:* rwm" : "c 226:128 rwm");
	mount_dir(g, rng_percent(g->r, 50) ? "/dev/dri/by-path" : "/dev/dri");
}

/* ROCm: /dev/kfd and its major, the AMD render node */
static void amd(struct gen *g)
{
	char value[64];
	dev_or_mount(g, "/dev/kfd", rng_percent(g->r, 50) ? ",gid=104" : "");
	snprintf(value, sizeof(value), "c %u:* rwm", major_of(g->h, "/dev/kfd", 234));
	rule(g, value);
	const struct host_gpu *radeon = gpu_of(g->h, HOST_AMD, NULL);
	if (radeon && rng_percent(g->r, 60))
		dev_or_mount(g, radeon->render, ",gid=104");
}

static void coral_usb(struct gen *g)
{
	rule(g, "c 189:* rwm");
	mount_dir(g, "/dev/bus/usb");
	if (rng_percent(g->r, 60)) {
		rule(g, "c 120:* rwm");
		mount_file(g, "/dev/apex_0", "dev/apex_0");
	}
}

static void npu(struct gen *g)
{
	rule(g, "c 261:0 rwm");
	if (rng_percent(g->r, 50))
		dev_or_mount(g, "/dev/accel/accel0", "");
	else
		mount_file(g, "/dev/accel/accel0", "dev/accel/accel0");
}

/* the second of two GPUs, split between containers */
static void second_gpu(struct gen *g)
{
	rule(g, "c 195:1 rwm");
	mount_file(g, "/dev/nvidia1", "dev/nvidia1");
}

/* NVIDIA nodes bound from a per-container device directory (issue 14, case 5) */
static void other_source(struct gen *g)
{
	mount_file(g, "/somewhere/nvidia0", "dev/nvidia0");
	if (rng_percent(g->r, 50))
		lxc(g, "lxc.mount.entry",
		    "/var/lib/ct-devices/104/nvidiactl /dev/nvidiactl none bind,create=file");
	if (rng_percent(g->r, 50))
		rule(g, "c 195:* rwm");
}

static void cgroup_v1(struct gen *g)
{
	lxc(g, "lxc.cgroup.devices.allow", "c 195:* rwm");
	if (rng_percent(g->r, 50))
		lxc(g, "lxc.cgroup.devices.allow", "c 226:* rwm");
}

static void denies(struct gen *g)
{
	static const char *const values[] = { "c 195:1 rwm", "c 10:200 rwm",
					      "c 189:* w",   "c 226:129 rwm",
					      "a",           "c 195:* m" };
	lxc(g, "lxc.cgroup2.devices.deny", "%s", values[rng_below(g->r, 6)]);
}

/* "allow everything" the way forum posts say it */
static void a_rules(struct gen *g)
{
	static const char *const values[] = { "a", "a *:* rwm", "c *:* rwm", "a 195:* rwm" };
	lxc(g, "lxc.cgroup2.devices.allow", "%s", values[rng_below(g->r, 4)]);
}

static void tun_and_data(struct gen *g)
{
	rule(g, "c 10:200 rwm");
	lxc(g, "lxc.mount.entry", "/dev/net/tun dev/net/tun none bind,create=file");
	if (rng_percent(g->r, 50))
		lxc(g, "lxc.mount.entry", "/mnt/media mnt/media none bind,create=dir 0 0");
	if (rng_percent(g->r, 30))
		dev_or_mount(g, "/dev/ttyUSB0", ",gid=20");
}

static void other_tool(struct gen *g)
{
	lxc(g, "lxc.environment", "NVIDIA_VISIBLE_DEVICES=all");
	if (rng_percent(g->r, 50))
		lxc(g, "lxc.hook.mount", "/usr/share/lxc/hooks/nvidia");
}

/* What an earlier lxgpu attach left, version 1 (0.1) or 2 (ownership.md),
 * for one GPU, with the numbers of this host or of its other state. */
static void record(struct gen *g, int version)
{
	const struct test_host *numbers = rng_percent(g->r, 30) && g->h->twin ? g->h->twin : g->h;
	int index = (int)rng_below(g->r, (unsigned)g->h->ngpus);
	const struct host_gpu *x = &g->h->gpus[index];
	struct model_gpus one = { .host = numbers };
	one.on[index] = true;
	const struct host_node *nodes[16];
	size_t n = model_gpu_nodes(&one, nodes, 16);
	/* 0.1's sync widened rules it found wildcards beside (issue 14, case 1) */
	bool dev = g->pve && rng_percent(g->r, 40),
	     wildcard = rng_percent(g->r, version == 2 ? 20 : 15);
	bool hook = false;
	char rules[512] = "", wrote[1024] = "";
	g->record_gpu = index;

	lxc(g, "lxc.environment", "LXGPU_DEVICES=%s", x->uuid ? x->uuid : x->pci);
	for (size_t i = 0; i < n; i++) {
		char minor[16] = "*";
		if (!wildcard)
			snprintf(minor, sizeof(minor), "%u", nodes[i]->minor);
		size_t r = strlen(rules), w = strlen(wrote);
		snprintf(rules + r, sizeof(rules) - r, "%s%u:%s", r ? "," : "", nodes[i]->major,
			 minor);
		if (!dev)
			snprintf(wrote + w, sizeof(wrote) - w, "%sc%u:%s", w ? "," : "",
				 nodes[i]->major, minor);
	}
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(wrote);
		snprintf(wrote + w, sizeof(wrote) - w, "%s%s", w ? "," : "", nodes[i]->path);
	}
	if (version == 2)
		lxc(g, "lxc.environment", "LXGPU_REQUEST=v2,style=%s,rules=%s,guard=no%s",
		    dev ? "dev" : "raw", wildcard ? "wildcard" : "exact",
		    g->unprivileged ? ",render=104,video=44" : "");
	if (version == 2)
		lxc(g, "lxc.environment", "LXGPU_WROTE=%s", wrote);
	else if (!dev)
		lxc(g, "lxc.environment", "LXGPU_RULES=%s", rules);
	for (size_t i = 0; i < n; i++) {
		const struct host_node *node = nodes[i];
		bool group = node->mode == 0660;
		long gid = !group                       ? -1
			   : !g->unprivileged           ? (long)node->gid
			   : strstr(node->path, "card") ? 44
							: 104;
		if (dev) {
			char gids[32] = "";
			if (gid >= 0)
				snprintf(gids, sizeof(gids), ",gid=%ld", gid);
			gen_line(&g->main, "dev%d: %s%s,mode=0%o", g->next_dev++, node->path, gids,
				 node->mode);
			continue;
		}
		char minor[16] = "*", source[128];
		if (!wildcard)
			snprintf(minor, sizeof(minor), "%u", node->minor);
		lxc(g, "lxc.cgroup2.devices.allow", "c %u:%s rwm", node->major, minor);
		hook |= g->unprivileged && group;
		snprintf(source, sizeof(source), "%s%s",
			 g->unprivileged && group ? "/run/lxgpu/104" : "", node->path);
		mount_file(g, source, node->path + 1);
	}
	if (hook) {
		if (version == 1)
			lxc(g, "lxc.environment", "LXGPU_GIDS=render:104,video:44");
		lxc(g, "lxc.hook.pre-start", "/usr/bin/lxgpu hook");
		lxc(g, "lxc.hook.post-stop", "/usr/bin/lxgpu hook");
	}
}

static void record_v1(struct gen *g)
{
	record(g, 1);
}

static void record_v2(struct gen *g)
{
	record(g, 2);
}

const struct block gen_blocks[] = {
	{ "guide", guide, true },
	{ "nvidia-by-hand", nvidia_by_hand, true },
	{ "nvidia-dev", nvidia_dev, true },
	{ "igpu", igpu, false },
	{ "amd", amd, false },
	{ "coral-usb", coral_usb, false },
	{ "npu", npu, false },
	{ "second-gpu", second_gpu, true },
	{ "other-source", other_source, true },
	{ "cgroup-v1", cgroup_v1, true },
	{ "deny", denies, false },
	{ "a-rule", a_rules, false },
	{ "tun", tun_and_data, false },
	{ "other-tool", other_tool, false },
	{ "record-v1", record_v1, true },
	{ "record-v2", record_v2, true },
};
const size_t gen_nblocks = sizeof(gen_blocks) / sizeof(*gen_blocks);
