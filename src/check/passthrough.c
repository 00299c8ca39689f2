/* passthrough: a container's GPU lines on this host (see passthrough.h). */
#include "check/passthrough.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "plan/plan.h"
#include "util/xalloc.h"

/* 195 and 226 are fixed (devices.txt) even where no driver is loaded; the
 * others are the majors GPU drivers registered, or that GPU nodes carry. */
static bool is_gpu_major(const struct lxgpu_inventory *inv, int major)
{
	static const char *const names[] = { "drm", "kfd" };
	if (major == 195 || major == 226)
		return true;
	for (size_t i = 0; i < inv->majors.nmajors; i++)
		if (inv->majors.majors[i].major == (unsigned)major &&
		    strncmp(inv->majors.majors[i].name, "nvidia", 6) == 0)
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (proc_devices_major(&inv->majors, names[i]) == major)
			return true;
	for (size_t i = 0; i < inv->nnodes; i++)
		if (inv->nodes[i].type == 'c' && inv->nodes[i].major == (unsigned)major)
			return true;
	return false;
}

/* The majors LXC's common.conf allows every container (mem, tty, console and
 * ptmx, misc, pts): a wildcard of those is no GPU guide's leftover. */
static bool lxc_default_major(int major)
{
	return major == 1 || major == 4 || major == 5 || major == 10 || major == 136;
}

static const char *major_name(const struct lxgpu_inventory *inv, int major)
{
	for (size_t i = 0; i < inv->majors.nmajors; i++)
		if (inv->majors.majors[i].major == (unsigned)major)
			return inv->majors.majors[i].name;
	return NULL;
}

static bool gpu_target(const char *t)
{
	return strncmp(t, "dev/nvidia", 10) == 0 || strncmp(t, "dev/dri", 7) == 0 ||
	       strcmp(t, "dev/kfd") == 0;
}

/* Whether a hand-written line is worth a word in a GPU container. */
static bool gpu_line(const struct pt_config *pt, const struct lxgpu_inventory *inv,
		     const struct pt_entry *e)
{
	const struct dl_entry *d = e->d;
	if (e->dead || e->adoptable || e->wider)
		return true;
	if (d->kind == DL_RULE)
		return !d->deny && (d->type == 'a' || d->major < 0 ||
				    (d->type == 'c' && is_gpu_major(inv, d->major)) ||
				    /* a guide's wildcard for another device */
				    (d->minor < 0 && pt->record.version > 0));
	return dl_gpu_path(d->path) || gpu_target(d->target);
}

void pt_scan(const struct conf *c, const struct lxgpu_inventory *inv, struct pt_config *out)
{
	struct lxgpu_err err = { 0 };
	unsigned live[512];
	size_t nlive = 0;

	memset(out, 0, sizeof(*out));
	dl_scan(c, &out->scan);
	if (record_read(c, &out->scan, &out->record, &err) < 0)
		out->record_error = xstrdup(err.msg);
	plan_domain(inv, out->record.devices, out->record.ndevices, &out->domain);
	for (size_t i = 0; i < inv->majors.nmajors && nlive < ARRAY_SIZE(live); i++)
		live[nlive++] = inv->majors.majors[i].major;
	out->entries = xcalloc(out->scan.n + 1, sizeof(*out->entries));
	for (size_t i = 0; i < out->scan.n; i++) {
		const struct dl_entry *d = &out->scan.entries[i];
		struct pt_entry e = { .d = d, .owner = PT_HAND };
		if (d->kind == DL_OTHER)
			e.owner = PT_TOOL;
		else if (record_owns(&out->record, c, d))
			e.owner = PT_LXGPU;
		else {
			e.dead = inv->have_proc_devices && dl_rule_dead(d, live, nlive);
			e.adoptable = out->record.version > 0 && domain_covers(&out->domain, d);
			e.wider = out->record.version > 0 && !e.adoptable && d->kind == DL_RULE &&
				  !d->deny && d->minor < 0 &&
				  (d->major == 226 || d->major < 0 || d->type == 'a' ||
				   domain_has_major(&out->domain, (unsigned)d->major));
			if (!gpu_line(out, inv, &e))
				continue;
		}
		out->entries[out->n++] = e;
	}
}

