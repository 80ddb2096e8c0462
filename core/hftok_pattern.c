/*
 * hftok_pattern — a regex's matches over a text as the reference library's
 * Pattern::find_matches gives them (hft_re_segs: the matches and the gaps between them,
 * in order, covering the text), for the Split and ByteLevel pre-tokenizers and the
 * Replace normalizer; PCRE2 runs the regex, except for the pattern of Llama-3 and
 * Qwen2/2.5/3, which is matched by hand where the text is ASCII (below).
 *
 * hft_known_pattern tells whether a compiled regex is that pattern (and which of its two
 * forms); the caller passes what it returns to hft_re_segs. Segments go into a
 * struct hft_segs the caller owns and frees (its v), reused from call to call.
 */
#include "hftok_impl.h"

#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/types.h>

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
int hft_known_pattern(const pcre2_code *re)
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

/* ---- matches, as the library's Pattern::find_matches ---- */

/* Matches and the gaps between them, covering s; empty matches are skipped. With
 * `known` (hft_known_pattern's digits) a match is found by known_match when it can be. */
int hft_re_segs(pcre2_code *re, pcre2_match_data *md, int known, const char *s, size_t n,
		   struct hft_segs *out)
{
	out->n = 0;
	size_t prev = 0, at = 0, jit = 0;
	int checked = 0;
	pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit);
	while (at <= n) {
		ssize_t e = known && at < n ? known_match(s, n, at, known) : -1;
		if (e > 0) {
			if (hft_push_seg(out, at, (size_t)e, 1) < 0)
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
		if (prev != a && hft_push_seg(out, prev, a, 0) < 0)
			return -1;
		if (hft_push_seg(out, a, b, 1) < 0)
			return -1;
		prev = at = b;
	}
	if (prev != n && hft_push_seg(out, prev, n, 0) < 0)
		return -1;
	return 0;
}
