/* devlines: the device lines of a config (see devlines.h). */
#include "config/devlines.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool dl_dev_key(const char *k)
{
	/* "dev$i" for i in 0..255 (pve-container's confdesc): no leading zero,
	 * Proxmox reads "dev05" as no device */
	if (strncmp(k, "dev", 3) != 0 || !isdigit((unsigned char)k[3]) || (k[3] == '0' && k[4]))
		return false;
	size_t n = strspn(&k[3], "0123456789");
	return n <= 3 && k[3 + n] == '\0' && atoi(&k[3]) <= 255;
}

bool dl_gpu_path(const char *p)
{
	return starts(p, "/dev/nvidia") || strcmp(p, "/dev/dri") == 0 || starts(p, "/dev/dri/") ||
	       strcmp(p, "/dev/kfd") == 0;
}

/* A number of a rule: digits or '*' (-1). */
static const char *rule_number(const char *p, long max, int *out)
{
	if (*p == '*') {
		*out = -1;
		return p + 1;
	}
	char *end;
	if (!isdigit((unsigned char)*p))
		return NULL;
	long n = strtol(p, &end, 10);
	if (n > max)
		return NULL;
	*out = (int)n;
	return end;
}

/* As LXC's device_cgroup_rule_parse reads a rule (LXC refuses to start on
 * any other): "a", or a type, one blank, MAJOR:MINOR, one blank, then up to
 * three of r, w and m (nothing more is read). */
bool dl_parse_rule(const char *v, char *type, int *major, int *minor)
{
	const char *p = v;
	*major = *minor = -1;
	if (strcmp(v, "a") == 0) {
		*type = 'a';
		return true;
	}
	if (*p != 'c' && *p != 'b' && *p != 'a')
		return false;
	*type = *p++;
	if (!isspace((unsigned char)*p++))
		return false;
	/* majors are 12 bits, minors 20 (linux/kdev_t.h) */
	if (!(p = rule_number(p, 4095, major)) || *p++ != ':' ||
	    !(p = rule_number(p, (1L << 20) - 1, minor)) || !isspace((unsigned char)*p++))
		return false;
	for (int count = 0; count < 3 && *p && *p != '\n'; count++, p++)
		if (*p != 'r' && *p != 'w' && *p != 'm')
			return false;
	return true;
}

static struct dl_entry *add(struct dl_scan *out, size_t line, enum dl_kind kind)
{
	xgrow(&out->entries, &out->cap, out->n + 1, sizeof(*out->entries));
	struct dl_entry *e = &out->entries[out->n++];
	memset(e, 0, sizeof(*e));
	e->line = line;
	e->kind = kind;
	e->major = e->minor = -1;
	e->gid = -1;
	e->mode = -1;
	e->dev_index = -1;
	return e;
}

/* "/dev//dri/" -> "/dev/dri"; "dev/nvidia0" and "/dev/nvidia0" -> "dev/nvidia0"
 * when relative: the forms LXC and Proxmox read as the same place. */
static char *normalize(const char *p, bool relative)
{
	char *out = xmalloc(strlen(p) + 2), *o = out;
	/* a host path that is not absolute stays so: "dev/nvidia0" as a mount's
	 * source is no /dev node */
	if (!relative && p[0] == '/')
		*o++ = '/';
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		if (o > out && o[-1] != '/')
			*o++ = '/';
		while (*s && *s != '/')
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* An fstab field with its octal escapes ("\040" for a space) read. Fields
 * end at a space or a tab only, as glibc's getmntent_r (which LXC reads its
 * mount entries with) splits them: "/\vdev/x dev/x" mounts onto dev/x. */
