/* fit: a spec's data against its model's context, over an in-memory source. */
#include <jansson.h>

#include "fit.h"
#include "test.h"
#include "tokenizer.h"

/* Dataset "d": prompts[i] (and responses[i]); any other name is unknown. */
static const char *prompts[8], *responses[8], *messages[8];
static int64_t nrec;

static int count(void *ctx, const char *name, int64_t *n, struct err *err)
{
	(void)ctx;
	(void)err;
	*n = nrec;
	return strcmp(name, "d") == 0;
}

static int get(void *ctx, const char *name, int64_t i, struct fit_record *r, struct err *err)
{
	(void)ctx;
	(void)name;
	(void)err;
	r->prompt = prompts[i];
	r->response = responses[i];
	r->text = NULL;
	r->messages = messages[i];
	snprintf(r->where, sizeof r->where, "d.jsonl:%lld", (long long)i + 1);
	return 0;
}

static const struct fit_source src = { NULL, count, get };

/* A spec with one stage (JSON text) and template "T{prompt}". */
static int check(const char *stage, int max_seq, struct err *e)
{
	char text[512];
	snprintf(text, sizeof text, "{\"template\": \"T{prompt}\", \"stages\": [%s]}", stage);
	json_t *spec = json_loads(text, 0, NULL);
	CHECK(spec);
	struct model_config c;
	struct tokenizer tok;
	config_defaults(&c);
	tokenizer_bytes(&tok, &c);
	int rc = fit_check(spec, max_seq, &tok, &src, e);
	json_decref(spec);
	return rc;
}

/* <bos> T + prompt: 2 + len ids; eval with max_new_tokens 10 fits 12 + len <= max_seq. */
static void test_fit__prompt_boundary_is_exact(void)
{
	struct err e = { 0 };
	const char *eval = "{\"name\": \"ev\", \"kind\": \"eval\", \"dataset\": \"d\", "
		"\"max_new_tokens\": 10, \"limit\": 0}";
	prompts[0] = "abcd";
	prompts[1] = "abcdef";
	prompts[2] = "ab";
	nrec = 3;
	CHECK(check(eval, 18, &e) == 0);  /* the longest: 2 + 6 + 10 = 18 */
	CHECK(check(eval, 17, &e) < 0);
	CHECK_MSG(strstr(e.msg, "stage 'ev': dataset 'd' record 1 (d.jsonl:2): the templated "
		"prompt is 8 tokens and max_new_tokens 10 needs 18, more than max_seq 17 (1 of 3 "
		"records do not fit)"), "%s", e.msg);
	CHECK(e.code == ERR_INVALID);
}

static void test_fit__the_longest_record_is_named(void)
{
	struct err e = { 0 };
	prompts[0] = "abcdefgh";
	prompts[1] = "abcdefghijkl";
	prompts[2] = "abcdefghij";
	nrec = 3;
	CHECK(check("{\"name\": \"g\", \"kind\": \"grpo\", \"prompts\": \"d\", "
		"\"max_new_tokens\": 1}", 8, &e) < 0);
	CHECK_MSG(strstr(e.msg, "record 1 (d.jsonl:2): the templated prompt is 14 tokens") &&
		strstr(e.msg, "(3 of 3 records"), "%s", e.msg);
}

static void test_fit__eval_limit_bounds_the_records_checked(void)
{
	struct err e = { 0 };
	prompts[0] = "a";
	prompts[1] = "abcdefghijklmnopqrstuvwxyz";
	nrec = 2;
	CHECK(check("{\"name\": \"ev\", \"kind\": \"eval\", \"dataset\": \"d\", "
		"\"max_new_tokens\": 4, \"limit\": 1}", 8, &e) == 0);
	CHECK(check("{\"name\": \"ev\", \"kind\": \"eval\", \"dataset\": \"d\", "
		"\"max_new_tokens\": 4, \"limit\": 0}", 8, &e) < 0);
}

