/* Which checkpoints a training stage keeps (daemon/retain.h): the K latest, the
 * latest with moments, and the pinned steps (a GRPO stage's reference). */
#include <stdint.h>
#include <string.h>

#include "retain.h"
#include "test.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* n checkpoints at steps[], with moments where moments[i] */
static void fill(struct store_checkpoint *ck, const int64_t *steps, const int *moments,
	size_t n)
{
	memset(ck, 0, n * sizeof *ck);
	for (size_t i = 0; i < n; i++) {
		ck[i].step = steps[i];
		memcpy(ck[i].sha256, SHA_A, 65);
		if (moments[i])
			memcpy(ck[i].optimizer, SHA_A, 65);
	}
}

/* "0110": keep[] as a string */
static const char *pattern(const int *keep, size_t n)
{
	static char s[64];
	for (size_t i = 0; i < n; i++)
		s[i] = keep[i] ? '1' : '0';
	s[n] = '\0';
	return s;
}

static void test_retain__keeps_the_latest_k(void)
{
	/* pretrain: step 0 (initial weights, no moments), then saves every 8 */
	const int64_t steps[] = { 0, 8, 16, 24, 32 };
	const int moments[] = { 0, 1, 1, 1, 1 };
	struct store_checkpoint ck[5];
	int keep[5];
	fill(ck, steps, moments, 5);
	retain_choose(ck, 5, 2, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 5), "00011"), "%s", pattern(keep, 5));
	retain_choose(ck, 5, 1, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 5), "00001"), "%s", pattern(keep, 5));
	retain_choose(ck, 5, 5, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 5), "11111"), "%s", pattern(keep, 5));
	retain_choose(ck, 5, 9, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 5), "11111"), "%s", pattern(keep, 5));
}

static void test_retain__no_key_keeps_everything(void)
{
	const int64_t steps[] = { 0, 1, 2 };
	const int moments[] = { 0, 1, 1 };
	struct store_checkpoint ck[3];
	int keep[3];
	fill(ck, steps, moments, 3);
	retain_choose(ck, 3, 0, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 3), "111"), "%s", pattern(keep, 3));
}

static void test_retain__the_latest_with_moments_stays(void)
{
	/* a restart resumes from the latest checkpoint with moments, even when the
	 * latest ones have none */
	const int64_t steps[] = { 0, 4, 5, 6 };
	const int moments[] = { 0, 1, 0, 0 };
	struct store_checkpoint ck[4];
	int keep[4];
	fill(ck, steps, moments, 4);
	retain_choose(ck, 4, 1, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 4), "0101"), "%s", pattern(keep, 4));
	retain_choose(ck, 4, 2, NULL, 0, keep);
	CHECK_MSG(!strcmp(pattern(keep, 4), "0111"), "%s", pattern(keep, 4));
}

static void test_retain__pinned_steps_stay(void)
{
	/* GRPO, beta > 0, no refresh: the reference is the step-0 checkpoint */
	const int64_t steps[] = { 0, 1, 2, 3, 4, 5, 6 };
	const int moments[] = { 0, 1, 1, 1, 1, 1, 1 };
	struct store_checkpoint ck[7];
	int keep[7];
	int64_t ref = 0;
	fill(ck, steps, moments, 7);
	retain_choose(ck, 7, 2, &ref, 1, keep);
	CHECK_MSG(!strcmp(pattern(keep, 7), "1000011"), "%s", pattern(keep, 7));
	/* refreshed every 2 steps with mu 2 (steps in learner steps): pinned 4 */
	const int64_t lsteps[] = { 0, 2, 4, 6 };
	fill(ck, lsteps, moments, 4);
	ref = 4;
	retain_choose(ck, 4, 1, &ref, 1, keep);
	CHECK_MSG(!strcmp(pattern(keep, 4), "0011"), "%s", pattern(keep, 4));
	/* a pin at a step with no checkpoint keeps nothing extra */
	ref = 3;
	retain_choose(ck, 4, 1, &ref, 1, keep);
	CHECK_MSG(!strcmp(pattern(keep, 4), "0001"), "%s", pattern(keep, 4));
}

static void test_retain__nothing_to_choose_from(void)
{
	int keep[1] = { 7 };
	retain_choose(NULL, 0, 2, NULL, 0, keep);
	CHECK(keep[0] == 7);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_retain__keeps_the_latest_k),
		TEST(test_retain__no_key_keeps_everything),
		TEST(test_retain__the_latest_with_moments_stays),
		TEST(test_retain__pinned_steps_stay),
		TEST(test_retain__nothing_to_choose_from),
		{ 0 },
	});
}