static char *fstab_field(const char **s)
{
	const char *p = *s + strspn(*s, " \t");
	const char *start = p;
	p += strcspn(p, " \t");
	char *out = xstrndup(start, (size_t)(p - start)), *o = out;
	for (const char *q = out; *q; q++) {
		if (q[0] == '\\' && q[1] >= '0' && q[1] <= '3' && q[2] >= '0' && q[2] <= '7' &&
		    q[3] >= '0' && q[3] <= '7') {
			*o++ = (char)((q[1] - '0') * 64 + (q[2] - '0') * 8 + (q[3] - '0'));
			q += 3;
		} else {
			*o++ = *q;
		}
	}
	*o = '\0';
	*s = p;
	return out;
}

/* "/run/lxgpu/<name>/dev/dri/renderD128" -> "/dev/dri/renderD128"; NULL
 * for any other source. */
static const char *hook_node(const char *src)
{
	size_t n = strlen(DL_HOOK_NODES);
	if (strncmp(src, DL_HOOK_NODES "/", n + 1) != 0)
		return NULL;
	const char *name = src + n + 1, *rest = strchr(name, '/');
	return rest && rest > name ? rest : NULL;
}

static bool known_dir(const char *p)
{
	return strcmp(p, "/dev/dri") == 0 || strcmp(p, "/dev/nvidia-caps") == 0 ||
	       strcmp(p, "/dev/dri/by-path") == 0 || strcmp(p, "/dev") == 0;
}

