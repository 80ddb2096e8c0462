/*
 * test_hftok — core/hftok against small tokenizer.json files each test writes:
 * one per component (the expected ids follow from the reference library's rules,
 * spelled out where they are not obvious) and one per refusal.
 */
#include <jansson.h>

#include "hftok.h"
#include "test.h"
#include "testdir.h"

/* testdir/tokenizer.json = {"model": MODEL, REST} loaded; REST may be "" */
static struct hftok *load_ex(const char *model, const char *rest, struct err *e)
{
	testdir_new("hftok");
	char path[1100], *json;
	snprintf(path, sizeof path, "%s/tokenizer.json", testdir);
	size_t n = strlen(model) + strlen(rest) + 64;
	json = malloc(n);
	snprintf(json, n, "{\"model\": %s%s%s}", model, *rest ? ", " : "", rest);
	testdir_write(path, json, strlen(json));
	free(json);
	return hftok_load(path, e);
}

static struct hftok *load(const char *model, const char *rest)
{
	struct err e = { 0 };
	struct hftok *t = load_ex(model, rest, &e);
	CHECK_MSG(t != NULL, "%s", e.msg);
	return t;
}

/* the tokens of text, spelled and joined by '|' (static buffer) */
static const char *toks(struct hftok *t, const char *text, int special)
{
	static char out[4096];
	struct hftok_ids ids = { 0 };
	struct err e = { 0 };
	CHECK_MSG(hftok_encode(t, text, strlen(text), special, &ids, &e) == 0, "%s", e.msg);
	out[0] = 0;
	for (size_t i = 0; i < ids.n; i++) {
		const char *s = hftok_id_token(t, ids.v[i]);
		CHECK(s != NULL);
		if (i)
			strcat(out, "|");
		strcat(out, s);
	}
	free(ids.v);
	return out;
}

static char *roundtrip(struct hftok *t, const char *text)
{
	struct hftok_ids ids = { 0 };
	struct err e = { 0 };
	CHECK(hftok_encode(t, text, strlen(text), 0, &ids, &e) == 0);
	char *s = hftok_decode(t, ids.v, ids.n, 0, NULL, &e);
	CHECK_MSG(s != NULL, "%s", e.msg);
	free(ids.v);
	return s;
}

#define CHECK_TOKS(t, text, want) do { const char *got_ = toks(t, text, 0); \
	CHECK_MSG(strcmp(got_, want) == 0, "'%s' gave '%s', want '%s'", text, got_, want); } while (0)

/* A byte-level BPE model: the 256 byte characters (ids 0-255, in byte order), then
 * one token per merge (ids 256 up), merges given as "a b" in byte-level spelling. */
static char *bytelevel_model(const char *const *merges, const char *extra)
{
	/* GPT-2's bytes_to_unicode */
	json_t *vocab = json_object(), *m = json_array();
	int next = 256, id = 0;
	for (int b = 0; b < 256; b++) {
		int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		int cp = keep ? b : next++;
		char u[4] = { 0 };
		if (cp < 0x80)
			u[0] = (char)cp;
		else {
			u[0] = (char)(0xC0 | cp >> 6);
			u[1] = (char)(0x80 | (cp & 0x3F));
		}
		json_object_set_new(vocab, u, json_integer(id++));
	}
	for (size_t i = 0; merges[i]; i++) {
		char tok[64];
		const char *sp = strchr(merges[i], ' ');
		snprintf(tok, sizeof tok, "%.*s%s", (int)(sp - merges[i]), merges[i], sp + 1);
		if (!json_object_get(vocab, tok))
			json_object_set_new(vocab, tok, json_integer(id++));
		json_array_append_new(m, json_string(merges[i]));
	}
	char *v = json_dumps(vocab, JSON_COMPACT), *ms = json_dumps(m, JSON_COMPACT);
	size_t n = strlen(v) + strlen(ms) + strlen(extra) + 64;
	char *out = malloc(n);
	snprintf(out, n, "{\"type\": \"BPE\", \"vocab\": %s, \"merges\": %s%s}", v, ms, extra);
	free(v);
	free(ms);
	json_decref(vocab);
	json_decref(m);
	return out;
}

