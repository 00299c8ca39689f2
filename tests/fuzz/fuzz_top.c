/* libFuzzer target for lxgpu top's parsers (src/top/parse.c): the first byte
 * picks the parser, the rest is the text (no NUL after it). Besides not
 * crashing, each result must keep its documented shape. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top/parse.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t len;
	char *text = fuzz_text(data, size, &len);

	switch (data[0] % 4) {
	case 0: {
		struct top_cgroup cg;
		bool found = top_cgroup_parse(text, len, &cg);
		/* a container has a name without '/'; the host's has none */
		check(found == (cg.ct[0] != '\0'));
		check(!strchr(cg.ct, '/') && strlen(cg.ct) < sizeof(cg.ct));
		check(found || !cg.nested[0]);
		break;
	}
	case 1: {
		int pids[8];
		size_t n = top_nspid_parse(text, len, pids, 8);
		check(n <= 8);
		for (size_t i = 0; i < n; i++)
			check(pids[i] > 0);
		break;
	}
	case 2: {
		char out[64];
		top_cmdline_text(text, len, out, sizeof(out));
		check(strlen(out) < sizeof(out));
		for (const char *p = out; *p; p++)
			check((unsigned char)*p >= 0x20 && *p != 0x7f);
		break;
	}
	default: {
		struct top_drm_fdinfo f, g;
		if (top_drm_fdinfo_parse(text, len, &f)) {
			check(f.driver[0] && f.nengines <= TOP_DRM_ENGINES);
			for (size_t i = 0; i < f.nengines; i++) {
				check(f.engines[i].name[0] && f.engines[i].capacity >= 1);
				top_engine_kind(f.engines[i].name);
			}
			/* the same text twice: no time went by, no share */
			check(top_drm_fdinfo_parse(text, len, &g));
			for (size_t i = 0; i < f.nengines; i++) {
				int p = top_engine_percent(&f.engines[i], &g.engines[i],
							   1000000000);
				check(p == -1 || p == 0);
			}
		}
		break;
	}
	}
	free(text);
	return 0;
}