/* Whether a comma-separated option list holds this option, whole. */
static bool has_option(const char *opts, const char *option)
{
	size_t n = strlen(option);
	for (const char *p = opts; (p = strstr(p, option)); p += n)
		if ((p == opts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static void scan_mount(struct dl_scan *out, size_t line, const char *v)
{
	const char *p = v;
	_cleanup_free_ char *src = fstab_field(&p);
	_cleanup_free_ char *dst = fstab_field(&p);
	free(fstab_field(&p)); /* the type: "none" for a bind mount */
	_cleanup_free_ char *opts = fstab_field(&p);
	if (!*src || !*dst)
		return;
	struct dl_entry *e = add(out, line, DL_MOUNT);
	const char *node = hook_node(src);
	e->via_hook = node != NULL;
	e->path = normalize(node ? node : src, false);
	e->target = normalize(dst, true);
	/* LXC's create=dir makes a directory to mount on (lxc.container.conf(5)) */
	e->dir = has_option(opts, "create=dir") || known_dir(e->path);
}

/* A devN value: "[path=]/dev/x[,gid=N][,mode=0NNN][,uid=N][,deny-write=1]". */
static void scan_dev(struct dl_scan *out, size_t line, const char *k, const char *v)
{
	_cleanup_free_ char *copy = xstrdup(v);
	char *save = NULL, *path = NULL;
	long gid = -1;
	int mode = -1;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || starts(tok, "path=")) {
			free(path);
			path = xstrdup(eq ? eq + 1 : tok);
		} else if (starts(tok, "gid=")) {
			gid = strtol(eq + 1, NULL, 10);
		} else if (starts(tok, "mode=")) {
			mode = (int)strtol(eq + 1, NULL, 8);
		}
	}
	if (!path)
		return;
	struct dl_entry *e = add(out, line, DL_DEV);
	e->path = normalize(path, false);
	e->target = normalize(path, true);
	e->dev_index = atoi(k + 3);
	e->gid = gid;
	e->mode = mode;
	free(path);
}

static const struct {
	const char *prefix;
	enum dl_record rec;
} records[] = {
	{ "LXGPU_DEVICES=", DL_REC_DEVICES }, { "LXGPU_REQUEST=", DL_REC_REQUEST },
	{ "LXGPU_WROTE=", DL_REC_WROTE },     { "LXGPU_RULES=", DL_REC_RULES },
	{ "LXGPU_GIDS=", DL_REC_GIDS },
};

static void scan_env(struct dl_scan *out, size_t line, const char *v)
{
	for (size_t r = 0; r < ARRAY_SIZE(records); r++)
		if (starts(v, records[r].prefix)) {
			struct dl_entry *e = add(out, line, DL_RECORD);
			e->rec = records[r].rec;
			e->value = xstrdup(v + strlen(records[r].prefix));
			return;
		}
	if (starts(v, "NVIDIA_VISIBLE_DEVICES=") || starts(v, "NVIDIA_DRIVER_CAPABILITIES="))
		add(out, line, DL_OTHER)->value = xstrdup(v);
}

/* A hook's command is lxgpu: "/usr/bin/lxgpu [--sysroot DIR] hook ...". */
static bool runs_lxgpu(const char *v)
{
	size_t n = strcspn(v, " \t");
	const char *base = v + n;
	while (base > v && base[-1] != '/')
		base--;
	return (size_t)(v + n - base) == 5 && strncmp(base, "lxgpu", 5) == 0;
}

/* lxgpu's start-host hook as a Proxmox config gives it: lxc.include of
 * ".../lxgpu/start-host.conf" (pve-container drops lxc.hook.start-host). */
static bool lxgpu_include(const char *v)
{
	static const char tail[] = "/lxgpu/start-host.conf";
	size_t n = strlen(v), t = sizeof(tail) - 1;
	return v[0] == '/' && n > t && strcmp(v + n - t, tail) == 0;
}

/* lxc.cgroup2.devices.allow|deny, and the cgroup v1 keys (legacy). */
static bool rule_key(const char *k, bool *legacy, bool *deny)
{
	static const char *const keys[] = { "lxc.cgroup2.devices.allow", "lxc.cgroup2.devices.deny",
					    "lxc.cgroup.devices.allow", "lxc.cgroup.devices.deny" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(k, keys[i]) == 0) {
			*legacy = i >= 2;
			*deny = i % 2 == 1;
			return true;
		}
	return false;
}

void dl_scan(const struct conf *c, struct dl_scan *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *l = &c->lines[i];
		if (l->kind != CONF_KEY)
			continue;
		const char *k = l->key, *v = l->value;
		bool legacy = false, deny = false;
		if (!starts(k, "lxc.")) {
			/* Proxmox's own keys: only devN passes a device */
			if (c->format == CONF_PVE && dl_dev_key(k))
				scan_dev(out, i, k, v);
			continue;
		}
		/* LXC: an empty value clears the rules of its key before it */
		if (!v[0] &&
		    (strcmp(k, "lxc.cgroup2") == 0 || (rule_key(k, &legacy, &deny) && !legacy)))
			out->reset_end = i + 1;
		if (rule_key(k, &legacy, &deny)) {
			char type;
			int major, minor;
			if (!dl_parse_rule(v, &type, &major, &minor))
				continue;
			if (type == 'a' && !legacy)
				out->reset_end = i + 1;
			struct dl_entry *e = add(out, i, DL_RULE);
			e->legacy = legacy;
			e->deny = deny;
			e->type = type;
			e->major = major;
			e->minor = minor;
		} else if (strcmp(k, "lxc.mount.entry") == 0) {
			scan_mount(out, i, v);
		} else if (strcmp(k, "lxc.environment") == 0 ||
			   strcmp(k, "lxc.environment.runtime") == 0) {
			scan_env(out, i, v);
		} else if (strcmp(k, "lxc.include") == 0 && lxgpu_include(v)) {
			add(out, i, DL_HOOK)->value = xstrdup(v);
		} else if (starts(k, "lxc.hook.")) {
			if (runs_lxgpu(v))
				add(out, i, DL_HOOK)->value = xstrdup(v);
			else if (strstr(v, "hooks/nvidia") || strstr(v, "nvidia-modprobe"))
				add(out, i, DL_OTHER)->value = xstrdup(v);
		}
	}
}

