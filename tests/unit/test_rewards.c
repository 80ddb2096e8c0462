#include <stdint.h>

#include "filters.h"
#include "rewards.h"
#include "test.h"

/*
 * Every completion is copied into a heap buffer of exactly its length, without a
 * NUL, so a read past the end is an ASan error rather than luck.
 */
static char *exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	CHECK(p);
	memcpy(p, s, len);
	return p;
}

static struct rewards_input input(const char *prompt, const char *completion, size_t len,
	const char *answer)
{
	return (struct rewards_input){ .prompt = prompt, .completion = completion,
		.completion_len = len, .answer = answer, .completion_tokens = 10 };
}

static double format_of(const char *c)
{
	size_t len = strlen(c);
	char *p = exact(c, len);
	struct rewards_input in = input("1+1", p, len, "2");
	double v = rewards_format(&in);
	free(p);
	return v;
}

static double accuracy_of(const char *c, const char *answer)
{
	size_t len = strlen(c);
	char *p = exact(c, len);
	struct rewards_input in = input("1+1", p, len, answer);
	double v = rewards_accuracy(&in, 0.1);
	free(p);
	return v;
}

static double countdown_of(const char *prompt, const char *c)
{
	size_t len = strlen(c);
	char *p = exact(c, len);
	struct rewards_input in = input(prompt, p, len, NULL);
	double v = rewards_countdown(&in, 0.1);
	free(p);
	return v;
}

static double language_of(const char *c, const char *alphabet)
{
	size_t len = strlen(c);
	char *p = exact(c, len);
	struct rewards_input in = input("1+1", p, len, NULL);
	double v = rewards_language(&in, alphabet);
	free(p);
	return v;
}

static void test_rewards__format_accepts_the_grammar(void)
{
	CHECK(format_of("7+9+0=16</think><answer>16</answer>") == 1);
	CHECK(format_of("</think><answer>16</answer>") == 1);              /* empty reasoning */
	CHECK(format_of("x</think>\n<answer>16</answer>") == 1);           /* ws between */
	CHECK(format_of("x</think><answer> 16 \n</answer>") == 1);
	CHECK(format_of("x</think><answer>16</answer><|eos|>") == 1);
	CHECK(format_of("x</think><answer>16</answer>\n <|eos|><|pad|><|pad|>") == 1);
	CHECK(format_of("x</think><answer>16</answer>\n\n") == 1);
	CHECK(format_of("\t x \n y</think><answer>a b</answer>") == 1);
}

