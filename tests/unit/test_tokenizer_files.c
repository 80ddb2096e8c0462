/*
 * test_tokenizer_files — the byte tokenizer written as Hugging Face files reloads in
 * r1flow's own engine (hftok, through tokenizer_open_dir) with the ids, decoded text
 * and bos/eos/pad of the byte tokenizer, on a corpus of every kind of byte sequence
 * that is valid UTF-8; and generation_config.json from a tokenizer's stop ids.
 * (tests/integration/test_byte_tokenizer_ref.sh checks the same files against the
 * reference library.)
 */
#include <jansson.h>

#include "config.h"
#include "test.h"
#include "testdir.h"
#include "tokenizer.h"
#include "tokenizer_files.h"

/* control bytes, a NUL among them (so its length is given) */
#define CONTROL_BYTES "\x01\x02\x1f\x7f \x00 nul inside"

static const char *const corpus[] = {
	"",
	"The quick brown fox jumps over the lazy dog. It's 3.14, isn't it? I'M SURE",
	"def f(x):\n\treturn x ** 2  # square\n\n\n    if (a && b) { c[i] = \"q\\n\"; }",
	"2026-12-06 08:09:04 UTC  1234567890 +-*/= 1,000,000.5",
	"   \t\t\n\r\n  \x0b\x0c trailing spaces   ",
	"\xe4\xb8\xad\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", /* CJK */
	"\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d"
	"\xe0\xa4\xa4\xe0\xa5\x87", /* Arabic, Devanagari */
	"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 "
	"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", /* ZWJ family, skin tone */
	"e\xcc\x81 \xc3\xa9 \xc2\xa0\xc2\xad\xc3\xbf\xc2\xa1", /* NFD, NFC, NBSP, soft hyphen */
	"<|bos|>1+2=<think>so 3</think><answer>3</answer><|eos|><|pad|>",
	"<thin <|bos <answer</answer>> <<think>> <|eos|<|eos|>",
	CONTROL_BYTES,
	"Supercalifragilisticexpialidocious_pneumonoultramicroscopicsilicovolcanoconiosis",
};
static size_t text_len(size_t i)
{
	/* as a C string CONTROL_BYTES ends at its NUL */
	return strcmp(corpus[i], CONTROL_BYTES) == 0 ? sizeof CONTROL_BYTES - 1 : strlen(corpus[i]);
}

static struct model_config byte_config(void)
{
	struct model_config cfg;
	config_defaults(&cfg);
	return cfg;
}

/* The byte tokenizer's files written into a fresh testdir. */
static void write_files(const struct model_config *cfg)
{
	struct tokenizer_file f[TOKENIZER_FILES];
	struct err e = { 0 };
	CHECK_MSG(tokenizer_files_bytes(cfg, f, &e) == 0, "%s", e.msg);
	testdir_new("tokfiles");
	for (int i = 0; i < TOKENIZER_FILES; i++) {
		char path[1200];
		snprintf(path, sizeof path, "%s/%s", testdir, f[i].name);
		CHECK(f[i].size > 0 && f[i].data[f[i].size - 1] == '\n');
		testdir_write(path, f[i].data, f[i].size);
	}
	tokenizer_files_free(f, TOKENIZER_FILES);
}

static void test_tokenizer_files__reload_gives_the_byte_ids(void)
{
	struct model_config cfg = byte_config();
	struct tokenizer t, bytes;
	struct err e = { 0 };
	write_files(&cfg);
	CHECK_MSG(tokenizer_open_dir(&t, testdir, &cfg, &e) == 1, "%s", e.msg);
	tokenizer_bytes(&bytes, &cfg);
	CHECK(t.hf != NULL);
	CHECK(t.bos_id == bytes.bos_id && t.eos_id == bytes.eos_id && t.pad_id == bytes.pad_id);
	CHECK(t.add_bos && bytes.add_bos);
	CHECK(t.n_stop == 1 && t.stop[0] == cfg.eos_id);
	CHECK(hftok_template_bos(t.hf) == cfg.bos_id);
	for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
		size_t n = text_len(i);
		struct hftok_ids want = { 0 }, got = { 0 };
		CHECK(tokenizer_encode(&bytes, corpus[i], n, &want, &e) == 0);
		CHECK_MSG(tokenizer_encode(&t, corpus[i], n, &got, &e) == 0, "%s", e.msg);
		CHECK_MSG(got.n == want.n, "text %zu: %zu ids, the byte tokenizer gives %zu", i,
			got.n, want.n);
		for (size_t k = 0; k < got.n; k++)
			CHECK_MSG(got.v[k] == want.v[k], "text %zu, id %zu: %d, the byte tokenizer "
				"gives %d", i, k, got.v[k], want.v[k]);
		size_t a, b;
		char *da = tokenizer_decode(&bytes, want.v, want.n, &a, &e);
		char *db = tokenizer_decode(&t, got.v, got.n, &b, &e);
		CHECK(da && db);
		CHECK_MSG(a == b && memcmp(da, db, a) == 0, "text %zu decodes to '%s', the byte "
			"tokenizer to '%s'", i, db, da);
		CHECK(a == n && memcmp(da, corpus[i], n) == 0);
		free(da);
		free(db);
		free(want.v);
		free(got.v);
	}
	/* every single byte and special, one at a time: its id and its piece */
	for (int id = 0; id < TOK_NUM_IDS; id++) {
		char pa[16], pb[16];
		size_t a = tokenizer_piece(&bytes, id, pa, sizeof pa);
		size_t b = tokenizer_piece(&t, id, pb, sizeof pb);
		CHECK_MSG(a == b && memcmp(pa, pb, a) == 0, "id %d's piece differs", id);
		if (id >= TOK_BOS)
			CHECK(tokenizer_token_id(&t, tok_special_name(id)) == id);
	}
	tokenizer_release(&t);
	testdir_done();
}

