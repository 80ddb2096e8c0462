/*
 * hftok_decode — ids to text through the file's decoders, as the library's
 * Tokenizer::decode: ids become their spellings (unknown ids skipped, special added
 * tokens too when asked), each decoder rewrites the list of strings (decode_chain),
 * and the result is joined; with no decoder at all the spellings are joined by spaces.
 */
#include "hftok_impl.h"

#include <stdlib.h>
#include <string.h>

struct strs {
	struct hft_buf *v;
	size_t n, cap;
};

static int strs_add(struct strs *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct hft_buf *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = (struct hft_buf){ 0 };
	return hft_buf_add(&l->v[l->n++], s, n);
}

static void strs_free(struct strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].p);
	free(l->v);
	*l = (struct strs){ 0 };
}

/* "<0xAB>" -> 0xAB, else -1 */
static int byte_token(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
		return -1;
	int v = 0;
	for (int i = 3; i < 5; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int dec_step(const struct hft_step *st, struct strs *in, struct strs *out)
{
	struct hft_buf acc = { 0 };
	int rc = -1;
	switch (st->kind) {
	case DEC_BYTELEVEL: /* every token's characters back to bytes, then lossy UTF-8 */
		for (size_t i = 0; i < in->n; i++) {
			const char *s = in->v[i].p;
			size_t n = in->v[i].n, k, len;
			size_t mark = acc.n;
			for (k = 0; k < n; k += len) {
				int b = hft_char_byte(hft_utf8_next(s + k, n - k, &len));
				if (b < 0)
					break;
				unsigned char c = (unsigned char)b;
				if (hft_buf_add(&acc, &c, 1) < 0)
					goto out;
			}
			if (k < n) { /* a character outside the alphabet: the token as it is */
				acc.n = mark;
				if (hft_buf_add(&acc, s, n) < 0)
					goto out;
			}
		}
		{
			struct hft_buf l = { 0 };
			if (hft_lossy(&l, acc.p ? acc.p : "", acc.n) < 0 || strs_add(out, l.p, l.n) < 0) {
				free(l.p);
				goto out;
			}
			free(l.p);
		}
		break;
	case DEC_BYTEFALLBACK: {
		size_t nb = 0;
		for (size_t i = 0; i <= in->n; i++) {
			int b = i < in->n ? byte_token(in->v[i].p, in->v[i].n) : -1;
			if (b >= 0) {
				unsigned char c = (unsigned char)b;
				if (hft_buf_add(&acc, &c, 1) < 0)
					goto out;
				nb++;
				continue;
			}
			if (nb) { /* valid UTF-8 as one string, else U+FFFD per byte */
				size_t k, len;
				for (k = 0; k < acc.n; k += len)
					if (hft_utf8_next(acc.p + k, acc.n - k, &len) < 0)
						break;
				if (k == acc.n) {
					if (strs_add(out, acc.p, acc.n) < 0)
						goto out;
				} else
					for (size_t j = 0; j < nb; j++)
						if (strs_add(out, "\xEF\xBF\xBD", 3) < 0)
							goto out;
				nb = 0;
				acc.n = 0;
			}
			if (i < in->n && strs_add(out, in->v[i].p, in->v[i].n) < 0)
				goto out;
		}
		break;
	}
	case DEC_FUSE:
		if (hft_buf_add(&acc, "", 0) < 0)
			goto out;
		for (size_t i = 0; i < in->n; i++)
			if (hft_buf_add(&acc, in->v[i].p, in->v[i].n) < 0)
				goto out;
		if (strs_add(out, acc.p, acc.n) < 0)
			goto out;
		break;
	case DEC_STRIP: /* up to start leading and stop trailing copies of the character */
		for (size_t i = 0; i < in->n; i++) {
			const char *s = in->v[i].p;
			size_t a = 0, b = in->v[i].n;
			for (int k = 0; k < st->a && b - a >= st->len && !memcmp(s + a, st->str, st->len); k++)
				a += st->len;
			for (int k = 0; k < st->b && b - a >= st->len && !memcmp(s + b - st->len, st->str, st->len); k++)
				b -= st->len;
			if (strs_add(out, s + a, b - a) < 0)
				goto out;
		}
		break;
	case DEC_REPLACE:
		for (size_t i = 0; i < in->n; i++) {
			const char *s = in->v[i].p;
			size_t n = in->v[i].n, at = 0;
			acc.n = 0;
			if (hft_buf_add(&acc, "", 0) < 0)
				goto out;
			pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->re, NULL);
			if (!md)
				goto out;
			uint32_t opt = 0;
			while (at < n) {
				int m = pcre2_match(st->re, (PCRE2_SPTR)s, n, at, opt, md, NULL);
				opt = PCRE2_NO_UTF_CHECK; /* checked once per subject */
				PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
				if (m < 0 || ov[1] == ov[0])
					break;
				if (hft_buf_add(&acc, s + at, ov[0] - at) < 0 ||
				    hft_buf_add(&acc, st->str, st->len) < 0) {
					pcre2_match_data_free(md);
					goto out;
				}
				at = ov[1];
			}
			pcre2_match_data_free(md);
			if (hft_buf_add(&acc, s + at, n - at) < 0 || strs_add(out, acc.p, acc.n) < 0)
				goto out;
		}
		break;
	case DEC_METASPACE: /* the replacement is a space, and gone from the first token */
		for (size_t i = 0; i < in->n; i++) {
			const char *s = in->v[i].p;
			size_t n = in->v[i].n, k = 0;
			acc.n = 0;
			if (hft_buf_add(&acc, "", 0) < 0)
				goto out;
			while (k < n) {
				if (n - k >= st->len && !memcmp(s + k, st->str, st->len)) {
					if (!(i == 0 && st->a) && hft_buf_add(&acc, " ", 1) < 0)
						goto out;
					k += st->len;
				} else if (hft_buf_add(&acc, s + k++, 1) < 0)
					goto out;
			}
			if (strs_add(out, acc.p, acc.n) < 0)
				goto out;
		}
		break;
	default:
		goto out;
	}
	rc = 0;
out:
	free(acc.p);
	return rc;
}

char *hftok_decode(const struct hftok *t, const int32_t *ids, size_t n, int skip_special,
		   size_t *len, struct err *e)
{
	struct strs a = { 0 }, b = { 0 };
	struct hft_buf all = { 0 };
	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		if (id < 0 || id >= t->nids || !t->tok[id] || (skip_special && t->is_added[id] == 2))
			continue;
		if (strs_add(&a, t->tok[id], t->toklen[id]) < 0)
			goto nomem;
	}
	for (size_t s = 0; s < t->ndec; s++) {
		if (dec_step(&t->dec[s], &a, &b) < 0)
			goto nomem;
		strs_free(&a);
		a = b;
		b = (struct strs){ 0 };
	}
	struct hft_buf joined = { 0 };
	if (hft_buf_add(&joined, "", 0) < 0)
		goto nomem;
	for (size_t i = 0; i < a.n; i++)
		if ((i && !t->ndec && hft_buf_add(&joined, " ", 1) < 0) ||
		    hft_buf_add(&joined, a.v[i].p, a.v[i].n) < 0) {
			free(joined.p);
			goto nomem;
		}
	/* a vocabulary entry with invalid UTF-8 (the file's strings are not checked
	 * byte by byte on load) must not reach the caller's JSON */
	int rc = hft_buf_add(&all, "", 0) < 0 ? -1 : hft_lossy(&all, joined.p, joined.n);
	free(joined.p);
	if (rc < 0)
		goto nomem;
	strs_free(&a);
	if (len)
		*len = all.n;
	return all.p;
nomem:
	err_set(e, ERR_NOMEM, "cannot decode with '%s': out of memory", t->path);
	strs_free(&a);
	strs_free(&b);
	free(all.p);
	return NULL;
}

