/* config: container configs as byte-exact lines (see config.h). */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

/* Perl's \s, which Proxmox's regexes use: includes \r, \f and \v. */
static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

static bool lower_alpha(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

/* "[name]" followed by spaces; name is returned when it matches. */
static bool section_header(const char *s, size_t len, const char **name, size_t *namelen)
{
	if (len < 3 || s[0] != '[')
		return false;
	const char *close = memchr(s, ']', len);
	if (!close || !all_space(close + 1, len - (size_t)(close + 1 - s)))
		return false;
	*name = s + 1;
	*namelen = (size_t)(close - s - 1);
	return true;
}

/* pve-container's parse_pct_config, its section rules, case-insensitive. */
static bool pve_section(const char *s, size_t len, bool *pending)
{
	const char *name;
	size_t n;
	if (!section_header(s, len, &name, &n))
		return false;
	if (n == 11 && strncasecmp(name, "pve:pending", 11) == 0) {
		*pending = true;
		return true;
	}
	*pending = false;
	if (n < 2 || !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

static void set_kv(struct conf_line *l, const char *key, size_t keylen, const char *value,
		   size_t valuelen)
{
	l->kind = CONF_KEY;
	l->key = xstrndup(key, keylen);
	l->value = xstrndup(value, valuelen);
}

/* pve-container's parse_pct_config, its key rules in their order. */
static void pve_key_line(struct conf_line *l, const char *s, size_t len)
{
	size_t i = 0;

	if (len > 4 && memcmp(s, "lxc.", 4) == 0) {
		i = 4;
		while (i < len && (lower_alpha(s[i]) || isdigit((unsigned char)s[i]) ||
				   s[i] == '_' || s[i] == '-' || s[i] == '.'))
			i++;
		size_t keylen = i;
		if (i > 4 && i < len && s[i] == ':') {
			i++;
		} else {
			while (i < len && is_space(s[i]))
				i++;
			if (i < len && s[i] == '=' && keylen > 4)
				i++;
			else
				i = 0;
		}
		if (i > 0) {
			const char *v = s + i;
			size_t vlen = len - i;
			trim(&v, &vlen);
			set_kv(l, s, keylen, v, vlen);
			return;
		}
	}
	/* Row 7 is not anchored: "...snapstate: delete" at the end of any line. */
	static const char *const states[] = { "prepare", "delete" };
	for (size_t k = 0; k < 2; k++) {
		size_t slen = strlen(states[k]);
		const char *e = s + len;
		while (e > s && is_space(e[-1]))
			e--;
		if ((size_t)(e - s) < slen || memcmp(e - slen, states[k], slen) != 0)
			continue;
		const char *p = e - slen;
		while (p > s && is_space(p[-1]))
			p--;
		if (p - s >= 10 && memcmp(p - 10, "snapstate:", 10) == 0) {
			set_kv(l, "snapstate", 9, e - slen, slen);
			return;
		}
	}
	/* Rows 6, 8 and 9: [a-z][a-z_]*\d* then ':' then a value of at least one character. */
	i = 0;
	if (i < len && lower_alpha(s[i])) {
		i++;
		while (i < len && (lower_alpha(s[i]) || s[i] == '_'))
			i++;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
		if (i < len && s[i] == ':') {
			size_t keylen = i;
			const char *v = s + i + 1;
			size_t vlen = len - i - 1;
			/* ":\s*(.+?)\s*$" keeps one space of an all-space value ("tags:  "). */
			if (vlen > 0) {
				const char *t = v;
				size_t tlen = vlen;
				trim(&t, &tlen);
				if (tlen == 0) {
					set_kv(l, s, keylen, " ", 1);
					return;
				}
				/* description and delete need a non-space value: same as trim. */
				set_kv(l, s, keylen, t, tlen);
				return;
			}
		}
	}
	l->kind = CONF_INVALID;
}

static void pve_line(struct conf *c, struct conf_line *l, const char *s, size_t len)
{
	bool pending;
	if (all_space(s, len)) {
		l->kind = CONF_BLANK;
	} else if (pve_section(s, len, &pending)) {
		l->kind = CONF_SECTION;
		size_t index = (size_t)(l - c->lines);
		if (c->main_end == (size_t)-1)
			c->main_end = index;
		if (pending && c->pending == (size_t)-1)
			c->pending = index;
	} else if (s[0] == '#') {
		l->kind = CONF_COMMENT;
	} else {
		pve_key_line(l, s, len);
	}
}

/* LXC trims blanks and tabs only (lxc_char_left_gc, lxc_char_right_gc in
 * LXC's string_utils.c): a "\r" stays part of the value. */
static void lxc_trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* LXC's parse_line: leading blanks skipped, '#' comments, "lxc.KEY = VALUE";
 * lines not starting with "lxc." are ignored by LXC ("martian"). */
static void lxc_line(struct conf_line *l, const char *s, size_t len)
{
	if (all_space(s, len)) {
		l->kind = CONF_BLANK;
		return;
	}
	lxc_trim(&s, &len);
	if (s[0] == '#' || len < 4 || memcmp(s, "lxc.", 4) != 0) {
		l->kind = CONF_COMMENT;
		return;
	}
	const char *eq = memchr(s, '=', len);
	if (!eq) {
		l->kind = CONF_INVALID;
		return;
	}
	const char *k = s, *v = eq + 1;
	size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
	lxc_trim(&k, &klen);
	lxc_trim(&v, &vlen);
	if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
		v++;
		vlen -= 2;
	}
	for (size_t i = 0; i < klen; i++)
		if (is_space(k[i])) {
			l->kind = CONF_INVALID;
			return;
		}
	set_kv(l, k, klen, v, vlen);
}

int conf_parse(const char *text, size_t len, enum conf_format format, struct conf *out,
	       struct lxgpu_err *err)
{
	memset(out, 0, sizeof(*out));
	if (len > CONF_MAX)
		return lxgpu_failx(err, EFBIG, "larger than %u bytes (Proxmox's limit)", CONF_MAX);
	const char *nul = memchr(text, '\0', len);
	if (nul)
		return lxgpu_failx(err, EINVAL, "not a config: a NUL byte at offset %zu",
				   (size_t)(nul - text));
	out->format = format;
	out->text = xmalloc(len + 1);
	memcpy(out->text, text, len);
	out->text[len] = '\0';
	out->len = len;
	out->main_end = out->pending = (size_t)-1;

	for (size_t pos = 0; pos < len;) {
		const char *s = out->text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - s) : len - pos;
		xgrow(&out->lines, &out->cap, out->nlines + 1, sizeof(*out->lines));
		struct conf_line *l = &out->lines[out->nlines++];
		memset(l, 0, sizeof(*l));
		l->off = pos;
		l->len = linelen;
		l->eol = nl != NULL;
		if (format == CONF_PVE)
			pve_line(out, l, s, linelen);
		else
			lxc_line(l, s, linelen);
		pos += linelen + (nl ? 1 : 0);
	}
	if (out->main_end == (size_t)-1)
		out->main_end = out->nlines;
	if (out->pending == (size_t)-1)
		out->pending = out->nlines;
	return 0;
}

void conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->nlines; i++) {
		free(c->lines[i].key);
		free(c->lines[i].value);
	}
	free(c->lines);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