/* sft packs <bos> template(prompt) response <eos> with the stage's template. */
static void test_fit__sft_examples_must_fit_whole(void)
{
	struct err e = { 0 };
	const char *sft = "{\"name\": \"s\", \"kind\": \"sft\", \"dataset\": \"d\", "
		"\"template\": \"{prompt}=\"}";
	prompts[0] = "ab";
	responses[0] = "cdef";
	nrec = 1;
	CHECK(check(sft, 9, &e) == 0); /* <bos> ab = cdef <eos> */
	CHECK(check(sft, 8, &e) < 0);
	CHECK_MSG(strstr(e.msg, "stage 's': dataset 'd' record 0 (d.jsonl:1): the SFT example "
		"is 9 tokens (4 before the response), more than max_seq 8"), "%s", e.msg);
}

/* With a chat format an sft stage packs a chat record's whole rendered conversation;
 * without one, its flattened prompt and response. */
static void test_fit__sft_chats_fit_as_rendered(void)
{
	struct err e = { 0 };
	prompts[0] = "Q";
	responses[0] = "A";
	messages[0] = "[{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", "
		"\"content\": \"A\"}]";
	nrec = 1;
	/* <bos> "Q: Q\n" "A: A" <|eos|> = 11 ids; flattened: <bos> Q= A <eos> = 5 */
	const char *roles = "{\"name\": \"s\", \"kind\": \"sft\", \"dataset\": \"d\", "
		"\"template\": \"{prompt}=\", \"chat_template\": {\"system\": \"{content}\", "
		"\"user\": \"Q: {content}\\n\", \"assistant\": \"A: {content}<|eos|>\"}}";
	CHECK(check(roles, 11, &e) == 0);
	CHECK(check(roles, 10, &e) < 0);
	CHECK_MSG(strstr(e.msg, "stage 's': dataset 'd' record 0 (d.jsonl:1): the SFT chat "
		"is 11 tokens (9 before the first answer), more than max_seq 10"), "%s", e.msg);
	CHECK(check("{\"name\": \"s\", \"kind\": \"sft\", \"dataset\": \"d\", "
		"\"template\": \"{prompt}=\"}", 5, &e) == 0);
	/* chatml: <bos>, "<|im_start|>user\n" Q "<|im_end|>\n" (29 bytes), then
	 * "<|im_start|>assistant\n" A "<|im_end|>\n" (34) */
	CHECK(check("{\"name\": \"s\", \"kind\": \"sft\", \"dataset\": \"d\", "
		"\"template\": \"{prompt}=\", \"chat_format\": \"chatml\"}", 64, &e) == 0);
	CHECK(check("{\"name\": \"s\", \"kind\": \"sft\", \"dataset\": \"d\", "
		"\"template\": \"{prompt}=\", \"chat_format\": \"chatml\"}", 63, &e) < 0);
	messages[0] = "[{\"role\": \"tool\", \"content\": \"Q\"}]";
	CHECK(check(roles, 64, &e) < 0);
	CHECK_MSG(!strcmp(e.msg, "stage 's': dataset 'd' record 0 (d.jsonl:1): messages[0]: role "
		"'tool' is not one of system, user, assistant"), "%s", e.msg);
	messages[0] = NULL;
}

static void test_fit__unknown_datasets_and_pretrain_pass(void)
{
	struct err e = { 0 };
	prompts[0] = "abcdefghijklmnopqrstuvwxyz";
	nrec = 1;
	CHECK(check("{\"name\": \"ev\", \"kind\": \"eval\", \"dataset\": \"made_later\", "
		"\"max_new_tokens\": 4}", 8, &e) == 0);
	CHECK(check("{\"name\": \"p\", \"kind\": \"pretrain\", \"dataset\": \"d\"}", 8, &e) == 0);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_fit__prompt_boundary_is_exact),
		TEST(test_fit__the_longest_record_is_named),
		TEST(test_fit__eval_limit_bounds_the_records_checked),
		TEST(test_fit__sft_examples_must_fit_whole),
		TEST(test_fit__sft_chats_fit_as_rendered),
		TEST(test_fit__unknown_datasets_and_pretrain_pass),
		{ 0 } });
}
