/* compat: which CUDA toolkits and cuDNN releases a driver runs, and which
 * driver a toolkit needs. From NVIDIA's tables (CUDA compatibility guide, tables 2 and 3)
 * copies them: Table 3 (cuda_rows, each toolkit release's minimum driver),
 * Table 2 (minor-version compatibility of each major family), the branch
 * lifecycle, and the cuDNN support matrix. Pure.
 *
 * The rules, as NVIDIA states them:
 * - a driver runs every toolkit whose minimum driver it meets (and every
 *   older one: backward compatibility);
 * - within a major family, a driver at or above the family's floor also runs
 *   newer minor releases of that family (minor-version compatibility), less
 *   PTX JIT of code newer than the driver and the newest features;
 * - never across majors: a driver below a family's floor runs none of it. */
#ifndef LXGPU_COMPAT_H
#define LXGPU_COMPAT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/version.h"

enum compat_run {
	COMPAT_NATIVE,  /* the driver meets the toolkit's own minimum */
	COMPAT_MINOR,   /* through the family's minor-version compatibility */
	COMPAT_NO,      /* does not run */
	COMPAT_UNKNOWN, /* a release lxgpu's tables do not know */
};

/* Table 2: minimum driver for minor-version compatibility within a family. */
struct compat_family {
	unsigned major;    /* 13 for "13.x" */
	const char *floor; /* "580.65.06" */
};
const struct compat_family *compat_family_of(unsigned major);

/* A driver branch: "R580", long-term support until August 2028. */
struct compat_branch {
	unsigned major;
	const char *type; /* "LTSB", "PB" */
	const char *eol;  /* "Aug 2028" */
	const char *cuda; /* "13.x" */
};
/* NULL for a branch the lifecycle table does not list. */
const struct compat_branch *compat_branch_of(unsigned driver_major);
const char *compat_branch_type_name(const char *type);

/* The first release of toolkit major.minor (the lowest minimum driver of its
 * rows), or NULL when the table has no such toolkit. */
const struct cuda_row *compat_toolkit_row(unsigned major, unsigned minor);

/* Whether `driver` runs toolkit major.minor, and why, in one sentence. */
enum compat_run compat_toolkit(const struct lxgpu_version *driver, unsigned major, unsigned minor,
			       char *why, size_t size);

/* Whether `driver` runs cuDNN cudnn_major.cudnn_minor built for CUDA
 * cuda_major (0: unknown), and why. */
enum compat_run compat_cudnn(const struct lxgpu_version *driver, unsigned cudnn_major,
			     unsigned cudnn_minor, unsigned cuda_major, char *why, size_t size);

/* "native", "minor-version compatibility", "no", "unknown" */
const char *compat_run_name(enum compat_run r);

#endif
