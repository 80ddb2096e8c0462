/* rewardcode — the `code` reward; see rewardcode.h. */
#define _GNU_SOURCE
#include "rewardcode.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "file.h"

static const char *rewardcode_find(const char *s, const char *end)
{
	for (const char *p = s; p + 3 <= end; p++) {
		p = memchr(p, '`', (size_t)(end - p));
		if (!p || p + 3 > end)
			return NULL;
		if (p[1] == '`' && p[2] == '`')
			return p;
	}
	return NULL;
}

static int rewardcode_info_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '+' || c == '-' || c == '.' || c == ' ' || c == '\t' || c == '\r';
}

int rewardcode_last_block(const char *s, size_t len, const char **code, size_t *code_len)
{
	const char *end = s + len, *open = NULL, *close = NULL, *p = s, *f;
	while ((f = rewardcode_find(p, end))) {
		const char *g = rewardcode_find(f + 3, end);
		if (!g)
			break;
		open = f + 3;
		close = g;
		p = g + 3;
	}
	if (!open)
		return 0;
	const char *nl = memchr(open, '\n', (size_t)(close - open));
	const char *c = open;
	if (nl) {
		const char *q = open;
		while (q < nl && rewardcode_info_char(*q))
			q++;
		if (q == nl)
			c = nl + 1;
	}
	*code = c;
	*code_len = (size_t)(close - c);
	return 1;
}

/* The length of s without trailing whitespace on the line ending at s + n. */
static size_t rewardcode_rtrim(const char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\v' ||
		s[n - 1] == '\f'))
		n--;
	return n;
}

/* Next line of s[*at..len) trimmed; 0 at the end of the text's non-blank part. */
static int rewardcode_next_line(const char *s, size_t len, size_t *at, const char **line,
	size_t *n)
{
	if (*at > len)
		return 0;
	const char *nl = memchr(s + *at, '\n', len - *at);
	size_t e = nl ? (size_t)(nl - s) : len;
	*line = s + *at;
	*n = rewardcode_rtrim(s + *at, e - *at);
	*at = e + 1;
	return 1;
}

/* Bytes of s that matter: up to the end of its last non-blank line. */
static size_t rewardcode_content(const char *s, size_t len)
{
	size_t at = 0, keep = 0;
	const char *line;
	size_t n;
	while (rewardcode_next_line(s, len, &at, &line, &n))
		if (n)
			keep = (size_t)(line - s) + n;
	return keep;
}

int rewardcode_output_equal(const char *got, size_t got_len, const char *want, size_t want_len)
{
	got_len = rewardcode_content(got, got_len);
	want_len = rewardcode_content(want, want_len);
	size_t a = 0, b = 0;
	const char *la, *lb;
	size_t na, nb;
	for (;;) {
		int ha = a <= got_len && rewardcode_next_line(got, got_len, &a, &la, &na);
		int hb = b <= want_len && rewardcode_next_line(want, want_len, &b, &lb, &nb);
		if (!ha || !hb)
			return ha == hb;
		if (na != nb || memcmp(la, lb, na) != 0)
			return 0;
	}
}

