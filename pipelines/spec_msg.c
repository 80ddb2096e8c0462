/*
 * spec_msg — the loader's messages: positioned one-line errors, quoting of user text,
 * nearest-name suggestions, and the short forms values are shown in ("got '-1'").
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_check.h"

#define QUOTE_MAX 60

char *spec_clean(char *buf, size_t cap, const char *s, size_t len)
{
	size_t max = cap - 1 < QUOTE_MAX ? cap - 1 : QUOTE_MAX, o = 0;
	size_t keep = len <= max ? len : max - 3;
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (keep < len) { /* cut, never inside a UTF-8 sequence */
		while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && (unsigned char)buf[o - 1] >= 0xC0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

char *spec_quote(char *buf, size_t cap, const char *s, size_t len)
{
	buf[0] = '\'';
	spec_clean(buf + 1, cap - 2, s, len);
	strcat(buf, "'");
	return buf;
}

static int levenshtein(const char *a, size_t la, const char *b, size_t lb)
{
	int row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = row[j], best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

void suggest_init(struct suggest *s, const char *word, size_t len)
{
	s->word = word;
	s->len = len;
	s->best = NULL;
	s->dist = 4;
}

void suggest_add(struct suggest *s, const char *cand)
{
	size_t cl = strlen(cand);
	if (s->len <= 64 && cl <= 64) {
		int d = levenshtein(s->word, s->len, cand, cl);
		if (d <= 2 && d < s->dist) {
			s->best = cand;
			s->dist = d;
			return;
		}
	}
	size_t m = s->len < cl ? s->len : cl;
	if (s->dist > 3 && m >= 2 && memcmp(s->word, cand, m) == 0) {
		s->best = cand;
		s->dist = 3;
	}
}

const char *suggest_hint(const struct suggest *s, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (s->best)
		snprintf(buf, cap, " (did you mean '%.40s'?)", s->best);
	return buf;
}

int spec_fail(struct v *v, const struct snode *at, const char *scope, const char *key,
	const char *fmt, ...)
{
	char msg[400], pos[320] = "", sc[120] = "", k[120] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (at && at->pos.label)
		snprintf(pos, sizeof pos, "%s: ", at->pos.label);
	else if (at && at->pos.line > 0)
		snprintf(pos, sizeof pos, "%.280s:%d:%d: ", v->c->file, at->pos.line, at->pos.col);
	if (scope)
		snprintf(sc, sizeof sc, "%s: ", scope);
	if (key)
		snprintf(k, sizeof k, "key '%s': ", key);
	return err_set(v->err, ERR_INVALID, "%s%s%s%s", pos, sc, k, msg);
}

int spec_nomem(struct v *v)
{
	return err_set(v->err, ERR_NOMEM, "out of memory");
}

bool snode_is_scalar(const struct snode *n)
{
	return n->type != SNODE_SEQ && n->type != SNODE_MAP;
}

bool spec_ref_ok(const struct v *v, const struct snode *n)
{
	return v->c->json_mode ? n->type == SNODE_STR : snode_is_scalar(n) && n->type != SNODE_NULL;
}

const char *spec_got(const struct snode *n, char *buf, size_t cap)
{
	switch (n->type) {
	case SNODE_MAP: return n->n ? "a mapping" : "an empty mapping";
	case SNODE_SEQ: return n->n ? "a list" : "an empty list";
	case SNODE_NULL:
		if (n->len == 0)
			return "an empty value";
		break;
	default: break;
	}
	return spec_quote(buf, cap, n->text, n->len);
}

const char *spec_first_at(const struct snode *first, const struct snode *again, char *buf,
	size_t cap)
{
	buf[0] = '\0';
	if (first->pos.label)
		snprintf(buf, cap, " (first at %.100s)", first->pos.label);
	else if (first->pos.line > 0 && again->pos.line == first->pos.line && !again->pos.label)
		snprintf(buf, cap, " (first at line %d, column %d)", first->pos.line, first->pos.col);
	else if (first->pos.line > 0)
		snprintf(buf, cap, " (first at line %d)", first->pos.line);
	return buf;
}

const char *spec_stage_kind_name(unsigned kind)
{
	for (unsigned i = 0; i < NAMES_STAGE_N; i++)
		if (kind == 1u << i)
			return names_stage[i];
	return "?";
}

/* "prefix" + key, made printable. */
const char *spec_keypath(char *buf, size_t cap, const char *prefix, const char *key, size_t len)
{
	char clean[80];
	snprintf(buf, cap, "%s%s", prefix, spec_clean(clean, sizeof clean, key, len));
	return buf;
}

json_t *spec_jstr(struct v *v, const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (!j)
		spec_nomem(v);
	return j;
}

