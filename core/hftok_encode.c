/*
 * hftok_encode — text to ids, in the reference library's order: added tokens cut out
 * (raw text, then normalized text), normalizers, pre-tokenizers, BPE, post-processor.
 *
 * The text travels as a list of pieces, each either text or an already decided token
 * id; every step rewrites the text pieces into a new list and drops empty ones, as
 * the library's PreTokenizedString does. The BPE result of each word (up to 256
 * bytes) is kept in a direct-mapped cache in the handle.
 *
 * Speed (bench/tokenize.sh measures it against the references): a word's merges go
 * through a priority queue, as the library's, so a long word costs O(m log m) rather
 * than a rescan per merge; the Unicode normalizers pass ASCII through untouched;
 * added tokens are looked for only where one can start; the pre-tokenizer pattern of
 * Llama-3 and Qwen2/2.5/3 is matched by hand where the text is ASCII (PCRE2 elsewhere,
 * and for every other pattern); pieces are written in place rather than copied
 * through temporary buffers. None of this changes a result: each shortcut is exact,
 * and tests/integration/test_tokenizer_parity.sh checks the ids against the library.
 */
#include "hftok_impl.h"

#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/types.h>

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

struct piece {
	size_t off, len;
	int32_t id;  /* >= 0: a decided token */
	int first;   /* starts at offset 0 of the input (Metaspace's prepend_scheme "first") */
};

struct plist {
	struct piece *v;
	size_t n, cap;
	struct hft_buf b;
};

