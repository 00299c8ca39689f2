/* libFuzzer target for the parsers of what a container or host has installed
 * (src/util/dpkg.c, src/guest/cuda.c, src/check/doctor.c): the first byte picks the
 * parser; the rest is the text. Besides not crashing, outputs keep their shape. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/doctor.h"
#include "util/dpkg.h"
#include "guest/cuda.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* these parsers take NUL-terminated text, as the file readers give it */
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	unsigned a, b, c;
	struct guest_cuda_item it;

	switch (data[0] % 6) {
	case 0: {
		struct dpkg_pkg p;
		size_t n = 0;
		for (const char *cur = text; dpkg_next(&cur, &p); n++) {
			check(cur >= text && cur <= text + strlen(text));
			check(strlen(p.name) < sizeof(p.name));
			check(strlen(p.version) < sizeof(p.version));
			check(n <= size);
		}
		break;
	}
	case 1:
		if (guest_cuda_parse_version_file(text, &a, &b, &c) == 0)
			check(strstr(text, "version") || strstr(text, "Version"));
		break;
	case 2:
		if (guest_cuda_parse_cudnn_header(text, &a, &b, &c) == 0)
			check(strstr(text, "CUDNN_MAJOR") != NULL);
		break;
	case 3: {
		/* "name\tversion" */
		char *tab = strchr(text, '\t');
		if (tab) {
			*tab = '\0';
			if (guest_cuda_from_package(text, tab + 1, &it))
				check(strlen(it.source) < sizeof(it.source) &&
				      (it.kind == GUEST_TOOLKIT || it.kind == GUEST_CUDNN));
		}
		break;
	}
	case 4:
		if (guest_cuda_from_wheel(text, &it))
			check(strstr(text, ".dist-info") != NULL);
		break;
	case 5: {
		int r = doctor_toml_no_cgroups(text);
		check(r == 0 || r == 1);
		const struct doctor_explanation *e = doctor_explain(text);
		check(!e || (e->id && e->cause && e->fix));
		break;
	}
	}
	free(text);
	return 0;
}
