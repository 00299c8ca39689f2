/* NVIDIA driver versions ("580.159.04", "570.26") and the CUDA version a
 * driver supports, from NVIDIA's table (data/cuda-drivers.tsv). Pure. */
#ifndef LXGPU_VERSION_H
#define LXGPU_VERSION_H

#include <stdbool.h>
#include <stddef.h>

struct lxgpu_version {
	unsigned part[3]; /* missing parts are 0: 570.26 == 570.26.0 */
	unsigned nparts;
};

/* Accepts 2 or 3 dot-separated decimal parts, each at most 5 digits. */
bool version_parse(const char *s, size_t len, struct lxgpu_version *out);
int version_cmp(const struct lxgpu_version *a, const struct lxgpu_version *b);

struct cuda_row {
	unsigned major, minor; /* the CUDA version the toolkit reports */
	const char *toolkit;   /* as NVIDIA's table names it: "12.2", "11.4.0" */
	const char *release;   /* "GA", "U1", ...; "" where the table has none */
	const char *linux_min; /* minimum Linux x86_64 driver, as printed */
	struct lxgpu_version linux_version;
};

extern const struct cuda_row cuda_rows[];
extern const size_t cuda_nrows;

/* The newest CUDA version the driver supports (major, minor); false when the
 * driver is older than every row. *newer_than_table is set when the driver is
 * newer than the newest row's minimum of a later branch, i.e. it may support a
 * CUDA version the table does not know yet. */
bool cuda_for_driver(const struct lxgpu_version *driver, unsigned *major, unsigned *minor,
		     bool *newer_than_table);

#endif