long conf_first_invalid(const struct conf *c)
{
	for (size_t i = 0; i < c->main_end; i++)
		if (c->lines[i].kind == CONF_INVALID)
			return (long)i;
	return -1;
}

static const char *get_in(const struct conf *c, size_t from, size_t to, const char *key)
{
	const char *v = NULL;
	for (size_t i = from; i < to; i++)
		if (c->lines[i].kind == CONF_KEY && strcmp(c->lines[i].key, key) == 0)
			v = c->lines[i].value;
	return v;
}

const char *conf_get(const struct conf *c, const char *key)
{
	return get_in(c, 0, c->main_end, key);
}

const char *conf_get_pending(const struct conf *c, const char *key)
{
	if (c->pending >= c->nlines)
		return NULL;
	size_t end = c->pending + 1;
	while (end < c->nlines && c->lines[end].kind != CONF_SECTION)
		end++;
	return get_in(c, c->pending + 1, end, key);
}

bool conf_is_true(const char *value)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	for (size_t i = 0; value && i < ARRAY_SIZE(yes); i++)
		if (strcasecmp(value, yes[i]) == 0)
			return true;
	return false;
}

char *conf_line_text(const struct conf *c, size_t i)
{
	return xstrndup(c->text + c->lines[i].off, c->lines[i].len);
}