void pt_free(struct pt_config *p)
{
	dl_free(&p->scan);
	record_free(&p->record);
	domain_free(&p->domain);
	free(p->entries);
	free(p->record_error);
	memset(p, 0, sizeof(*p));
}

bool pt_concerns(const struct pt_entry *e, const struct lxgpu_node *node)
{
	const struct dl_entry *d = e->d;
	switch (d->kind) {
	case DL_RULE:
		return !d->deny && node->type == 'c' && d->type == 'c' &&
		       d->major == (int)node->major &&
		       (d->minor < 0 || d->minor == (int)node->minor);
	case DL_MOUNT:
	case DL_DEV:
		if (strcmp(d->path, node->path) == 0)
			return true;
		size_t n = strlen(d->path);
		return d->dir && strncmp(node->path, d->path, n) == 0 && node->path[n] == '/';
	default:
		return false;
	}
}

bool pt_passes_nodes(const struct pt_config *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		if (pt->entries[i].d->kind == DL_MOUNT || pt->entries[i].d->kind == DL_DEV)
			return true;
	return false;
}

const struct dl_entry *pt_mount_hook(const struct conf *c, const struct pt_config *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		if (pt->entries[i].d->kind == DL_HOOK &&
		    strcmp(dl_hook_name(c, pt->entries[i].d), "mount") == 0)
			return pt->entries[i].d;
	return NULL;
}

const char *pt_owner_name(enum pt_owner o)
{
	return o == PT_LXGPU ? "lxgpu" : o == PT_HAND ? "hand-written" : "other tool";
}

const char *pt_kind_name(enum dl_kind k)
{
	static const char *const names[] = {
		[DL_RULE] = "rule",     [DL_MOUNT] = "mount", [DL_DEV] = "dev",
		[DL_RECORD] = "record", [DL_HOOK] = "hook",   [DL_OTHER] = "other tool"
	};
	return names[k];
}

static const struct lxgpu_node *node_at(const struct lxgpu_inventory *inv, const char *path)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (strcmp(inv->nodes[i].path, path) == 0)
			return &inv->nodes[i];
	return NULL;
}

static bool rule_allows(const struct pt_config *pt, const struct lxgpu_node *n)
{
	for (size_t i = 0; i < pt->scan.n; i++) {
		const struct pt_entry e = { .d = &pt->scan.entries[i] };
		if (e.d->kind == DL_RULE && !e.d->legacy && pt_concerns(&e, n))
			return true;
	}
	return false;
}

static bool group_only(const struct lxgpu_node *n)
{
	return (((n->mode >> 3) & 7) & ~(n->mode & 7)) != 0;
}