static const char *const hello_merges[] = { "h e", "l l", "he ll", "hell o", "\xC4\xA0 w",
					    "\xC4\xA0w o", NULL };
#define BL_PRE "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, " \
	"\"use_regex\": true}, \"decoder\": {\"type\": \"ByteLevel\"}"

static void test_hftok__bytelevel_merges_and_roundtrip(void)
{
	char *m = bytelevel_model(hello_merges, "");
	struct hftok *t = load(m, BL_PRE);
	CHECK_TOKS(t, "hello world", "hello|\xC4\xA0wo|r|l|d");
	/* the regex splits letters from digits and punctuation, a space joins the word after */
	CHECK_TOKS(t, "he2!", "he|2|!");
	char *s = roundtrip(t, "hello world\n\t\xC3\xA9 \xF0\x9F\x98\x80");
	CHECK(strcmp(s, "hello world\n\t\xC3\xA9 \xF0\x9F\x98\x80") == 0);
	free(s);
	CHECK(hftok_vocab_size(t) == 256 + 6);
	CHECK(hftok_token_id(t, "hello") == 259);
	hftok_free(t);
	free(m);
}

static void test_hftok__bytelevel_prefix_space_and_no_regex(void)
{
	char *m = bytelevel_model(hello_merges, "");
	struct hftok *t = load(m, "\"pre_tokenizer\": {\"type\": \"ByteLevel\", "
			       "\"add_prefix_space\": true, \"use_regex\": false}");
	/* no regex: one word, so "Ġw" merges across what the regex would have cut */
	CHECK_TOKS(t, "hello world", "\xC4\xA0|hello|\xC4\xA0wo|r|l|d");
	CHECK_TOKS(t, " world", "\xC4\xA0wo|r|l|d");
	hftok_free(t);
	free(m);
}

static void test_hftok__merge_rank_decides(void)
{
	const char *const bc_first[] = { "b c", "a b", NULL }, *const ab_first[] = { "a b", "b c", NULL };
	char *m1 = bytelevel_model(bc_first, ""), *m2 = bytelevel_model(ab_first, "");
	struct hftok *t1 = load(m1, BL_PRE), *t2 = load(m2, BL_PRE);
	CHECK_TOKS(t1, "abc", "a|bc");
	CHECK_TOKS(t2, "abc", "ab|c");
	CHECK_TOKS(t2, "ababab", "ab|ab|ab");
	hftok_free(t1);
	hftok_free(t2);
	free(m1);
	free(m2);
}

static void test_hftok__ignore_merges(void)
{
	/* "abc" is in the vocabulary but no merge makes it */
	const char *model = "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"abc\": 3}, "
			    "\"merges\": [], \"ignore_merges\": %s}";
	char buf[256];
	snprintf(buf, sizeof buf, model, "true");
	struct hftok *t = load(buf, "");
	CHECK_TOKS(t, "abc", "abc");
	hftok_free(t);
	snprintf(buf, sizeof buf, model, "false");
	t = load(buf, "");
	CHECK_TOKS(t, "abc", "a|b|c");
	hftok_free(t);
}

static void test_hftok__byte_fallback_and_unk(void)
{
	/* é is C3 A9: both byte tokens exist; ü is C3 BC: 0xBC does not, so unk */
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"a\": 1, "
			       "\"<0xC3>\": 2, \"<0xA9>\": 3}, \"merges\": [], \"byte_fallback\": true, "
			       "\"unk_token\": \"<unk>\", \"fuse_unk\": true}",
			       "\"decoder\": {\"type\": \"Sequence\", \"decoders\": ["
			       "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}");
	CHECK_TOKS(t, "a\xC3\xA9" "a", "a|<0xC3>|<0xA9>|a");
	CHECK_TOKS(t, "a\xC3\xBC\xC3\xBC" "a", "a|<unk>|a"); /* fused */
	char *s = roundtrip(t, "a\xC3\xA9");
	CHECK(strcmp(s, "a\xC3\xA9") == 0);
	free(s);
	/* a lone lead byte decodes to U+FFFD per byte */
	int32_t ids[] = { 2, 1 };
	struct err e = { 0 };
	s = hftok_decode(t, ids, 2, 0, NULL, &e);
	CHECK(s && strcmp(s, "\xEF\xBF\xBD" "a") == 0);
	free(s);
	hftok_free(t);
}

