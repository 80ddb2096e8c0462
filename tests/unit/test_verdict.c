/*
 * test_verdict — which component says an answer is right, the hidden components a
 * reward job gets and never shows, and the pass@k estimator (verdict.h).
 */
#include <math.h>
#include <string.h>

#include "test.h"
#include "verdict.h"

/* C(n, k) exactly while it fits (n <= 60 here: C(60, 30) < 2^60). */
static uint64_t binom(int n, int k)
{
	if (k < 0 || k > n)
		return 0;
	uint64_t r = 1;
	for (int i = 1; i <= k; i++)
		r = r * (uint64_t)(n - k + i) / (uint64_t)i; /* exact: r·(n-k+i) = C(n-k+i, i)·i */
	return r;
}

static void test_verdict__pass_at_k_is_the_combinatorial_ratio(void)
{
	int cases = 0;
	for (int n = 1; n <= 60; n++)
		for (int c = 0; c <= n; c++)
			for (int k = 1; k <= n; k++) {
				double want = 1.0 - (double)binom(n - c, k) / (double)binom(n, k);
				double got = verdict_pass_at_k(n, c, k);
				CHECK_MSG(fabs(got - want) <= 1e-12, "n %d c %d k %d: %.17g, want %.17g", n, c,
					k, got, want);
				cases++;
			}
	CHECK(cases == 75640); /* Σ n(n+1), n = 1..60: every (n, c, k) ran */
}

static void test_verdict__pass_at_k_edges(void)
{
	/* c = 0: never; c = n: always; n = k: right when any is */
	for (int n = 1; n <= 64; n++) {
		for (int k = 1; k <= n; k++) {
			CHECK(verdict_pass_at_k(n, 0, k) == 0.0);
			CHECK(verdict_pass_at_k(n, n, k) == 1.0);
		}
		for (int c = 0; c <= n; c++)
			CHECK(verdict_pass_at_k(n, c, n) == (c > 0 ? 1.0 : 0.0));
	}
	/* k = 1 is the share right; more draws never lower it */
	for (int c = 0; c <= 16; c++) {
		CHECK(fabs(verdict_pass_at_k(16, c, 1) - c / 16.0) < 1e-15);
		for (int k = 2; k <= 16; k++)
			CHECK(verdict_pass_at_k(16, c, k) >= verdict_pass_at_k(16, c, k - 1));
	}
}

/* n far past where C(n, k) fits a double (C(100000, 5000) ~ 1e8000): one right answer
 * gives k/n exactly as the ratio says, and the rest stays in [0, 1], monotone in c. */
static void test_verdict__pass_at_k_big_n(void)
{
	const int64_t n = 100000;
	for (int64_t k = 1; k <= 5000; k *= 10)
		CHECK_MSG(fabs(verdict_pass_at_k(n, 1, k) - (double)k / (double)n) < 1e-12,
			"k %lld: %.17g", (long long)k, verdict_pass_at_k(n, 1, k));
	double prev = 0;
	for (int64_t c = 0; c <= n; c += 997) {
		double p = verdict_pass_at_k(n, c, 5000);
		CHECK(isfinite(p) && p >= prev && p <= 1.0);
		prev = p;
	}
	/* 1 - (1 - 1/2)^k for c = n/2, k small next to n: the draws are nearly independent */
	CHECK(fabs(verdict_pass_at_k(n, n / 2, 3) - 0.875) < 1e-4);
}

static json_t *spec_of(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	CHECK_MSG(j != NULL, "%s", e.text);
	return j;
}

static const char *const PIPELINE = "{\"datasets\": {\"cd\": {\"generate\": \"countdown\"}, "
	"\"arith\": {\"generate\": \"arithmetic\"}, \"file\": {\"file\": \"/x.jsonl\"}}, "
	"\"rewards\": {\"acc\": {\"fn\": \"accuracy\", \"weight\": 1}, "
	"\"cnt\": {\"fn\": \"countdown\", \"weight\": 1}, "
	"\"big\": {\"fn\": \"accuracy\", \"weight\": 1, \"format_credit\": 1}, "
	"\"lang\": {\"fn\": \"language_consistency\", \"weight\": 1}, "
	"\"fmt\": {\"fn\": \"think_answer_format\", \"weight\": 1}}}";

/* The names of a hidden list, "@correct:fn(credit) @format:fn". */
static void describe(const json_t *hidden, char *buf, size_t cap)
{
	size_t i, len = 0;
	json_t *c;
	buf[0] = '\0';
	json_array_foreach(hidden, i, c) {
		const json_t *credit = json_object_get(c, "format_credit");
		CHECK(json_number_value(json_object_get(c, "weight")) == 0.0);
		len += (size_t)snprintf(buf + len, cap - len, "%s%s:%s", i ? " " : "",
			json_string_value(json_object_get(c, "name")),
			json_string_value(json_object_get(c, "fn")));
		if (credit)
			len += (size_t)snprintf(buf + len, cap - len, "(%g)", json_number_value(credit));
	}
}

