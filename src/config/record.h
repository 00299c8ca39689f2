/* record: lxgpu's record in a container config (docs/ownership.md): the
 * request it was attached with and what lxgpu's lines give, so that sync,
 * the start hook and check re-plan from the record alone and know lxgpu's
 * lines from hand-written ones. Pure text. */
#ifndef LXGPU_RECORD_H
#define LXGPU_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/devlines.h"
#include "util/err.h"

/* The version this lxgpu writes; 1 is lxgpu 0.1's LXGPU_DEVICES/RULES/GIDS. */
#define RECORD_VERSION 2

enum lxgpu_style { LXGPU_STYLE_AUTO, LXGPU_STYLE_RAW, LXGPU_STYLE_DEV };
enum rec_driver { REC_DRIVER_NONE, REC_DRIVER_BIND, REC_DRIVER_COPY, REC_DRIVER_INSTALL };

struct rec_rule {
	char type;        /* 'c' or 'b' */
	int major, minor; /* minor -1 for '*' */
};

struct lxgpu_record {
	int version;    /* 0: no record */
	char **devices; /* the selection: UUID or PCI address, "/GI/CI" for MIG */
	size_t ndevices;
	enum lxgpu_style style; /* RAW or DEV */
	bool wildcard, guard;
	long render_gid, video_gid; /* the container's own, -1 when not recorded */
	enum rec_driver driver;
	struct rec_rule *rules; /* the rules lxgpu's lines give */
	size_t nrules;
	char **nodes; /* the host paths lxgpu's mounts (raw) or devN (dev) pass */
	size_t nnodes;
	size_t *v1_lines; /* 0.1: its mounts and devN, by their shape (line indices) */
	size_t nv1_lines;
};

/* The record of c, from its scan. Fails on a record of a newer lxgpu or one
 * that cannot be read (a hand-edited LXGPU_REQUEST): lxgpu must not guess
 * which lines are its own. r holds nothing to free then. */
int record_read(const struct conf *c, const struct dl_scan *s, struct lxgpu_record *r,
		struct lxgpu_err *err);
void record_free(struct lxgpu_record *r);

/* Whether the rule, mount or devN line e of c is lxgpu's: spelled as lxgpu
 * writes one, and giving what the record says lxgpu's lines give. Record
 * and hook lines are always lxgpu's; other tools' never. */
bool record_owns(const struct lxgpu_record *r, const struct conf *c, const struct dl_entry *e);
bool record_has_rule(const struct lxgpu_record *r, char type, int major, int minor);

/* The values of the three lxc.environment lines of a record:
 * "LXGPU_DEVICES=…", "LXGPU_REQUEST=v2,…" and "LXGPU_WROTE=…". */
char *record_devices_value(const struct lxgpu_record *r);
char *record_request_value(const struct lxgpu_record *r);
char *record_wrote_value(const struct lxgpu_record *r);

/* Builders for plan: a rule and a node path that lxgpu's lines give. */
void record_add_rule(struct lxgpu_record *r, char type, int major, int minor);
void record_add_node(struct lxgpu_record *r, const char *path);
void record_add_device(struct lxgpu_record *r, const char *id);

const char *record_style_name(enum lxgpu_style s);
const char *record_driver_name(enum rec_driver d);

#endif