static void test_hftok__unk_not_fused(void)
{
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"a\": 1}, \"merges\": [], "
			       "\"unk_token\": \"<unk>\"}", "");
	CHECK_TOKS(t, "xya", "<unk>|<unk>|a");
	hftok_free(t);
}

#define ADDED(content, id, flags) "{\"id\": " #id ", \"content\": \"" content "\", " flags "}"

static void test_hftok__added_tokens_before_pretokenization(void)
{
	char *m = bytelevel_model(hello_merges, "");
	char rest[2048];
	snprintf(rest, sizeof rest, BL_PRE ", \"added_tokens\": ["
		 ADDED("<|im_start|>", 300, "\"special\": true, \"normalized\": false") ", "
		 ADDED("<|im|>", 301, "\"special\": true, \"normalized\": false") ", "
		 ADDED("<L>", 302, "\"lstrip\": true, \"normalized\": false") ", "
		 ADDED("<R>", 303, "\"rstrip\": true, \"normalized\": false") ", "
		 ADDED("<W>", 304, "\"single_word\": true, \"normalized\": false") "]");
	struct hftok *t = load(m, rest);
	/* longest match wins over the shorter "<|im|>"-like prefix; text around is BPE'd */
	CHECK_TOKS(t, "hello<|im_start|>hello", "hello|<|im_start|>|hello");
	CHECK_TOKS(t, "<|im|><|im_start|>", "<|im|>|<|im_start|>");
	CHECK_TOKS(t, "he  <L>he", "he|<L>|he"); /* lstrip takes both spaces */
	CHECK_TOKS(t, "he<R>  he", "he|<R>|he");
	CHECK_TOKS(t, "he <W> he", "he|\xC4\xA0|<W>|\xC4\xA0|he");
	CHECK_TOKS(t, "he<W>he", "he|<|W|>|he");
	int32_t ids[] = { 300, 259 };
	struct err e = { 0 };
	char *s = hftok_decode(t, ids, 2, 1, NULL, &e);
	CHECK(s && strcmp(s, "hello") == 0);
	free(s);
	s = hftok_decode(t, ids, 2, 0, NULL, &e);
	CHECK(s && strcmp(s, "<|im_start|>hello") == 0);
	free(s);
	hftok_free(t);
	free(m);
}

static void test_hftok__normalized_added_token_after_normalizer(void)
{
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"x\": 2}, \"merges\": []}",
			       "\"normalizer\": {\"type\": \"Lowercase\"}, \"added_tokens\": ["
			       ADDED("AB", 3, "\"normalized\": true") ", "
			       ADDED("X", 4, "\"normalized\": false") "]");
	/* "AB" is matched as "ab" in lowercased text; "X" only in the raw text */
	CHECK_TOKS(t, "xAbX", "x|AB|X");
	hftok_free(t);
	/* a regex normalizer (Replace) runs on the added token at load too: "a b" is
	 * matched as "a_b" */
	t = load("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"_\": 2}, \"merges\": []}",
		 "\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" \"}, \"content\": \"_\"}, "
		 "\"added_tokens\": [" ADDED("a b", 3, "\"normalized\": true") "]");
	CHECK_TOKS(t, "b a b", "b|_|a b");
	hftok_free(t);
}

