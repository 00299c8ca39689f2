/* model_parse: config lines as Proxmox's parse_pct_config and LXC's
 * parse_line read them (model.h). Proxmox: pve-container's parse_pct_config, first
 * matching row wins; LXC: confile.c parse_line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"

/* Perl's \s */
static bool perl_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static char *copy(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		abort();
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

static void set_key(struct model_line *l, const char *key, size_t keylen, const char *value,
		    size_t valuelen)
{
	l->kind = MODEL_KEY;
	l->key = copy(key, keylen);
	l->value = copy(value, valuelen);
}

/* Rows 2 and 3: "[pve:pending]" or "[name]", name [a-z][a-z0-9_-]+, any case,
 * then only \s. */
static bool pve_header(const char *s, size_t len)
{
	if (len < 3 || s[0] != '[')
		return false;
	const char *close = memchr(s, ']', len);
	if (!close)
		return false;
	for (const char *p = close + 1; p < s + len; p++)
		if (!perl_space(*p))
			return false;
	const char *name = s + 1;
	size_t n = (size_t)(close - name);
	if (n == 11 && strncasecmp(name, "pve:pending", 11) == 0)
		return true;
	if (n < 2 || !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

static void perl_trim(const char **s, size_t *len)
{
	while (*len && perl_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && perl_space((*s)[*len - 1]))
		(*len)--;
}

/* Row 5: ^(lxc\.[a-z0-9_\-\.]+)(:|\s*=)\s*(.*?)\s*$ */
static bool pve_lxc_key(struct model_line *l, const char *s, size_t len)
{
	size_t i = 4;
	if (len <= 4 || memcmp(s, "lxc.", 4) != 0)
		return false;
	while (i < len && (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			   s[i] == '_' || s[i] == '-' || s[i] == '.'))
		i++;
	size_t keylen = i;
	if (keylen == 4)
		return false;
	if (i < len && s[i] == ':') {
		i++;
	} else {
		while (i < len && perl_space(s[i]))
			i++;
		if (i == len || s[i] != '=')
			return false;
		i++;
	}
	const char *v = s + i;
	size_t vlen = len - i;
	perl_trim(&v, &vlen);
	set_key(l, s, keylen, v, vlen);
	return true;
}

/* Row 9: ^([a-z][a-z_]*\d*):\s*(.+?)\s*$ (rows 6 and 8 read the same keys). */
static bool pve_plain_key(struct model_line *l, const char *s, size_t len)
{
	size_t i = 0;
	if (len == 0 || !islower((unsigned char)s[0]))
		return false;
	while (i < len && (islower((unsigned char)s[i]) || s[i] == '_'))
		i++;
	while (i < len && isdigit((unsigned char)s[i]))
		i++;
	if (i == len || s[i] != ':' || i + 1 == len)
		return false;
	const char *v = s + i + 1;
	size_t vlen = len - i - 1;
	perl_trim(&v, &vlen);
	if (vlen == 0) { /* (.+?) takes the last \s */
		v = s + len - 1;
		vlen = 1;
	}
	set_key(l, s, i, v, vlen);
	return true;
}

static void pve_line(struct model_line *l, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && perl_space(s[i]))
		i++;
	if (i == len)
		l->kind = MODEL_BLANK;
	else if (pve_header(s, len))
		l->kind = MODEL_SECTION;
	else if (s[0] == '#')
		l->kind = MODEL_COMMENT;
	else if (!pve_lxc_key(l, s, len) && !pve_plain_key(l, s, len))
		l->kind = MODEL_UNPARSED;
}

/* LXC trims ' ' and '\t' on the left, and ' ', '\t', '\n' on the right. */
static void lxc_line(struct model_line *l, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\f'))
		i++;
	if (i == len) { /* lxc_is_line_empty */
		l->kind = MODEL_BLANK;
		return;
	}
	i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	s += i;
	len -= i;
	/* comments, and "martian" lines LXC skips */
	if (s[0] == '#' || len < 4 || memcmp(s, "lxc.", 4) != 0) {
		l->kind = MODEL_COMMENT;
		return;
	}
	const char *eq = memchr(s, '=', len);
	if (!eq) {
		l->kind = MODEL_UNPARSED;
		return;
	}
	size_t klen = (size_t)(eq - s);
	while (klen && (s[klen - 1] == ' ' || s[klen - 1] == '\t'))
		klen--;
	const char *v = eq + 1;
	size_t vlen = len - (size_t)(v - s);
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen > 1 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
		v++;
		vlen -= 2;
	}
	set_key(l, s, klen, v, vlen);
}

void model_parse(const char *text, size_t len, enum model_format format, struct model_config *out)
{
	memset(out, 0, sizeof(*out));
	out->format = format;
	out->text = text;
	out->len = len;
	size_t cap = 0;
	for (size_t pos = 0; pos < len;) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		if (out->nlines == cap) {
			cap = cap ? 2 * cap : 32;
			out->lines = realloc(out->lines, cap * sizeof(*out->lines));
			if (!out->lines)
				abort();
		}
		struct model_line *l = &out->lines[out->nlines++];
		memset(l, 0, sizeof(*l));
		l->off = pos;
		l->len = n;
		l->eol = nl != NULL;
		if (format == MODEL_PVE)
			pve_line(l, s, n);
		else
			lxc_line(l, s, n);
		pos += n + (nl ? 1 : 0);
	}
	out->main_end = out->nlines;
	out->main_end_off = len;
	for (size_t i = 0; i < out->nlines; i++)
		if (out->lines[i].kind == MODEL_SECTION) {
			out->main_end = i;
			out->main_end_off = out->lines[i].off;
			break;
		}
}

void model_free(struct model_config *c)
{
	for (size_t i = 0; i < c->nlines; i++) {
		free(c->lines[i].key);
		free(c->lines[i].value);
	}
	free(c->lines);
	memset(c, 0, sizeof(*c));
}

bool model_key_is(const struct model_config *c, size_t i, const char *key)
{
	return i < c->main_end && c->lines[i].kind == MODEL_KEY &&
	       strcmp(c->lines[i].key, key) == 0;
}

/* Proxmox's boolean: 1|on|yes|true, any case; the last value wins. */
static bool pve_true(const char *v)
{
	return strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0 ||
	       strcasecmp(v, "true") == 0;
}

bool model_unprivileged(const struct model_config *c)
{
	bool unprivileged = false, idmap = false;
	for (size_t i = 0; i < c->main_end; i++) {
		if (c->format == MODEL_PVE && model_key_is(c, i, "unprivileged"))
			unprivileged = pve_true(c->lines[i].value);
		idmap |= model_key_is(c, i, "lxc.idmap");
	}
	return unprivileged || idmap;
}
