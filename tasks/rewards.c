#include "rewards.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tasks.h"
#include "tokenizer.h"
#include "utf8.h"

#define REWARDS_NKINDS NAMES_REWARD_N

int rewards_kind_parse(const char *fn, enum rewards_kind *kind, struct err *err)
{
	char all[160];
	int k = names_find(names_reward, NAMES_REWARD_N, fn);
	if (k >= 0) {
		*kind = (enum rewards_kind)k;
		return 0;
	}
	return err_set(err, ERR_INVALID, "unknown reward function '%s': expected %s", fn,
		names_list(all, sizeof all, names_reward, NAMES_REWARD_N));
}

const char *rewards_kind_name(enum rewards_kind kind)
{
	assert((int)kind >= 0 && (int)kind < REWARDS_NKINDS);
	return names_reward[kind];
}

void rewards_params_default(struct rewards_params *p)
{
	p->format_credit = 0.1;
	p->alphabet = REWARDS_ALPHABET;
	p->max_tokens = 0;
	p->buffer = 0;
	p->penalty = 1.0;
	for (int i = 0; i < MATHANS_STEPS; i++)
		p->extract[i] = (enum mathans_step)i;
	p->n_extract = MATHANS_STEPS;
}

/* ---- text helpers --------------------------------------------------------------- */

static int rewards_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void rewards_trim(const char **s, size_t *len)
{
	while (*len && rewards_is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && rewards_is_space((*s)[*len - 1]))
		(*len)--;
}

size_t rewards_special_at(const char *s, size_t len)
{
	if (len == 0 || s[0] != '<')
		return 0;
	for (int id = TOK_BOS; id < TOK_NUM_IDS; id++) {
		const char *name = tok_special_name(id);
		size_t k = strlen(name);
		if (k <= len && memcmp(s, name, k) == 0)
			return k;
	}
	return 0;
}

static int rewards_has_special(const char *s, size_t len)
{
	for (const char *p = s; (p = memchr(p, '<', len - (size_t)(p - s))); p++)
		if (rewards_special_at(p, len - (size_t)(p - s)))
			return 1;
	return 0;
}

/* First occurrence of the NUL-terminated needle in s[0..len), or NULL. */
static const char *rewards_find(const char *s, size_t len, const char *needle)
{
	size_t k = strlen(needle);
	for (const char *p = s; (p = memchr(p, needle[0], len - (size_t)(p - s))); p++)
		if ((size_t)(s + len - p) >= k && memcmp(p, needle, k) == 0)
			return p;
	return NULL;
}

static int rewards_starts(const char *s, size_t len, const char *prefix)
{
	size_t k = strlen(prefix);
	return len >= k && memcmp(s, prefix, k) == 0;
}

/* ---- parsing -------------------------------------------------------------------- */

void rewards_parse(const char *c, size_t len, struct rewards_parts *out)
{
	memset(out, 0, sizeof *out);
	out->reasoning = c;
	out->reasoning_len = len;
	const char *end = c + len;
	const char *te = rewards_find(c, len, "</think>");
	if (!te)
		return;
	out->reasoning_len = (size_t)(te - c);
	if (rewards_has_special(c, out->reasoning_len))
		return;
	const char *p = te + strlen("</think>");
	while (p < end && rewards_is_space(*p))
		p++;
	if (!rewards_starts(p, (size_t)(end - p), "<answer>"))
		return;
	const char *a = p + strlen("<answer>");
	const char *ae = rewards_find(a, (size_t)(end - a), "</answer>");
	if (!ae || rewards_has_special(a, (size_t)(ae - a)))
		return;
	for (p = ae + strlen("</answer>"); p < end;) {
		if (rewards_is_space(*p))
			p++;
		else if (rewards_starts(p, (size_t)(end - p), "<|eos|>"))
			p += strlen("<|eos|>");
		else if (rewards_starts(p, (size_t)(end - p), "<|pad|>"))
			p += strlen("<|pad|>");
		else
			return;
	}
	size_t alen = (size_t)(ae - a);
	rewards_trim(&a, &alen);
	if (alen == 0)
		return;
	out->well_formed = 1;
	out->answer = a;
	out->answer_len = alen;
}

/* ---- the functions --------------------------------------------------------------- */

double rewards_format(const struct rewards_input *in)
{
	struct rewards_parts parts;
	rewards_parse(in->completion, in->completion_len, &parts);
	return parts.well_formed ? 1.0 : 0.0;
}

/* s[0..len) is "-"? digits: the digits without leading zeros and the sign (0 for 0). */
static int rewards_integer(const char *s, size_t len, const char **digits, size_t *ndigits,
	int *neg)
{
	*neg = len && s[0] == '-';
	s += *neg;
	len -= (size_t)*neg;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	while (len > 1 && s[0] == '0') {
		s++;
		len--;
	}
	if (len == 1 && s[0] == '0')
		*neg = 0;
	*digits = s;
	*ndigits = len;
	return 1;
}

