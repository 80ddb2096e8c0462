#include <stdint.h>

#include "mathans.h"
#include "mathexpr.h"
#include "rewards.h"
#include "test.h"

/*
 * The math reward: its comparison over the corpus tests/ref/math_pairs.tsv (the ref
 * suite checks the same verdicts with SymPy), its extraction steps, its 1 /
 * format_credit / 0 rule, and hostile inputs (deep nesting, a megabyte of digits,
 * huge exponents) whose verdicts must come out — the test's timeout bounds them.
 */

static int equal(const char *a, const char *b)
{
	return mathans_equal(a, strlen(a), b, strlen(b));
}

/* The corpus: ANSWER \t REFERENCE \t 0|1 per line; '#' lines and blank lines skipped. */
static void test_mathans__corpus(void)
{
	const char *root = getenv("R1FLOW_SOURCE_ROOT");
	char path[4096], line[4096];
	snprintf(path, sizeof path, "%s/tests/ref/math_pairs.tsv", root ? root : ".");
	FILE *f = fopen(path, "r");
	CHECK_MSG(f, "cannot open '%s'", path);
	int pairs = 0, bad = 0, ones = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *a = line, *b = strchr(a, '\t'), *v = b ? strchr(b + 1, '\t') : NULL;
		CHECK_MSG(b && v && (v[1] == '0' || v[1] == '1') && v[2] == '\0', "bad line '%s'", line);
		*b++ = '\0';
		*v++ = '\0';
		int want = *v == '1', got = equal(a, b), back = equal(b, a);
		pairs++;
		ones += want;
		if (got != want || back != want) {
			fprintf(stderr, "'%s' vs '%s': expected %d, got %d (reversed: %d)\n", a, b, want,
				got, back);
			bad++;
		}
	}
	fclose(f);
	CHECK_MSG(pairs >= 200, "%d pairs", pairs);
	CHECK_MSG(ones >= 50 && pairs - ones >= 50, "%d equal, %d not", ones, pairs - ones);
	CHECK_MSG(bad == 0, "%d of %d pairs wrong", bad, pairs);
}