/* One test: write the program, run it. 1 passed, 0 failed, -1 error. */
static int rewardcode_run(const char *dir, const char *code, size_t code_len, const char *extra,
	const char *input, size_t input_len, const char *want, size_t want_len,
	const struct rewardcode_params *p, struct err *err)
{
	static const char *const argv[] = { "python3", "main.py", NULL };
	char path[4096];
	size_t extra_len = extra ? strlen(extra) : 0;
	char *text = malloc(code_len + extra_len + 2);
	if (!text)
		return err_set(err, ERR_NOMEM, "code: out of memory");
	memcpy(text, code, code_len);
	text[code_len] = '\n';
	if (extra)
		memcpy(text + code_len + 1, extra, extra_len);
	text[code_len + 1 + extra_len] = '\n';
	snprintf(path, sizeof path, "%s/main.py", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 || file_write_all(fd, text, code_len + extra_len + 2) < 0 ? -1 : 0;
	int e = errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	free(text);
	if (rc < 0)
		return err_sys(err, e, "code: cannot write '%s'", path);
	struct sandbox_limits l = p->limits;
	struct sandbox_result r;
	l.cpu_s = (p->timeout_ms + 999) / 1000 + 1;
	if (sandbox_run(argv, dir, &l, input, input_len, p->timeout_ms, REWARDCODE_OUT_MAX, &r,
		err) < 0)
		return err_wrap(err, "code");
	int pass = !r.timed_out && !r.out_cut && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
		(!want || rewardcode_output_equal(r.out, r.out_len, want, want_len));
	if (!r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127) {
		char tail[300];
		sandbox_ring_line(&r.tail, tail, sizeof tail);
		if (strstr(tail, SANDBOX_EXEC_FAILED)) {
			sandbox_result_free(&r);
			return err_set(err, ERR_INVALID, "code: %s", tail);
		}
	}
	sandbox_result_free(&r);
	return pass;
}

int rewardcode_score(const char *completion, size_t len, const json_t *record,
	const struct rewardcode_params *p, double *value, int *passed, int *tests,
	struct err *err)
{
	const json_t *t = json_object_get(record, "tests"), *a = json_object_get(record, "asserts");
	size_t nt = json_array_size(t), na = json_is_string(a) ? 1 : json_array_size(a), i;
	const json_t *x;
	const char *code;
	size_t code_len;
	char dir[4096];
	int ok = 0, rc = -1;
	if (!json_is_object(record))
		return err_set(err, ERR_INVALID, "code: the item has no record (the code reward reads "
			"its tests from the record's 'tests' or 'asserts')");
	if ((t && !json_is_array(t)) || (a && !json_is_string(a) && !json_is_array(a)))
		return err_set(err, ERR_INVALID, "code: the record's %s", t && !json_is_array(t) ?
			"'tests' is not a list of {input, output}" :
			"'asserts' is not a text or a list of texts");
	if (nt + na == 0)
		return err_set(err, ERR_INVALID, "code: the record has no 'tests' or 'asserts'");
	if (nt + na > REWARDCODE_MAX_TESTS)
		return err_set(err, ERR_INVALID, "code: the record has %zu tests: at most %d", nt + na,
			REWARDCODE_MAX_TESTS);
	json_array_foreach(t, i, x)
		if (!json_is_string(json_object_get(x, "input")) ||
			!json_is_string(json_object_get(x, "output")))
			return err_set(err, ERR_INVALID, "code: the record's tests[%zu] is not "
				"{input: text, output: text}", i);
	json_array_foreach(a, i, x)
		if (!json_is_string(x))
			return err_set(err, ERR_INVALID, "code: the record's asserts[%zu] is not a text", i);
	if (tests)
		*tests = (int)(nt + na);
	if (passed)
		*passed = 0;
	if (!rewardcode_last_block(completion, len, &code, &code_len)) {
		*value = 0;
		return 0;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/r1flow-code-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return err_sys(err, errno, "code: cannot create a directory in '%s'",
			tmp && *tmp ? tmp : "/tmp");
	for (i = 0; i < nt + na; i++) {
		int r;
		if (i < nt) {
			x = json_array_get(t, i);
			const json_t *in = json_object_get(x, "input"), *out = json_object_get(x, "output");
			r = rewardcode_run(dir, code, code_len, NULL, json_string_value(in),
				json_string_length(in), json_string_value(out), json_string_length(out), p, err);
		} else {
			x = json_is_string(a) ? a : json_array_get(a, i - nt);
			r = rewardcode_run(dir, code, code_len, json_string_value(x), "", 0, NULL, 0, p, err);
		}
		if (r < 0)
			goto out;
		ok += r;
	}
	if (passed)
		*passed = ok;
	*value = p->all ? (ok == (int)(nt + na)) : (double)ok / (double)(nt + na);
	rc = 0;
out:
	sandbox_rmtree(dir);
	return rc;
}
