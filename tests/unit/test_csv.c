/* csv: RFC 4180 rows — quoted fields with commas, line ends and doubled quotes, CRLF
 * and LF, a byte-order mark, blank lines, a last row without its line end — and the
 * malformed ones refused naming FILE:LINE. */
#include <string.h>

#include "csv.h"
#include "test.h"

#define CHECK_STR(got, want) do { const char *g_ = (got); \
	CHECK_MSG(g_ && !strcmp(g_, (want)), "got\n%s\nwant\n%s", g_ ? g_ : "(null)", (want)); \
} while (0)

/* Every row of text as "a|b|c" lines joined by '/', with each row's line number
 * prefixed ("1:a|b/3:c"); NULL (and err) on an error. */
static char out[1024];
static const char *rows(const char *text, size_t len, struct err *e)
{
	size_t at = 0, n = 0;
	long line = 0;
	struct csv_row r;
	int got;
	out[0] = 0;
	while ((got = csv_next(text, len, &at, &line, "t.csv", &r, e)) == 1) {
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%ld:", n ? "/" : "", r.line);
		for (size_t i = 0; i < r.n; i++) {
			CHECK(strlen(r.field[i]) == r.len[i] || memchr(r.field[i], 0, r.len[i]));
			n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "",
				r.field[i]);
		}
		csv_row_release(&r);
	}
	return got < 0 ? NULL : out;
}

#define ROWS(s, e) rows(s, sizeof s - 1, e)

static void test_csv__plain_rows_crlf_and_lf(void)
{
	struct err e = { 0 };
	CHECK_STR(ROWS("a,b,c\r\n1,2,3\n4,,6", &e), "1:a|b|c/2:1|2|3/3:4||6");
	CHECK_STR(ROWS("x\n", &e), "1:x");
	CHECK_STR(ROWS("", &e), "");
	/* a trailing comma is one more, empty field */
	CHECK_STR(ROWS("a,\n", &e), "1:a|");
}

static void test_csv__quoted_fields_hold_commas_quotes_and_line_ends(void)
{
	struct err e = { 0 };
	CHECK_STR(ROWS("\"a,b\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",\"crlf\r\nin\"\r\nz,\"\"\n",
		&e), "1:a,b|say \"hi\"/2:two\nlines|crlf\r\nin/5:z|");
	/* a quoted field at the very end, without a line end */
	CHECK_STR(ROWS("q,\"last\"", &e), "1:q|last");
}

static void test_csv__bom_and_blank_lines_are_skipped(void)
{
	struct err e = { 0 };
	CHECK_STR(ROWS("\xEF\xBB\xBFk,v\n\n\r\n1,2\n\n", &e), "1:k|v/4:1|2");
	/* a blank line inside quotes is data */
	CHECK_STR(ROWS("\"a\n\nb\",c\n", &e), "1:a\n\nb|c");
	/* spaces are data too: a line of spaces is a row of one field */
	CHECK_STR(ROWS(" \n", &e), "1: ");
}

static void test_csv__malformed_rows_are_refused_naming_the_line(void)
{
	struct err e = { 0 };
	CHECK(ROWS("a,b\n\"open,c\nd\n", &e) == NULL);
	CHECK_STR(e.msg, "t.csv:2: a quoted field opened here is not closed");
	CHECK(ROWS("a\nb\"c\n", &e) == NULL);
	CHECK_STR(e.msg, "t.csv:2: a '\"' inside an unquoted field (quote the whole field and "
		"double the quote)");
	CHECK(ROWS("a\n\"x\ny\"z,1\n", &e) == NULL);
	CHECK_STR(e.msg, "t.csv:3: text after a closing quote (a quoted field must end at a "
		"comma or the line's end)");
}

/* A NUL byte is kept (the caller's UTF-8 check refuses it or not), never cuts a field. */
static void test_csv__lengths_count_nul_bytes(void)
{
	static const char text[] = "a\0b,c\n";
	size_t at = 0;
	long line = 0;
	struct csv_row r;
	struct err e = { 0 };
	CHECK(csv_next(text, sizeof text - 1, &at, &line, "t.csv", &r, &e) == 1);
	CHECK(r.n == 2 && r.len[0] == 3 && memcmp(r.field[0], "a\0b", 3) == 0);
	csv_row_release(&r);
	CHECK(csv_next(text, sizeof text - 1, &at, &line, "t.csv", &r, &e) == 0);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_csv__plain_rows_crlf_and_lf),
		TEST(test_csv__quoted_fields_hold_commas_quotes_and_line_ends),
		TEST(test_csv__bom_and_blank_lines_are_skipped),
		TEST(test_csv__malformed_rows_are_refused_naming_the_line),
		TEST(test_csv__lengths_count_nul_bytes),
		{ 0 } });
}