static void test_rewards__format_rejects_adversarial_completions(void)
{
	const char *bad[] = {
		"",
		"16",
		"7+9=16<answer>16</answer>",                          /* no </think> */
		"7+9=16</think>16",                                   /* answer outside tags */
		"7+9=16</think>16<answer>16</answer>",                /* text before <answer> */
		"7+9=16</think><answer>16",                           /* no </answer> */
		"7+9=16</think><answer></answer>",                    /* empty answer */
		"7+9=16</think><answer> \n\t</answer>",               /* blank answer */
		"7+9=16</think><answer>16</answer>x",                 /* text after */
		"7+9=16</think><answer>16</answer> the end",
		"7+9=16</think><answer>16</answer><answer>16</answer>", /* repeated */
		"7+9=16</think><answer><answer>16</answer></answer>", /* nested */
		"7+9=16</think><answer>1<think>6</answer>",
		"7+9=16</think><answer>16</think></answer>",
		"<think>7+9=16</think><answer>16</answer>",           /* <think> inside */
		"7+9<think>=16</think><answer>16</answer>",
		"a</think>b</think><answer>16</answer>",              /* two </think> */
		"a</think></think><answer>16</answer>",
		"7<answer>9</answer></think><answer>16</answer>",     /* answer in reasoning */
		"7<|eos|>9</think><answer>16</answer>",               /* eos inside */
		"7+9=16</think><answer>16</answer><|bos|>",
		"7+9=16</think><answer>16</answer><|eos|>more",
		"7+9=16</think><answer>16</answer></answer>",
		"7+9=16</think><answer>16</answer></think>",
		"7+9=16</think><answer>16</answer><|eos",
		"7+9=16</think><answer>16</answer",
		"7+9=16</thinK><answer>16</answer>",
		"7+9=16</think><answer 16</answer>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_MSG(format_of(bad[i]) == 0, "'%s' scored as well-formed", bad[i]);
}

static void test_rewards__parse_spans(void)
{
	const char *c = "ab\ncd</think> <answer> 42 </answer><|eos|>";
	struct rewards_parts p;
	rewards_parse(c, strlen(c), &p);
	CHECK(p.well_formed);
	CHECK(p.reasoning == c && p.reasoning_len == 5);
	CHECK(p.answer_len == 2 && memcmp(p.answer, "42", 2) == 0);
	rewards_parse("no tags at all", 14, &p);
	CHECK(!p.well_formed && p.reasoning_len == 14 && p.answer == NULL);
}

static void test_rewards__accuracy_scheme(void)
{
	CHECK(accuracy_of("x</think><answer>656</answer>", "656") == 1);
	CHECK(accuracy_of("x</think><answer>657</answer>", "656") == 0.1);
	CHECK(accuracy_of("x</think><answer>656</answer>tail", "656") == 0);  /* ill-formed */
	CHECK(accuracy_of("656", "656") == 0);
	CHECK(accuracy_of("x</think>656", "656") == 0);
	CHECK(accuracy_of("x</think><answer></answer>", "656") == 0);
	/* normalisation */
	CHECK(accuracy_of("x</think><answer> 0656\n</answer>", "656") == 1);
	CHECK(accuracy_of("x</think><answer>656</answer>", " 0000656 ") == 1);
	CHECK(accuracy_of("x</think><answer>-0</answer>", "0") == 1);
	CHECK(accuracy_of("x</think><answer>-000</answer>", "0") == 1);
	CHECK(accuracy_of("x</think><answer>-336</answer>", "-336") == 1);
	CHECK(accuracy_of("x</think><answer>336</answer>", "-336") == 0.1);
	CHECK(accuracy_of("x</think><answer>+5</answer>", "5") == 0.1);       /* "+" is not a sign */
	CHECK(accuracy_of("x</think><answer>1,000</answer>", "1000") == 0.1);
	CHECK(accuracy_of("x</think><answer>6 56</answer>", "656") == 0.1);
	CHECK(accuracy_of("x</think><answer>-</answer>", "-") == 1);          /* as strings */
	CHECK(accuracy_of("x</think><answer>(25-5)*4</answer>", "(25-5)*4") == 1);
	CHECK(accuracy_of("x</think><answer>(25-5)*4</answer>", "4*(25-5)") == 0.1);
	/* huge numbers: digit strings, no overflow */
	const char *big = "1234567890123456789012345678901234567890";
	char c[128];
	snprintf(c, sizeof c, "x</think><answer>000%s</answer>", big);
	CHECK(accuracy_of(c, big) == 1);
	snprintf(c, sizeof c, "x</think><answer>%s1</answer>", big);
	CHECK(accuracy_of(c, big) == 0.1);
	snprintf(c, sizeof c, "x</think><answer>-%s</answer>", big);
	CHECK(accuracy_of(c, big) == 0.1);
	CHECK(accuracy_of("x</think><answer>18446744073709551617</answer>", "1") == 0.1);
	/* the credit is a parameter; no reference gives 0 */
	struct rewards_input in = input("1+1", "x</think><answer>3</answer>", 27, "2");
	CHECK(rewards_accuracy(&in, 0.25) == 0.25);
	CHECK(rewards_accuracy(&in, 0.0) == 0.0);
	in.answer = NULL;
	CHECK(rewards_accuracy(&in, 0.1) == 0);
}

static void test_rewards__countdown_scheme(void)
{
	const char *p = "25 5 4 7 -> 80";
	CHECK(countdown_of(p, "25-5=20,20*4=80</think><answer>(25-5)*4</answer>") == 1);
	CHECK(countdown_of(p, "</think><answer> ( 25 - 5 ) * 4 </answer><|eos|>") == 1);
	CHECK(countdown_of(p, "</think><answer>4*(25-5)</answer>") == 1);
	CHECK(countdown_of("25 5 4 7 -> 80\n<think>", "</think><answer>(25-5)*4</answer>") == 1);
	CHECK(countdown_of(p, "</think><answer>(25-5)*4=80</answer>") == 0.1);
	CHECK(countdown_of(p, "</think><answer>25*4-5*4</answer>") == 0.1);    /* 4 twice */
	CHECK(countdown_of(p, "</think><answer>20*4</answer>") == 0.1);        /* not given */
	CHECK(countdown_of(p, "</think><answer>(25-5)*4+7-7</answer>") == 0.1); /* 7 twice */
	CHECK(countdown_of(p, "</think><answer>80</answer>") == 0.1);
	CHECK(countdown_of(p, "</think><answer>25/(5-5)</answer>") == 0.1);     /* 5 twice */
	CHECK(countdown_of("25 5 5 4 -> 80", "</think><answer>25/(5-5)</answer>") == 0.1);
	CHECK(countdown_of("25 5 5 4 -> 5", "</think><answer>25/5</answer>") == 1);
	CHECK(countdown_of("25 5 4 7 -> 3", "</think><answer>25/7+4-5</answer>") == 0.1);
	CHECK(countdown_of(p, "</think><answer>(25-5)*4</answer>tail") == 0);
	CHECK(countdown_of(p, "(25-5)*4") == 0);
	CHECK(countdown_of(p, "</think>(25-5)*4") == 0);
	CHECK(countdown_of(p, "</think><answer></answer>") == 0);
	CHECK(countdown_of(p, "</think><answer>(25-5)*4</answer><answer>1</answer>") == 0);
	/* huge numbers and overflow */
	CHECK(countdown_of(p, "</think><answer>1234567890123456789012345678901234567890</answer>")
		== 0.1);
	CHECK(countdown_of("3037000500 3037000500 1 -> 5",
		"</think><answer>3037000500*3037000500</answer>") == 0.1);
	CHECK(countdown_of("9223372036854775807 1 2 -> 5",
		"</think><answer>9223372036854775807+1</answer>") == 0.1);
	CHECK(countdown_of("9223372036854775807 1 2 -> 5",
		"</think><answer>-9223372036854775807-1-2</answer>") == 0.1);
	/* depth and length bounds */
	char c[4096];
	int n = snprintf(c, sizeof c, "</think><answer>");
	for (int i = 0; i < 40; i++)
		c[n++] = '(';
	n += snprintf(c + n, sizeof c - (size_t)n, "(25-5)*4");
	for (int i = 0; i < 40; i++)
		c[n++] = ')';
	snprintf(c + n, sizeof c - (size_t)n, "</answer>");
	CHECK(countdown_of(p, c) == 0.1);
	n = snprintf(c, sizeof c, "</think><answer>(25-5)*4");
	for (int i = 0; i < 300; i++)
		c[n++] = ' ';
	snprintf(c + n, sizeof c - (size_t)n, "</answer>");
	CHECK(countdown_of(p, c) == 1);   /* trailing spaces are trimmed before the bound */
	n = snprintf(c, sizeof c, "</think><answer>(25-5)");
	for (int i = 0; i < 300; i++)
		c[n++] = ' ';
	snprintf(c + n, sizeof c - (size_t)n, "*4</answer>");
	CHECK(countdown_of(p, c) == 0.1); /* > 256 bytes */
	/* a prompt that is not a countdown prompt scores 0 (rewards_score refuses it) */
	CHECK(countdown_of("1+1", "</think><answer>1+1</answer>") == 0);
}

static void test_rewards__language_consistency(void)
{
	CHECK(language_of("7+9+0=16,6+8+1=15</think><answer>x</answer>", NULL) == 1);
	CHECK(language_of("25-5=20,20/4=5 (5)</think><answer>x</answer>", NULL) == 1);
	CHECK(language_of("</think><answer>16</answer>", NULL) == 0);        /* empty */
	CHECK(language_of("", NULL) == 0);
	CHECK_NEAR(language_of("1+1=2 so</think><answer>2</answer>", NULL), 6.0 / 8.0, 1e-12);
	/* no </think>: the whole completion is the reasoning */
	CHECK_NEAR(language_of("12ab", NULL), 0.5, 1e-12);
	/* code points, not bytes */
	CHECK_NEAR(language_of("1\xc3\xa9</think>", NULL), 0.5, 1e-12);      /* 1é */
	CHECK(language_of("\xce\xb1\xce\xb2</think>", "\xce\xb1\xce\xb2") == 1); /* αβ in αβ */
	CHECK_NEAR(language_of("\xce\xb1" "1</think>", "1\xce\xb2"), 0.5, 1e-12);
	/* invalid UTF-8: each bad byte is one code point not in the alphabet */
	CHECK_NEAR(language_of("11\xff\xfe</think>", NULL), 0.5, 1e-12);
	CHECK_NEAR(language_of("11\xc0\xaf</think>", NULL), 0.5, 1e-12);     /* overlong */
	CHECK_NEAR(language_of("1\xed\xa0\x80</think>", NULL), 0.25, 1e-12); /* surrogate */
	CHECK_NEAR(language_of("1\xe2\x82</think>", NULL), 1.0 / 3.0, 1e-12); /* truncated */
	CHECK_NEAR(language_of("1\xf4\x90\x80\x80</think>", NULL), 0.2, 1e-12); /* > U+10FFFF */
	CHECK_NEAR(language_of("1\xe2\x82", NULL), 1.0 / 3.0, 1e-12);        /* cut at the end */
	CHECK(language_of("\xe2\x82\xac</think>", "\xe2\x82\xac") == 1);     /* € */
}

static void test_rewards__length_penalty_regimes(void)
{
	/* max 100, buffer 20: 0 up to 80, linear to -p, -p from 100 */
	CHECK(rewards_length(0, 100, 20, 1.0) == 0);
	CHECK(rewards_length(80, 100, 20, 1.0) == 0);
	CHECK_NEAR(rewards_length(81, 100, 20, 1.0), -0.05, 1e-12);
	CHECK_NEAR(rewards_length(90, 100, 20, 2.0), -1.0, 1e-12);
	CHECK_NEAR(rewards_length(99, 100, 20, 1.0), -0.95, 1e-12);
	CHECK(rewards_length(100, 100, 20, 1.0) == -1.0);
	CHECK(rewards_length(1000, 100, 20, 0.5) == -0.5);
	/* buffer 0 is a step */
	CHECK(rewards_length(99, 100, 0, 1.0) == 0);
	CHECK(rewards_length(100, 100, 0, 1.0) == -1.0);
	/* buffer = max: linear from 0 */
	CHECK_NEAR(rewards_length(25, 100, 100, 1.0), -0.25, 1e-12);
}

static void test_rewards__long_inputs_are_linear_and_safe(void)
{
	const size_t N = 100 * 1024;
	char *buf = malloc(N + 64);
	CHECK(buf);
	/* 100 KB of reasoning, then a well-formed answer */
	for (size_t i = 0; i < N; i++)
		buf[i] = (char)('0' + i % 10);
	size_t n = N + (size_t)sprintf(buf + N, "</think><answer>12</answer>");
	char *c = exact(buf, n);
	struct rewards_input in = input("1+1", c, n, "12");
	CHECK(rewards_format(&in) == 1);
	CHECK(rewards_accuracy(&in, 0.1) == 1);
	CHECK(rewards_language(&in, NULL) == 1);
	CHECK(filters_overlong_line(c, n, 1000) == 1);
	free(c);
	/* 100 KB of '<' (every byte starts a possible tag), of "<answer>", of invalid
	 * UTF-8, and of digits with no tags at all */
	const char *fills[] = { "<", "<answer>", "\xff", "9", "</", "<|eos|" };
	for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
		size_t k = strlen(fills[f]);
		for (size_t i = 0; i < N; i++)
			buf[i] = fills[f][i % k];
		c = exact(buf, N);
		in = input("25 5 4 -> 80", c, N, "80");
		CHECK(rewards_format(&in) == 0);
		CHECK(rewards_accuracy(&in, 0.1) == 0);
		CHECK(rewards_countdown(&in, 0.1) == 0);
		double lang = rewards_language(&in, NULL);
		CHECK(lang >= 0 && lang <= 1);
		CHECK(filters_code_block(c, N) == 0);
		(void)filters_hash(c, N);
		free(c);
	}
	/* a 100 KB answer: well-formed, wrong, and too long for an expression */
	n = (size_t)sprintf(buf, "</think><answer>");
	for (size_t i = 0; i < N; i++)
		buf[n++] = '1';
	n += (size_t)sprintf(buf + n, "</answer>");
	c = exact(buf, n);
	in = input("25 5 4 -> 80", c, n, "80");
	CHECK(rewards_format(&in) == 1);
	CHECK(rewards_accuracy(&in, 0.1) == 0.1);
	CHECK(rewards_countdown(&in, 0.1) == 0.1);
	free(c);
	free(buf);
}