void conf_edit_init(struct conf_edit *e, const struct conf *c)
{
	memset(e, 0, sizeof(*e));
	e->remove = xcalloc(c->nlines + 1, sizeof(bool));
	e->replace = xcalloc(c->nlines + 1, sizeof(char *));
	e->nlines = c->nlines;
	e->insert_at = c->main_end;
}

void conf_edit_place(struct conf_edit *e, const struct conf *c)
{
	size_t at = 0;
	for (size_t i = 0; i < c->main_end; i++)
		if (c->lines[i].kind != CONF_BLANK && (!e->remove[i] || e->replace[i]))
			at = i + 1;
	e->insert_at = at;
}

void conf_edit_add(struct conf_edit *e, const char *line)
{
	xgrow(&e->insert, &e->cap, e->ninsert + 1, sizeof(*e->insert));
	e->insert[e->ninsert++] = xstrdup(line);
}

void conf_edit_replace(struct conf_edit *e, size_t i, const char *line)
{
	e->remove[i] = true;
	free(e->replace[i]);
	e->replace[i] = xstrdup(line);
}

const char **conf_edit_added(const struct conf_edit *e, size_t *n)
{
	const char **out = xcalloc(e->nlines + e->ninsert + 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < e->nlines; i++)
		if (e->replace[i])
			out[(*n)++] = e->replace[i];
	for (size_t i = 0; i < e->ninsert; i++)
		out[(*n)++] = e->insert[i];
	return out;
}

bool conf_edit_changes(const struct conf_edit *e, const struct conf *c)
{
	if (e->ninsert > 0)
		return true;
	for (size_t i = 0; i < c->nlines; i++)
		if (e->remove[i])
			return true;
	return false;
}

void conf_edit_free(struct conf_edit *e)
{
	for (size_t i = 0; i < e->ninsert; i++)
		free(e->insert[i]);
	for (size_t i = 0; e->replace && i < e->nlines; i++)
		free(e->replace[i]);
	free(e->insert);
	free(e->remove);
	free(e->replace);
	memset(e, 0, sizeof(*e));
}

/* One line of the edited file, in order: an old line kept or removed, or a new one. */
struct step {
	char op; /* ' ' kept, '-' removed, '+' inserted */
	const char *s;
	size_t len;
	bool eol;
};

/* A kept line without "\n" that must gain one: shown removed, re-added with it. */
static void add_eol(struct step **steps, size_t *n, size_t *cap, size_t k)
{
	(*steps)[k].op = '-';
	xgrow(steps, cap, *n + 1, sizeof(**steps));
	(*steps)[(*n)++] = (struct step){ '+', (*steps)[k].s, (*steps)[k].len, true };
}

/* The last line that stays (not '-') ends in "\n". */
static void eol_after_last_kept(struct step **steps, size_t *n, size_t *cap)
{
	for (size_t k = *n; k-- > 0;) {
		if ((*steps)[k].op == '-')
			continue;
		if (!(*steps)[k].eol)
			add_eol(steps, n, cap, k);
		return;
	}
}

/* The edit as a sequence of steps. A kept last line without "\n" that new
 * lines follow gains one; so does the last line of any changed text (a
 * whitespace-only tail after the new lines), which ends in "\n". */
