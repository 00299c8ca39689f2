/* Kernel text parsers (see procfs.h). Every input is untrusted: bounded
 * copies, no assumption of a final newline or of NUL termination. */
#include "inventory/procfs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/version.h"
#include "util/xalloc.h"

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static void copy_field(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	/* Kernel text is ASCII: anything else is garbage; keep output printable. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] >= 0x7f)
			dst[i] = '?';
}

bool parse_uint(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	trim(&s, &len);
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

bool parse_name_number(const char *s, unsigned max, unsigned *out)
{
	size_t len = strlen(s);
	if (len == 0 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return parse_uint(s, len, max, out);
}

bool sysfs_parse_hex(const char *buf, size_t len, unsigned *out)
{
	unsigned long v = 0;
	trim(&buf, &len);
	if (len < 3 || buf[0] != '0' || (buf[1] != 'x' && buf[1] != 'X') || len > 10)
		return false;
	for (size_t i = 2; i < len; i++) {
		int c = tolower((unsigned char)buf[i]);
		if (!isxdigit(c))
			return false;
		v = v * 16 + (unsigned long)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	*out = (unsigned)v;
	return true;
}

bool kv_next(const char *buf, size_t len, size_t *pos, struct kv *out)
{
	while (*pos < len) {
		const char *line = buf + *pos;
		const char *nl = memchr(line, '\n', len - *pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - *pos;
		*pos += linelen + (nl ? 1 : 0);

		const char *colon = memchr(line, ':', linelen);
		if (!colon)
			continue;
		out->key = line;
		out->keylen = (size_t)(colon - line);
		out->value = colon + 1;
		out->valuelen = linelen - out->keylen - 1;
		trim(&out->key, &out->keylen);
		trim(&out->value, &out->valuelen);
		if (out->keylen == 0)
			continue;
		return true;
	}
	return false;
}

bool kv_is(const struct kv *kv, const char *key)
{
	return kv->keylen == strlen(key) && memcmp(kv->key, key, kv->keylen) == 0;
}

bool proc_devices_parse(const char *buf, size_t len, struct proc_devices *out)
{
	size_t pos = 0;
	bool in_char = false, seen = false;

	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		pos += linelen + (nl ? 1 : 0);
		trim(&line, &linelen);

		if (linelen == 0) {
			in_char = false;
			continue;
		}
		if (linelen == 18 && memcmp(line, "Character devices:", 18) == 0) {
			in_char = seen = true;
			continue;
		}
		if (line[linelen - 1] == ':') {
			in_char = false; /* "Block devices:" */
			continue;
		}
		if (!in_char)
			continue;

		size_t i = 0;
		while (i < linelen && isdigit((unsigned char)line[i]))
			i++;
		unsigned major;
		if (i == 0 || i == linelen || !isspace((unsigned char)line[i]) ||
		    !parse_uint(line, i, 4095, &major))
			continue;
		const char *name = line + i;
		size_t namelen = linelen - i;
		trim(&name, &namelen);
		if (namelen == 0 || namelen >= sizeof(out->majors[0].name))
			continue;
		xgrow(&out->majors, &out->cap, out->nmajors + 1, sizeof(*out->majors));
		struct proc_major *m = &out->majors[out->nmajors++];
		m->major = major;
		copy_field(m->name, sizeof(m->name), name, namelen);
	}
	return seen;
}

int proc_devices_major(const struct proc_devices *devs, const char *name)
{
	for (size_t i = 0; i < devs->nmajors; i++)
		if (strcmp(devs->majors[i].name, name) == 0)
			return (int)devs->majors[i].major;
	return -1;
}

void proc_devices_free(struct proc_devices *devs)
{
	free(devs->majors);
	devs->majors = NULL;
	devs->nmajors = devs->cap = 0;
}

bool nv_version_parse(const char *buf, size_t len, struct nv_version_info *out)
{
	static const char tag[] = "NVRM version:";
	size_t pos = 0;

	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		pos += linelen + (nl ? 1 : 0);
		if (linelen < sizeof(tag) - 1 || memcmp(line, tag, sizeof(tag) - 1) != 0)
			continue;

		const char *p = line + sizeof(tag) - 1, *end = line + linelen;
		/* Both formats put the version after "Kernel Module" (nv-procfs.c):
		 * "... x86_64 Kernel Module  550.54.14  Thu ..." and
		 * "... Open Kernel Module for x86_64  590.48.01  Release Build ...". */
		const char *module = NULL;
		for (const char *q = p; q + 13 <= end; q++)
			if (memcmp(q, "Kernel Module", 13) == 0) {
				module = q;
				break;
			}
		if (!module)
			return false;
		out->kind = (module - p >= 5 && memcmp(module - 5, "Open ", 5) == 0)
				    ? NV_KIND_OPEN
				    : NV_KIND_PROPRIETARY;
		for (const char *q = module + 13; q < end;) {
			while (q < end && isspace((unsigned char)*q))
				q++;
			const char *tok = q;
			while (q < end && !isspace((unsigned char)*q))
				q++;
			size_t toklen = (size_t)(q - tok);
			struct lxgpu_version parsed;
			if (toklen < sizeof(out->version) && version_parse(tok, toklen, &parsed)) {
				copy_field(out->version, sizeof(out->version), tok, toklen);
				return true;
			}
		}
		return false;
	}
	return false;
}