static void test_rewards__weighted_total(void)
{
	struct rewards_component spec[4];
	for (int i = 0; i < 4; i++)
		rewards_params_default(&spec[i].params);
	spec[0] = (struct rewards_component){ "format", REWARDS_FORMAT, 1.0, spec[0].params };
	spec[1] = (struct rewards_component){ "accuracy", REWARDS_ACCURACY, 2.0, spec[1].params };
	spec[2] = (struct rewards_component){ "language", REWARDS_LANGUAGE, 0.1, spec[2].params };
	spec[3] = (struct rewards_component){ "overlong", REWARDS_LENGTH, 0.5, spec[3].params };
	spec[3].params.max_tokens = 20;
	spec[3].params.buffer = 10;
	const char *c = "1+1=2 ok</think><answer>2</answer><|eos|>";
	struct rewards_input in = input("1+1", c, strlen(c), "2");
	in.completion_tokens = 15;
	double comp[4], total = 0;
	struct err e = { 0 };
	CHECK_MSG(rewards_score(spec, 4, &in, comp, &total, &e) == 0, "%s", e.msg);
	CHECK(comp[0] == 1 && comp[1] == 1);
	CHECK_NEAR(comp[2], 6.0 / 8.0, 1e-12);
	CHECK_NEAR(comp[3], -0.5, 1e-12);
	CHECK_NEAR(total, 1.0 + 2.0 + 0.1 * 0.75 + 0.5 * -0.5, 1e-12);
	/* wrong answer: accuracy gives the format credit */
	in.answer = "3";
	CHECK(rewards_score(spec, 4, &in, comp, &total, &e) == 0);
	CHECK(comp[1] == 0.1);
	CHECK_NEAR(total, 1.0 + 0.2 + 0.075 - 0.25, 1e-12);
	/* ill-formed: format and accuracy 0 */
	const char *bad = "1+1=2";
	in = input("1+1", bad, strlen(bad), "2");
	in.completion_tokens = 5;
	CHECK(rewards_score(spec, 4, &in, comp, &total, &e) == 0);
	CHECK(comp[0] == 0 && comp[1] == 0 && comp[2] == 1 && comp[3] == 0);
	CHECK_NEAR(total, 0.1, 1e-12);
	/* countdown component on a countdown prompt */
	struct rewards_component cd = { "cd", REWARDS_COUNTDOWN, 1.0, spec[1].params };
	const char *good = "</think><answer>(25-5)*4</answer>";
	in = input("25 5 4 -> 80", good, strlen(good), NULL);
	CHECK(rewards_score(&cd, 1, &in, comp, &total, &e) == 0 && total == 1);
	/* an empty spec scores 0 */
	CHECK(rewards_score(spec, 0, &in, comp, &total, &e) == 0 && total == 0);
}