/* room for n more bytes (and a NUL) in b */
static int buf_reserve(struct hft_buf *b, size_t n)
{
	if (b->n + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->n + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* room for about `pieces` pieces of `bytes` bytes in all (a hint: lists still grow) */
static int plist_reserve(struct plist *l, size_t pieces, size_t bytes)
{
	if (pieces > l->cap) {
		struct piece *v = realloc(l->v, pieces * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = pieces;
	}
	return buf_reserve(&l->b, bytes);
}

/* a piece for the last n bytes of l->b (written there by the caller) */
static int push_written(struct plist *l, size_t n, int first)
{
	if (n == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct piece *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct piece){ l->b.n - n, n, -1, first };
	return 1;
}

static int push_piece(struct plist *l, const char *s, size_t n, int32_t id)
{
	if (id < 0 && n == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct piece *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (buf_reserve(&l->b, n) < 0)
		return -1;
	l->v[l->n++] = (struct piece){ l->b.n, n, id, 0 };
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

/* ---- regex matches as the library's Pattern::find_matches ---- */

struct seg {
	size_t a, b;
	int m;
};

struct segs {
	struct seg *v;
	size_t n, cap;
};

static int push_seg(struct segs *s, size_t a, size_t b, int m)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct seg *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct seg){ a, b, m };
	return 0;
}

/* ---- the pre-tokenizer regex of Llama-3 and Qwen2/2.5/3, by hand ----
 *
 * Most tokenizer.json files of those families split with one of these two patterns,
 * and PCRE2 spends about half of an encode in them. For them a match is found here
 * by hand while the characters it depends on are ASCII (A-Z a-z letters, 0-9 digits,
 * \t \n \v \f \r space for \s, the rest neither), following the alternatives in
 * order with the backtracking PCRE2 would do; any other character it would need to
 * classify hands that match back to PCRE2. A file's pattern is recognised by its
 * compiled form: PCRE2's serialization of a pattern is the same bytes for the same
 * pattern and options, so it is compared with that of these strings compiled the same
 * way (hftok_parts.c: UTF and UCP). Every position of a text starts a match of these
 * patterns (each character is a letter, a digit, a space or none of those), so matches
 * are found at the current position. */
enum { C_L, C_N, C_S, C_P, C_U }; /* letter, digit, \s, other ASCII; not ASCII */

static unsigned char ascii_cls[256]; /* made by known_init */

static void ascii_cls_init(void)
{
	for (int c = 0; c < 256; c++)
		ascii_cls[c] = c >= 0x80 ? C_U : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? C_L :
			       c >= '0' && c <= '9' ? C_N : c == ' ' || (c >= 9 && c <= 13) ? C_S : C_P;
}

static inline int ascii_class(const char *s, size_t i)
{
	return ascii_cls[(unsigned char)s[i]];
}

/* the end of the run of class k from i; -1 when a non-ASCII character stops it */
static inline ssize_t run_end(const char *s, size_t n, size_t i, int k)
{
	while (i < n && ascii_cls[(unsigned char)s[i]] == k)
		i++;
	return i < n && ascii_cls[(unsigned char)s[i]] == C_U ? -1 : (ssize_t)i;
}

static const char *const known_src[2] = {
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
static const int known_digits[2] = { 3, 1 };
static struct {
	uint8_t *bytes;     /* serialized; made once, kept for the process */
	int32_t size;
	size_t codesize;
} known[2];
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void known_init(void)
{
	ascii_cls_init();
	for (int k = 0; k < 2; k++) {
		int code;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)known_src[k], PCRE2_ZERO_TERMINATED,
					       PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
		if (!re)
			continue;
		const pcre2_code *list[1] = { re };
		PCRE2_SIZE size;
		if (pcre2_pattern_info(re, PCRE2_INFO_SIZE, &known[k].codesize) == 0 &&
		    pcre2_serialize_encode(list, 1, &known[k].bytes, &size, NULL) == 1)
			known[k].size = (int32_t)size;
		else
			known[k].bytes = NULL;
		pcre2_code_free(re);
	}
}

/* how many digits a number match takes (3 or 1) when re is one of the known patterns,
 * else 0 */
static int known_pattern(const pcre2_code *re)
{
	pthread_once(&known_once, known_init);
	size_t codesize;
	if (pcre2_pattern_info(re, PCRE2_INFO_SIZE, &codesize) != 0)
		return 0;
	int found = 0;
	uint8_t *bytes = NULL;
	PCRE2_SIZE size = 0;
	for (int k = 0; k < 2 && !found; k++) {
		if (!known[k].bytes || known[k].codesize != codesize)
			continue;
		const pcre2_code *list[1] = { re };
		if (!bytes && pcre2_serialize_encode(list, 1, &bytes, &size, NULL) != 1)
			return 0;
		if ((size_t)known[k].size == size && !memcmp(known[k].bytes, bytes, size))
			found = known_digits[k];
	}
	if (bytes)
		pcre2_serialize_free(bytes);
	return found;
}

/* The match at `at` (at < n) of the known pattern with `digits`: its end, or -1 when it
 * depends on a character that is not ASCII. */
static ssize_t known_match(const char *s, size_t n, size_t at, int digits)
{
	int c0 = ascii_class(s, at);
	if (c0 == C_U)
		return -1;
	/* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
	if (s[at] == '\'' && at + 1 < n) {
		unsigned char c1 = (unsigned char)s[at + 1];
		if (c1 >= 0x80)
			return -1; /* caseless s also matches U+017F */
		c1 |= 0x20;
		if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
			return (ssize_t)at + 2;
		if ((c1 == 'r' || c1 == 'v' || c1 == 'l') && at + 2 < n) {
			unsigned char c2 = (unsigned char)s[at + 2];
			if (c2 >= 0x80)
				return -1;
			if ((c2 | 0x20) == (c1 == 'l' ? 'l' : 'e'))
				return (ssize_t)at + 3;
		}
	}
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	if (c0 == C_L)
		return run_end(s, n, at, C_L);
	if ((c0 == C_P || c0 == C_S) && s[at] != '\r' && s[at] != '\n' && at + 1 < n) {
		int c1 = ascii_class(s, at + 1);
		if (c1 == C_U)
			return -1;
		if (c1 == C_L)
			return run_end(s, n, at + 1, C_L);
	}
	/* \p{N}{1,3} or \p{N} */
	if (c0 == C_N) {
		size_t e = at + 1;
		while ((int)(e - at) < digits && e < n) {
			int c = ascii_class(s, e);
			if (c == C_U)
				return -1;
			if (c != C_N)
				break;
			e++;
		}
		return (ssize_t)e;
	}
	/* ?[^\s\p{L}\p{N}]+[\r\n]* */
	size_t p = at;
	if (s[at] == ' ' && at + 1 < n) {
		int c1 = ascii_class(s, at + 1);
		if (c1 == C_U)
			return -1;
		if (c1 == C_P)
			p = at + 1;
	}
	if (ascii_class(s, p) == C_P) {
		ssize_t q = run_end(s, n, p, C_P);
		if (q < 0)
			return -1;
		while ((size_t)q < n && (s[q] == '\r' || s[q] == '\n'))
			q++;
		return q;
	}
	/* \s*[\r\n]+ | \s+(?!\S) | \s+ on a run of spaces (c0 is C_S here) */
	ssize_t e = run_end(s, n, at, C_S);
	if (e < 0)
		return -1; /* a non-ASCII character may be a space */
	for (ssize_t i = e; i-- > (ssize_t)at;)
		if (s[i] == '\r' || s[i] == '\n')
			return i + 1;
	if ((size_t)e == n || e - (ssize_t)at == 1)
		return e;
	return e - 1;
}

/* Matches and the gaps between them, covering s; empty matches are skipped. With
 * `known` (known_pattern's digits) a match is found by known_match when it can be. */
static int re_segs(pcre2_code *re, pcre2_match_data *md, int known, const char *s, size_t n,
		   struct segs *out)
{
	out->n = 0;
	size_t prev = 0, at = 0, jit = 0;
	int checked = 0;
	pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit);
	while (at <= n) {
		ssize_t e = known && at < n ? known_match(s, n, at, known) : -1;
		if (e > 0) {
			if (push_seg(out, at, (size_t)e, 1) < 0)
				return -1;
			prev = at = (size_t)e;
			continue;
		}
		/* the subject's UTF-8 is checked on the first call only (again on each call
		 * would be quadratic); later calls go straight to the JIT code when there is
		 * some, sparing pcre2_match's checks, which are a good part of a short match */
		int rc = checked && jit ? pcre2_jit_match(re, (PCRE2_SPTR)s, n, at, 0, md, NULL) :
			 pcre2_match(re, (PCRE2_SPTR)s, n, at, checked ? PCRE2_NO_UTF_CHECK : 0, md, NULL);
		checked = 1;
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return -1;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t a = ov[0], b = ov[1];
		if (a == b) { /* an empty match: try again one character on */
			if (a >= n)
				break;
			size_t len;
			hft_utf8_next(s + a, n - a, &len);
			at = a + len;
			continue;
		}
		if (prev != a && push_seg(out, prev, a, 0) < 0)
			return -1;
		if (push_seg(out, a, b, 1) < 0)
			return -1;
		prev = at = b;
	}
	if (prev != n && push_seg(out, prev, n, 0) < 0)
		return -1;
	return 0;
}

static int digit_segs(const char *s, size_t n, struct segs *out)
{
	out->n = 0;
	size_t last = 0, i = 0, len;
	while (i < n) {
		int32_t c = hft_utf8_next(s + i, n - i, &len);
		if (c >= 0 && is_numeric(c)) {
			if (last < i && push_seg(out, last, i, 0) < 0)
				return -1;
			if (push_seg(out, i, i + len, 1) < 0)
				return -1;
			last = i + len;
		}
		i += len;
	}
	if (n > last && push_seg(out, last, n, 0) < 0)
		return -1;
	return 0;
}

/* SplitDelimiterBehavior applied to segments, in place; m of the result is unused */
static void behave(struct segs *s, int behavior)
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
		struct segs sg = { 0 };
		int rc = re_segs(st->re, t->md, 0, s, n, &sg);
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
	if (buf_reserve(&l->b, n * 2) < 0)
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
		     struct plist *out, struct segs *sg, struct hft_buf *tmp)
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
		if ((last < i && push_seg(sg, last, i, 0) < 0) || push_seg(sg, i, i + st->len, 1) < 0)
			return -1;
		i += st->len;
		last = i;
	}
	if (last < tmp->n && push_seg(sg, last, tmp->n, 0) < 0)
		return -1;
	behave(sg, SPLIT_NEXT);
	for (size_t i = 0; i < sg->n; i++)
		if (push_first(out, tmp->p + sg->v[i].a, sg->v[i].b - sg->v[i].a,
			       first && sg->v[i].a == 0) < 0)
			return -1;
	return 0;
}

