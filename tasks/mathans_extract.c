/* mathans_extract — finding the final answer in a completion; see mathans.h. */
#include "mathans.h"

#include <string.h>

#include "rewards.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* s[0..*len) trimmed of ASCII whitespace; NULL when nothing is left. */
static const char *trimmed(const char *s, size_t *len)
{
	while (*len && is_space(*s)) {
		s++;
		(*len)--;
	}
	while (*len && is_space(s[*len - 1]))
		(*len)--;
	return *len ? s : NULL;
}

/* 1 if s[i] is preceded by an odd run of backslashes (an escaped character). The run
 * is counted once per brace that follows it, so a scan stays linear. */
static int escaped(const char *s, size_t i)
{
	size_t k = 0;
	while (k < i && s[i - 1 - k] == '\\')
		k++;
	return k & 1;
}

/*
 * The last balanced \boxed{ in one right-to-left pass with constant memory. D(i) is
 * the brace depth before byte i (unescaped '{' +1, '}' -1). The brace at p of
 * "\boxed{" is closed iff some j > p has D(j) <= D(p), i.e. iff the minimum of D over
 * (p, len] — kept while walking left — is at most D(p); then a forward scan from p
 * finds where it closes. Candidates with blank content are skipped.
 */
const char *mathans_boxed(const char *s, size_t len, size_t *out_len)
{
	static const char tag[] = "\\boxed";
	const size_t tl = sizeof tag - 1;
	long long d = 0, m;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\') {
			i++;  /* an escaped character, or the first of "\\" */
			continue;
		}
		d += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
	}
	m = d;  /* D(len) */
	for (size_t i = len; i-- > 0;) {
		char c = s[i];
		if ((c != '{' && c != '}') || escaped(s, i)) {
			continue;
		}
		if (c == '}') {
			d++;
			continue;
		}
		d--;  /* d = D(i) */
		if (i >= tl && memcmp(s + i - tl, tag, tl) == 0 && m <= d) {
			size_t j = i + 1;
			long long depth = 1;
			for (; j < len; j++) {
				if (s[j] == '\\') {
					j++;
					continue;
				}
				depth += s[j] == '{' ? 1 : s[j] == '}' ? -1 : 0;
				if (depth == 0)
					break;
			}
			size_t n = j - (i + 1);
			const char *a = trimmed(s + i + 1, &n);
			if (a) {
				*out_len = n;
				return a;
			}
		}
		if (d < m)
			m = d;
	}
	return NULL;
}

const char *mathans_hash(const char *s, size_t len, size_t *out_len)
{
	size_t i = len;
	while (i >= 4 && memcmp(s + i - 4, "####", 4) != 0)
		i--;
	if (i < 4)
		return NULL;
	size_t e = i;
	while (e < len && s[e] != '\n' && !(s[e] == '<' && rewards_special_at(s + e, len - e)))
		e++;
	size_t n = e - i;
	const char *a = trimmed(s + i, &n);
	if (a)
		*out_len = n;
	return a;
}

/* Start of the number ending at s[end - 1] (a digit): digits, and ',' or '.' between
 * digits. */
static size_t number_start(const char *s, size_t end)
{
	size_t b = end - 1;
	while (b > 0 && (is_digit(s[b - 1]) ||
			((s[b - 1] == ',' || s[b - 1] == '.') && b >= 2 && is_digit(s[b - 2]))))
		b--;
	return b;
}

const char *mathans_last_number(const char *s, size_t len, size_t *out_len)
{
	size_t e = len;
	while (e > 0 && !is_digit(s[e - 1]))
		e--;
	if (e == 0)
		return NULL;
	size_t b = number_start(s, e);
	if (b >= 2 && s[b - 1] == '/' && is_digit(s[b - 2]))
		b = number_start(s, b - 1);
	if (b >= 1 && s[b - 1] == '-' && (b == 1 || !is_alnum(s[b - 2])))
		b--;
	*out_len = e - b;
	return s + b;
}

int mathans_extract(const char *c, size_t len, const enum mathans_step *steps, int n,
	const char *tag_answer, size_t tag_len, const char **ans, size_t *alen)
{
	for (int i = 0; i < n; i++) {
		const char *a = NULL;
		size_t k = 0;
		switch (steps[i]) {
		case MATHANS_ANSWER_TAG:
			k = tag_len;
			a = tag_answer ? trimmed(tag_answer, &k) : NULL;
			break;
		case MATHANS_BOXED: a = mathans_boxed(c, len, &k); break;
		case MATHANS_HASH: a = mathans_hash(c, len, &k); break;
		case MATHANS_LAST_NUMBER: a = mathans_last_number(c, len, &k); break;
		}
		if (a) {
			*ans = a;
			*alen = k;
			return (int)steps[i];
		}
	}
	return -1;
}