static bool valid_uuid(const char *s, size_t len)
{
	/* GPU-14d254be-3087-0aa8-a7aa-03759525cf2f */
	if (len != 40 || memcmp(s, "GPU-", 4) != 0)
		return false;
	for (size_t i = 4; i < len; i++) {
		bool dash = i == 12 || i == 17 || i == 22 || i == 27;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool nv_information_parse(const char *buf, size_t len, struct nv_information *out)
{
	struct kv kv;
	size_t pos = 0;
	bool have_uuid = false, have_pci = false;

	memset(out, 0, sizeof(*out));
	out->minor = -1;
	out->excluded = -1;
	while (kv_next(buf, len, &pos, &kv)) {
		if (kv_is(&kv, "Model")) {
			copy_field(out->model, sizeof(out->model), kv.value, kv.valuelen);
		} else if (kv_is(&kv, "GPU UUID")) {
			if (valid_uuid(kv.value, kv.valuelen)) {
				copy_field(out->uuid, sizeof(out->uuid), kv.value, kv.valuelen);
				have_uuid = true;
			}
		} else if (kv_is(&kv, "Bus Location")) {
			have_pci = pci_addr_parse(kv.value, kv.valuelen, out->pci);
		} else if (kv_is(&kv, "Device Minor")) {
			unsigned minor;
			/* 255 is nvidiactl and 254 nvidia-modeset (nvidia-modprobe-utils.c) */
			if (parse_uint(kv.value, kv.valuelen, 253, &minor))
				out->minor = (int)minor;
		} else if (kv_is(&kv, "GPU Excluded") || kv_is(&kv, "Blacklisted")) {
			if (kv.valuelen == 3 && memcmp(kv.value, "Yes", 3) == 0)
				out->excluded = 1;
			else if (kv.valuelen == 2 && memcmp(kv.value, "No", 2) == 0)
				out->excluded = 0;
		}
	}
	return have_uuid && have_pci;
}

static bool hex_field(const char *s, size_t len, unsigned maxdigits, unsigned *out)
{
	unsigned v = 0;
	if (len == 0 || len > maxdigits)
		return false;
	for (size_t i = 0; i < len; i++) {
		int c = tolower((unsigned char)s[i]);
		if (!isxdigit(c))
			return false;
		v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	*out = v;
	return true;
}

bool pci_addr_parse(const char *s, size_t len, char out[32])
{
	unsigned domain = 0, bus, dev, fn;
	trim(&s, &len);
	const char *dot = memchr(s, '.', len);
	if (!dot || (size_t)(dot - s) + 2 != len)
		return false;
	const char *c2 = NULL, *c1 = NULL;
	for (const char *q = s; q < dot; q++)
		if (*q == ':') {
			c1 = c2;
			c2 = q;
		}
	if (!c2)
		return false;
	const char *busp = c1 ? c1 + 1 : s;
	if (c1 && !hex_field(s, (size_t)(c1 - s), 8, &domain))
		return false;
	if (!hex_field(busp, (size_t)(c2 - busp), 2, &bus) ||
	    !hex_field(c2 + 1, (size_t)(dot - c2 - 1), 2, &dev) || dev > 0x1f ||
	    !hex_field(dot + 1, 1, 1, &fn) || fn > 7)
		return false;
	snprintf(out, 32, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
	return true;
}

int pci_addr_cmp(const char *a, const char *b)
{
	unsigned long long ka = 0, kb = 0;
	unsigned d, bus, dev, fn;
	if (sscanf(a, "%x:%x:%x.%x", &d, &bus, &dev, &fn) == 4)
		ka = ((unsigned long long)d << 24) | (bus << 16) | (dev << 8) | fn;
	if (sscanf(b, "%x:%x:%x.%x", &d, &bus, &dev, &fn) == 4)
		kb = ((unsigned long long)d << 24) | (bus << 16) | (dev << 8) | fn;
	return ka < kb ? -1 : ka > kb;
}

bool sysfs_parse_dev(const char *buf, size_t len, unsigned *major, unsigned *minor)
{
	trim(&buf, &len);
	const char *colon = memchr(buf, ':', len);
	if (!colon)
		return false;
	size_t mlen = (size_t)(colon - buf), rest = len - mlen - 1;
	if (mlen == 0 || rest == 0 || !isdigit((unsigned char)buf[0]) ||
	    !isdigit((unsigned char)buf[mlen - 1]) || !isdigit((unsigned char)colon[1]))
		return false;
	/* Linux majors fit 12 bits and minors 20 (MINORBITS). */
	return parse_uint(buf, mlen, 4095, major) &&
	       parse_uint(colon + 1, rest, (1u << 20) - 1, minor);
}

bool nv_cap_parse(const char *buf, size_t len, unsigned *minor, unsigned *mode)
{
	struct kv kv;
	size_t pos = 0;
	bool have_minor = false;

	*mode = 0;
	while (kv_next(buf, len, &pos, &kv)) {
		if (kv_is(&kv, "DeviceFileMinor"))
			have_minor = parse_uint(kv.value, kv.valuelen, (1u << 20) - 1, minor);
		else if (kv_is(&kv, "DeviceFileMode") &&
			 !parse_uint(kv.value, kv.valuelen, 07777, mode))
			*mode = 0;
	}
	return have_minor;
}

bool mig_minor_next(const char *buf, size_t len, size_t *pos, char name[64], unsigned *minor)
{
	while (*pos < len) {
		const char *line = buf + *pos;
		const char *nl = memchr(line, '\n', len - *pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - *pos;
		*pos += linelen + (nl ? 1 : 0);
		trim(&line, &linelen);
		const char *sp = memchr(line, ' ', linelen);
		if (!sp)
			continue;
		size_t namelen = (size_t)(sp - line);
		if (namelen == 0 || namelen >= 64 ||
		    !parse_uint(sp + 1, linelen - namelen - 1, (1u << 20) - 1, minor))
			continue;
		copy_field(name, 64, line, namelen);
		return true;
	}
	return false;
}

/* Next whitespace-separated word of a line; false at its end. */
static bool next_word(const char **p, const char *end, const char **word, size_t *wlen)
{
	while (*p < end && isspace((unsigned char)**p))
		(*p)++;
	if (*p >= end)
		return false;
	*word = *p;
	while (*p < end && !isspace((unsigned char)**p))
		(*p)++;
	*wlen = (size_t)(*p - *word);
	return true;
}

static bool word_is(const char *w, size_t wlen, const char *s)
{
	return wlen == strlen(s) && memcmp(w, s, wlen) == 0;
}

/* modprobe treats '-' and '_' in module names as the same character. */
static bool module_is(const char *w, size_t wlen, const char *module)
{
	if (wlen != strlen(module))
		return false;
	for (size_t i = 0; i < wlen; i++) {
		char a = w[i] == '-' ? '_' : w[i], b = module[i] == '-' ? '_' : module[i];
		if (a != b)
			return false;
	}
	return true;
}

bool modprobe_conf_blacklists(const char *buf, size_t len, const char *module)
{
	size_t pos = 0;
	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		pos += linelen + (nl ? 1 : 0);

		const char *p = line, *end = line + linelen, *w, *m, *cmd;
		size_t wlen, mlen, cmdlen;
		if (!next_word(&p, end, &w, &wlen) || w[0] == '#')
			continue;
		if (!next_word(&p, end, &m, &mlen) || !module_is(m, mlen, module))
			continue;
		if (word_is(w, wlen, "blacklist"))
			return true;
		/* "install nouveau /bin/false": loading it runs a command instead. */
		if (word_is(w, wlen, "install") && next_word(&p, end, &cmd, &cmdlen) &&
		    (word_is(cmd, cmdlen, "/bin/false") || word_is(cmd, cmdlen, "/bin/true") ||
		     word_is(cmd, cmdlen, "/usr/bin/false") ||
		     word_is(cmd, cmdlen, "/usr/bin/true")))
			return true;
	}
	return false;
}

bool cmdline_blacklists(const char *buf, size_t len, const char *module)
{
	static const char *const keys[] = { "modprobe.blacklist=", "module_blacklist=",
					    "rd.driver.blacklist=" };
	const char *p = buf, *end = buf + len, *w;
	size_t wlen;

	while (next_word(&p, end, &w, &wlen)) {
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t klen = strlen(keys[k]);
			if (wlen <= klen || memcmp(w, keys[k], klen) != 0)
				continue;
			const char *item = w + klen, *wend = w + wlen;
			while (item < wend) {
				const char *comma = memchr(item, ',', (size_t)(wend - item));
				size_t ilen =
					comma ? (size_t)(comma - item) : (size_t)(wend - item);
				if (module_is(item, ilen, module))
					return true;
				item += ilen + 1;
			}
		}
	}
	return false;
}
