/* `lxgpu metrics`: the figures of lxgpu top, over one interval, in
 * Prometheus' text exposition format (version 0.0.4): gauges with HELP and
 * TYPE lines, no timestamps, for node_exporter's textfile collector (a
 * timer writes them to a file and renames it into place: lxgpu(1), README). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/gpu_use.h"
#include "cli/output.h"
#include "util/xalloc.h"

/* A label value: \, " and newline escaped. */
static void label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void gpu_labels(FILE *f, const struct top_gpu *g)
{
	char index[16];
	snprintf(index, sizeof(index), "%d", g->index);
	label(f, "gpu", index, false);
	label(f, "uuid", g->uuid, false);
	label(f, "pci", g->pci, false);
	label(f, "model", g->model, false);
}

enum family {
	GPU_INFO,
	GPU_MEM_USED,
	GPU_MEM_TOTAL,
	GPU_UTIL,
	GPU_ENC,
	GPU_DEC,
	CT_MEM,
	CT_SM,
	CT_ENC,
	CT_DEC,
	CT_PROCS,
	PROC_MEM,
	PROC_SM,
	PROC_ENC,
	PROC_DEC,
	NFAMILIES
};

static const struct {
	const char *name, *help;
} families[NFAMILIES] = {
	{ "lxgpu_gpu_info", "A GPU lxgpu reads, with its vendor (always 1)." },
	{ "lxgpu_gpu_memory_used_bytes", "GPU memory in use." },
	{ "lxgpu_gpu_memory_total_bytes", "GPU memory in all." },
	{ "lxgpu_gpu_utilization_ratio",
	  "Share of the interval the GPU was busy (NVIDIA: a kernel ran; AMD, Intel: the busiest "
	  "engine)." },
	{ "lxgpu_gpu_encoder_utilization_ratio",
	  "Share of the interval the video encoder was busy." },
	{ "lxgpu_gpu_decoder_utilization_ratio",
	  "Share of the interval the video decoder was busy." },
	{ "lxgpu_container_gpu_memory_bytes",
	  "GPU memory of a container's processes on a GPU (container=\"\": the host's)." },
	{ "lxgpu_container_sm_utilization_ratio",
	  "A container's share of a GPU's SM time (AMD, Intel: of its busiest engine)." },
	{ "lxgpu_container_encoder_utilization_ratio", "A container's share of a GPU's encoder." },
	{ "lxgpu_container_decoder_utilization_ratio", "A container's share of a GPU's decoder." },
	{ "lxgpu_container_processes", "A container's processes on a GPU." },
	{ "lxgpu_process_gpu_memory_bytes", "GPU memory of a process." },
	{ "lxgpu_process_sm_utilization_ratio", "A process's share of a GPU's SM time." },
	{ "lxgpu_process_encoder_utilization_ratio", "A process's share of a GPU's encoder." },
	{ "lxgpu_process_decoder_utilization_ratio", "A process's share of a GPU's decoder." },
};

/* A container's figures on one GPU. */
struct ct_gpu {
	unsigned long long mem;
	int sm, enc, dec;
	size_t nprocs;
};

static int pct_add(int sum, int p)
{
	return p < 0 ? sum : sum < 0 ? p : sum + p;
}

static struct ct_gpu ct_on(const struct top_snapshot *snap, const struct top_ct *c, size_t gpu)
{
	struct ct_gpu s = { 0, -1, -1, -1, 0 };
	for (size_t k = c->first; k < c->first + c->nprocs; k++) {
		const struct top_proc *p = &snap->procs[k];
		if (p->gpu != (int)gpu)
			continue;
		s.nprocs++;
		s.mem += p->mem == TOP_UNKNOWN ? 0 : p->mem;
		s.sm = pct_add(s.sm, p->sm);
		s.enc = pct_add(s.enc, p->enc);
		s.dec = pct_add(s.dec, p->dec);
	}
	return s;
}