int rewards_answer_equal(const char *answer, size_t len, const char *reference)
{
	size_t rlen = strlen(reference);
	rewards_trim(&answer, &len);
	rewards_trim(&reference, &rlen);
	const char *da, *dr;
	size_t na, nr;
	int sa, sr;
	if (rewards_integer(answer, len, &da, &na, &sa) &&
			rewards_integer(reference, rlen, &dr, &nr, &sr))
		return sa == sr && na == nr && memcmp(da, dr, na) == 0;
	return len == rlen && memcmp(answer, reference, len) == 0;
}

double rewards_accuracy(const struct rewards_input *in, double format_credit)
{
	struct rewards_parts parts;
	rewards_parse(in->completion, in->completion_len, &parts);
	if (!parts.well_formed || !in->answer)
		return 0.0;
	return rewards_answer_equal(parts.answer, parts.answer_len, in->answer) ? 1.0 :
		format_credit;
}

double rewards_countdown(const struct rewards_input *in, double format_credit)
{
	int64_t nums[TASK_NUMBERS_MAX], target, v;
	int n;
	struct rewards_parts parts;
	rewards_parse(in->completion, in->completion_len, &parts);
	if (!parts.well_formed || !in->prompt ||
			task_countdown_parse(in->prompt, nums, &n, &target) < 0)
		return 0.0;
	if (task_expr_eval(parts.answer, parts.answer_len, nums, n, &v) == TASK_EXPR_OK &&
			v == target)
		return 1.0;
	return format_credit;
}

double rewards_math(const struct rewards_input *in, const struct rewards_params *p)
{
	struct rewards_parts parts;
	const char *a;
	size_t alen;
	if (!in->answer)
		return 0.0;
	rewards_parse(in->completion, in->completion_len, &parts);
	int step = mathans_extract(in->completion, in->completion_len, p->extract, p->n_extract,
		parts.answer, parts.answer_len, &a, &alen);
	if (step < 0)
		return 0.0;
	if (mathans_equal(a, alen, in->answer, strlen(in->answer)))
		return 1.0;
	return step == MATHANS_LAST_NUMBER ? 0.0 : p->format_credit;
}

/* One code point at s[0..len) and its byte count; -1 (count 1) for an invalid
 * sequence (utf8.h: strict). */
static int32_t rewards_utf8(const unsigned char *s, size_t len, size_t *n)
{
	return utf8_decode((const char *)s, len, n);
}

/* 1 if alphabet is non-empty valid UTF-8. */
static int rewards_alphabet_valid(const char *alphabet)
{
	const unsigned char *a = (const unsigned char *)alphabet;
	size_t len = strlen(alphabet), n;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i += n)
		if (rewards_utf8(a + i, len - i, &n) < 0)
			return 0;
	return 1;
}

double rewards_alphabet_share(const char *s, size_t len, const char *alphabet)
{
	if (!alphabet)
		alphabet = REWARDS_ALPHABET;
	const unsigned char *a = (const unsigned char *)alphabet;
	size_t alen = strlen(alphabet), n;
	unsigned char ascii[128] = { 0 };
	for (size_t i = 0; i < alen; i += n) {
		int32_t cp = rewards_utf8(a + i, alen - i, &n);
		if (cp >= 0 && cp < 128)
			ascii[cp] = 1;
	}
	const unsigned char *u = (const unsigned char *)s;
	size_t total = 0, good = 0;
	for (size_t i = 0; i < len; i += n) {
		int32_t cp = rewards_utf8(u + i, len - i, &n);
		total++;
		if (cp < 0)
			continue;
		if (cp < 128) {
			good += ascii[cp];
			continue;
		}
		size_t m;
		for (size_t j = 0; j < alen; j += m) {
			if (rewards_utf8(a + j, alen - j, &m) == cp) {
				good++;
				break;
			}
		}
	}
	return total ? (double)good / (double)total : 0.0;
}

double rewards_language(const struct rewards_input *in, const char *alphabet)
{
	struct rewards_parts parts;
	rewards_parse(in->completion, in->completion_len, &parts);
	return rewards_alphabet_share(parts.reasoning, parts.reasoning_len, alphabet);
}

double rewards_length(int tokens, int max_tokens, int buffer, double penalty)
{
	if (tokens >= max_tokens)
		return -penalty;
	if (tokens <= max_tokens - buffer)
		return 0.0;
	return -penalty * (double)(tokens - (max_tokens - buffer)) / (double)buffer;
}

/* ---- specs ------------------------------------------------------------------------ */

