/*
 * test_rl — the GRPO advantages of a group (stage_rl.h rl_advantages) and the answer a
 * majority vote compares (rl_answer).
 */
#include "stage_rl.h"
#include "test.h"

/* Groups whose rewards are all the same value: rounding in the mean must not make
 * them look informative (sixteen 0.1s have a mean of 0.1 + 1.4e-17). */
static void test_rl__equal_rewards_are_a_constant_group(void)
{
	const double values[] = { 0.1, 0.2, 0.3, 0.7, 1.0 / 3, 0.0, 1.0, -0.1, 2.2 };
	double r[64], adv[64];
	int varied = 0; /* groups whose variance comes out nonzero: the case to catch */
	for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
		for (size_t n = 1; n <= 64; n++) {
			for (size_t k = 0; k < n; k++)
				r[k] = values[v];
			double mean = 0;
			for (size_t k = 0; k < n; k++)
				mean += r[k];
			mean /= (double)n;
			varied += mean != values[v];
			for (int scale = 0; scale < 2; scale++) {
				for (size_t k = 0; k < n; k++)
					adv[k] = 42;
				CHECK_MSG(rl_advantages(r, n, scale, adv) == 1, "%zu x %.17g (scale %d)",
					n, values[v], scale);
				for (size_t k = 0; k < n; k++)
					CHECK_MSG(adv[k] == 0, "%zu x %.17g (scale %d): adv[%zu] = %.3g", n,
						values[v], scale, k, adv[k]);
			}
		}
	}
	printf("equal groups whose mean is not their value: %d\n", varied);
	CHECK(varied > 0);
}

static void test_rl__sixteen_tenths(void)
{
	double r[16], adv[16];
	for (int k = 0; k < 16; k++)
		r[k] = 0.1;
	CHECK(rl_advantages(r, 16, 1, adv) == 1);
	for (int k = 0; k < 16; k++)
		CHECK(adv[k] == 0);
}

static void test_rl__unequal_rewards_are_normalised(void)
{
	const double r[4] = { 0, 1, 0, 1 };
	double adv[4];
	CHECK(rl_advantages(r, 4, 1, adv) == 0);
	for (int k = 0; k < 4; k++)
		CHECK_NEAR(adv[k], (r[k] - 0.5) / (0.5 + 1e-4), 1e-12);
	CHECK(rl_advantages(r, 4, 0, adv) == 0);
	for (int k = 0; k < 4; k++)
		CHECK(adv[k] == r[k] - 0.5);
}

static void test_rl__one_ulp_apart_is_not_equal(void)
{
	/* the mean's rounding may even put it above the larger reward: only the verdict
	 * and finiteness are asked for */
	double r[8], adv[8];
	for (int k = 0; k < 8; k++)
		r[k] = 0.1;
	r[5] = nextafter(0.1, 1.0);
	for (int scale = 0; scale < 2; scale++) {
		CHECK(rl_advantages(r, 8, scale, adv) == 0);
		for (int k = 0; k < 8; k++)
			CHECK(isfinite(adv[k]) && fabs(adv[k]) < 1e-9);
	}
}

/* The tagged answer when there is one, else the last non-blank line, trimmed. */
static void test_rl__the_voted_answer(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "1+2=3</think><answer> 3 \n</answer>", "3" },
		{ "x<answer>7</answer>\n#### 9", "7" },
		{ "6*5=30\n59-30=29\n#### 29", "#### 29" },
		{ "6*5=30\n#### 29\n \n\n", "#### 29" },
		{ "  just one line  ", "just one line" },
		{ "<answer>unclosed\nlast", "last" },
		{ "", "" },
		{ " \n \n", "" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rl_answer(cases[i].text, buf, sizeof buf);
		CHECK_MSG(!strcmp(buf, cases[i].want), "'%s' gave '%s'", cases[i].text, buf);
	}
	rl_answer(NULL, buf, sizeof buf);
	CHECK(!*buf);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_rl__equal_rewards_are_a_constant_group),
		TEST(test_rl__sixteen_tenths),
		TEST(test_rl__unequal_rewards_are_normalised),
		TEST(test_rl__one_ulp_apart_is_not_equal),
		TEST(test_rl__the_voted_answer),
		{ 0 },
	});
}