/* value < 0 (unknown): no sample. */
static void sample(FILE *f, enum family fam, const struct top_gpu *g, const char *ct,
		   const struct top_proc *p, double value)
{
	char pid[16], ct_pid[16];
	if (value < 0)
		return;
	fprintf(f, "%s{", families[fam].name);
	label(f, "vendor", lxgpu_vendor_name(g->vendor), true);
	gpu_labels(f, g);
	if (fam >= CT_MEM)
		label(f, "container", ct, false);
	if (p) {
		snprintf(pid, sizeof(pid), "%d", p->pid);
		snprintf(ct_pid, sizeof(ct_pid), "%d", p->ct_pid);
		label(f, "pid", pid, false);
		label(f, "ct_pid", p->ct_pid >= 0 ? ct_pid : "", false);
		label(f, "nested", p->nested, false);
		/* the program alone: a label with every argument would make a series
		 * per command line */
		const char *cmd = p->command;
		size_t n = strcspn(cmd, " ");
		const char *slash = memrchr(cmd, '/', n);
		char prog[64];
		snprintf(prog, sizeof(prog), "%.*s",
			 (int)(slash ? n - (size_t)(slash + 1 - cmd) : n), slash ? slash + 1 : cmd);
		label(f, "command", prog, false);
	}
	fprintf(f, "} %.15g\n", value);
}

static double bytes(unsigned long long b)
{
	return b == TOP_UNKNOWN ? -1 : (double)b;
}

static double ratio(int pct)
{
	return pct < 0 ? -1 : pct / 100.0;
}

static void family(FILE *f, const struct top_snapshot *snap, enum family fam)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", families[fam].name, families[fam].help,
		families[fam].name);
	for (size_t i = 0; fam <= GPU_DEC && i < snap->ngpus; i++) {
		const struct top_gpu *g = &snap->gpus[i];
		double v[] = { 1,
			       bytes(g->mem_used),
			       bytes(g->mem_total),
			       ratio(g->util),
			       ratio(g->enc),
			       ratio(g->dec) };
		sample(f, fam, g, NULL, NULL, v[fam]);
	}
	for (size_t i = 0; fam >= CT_MEM && fam <= CT_PROCS && i < snap->ncts; i++)
		for (size_t g = 0; g < snap->ngpus; g++) {
			const struct top_ct *c = &snap->cts[i];
			struct ct_gpu s = ct_on(snap, c, g);
			double v[] = { (double)s.mem, ratio(s.sm), ratio(s.enc), ratio(s.dec),
				       (double)s.nprocs };
			if (s.nprocs)
				sample(f, fam, &snap->gpus[g], c->ct, NULL, v[fam - CT_MEM]);
		}
	for (size_t i = 0; fam >= PROC_MEM && i < snap->nprocs; i++) {
		const struct top_proc *p = &snap->procs[i];
		double v[] = { bytes(p->mem), ratio(p->sm), ratio(p->enc), ratio(p->dec) };
		sample(f, fam, &snap->gpus[p->gpu], p->ct, p, v[fam - PROC_MEM]);
	}
}

int cmd_metrics(struct cli *cli)
{
	struct gpu_use u;
	struct top_snapshot first, snap;
	if (cli->json)
		return cli_error(EXIT_USAGE,
				 "metrics: --json: its output is Prometheus' text format "
				 "(lxgpu top --json has the same figures)");
	int r = gpu_use_open(cli, NULL, 0, &u);
	if (r >= 0)
		return r;
	if ((r = gpu_use_next(&u, 0, &first)) < 0) {
		top_snapshot_free(&first);
		r = gpu_use_next(&u, u.interval, &snap);
	}
	gpu_use_close(&u);
	if (r >= 0)
		return r;
	for (int fam = 0; fam < NFAMILIES; fam++)
		family(stdout, &snap, (enum family)fam);
	top_snapshot_free(&snap);
	return EXIT_OK;
}