/* The bytes one token contributes, without the context-dependent steps (Strip, and
 * the lossy UTF-8 repair that a partial character needs its neighbours for). */
size_t hftok_piece(const struct hftok *t, int32_t id, char *out, size_t cap)
{
	size_t n = 0;
#define PUT(c) do { if (n + 1 < cap) out[n] = (char)(c); n++; } while (0)
	if (id >= 0 && id < t->nids && t->tok[id]) {
		const char *s = t->tok[id];
		size_t len = t->toklen[id], k, cl;
		int bytelevel = 0, fallback = 0;
		const char *from = NULL, *to = NULL;
		size_t from_n = 0, to_n = 0;
		for (size_t i = 0; i < t->ndec; i++) {
			const struct hft_step *st = &t->dec[i];
			if (st->kind == DEC_BYTELEVEL)
				bytelevel = 1;
			else if (st->kind == DEC_BYTEFALLBACK)
				fallback = 1;
			else if ((st->kind == DEC_REPLACE || st->kind == DEC_METASPACE) && !from) {
				/* SentencePiece's word marker back to a space */
				from = "\xe2\x96\x81";
				from_n = 3;
				to = " ";
				to_n = 1;
			}
		}
		int b;
		if (t->is_added[id]) {
			for (k = 0; k < len; k++)
				PUT(s[k]);
		} else if (fallback && (b = byte_token(s, len)) >= 0) {
			PUT(b);
		} else if (bytelevel) {
			for (k = 0; k < len; k += cl) {
				int32_t cp = hft_utf8_next(s + k, len - k, &cl);
				int v = hft_char_byte(cp);
				if (v >= 0) {
					PUT(v);
				} else {
					for (size_t j = 0; j < cl; j++)
						PUT(s[k + j]);
				}
			}
		} else {
			for (k = 0; k < len;) {
				if (from && len - k >= from_n && !memcmp(s + k, from, from_n)) {
					for (size_t j = 0; j < to_n; j++)
						PUT(to[j]);
					k += from_n;
				} else {
					PUT(s[k++]);
				}
			}
		}
	}
#undef PUT
	if (cap)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}
