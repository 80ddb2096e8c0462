/*
 * hftok_encode — text to ids, in the reference library's order: added tokens cut out
 * (raw text, then normalized text), normalizers, pre-tokenizers, BPE (hftok_bpe.c),
 * post-processor. Also the UTF-8 helpers the hftok files share.
 *
 * The text travels as a list of pieces, each either text or an already decided token
 * id; every step rewrites the text pieces into a new list and drops empty ones, as
 * the library's PreTokenizedString does. The regexes of the Split and ByteLevel
 * pre-tokenizers and of the Replace normalizer are run by hftok_pattern.c.
 *
 * Speed (bench/tokenize.sh measures it against the references): the Unicode
 * normalizers pass ASCII through untouched; added tokens are looked for only where one
 * can start; pieces are written in place rather than copied through temporary buffers;
 * hftok_bpe.c and hftok_pattern.c say what they do for it. None of this changes a
 * result: each shortcut is exact, and tests/integration/test_tokenizer_parity.sh checks
 * the ids against the library.
 */
#include "hftok_impl.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

int32_t hft_utf8_next(const char *s, size_t n, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned c = u[0];
	*len = 1;
	if (c < 0x80)
		return (int32_t)c;
	size_t need;
	unsigned lo = 0x80, hi = 0xBF;
	int32_t cp;
	if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 2; cp = c & 0x0F;
		if (c == 0xE0) lo = 0xA0;
		if (c == 0xED) hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3; cp = c & 0x07;
		if (c == 0xF0) lo = 0x90;
		if (c == 0xF4) hi = 0x8F;
	} else
		return -1;
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || u[k] < lo || u[k] > hi) {
			*len = k; /* the valid prefix is one invalid sequence */
			return -1;
		}
		cp = cp << 6 | (u[k] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*len = need + 1;
	return cp;
}

size_t hft_utf8_put(char *d, int32_t cp)
{
	unsigned char *u = (unsigned char *)d;
	if (cp < 0x80) { u[0] = (unsigned char)cp; u[1] = 0; return 1; }
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | cp >> 6); u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		u[2] = 0; return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | cp >> 12); u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F)); return 3;
	}
	u[0] = (unsigned char)(0xF0 | cp >> 18); u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int hft_lossy(struct hft_buf *out, const char *s, size_t n)
{
	size_t i = 0, run = 0; /* valid bytes not yet copied start at run */
	while (i < n) {
		size_t len;
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if (hft_utf8_next(s + i, n - i, &len) >= 0) {
			i += len;
			continue;
		}
		if (hft_buf_add(out, s + run, i - run) < 0 || hft_buf_add(out, "\xEF\xBF\xBD", 3) < 0)
			return -1;
		i += len;
		run = i;
	}
	return hft_buf_add(out, s + run, n - run);
}

