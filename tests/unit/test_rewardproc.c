/* workers/rewardproc.h, rewardcode.h, sandbox.h: the JSON-lines replies, the code block,
 * output comparison, the stderr ring, and real programs (sh) that answer, crash,
 * hang, flood or print garbage. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rewardcode.h"
#include "rewardproc.h"
#include "sandbox.h"
#include "test.h"

static int reply(const char *line, double *r, json_t **c, struct err *e)
{
	return rewardproc_parse_reply(line, strlen(line), r, c, e);
}

static void test_rewardproc__reply_with_and_without_components(void)
{
	double r = 0;
	json_t *c = NULL;
	struct err e = { 0 };
	CHECK(reply("{\"reward\": 0.5, \"components\": {\"len\": 3, \"ok-1\": -1e3}, \"x\": [1]}",
		&r, &c, &e) == 0);
	CHECK(r == 0.5 && json_object_size(c) == 2);
	CHECK(json_number_value(json_object_get(c, "len")) == 3);
	CHECK(json_number_value(json_object_get(c, "ok-1")) == -1000);
	json_decref(c);
	CHECK(reply("{\"reward\": 1}", &r, &c, &e) == 0 && r == 1 && json_object_size(c) == 0);
	json_decref(c);
	CHECK(reply("{\"reward\": -2, \"components\": null}", &r, &c, &e) == 0 && r == -2);
	json_decref(c);
}

static void test_rewardproc__bad_replies_say_what_is_wrong(void)
{
	static const struct { const char *line, *says; } bad[] = {
		{ "", "not JSON" },
		{ "reward: 1", "not JSON" },
		{ "{\"reward\": NaN}", "not JSON" },
		{ "{\"reward\": 1e999}", "not JSON" },
		{ "[1]", "not a JSON object" },
		{ "1", "not JSON" },
		{ "{}", "\"reward\" is missing" },
		{ "{\"reward\": \"1\"}", "not a number" },
		{ "{\"reward\": true}", "not a number" },
		{ "{\"reward\": 1, \"reward\": 2}", "not JSON" },
		{ "{\"reward\": 1, \"components\": [1]}", "\"components\" is not an object" },
		{ "{\"reward\": 1, \"components\": {\"a\": \"x\"}}", "component 'a' is not a finite" },
		{ "{\"reward\": 1, \"components\": {\"a b\": 1}}", "'a b' is not" },
		{ "{\"reward\": 1, \"components\": {\"\": 1}}", "is not [A-Za-z0-9_-]" },
		{ "{\"reward\": 1, \"components\": {\"abcdefghijabcdefghijabcdefghijabc\": 1}}",
		  "is not [A-Za-z0-9_-]" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		double r = 7;
		json_t *c = (json_t *)1;
		struct err e = { 0 };
		CHECK_MSG(reply(bad[i].line, &r, &c, &e) == -1, "%s", bad[i].line);
		CHECK_MSG(strstr(e.msg, bad[i].says), "%s: %s", bad[i].line, e.msg);
		CHECK(c == NULL);
	}
	/* more than REWARDPROC_MAX_COMPONENTS */
	json_t *o = json_pack("{si}", "reward", 1), *comp = json_object();
	char k[16];
	for (int i = 0; i <= REWARDPROC_MAX_COMPONENTS; i++) {
		snprintf(k, sizeof k, "c%d", i);
		json_object_set_new(comp, k, json_integer(i));
	}
	json_object_set_new(o, "components", comp);
	char *s = json_dumps(o, JSON_COMPACT);
	double r;
	json_t *c;
	struct err e = { 0 };
	CHECK(reply(s, &r, &c, &e) == -1 && strstr(e.msg, "at most 64"));
	free(s);
	json_decref(o);
}

static int block(const char *text, const char *want)
{
	const char *code;
	size_t n;
	if (!rewardcode_last_block(text, strlen(text), &code, &n))
		return want == NULL;
	return want && n == strlen(want) && memcmp(code, want, n) == 0;
}