static void test_hftok__unicode_normalizers(void)
{
	const char *model = "{\"type\": \"BPE\", \"vocab\": {\"\xC3\xA9\": 0, \"e\": 1, "
			    "\"\xCC\x81\": 2, \"f\": 3, \"i\": 4, \"\xEF\xAC\x81\": 5}, \"merges\": []}";
	struct hftok *t = load(model, "\"normalizer\": {\"type\": \"NFC\"}");
	CHECK_TOKS(t, "e\xCC\x81", "\xC3\xA9");
	CHECK_TOKS(t, "\xEF\xAC\x81", "\xEF\xAC\x81"); /* NFC keeps the ligature */
	hftok_free(t);
	t = load(model, "\"normalizer\": {\"type\": \"NFKC\"}");
	CHECK_TOKS(t, "\xEF\xAC\x81", "f|i");
	hftok_free(t);
	t = load(model, "\"normalizer\": {\"type\": \"NFD\"}");
	CHECK_TOKS(t, "\xC3\xA9", "e|\xCC\x81");
	hftok_free(t);
}

static void test_hftok__strip_lowercase_and_literal_split(void)
{
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"h\": 0, \"i\": 1, \"hi\": 2, \".\": 3}, "
			       "\"merges\": [\"h i\"]}",
			       "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
			       "{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": true}, "
			       "{\"type\": \"Lowercase\"}]}, "
			       "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \".\"}, "
			       "\"behavior\": \"Removed\", \"invert\": false}");
	/* "." is a literal, not "any character"; spaces at both ends go, case folds */
	CHECK_TOKS(t, " \t HI.hI\xE3\x80\x80", "hi|hi");
	hftok_free(t);
}

/* Llama-2 style: a SentencePiece BPE converted to tokenizer.json */
static void test_hftok__sentencepiece_style(void)
{
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"\xE2\x96\x81\": 1, "
			       "\"h\": 2, \"i\": 3, \"\xE2\x96\x81h\": 4, \"\xE2\x96\x81hi\": 5, \"<0x21>\": 6}, "
			       "\"merges\": [\"\xE2\x96\x81 h\", \"\xE2\x96\x81h i\"], \"byte_fallback\": true, "
			       "\"unk_token\": \"<unk>\"}",
			       "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
			       "{\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\x81\"}, "
			       "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xE2\x96\x81\"}]}, "
			       "\"decoder\": {\"type\": \"Sequence\", \"decoders\": ["
			       "{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xE2\x96\x81\"}, \"content\": \" \"}, "
			       "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, "
			       "{\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]}");
	CHECK_TOKS(t, "hi hi!", "\xE2\x96\x81hi|\xE2\x96\x81hi|<0x21>");
	char *s = roundtrip(t, "hi hi!");
	CHECK_MSG(strcmp(s, "hi hi!") == 0, "%s", s);
	free(s);
	hftok_free(t);
}

#define MS_VOCAB "{\"type\": \"BPE\", \"vocab\": {\"\xE2\x96\x81hi\": 0, \"\xE2\x96\x81yo\": 1, " \
	"\"hi\": 2, \"\xE2\x96\x81hi\xE2\x96\x81yo\": 3, \"<s>\": 4, \"\xE2\x96\x81\": 5}, \"merges\": [], " \
	"\"ignore_merges\": true}"
#define MS_PRE(scheme, split) "\"added_tokens\": [" ADDED("<s>", 4, "\"special\": true") "], " \
	"\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", " \
	"\"prepend_scheme\": \"" scheme "\", \"split\": " split "}"

/* Mistral style: spaces become ▁, pieces start at each ▁; "first" prefixes only the
 * piece at the very start of the input, not one after an added token */
