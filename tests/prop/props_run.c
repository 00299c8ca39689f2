/* props_run: running lxgpu's steps on one input, and the helpers that read
 * their outputs with the model (see props_run.h). */
#include "props_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const step_names[NSTEPS] = {
	"attach",
	"a second identical attach",
	"sync after attach",
	"sync of the input",
	"detach after attach",
	"detach of the input",
	"sync after attach, on the updated host",
	"detach after attach, on the updated host",
	"attach of the recorded request after that detach",
};

struct prop_run *prop_run_new(const struct prop_input *in)
{
	struct prop_run *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->in = *in;
	return r;
}

void prop_run_free(struct prop_run *r)
{
	for (int s = 0; s < NSTEPS; s++)
		free(r->steps[s].out.bytes);
	free(r);
}

void prop_run_preset(struct prop_run *r, enum step s, const struct text *out)
{
	struct step_out *o = &r->steps[s];
	free(o->out.bytes);
	memset(&o->out, 0, sizeof(o->out));
	o->done = true;
	o->ok = out != NULL;
	if (out) {
		o->out.bytes = malloc(out->len + 1);
		if (!o->out.bytes)
			abort();
		memcpy(o->out.bytes, out->bytes, out->len);
		o->out.len = out->len;
	}
	snprintf(o->why, sizeof(o->why), "refused (given)");
}

void prop_failure_free(struct prop_failure *f)
{
	free(f->shown.bytes);
	free(f->other.bytes);
	memset(f, 0, sizeof(*f));
}

/* The request the attached config records, as ownership.md reads a record:
 * the GPUs by id; v2's rules=; a version 1 record's rules are exact. */
static bool recorded_request(struct prop_run *r, char *why, size_t size)
{
	const struct text *a1 = run_step(r, ATTACH);
	struct model_config c;
	struct model_record rec;
	if (!a1) {
		snprintf(why, size, "attach refused: no record");
		return false;
	}
	model_parse(a1->bytes, a1->len, r->in.format, &c);
	model_record(&c, &rec);
	r->recorded = *r->in.req;
	r->recorded.nselectors = 0;
	for (size_t i = 0; i < rec.nids && i < 4; i++) {
		snprintf(r->ids[i], sizeof(r->ids[i]), "%s", rec.ids[i]);
		r->recorded.selectors[r->recorded.nselectors++] = r->ids[i];
	}
	r->recorded.wildcard = rec.version == 2 && rec.wildcard;
	model_record_free(&rec);
	model_free(&c);
	if (r->recorded.nselectors == 0)
		snprintf(why, size, "the attached config has no LXGPU_DEVICES record");
	return r->recorded.nselectors > 0;
}

const struct text *run_step(struct prop_run *r, enum step s)
{
	struct step_out *o = &r->steps[s];
	const struct test_host *h = r->in.host, *twin = h->twin;
	enum model_format f = r->in.format;
	const struct text *before = s == ATTACH || s == SYNC_INPUT || s == DETACH_INPUT
					    ? &r->in.text
				    : s == REATTACH_AFTER ? run_step(r, DETACH_AFTER)
							  : run_step(r, ATTACH);
	if (o->done)
		return o->ok ? &o->out : NULL;
	o->done = true;
	if (!before || ((s == SYNC_AFTER || s == DETACH_AFTER || s == REATTACH_AFTER) && !twin)) {
		snprintf(o->why, sizeof(o->why), "no input for this step");
		return NULL;
	}
	switch (s) {
	case ATTACH:
	case ATTACH_AGAIN:
		o->ok = op_attach(h, f, before, r->in.req, &o->out, o->why, sizeof(o->why));
		break;
	case SYNC:
	case SYNC_INPUT:
		o->ok = op_sync(h, f, before, r->in.req->prune, &o->out, o->why, sizeof(o->why));
		break;
	case DETACH:
	case DETACH_INPUT:
		o->ok = op_detach(h, f, before, &o->out, o->why, sizeof(o->why));
		break;
	case SYNC_AFTER:
		o->ok = op_sync(twin, f, before, r->in.req->prune, &o->out, o->why, sizeof(o->why));
		break;
	case DETACH_AFTER:
		o->ok = op_detach(twin, f, before, &o->out, o->why, sizeof(o->why));
		break;
	case REATTACH_AFTER:
		o->ok = recorded_request(r, o->why, sizeof(o->why)) &&
			op_attach(twin, f, before, &r->recorded, &o->out, o->why, sizeof(o->why));
		break;
	case NSTEPS:
		break;
	}
	return o->ok ? &o->out : NULL;
}

/* == reporting */

static void copy_text(struct text *to, const struct text *from)
{
	free(to->bytes);
	to->len = from ? from->len : 0;
	to->bytes = malloc(to->len + 1);
	if (!to->bytes)
		abort();
	if (from)
		memcpy(to->bytes, from->bytes, from->len);
}

void compared_with(struct prop_failure *f, const char *name, const struct text *t)
{
	f->other_name = name;
	copy_text(&f->other, t);
}

enum prop_result fail(struct prop_failure *f, const struct text *shown, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	copy_text(&f->shown, shown);
	return PROP_FAILS;
}

/* "line 12 `c 195:* rwm`", control characters shown as \r, \t... */
const char *line_name(const struct model_config *c, size_t i, char *buf, size_t size)
{
	const struct model_line *l = &c->lines[i];
	size_t n = (size_t)snprintf(buf, size, "line %zu `", i + 1);
	for (size_t k = 0; k < l->len && n + 5 < size; k++) {
		unsigned char ch = (unsigned char)c->text[l->off + k];
		n += (size_t)(ch < 0x20 || ch == 0x7f ? snprintf(buf + n, size - n, "\\x%02x", ch)
						      : snprintf(buf + n, size - n, "%c", ch));
	}
	snprintf(buf + n, size - n, "`");
	return buf;
}

/* == what the model says of a config */

void view(const struct text *t, enum model_format f, struct view *v)
{
	model_parse(t->bytes, t->len, f, &v->c);
	model_record(&v->c, &v->rec);
}

void unview(struct view *v)
{
	model_record_free(&v->rec);
	model_free(&v->c);
}

/* The GPUs of a step's domain: those asked for by attach, those recorded in
 * what sync and detach read. */
void domain_of(struct prop_run *r, enum step s, const struct view *before,
	       const struct test_host *h, struct model_gpus *g)
{
	if (s == ATTACH)
		model_select(h, r->in.req, g);
	else
		model_record_gpus(&before->rec, h, g);
}

const struct test_host *host_of(const struct prop_run *r, enum step s)
{
	return s == SYNC_AFTER || s == DETACH_AFTER || s == REATTACH_AFTER ? r->in.host->twin
									   : r->in.host;
}

const struct text *input_of(struct prop_run *r, enum step s)
{
	return s == ATTACH || s == SYNC_INPUT || s == DETACH_INPUT ? &r->in.text
								   : run_step(r, ATTACH);
}

bool same_line(const struct model_config *a, size_t i, const struct model_config *b, size_t j)
{
	return a->lines[i].len == b->lines[j].len &&
	       memcmp(a->text + a->lines[i].off, b->text + b->lines[j].off, a->lines[i].len) == 0;
}