static void test_rewardcode__last_fenced_block(void)
{
	CHECK(block("x\n```python\nprint(1)\n```\n", "print(1)\n"));
	CHECK(block("```\nprint(2)\n```", "print(2)\n"));
	CHECK(block("```py3 \r\nx=1\n```", "x=1\n"));
	CHECK(block("a ```python\nfirst\n``` b ```python\nsecond\n``` c", "second\n"));
	CHECK(block("```python\nonly\n``` and an unclosed ```python\nx", "only\n"));
	CHECK(block("</think><answer>```python\nprint(3)\n```</answer>", "print(3)\n"));
	CHECK(block("```print(4)```", "print(4)"));
	CHECK(block("```x = (1)\ny = 2\n```", "x = (1)\ny = 2\n")); /* first line is code */
	CHECK(block("no code here", NULL));
	CHECK(block("``` unclosed", NULL));
	CHECK(block("``", NULL));
	CHECK(block("", NULL));
}

static int same(const char *a, const char *b)
{
	return rewardcode_output_equal(a, strlen(a), b, strlen(b));
}

static void test_rewardcode__outputs_compare_without_trailing_space(void)
{
	CHECK(same("3\n", "3"));
	CHECK(same("1 2  \n3\t\n\n\n", "1 2\n3"));
	CHECK(same("a\r\nb\r\n", "a\nb\n"));
	CHECK(same("", "\n\n"));
	CHECK(!same("1\n2", "1\n3"));
	CHECK(!same(" 1", "1"));           /* leading space matters */
	CHECK(!same("1\n\n2", "1\n2"));    /* a blank line inside matters */
	CHECK(!same("1\n2", "1"));
	CHECK(!same("", "0"));
}

static void test_sandbox__ring_keeps_the_last_bytes_as_one_line(void)
{
	struct sandbox_ring r = { 0 };
	char line[64];
	sandbox_ring_add(&r, "first\nsecond\n", 13);
	CHECK(!strcmp(sandbox_ring_line(&r, line, sizeof line), "first | second"));
	char big[5000];
	memset(big, 'x', sizeof big);
	big[sizeof big - 1] = 'y';
	sandbox_ring_add(&r, big, sizeof big);
	CHECK(r.total == 13 + sizeof big);
	sandbox_ring_line(&r, line, sizeof line);
	CHECK(strlen(line) == sizeof line - 1 && line[strlen(line) - 1] == 'y');
	CHECK(!strstr(line, "first"));
}

/* A program of `sh -c SCRIPT` that the tests speak to. */
static struct rewardproc *sh_prog(const char *script, int start_ms)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct sandbox_limits l;
	sandbox_limits_default(&l);
	return rewardproc_new("t", argv, "/", &l, start_ms);
}

static int call(struct rewardproc *p, int timeout_ms, double *r, struct err *e)
{
	json_t *req = json_pack("{ss ss sn sn}", "prompt", "p", "completion", "c\nd", "answer",
		"record"), *c = NULL;
	int rc = rewardproc_call(p, req, timeout_ms, r, &c, e);
	json_decref(req);
	json_decref(c);
	return rc;
}

static void test_rewardproc__a_program_answers_line_by_line(void)
{
	/* echoes the request's length: one line in, one line out, the newline escaped */
	struct rewardproc *p = sh_prog("while read -r l; do echo \"{\\\"reward\\\": ${#l}}\"; done",
		5000);
	double r = 0;
	struct err e = { 0 };
	for (int i = 0; i < 3; i++)
		CHECK_MSG(call(p, 5000, &r, &e) == 0, "%s", e.msg);
	CHECK(r == (double)strlen("{\"prompt\":\"p\",\"completion\":\"c\\nd\",\"answer\":null,"
		"\"record\":null}"));
	CHECK(rewardproc_starts(p) == 1); /* one process for all three */
	rewardproc_free(p);
}

static void test_rewardproc__a_crash_fails_with_its_stderr_then_restarts(void)
{
	struct rewardproc *p = sh_prog("read -r l; echo 'my reward broke' >&2; exit 3", 5000);
	double r;
	struct err e = { 0 };
	CHECK(call(p, 5000, &r, &e) == -1);
	CHECK_MSG(strstr(e.msg, "reward 't': the program ended before it replied") &&
		strstr(e.msg, "exited with status 3") && strstr(e.msg, "stderr: my reward broke"),
		"%s", e.msg);
	CHECK(call(p, 5000, &r, &e) == -1 && rewardproc_starts(p) == 2);
	rewardproc_free(p);
}

/* 1 once process pid has exited (a zombie, or gone), waiting up to 10 s. */
static int exited(int pid)
{
	for (int i = 0; i < 1000; i++) {
		char path[64], stat[256];
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			return 1;
		size_t n = fread(stat, 1, sizeof stat - 1, f);
		fclose(f);
		stat[n] = '\0';
		const char *e = strrchr(stat, ')');
		if (e && e[1] == ' ' && e[2] == 'Z')
			return 1;
		usleep(10000);
	}
	return 0;
}