/* Rust's char::is_whitespace (the White_Space property) */
int hft_is_space(int32_t c)
{
	return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

static int is_word_char(int32_t c)
{
	if (c == '_')
		return 1;
	if (c < 0)
		return 0;
	utf8proc_category_t k = utf8proc_category(c);
	return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
	       (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

static int is_numeric(int32_t c)
{
	utf8proc_category_t k = utf8proc_category(c);
	return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* the code point ending at s[0..n), n > 0 */
static int32_t last_char(const char *s, size_t n)
{
	size_t i = n - 1, len;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80 && n - i < 4)
		i--;
	return hft_utf8_next(s + i, n - i, &len);
}

/* ---- pieces ---- */

struct plist {
	struct hft_piece *v;
	size_t n, cap;
	struct hft_buf b;
};

/* room for n more bytes (and a NUL) in b */
/* room for about `pieces` pieces of `bytes` bytes in all (a hint: lists still grow) */
static int plist_reserve(struct plist *l, size_t pieces, size_t bytes)
{
	if (pieces > l->cap) {
		struct hft_piece *v = realloc(l->v, pieces * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = pieces;
	}
	return hft_buf_reserve(&l->b, bytes);
}

/* room for one more piece */
static int plist_grow(struct plist *l)
{
	size_t cap = l->cap ? l->cap * 2 : 32;
	struct hft_piece *v = realloc(l->v, cap * sizeof *v);
	if (!v)
		return -1;
	l->v = v;
	l->cap = cap;
	return 0;
}

/* a piece for the last n bytes of l->b (written there by the caller) */
static int push_written(struct plist *l, size_t n, int first)
{
	if (n == 0)
		return 0;
	if (l->n == l->cap && plist_grow(l) < 0)
		return -1;
	l->v[l->n++] = (struct hft_piece){ l->b.n - n, n, -1, first };
	return 1;
}

static int push_piece(struct plist *l, const char *s, size_t n, int32_t id)
{
	if (id < 0 && n == 0)
		return 0;
	if (l->n == l->cap && plist_grow(l) < 0)
		return -1;
	if (hft_buf_reserve(&l->b, n) < 0)
		return -1;
	l->v[l->n++] = (struct hft_piece){ l->b.n, n, id, 0 };
	if (n)
		memcpy(l->b.p + l->b.n, s, n);
	l->b.n += n;
	return 1;
}

/* a text piece (none if empty), marked first when `first` */
static int push_first(struct plist *l, const char *s, size_t n, int first)
{
	int rc = push_piece(l, s, n, -1);
	if (rc == 1 && first)
		l->v[l->n - 1].first = 1;
	return rc;
}


/* ---- segments (hftok_pattern.c makes a regex's) ---- */

static int digit_segs(const char *s, size_t n, struct hft_segs *out)
{
	out->n = 0;
	size_t last = 0, i = 0, len;
	while (i < n) {
		int32_t c = hft_utf8_next(s + i, n - i, &len);
		if (c >= 0 && is_numeric(c)) {
			if (last < i && hft_push_seg(out, last, i, 0) < 0)
				return -1;
			if (hft_push_seg(out, i, i + len, 1) < 0)
				return -1;
			last = i + len;
		}
		i += len;
	}
	if (n > last && hft_push_seg(out, last, n, 0) < 0)
		return -1;
	return 0;
}

/* SplitDelimiterBehavior applied to segments, in place; m of the result is unused */
static void behave(struct hft_segs *s, int behavior)
{
	size_t k = 0;
	int prevm = 0;
	switch (behavior) {
	case SPLIT_ISOLATED:
		return;
	case SPLIT_REMOVED:
		for (size_t i = 0; i < s->n; i++)
			if (!s->v[i].m)
				s->v[k++] = s->v[i];
		break;
	case SPLIT_PREVIOUS:
		for (size_t i = 0; i < s->n; i++) {
			if (s->v[i].m && !prevm && k)
				s->v[k - 1].b = s->v[i].b;
			else
				s->v[k++] = s->v[i];
			prevm = s->v[i].m;
		}
		break;
	case SPLIT_CONTIGUOUS:
		for (size_t i = 0; i < s->n; i++) {
			if (s->v[i].m == prevm && k)
				s->v[k - 1].b = s->v[i].b;
			else
				s->v[k++] = s->v[i];
			prevm = s->v[i].m;
		}
		break;
	case SPLIT_NEXT: /* the same from the right */
		k = s->n;
		for (size_t i = s->n; i-- > 0;) {
			if (s->v[i].m && !prevm && k < s->n)
				s->v[k].a = s->v[i].a;
			else
				s->v[--k] = s->v[i];
			prevm = s->v[i].m;
		}
		memmove(s->v, s->v + k, (s->n - k) * sizeof *s->v);
		k = s->n - k;
		break;
	}
	s->n = k;
}

/* ---- normalizers ---- */

static int norm_step(const struct hftok *t, const struct hft_step *st, const char *s, size_t n,
		     struct hft_buf *out)
{
	out->n = 0;
	switch (st->kind) {
	case NORM_NFC: case NORM_NFD: case NORM_NFKC: case NORM_NFKD: {
		if (hft_buf_add(out, "", 0) < 0)
			return -1;
		int opt = UTF8PROC_STABLE |
			  (st->kind == NORM_NFC || st->kind == NORM_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
			  (st->kind == NORM_NFKC || st->kind == NORM_NFKD ? UTF8PROC_COMPAT : 0);
		/* ASCII is left as it is by all four forms, and an ASCII character is a starter
		 * that is never the second of a composed pair: the text can be normalized run by
		 * run, each run of non-ASCII with the ASCII character before it (which a mark
		 * may compose with), the rest copied. */
		size_t i = 0;
		while (i < n) {
			size_t j = i;
			while (j < n && (unsigned char)s[j] < 0x80)
				j++;
			if (j == n)
				return hft_buf_add(out, s + i, n - i);
			size_t a = j > i ? j - 1 : j, b = j;
			while (b < n && (unsigned char)s[b] >= 0x80)
				b++;
			if (hft_buf_add(out, s + i, a - i) < 0)
				return -1;
			utf8proc_uint8_t *r = NULL;
			utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s + a, (utf8proc_ssize_t)(b - a),
							    &r, (utf8proc_option_t)opt);
			if (len < 0)
				return -1;
			int rc = hft_buf_add(out, r, (size_t)len);
			free(r);
			if (rc < 0)
				return -1;
			i = b;
		}
		return 0;
	}
	case NORM_LOWER:
		for (size_t i = 0, len; i < n; i += len) {
			int32_t c = hft_utf8_next(s + i, n - i, &len);
			char u[5];
			if (hft_buf_add(out, u, hft_utf8_put(u, utf8proc_tolower(c))) < 0)
				return -1;
		}
		return 0;
	case NORM_PREPEND:
		if (n && hft_buf_add(out, st->str, st->len) < 0)
			return -1;
		return hft_buf_add(out, s, n);
	case NORM_STRIP: {
		size_t a = 0, b = n, len;
		while (st->a && a < b && hft_is_space(hft_utf8_next(s + a, b - a, &len)))
			a += len;
		while (st->b && b > a && hft_is_space(last_char(s + a, b - a))) {
			b--;
			while (b > a && ((unsigned char)s[b] & 0xC0) == 0x80)
				b--;
		}
		return hft_buf_add(out, s + a, b - a);
	}
	case NORM_REPLACE: {
		struct hft_segs sg = { 0 };
		int rc = hft_re_segs(st->re, t->md, 0, s, n, &sg);
		if (hft_buf_add(out, "", 0) < 0)
			rc = -1;
		for (size_t i = 0; rc == 0 && i < sg.n; i++)
			rc = sg.v[i].m ? hft_buf_add(out, st->str, st->len) :
					 hft_buf_add(out, s + sg.v[i].a, sg.v[i].b - sg.v[i].a);
		free(sg.v);
		return rc;
	}
	default:
		return -1;
	}
}

int hft_normalize(const struct hftok *t, const char *s, size_t n, struct hft_buf *out)
{
	struct hft_buf tmp[2] = { { 0 }, { 0 } };
	int rc = 0, k = 0;
	const char *cur = s;
	size_t curn = n;
	for (size_t i = 0; rc == 0 && i < t->nnorm; i++, k ^= 1) {
		rc = norm_step(t, &t->norm[i], cur, curn, &tmp[k]);
		cur = tmp[k].p;
		curn = tmp[k].n;
	}
	out->n = 0;
	if (rc == 0)
		rc = hft_buf_add(out, cur, curn);
	free(tmp[0].p);
	free(tmp[1].p);
	return rc;
}

/* ---- added tokens ---- */

/* Where added tokens may start, for one hftok_encode call: the bytes that begin one (a
 * text is scanned for those only, with memchr when there is one such byte, as in most
 * files: '<'), and per first byte, built when the byte first comes up, the second bytes
 * of its tokens (a file may have thousands of tokens starting with '<', and most '<' in
 * text begin none of them). */
struct added_idx {
	unsigned char first[256];
	int nfirst;
	unsigned char only;          /* the first byte when nfirst == 1 */
	unsigned char built[256];
	unsigned char one[2][256];   /* [normalized][c]: a one-byte token c */
	uint64_t second[2][256][4];  /* [normalized][c]: bit b, a token c b... */
};

static void added_idx_init(const struct hftok *t, struct added_idx *x)
{
	x->nfirst = 0;
	for (int c = 0; c < 256; c++) {
		x->first[c] = t->abyte[c] < t->abyte[c + 1];
		if (x->first[c]) {
			x->nfirst++;
			x->only = (unsigned char)c;
		}
	}
	memset(x->built, 0, sizeof x->built);
}

static const struct hft_added *added_at(const struct hftok *t, struct added_idx *x, int normalized,
					const char *s, size_t n, size_t i)
{
	unsigned c = (unsigned char)s[i];
	if (!x->built[c]) {
		x->one[0][c] = x->one[1][c] = 0;
		memset(x->second[0][c], 0, sizeof x->second[0][c]);
		memset(x->second[1][c], 0, sizeof x->second[1][c]);
		for (uint32_t k = t->abyte[c]; k < t->abyte[c + 1]; k++) {
			const struct hft_added *d = &t->added[t->aidx[k]];
			unsigned c2 = d->len > 1 ? (unsigned char)d->content[1] : 0;
			if (d->len == 1)
				x->one[d->normalized][c] = 1;
			else
				x->second[d->normalized][c][c2 >> 6] |= 1ull << (c2 & 63);
		}
		x->built[c] = 1;
	}
	unsigned c2 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
	if (!x->one[normalized][c] &&
	    (i + 1 >= n || !(x->second[normalized][c][c2 >> 6] >> (c2 & 63) & 1)))
		return NULL;
	for (uint32_t k = t->abyte[c]; k < t->abyte[c + 1]; k++) {
		const struct hft_added *d = &t->added[t->aidx[k]];
		if (d->normalized == normalized && d->len <= n - i &&
		    (d->len == 1 || (unsigned char)d->content[1] == c2) &&
		    !memcmp(d->content, s + i, d->len))
			return d; /* the bucket is longest first */
	}
	return NULL;
}

/* Cut the added tokens whose normalized flag is `normalized` out of s into l:
 * leftmost-longest, then single_word, lstrip, rstrip as AddedVocabulary::find_matches */
static int split_added(const struct hftok *t, struct added_idx *x, int normalized, const char *s,
		       size_t n, int first, struct plist *l)
{
	size_t from = 0, i = 0;
	while (i < n) {
		if (x->nfirst == 1) {
			const char *p = memchr(s + i, x->only, n - i);
			if (!p)
				break;
			i = (size_t)(p - s);
		} else {
			while (i < n && !x->first[(unsigned char)s[i]])
				i++;
			if (i == n)
				break;
		}
		const struct hft_added *best = added_at(t, x, normalized, s, n, i);
		if (!best) {
			i++;
			continue;
		}
		size_t a = i, b = i + best->len, len;
		if (best->single_word &&
		    ((a > 0 && is_word_char(last_char(s, a))) ||
		     (b < n && is_word_char(hft_utf8_next(s + b, n - b, &len))))) {
			i = b;
			continue;
		}
		if (best->lstrip)
			while (a > from && hft_is_space(last_char(s + from, a - from))) {
				a--;
				while (a > from && ((unsigned char)s[a] & 0xC0) == 0x80)
					a--;
			}
		if (best->rstrip)
			while (b < n && hft_is_space(hft_utf8_next(s + b, n - b, &len)))
				b += len;
		if (push_first(l, s + from, a - from, first && from == 0) < 0 ||
		    push_piece(l, "", 0, best->id) < 0)
			return -1;
		from = i = b;
	}
	return push_first(l, s + from, n - from, first && from == 0);
}

/* ---- pre-tokenizers ---- */

static int bytelevel_map(struct plist *l, const char *s, size_t n, int first)
{
	if (n == 0)
		return 0;
	if (hft_buf_reserve(&l->b, n * 2) < 0)
		return -1;
	char *d = l->b.p + l->b.n;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = hft_byte_chars[(unsigned char)s[i]];
		d[k++] = c[0];
		if (c[1])
			d[k++] = c[1];
	}
	l->b.n += k;
	return push_written(l, k, first);
}

/* Metaspace: spaces become the replacement, which is put in front (always, or only
 * on the piece at the start of the input), then pieces start at each replacement */
static int metaspace(const struct hft_step *st, const char *s, size_t n, int first,
		     struct plist *out, struct hft_segs *sg, struct hft_buf *tmp)
{
	tmp->n = 0;
	if (hft_buf_add(tmp, "", 0) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((s[i] == ' ' ? hft_buf_add(tmp, st->str, st->len) : hft_buf_add(tmp, s + i, 1)) < 0)
			return -1;
	int starts = tmp->n >= st->len && !memcmp(tmp->p, st->str, st->len);
	if (!starts && (st->a == 2 || (st->a == 1 && first))) {
		if (hft_buf_add(tmp, st->str, st->len) < 0)
			return -1;
		memmove(tmp->p + st->len, tmp->p, tmp->n - st->len);
		memcpy(tmp->p, st->str, st->len);
	}
	if (!st->b)
		return push_first(out, tmp->p, tmp->n, first);
	sg->n = 0;
	size_t last = 0;
	for (size_t i = 0; i + st->len <= tmp->n;) {
		if (memcmp(tmp->p + i, st->str, st->len)) {
			i++;
			continue;
		}
		if ((last < i && hft_push_seg(sg, last, i, 0) < 0) || hft_push_seg(sg, i, i + st->len, 1) < 0)
			return -1;
		i += st->len;
		last = i;
	}
	if (last < tmp->n && hft_push_seg(sg, last, tmp->n, 0) < 0)
		return -1;
	behave(sg, SPLIT_NEXT);
	for (size_t i = 0; i < sg->n; i++)
		if (push_first(out, tmp->p + sg->v[i].a, sg->v[i].b - sg->v[i].a,
			       first && sg->v[i].a == 0) < 0)
			return -1;
	return 0;
}

/* known: hft_known_pattern() of a Split's regex */
static int pre_step(struct hftok *t, const struct hft_step *st, int known, const char *s, size_t n,
		    int first, struct plist *out, struct hft_segs *sg, struct hft_buf *tmp)
{
	if (st->kind == PRE_METASPACE)
		return metaspace(st, s, n, first, out, sg, tmp);
	if (st->kind == PRE_BYTELEVEL) {
		if (st->a && s[0] != ' ') {
			tmp->n = 0;
			if (hft_buf_add(tmp, " ", 1) < 0 || hft_buf_add(tmp, s, n) < 0)
				return -1;
			s = tmp->p;
			n = tmp->n;
		}
		if (!st->b)
			return bytelevel_map(out, s, n, first);
		if (hft_re_segs(st->re, t->md, 0, s, n, sg) < 0)
			return -1;
		for (size_t i = 0; i < sg->n; i++)
			if (bytelevel_map(out, s + sg->v[i].a, sg->v[i].b - sg->v[i].a,
					  first && sg->v[i].a == 0) < 0)
				return -1;
		return 0;
	}
	if (st->kind == PRE_SPLIT) {
		if (hft_re_segs(st->re, t->md, known, s, n, sg) < 0)
			return -1;
		if (st->invert)
			for (size_t i = 0; i < sg->n; i++)
				sg->v[i].m = !sg->v[i].m;
		behave(sg, st->behavior);
	} else {
		if (digit_segs(s, n, sg) < 0)
			return -1;
		behave(sg, st->a ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS);
	}
	for (size_t i = 0; i < sg->n; i++)
		if (push_first(out, s + sg->v[i].a, sg->v[i].b - sg->v[i].a, first && sg->v[i].a == 0) < 0)
			return -1;
	return 0;
}


/* ---- the whole ---- */

int hftok_encode(struct hftok *t, const char *text, size_t n, int add_special,
		 struct hftok_ids *ids, struct err *e)
{
	struct hft_buf clean = { 0 }, norm = { 0 }, tmp = { 0 };
	struct plist a = { 0 }, b = { 0 };
	struct hft_segs sg = { 0 };
	struct added_idx *ax = malloc(sizeof *ax);
	int rc = -1;
	if (!ax)
		goto nomem;
	added_idx_init(t, ax);
	if (hft_lossy(&clean, text, n) < 0 || split_added(t, ax, 0, clean.p, clean.n, 1, &a) < 0)
		goto nomem;
	for (size_t i = 0; i < a.n; i++) {
		struct hft_piece p = a.v[i];
		if (p.id >= 0) {
			if (push_piece(&b, "", 0, p.id) < 0)
				goto nomem;
			continue;
		}
		if (!t->nnorm) { /* no copy when there is nothing to normalize */
			if (split_added(t, ax, 1, a.b.p + p.off, p.len, p.first, &b) < 0)
				goto nomem;
			continue;
		}
		if (hft_normalize(t, a.b.p + p.off, p.len, &norm) < 0 ||
		    split_added(t, ax, 1, norm.p, norm.n, p.first, &b) < 0)
			goto nomem;
	}
	for (size_t s = 0; s < t->npre; s++) {
		/* sized from the input so that it is not grown by doubling: a split gives a
		 * piece per few bytes, ByteLevel's characters take at most two bytes a byte */
		struct plist c = { 0 };
		if (plist_reserve(&c, b.n + b.b.n / 3 + 16, 2 * b.b.n + 16) < 0) {
			free(c.v);
			free(c.b.p);
			goto nomem;
		}
		int known = t->pre[s].kind == PRE_SPLIT ? hft_known_pattern(t->pre[s].re) : 0;
		for (size_t i = 0; i < b.n; i++) {
			struct hft_piece p = b.v[i];
			if ((p.id >= 0 ? push_piece(&c, "", 0, p.id) :
			     pre_step(t, &t->pre[s], known, b.b.p + p.off, p.len, p.first, &c, &sg, &tmp)) < 0) {
				free(c.v);
				free(c.b.p);
				goto nomem;
			}
		}
		free(b.v);
		free(b.b.p);
		b = c;
	}
	if (add_special)
		for (size_t i = 0; i < t->nbos; i++)
			if (hft_ids_push(ids, t->bos[i]) < 0)
				goto nomem;
	if (hft_bpe(t, b.b.p, b.v, b.n, ids) < 0)
		goto nomem;
	if (add_special)
		for (size_t i = 0; i < t->neos; i++)
			if (hft_ids_push(ids, t->eos[i]) < 0)
				goto nomem;
	rc = 0;
	goto out;
nomem:
	err_set(e, ERR_NOMEM, "cannot tokenize with '%s': out of memory or a regex failed", t->path);
out:
	free(clean.p);
	free(norm.p);
	free(tmp.p);
	free(a.v);
	free(a.b.p);
	free(b.v);
	free(b.b.p);
	free(sg.v);
	free(ax);
	return rc;
}