/* known: known_pattern() of a Split's regex */
static int pre_step(struct hftok *t, const struct hft_step *st, int known, const char *s, size_t n,
		    int first, struct plist *out, struct segs *sg, struct hft_buf *tmp)
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
		if (re_segs(st->re, t->md, 0, s, n, sg) < 0)
			return -1;
		for (size_t i = 0; i < sg->n; i++)
			if (bytelevel_map(out, s + sg->v[i].a, sg->v[i].b - sg->v[i].a,
					  first && sg->v[i].a == 0) < 0)
				return -1;
		return 0;
	}
	if (st->kind == PRE_SPLIT) {
		if (re_segs(st->re, t->md, known, s, n, sg) < 0)
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

/* ---- BPE ---- */

/* room for n more ids in o */
static int ids_reserve(struct hftok_ids *o, size_t n)
{
	if (o->n + n <= o->cap)
		return 0;
	size_t cap = o->cap ? o->cap : 64;
	while (cap < o->n + n)
		cap *= 2;
	int32_t *v = realloc(o->v, cap * sizeof *v);
	if (!v)
		return -1;
	o->v = v;
	o->cap = cap;
	return 0;
}

static int ids_push(struct hftok_ids *o, int32_t id)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		int32_t *v = realloc(o->v, cap * sizeof *v);
		if (!v)
			return -1;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = id;
	return 0;
}

