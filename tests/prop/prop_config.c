/* prop_config: the invariants of docs/ownership.md (props.h) over generated
 * configs (gen.h) and every fixture config (tests/golden/pve), as TAP: one
 * test point per invariant and corpus. Failures print the seed, the input
 * shrunk to the lines that still break it, the output and why.
 *   PROP_COUNT (3000)  generated configs
 *   PROP_SEED (1)      the first config's seed; config i has seed PROP_SEED+i
 *   PROP_SHOW (2)      failures shown per invariant
 *   PROP_SHRINK (1)    0: show failing inputs whole
 *   PROP_FIXTURES      the directory of fixture configs (meson sets it) */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"
#include "known.h"
#include "model_check.h"
#include "props_check.h"
#include "props.h"

struct tally {
	size_t held[NPROPS + 1], failed[NPROPS + 1], skipped[NPROPS + 1];
};

static unsigned long env_number(const char *name, unsigned long fallback)
{
	const char *v = getenv(name);
	return v && *v ? strtoul(v, NULL, 0) : fallback;
}

static void print_text(const char *title, const struct text *t)
{
	printf("#   %s (%zu bytes%s):\n", title, t->len,
	       t->len && t->bytes[t->len - 1] != '\n' ? ", no final newline" : "");
	for (size_t pos = 0; pos < t->len;) {
		const char *nl = memchr(t->bytes + pos, '\n', t->len - pos);
		size_t n = nl ? (size_t)(nl - (t->bytes + pos)) : t->len - pos;
		printf("#   | ");
		for (size_t k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)t->bytes[pos + k];
			if (ch < 0x20 || ch == 0x7f)
				printf("\\x%02x", ch);
			else
				putchar(ch);
		}
		putchar('\n');
		pos += n + 1;
	}
}

static void print_request(const struct model_request *q)
{
	printf("#   request:");
	for (size_t i = 0; i < q->nselectors; i++)
		printf(" --gpu %s", q->selectors[i]);
	printf(" --style %s%s%s%s", q->dev_style ? "dev" : "raw", q->wildcard ? " --wildcard" : "",
	       q->guard ? " --guard" : "", q->prune ? " --prune" : "");
	printf(" (container gids render %ld, video %ld)\n", q->render_gid, q->video_gid);
}

/* The input without line `skip` (counted from 0, "\n" kept with its line). */
static struct text without_line(const struct text *t, size_t skip)
{
	struct text out = { malloc(t->len + 1), 0 };
	size_t line = 0;
	if (!out.bytes)
		abort();
	for (size_t pos = 0; pos < t->len; line++) {
		const char *nl = memchr(t->bytes + pos, '\n', t->len - pos);
		size_t n = nl ? (size_t)(nl - (t->bytes + pos)) + 1 : t->len - pos;
		if (line != skip) {
			memcpy(out.bytes + out.len, t->bytes + pos, n);
			out.len += n;
		}
		pos += n;
	}
	return out;
}

static size_t count_lines(const struct text *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->len; i++)
		n += t->bytes[i] == '\n';
	return n + (t->len && t->bytes[t->len - 1] != '\n');
}

static bool still_fails(const struct prop_input *in, int which, struct prop_failure *f)
{
	struct prop_run *run = prop_run_new(in);
	bool fails = prop_check(which, run, f) == PROP_FAILS;
	prop_run_free(run);
	return fails;
}

/* Drops lines while the invariant still fails: the smallest input to show. */
static struct text shrink(const struct prop_input *in, int which)
{
	struct text cur = { malloc(in->text.len + 1), in->text.len };
	if (!cur.bytes)
		abort();
	memcpy(cur.bytes, in->text.bytes, in->text.len);
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = count_lines(&cur); i-- > 0;) {
			struct prop_input candidate = *in;
			struct prop_failure f;
			candidate.text = without_line(&cur, i);
			bool fails = still_fails(&candidate, which, &f);
			prop_failure_free(&f);
			if (fails) {
				free(cur.bytes);
				cur = candidate.text;
				changed = true;
			} else {
				free(candidate.text.bytes);
			}
		}
	}
	return cur;
}

