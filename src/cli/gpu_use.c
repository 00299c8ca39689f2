/* gpu_use: the setup lxgpu top and metrics share (gpu_use.h). */
#include "cli/gpu_use.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/output.h"
#include "container/container.h"

static int parse_interval(const char *s, double *out)
{
	char *end;
	if (!s) {
		*out = 1.0;
		return -1;
	}
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0.1 || v > 3600)
		return cli_error(EXIT_USAGE, "--interval %s: want seconds from 0.1 to 3600", s);
	*out = v;
	return -1;
}

int gpu_use_open(struct cli *cli, char *const *cts, size_t ncts, struct gpu_use *u)
{
	struct lxgpu_err err = { 0 };
	const char *why;
	int r;

	memset(u, 0, sizeof(*u));
	if ((r = parse_interval(cli->interval, &u->interval)) >= 0)
		return r;
	for (size_t i = 0; i < ncts; i++) {
		struct lxgpu_ct ct;
		if (!ct_arg_valid(cts[i], &why))
			return cli_error(EXIT_USAGE, "%s %s: %s", cli->cmd->name, cts[i], why);
		int r_open = ct_open(cli->rootfd, cts[i], cli->lxcpath, &ct, &err);
		ct_close(&ct);
		if (r_open < 0)
			return cli_fail(&err);
	}
	lxgpu_inventory_scan(cli->rootfd, &u->inv);
	if (top_open(cli->rootfd, &u->inv, cts, ncts, &u->sampler, &err) < 0) {
		lxgpu_wrap(&err, "%s", cli->cmd->name);
		lxgpu_inventory_free(&u->inv);
		return cli_fail(&err);
	}
	return -1;
}

int gpu_use_next(struct gpu_use *u, double seconds, struct top_snapshot *snap)
{
	struct lxgpu_err err = { 0 };
	if (seconds > 0) {
		struct timespec ts = { (time_t)seconds,
				       (long)((seconds - (double)(time_t)seconds) * 1e9) };
		nanosleep(&ts, NULL);
	}
	if (top_sample(u->sampler, snap, &err) < 0)
		return cli_fail(&err);
	return -1;
}

void gpu_use_close(struct gpu_use *u)
{
	top_close(u->sampler);
	lxgpu_inventory_free(&u->inv);
	memset(u, 0, sizeof(*u));
}