static void test_hftok__metaspace_pretokenizer(void)
{
	struct hftok *t = load(MS_VOCAB, MS_PRE("always", "true"));
	CHECK_TOKS(t, "hi yo", "\xE2\x96\x81hi|\xE2\x96\x81yo");
	CHECK_TOKS(t, "<s>hi", "<s>|\xE2\x96\x81hi");
	CHECK_TOKS(t, "  hi", "\xE2\x96\x81|\xE2\x96\x81hi"); /* starts with ▁: none put in front */
	hftok_free(t);
	t = load(MS_VOCAB, MS_PRE("first", "true"));
	CHECK_TOKS(t, "hi", "\xE2\x96\x81hi");
	CHECK_TOKS(t, "<s>hi", "<s>|hi");
	hftok_free(t);
	t = load(MS_VOCAB, MS_PRE("never", "false"));
	CHECK_TOKS(t, "hi", "hi");
	hftok_free(t);
	t = load(MS_VOCAB, MS_PRE("always", "false"));
	CHECK_TOKS(t, "hi yo", "\xE2\x96\x81hi\xE2\x96\x81yo");
	hftok_free(t);
}

static void test_hftok__metaspace_decoder(void)
{
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"\xE2\x96\x81hi\": 0, \"\xE2\x96\x81yo\": 1}, "
			       "\"merges\": []}",
			       "\"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", "
			       "\"prepend_scheme\": \"always\", \"split\": true}");
	int32_t ids[] = { 0, 1 };
	struct err e = { 0 };
	char *s = hftok_decode(t, ids, 2, 0, NULL, &e);
	CHECK_MSG(s && strcmp(s, "hi yo") == 0, "%s", s);
	free(s);
	hftok_free(t);
}

static void test_hftok__no_decoder_joins_with_spaces(void)
{
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": []}", "");
	int32_t ids[] = { 0, 1, 99 }; /* 99 is no id: skipped */
	struct err e = { 0 };
	char *s = hftok_decode(t, ids, 3, 0, NULL, &e);
	CHECK(s && strcmp(s, "a b") == 0);
	free(s);
	hftok_free(t);
}

#define SPLIT_VOCAB "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"-\": 2, \"a-\": 3, " \
	"\"-b\": 4, \"--\": 5, \"1\": 6, \"2\": 7, \"12\": 8, \"a1\": 9}, \"merges\": [], \"ignore_merges\": true}"

static const char *split_toks(const char *behavior, int invert, const char *text)
{
	char rest[512];
	snprintf(rest, sizeof rest, "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
		 "{\"Regex\": \"-\"}, \"behavior\": \"%s\", \"invert\": %s}", behavior,
		 invert ? "true" : "false");
	struct hftok *t = load(SPLIT_VOCAB, rest);
	const char *s = toks(t, text, 0);
	hftok_free(t);
	return s;
}

/* ignore_merges turns each piece whole into its token, so the pieces show */
static void test_hftok__split_behaviours(void)
{
	CHECK(!strcmp(split_toks("Isolated", 0, "a-b"), "a|-|b"));
	CHECK(!strcmp(split_toks("Removed", 0, "a-b"), "a|b"));
	CHECK(!strcmp(split_toks("MergedWithPrevious", 0, "a-b"), "a-|b"));
	CHECK(!strcmp(split_toks("MergedWithNext", 0, "a-b"), "a|-b"));
	CHECK(!strcmp(split_toks("Contiguous", 0, "a--b"), "a|--|b"));
	CHECK(!strcmp(split_toks("Removed", 1, "a-b"), "-"));
}

static void test_hftok__split_unicode_regex(void)
{
	/* \p{L} in UCP mode matches é; (?i:) and lookahead work as in Oniguruma */
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"\xC3\xA9t\xC3\xA9\": 0, \" \": 1, "
			       "\"'S\": 2, \"  \": 3, \"x\": 4}, \"merges\": [], \"ignore_merges\": true}",
			       "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
			       "\"(?i:'s)|\\\\p{L}+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", "
			       "\"invert\": false}");
	CHECK_TOKS(t, "\xC3\xA9t\xC3\xA9'S   x", "\xC3\xA9t\xC3\xA9|'S|  | |x");
	hftok_free(t);
}

static void test_hftok__digits(void)
{
	struct hftok *t = load(SPLIT_VOCAB, "\"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": true}");
	CHECK_TOKS(t, "a12", "a|1|2");
	hftok_free(t);
	t = load(SPLIT_VOCAB, "\"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": false}");
	CHECK_TOKS(t, "a12", "a|12");
	hftok_free(t);
}