static void report(const struct prop_input *in, int which, const struct prop_failure *first)
{
	printf("# invariant %d failed: %s\n", which, prop_name(which));
	if (in->seed)
		printf("#   seed %" PRIu64 " (PROP_SEED=%" PRIu64
		       " PROP_COUNT=1), host %s, %s config: %s\n",
		       in->seed, in->seed, in->host->name,
		       in->format == MODEL_PVE ? "Proxmox" : "LXC", in->label);
	else
		printf("#   fixture %s on host %s\n", in->label, in->host->name);
	print_request(in->req);
	printf("#   %s\n", first->why);
	if (env_number("PROP_SHRINK", 1) == 0) {
		print_text("input", &in->text);
		if (first->shown.bytes)
			print_text("output", &first->shown);
		if (first->other.bytes)
			print_text(first->other_name, &first->other);
		return;
	}
	struct prop_input small = *in;
	struct prop_failure f;
	small.text = shrink(in, which);
	if (!still_fails(&small, which, &f)) { /* cannot happen: shrink keeps failing inputs */
		printf("#   (shrinking lost the failure)\n");
		print_text("input", &in->text);
	} else {
		printf("#   shrunk to %zu of %zu lines: %s\n", count_lines(&small.text),
		       count_lines(&in->text), f.why);
		print_text("input", &small.text);
		if (f.shown.bytes)
			print_text("output", &f.shown);
		if (f.other.bytes)
			print_text(f.other_name, &f.other);
	}
	prop_failure_free(&f);
	free(small.text.bytes);
}

static void check_all(const struct prop_input *in, struct tally *t, size_t *shown)
{
	struct prop_run *run = prop_run_new(in);
	size_t show = env_number("PROP_SHOW", 2);
	for (int which = 1; which <= NPROPS; which++) {
		struct prop_failure f;
		switch (prop_check(which, run, &f)) {
		case PROP_HOLDS:
			t->held[which]++;
			break;
		case PROP_SKIPPED:
			t->skipped[which]++;
			break;
		case PROP_FAILS:
			t->failed[which]++;
			if (shown[which] < show) {
				shown[which]++;
				report(in, which, &f);
			}
			break;
		}
		prop_failure_free(&f);
	}
	prop_run_free(run);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool read_file(const char *path, struct text *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t cap = 1 << 16;
	out->bytes = malloc(cap);
	out->len = out->bytes ? fread(out->bytes, 1, cap, f) : 0;
	fclose(f);
	return out->bytes != NULL;
}

/* Every fixture on every host, with a few requests each. */
static size_t fixtures(const char *dir, struct tally *t, size_t *shown)
{
	DIR *d = dir ? opendir(dir) : NULL;
	char *names[512];
	size_t n = 0, cases = 0;
	for (struct dirent *e; d && (e = readdir(d)) && n < 512;) {
		const char *dot = strrchr(e->d_name, '.');
		if (dot && (strcmp(dot, ".conf") == 0 || strcmp(dot, ".attached") == 0))
			names[n++] = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct text text;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!read_file(path, &text)) {
			printf("# cannot read %s\n", path);
			continue;
		}
		for (size_t h = 0; h < ntest_hosts; h++)
			for (uint64_t k = 0; k < 3; k++) {
				struct rng r;
				struct gen_case c = { 0 };
				struct model_config mc;
				model_parse(text.bytes, text.len, MODEL_PVE, &mc);
				rng_seed(&r, (i << 16) ^ (h << 8) ^ k);
				gen_request(&r, test_hosts[h], true, model_unprivileged(&mc), &c);
				model_free(&mc);
				struct prop_input in = { names[i],  0,    test_hosts[h],
							 MODEL_PVE, text, &c.req };
				check_all(&in, t, shown);
				cases++;
			}
		free(text.bytes);
		free(names[i]);
	}
	return cases;
}