/* A rule: does it allow what it says on this host? */
static enum pt_status judge_rule(const struct pt_entry *e, const struct lxgpu_inventory *inv,
				 char *msg, size_t size)
{
	const struct dl_entry *d = e->d;
	if (d->legacy) {
		snprintf(msg, size,
			 "a cgroup v1 key: ignored on cgroup v2 hosts (Proxmox VE 8 and 9); "
			 "use lxc.cgroup2.devices.allow");
		return PT_BAD;
	}
	if (d->deny) {
		snprintf(msg, size, "denies what it names");
		return PT_OK;
	}
	if (d->type == 'a' || d->major < 0) {
		snprintf(msg, size, "allows every device%s", d->type == 'a' ? "" : " of that type");
		return PT_WARN;
	}
	if (e->dead) {
		snprintf(msg, size,
			 "major %d is registered by no driver: a leftover of another kernel or "
			 "driver",
			 d->major);
		return e->owner == PT_LXGPU ? PT_BAD : PT_WARN;
	}
	for (size_t k = 0; k < inv->nnodes; k++)
		if (pt_concerns(e, &inv->nodes[k])) {
			if (d->minor < 0)
				snprintf(msg, size,
					 "allows every minor of major %d (%s...): every GPU of "
					 "that driver",
					 d->major, inv->nodes[k].path);
			else
				snprintf(msg, size, "allows %s", inv->nodes[k].path);
			return d->minor < 0 ? PT_WARN : PT_OK;
		}
	const char *name = major_name(inv, d->major);
	if (name && !is_gpu_major(inv, d->major)) {
		snprintf(msg, size, "allows %s of major %d (%s): not a GPU",
			 d->minor < 0 ? "every minor" : "a node", d->major, name);
		return d->minor < 0 && !lxc_default_major(d->major) ? PT_WARN : PT_OK;
	}
	char minor[16] = "*";
	if (d->minor >= 0)
		snprintf(minor, sizeof(minor), "%d", d->minor);
	snprintf(msg, size, "allows %c %d:%s, which no node on this host has", d->type, d->major,
		 minor);
	return PT_WARN;
}

/* A mount or devN: does it pass what it says on this host? */
static enum pt_status judge_node(const struct pt_config *pt, const struct pt_entry *e,
				 const struct lxgpu_inventory *inv, int rootfd, bool privileged,
				 char *msg, size_t size)
{
	const struct dl_entry *d = e->d;
	struct lxgpu_err err = { 0 };
	struct stat st;

	if (d->dir) {
		if (strcmp(d->path, "/dev/nvidia-caps") == 0)
			snprintf(msg, size,
				 "passes every NVIDIA capability node: the MIG instances of "
				 "every GPU");
		else
			snprintf(msg, size,
				 "passes every node under %s: every GPU's, whatever numbers they "
				 "get at the next boot",
				 d->path);
		return PT_WARN;
	}
	const struct lxgpu_node *n = node_at(inv, d->path);
	if (!n) {
		if (fs_lstat_in(rootfd, d->path, &st, &err) < 0) {
			snprintf(msg, size, "%s does not exist on this host: %s", d->path,
				 d->kind == DL_DEV ? "Proxmox refuses to start the container"
						   : "the optional mount skips it");
			return PT_BAD;
		}
		snprintf(msg, size, "passes %s", d->path);
		return PT_OK;
	}
	if (n->type != 'c') {
		snprintf(msg, size, "%s is not a device node on this host", d->path);
		return PT_BAD;
	}
	if (d->kind == DL_MOUNT && privileged && !rule_allows(pt, n)) {
		snprintf(msg, size,
			 "no lxc.cgroup2.devices.allow line allows %s (%u:%u): opening it gives "
			 "EPERM",
			 d->path, n->major, n->minor);
		return PT_BAD;
	}
	if (d->via_hook) {
		bool hook = false;
		for (size_t k = 0; k < pt->n; k++)
			hook |= pt->entries[k].d->kind == DL_HOOK &&
				strstr(pt->entries[k].d->value, " hook");
		if (!hook) {
			snprintf(msg, size,
				 "passes %s from lxgpu's hook directory, but no lxc.hook.pre-start "
				 "line runs lxgpu's hook to make it",
				 d->path);
			return PT_BAD;
		}
		snprintf(msg, size,
			 "passes %s (%u:%u), made at every start by lxgpu's hook, owned by the "
			 "container's group",
			 d->path, n->major, n->minor);
		return PT_OK;
	}
	if (!privileged && group_only(n) && (d->kind == DL_MOUNT || d->gid < 0)) {
		snprintf(msg, size, "%s is %04o for group %u: in this unprivileged container %s",
			 d->path, n->mode, n->gid,
			 d->kind == DL_MOUNT ? "it shows as nobody:nogroup and no one can open it"
					     : "it needs gid= (the container's group)");
		return PT_BAD;
	}
	snprintf(msg, size, "passes %s (%u:%u)", d->path, n->major, n->minor);
	return PT_OK;
}

