/* gen: generated configs and requests (see gen.h). Each config is a Proxmox
 * main section (or a plain LXC config) with a few blocks of what admins
 * paste next to each other, sometimes interleaved, then maybe pending
 * changes and snapshots that carry old GPU lines. */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_blocks.h"

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

static void base_pve(struct gen *g)
{
	static const char *const notes[] = { "#GPU worker%3A passthrough from the guide",
					     "#Jellyfin, iGPU transcoding",
					     "#100%25 hand-written" };
	for (unsigned i = rng_below(g->r, 3); i > 0; i--)
		gen_line(&g->main, "%s", notes[rng_below(g->r, 3)]);
	gen_line(&g->main, "arch: amd64");
	gen_line(&g->main, "cores: %u", 1 + rng_below(g->r, 16));
	if (rng_percent(g->r, 30))
		gen_line(&g->main, "features: nesting=1");
	gen_line(&g->main, "hostname: ct%u", rng_below(g->r, 1000));
	gen_line(&g->main, "memory: %u", 512u << rng_below(g->r, 6));
	gen_line(&g->main,
		 "net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:%02X:%02X:%02X,ip=dhcp,type=veth",
		 rng_below(g->r, 256), rng_below(g->r, 256), rng_below(g->r, 256));
	gen_line(&g->main, "ostype: %s", rng_percent(g->r, 50) ? "debian" : "ubuntu");
	gen_line(&g->main, "rootfs: local-lvm:vm-104-disk-0,size=8G");
	gen_line(&g->main, "swap: 512");
	if (g->unprivileged && rng_percent(g->r, 85))
		gen_line(&g->main, "unprivileged: 1");
	else if (g->unprivileged)
		for (int i = 0; i < 2; i++)
			gen_line(&g->main, "lxc.idmap: %c 0 100000 65536", i ? 'g' : 'u');
}

static void base_lxc(struct gen *g)
{
	gen_line(&g->main,
		 "# Template used to create this container: /usr/share/lxc/templates/lxc-download");
	gen_line(&g->main, "lxc.include = /usr/share/lxc/config/debian.common.conf");
	if (g->unprivileged) {
		gen_line(&g->main, "lxc.include = /usr/share/lxc/config/userns.conf");
		gen_line(&g->main, "lxc.idmap = u 0 100000 65536");
		gen_line(&g->main, "lxc.idmap = g 0 100000 65536");
	}
	gen_line(&g->main, "lxc.arch = linux64");
	gen_line(&g->main, "lxc.rootfs.path = dir:/var/lib/lxc/c104/rootfs");
	gen_line(&g->main, "lxc.uts.name = c104");
	gen_line(&g->main, "lxc.net.0.type = veth");
	gen_line(&g->main, "lxc.net.0.link = lxcbr0");
}

/* pending changes and snapshots carry old GPU lines, never to be touched */
static void sections(struct gen *g, struct lines *tail)
{
	if ((g->pending = rng_percent(g->r, 20))) {
		gen_line(tail, "%s", "");
		gen_line(tail, "[pve:pending]");
		gen_line(tail, "memory: 4096");
		if (rng_percent(g->r, 30))
			gen_line(tail, "dev%d: /dev/dri/renderD128,gid=104",
				 10 + (int)rng_below(g->r, 5));
		if (rng_percent(g->r, 30))
			gen_line(tail, "delete: dev0");
	}
	g->snapshots = rng_percent(g->r, 25);
	for (unsigned s = g->snapshots ? 1 + rng_below(g->r, 2) : 0; s > 0; s--) {
		gen_line(tail, "%s", "");
		gen_line(tail, "[snap%u]", s);
		gen_line(tail, "#before the driver update");
		gen_line(tail, "arch: amd64");
		gen_line(tail, "hostname: ct");
		gen_line(tail, "snaptime: %u", 1718000000u + s);
		gen_line(tail, "lxc.cgroup2.devices.allow: c 195:* rwm");
		gen_line(tail, "lxc.cgroup2.devices.allow: c 508:* rwm");
		gen_line(
			tail,
			"lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file");
		gen_line(tail,
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
		const struct block *b = &gen_blocks[rng_below(&r, (unsigned)gen_nblocks)];
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
	gen_lines_free(&g.main);
	gen_lines_free(&tail);
}

void gen_case_free(struct gen_case *c)
{
	free(c->input.bytes);
	memset(c, 0, sizeof(*c));
}