static void test_rewardproc__a_program_that_exits_between_requests_is_restarted(void)
{
	struct rewardproc *p = sh_prog("read -r l; echo '{\"reward\": 2}'; exit 0", 5000);
	double r = 0;
	struct err e = { 0 };
	for (int i = 1; i <= 3; i++) {
		CHECK_MSG(call(p, 5000, &r, &e) == 0 && r == 2, "call %d: %s", i, e.msg);
		CHECK(rewardproc_starts(p) == i);
		CHECK(exited(rewardproc_pid(p))); /* so the next call finds it gone */
	}
	rewardproc_free(p);
}

static void test_rewardproc__a_hang_times_out_and_is_killed(void)
{
	struct rewardproc *p = sh_prog("echo starting >&2; read -r l; exec sleep 1000", 0);
	double r;
	struct err e = { 0 };
	CHECK(call(p, 300, &r, &e) == -1);
	CHECK_MSG(strstr(e.msg, "no reply within timeout_ms 300") && strstr(e.msg, "starting"),
		"%s", e.msg);
	rewardproc_free(p);
}

static void test_rewardproc__garbage_and_floods_fail_the_call(void)
{
	struct rewardproc *p = sh_prog("read -r l; echo 'Loading model...'; exec sleep 1000", 5000);
	double r;
	struct err e = { 0 };
	CHECK(call(p, 5000, &r, &e) == -1);
	CHECK_MSG(strstr(e.msg, "the reply is not JSON") && strstr(e.msg, "Loading model"), "%s",
		e.msg);
	rewardproc_free(p);
	/* 8 MiB on one line, and 8 MiB of stderr: read and dropped, never held */
	p = sh_prog("read -r l; head -c 8388608 /dev/zero | tr '\\0' e >&2; "
		"head -c 8388608 /dev/zero | tr '\\0' a; echo", 5000);
	CHECK(call(p, 10000, &r, &e) == -1);
	CHECK_MSG(strstr(e.msg, "its reply is longer than 1048576 bytes"), "%s", e.msg);
	rewardproc_free(p);
	/* two lines for one request */
	p = sh_prog("read -r l; printf '{\"reward\": 1}\\n{\"reward\": 2}\\n'; exec sleep 1000", 5000);
	CHECK(call(p, 5000, &r, &e) == -1);
	CHECK_MSG(strstr(e.msg, "more than one line") || strstr(e.msg, "no reply"), "%s", e.msg);
	rewardproc_free(p);
}

static void test_sandbox__run_has_a_time_limit_and_caps_output(void)
{
	const char *loop[] = { "/bin/sh", "-c", "while :; do :; done", NULL };
	const char *cat[] = { "/bin/sh", "-c", "cat; echo done >&2", NULL };
	struct sandbox_limits l;
	struct sandbox_result r;
	struct err e = { 0 };
	sandbox_limits_default(&l);
	CHECK(sandbox_run(loop, "/", &l, "", 0, 200, 100, &r, &e) == 0 && r.timed_out);
	sandbox_result_free(&r);
	CHECK(sandbox_run(cat, "/", &l, "hello world", 11, 5000, 5, &r, &e) == 0);
	CHECK(!r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK(r.out_len == 5 && !memcmp(r.out, "hello", 5) && r.out_cut);
	char line[32];
	CHECK(!strcmp(sandbox_ring_line(&r.tail, line, sizeof line), "done"));
	sandbox_result_free(&r);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_rewardproc__reply_with_and_without_components),
		TEST(test_rewardproc__bad_replies_say_what_is_wrong),
		TEST(test_rewardcode__last_fenced_block),
		TEST(test_rewardcode__outputs_compare_without_trailing_space),
		TEST(test_sandbox__ring_keeps_the_last_bytes_as_one_line),
		TEST(test_rewardproc__a_program_answers_line_by_line),
		TEST(test_rewardproc__a_crash_fails_with_its_stderr_then_restarts),
		TEST(test_rewardproc__a_program_that_exits_between_requests_is_restarted),
		TEST(test_rewardproc__a_hang_times_out_and_is_killed),
		TEST(test_rewardproc__garbage_and_floods_fail_the_call),
		TEST(test_sandbox__run_has_a_time_limit_and_caps_output),
		{ 0 },
	});
}