static int merge_get(const struct hftok *t, int32_t a, int32_t b, uint32_t *rank, int32_t *new)
{
	uint64_t key = (uint64_t)(a + 1) << 32 | (uint32_t)b;
	uint64_t k = key;
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	for (size_t h = k & t->mmask;; h = (h + 1) & t->mmask) {
		if (!t->merge[h].key)
			return 0;
		if (t->merge[h].key == key) {
			*rank = t->merge[h].rank;
			*new = t->merge[h].new;
			return 1;
		}
	}
}

/* Scratch space of one hftok_encode call for the merges of its words: the symbols as a
 * doubly linked list over an array, and a binary min-heap of candidate merges. */
struct bpe_sym {
	int32_t id;
	int32_t prev, next; /* -1: none */
	int alive;
};

struct bpe_cand {
	uint64_t key;       /* rank << 32 | position of the left symbol: the heap's order */
	int32_t new;
};

struct bpe_work {
	struct bpe_sym *sym;
	struct bpe_cand *heap;
	size_t nsym, symcap, nheap, heapcap;
};

static int heap_push(struct bpe_work *w, uint32_t rank, size_t pos, int32_t new)
{
	if (w->nheap == w->heapcap) {
		size_t cap = w->heapcap ? w->heapcap * 2 : 64;
		struct bpe_cand *h = realloc(w->heap, cap * sizeof *h);
		if (!h)
			return -1;
		w->heap = h;
		w->heapcap = cap;
	}
	struct bpe_cand c = { (uint64_t)rank << 32 | pos, new };
	size_t i = w->nheap++;
	while (i > 0 && w->heap[(i - 1) / 2].key > c.key) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = c;
	return 0;
}

static struct bpe_cand heap_pop(struct bpe_work *w)
{
	struct bpe_cand top = w->heap[0], last = w->heap[--w->nheap];
	size_t i = 0, n = w->nheap;
	for (;;) {
		size_t k = 2 * i + 1;
		if (k >= n)
			break;
		if (k + 1 < n && w->heap[k + 1].key < w->heap[k].key)
			k++;
		if (w->heap[k].key >= last.key)
			break;
		w->heap[i] = w->heap[k];
		i = k;
	}
	if (n)
		w->heap[i] = last;
	return top;
}