static enum pt_status judge_record(const struct pt_config *pt, const struct pt_entry *e,
				   const struct lxgpu_inventory *inv, char *msg, size_t size)
{
	if (pt->record_error) {
		snprintf(msg, size, "%s", pt->record_error);
		return PT_BAD;
	}
	switch (e->d->rec) {
	case DL_REC_DEVICES:
		for (size_t r = 0; r < pt->record.ndevices; r++)
			if (plan_selector_floating(pt->record.devices[r])) {
				/* resolved on the node where it starts: model= and any
				 * here too (map: needs the mappings: sync says) */
				if (strncmp(pt->record.devices[r], "map:", 4) != 0 &&
				    !plan_gpu_of(inv, pt->record.devices[r], NULL)) {
					snprintf(msg, size, "no GPU here for %s",
						 pt->record.devices[r]);
					return PT_BAD;
				}
			} else if (!lxgpu_gpu_find(inv, pt->record.devices[r])) {
				snprintf(msg, size, "GPU %s is not on this host",
					 pt->record.devices[r]);
				return PT_BAD;
			}
		snprintf(msg, size, "records the GPUs lxgpu attached");
		return PT_OK;
	case DL_REC_REQUEST:
		snprintf(msg, size, "records how lxgpu attached them (record version %d)",
			 pt->record.version);
		return PT_OK;
	case DL_REC_WROTE:
	case DL_REC_RULES:
		snprintf(msg, size, "records what lxgpu's lines give");
		return PT_OK;
	case DL_REC_GIDS:
		break;
	}
	snprintf(msg, size, "records the container's render and video groups");
	return PT_OK;
}

enum pt_status pt_judge(const struct pt_config *pt, size_t i, const struct lxgpu_inventory *inv,
			int rootfd, bool privileged, const char *ct_id, char *msg, size_t size,
			char *fix, size_t fixsize)
{
	const struct pt_entry *e = &pt->entries[i];
	enum pt_status st;

	fix[0] = '\0';
	switch (e->d->kind) {
	case DL_OTHER:
		snprintf(msg, size, "another tool's GPU line (left alone)");
		return PT_OK;
	case DL_HOOK:
		snprintf(msg, size, "lxgpu's start hook");
		return PT_OK;
	case DL_RECORD:
		st = judge_record(pt, e, inv, msg, size);
		if (st == PT_BAD)
			snprintf(fix, fixsize, "lxgpu attach %s", ct_id);
		return st;
	default:
		break;
	}
	if (e->owner == PT_HAND && e->adoptable) {
		snprintf(msg, size,
			 "hand-written, for the GPUs lxgpu attached: sync replaces it with "
			 "lxgpu's exact lines");
		snprintf(fix, fixsize, "lxgpu sync %s", ct_id);
		return PT_BAD;
	}
	st = e->d->kind == DL_RULE ? judge_rule(e, inv, msg, size)
				   : judge_node(pt, e, inv, rootfd, privileged, msg, size);
	if (e->owner == PT_HAND && e->dead) {
		snprintf(fix, fixsize, "lxgpu sync %s --prune", ct_id);
		return PT_WARN;
	}
	if (e->owner == PT_HAND && e->wider) {
		size_t used = strlen(msg);
		snprintf(msg + used, size - used,
			 "; wider than the GPUs lxgpu attached need (hand-written, left alone)");
		return PT_WARN;
	}
	/* sync mends lxgpu's lines; attach adopts hand-written ones where lxgpu
	 * has no record; other hand-written lines are the admin's */
	if (st == PT_BAD && (e->owner == PT_LXGPU || pt->record.version == 0))
		snprintf(fix, fixsize, "lxgpu %s %s", pt->record.version == 0 ? "attach" : "sync",
			 ct_id);
	return st;
}