static void test_rewards__score_refuses_misconfiguration(void)
{
	struct rewards_params p;
	rewards_params_default(&p);
	struct err e = { 0 };
	double comp[1], total = 42;
	const char *c = "</think><answer>2</answer>";
	struct rewards_input in = input("1+1", c, strlen(c), NULL);
	struct rewards_component acc = { "acc", REWARDS_ACCURACY, 1.0, p };
	CHECK(rewards_score(&acc, 1, &in, comp, &total, &e) == -1);
	CHECK(strstr(e.msg, "'acc'") && strstr(e.msg, "reference"));
	CHECK(total == 42);
	struct rewards_component cd = { "cd", REWARDS_COUNTDOWN, 1.0, p };
	CHECK(rewards_score(&cd, 1, &in, comp, &total, &e) == -1);
	CHECK(strstr(e.msg, "countdown prompt"));
	struct rewards_component len = { "len", REWARDS_LENGTH, 1.0, p };
	CHECK(rewards_score(&len, 1, &in, comp, &total, &e) == -1 && strstr(e.msg, "max_tokens"));
	len.params.max_tokens = 10;
	len.params.buffer = 11;
	CHECK(rewards_component_check(&len, &e) == -1 && strstr(e.msg, "buffer"));
	len.params.buffer = 10;
	CHECK(rewards_component_check(&len, &e) == 0);
	len.params.penalty = -1;
	CHECK(rewards_component_check(&len, &e) == -1);
	struct rewards_component lang = { "lang", REWARDS_LANGUAGE, 1.0, p };
	lang.params.alphabet = "ab\xff";
	CHECK(rewards_component_check(&lang, &e) == -1 && strstr(e.msg, "UTF-8"));
	lang.params.alphabet = "";
	CHECK(rewards_component_check(&lang, &e) == -1);
	struct rewards_component f = { "f", REWARDS_FORMAT, NAN, p };
	CHECK(rewards_component_check(&f, &e) == -1 && strstr(e.msg, "weight"));
	enum rewards_kind k;
	CHECK(rewards_kind_parse("countdown", &k, &e) == 0 && k == REWARDS_COUNTDOWN);
	CHECK(rewards_kind_parse("length", &k, &e) == 0 && k == REWARDS_LENGTH);
	CHECK(rewards_kind_parse("accuracy", &k, &e) == 0 && k == REWARDS_ACCURACY);
	CHECK(rewards_kind_parse("think_answer_format", &k, &e) == 0 && k == REWARDS_FORMAT);
	CHECK(rewards_kind_parse("language_consistency", &k, &e) == 0 && k == REWARDS_LANGUAGE);
	CHECK(rewards_kind_parse("bleu", &k, &e) == -1 && strstr(e.msg, "'bleu'"));
	CHECK(strcmp(rewards_kind_name(REWARDS_LANGUAGE), "language_consistency") == 0);
}

