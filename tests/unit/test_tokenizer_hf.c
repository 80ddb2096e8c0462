/*
 * test_tokenizer_hf — core/tokenizer's Hugging Face path: the ids around the text
 * from tokenizer_config.json and generation_config.json, the vocabulary check
 * against config.json, packing with the tokenizer's BOS/EOS, token pieces for stop
 * strings, and tokenizer_find / tokenizer_open_dir on model directories. The files
 * are small ones each test writes: a byte-level BPE model that spells "hello" in one
 * token and "é" (bytes C3 A9) in two, one byte each.
 */
#include <jansson.h>

#include "packing.h"
#include "test.h"
#include "testdir.h"
#include "tokenizer.h"

#define TOK_JSON "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"h\": 0, \"e\": 1, \"l\": 2, " \
	"\"o\": 3, \"he\": 4, \"ll\": 5, \"hell\": 6, \"hello\": 7, \"\xC3\x83\": 8, " \
	"\"\xC2\xA9\": 9, \"\xC4\xA0\": 10, \"\xC4\xA0hello\": 11}, \"merges\": [\"h e\", " \
	"\"l l\", \"he ll\", \"hell o\", \"\xC4\xA0 hello\"]}, \"pre_tokenizer\": {\"type\": " \
	"\"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}, \"decoder\": " \
	"{\"type\": \"ByteLevel\"}, \"added_tokens\": [" \
	"{\"id\": 12, \"content\": \"<s>\", \"special\": true}, " \
	"{\"id\": 13, \"content\": \"</s>\", \"special\": true}, " \
	"{\"id\": 14, \"content\": \"<|im_end|>\", \"special\": true}]}"

/* testdir with tokenizer.json and, when not NULL, the two optional files */
static void write_dir(const char *config, const char *generation)
{
	char path[1200];
	testdir_new("tokhf");
	snprintf(path, sizeof path, "%s/" TOKENIZER_JSON, testdir);
	testdir_write(path, TOK_JSON, strlen(TOK_JSON));
	if (config) {
		snprintf(path, sizeof path, "%s/" TOKENIZER_CONFIG, testdir);
		testdir_write(path, config, strlen(config));
	}
	if (generation) {
		snprintf(path, sizeof path, "%s/" TOKENIZER_GENERATION, testdir);
		testdir_write(path, generation, strlen(generation));
	}
}

/* a config.json's ids: vocab V, no bos/eos/pad of its own */
static struct model_config config_of(int V)
{
	struct model_config c;
	config_defaults(&c);
	c.vocab = V;
	c.bos_id = c.eos_id = c.pad_id = -1;
	return c;
}

static void test_tokenizer_hf__config_files_name_the_ids(void)
{
	write_dir("{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": "
		"\"</s>\", \"pad_token\": null, \"add_bos_token\": true, \"model_max_length\": "
		"1000000000000000019884624838656}", "{\"eos_token_id\": [13, 14]}");
	struct model_config c = config_of(32);
	struct tokenizer t;
	struct err e = { 0 };
	CHECK_MSG(tokenizer_open_dir(&t, testdir, &c, &e) == 1, "%s", e.msg);
	CHECK(t.hf && t.vocab == 32 && t.bos_id == 12 && t.eos_id == 13 && t.pad_id == -1);
	CHECK(t.add_bos);
	CHECK(t.n_stop == 2 && tokenizer_is_stop(&t, 13) && tokenizer_is_stop(&t, 14));
	CHECK(!tokenizer_is_stop(&t, 12) && tokenizer_token_id(&t, "<|im_end|>") == 14);
	/* packing puts the BOS first and ends an example with the EOS */
	int ids[16];
	size_t start;
	int64_t n = pack_example(&t, "{prompt} ", "hello", "hello</s>", ids, 16, &start, &e);
	/* <s> "hello" "Ġ" | "hello" "</s>" | </s>: the prompt and the response are
	 * tokenized apart, so the space stays a token of the prompt */
	int want[] = { 12, 7, 10, 7, 13, 13 };
	CHECK_MSG(n == 6 && start == 3, "n %lld start %zu", (long long)n, start);
	CHECK(memcmp(ids, want, sizeof want) == 0);
	tokenizer_release(&t);
	testdir_done();
}

/* Without tokenizer_config.json: no BOS (no template puts one), config.json's EOS. */
static void test_tokenizer_hf__fallbacks_are_config_json(void)
{
	write_dir(NULL, NULL);
	struct model_config c = config_of(15);
	c.eos_id = 14;
	struct tokenizer t;
	struct err e = { 0 };
	CHECK_MSG(tokenizer_open_dir(&t, testdir, &c, &e) == 1, "%s", e.msg);
	CHECK(!t.add_bos && t.eos_id == 14 && t.n_stop == 1 && t.stop[0] == 14);
	int ids[8];
	CHECK(pack_prompt(&t, "{prompt}", "hello", ids, 8, &e) == 1 && ids[0] == 7);
	tokenizer_release(&t);
	/* a model made for the tokenizer takes its size */
	c = config_of(0);
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) == 1 && t.vocab == 15);
	tokenizer_release(&t);
	testdir_done();
}

