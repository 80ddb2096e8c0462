/*
 * test_utf8 — text that may not be UTF-8 made fit for JSON (utf8.h), and error
 * messages kept valid UTF-8 (err.h).
 */
#include "err.h"
#include "test.h"
#include "utf8.h"

static void test_utf8__decodes_strictly(void)
{
	size_t len;
	CHECK(utf8_decode("A", 1, &len) == 'A' && len == 1);
	CHECK(utf8_decode("\xC3\xA9", 2, &len) == 0xE9 && len == 2);
	CHECK(utf8_decode("\xE2\x82\xAC", 3, &len) == 0x20AC && len == 3);
	CHECK(utf8_decode("\xF0\x9F\x98\x80", 4, &len) == 0x1F600 && len == 4);
	const char *bad[] = {
		"\xFF", "\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", /* overlong, surrogate */
		"\xF4\x90\x80\x80", "\xC3", "\xE2\x82", "\xC3(",            /* > U+10FFFF, cut */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_MSG(utf8_decode(bad[i], strlen(bad[i]), &len) == -1, "case %zu", i);
		CHECK(len == 1);
	}
	/* a sequence cut by the end of the buffer, though the bytes after it are there */
	CHECK(utf8_decode("\xE2\x82\xAC", 2, &len) == -1);
}

static void test_utf8__clean_replaces_each_bad_byte_and_nul(void)
{
	const char in[] = "a\xFF" "b\0c\xE2\x82" "d\xC3\xA9";
	size_t n = sizeof in - 1;
	char out[64];
	const char want[] = "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d\xC3\xA9";
	CHECK(utf8_clean_size(in, n) == sizeof want - 1);
	CHECK(utf8_clean(out, sizeof out, in, n) == sizeof want - 1);
	CHECK(memcmp(out, want, sizeof want) == 0);
	/* valid text comes through unchanged */
	CHECK(utf8_clean_size("caf\xC3\xA9", 5) == 5);
	CHECK(utf8_clean(out, sizeof out, "caf\xC3\xA9", 5) == 5 && strcmp(out, "caf\xC3\xA9") == 0);
}

static void test_utf8__clean_never_splits_a_character(void)
{
	char out[5];
	/* "ab" + é (2 bytes) + "c": 4 bytes of room keep "ab" + é */
	CHECK(utf8_clean(out, sizeof out, "ab\xC3\xA9" "c", 5) == 4 && strcmp(out, "ab\xC3\xA9") == 0);
	/* "abc" + a replacement (3 bytes): only "abc" fits */
	CHECK(utf8_clean(out, sizeof out, "abc\xFF", 4) == 3 && strcmp(out, "abc") == 0);
	CHECK(utf8_clean(out, 1, "abc", 3) == 0 && out[0] == '\0');
}

static void test_utf8__json_of_any_bytes_dumps(void)
{
	/* every byte value, as an untrained byte-level model may write them */
	char all[512];
	for (int i = 0; i < 512; i++)
		all[i] = (char)(i * 7 + 3);
	CHECK(json_stringn(all, sizeof all) == NULL); /* what jansson does by itself */
	json_t *s = utf8_json(all, sizeof all);
	CHECK(s);
	char *dump = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	CHECK(dump);
	json_error_t jerr;
	json_t *back = json_loads(dump, JSON_DECODE_ANY, &jerr);
	CHECK_MSG(back && json_equal(back, s), "%s", jerr.text);
	free(dump);
	json_decref(back);
	json_decref(s);
	/* valid text is kept as it is */
	s = utf8_jstring("r\xC3\xA9sum\xC3\xA9");
	CHECK(s && strcmp(json_string_value(s), "r\xC3\xA9sum\xC3\xA9") == 0);
	json_decref(s);
}

static void test_utf8__error_messages_are_utf8(void)
{
	struct err e = { 0 };
	size_t len;
	/* a path in another encoding */
	err_set(&e, ERR_IO, "cannot open '%s': %s", "/data/caf\xE9.jsonl", "No such file or directory");
	CHECK(strstr(e.msg, "caf\xEF\xBF\xBD.jsonl"));
	json_t *j = json_string(e.msg);
	CHECK(j);
	json_decref(j);
	/* a message cut at the limit in the middle of a character */
	char big[sizeof e.msg + 16];
	memset(big, 'x', sizeof big);
	for (size_t i = sizeof e.msg - 4; i + 1 < sizeof big; i += 2)
		memcpy(big + i, "\xC3\xA9", 2);
	big[sizeof big - 1] = '\0';
	for (size_t shift = 0; shift < 2; shift++) {
		err_set(&e, ERR_INVALID, "%s", big + shift);
		CHECK(strlen(e.msg) < sizeof e.msg);
		CHECK((j = json_string(e.msg)));
		json_decref(j);
		err_wrap(&e, "stage '%s'", "z\xFF");
		CHECK((j = json_string(e.msg)));
		json_decref(j);
		const char *head = "stage 'z\xEF\xBF\xBD': xx";
		CHECK(strncmp(e.msg, head, strlen(head)) == 0);
	}
	for (size_t i = 0; e.msg[i]; i += len)
		CHECK(utf8_decode(e.msg + i, strlen(e.msg + i), &len) > 0);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_utf8__decodes_strictly),
		TEST(test_utf8__clean_replaces_each_bad_byte_and_nul),
		TEST(test_utf8__clean_never_splits_a_character),
		TEST(test_utf8__json_of_any_bytes_dumps),
		TEST(test_utf8__error_messages_are_utf8),
		{ 0 },
	});
}
