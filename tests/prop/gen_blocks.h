/* gen_blocks: what admins paste into container configs, block by block,
 * for gen.c. Internal to tests/prop. */
#ifndef PROP_GEN_BLOCKS_H
#define PROP_GEN_BLOCKS_H

#include "gen.h"

struct lines {
	char **v;
	size_t n, cap;
};
void gen_line(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gen_lines_free(struct lines *l);

struct gen {
	struct rng *r;
	const struct test_host *h;
	bool pve, unprivileged;
	struct lines main;
	int next_dev;
	int record_gpu; /* the GPU a record block names, -1 */
	bool pending, snapshots;
};

/* An lxc.* line: Proxmox reads ':', '=', ' = ' alike (pve-container's parse_pct_config). */

struct block {
	const char *name;
	void (*emit)(struct gen *g);
	bool nvidia; /* lines in NVIDIA's domain */
};
extern const struct block gen_blocks[];
extern const size_t gen_nblocks;

#endif