static void test_tokenizer_hf__refusals_name_the_file(void)
{
	struct tokenizer t;
	struct err e = { 0 };
	write_dir(NULL, NULL);
	struct model_config c = config_of(10);
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) < 0);
	CHECK_MSG(strstr(e.msg, "has 15 ids but the model's vocab_size is 10") &&
		strstr(e.msg, TOKENIZER_JSON), "%s", e.msg);
	testdir_done();

	write_dir("{\"eos_token\": \"<eot>\"}", NULL);
	c = config_of(32);
	e = (struct err){ 0 };
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) < 0);
	CHECK_MSG(strstr(e.msg, TOKENIZER_CONFIG "': eos_token '<eot>' is not a token"), "%s",
		e.msg);
	testdir_done();

	write_dir(NULL, "{\"eos_token_id\": [13, 40]}");
	e = (struct err){ 0 };
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) < 0);
	CHECK_MSG(strstr(e.msg, TOKENIZER_GENERATION "': the end-of-sequence id 40 is not below "
		"the model's vocab_size 32"), "%s", e.msg);
	testdir_done();

	write_dir("{\"add_bos_token\": true", NULL);
	e = (struct err){ 0 };
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) < 0);
	CHECK_MSG(strstr(e.msg, "malformed JSON in") && strstr(e.msg, TOKENIZER_CONFIG), "%s",
		e.msg);
	testdir_done();

	write_dir("{\"add_bos_token\": true}", NULL);
	e = (struct err){ 0 };
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) < 0);
	CHECK_MSG(strstr(e.msg, "names one"), "%s", e.msg);
	testdir_done();
}

/* A stop string may end inside a token: pieces are the raw bytes, even half a
 * character, while decoding the same id alone gives U+FFFD. */
static void test_tokenizer_hf__pieces_are_bytes(void)
{
	write_dir(NULL, NULL);
	struct model_config c = config_of(32);
	struct tokenizer t;
	struct err e = { 0 };
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) == 1);
	char buf[16];
	CHECK(tokenizer_piece(&t, 8, buf, sizeof buf) == 1 && (unsigned char)buf[0] == 0xC3);
	CHECK(tokenizer_piece(&t, 9, buf, sizeof buf) == 1 && (unsigned char)buf[0] == 0xA9);
	CHECK(tokenizer_piece(&t, 11, buf, sizeof buf) == 6 && !strcmp(buf, " hello"));
	CHECK(tokenizer_piece(&t, 14, buf, sizeof buf) == 10 && !strcmp(buf, "<|im_end|>"));
	CHECK(tokenizer_piece(&t, 11, buf, 3) == 6 && !strcmp(buf, " h")); /* snprintf-like */
	size_t len;
	int half[] = { 7, 8 }, whole[] = { 7, 8, 9, 14 };
	char *s = tokenizer_decode(&t, half, 2, &len, &e);
	CHECK(s && !strcmp(s, "hello\xEF\xBF\xBD") && len == 8);
	free(s);
	s = tokenizer_decode(&t, whole, 4, &len, &e);
	CHECK(s && !strcmp(s, "hello\xC3\xA9<|im_end|>"));
	free(s);
	tokenizer_release(&t);
	testdir_done();
}

static void test_tokenizer_hf__find_and_byte_fallback(void)
{
	write_dir("{}", NULL);
	struct tokenizer_paths p;
	struct err e = { 0 };
	char file[1200];
	snprintf(file, sizeof file, "%s/" TOKENIZER_JSON, testdir);
	CHECK(tokenizer_find(file, &p, &e) == 1);
	CHECK(!strcmp(p.json, file) && strstr(p.config, TOKENIZER_CONFIG) && !*p.generation);
	CHECK(unlink(file) == 0);
	struct model_config c;
	config_defaults(&c);
	struct tokenizer t;
	/* a directory without tokenizer.json: the byte tokenizer with config.json's ids */
	CHECK(tokenizer_open_dir(&t, testdir, &c, &e) == 0);
	CHECK(!t.hf && t.bos_id == TOK_BOS && t.add_bos && tokenizer_is_stop(&t, TOK_EOS));
	CHECK(tokenizer_token_id(&t, "<think>") == TOK_THINK);
	testdir_done();
	e = (struct err){ 0 };
	CHECK(tokenizer_find("/nonexistent/model", &p, &e) < 0);
	CHECK_MSG(strstr(e.msg, "cannot read tokenizer '/nonexistent/model'"), "%s", e.msg);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_tokenizer_hf__config_files_name_the_ids),
		TEST(test_tokenizer_hf__fallbacks_are_config_json),
		TEST(test_tokenizer_hf__refusals_name_the_file),
		TEST(test_tokenizer_hf__pieces_are_bytes),
		TEST(test_tokenizer_hf__find_and_byte_fallback),
		{ 0 } });
}