/* The merges of the symbols sym[0..m): the best-ranked applicable merge first, the
 * leftmost of equal ranks, as the reference library's Word::merge_all with its queue of
 * (rank, position, merged id) candidates. A candidate is stale when its left symbol was
 * merged away, has no right neighbour any more, or the pair there now merges into
 * another id; stale candidates are dropped when they come up. O(m log m) where a rescan
 * per merge would be O(m^2) (words of thousands of bytes occur). Returns the new m. */
static ssize_t bpe_merge(const struct hftok *t, struct bpe_work *w, int32_t *ids, size_t m)
{
	if (m < 2)
		return (ssize_t)m;
	if (m > w->symcap) {
		struct bpe_sym *s = realloc(w->sym, m * sizeof *s);
		if (!s)
			return -1;
		w->sym = s;
		w->symcap = m;
	}
	struct bpe_sym *sym = w->sym;
	w->nheap = 0;
	for (size_t i = 0; i < m; i++)
		sym[i] = (struct bpe_sym){ ids[i], (int32_t)i - 1, i + 1 < m ? (int32_t)i + 1 : -1, 1 };
	uint32_t r;
	int32_t nw;
	for (size_t i = 0; i + 1 < m; i++)
		if (merge_get(t, ids[i], ids[i + 1], &r, &nw) && heap_push(w, r, i, nw) < 0)
			return -1;
	while (w->nheap) {
		struct bpe_cand c = heap_pop(w);
		size_t pos = (size_t)(uint32_t)c.key;
		struct bpe_sym *a = &sym[pos];
		if (!a->alive || a->next < 0)
			continue;
		struct bpe_sym *b = &sym[a->next];
		if (!merge_get(t, a->id, b->id, &r, &nw) || nw != c.new)
			continue;
		a->id = c.new;
		a->next = b->next;
		b->alive = 0;
		if (a->next >= 0)
			sym[a->next].prev = (int32_t)pos;
		if (a->prev >= 0 && merge_get(t, sym[a->prev].id, a->id, &r, &nw) &&
		    heap_push(w, r, (size_t)a->prev, nw) < 0)
			return -1;
		if (a->next >= 0 && merge_get(t, a->id, sym[a->next].id, &r, &nw) &&
		    heap_push(w, r, pos, nw) < 0)
			return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < m; i++)
		if (sym[i].alive)
			ids[k++] = sym[i].id;
	return (ssize_t)k;
}

/* the cache slot of a word: 8 bytes at a time (words are short, and this runs once per
 * word of the text) */
static uint64_t word_hash(const char *s, size_t n)
{
	uint64_t h = n * 0x9E3779B97F4A7C15ull, x;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&x, s, 8);
		h = (h ^ x) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	x = 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)(unsigned char)s[i] << (8 * i);
	h = (h ^ x) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 32);
}

