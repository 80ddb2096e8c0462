/* packing: sequences within max_seq, never a write past the caller's buffer. */
#include "packing.h"
#include "test.h"
#include "tokenizer.h"

/* A buffer with guard ids after `cap`: packing may write ids[0..cap) only. */
#define GUARD 0x5eed
static int buf[64 + 8];
static void guard_set(size_t cap)
{
	for (size_t i = cap; i < cap + 8; i++)
		buf[i] = GUARD;
}
/* The byte tokenizer of the default config (<|bos|> 256, <|eos|> 257). */
static struct tokenizer *bytes(void)
{
	static struct tokenizer t;
	struct model_config c;
	config_defaults(&c);
	tokenizer_bytes(&t, &c);
	return &t;
}

static int guard_ok(size_t cap)
{
	for (size_t i = cap; i < cap + 8; i++)
		if (buf[i] != GUARD)
			return 0;
	return 1;
}

static void test_packing__prompt_applies_the_template(void)
{
	size_t n = (size_t)pack_prompt(bytes(), "Q: {prompt}\n<think>", "1+2", buf, 64, NULL);
	int want[] = { TOK_BOS, 'Q', ':', ' ', '1', '+', '2', '\n', TOK_THINK };
	CHECK(n == sizeof want / sizeof want[0]);
	CHECK(memcmp(buf, want, sizeof want) == 0);
}

static void test_packing__long_prompts_never_write_past_cap(void)
{
	for (size_t cap = 0; cap < 20; cap++) {
		guard_set(cap);
		size_t n = (size_t)pack_prompt(bytes(),
			"A conversation. User: {prompt}\nAssistant: <think>", "123+456", buf, cap, NULL);
		CHECK(n == 1 + 22 + 7 + 12 + 1); /* <bos> text prompt "\nAssistant: " <think> */
		CHECK(guard_ok(cap));
		size_t start;
		guard_set(cap);
		n = (size_t)pack_example(bytes(), "{prompt}\n<think>", "9+9",
			"9+9=18</think><answer>18</answer>", buf, cap, &start, NULL);
		CHECK(start == 1 + 3 + 1 + 1);
		CHECK(guard_ok(cap));
		guard_set(cap);
		CHECK(pack_document(bytes(), "abcdefghijklmnopqrstuvwxyz", buf, cap, NULL) == 28);
		CHECK(guard_ok(cap));
	}
}

static void test_packing__prompt_fit_is_exact(void)
{
	CHECK(pack_prompt_fits(16, 48, 64));
	CHECK(!pack_prompt_fits(17, 48, 64));
	CHECK(!pack_prompt_fits(65, 0, 64));
	CHECK(pack_prompt_fits(64, 0, 64));
}

static void test_packing__example_ends_with_eos_and_starts_at_response(void)
{
	size_t start;
	size_t n = (size_t)pack_example(bytes(), "{prompt}:", "ab", "cd", buf, 64, &start, NULL);
	int want[] = { TOK_BOS, 'a', 'b', ':', 'c', 'd', TOK_EOS };
	CHECK(n == 7 && start == 4);
	CHECK(memcmp(buf, want, sizeof want) == 0);
}

/* Windows of stride max_seq - 1 cover every target of the document exactly once. */
static void test_packing__windows_cover_every_target_once(void)
{
	for (int max_seq = 2; max_seq < 12; max_seq++) {
		for (int64_t n = 1; n < 60; n++) {
			int64_t w = pack_windows(n, max_seq);
			int seen[64] = { 0 };
			CHECK(w >= 1);
			for (int64_t k = 0; k < w; k++) {
				int64_t at = pack_window_start(k, max_seq);
				int64_t len = n - at < max_seq ? n - at : max_seq;
				CHECK_MSG(len >= 2 || (n == 1 && w == 1), "n %lld max_seq %d window %lld "
					"of %lld has %lld ids", (long long)n, max_seq, (long long)k,
					(long long)w, (long long)len);
				for (int64_t t = at + 1; t < at + len; t++)
					seen[t]++;
			}
			for (int64_t t = 1; t < n; t++)
				CHECK_MSG(seen[t] == 1, "n %lld max_seq %d: target %lld seen %d times",
					(long long)n, max_seq, (long long)t, seen[t]);
		}
	}
	CHECK(pack_windows(64, 64) == 1 && pack_windows(65, 64) == 2);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_packing__prompt_applies_the_template),
		TEST(test_packing__long_prompts_never_write_past_cap),
		TEST(test_packing__prompt_fit_is_exact),
		TEST(test_packing__example_ends_with_eos_and_starts_at_response),
		TEST(test_packing__windows_cover_every_target_once),
		{ 0 } });
}