bool dl_text_may_scan(const char *text, size_t len)
{
	if (memchr(text, '\0', len) || memmem(text, len, "lxc.", 4))
		return true;
	const char *end = text + len;
	for (const char *p = text; (p = memmem(p, (size_t)(end - p), "dev", 3)); p += 3)
		if (end - p > 3 && isdigit((unsigned char)p[3]))
			return true;
	return false;
}

void dl_free(struct dl_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->entries[i].path);
		free(s->entries[i].target);
		free(s->entries[i].value);
	}
	free(s->entries);
	memset(s, 0, sizeof(*s));
}

/* The kernel hands out dynamic character majors from 254 down to 234, then
 * from 511 down to 384 (CHRDEV_MAJOR_DYN_END, CHRDEV_MAJOR_DYN_EXT_START and
 * _END in include/linux/fs.h). Only there does an unregistered major mean a
 * leftover: a fixed one (188, ttyUSB) waits for its module. */
static bool dynamic_major(int major)
{
	return (major >= 234 && major <= 254) || (major >= 384 && major <= 511);
}

bool dl_rule_dead(const struct dl_entry *x, const unsigned *live, size_t nlive)
{
	if (x->kind != DL_RULE || x->deny || x->type != 'c' || !dynamic_major(x->major))
		return false;
	for (size_t i = 0; i < nlive; i++)
		if (live[i] == (unsigned)x->major)
			return false;
	return true;
}

const char *dl_hook_name(const struct conf *c, const struct dl_entry *e)
{
	if (strcmp(c->lines[e->line].key, "lxc.include") == 0)
		return "start-host"; /* lxgpu's include names that hook */
	return c->lines[e->line].key + strlen("lxc.hook.");
}

bool dl_has_hook(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->main_end; i++) {
		const struct conf_line *l = &c->lines[i];
		if (l->kind == CONF_KEY && starts(l->key, "lxc.hook.") &&
		    strcmp(l->key + strlen("lxc.hook."), name) == 0 && runs_lxgpu(l->value))
			return true;
	}
	return false;
}

bool dl_duplicate_dev(const struct conf *c, size_t *first, size_t *second)
{
	for (size_t i = 0; i < c->main_end; i++) {
		if (c->lines[i].kind != CONF_KEY || !dl_dev_key(c->lines[i].key))
			continue;
		for (size_t k = i + 1; k < c->main_end; k++)
			if (c->lines[k].kind == CONF_KEY &&
			    strcmp(c->lines[k].key, c->lines[i].key) == 0) {
				*first = i;
				*second = k;
				return true;
			}
	}
	return false;
}

void dl_used_dev_indices(const struct conf *c, const bool *removed, bool used[256])
{
	size_t pending_end = c->pending;
	if (c->pending < c->nlines)
		for (pending_end = c->pending + 1; pending_end < c->nlines; pending_end++)
			if (c->lines[pending_end].kind == CONF_SECTION)
				break;
	memset(used, 0, 256 * sizeof(bool));
	for (size_t i = 0; i < c->nlines; i++) {
		const struct conf_line *l = &c->lines[i];
		bool pending = i > c->pending && i < pending_end;
		if ((i >= c->main_end && !pending) || l->kind != CONF_KEY ||
		    (i < c->main_end && removed && removed[i]))
			continue;
		if (dl_dev_key(l->key)) {
			int n = atoi(l->key + 3);
			if (n >= 0 && n < 256)
				used[n] = true;
		} else if (pending && strcmp(l->key, "delete") == 0) {
			/* "delete: dev0,timezone"; ',' ';' or ' ' separate, '!' forces */
			_cleanup_free_ char *copy = xstrdup(l->value);
			char *save = NULL;
			for (char *t = strtok_r(copy, ",; ", &save); t;
			     t = strtok_r(NULL, ",; ", &save)) {
				if (*t == '!')
					t++;
				if (dl_dev_key(t)) {
					int n = atoi(t + 3);
					if (n >= 0 && n < 256)
						used[n] = true;
				}
			}
		}
	}
}