/* Issue 14's cases: one test point each, every invariant. */
static bool known(int *point, size_t *shown)
{
	bool all = true;
	for (size_t i = 0; i < nknown_cases; i++) {
		const struct known_case *k = &known_cases[i];
		struct tally t = { 0 };
		struct text text = { (char *)k->text, strlen(k->text) };
		struct prop_input in = {
			k->name, 0, host_named(k->host), k->format, text, &k->req
		};
		char failed[64] = "";
		size_t used = 0;
		check_all(&in, &t, shown);
		for (int which = 1; which <= NPROPS; which++)
			if (t.failed[which])
				used += (size_t)snprintf(failed + used, sizeof(failed) - used,
							 " %d", which);
		printf("%sok %d - %s%s%s\n", used ? "not " : "", ++*point, k->name,
		       used ? ": fails invariant" : "", failed);
		all &= used == 0;
	}
	return all;
}

static bool summary(int *point, int which, const char *corpus, const struct tally *t,
		    const char *skip)
{
	if (skip) {
		printf("ok %d - invariant %d over %s # SKIP %s\n", ++*point, which, corpus, skip);
		return true;
	}
	/* a corpus where nothing was checked proves nothing */
	bool ok = t->failed[which] == 0 && t->held[which] > 0;
	printf("%sok %d - invariant %d over %s: %s (%zu held, %zu failed, %zu skipped)\n",
	       ok ? "" : "not ", ++*point, which, corpus, prop_name(which), t->held[which],
	       t->failed[which], t->skipped[which]);
	return ok;
}

/* How often each word of the cases' mix came up: what the corpus holds. */
struct mix_counts {
	char words[48][24];
	size_t counts[48], n;
};

static void count_mix(struct mix_counts *m, const char *mix)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", mix);
	for (char *save = NULL, *w = strtok_r(buf, " :", &save); w;
	     w = strtok_r(NULL, " :", &save)) {
		size_t i = 0;
		while (i < m->n && strcmp(m->words[i], w) != 0)
			i++;
		if (i == m->n && m->n < 48)
			snprintf(m->words[m->n++], sizeof(m->words[0]), "%s", w);
		if (i < m->n)
			m->counts[i]++;
	}
}

static void print_mix(const struct mix_counts *m)
{
	printf("# corpus:");
	for (size_t i = 0; i < m->n; i++)
		printf(" %s %zu%s", m->words[i], m->counts[i], i + 1 < m->n ? "," : "\n");
}

int main(void)
{
	unsigned long count = env_number("PROP_COUNT", 3000);
	uint64_t seed = env_number("PROP_SEED", 1);
	struct tally generated = { 0 }, fixed = { 0 };
	size_t shown[NPROPS + 1] = { 0 };
	struct mix_counts mix = { .n = 0 };
	int point = 0;
	clock_t start = clock();

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%zu\n", 2 + 2 * NPROPS + nknown_cases);
	int wrong = model_check();
	printf("%sok %d - the model reads LXC, Proxmox and ownership.md as documented\n",
	       wrong ? "not " : "", ++point);
	int misjudged = props_check();
	printf("%sok %d - the invariants hold on outputs written from ownership.md and catch "
	       "issue 14's bugs\n",
	       misjudged ? "not " : "", ++point);
	wrong += misjudged;
	printf("# %lu generated configs from seed %" PRIu64 "\n", count, seed);
	for (unsigned long i = 0; i < count; i++) {
		struct gen_case c;
		gen_case(seed + i, &c);
		struct prop_input in = { c.mix, c.seed, c.host, c.format, c.input, &c.req };
		check_all(&in, &generated, shown);
		count_mix(&mix, c.mix);
		count_mix(&mix, c.host->name);
		gen_case_free(&c);
	}
	if (count)
		print_mix(&mix);
	const char *dir = getenv("PROP_FIXTURES");
	size_t nfixed = fixtures(dir, &fixed, shown);
	printf("# %zu fixture cases from %s\n", nfixed, dir ? dir : "(PROP_FIXTURES unset)");
	bool ok = wrong == 0;
	ok &= known(&point, shown);
	for (int which = 1; which <= NPROPS; which++)
		ok &= summary(&point, which, "generated configs", &generated,
			      count ? NULL : "PROP_COUNT=0");
	for (int which = 1; which <= NPROPS; which++)
		ok &= summary(&point, which, "fixtures", &fixed,
			      dir ? NULL : "PROP_FIXTURES unset");
	printf("# %.1f s of CPU\n", (double)(clock() - start) / CLOCKS_PER_SEC);
	ops_cleanup();
	return ok ? 0 : 1;
}
