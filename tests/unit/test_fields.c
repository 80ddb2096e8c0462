/* fields and rows: a dataset file's keys mapped onto prompt/answer/..., the answer cut
 * out by a mark or a regex, numbers taken as text, the other keys kept as the record
 * rewards receive; JSONL and CSV read alike; every refusal names FILE:LINE (or the
 * mapping's key) and what is wrong. */
#include <string.h>

#include "fields.h"
#include "jsonl.h"
#include "rows.h"
#include "test.h"

#define CHECK_STR(got, want) do { const char *g_ = (got); \
	CHECK_MSG(g_ && !strcmp(g_, (want)), "got\n%s\nwant\n%s", g_ ? g_ : "(null)", (want)); \
} while (0)

/* The mapping of a JSON text ("{}" the default); the test fails on an error. */
static void mapping(const char *src, struct fields *f)
{
	json_error_t jerr;
	json_t *j = json_loads(src, 0, &jerr);
	struct err e = { 0 };
	CHECK_MSG(j && fields_parse(j, "dataset 'd'", f, &e) == 0, "%s: %s", src, e.msg);
	json_decref(j);
}

/* The error of fields_parse on src. */
static const char *mapping_error(const char *src)
{
	static struct err e;
	json_error_t jerr;
	json_t *j = json_loads(src, 0, &jerr);
	struct fields f;
	memset(&e, 0, sizeof e);
	CHECK(j && fields_parse(j, "dataset 'd'", &f, &e) == -1);
	json_decref(j);
	return e.msg;
}

/* One JSONL line through f: 0 and *r, or -1 and e. */
static int line(const struct fields *f, const char *s, struct jsonl_record *r, struct err *e)
{
	memset(e, 0, sizeof *e);
	return jsonl_parse(s, strlen(s), "g.jsonl", 3, f, r, e);
}

static void test_fields__default_keeps_plain_lines_as_they_were(void)
{
	struct jsonl_record r;
	struct err e;
	CHECK(line(NULL, "{\"prompt\": \"1+1\", \"answer\": \"2\", \"meta\": {\"k\": 1}}", &r,
		&e) == 0);
	CHECK_STR(r.prompt, "1+1");
	CHECK_STR(r.answer, "2");
	CHECK_STR(r.meta, "{\"k\":1}");
	CHECK(r.record == NULL); /* nothing beyond the standard keys: no record */
	jsonl_record_release(&r);
	/* the default mapping object behaves as NULL */
	struct fields f;
	mapping("{\"file\": \"g.jsonl\"}", &f);
	CHECK(!f.mapped && !f.csv);
	CHECK(line(&f, "{\"prompt\": \"p\", \"response\": \"r\"}", &r, &e) == 0 && !r.record);
	jsonl_record_release(&r);
	fields_release(&f);
}