static int bpe_word(struct hftok *t, struct bpe_work *wk, const char *w, size_t n,
		    struct hftok_ids *out)
{
	/* The cache is two-way: a word's pair of slots holds the last two of its words
	 * used, the more recent first (a word sharing a slot with a common one would
	 * otherwise be merged again at each use). */
	struct hft_cache_ent *ce = NULL;
	if (n <= 256) {
		ce = &t->cache[word_hash(w, n) & t->cache_mask & ~(size_t)1];
		for (int k = 0; k < 2 && t->cache_mask; k++) {
			if (!ce[k].word || ce[k].len != n || memcmp(ce[k].word, w, n))
				continue;
			if (ids_reserve(out, ce[k].nids) < 0)
				return -1;
			memcpy(out->v + out->n, ce[k].ids, ce[k].nids * sizeof *ce[k].ids);
			out->n += ce[k].nids;
			if (k) {
				struct hft_cache_ent tmp = ce[0];
				ce[0] = ce[1];
				ce[1] = tmp;
			}
			return 0;
		}
	}
	size_t start = out->n;
	int32_t whole = t->ignore_merges ? hft_vocab_get(t, w, n) : -1;
	if (whole >= 0) {
		if (ids_push(out, whole) < 0)
			return -1;
		goto cache;
	}
	int32_t unk = -1;
	for (size_t i = 0, len; i < n; i += len) {
		hft_utf8_next(w + i, n - i, &len);
		int32_t id = hft_vocab_get(t, w + i, len);
		if (id >= 0) {
			if (unk >= 0 && ids_push(out, unk) < 0)
				return -1;
			unk = -1;
			if (ids_push(out, id) < 0)
				return -1;
			continue;
		}
		if (t->byte_fallback) {
			int32_t bid[4];
			size_t k;
			for (k = 0; k < len; k++) {
				char name[8];
				static const char hex[] = "0123456789ABCDEF";
				unsigned char c = (unsigned char)w[i + k];
				memcpy(name, "<0x", 3);
				name[3] = hex[c >> 4];
				name[4] = hex[c & 15];
				name[5] = '>';
				if ((bid[k] = hft_vocab_get(t, name, 6)) < 0)
					break;
			}
			if (k == len) {
				for (k = 0; k < len; k++)
					if (ids_push(out, bid[k]) < 0)
						return -1;
				continue;
			}
		}
		if (t->unk >= 0) {
			if (unk >= 0 && !t->fuse_unk && ids_push(out, unk) < 0)
				return -1;
			unk = t->unk;
		}
	}
	if (unk >= 0 && ids_push(out, unk) < 0)
		return -1;
	ssize_t m = bpe_merge(t, wk, out->v + start, out->n - start);
	if (m < 0)
		return -1;
	out->n = start + (size_t)m;
cache:
	if (ce) {
		char *cw = malloc(n + 1);
		int32_t *ci = malloc((out->n - start) * sizeof *ci + 1);
		if (!cw || !ci) {
			free(cw);
			free(ci);
			return 0; /* no cache entry: still a correct result */
		}
		if (t->cache_mask) { /* the older of the two goes */
			free(ce[1].word);
			free(ce[1].ids);
			ce[1] = ce[0];
		} else {
			free(ce->word);
			free(ce->ids);
		}
		memcpy(cw, w, n);
		memcpy(ci, out->v + start, (out->n - start) * sizeof *ci);
		*ce = (struct hft_cache_ent){ cw, n, ci, (uint32_t)(out->n - start) };
	}
	return 0;
}

/* ---- the whole ---- */

int hftok_encode(struct hftok *t, const char *text, size_t n, int add_special,
		 struct hftok_ids *ids, struct err *e)
{
	struct hft_buf clean = { 0 }, norm = { 0 }, tmp = { 0 };
	struct plist a = { 0 }, b = { 0 };
	struct segs sg = { 0 };
	struct bpe_work wk = { 0 };
	struct added_idx *ax = malloc(sizeof *ax);
	int rc = -1;
	if (!ax)
		goto nomem;
	added_idx_init(t, ax);
	if (hft_lossy(&clean, text, n) < 0 || split_added(t, ax, 0, clean.p, clean.n, 1, &a) < 0)
		goto nomem;
	for (size_t i = 0; i < a.n; i++) {
		struct piece p = a.v[i];
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
		int known = t->pre[s].kind == PRE_SPLIT ? known_pattern(t->pre[s].re) : 0;
		for (size_t i = 0; i < b.n; i++) {
			struct piece p = b.v[i];
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
			if (ids_push(ids, t->bos[i]) < 0)
				goto nomem;
	for (size_t i = 0; i < b.n; i++) {
		struct piece p = b.v[i];
		if ((p.id >= 0 ? ids_push(ids, p.id) : bpe_word(t, &wk, b.b.p + p.off, p.len, ids)) < 0)
			goto nomem;
	}
	if (add_special)
		for (size_t i = 0; i < t->neos; i++)
			if (ids_push(ids, t->eos[i]) < 0)
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
	free(wk.sym);
	free(wk.heap);
	free(ax);
	return rc;
}