static void test_hftok__template_bos_eos(void)
{
	char *m = bytelevel_model(hello_merges, "");
	char rest[2048];
	snprintf(rest, sizeof rest, BL_PRE ", \"added_tokens\": ["
		 ADDED("<s>", 300, "\"special\": true") ", " ADDED("</s>", 301, "\"special\": true") "], "
		 "\"post_processor\": {\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\"}, "
		 "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, "
		 "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"</s>\", \"type_id\": 0}}], "
		 "\"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [300], \"tokens\": [\"<s>\"]}, "
		 "\"</s>\": {\"id\": \"</s>\", \"ids\": [301], \"tokens\": [\"</s>\"]}}}]}");
	struct hftok *t = load(m, rest);
	const char *s = toks(t, "hello", 1);
	CHECK_MSG(!strcmp(s, "<s>|hello|</s>"), "%s", s);
	CHECK_TOKS(t, "hello", "hello");
	hftok_free(t);
	free(m);
}

static void test_hftok__decode_mid_character_is_replacement(void)
{
	char *m = bytelevel_model(hello_merges, "");
	struct hftok *t = load(m, BL_PRE);
	struct hftok_ids ids = { 0 };
	struct err e = { 0 };
	CHECK(hftok_encode(t, "\xF0\x9F\x98\x80", 4, 0, &ids, &e) == 0);
	CHECK(ids.n == 4);
	char *s = hftok_decode(t, ids.v, 3, 0, NULL, &e); /* three bytes of four: one U+FFFD */
	CHECK_MSG(s && strcmp(s, "\xEF\xBF\xBD") == 0, "%s", s);
	free(s);
	/* U+0000 inside the text round-trips, with the length telling where it ends */
	ids.n = 0;
	CHECK(hftok_encode(t, "a\0b", 3, 0, &ids, &e) == 0);
	size_t len = 0;
	s = hftok_decode(t, ids.v, ids.n, 0, &len, &e);
	CHECK(s && len == 3 && memcmp(s, "a\0b", 4) == 0);
	free(s);
	free(ids.v);
	/* invalid UTF-8 input is read as U+FFFD */
	char *r = roundtrip(t, "a\xFF" "b");
	CHECK(strcmp(r, "a\xEF\xBF\xBD" "b") == 0);
	free(r);
	hftok_free(t);
	free(m);
}

/* each refusal: the error names the file and the cause; never a crash */
static void refused(const char *model, const char *rest, const char *want)
{
	struct err e = { 0 };
	struct hftok *t = load_ex(model, rest, &e);
	CHECK(t == NULL);
	CHECK_MSG(strstr(e.msg, "tokenizer.json") && strstr(e.msg, want), "'%s' lacks '%s'", e.msg, want);
}

static void test_hftok__refusals(void)
{
	const char *ok = "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}";
	refused("{\"type\": \"WordPiece\", \"vocab\": {}}", "", "model type 'WordPiece'");
	refused("{\"type\": \"Unigram\", \"vocab\": []}", "", "model type 'Unigram'");
	refused(ok, "\"normalizer\": {\"type\": \"BertNormalizer\"}", "normalizer type 'BertNormalizer'");
	refused(ok, "\"pre_tokenizer\": {\"type\": \"Whitespace\"}", "pre-tokenizer type 'Whitespace'");
	refused(ok, "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"_\", "
		"\"prepend_scheme\": \"sometimes\"}", "prepend_scheme 'sometimes'");
	refused(ok, "\"decoder\": {\"type\": \"CTC\"}", "decoder type 'CTC'");
	refused(ok, "\"post_processor\": {\"type\": \"BertProcessing\"}", "post-processor type 'BertProcessing'");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a c\"]}", "",
		"names 'c', which is not in the vocabulary");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}", "",
		"names 'ab', which is not in the vocabulary");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}", "", "is not two tokens");
	refused(ok, "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, "
		"\"behavior\": \"Isolated\"}", "bad regex");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"?\"}", "",
		"unk_token '?'");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [] ", "", "line");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}", "",
		"dropout");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
		"\"continuing_subword_prefix\": \"##\"}", "", "continuing_subword_prefix");
}