static size_t steps_of(const struct conf *c, const struct conf_edit *e, struct step **out)
{
	size_t n = 0, cap = 0;
	struct step *steps = NULL;
	bool due = false, done = e->ninsert == 0;

	for (size_t i = 0; i <= c->nlines; i++) {
		due |= i == e->insert_at;
		/* new lines go after the removed ones at the same place, as diff shows them */
		if (due && !done && (i == c->nlines || !e->remove[i])) {
			/* the last kept line before the new ones needs its "\n" */
			eol_after_last_kept(&steps, &n, &cap);
			for (size_t k = 0; k < e->ninsert; k++) {
				xgrow(&steps, &cap, n + 1, sizeof(*steps));
				steps[n++] = (struct step){ '+', e->insert[k], strlen(e->insert[k]),
							    true };
			}
			done = true;
		}
		if (i == c->nlines)
			break;
		const struct conf_line *l = &c->lines[i];
		xgrow(&steps, &cap, n + 2, sizeof(*steps));
		steps[n++] =
			(struct step){ e->remove[i] ? '-' : ' ', c->text + l->off, l->len, l->eol };
		if (e->replace[i])
			steps[n++] =
				(struct step){ '+', e->replace[i], strlen(e->replace[i]), true };
	}
	if (conf_edit_changes(e, c))
		eol_after_last_kept(&steps, &n, &cap);
	*out = steps;
	return n;
}

char *conf_render(const struct conf *c, const struct conf_edit *e, size_t *len)
{
	_cleanup_free_ struct step *steps = NULL;
	size_t n = steps_of(c, e, &steps), total = 0;

	for (size_t i = 0; i < n; i++)
		if (steps[i].op != '-')
			total += steps[i].len + (steps[i].eol ? 1 : 0);
	char *out = xmalloc(total + 1), *p = out;
	for (size_t i = 0; i < n; i++) {
		if (steps[i].op == '-')
			continue;
		memcpy(p, steps[i].s, steps[i].len);
		p += steps[i].len;
		if (steps[i].eol)
			*p++ = '\n';
	}
	*p = '\0';
	if (len)
		*len = total;
	return out;
}

struct buf {
	char *s;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t len)
{
	xgrow(&b->s, &b->cap, b->len + len + 1, 1);
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_add(b, tmp, n < 0 ? 0 : (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

char *conf_diff(const struct conf *c, const struct conf_edit *e, const char *label)
{
	enum { CONTEXT = 3 };
	_cleanup_free_ struct step *steps = NULL;
	size_t n = steps_of(c, e, &steps);
	struct buf b = { 0 };

	buf_add(&b, "", 0);
	if (!conf_edit_changes(e, c))
		return b.s;
	buf_printf(&b, "--- a/%s\n+++ b/%s\n", label, label);
	size_t i = 0, oldno = 1, newno = 1;
	while (i < n) {
		/* next change */
		size_t j = i, o = oldno, w = newno;
		while (j < n && steps[j].op == ' ') {
			j++;
			o++;
			w++;
		}
		if (j == n)
			break;
		size_t start = j > i + CONTEXT ? j - CONTEXT : i;
		size_t ostart = o - (j - start), nstart = w - (j - start);
		/* extend the hunk while changes are within 2*CONTEXT of each other */
		size_t end = j, last_change = j;
		while (end < n) {
			if (steps[end].op != ' ')
				last_change = end;
			else if (end - last_change > 2 * CONTEXT)
				break;
			end++;
		}
		size_t stop = last_change + 1 + CONTEXT < n ? last_change + 1 + CONTEXT : n;
		size_t ocount = 0, ncount = 0;
		for (size_t k = start; k < stop; k++) {
			if (steps[k].op != '+')
				ocount++;
			if (steps[k].op != '-')
				ncount++;
		}
		buf_printf(&b, "@@ -%zu,%zu +%zu,%zu @@\n", ocount ? ostart : ostart - 1, ocount,
			   ncount ? nstart : nstart - 1, ncount);
		for (size_t k = start; k < stop; k++) {
			buf_add(&b, &steps[k].op, 1);
			buf_add(&b, steps[k].s, steps[k].len);
			buf_add(&b, "\n", 1);
			if (!steps[k].eol)
				buf_add(&b, "\\ No newline at end of file\n", 28);
		}
		/* advance the counters over what the hunk covered */
		for (size_t k = i; k < stop; k++) {
			if (steps[k].op != '+')
				oldno++;
			if (steps[k].op != '-')
				newno++;
		}
		i = stop;
	}
	return b.s;
}

char *conf_format_line(enum conf_format format, const char *key, const char *value)
{
	return format == CONF_PVE ? xasprintf("%s: %s", key, value)
				  : xasprintf("%s = %s", key, value);
}