int rewards_component_check(const struct rewards_component *c, struct err *err)
{
	const char *name = c->name ? c->name : "?";
	const struct rewards_params *p = &c->params;
	if ((int)c->kind < 0 || (int)c->kind >= REWARDS_NKINDS)
		return err_set(err, ERR_INVALID, "reward '%s': unknown function %d", name,
			(int)c->kind);
	if (!isfinite(c->weight))
		return err_set(err, ERR_INVALID, "reward '%s': weight must be finite", name);
	switch (c->kind) {
	case REWARDS_MATH:
		if (p->n_extract < 1 || p->n_extract > MATHANS_STEPS)
			return err_set(err, ERR_INVALID,
				"reward '%s': extract: expected 1 to %d steps, got %d", name,
				MATHANS_STEPS, p->n_extract);
		for (int i = 0; i < p->n_extract; i++) {
			if ((int)p->extract[i] < 0 || (int)p->extract[i] >= MATHANS_STEPS)
				return err_set(err, ERR_INVALID, "reward '%s': extract[%d]: unknown step %d",
					name, i, (int)p->extract[i]);
			for (int j = 0; j < i; j++)
				if (p->extract[j] == p->extract[i])
					return err_set(err, ERR_INVALID,
						"reward '%s': extract[%d]: '%s' is also extract[%d]", name, i,
						names_extract[p->extract[i]], j);
		}
		/* fall through */
	case REWARDS_ACCURACY:
	case REWARDS_COUNTDOWN:
		if (!isfinite(p->format_credit) || p->format_credit < 0 || p->format_credit > 1)
			return err_set(err, ERR_INVALID,
				"reward '%s': format_credit %g: must be in [0, 1]", name, p->format_credit);
		break;
	case REWARDS_LANGUAGE:
		if (!p->alphabet || !rewards_alphabet_valid(p->alphabet))
			return err_set(err, ERR_INVALID,
				"reward '%s': alphabet must be non-empty valid UTF-8", name);
		break;
	case REWARDS_LENGTH:
		if (p->max_tokens < 1)
			return err_set(err, ERR_INVALID, "reward '%s': max_tokens %d: must be >= 1",
				name, p->max_tokens);
		if (p->buffer < 0 || p->buffer > p->max_tokens)
			return err_set(err, ERR_INVALID,
				"reward '%s': buffer %d: must be 0..max_tokens (%d)", name, p->buffer,
				p->max_tokens);
		if (!isfinite(p->penalty) || p->penalty < 0)
			return err_set(err, ERR_INVALID, "reward '%s': penalty must be >= 0", name);
		break;
	case REWARDS_FORMAT:
	case REWARDS_PROGRAM: /* their params are the worker's (rewardext.h) */
	case REWARDS_CODE:
		break;
	}
	return 0;
}

int rewards_score(const struct rewards_component *spec, int n, const struct rewards_input *in,
	double *components, double *total, struct err *err)
{
	int64_t nums[TASK_NUMBERS_MAX], target;
	int k;
	for (int i = 0; i < n; i++) {
		const struct rewards_component *c = &spec[i];
		const char *name = c->name ? c->name : rewards_kind_name(c->kind);
		if (rewards_component_check(c, err) < 0)
			return -1;
		if ((c->kind == REWARDS_ACCURACY || c->kind == REWARDS_MATH) && !in->answer)
			return err_set(err, ERR_INVALID,
				"reward '%s': %s needs a reference answer", name, rewards_kind_name(c->kind));
		if (c->kind == REWARDS_COUNTDOWN &&
				(!in->prompt || task_countdown_parse(in->prompt, nums, &k, &target) < 0))
			return err_set(err, ERR_INVALID,
				"reward '%s': prompt '%.64s' is not a countdown prompt", name,
				in->prompt ? in->prompt : "");
	}
	double sum = 0;
	for (int i = 0; i < n; i++) {
		const struct rewards_component *c = &spec[i];
		const struct rewards_params *p = &c->params;
		double v = 0;
		switch (c->kind) {
		case REWARDS_FORMAT: v = rewards_format(in); break;
		case REWARDS_ACCURACY: v = rewards_accuracy(in, p->format_credit); break;
		case REWARDS_COUNTDOWN: v = rewards_countdown(in, p->format_credit); break;
		case REWARDS_LANGUAGE: v = rewards_language(in, p->alphabet); break;
		case REWARDS_MATH: v = rewards_math(in, p); break;
		case REWARDS_LENGTH:
			v = rewards_length(in->completion_tokens, p->max_tokens, p->buffer, p->penalty);
			break;
		case REWARDS_PROGRAM:
		case REWARDS_CODE:
			v = components[i]; /* the caller's */
			break;
		}
		components[i] = v;
		sum += c->weight * v;
	}
	*total = sum;
	return 0;
}