static void test_fields__numbers_are_text_and_extra_keys_are_kept(void)
{
	struct jsonl_record r;
	struct err e;
	CHECK_MSG(line(NULL, "{\"prompt\": \"p\", \"answer\": 42, \"id\": 7, \"tests\": "
		"[{\"input\": \"1\", \"output\": \"2\"}]}", &r, &e) == 0, "%s", e.msg);
	CHECK_STR(r.answer, "42");
	CHECK_STR(r.record, "{\"prompt\":\"p\",\"answer\":42,\"id\":7,\"tests\":[{\"input\":\"1\","
		"\"output\":\"2\"}]}");
	jsonl_record_release(&r);
	static const struct { const char *in, *out; } num[] = {
		{ "4.5", "4.5" }, { "42.0", "42" }, { "-3", "-3" }, { "0.1", "0.1" },
		{ "1e-7", "1e-07" }, { "123456789012", "123456789012" }, { "2.5e20", "2.5e+20" },
	};
	for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
		char s[128];
		snprintf(s, sizeof s, "{\"prompt\": \"p\", \"answer\": %s}", num[i].in);
		CHECK_MSG(line(NULL, s, &r, &e) == 0, "%s", e.msg);
		CHECK_MSG(!strcmp(r.answer, num[i].out), "%s -> %s", num[i].in, r.answer);
		jsonl_record_release(&r);
	}
	/* a prompt may not be a number (a wrong column, more likely); nor true an answer */
	CHECK(line(NULL, "{\"prompt\": 12, \"answer\": \"3\"}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: 'prompt' must be a string");
	CHECK(line(NULL, "{\"prompt\": \"p\", \"answer\": true}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: 'answer' must be a string or a number");
	CHECK(line(NULL, "{\"prompt\": [1], \"answer\": \"a\"}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: 'prompt' must be a string");
	/* a question without a mapping says how to map it */
	CHECK(line(NULL, "{\"question\": \"q\", \"answer\": \"a\"}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: a record needs prompt and answer, prompt and response, "
		"messages, or text (map other keys with fields: {prompt: KEY, ...})");
}

static void test_fields__gsm8k_question_and_answer_after_the_mark(void)
{
	struct fields f;
	struct jsonl_record r;
	struct err e;
	mapping("{\"fields\": {\"prompt\": \"question\", \"id\": \"qid\"}, \"answer\": "
		"{\"field\": \"answer\", \"after\": \"####\"}}", &f);
	CHECK_MSG(line(&f, "{\"question\": \"Tom has 40 and buys 2?\", \"answer\": \"40+2=42\\n"
		"#### 42 \", \"qid\": 7, \"level\": \"easy\"}", &r, &e) == 0, "%s", e.msg);
	CHECK_STR(r.prompt, "Tom has 40 and buys 2?");
	CHECK_STR(r.answer, "42");
	/* renamed keys, values as the file has them */
	CHECK_STR(r.record, "{\"prompt\":\"Tom has 40 and buys 2?\",\"answer\":\"40+2=42\\n"
		"#### 42 \",\"id\":7,\"level\":\"easy\"}");
	jsonl_record_release(&r);
	/* the last mark counts; a number to cut from is its spelling */
	CHECK(line(&f, "{\"question\": \"q\", \"answer\": \"#### 1 #### 2\", \"qid\": 1}", &r,
		&e) == 0);
	CHECK_STR(r.answer, "2");
	jsonl_record_release(&r);
	CHECK(line(&f, "{\"question\": \"q\", \"answer\": \"no mark\\nhere\", \"qid\": 1}", &r,
		&e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: no '####' in 'answer' (answer.after): \"no mark\\nhere\"");
	CHECK(line(&f, "{\"question\": \"q\", \"answer\": \"x ####  \", \"qid\": 1}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: the answer cut from 'answer' by answer.after is empty");
	CHECK(line(&f, "{\"question\": \"q\", \"qid\": 1}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: no 'answer' (answer.field)");
	CHECK(line(&f, "{\"answer\": \"#### 1\", \"qid\": 1}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: no 'question' (fields.prompt)");
	CHECK(line(&f, "{\"question\": \"q\", \"answer\": \"#### 1\", \"qid\": null}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: no 'qid' (fields.id): it is null");
	/* a key named as a field it does not feed would be lost */
	CHECK(line(&f, "{\"question\": \"q\", \"prompt\": \"p\", \"answer\": \"#### 1\", "
		"\"qid\": 1}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: key 'prompt' clashes with fields.prompt ('question'): map "
		"it to another field or rename it");
	fields_release(&f);
}

static void test_fields__regex_takes_group_one_or_the_whole_match(void)
{
	struct fields f;
	struct jsonl_record r;
	struct err e;
	mapping("{\"answer\": {\"regex\": \"\\\\\\\\boxed\\\\{([^}]*)\\\\}\"}}", &f);
	CHECK_MSG(line(&f, "{\"prompt\": \"p\", \"answer\": \"so \\\\boxed{ 17 } and "
		"\\\\boxed{3}\"}", &r, &e) == 0, "%s", e.msg);
	CHECK_STR(r.answer, "17"); /* the first match, group 1, trimmed */
	CHECK(r.record != NULL);    /* a mapped dataset keeps the raw answer */
	jsonl_record_release(&r);
	CHECK(line(&f, "{\"prompt\": \"p\", \"answer\": \"none\"}", &r, &e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: answer.regex '\\\\boxed\\{([^}]*)\\}' does not match "
		"'answer': \"none\"");
	fields_release(&f);
	mapping("{\"answer\": {\"regex\": \"-?[0-9]+$\"}}", &f);
	CHECK(line(&f, "{\"prompt\": \"p\", \"answer\": \"it is -12\"}", &r, &e) == 0);
	CHECK_STR(r.answer, "-12");
	jsonl_record_release(&r);
	fields_release(&f);
	/* an optional group that did not take part: the whole match */
	mapping("{\"answer\": {\"regex\": \"=(x)?\\\\s*\\\\d+\"}}", &f);
	CHECK(line(&f, "{\"prompt\": \"p\", \"answer\": \"a = 5\"}", &r, &e) == 0);
	CHECK_STR(r.answer, "= 5");
	jsonl_record_release(&r);
	fields_release(&f);
}

static void test_fields__bad_mappings_are_refused_naming_the_key(void)
{
	CHECK_STR(mapping_error("{\"fields\": {\"question\": \"q\"}}"), "dataset 'd': fields: "
		"unknown field 'question' (prompt, answer, response, text, messages, meta, id)");
	CHECK_STR(mapping_error("{\"fields\": {\"prompt\": \"q\", \"text\": \"q\"}}"),
		"dataset 'd': fields.prompt and fields.text both read 'q'");
	CHECK_STR(mapping_error("{\"fields\": {\"prompt\": \"\"}}"),
		"dataset 'd': fields.prompt must be a key of the file (a non-empty string)");
	CHECK_STR(mapping_error("{\"fields\": [\"q\"]}"), "dataset 'd': fields must be a mapping "
		"of fields (prompt, answer, response, text, messages, meta, id) to the file's keys");
	CHECK_STR(mapping_error("{\"answer\": {\"field\": \"a\"}}"), "dataset 'd': answer needs "
		"one of 'after' (a mark the answer follows) or 'regex'");
	CHECK_STR(mapping_error("{\"answer\": {\"after\": \"#\", \"regex\": \"x\"}}"),
		"dataset 'd': answer needs one of 'after' (a mark the answer follows) or 'regex'");
	CHECK_STR(mapping_error("{\"answer\": {\"after\": \"#\", \"last\": true}}"),
		"dataset 'd': answer: unknown key 'last' (field, after, regex)");
	CHECK_STR(mapping_error("{\"fields\": {\"answer\": \"sol\"}, \"answer\": {\"field\": "
		"\"answer\", \"after\": \"#\"}}"), "dataset 'd': answer.field 'answer' differs from "
		"fields.answer 'sol' (give one)");
	CHECK_STR(mapping_error("{\"answer\": {\"regex\": \"#### ([0-9]+\"}}"), "dataset 'd': "
		"answer.regex '#### ([0-9]+': missing closing parenthesis at offset 12");
	CHECK_STR(mapping_error("{\"csv\": \"yes\"}"), "dataset 'd': csv must be true or false");
}

/* Every record of text through f as "prompt=answer" joined by '/', or NULL and e. */
static char got[1024];
static const char *read_all(const char *text, const struct fields *f, struct err *e)
{
	struct rows rs;
	struct jsonl_record r;
	long ln;
	int rc;
	size_t n = 0;
	memset(e, 0, sizeof *e);
	got[0] = 0;
	if (rows_open(&rs, text, strlen(text), "q.csv", f, e) < 0)
		return NULL;
	while ((rc = rows_next(&rs, &r, &ln, e)) == 1) {
		n += (size_t)snprintf(got + n, sizeof got - n, "%s%ld:%s=%s", n ? "/" : "", ln,
			r.prompt, r.answer);
		jsonl_record_release(&r);
	}
	rows_close(&rs);
	return rc < 0 ? NULL : got;
}

static void test_fields__csv_rows_through_a_mapping(void)
{
	struct fields f;
	struct err e;
	mapping("{\"file\": \"q.csv\", \"fields\": {\"prompt\": \"q\", \"answer\": \"a\"}}", &f);
	CHECK(f.csv);
	CHECK_STR(read_all("\xEF\xBB\xBFid,q,a\r\n1,\"Say \"\"hi\"\", ok\",hi\r\n2,\"two\nlines\",42\r\n",
		&f, &e), "2:Say \"hi\", ok=hi/3:two\nlines=42");
	/* the record: every column as text, renamed */
	struct rows rs;
	struct jsonl_record r;
	long ln;
	const char *text = "id,q,a\n7,p,1\n8,p2,2\n";
	CHECK(rows_open(&rs, text, strlen(text), "q.csv", &f, &e) == 0);
	struct rows_pos second;
	CHECK(rows_next(&rs, &r, &ln, &e) == 1 && ln == 2);
	CHECK_STR(r.record, "{\"id\":\"7\",\"prompt\":\"p\",\"answer\":\"1\"}");
	jsonl_record_release(&r);
	second = rows_tell(&rs);
	CHECK(rows_next(&rs, &r, &ln, &e) == 1 && ln == 3);
	jsonl_record_release(&r);
	CHECK(rows_next(&rs, &r, &ln, &e) == 0);
	rows_seek(&rs, second); /* back to a record: the same one, the same line */
	CHECK(rows_next(&rs, &r, &ln, &e) == 1 && ln == 3);
	CHECK_STR(r.prompt, "p2");
	jsonl_record_release(&r);
	rows_close(&rs);

	CHECK(read_all("id,question,a\n1,x,2\n", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv:1: no column 'q' (fields.prompt) in the header: id, question, a");
	CHECK(read_all("q,a\n1,2,3\n", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv:2: 3 fields, the header has 2");
	CHECK(read_all("q,a,q\n", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv:1: header names column 'q' twice");
	CHECK(read_all("q,,a\n", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv:1: header column 2 is empty (every column needs a name)");
	CHECK(read_all("q,a\n\xff,1\n", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv:2: column 'q' is not UTF-8 text");
	CHECK(read_all("", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv: no header row");
	fields_release(&f);
	/* a CSV answer column cut by a mark, named by the rule alone */
	mapping("{\"csv\": true, \"fields\": {\"prompt\": \"q\"}, \"answer\": {\"field\": "
		"\"sol\", \"after\": \"=\"}}", &f);
	CHECK_STR(read_all("q,sol\n2+2,2+2=4\n", &f, &e), "2:2+2=4");
	CHECK(read_all("q,solution\n2+2,4\n", &f, &e) == NULL);
	CHECK_STR(e.msg, "q.csv:1: no column 'sol' (answer.field) in the header: q, solution");
	fields_release(&f);
}

/* A chat column maps onto messages and is checked as a chat. */
static void test_fields__messages_under_another_key(void)
{
	struct fields f;
	struct jsonl_record r;
	struct err e;
	mapping("{\"fields\": {\"messages\": \"conversation\"}}", &f);
	CHECK_MSG(line(&f, "{\"conversation\": [{\"role\": \"user\", \"content\": \"Hi\"}, "
		"{\"role\": \"assistant\", \"content\": \"Hello\"}], \"source\": \"web\"}", &r, &e) == 0,
		"%s", e.msg);
	CHECK_STR(r.prompt, "Hi");
	CHECK_STR(r.response, "Hello");
	CHECK(r.messages && strstr(r.messages, "\"Hello\""));
	CHECK(r.record && strstr(r.record, "\"messages\":[") && strstr(r.record, "\"source\""));
	jsonl_record_release(&r);
	CHECK(line(&f, "{\"conversation\": [{\"role\": \"bot\", \"content\": \"x\"}]}", &r,
		&e) == -1);
	CHECK_STR(e.msg, "g.jsonl:3: messages[0]: role 'bot' is not one of system, user, assistant");
	fields_release(&f);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_fields__default_keeps_plain_lines_as_they_were),
		TEST(test_fields__numbers_are_text_and_extra_keys_are_kept),
		TEST(test_fields__gsm8k_question_and_answer_after_the_mark),
		TEST(test_fields__regex_takes_group_one_or_the_whole_match),
		TEST(test_fields__bad_mappings_are_refused_naming_the_key),
		TEST(test_fields__csv_rows_through_a_mapping),
		TEST(test_fields__messages_under_another_key),
		{ 0 } });
}