static void test_verdict__the_named_reward_decides(void)
{
	json_t *p = spec_of(PIPELINE), *acc = spec_of("[\"acc\"]"), *both = spec_of("[\"lang\", \"cnt\"]");
	json_t *none = spec_of("[]");
	char d[200];
	/* among the stage's rewards with a credit below 1: read as it is, nothing extra */
	CHECK(strcmp(verdict_key(p, acc, "acc"), "acc") == 0);
	json_t *h = verdict_hidden(p, acc, "acc", "file");
	describe(h, d, sizeof d);
	CHECK_MSG(strcmp(d, "@format:think_answer_format") == 0, "%s", d);
	json_decref(h);
	/* not among them: a copy without the credit, the same on every dataset */
	CHECK(strcmp(verdict_key(p, none, "cnt"), VERDICT_CORRECT) == 0);
	const char *sets[] = { "cd", "file", "arith" };
	for (int i = 0; i < 3; i++) {
		h = verdict_hidden(p, none, "cnt", sets[i]);
		describe(h, d, sizeof d);
		CHECK_MSG(strcmp(d, "@correct:countdown(0) @format:think_answer_format") == 0, "%s", d);
		json_decref(h);
	}
	/* a credit of 1 would count a wrong answer: copied with the credit 0 */
	json_t *big = spec_of("[\"big\"]");
	CHECK(strcmp(verdict_key(p, big, "big"), VERDICT_CORRECT) == 0);
	h = verdict_hidden(p, big, "big", "file");
	describe(h, d, sizeof d);
	CHECK_MSG(strcmp(d, "@correct:accuracy(0) @format:think_answer_format") == 0, "%s", d);
	json_decref(h);
	/* any reward can be named: not accuracy-type, read as it is (value >= 1) */
	CHECK(strcmp(verdict_key(p, both, "lang"), "lang") == 0);
	h = verdict_hidden(p, none, "lang", "file");
	describe(h, d, sizeof d);
	CHECK_MSG(strcmp(d, "@correct:language_consistency @format:think_answer_format") == 0, "%s", d);
	json_decref(h);
	json_decref(p);
	json_decref(acc);
	json_decref(both);
	json_decref(none);
	json_decref(big);
}

/* No `correct` (null, or a spec from before the key): what r1flow always did — exact
 * match, countdown on a countdown-generated dataset. The same problems as a file
 * are matched exactly: why a spec now says which reward decides. */
static void test_verdict__without_correct_the_dataset_decides(void)
{
	json_t *p = spec_of(PIPELINE), *none = spec_of("[]");
	char d[200];
	CHECK(strcmp(verdict_key(p, none, NULL), VERDICT_CORRECT) == 0);
	json_t *h = verdict_hidden(p, none, NULL, "cd");
	describe(h, d, sizeof d);
	CHECK_MSG(strcmp(d, "@correct:countdown(0) @format:think_answer_format") == 0, "%s", d);
	json_decref(h);
	h = verdict_hidden(p, none, NULL, "file");
	describe(h, d, sizeof d);
	CHECK_MSG(strcmp(d, "@correct:accuracy(0) @format:think_answer_format") == 0, "%s", d);
	json_decref(h);
	json_decref(p);
	json_decref(none);
}

static void test_verdict__hidden_components_stay_hidden(void)
{
	json_t *comp = spec_of("{\"acc\": 0.1, \"@correct\": 0, \"@format\": 1, \"lang\": 1}");
	CHECK(verdict_correct(comp, "@correct") == 0);
	CHECK(verdict_correct(comp, "acc") == 0);       /* the credit is not right */
	CHECK(verdict_correct(comp, "lang") == 1);
	CHECK(verdict_correct(comp, "missing") == 0);
	CHECK(verdict_format(comp) == 1);
	json_t *pub = verdict_public(comp);
	CHECK(json_object_size(pub) == 2 && json_object_get(pub, "acc") &&
		json_object_get(pub, "lang"));
	json_decref(pub);
	json_decref(comp);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_verdict__pass_at_k_is_the_combinatorial_ratio),
		TEST(test_verdict__pass_at_k_edges),
		TEST(test_verdict__pass_at_k_big_n),
		TEST(test_verdict__the_named_reward_decides),
		TEST(test_verdict__without_correct_the_dataset_decides),
		TEST(test_verdict__hidden_components_stay_hidden),
		{ 0 },
	});
}
