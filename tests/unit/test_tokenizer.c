#include "test.h"

#include "tokenizer.h"

static void test_tokenizer__bytes_are_ids(void)
{
	const char *s = "a+b=\xc3\xa9\n";
	int ids[16];
	size_t n = tok_encode(s, strlen(s), ids, 16);
	CHECK(n == strlen(s));
	for (size_t i = 0; i < n; i++)
		CHECK(ids[i] == (unsigned char)s[i]);
}

static void test_tokenizer__specials_encode_to_their_ids(void)
{
	const char *s = "1+2\n<think>x</think><answer>3</answer><|eos|><thin";
	int ids[64];
	size_t n = tok_encode(s, strlen(s), ids, 64);
	int want[] = { '1', '+', '2', '\n', TOK_THINK, 'x', TOK_THINK_END, TOK_ANSWER, '3',
		TOK_ANSWER_END, TOK_EOS, '<', 't', 'h', 'i', 'n' };
	CHECK(n == sizeof want / sizeof want[0]);
	CHECK(memcmp(ids, want, sizeof want) == 0);
	CHECK(TOK_NUM_IDS == 263);
	CHECK(strcmp(tok_special_name(TOK_BOS), "<|bos|>") == 0);
	CHECK(tok_special_name(300) == NULL && tok_special_name(65) == NULL);
}

static void test_tokenizer__decode_inverts_encode(void)
{
	const char *s = "<|bos|>12+34\n<think>4+2=6</think><answer>46</answer>";
	int ids[64];
	size_t n = tok_encode(s, strlen(s), ids, 64);
	char out[128];
	size_t len = tok_decode(ids, n, out, sizeof out);
	CHECK(len == strlen(s));
	CHECK(strcmp(out, s) == 0);
}

static void test_tokenizer__short_buffers_truncate_safely(void)
{
	int ids[3];
	CHECK(tok_encode("abcdef", 6, ids, 3) == 6); /* says how many it needs */
	int all[] = { 'a', TOK_THINK, 'b', 9999 };
	char out[4];
	size_t len = tok_decode(all, 4, out, sizeof out);
	CHECK(len == 9); /* "a<think>b", the unknown id prints nothing */
	CHECK(strcmp(out, "a<t") == 0);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_tokenizer__bytes_are_ids),
		TEST(test_tokenizer__specials_encode_to_their_ids),
		TEST(test_tokenizer__decode_inverts_encode),
		TEST(test_tokenizer__short_buffers_truncate_safely),
		{ 0 } });
}