/* p / 10^k as a decimal ("12.50" for 1250, 2), into out[32]. */
static void decimal_of(long long p, int k, char *out)
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%0*lld", k + 1, p), o = 0;
	for (int i = 0; i < n; i++) {
		if (i == n - k)
			out[o++] = '.';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

/* The forms of p/q: fraction, \frac, \dfrac in \left( \right), \boxed{}; for q a power
 * of ten also the decimal, with $, with a trailing 0 and a unit, after ####, and 100 p/q
 * as a percentage; for an integer also the integer, with a unit, with thousands
 * separators. Returns how many it wrote. */
static int forms(long long p, long long q, char out[][64])
{
	char d[32];
	int n = 0, k = 0;
	snprintf(out[n++], 64, "%lld/%lld", p, q);
	snprintf(out[n++], 64, "\\frac{%lld}{%lld}", p, q);
	snprintf(out[n++], 64, "\\left(\\dfrac{%lld}{%lld}\\right)", p, q);
	snprintf(out[n++], 64, "\\boxed{%lld/%lld}", p, q);
	long long m = q;
	while (m % 10 == 0) {
		m /= 10;
		k++;
	}
	if (m == 1 && k > 0) {
		decimal_of(p, k, d);
		snprintf(out[n++], 64, "%s", d);
		snprintf(out[n++], 64, "$%s", d);
		snprintf(out[n++], 64, "%s0 cm", d);
		snprintf(out[n++], 64, "#### %s", d);
		decimal_of(p, k - 2 > 0 ? k - 2 : 0, d);
		if (k >= 2)
			snprintf(out[n++], 64, "%s%%", d);
	}
	if (p % q == 0) {
		long long v = p / q;
		snprintf(out[n++], 64, "%lld", v);
		snprintf(out[n++], 64, "%lld dollars", v);
		if (v >= 1000)
			snprintf(out[n++], 64, "%lld,%03lld", v / 1000, v % 1000);
	}
	return n;
}

/* Generated pairs: every two forms of one value are equal, no form of p/q equals one of
 * (p+1)/q. */
static void test_mathans__generated_forms(void)
{
	char a[16][64], b[16][64];
	unsigned long long seed = 12345;
	int pairs = 0;
	for (int i = 0; i < 300; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		static const long long dens[] = { 1, 10, 100, 1000, 4, 8, 3, 7 };
		long long q = dens[(seed >> 33) % 8], p = (long long)((seed >> 40) % 200000);
		if (i % 3 == 0)
			p = p / q * q;  /* some integers */
		int na = forms(p, q, a), nb = forms(p + 1, q, b);
		for (int x = 0; x < na; x++) {
			for (int y = 0; y < na; y++, pairs++)
				CHECK_MSG(equal(a[x], a[y]), "'%s' vs '%s' should be equal", a[x], a[y]);
			for (int y = 0; y < nb; y++, pairs++)
				CHECK_MSG(!equal(a[x], b[y]), "'%s' vs '%s' should differ", a[x], b[y]);
		}
	}
	CHECK(pairs > 10000);
}

static void test_mathans__extract_steps(void)
{
	size_t n;
	const char *a;
	const char *c = "so \\boxed{1} then \\boxed{\\frac{3}{4}} and #### 7\nlast 12,5 and 3/4.";
	a = mathans_boxed(c, strlen(c), &n);
	CHECK(a && n == 11 && memcmp(a, "\\frac{3}{4}", n) == 0);
	a = mathans_hash(c, strlen(c), &n);
	CHECK(a && n == 1 && *a == '7');
	a = mathans_last_number(c, strlen(c), &n);
	CHECK(a && n == 3 && memcmp(a, "3/4", 3) == 0);
	/* unbalanced last \boxed: the earlier balanced one */
	a = mathans_boxed("\\boxed{5} \\boxed{6", 18, &n);
	CHECK(a && n == 1 && *a == '5');
	/* escaped braces do not count; blank content is skipped */
	a = mathans_boxed("\\boxed{\\{1\\}} \\boxed{ }", 22, &n);
	CHECK(a && n == 5 && memcmp(a, "\\{1\\}", 5) == 0);
	CHECK(!mathans_boxed("\\boxed{", 7, &n));
	CHECK(!mathans_boxed("boxed{1}", 8, &n));
	/* #### stops at a special spelling */
	a = mathans_hash("#### 42<|eos|>", 14, &n);
	CHECK(a && n == 2 && memcmp(a, "42", 2) == 0);
	CHECK(!mathans_hash("#### \n", 6, &n));
	/* numbers: thousands and decimals, a minus only when not a hyphen */
	a = mathans_last_number("it costs -1,234.50 dollars.", 27, &n);
	CHECK(a && n == 9 && memcmp(a, "-1,234.50", n) == 0);
	a = mathans_last_number("in 2023-2024", 12, &n);
	CHECK(a && n == 4 && memcmp(a, "2024", n) == 0);
	CHECK(!mathans_last_number("no digits", 9, &n));

	enum mathans_step all[] = { MATHANS_ANSWER_TAG, MATHANS_BOXED, MATHANS_HASH,
		MATHANS_LAST_NUMBER };
	enum mathans_step rev[] = { MATHANS_LAST_NUMBER, MATHANS_ANSWER_TAG };
	CHECK(mathans_extract(c, strlen(c), all, 4, "9", 1, &a, &n) == MATHANS_ANSWER_TAG && *a == '9');
	CHECK(mathans_extract(c, strlen(c), all, 4, NULL, 0, &a, &n) == MATHANS_BOXED);
	CHECK(mathans_extract(c, strlen(c), all + 2, 2, NULL, 0, &a, &n) == MATHANS_HASH);
	CHECK(mathans_extract(c, strlen(c), rev, 2, "9", 1, &a, &n) == MATHANS_LAST_NUMBER);
	CHECK(mathans_extract("words", 5, all, 4, "  ", 2, &a, &n) == -1);
}

static double math_of(const char *completion, const char *answer,
	const enum mathans_step *steps, int n)
{
	struct rewards_component c = { .name = "m", .kind = REWARDS_MATH, .weight = 1 };
	rewards_params_default(&c.params);
	c.params.format_credit = 0.25;
	if (steps) {
		memcpy(c.params.extract, steps, (size_t)n * sizeof *steps);
		c.params.n_extract = n;
	}
	size_t len = strlen(completion);
	char *p = malloc(len ? len : 1);  /* exactly its length: ASan sees a read past it */
	CHECK(p);
	memcpy(p, completion, len);
	struct rewards_input in = { .prompt = "q", .completion = p, .completion_len = len,
		.answer = answer, .completion_tokens = 1 };
	double v, total;
	struct err e = { 0 };
	CHECK_MSG(rewards_score(&c, 1, &in, &v, &total, &e) == 0, "%s", e.msg);
	CHECK(v == total);
	free(p);
	return v;
}

static void test_mathans__reward_rule(void)
{
	enum mathans_step tag[] = { MATHANS_ANSWER_TAG }, boxed[] = { MATHANS_BOXED };
	/* default order: tags, boxed, ####, last number */
	CHECK(math_of("2+2</think><answer> $1,000 </answer>", "#### 1000", NULL, 0) == 1);
	CHECK(math_of("2+2</think><answer>999</answer>", "1000", NULL, 0) == 0.25);
	CHECK(math_of("so \\boxed{\\frac{1}{2}}", "0.5", NULL, 0) == 1);
	CHECK(math_of("so \\boxed{3}", "0.5", NULL, 0) == 0.25);
	CHECK(math_of("so #### 50%", "50", NULL, 0) == 1);
	CHECK(math_of("the answer is 42.", "#### 42", NULL, 0) == 1);
	CHECK(math_of("the answer is 41.", "#### 42", NULL, 0) == 0);  /* no format to credit */
	CHECK(math_of("no answer here", "42", NULL, 0) == 0);
	/* ill-formed (text after </answer>): the tags give nothing, the boxed answer counts */
	CHECK(math_of("a</think><answer>1</answer> \\boxed{42}", "42", NULL, 0) == 1);
	/* extract [answer_tag]: accuracy's rule, by value */
	CHECK(math_of("a</think><answer>42.0</answer>", "42", tag, 1) == 1);
	CHECK(math_of("a</think><answer>41</answer>", "42", tag, 1) == 0.25);
	CHECK(math_of("a \\boxed{42}", "42", tag, 1) == 0);
	CHECK(math_of("a<answer>42</answer>", "42", tag, 1) == 0);
	/* extract [boxed]: no tags needed, and the tags alone are not enough */
	CHECK(math_of("\\boxed{42}", "42", boxed, 1) == 1);
	CHECK(math_of("a</think><answer>42</answer>", "42", boxed, 1) == 0);
	CHECK(math_of("a</think><answer>\\boxed{42}</answer>", "42", boxed, 1) == 1);
}

static void test_mathans__component_check(void)
{
	struct rewards_component c = { .name = "m", .kind = REWARDS_MATH, .weight = 1 };
	struct err e = { 0 };
	rewards_params_default(&c.params);
	CHECK(c.params.n_extract == 4 && c.params.extract[0] == MATHANS_ANSWER_TAG &&
		c.params.extract[3] == MATHANS_LAST_NUMBER);
	CHECK(rewards_component_check(&c, &e) == 0);
	c.params.format_credit = 1.5;
	CHECK(rewards_component_check(&c, &e) < 0 && strstr(e.msg, "format_credit 1.5"));
	c.params.format_credit = 0;
	c.params.extract[1] = MATHANS_ANSWER_TAG;
	CHECK(rewards_component_check(&c, &e) < 0 &&
		strstr(e.msg, "extract[1]: 'answer_tag' is also extract[0]"));
	c.params.n_extract = 0;
	CHECK(rewards_component_check(&c, &e) < 0 && strstr(e.msg, "extract"));
	/* a reference is required */
	rewards_params_default(&c.params);
	struct rewards_input in = { .prompt = "q", .completion = "x", .completion_len = 1 };
	double v, t;
	CHECK(rewards_score(&c, 1, &in, &v, &t, &e) < 0 && strstr(e.msg, "math needs a reference"));
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
	char *s = malloc(h + u * times + t + 1);
	CHECK(s);
	memcpy(s, head, h);
	for (size_t i = 0; i < times; i++)
		memcpy(s + h + i * u, unit, u);
	memcpy(s + h + u * times, tail, t + 1);
	return s;
}

static void test_mathans__hostile(void)
{
	const size_t N = 100000, MB = 1 << 20;
	/* 10^5 nested \boxed{: balanced, the innermost opens last */
	char *s = repeat("", "\\boxed{", N, "42");
	char *t = repeat(s, "}", N, "");
	CHECK(math_of(t, "42", NULL, 0) == 1);
	/* never closed: no boxed answer; the last number is 42 */
	CHECK(math_of(s, "42", NULL, 0) == 1);
	enum mathans_step boxed[] = { MATHANS_BOXED };
	CHECK(math_of(s, "42", boxed, 1) == 0);
	free(s);
	free(t);
	/* 10^5 braces and brackets inside one answer: too long to parse, byte compared */
	s = repeat("</think><answer>", "{", N, "1</answer>");
	CHECK(math_of(s, "1", NULL, 0) == 0.25);
	free(s);
	/* nesting within the length cap but beyond the depth limit: text compare only */
	s = repeat("", "(", 400, "1");
	t = repeat(s, ")", 400, "");
	CHECK(!equal(t, "1") && equal(t, t));
	free(s);
	free(t);
	s = repeat("", "-", 900, "1");
	CHECK(!equal(s, "1") && !equal(s, "-1"));
	free(s);
	s = repeat("", "2^{", 300, "2");
	t = repeat(s, "}", 300, "");
	CHECK(!equal(t, "4") && equal(t, t));
	free(s);
	free(t);
	/* Unicode rewriting grows a side to 7/3 of its bytes: nothing is cut off, so two
	 * sides differing in their last byte stay different */
	s = repeat("", "\xe2\x88\x9e", 333, "1");
	t = repeat("", "\xe2\x88\x9e", 333, "2");
	CHECK(!equal(s, t) && equal(s, s));
	free(s);
	free(t);
	/* a megabyte of digits: as the answer, the reference, the last number */
	s = repeat("</think><answer>", "9", MB, "</answer>");
	CHECK(math_of(s, "42", NULL, 0) == 0.25);
	t = repeat("", "9", MB, "");
	CHECK(math_of(s, t, NULL, 0) == 1);
	free(s);
	s = repeat("the number ", "7", MB, " is it");
	CHECK(math_of(s, "7", NULL, 0) == 0);
	CHECK(mathans_equal(t, MB, t, MB) == 1);
	t[MB - 1] = '8';
	s[11 + MB - 1] = '8';
	CHECK(mathans_equal(s + 11, MB, t, MB) == 0);
	free(s);
	free(t);
	/* huge exponents: infinite in doubles, so never equal unless the texts are */
	CHECK(!equal("10^{99999999}", "10^{99999998}"));
	CHECK(equal("10^{99999999}", "10^{99999999}"));
	CHECK(!equal("2^{2^{2^{2^{2^{2^{2}}}}}}", "2^{2^{2^{2^{2^{2^{3}}}}}}"));
	CHECK(!equal("1000000000000000000000000000000^{64}", "0"));
	/* beyond 64 bits, by tolerance: 2^64 and its neighbour are one value */
	CHECK(equal("2^{64}", "18446744073709551616"));
	CHECK(equal("2^{62}", "4611686018427387904"));
	/* a megabyte of junk: braces, backslashes, hashes, tags */
	s = malloc(MB + 1);
	CHECK(s);
	const char junk[] = "{}\\{#<>}{\\boxed{####9<answer>";
	for (size_t i = 0; i < MB; i++)
		s[i] = junk[(i * 7 + i / 13) % (sizeof junk - 1)];
	s[MB] = '\0';
	double v = math_of(s, "9", NULL, 0);
	CHECK(v == 0 || v == 0.25 || v == 1);
	free(s);
}

static void test_mathans__expr(void)
{
	struct mathexpr *e = mathexpr_parse("\\frac{3}{4}+x^2", 15);
	CHECK(e);
	CHECK(mathexpr_vars(e) == 1ull << ('x' - 'a'));
	CHECK(!mathexpr_exact(e).ok);
	double x[MATHEXPR_NVARS] = { 0 };
	x['x' - 'a'] = 2;
	CHECK_NEAR(mathexpr_eval(e, x), 4.75, 1e-12);
	mathexpr_free(e);
	e = mathexpr_parse("2^{-3}\\cdot 16", 14);
	CHECK(e);
	struct mathexpr_q q = mathexpr_exact(e);
	CHECK(q.ok && q.num == 2 && q.den == 1);
	mathexpr_free(e);
	CHECK(!mathexpr_parse("1+", 2));
	CHECK(!mathexpr_parse("(1", 2));
	CHECK(!mathexpr_parse("\\unknown{1}", 11));
	CHECK(!mathexpr_parse("", 0));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_mathans__corpus),
		TEST(test_mathans__generated_forms),
		TEST(test_mathans__extract_steps),
		TEST(test_mathans__reward_rule),
		TEST(test_mathans__component_check),
		TEST(test_mathans__hostile),
		TEST(test_mathans__expr),
		{ 0 } });
}