/* the vocabulary and merges are read by hftok_json.c, not jansson: escapes, both
 * merge forms, and what must still be refused */
static void test_hftok__vocab_json_escapes_and_merge_forms(void)
{
	/* "\u0120" is Ġ, "\ud83d\ude00" is U+1F600, "\"" and "\\" themselves */
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"\\u0120\": 0, \"a\": 1, "
			       "\"\\u0120a\": 2, \"\\ud83d\\ude00\": 3, \"\\\"\": 4, \"\\\\\": 5, "
			       "\"\\\"\\\\\": 6}, \"merges\": [[\"\\u0120\", \"a\"], \"\\\" \\\\\"]}", "");
	CHECK(hftok_token_id(t, "\xC4\xA0" "a") == 2);
	CHECK(hftok_token_id(t, "\xF0\x9F\x98\x80") == 3);
	CHECK_TOKS(t, "\xC4\xA0" "a", "\xC4\xA0" "a");
	CHECK_TOKS(t, "\"\\", "\"\\");
	hftok_free(t);
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}, \"merges\": []}", "",
		"vocabulary has 'a' twice");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}", "",
		"two vocabulary entries have the id of 'b'");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}", "",
		"vocabulary entry 'a' has no valid id");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}", "",
		"is neither");
	refused("{\"type\": \"BPE\", \"merges\": []}", "", "no vocab object");
	refused("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"\\ud800 a\"]}", "", "line");
}

static void test_hftok__decode_is_valid_utf8(void)
{
	/* a vocabulary entry that is not UTF-8 (\xff) and no decoder */
	struct hftok *t = load("{\"type\": \"BPE\", \"vocab\": {\"a\\u00e9\": 0, \"b\xff\": 1}, \"merges\": []}", "");
	int32_t ids[] = { 0, 1 };
	struct err e = { 0 };
	char *s = hftok_decode(t, ids, 2, 0, NULL, &e);
	CHECK_MSG(s && strcmp(s, "a\xC3\xA9 b\xEF\xBF\xBD") == 0, "%s", s);
	free(s);
	hftok_free(t);
}

static void test_hftok__missing_file(void)
{
	struct err e = { 0 };
	CHECK(hftok_load("/nonexistent/tokenizer.json", &e) == NULL);
	CHECK(e.code == ERR_IO);
	CHECK(strstr(e.msg, "/nonexistent/tokenizer.json") != NULL);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_hftok__bytelevel_merges_and_roundtrip),
		TEST(test_hftok__bytelevel_prefix_space_and_no_regex),
		TEST(test_hftok__merge_rank_decides),
		TEST(test_hftok__ignore_merges),
		TEST(test_hftok__byte_fallback_and_unk),
		TEST(test_hftok__unk_not_fused),
		TEST(test_hftok__added_tokens_before_pretokenization),
		TEST(test_hftok__normalized_added_token_after_normalizer),
		TEST(test_hftok__unicode_normalizers),
		TEST(test_hftok__strip_lowercase_and_literal_split),
		TEST(test_hftok__sentencepiece_style),
		TEST(test_hftok__metaspace_pretokenizer),
		TEST(test_hftok__metaspace_decoder),
		TEST(test_hftok__no_decoder_joins_with_spaces),
		TEST(test_hftok__split_behaviours),
		TEST(test_hftok__split_unicode_regex),
		TEST(test_hftok__digits),
		TEST(test_hftok__template_bos_eos),
		TEST(test_hftok__decode_mid_character_is_replacement),
		TEST(test_hftok__refusals),
		TEST(test_hftok__vocab_json_escapes_and_merge_forms),
		TEST(test_hftok__decode_is_valid_utf8),
		TEST(test_hftok__missing_file),
		{ 0 } });
}