static void test_rewards__filters(void)
{
	const char *clean = "7+9+0=16\n6+8+1=15</think><answer>156</answer><|eos|>";
	CHECK(filters_mixed_language(clean, strlen(clean), "0123456789+=\n") == 0);
	CHECK(filters_mixed_language(clean, strlen(clean), NULL) == 1);  /* '\n' not in default */
	const char *mixed = "7+9 \xe5\x8a\xa0=16</think><answer>16</answer>";
	CHECK(filters_mixed_language(mixed, strlen(mixed), NULL) == 1);
	const char *empty = "</think><answer>16</answer>";
	CHECK(filters_mixed_language(empty, strlen(empty), NULL) == 1);

	const char *lines = "12345\n1234567890\n12</think><answer>1</answer>";
	CHECK(filters_overlong_line(lines, strlen(lines), 10) == 0);
	CHECK(filters_overlong_line(lines, strlen(lines), 9) == 1);
	const char *ans = "1</think><answer>12345678901234567890</answer>";
	CHECK(filters_overlong_line(ans, strlen(ans), 5) == 0);      /* reasoning only */

	const char *code = "look ```c\nint x;``` done</think><answer>1</answer>";
	CHECK(filters_code_block(code, strlen(code)) == 1);
	CHECK(filters_code_block("``", 2) == 0);
	CHECK(filters_code_block("a``b`", 5) == 0);
	CHECK(filters_code_block("```", 3) == 1);
	const char *in_answer = "x</think><answer>```</answer>";
	CHECK(filters_code_block(in_answer, strlen(in_answer)) == 1);

	const char *a = "1+1=2</think><answer>2</answer>";
	const char *b = "  1+1=2</think><answer>2</answer>\n<|eos|>";
	const char *d = "1+1=2</think><answer>3</answer>";
	const char *w1 = "a  b\n\tc", *w2 = "a b c";
	CHECK(filters_hash(a, strlen(a)) == filters_hash(b, strlen(b)));
	CHECK(filters_hash(a, strlen(a)) != filters_hash(d, strlen(d)));
	CHECK(filters_hash(w1, strlen(w1)) == filters_hash(w2, strlen(w2)));
	CHECK(filters_hash("ab", 2) != filters_hash("a b", 3));
	CHECK(filters_hash("x<|eos|><|pad|> <|pad|>", 23) == filters_hash("x", 1));
	/* pinned: the hash is stored with samples, so it must not drift */
	CHECK(filters_hash("", 0) == 0xCBF29CE484222325ull);
	CHECK(filters_hash("a", 1) == 0xAF63DC4C8601EC8Cull);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_rewards__format_accepts_the_grammar),
		TEST(test_rewards__format_rejects_adversarial_completions),
		TEST(test_rewards__parse_spans),
		TEST(test_rewards__accuracy_scheme),
		TEST(test_rewards__countdown_scheme),
		TEST(test_rewards__language_consistency),
		TEST(test_rewards__length_penalty_regimes),
		TEST(test_rewards__long_inputs_are_linear_and_safe),
		TEST(test_rewards__weighted_total),
		TEST(test_rewards__score_refuses_misconfiguration),
		TEST(test_rewards__filters),
		{ 0 } });
}