static void test_tokenizer_files__the_files_say_what_transformers_reads(void)
{
	struct model_config cfg = byte_config();
	cfg.max_seq = 777;
	cfg.pad_id = -1;
	struct tokenizer_file f[TOKENIZER_FILES];
	struct err e = { 0 };
	CHECK_MSG(tokenizer_files_bytes(&cfg, f, &e) == 0, "%s", e.msg);
	json_error_t je;
	json_t *tj = json_loadb(f[0].data, f[0].size, 0, &je);
	json_t *tc = json_loadb(f[1].data, f[1].size, 0, &je);
	json_t *gc = json_loadb(f[2].data, f[2].size, 0, &je);
	CHECK(tj && tc && gc);
	CHECK(!strcmp(f[0].name, "tokenizer.json") && !strcmp(f[1].name, "tokenizer_config.json") &&
		!strcmp(f[2].name, "generation_config.json"));
	json_t *model = json_object_get(tj, "model");
	CHECK(json_object_size(json_object_get(model, "vocab")) == 256);
	CHECK(json_array_size(json_object_get(model, "merges")) == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(model, "vocab"), "\xc4\x8a")) == 10);
	CHECK(json_integer_value(json_object_get(json_object_get(model, "vocab"), "\xc4\xa0")) == 32);
	CHECK(json_integer_value(json_object_get(json_object_get(model, "vocab"), "A")) == 65);
	json_t *added = json_object_get(tj, "added_tokens");
	CHECK(json_array_size(added) == 7);
	for (size_t i = 0; i < 7; i++) {
		json_t *a = json_array_get(added, i);
		CHECK(json_integer_value(json_object_get(a, "id")) == TOK_BOS + (int)i);
		CHECK(!strcmp(json_string_value(json_object_get(a, "content")),
			tok_special_name(TOK_BOS + (int)i)));
		CHECK(json_is_true(json_object_get(a, "special")));
		CHECK(json_is_false(json_object_get(a, "normalized")));
	}
	CHECK(json_is_false(json_object_get(json_object_get(tj, "pre_tokenizer"), "use_regex")));
	CHECK(json_is_false(json_object_get(json_object_get(tj, "pre_tokenizer"),
		"add_prefix_space")));
	CHECK(!strcmp(json_string_value(json_object_get(tc, "bos_token")), "<|bos|>"));
	CHECK(!strcmp(json_string_value(json_object_get(tc, "eos_token")), "<|eos|>"));
	CHECK(json_is_null(json_object_get(tc, "pad_token")));
	CHECK(json_is_true(json_object_get(tc, "add_bos_token")));
	CHECK(json_is_false(json_object_get(tc, "clean_up_tokenization_spaces")));
	CHECK(json_integer_value(json_object_get(tc, "model_max_length")) == 777);
	CHECK(!strcmp(json_string_value(json_object_get(tc, "tokenizer_class")),
		"PreTrainedTokenizerFast"));
	CHECK(json_integer_value(json_object_get(gc, "bos_token_id")) == TOK_BOS);
	CHECK(json_integer_value(json_object_get(gc, "eos_token_id")) == TOK_EOS);
	CHECK(json_object_get(gc, "pad_token_id") == NULL);
	json_decref(tj);
	json_decref(tc);
	json_decref(gc);
	tokenizer_files_free(f, TOKENIZER_FILES);
}

static void test_tokenizer_files__ids_past_the_specials_are_refused(void)
{
	struct model_config cfg = byte_config();
	cfg.vocab = 300;
	cfg.eos_id = 290;
	struct tokenizer_file f[TOKENIZER_FILES];
	struct err e = { 0 };
	CHECK(tokenizer_files_bytes(&cfg, f, &e) < 0);
	CHECK_MSG(strstr(e.msg, "eos id 290") != NULL, "%s", e.msg);
	CHECK(f[0].data == NULL);
}

static void test_tokenizer_files__generation_lists_every_stop_id(void)
{
	struct tokenizer t = { .bos_id = 5, .eos_id = 7, .pad_id = -1, .n_stop = 2,
		.stop = { 7, 9 } };
	struct tokenizer_file f;
	struct err e = { 0 };
	CHECK(tokenizer_files_generation(&t, &f, &e) == 0);
	json_error_t je;
	json_t *g = json_loadb(f.data, f.size, 0, &je);
	CHECK(g && json_integer_value(json_object_get(g, "bos_token_id")) == 5);
	json_t *eos = json_object_get(g, "eos_token_id");
	CHECK(json_array_size(eos) == 2 && json_integer_value(json_array_get(eos, 1)) == 9);
	CHECK(!json_object_get(g, "pad_token_id"));
	json_decref(g);
	tokenizer_files_free(&f, 1);
	t.n_stop = 1;
	t.pad_id = 3;
	CHECK(tokenizer_files_generation(&t, &f, &e) == 0);
	g = json_loadb(f.data, f.size, 0, &je);
	CHECK(json_integer_value(json_object_get(g, "eos_token_id")) == 7);
	CHECK(json_integer_value(json_object_get(g, "pad_token_id")) == 3);
	json_decref(g);
	tokenizer_files_free(&f, 1);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_tokenizer_files__reload_gives_the_byte_ids),
		TEST(test_tokenizer_files__the_files_say_what_transformers_reads),
		TEST(test_tokenizer_files__ids_past_the_specials_are_refused),
		TEST(test_tokenizer_files__generation_lists_every_stop_id),
		{ 0 } });
}
