/* gen: generated configs and requests (see gen.h). Each config is a Proxmox
 * main section (or a plain LXC config) with a few blocks of what admins
 * paste next to each other, sometimes interleaved, then maybe pending
 * changes and snapshots that carry old GPU lines. */
#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* == splitmix64: small, and good enough to pick */

void rng_seed(struct rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned rng_below(struct rng *r, unsigned n)
{
	return n ? (unsigned)(rng_next(r) % n) : 0;
}

bool rng_percent(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

/* == lines */

struct lines {
	char **v;
	size_t n, cap;
};

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

static void __attribute__((format(printf, 2, 3))) add(struct lines *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(l, fmt, ap);
	va_end(ap);
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct gen {
	struct rng *r;
	const struct test_host *h;
	bool pve, unprivileged;
	struct lines main;
	int next_dev;
	int record_gpu; /* the GPU a record block names, -1 */
	bool pending, snapshots;
};

/* An lxc.* line: Proxmox reads ':', '=', ' = ' alike (proxmox-config.md §1.2). */
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
	add(&g->main, "%s%s%s%s", key, sep, value, rng_percent(g->r, 4) ? " " : "");
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
		add(&g->main, "dev%d: %s%s", g->next_dev++, path, options);
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
			add(&g->main, "dev%d: %s%s%s", g->next_dev++,
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
		add(&g->main, "dev%d: %s,gid=104", g->next_dev++, render);
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
			add(&g->main, "dev%d: %s%s,mode=0%o", g->next_dev++, node->path, gids,
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

struct block {
	const char *name;
	void (*emit)(struct gen *g);
	bool nvidia; /* lines in NVIDIA's domain */
};

static const struct block blocks[] = {
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
#define NBLOCKS (sizeof(blocks) / sizeof(*blocks))

const char *gen_block_name(size_t i)
{
	return i < NBLOCKS ? blocks[i].name : NULL;
}

static void base_pve(struct gen *g)
{
	static const char *const notes[] = { "#GPU worker%3A passthrough from the guide",
					     "#Jellyfin, iGPU transcoding",
					     "#100%25 hand-written" };
	for (unsigned i = rng_below(g->r, 3); i > 0; i--)
		add(&g->main, "%s", notes[rng_below(g->r, 3)]);
	add(&g->main, "arch: amd64");
	add(&g->main, "cores: %u", 1 + rng_below(g->r, 16));
	if (rng_percent(g->r, 30))
		add(&g->main, "features: nesting=1");
	add(&g->main, "hostname: ct%u", rng_below(g->r, 1000));
	add(&g->main, "memory: %u", 512u << rng_below(g->r, 6));
	add(&g->main,
	    "net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:%02X:%02X:%02X,ip=dhcp,type=veth",
	    rng_below(g->r, 256), rng_below(g->r, 256), rng_below(g->r, 256));
	add(&g->main, "ostype: %s", rng_percent(g->r, 50) ? "debian" : "ubuntu");
	add(&g->main, "rootfs: local-lvm:vm-104-disk-0,size=8G");
	add(&g->main, "swap: 512");
	if (g->unprivileged && rng_percent(g->r, 85))
		add(&g->main, "unprivileged: 1");
	else if (g->unprivileged)
		for (int i = 0; i < 2; i++)
			add(&g->main, "lxc.idmap: %c 0 100000 65536", i ? 'g' : 'u');
}

static void base_lxc(struct gen *g)
{
	add(&g->main,
	    "# Template used to create this container: /usr/share/lxc/templates/lxc-download");
	add(&g->main, "lxc.include = /usr/share/lxc/config/debian.common.conf");
	if (g->unprivileged) {
		add(&g->main, "lxc.include = /usr/share/lxc/config/userns.conf");
		add(&g->main, "lxc.idmap = u 0 100000 65536");
		add(&g->main, "lxc.idmap = g 0 100000 65536");
	}
	add(&g->main, "lxc.arch = linux64");
	add(&g->main, "lxc.rootfs.path = dir:/var/lib/lxc/c104/rootfs");
	add(&g->main, "lxc.uts.name = c104");
	add(&g->main, "lxc.net.0.type = veth");
	add(&g->main, "lxc.net.0.link = lxcbr0");
}

/* pending changes and snapshots carry old GPU lines, never to be touched */
static void sections(struct gen *g, struct lines *tail)
{
	if ((g->pending = rng_percent(g->r, 20))) {
		add(tail, "%s", "");
		add(tail, "[pve:pending]");
		add(tail, "memory: 4096");
		if (rng_percent(g->r, 30))
			add(tail, "dev%d: /dev/dri/renderD128,gid=104",
			    10 + (int)rng_below(g->r, 5));
		if (rng_percent(g->r, 30))
			add(tail, "delete: dev0");
	}
	g->snapshots = rng_percent(g->r, 25);
	for (unsigned s = g->snapshots ? 1 + rng_below(g->r, 2) : 0; s > 0; s--) {
		add(tail, "%s", "");
		add(tail, "[snap%u]", s);
		add(tail, "#before the driver update");
		add(tail, "arch: amd64");
		add(tail, "hostname: ct");
		add(tail, "snaptime: %u", 1718000000u + s);
		add(tail, "lxc.cgroup2.devices.allow: c 195:* rwm");
		add(tail, "lxc.cgroup2.devices.allow: c 508:* rwm");
		add(tail,
		    "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file");
		add(tail,
		    "lxc.environment: LXGPU_DEVICES=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f");
	}
}

static void join(struct rng *r, const struct lines *main, const struct lines *tail,
		 struct text *out)
{
	const char *eol = rng_percent(r, 3) ? "\r\n" : "\n";
	bool final = !rng_percent(r, 6);
	size_t cap = 64;
	for (size_t i = 0; i < main->n; i++)
		cap += strlen(main->v[i]) + 2;
	for (size_t i = 0; i < tail->n; i++)
		cap += strlen(tail->v[i]) + 2;
	out->bytes = malloc(cap);
	if (!out->bytes)
		abort();
	out->len = 0;
	size_t total = main->n + tail->n;
	for (size_t i = 0; i < total; i++) {
		const char *line = i < main->n ? main->v[i] : tail->v[i - main->n];
		bool last = i + 1 == total;
		out->len += (size_t)snprintf(out->bytes + out->len, cap - out->len, "%s%s", line,
					     last && !final ? "" : eol);
	}
}

void gen_request(struct rng *r, const struct test_host *h, bool pve, bool unprivileged,
		 struct gen_case *out)
{
	struct model_request *q = &out->req;
	memset(q, 0, sizeof(*q));
	unsigned pick = rng_below(r, 100);
	bool all = pick < 15 || (pick < 30 && h->ngpus > 1);
	int first = (int)rng_below(r, (unsigned)h->ngpus);
	for (size_t i = 0; i < h->ngpus && q->nselectors < 4; i++) {
		if (!all && (int)i != first)
			continue;
		char *sel = out->selectors[q->nselectors];
		unsigned form = rng_below(r, 3);
		if (form == 0)
			snprintf(sel, sizeof(out->selectors[0]), "%zu", i);
		else if (form == 1 && h->gpus[i].uuid)
			snprintf(sel, sizeof(out->selectors[0]), "%s", h->gpus[i].uuid);
		else
			snprintf(sel, sizeof(out->selectors[0]), "%s", h->gpus[i].pci);
		q->selectors[q->nselectors++] = sel;
	}
	if (all && rng_percent(r, 50)) {
		snprintf(out->selectors[0], sizeof(out->selectors[0]), "all");
		q->nselectors = 1;
	}
	q->dev_style = pve && rng_percent(r, 40);
	q->wildcard = rng_percent(r, 20);
	q->guard = rng_percent(r, 20);
	q->prune = rng_percent(r, 30);
	bool known = !unprivileged || rng_percent(r, 95);
	q->render_gid = known ? 104 : -1;
	q->video_gid = known ? 44 : -1;
}

void gen_case(uint64_t seed, struct gen_case *out)
{
	struct rng r;
	struct lines tail = { 0 };
	rng_seed(&r, seed);
	memset(out, 0, sizeof(*out));
	out->seed = seed;
	out->host = test_hosts[rng_below(&r, (unsigned)ntest_hosts)];
	out->format = rng_percent(&r, 80) ? MODEL_PVE : MODEL_LXC;
	struct gen g = { .r = &r,
			 .h = out->host,
			 .pve = out->format == MODEL_PVE,
			 .unprivileged = rng_percent(&r, 50),
			 .record_gpu = -1 };
	if (g.pve)
		base_pve(&g);
	else
		base_lxc(&g);
	size_t first = g.main.n;
	int used = snprintf(out->mix, sizeof(out->mix),
			    "%s %s:", g.unprivileged ? "unprivileged" : "privileged",
			    g.pve ? "pve" : "lxc");
	/* a third of the configs hold nothing of NVIDIA's (invariant 6) */
	bool foreign = rng_percent(&r, 33);
	for (unsigned k = 1 + rng_below(&r, 4); k > 0; k--) {
		const struct block *b = &blocks[rng_below(&r, NBLOCKS)];
		if (foreign && b->nvidia)
			continue;
		b->emit(&g);
		used += snprintf(out->mix + used, sizeof(out->mix) - (size_t)used, " %s", b->name);
		if (used >= (int)sizeof(out->mix))
			used = (int)sizeof(out->mix) - 1;
	}
	if (rng_percent(&r, 25)) /* pasted in between */
		for (size_t i = g.main.n; i > first + 1; i--) {
			size_t j = first + rng_below(&r, (unsigned)(i - first));
			char *t = g.main.v[i - 1];
			g.main.v[i - 1] = g.main.v[j];
			g.main.v[j] = t;
		}
	if (g.pve)
		sections(&g, &tail);
	snprintf(out->mix + used, sizeof(out->mix) - (size_t)used, "%s%s",
		 g.pending ? " pending" : "", g.snapshots ? " snapshots" : "");
	join(&r, &g.main, &tail, &out->input);
	gen_request(&r, out->host, g.pve, g.unprivileged, out);
	if (g.record_gpu >= 0 && rng_percent(&r, 50)) { /* attach again what is recorded */
		snprintf(out->selectors[0], sizeof(out->selectors[0]), "%d", g.record_gpu);
		out->req.selectors[0] = out->selectors[0];
		out->req.nselectors = 1;
	}
	lines_free(&g.main);
	lines_free(&tail);
}

void gen_case_free(struct gen_case *c)
{
	free(c->input.bytes);
	memset(c, 0, sizeof(*c));
}
