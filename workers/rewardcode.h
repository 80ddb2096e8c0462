/*
 * rewardcode — the `code` reward (docs/rewards.md): the completion's last fenced
 * code block, run with python3 in the sandbox (sandbox.h) against the record's tests.
 *
 * The block. Fences are "```" anywhere in the text, paired in order (open, close,
 * open, close, ...; an unclosed last fence is no block); the last pair is the block.
 * When the text between the pair holds a line break and its first line is an info
 * string ("python", "py3", "" — letters, digits, '_', '+', '-', '.'), the code is what
 * follows that line; otherwise the code is all of the text between the fences.
 *
 * The tests, from the item's record (a JSON object):
 *   tests    [{input: text, output: text}, ...]: each runs the code with `input` on
 *            stdin; it passes when the program exits with status 0 within the time
 *            limit and its stdout equals `output` once both have trailing
 *            whitespace removed from every line and trailing blank lines dropped
 *   asserts  text, or a list of texts: each runs the code with that text appended
 *            (on a new line) and empty stdin; it passes on exit status 0 in time
 * At least one test in all, at most REWARDCODE_MAX_TESTS. Each test is one process,
 * `python3 main.py` in a fresh private directory, with timeout_ms (and RLIMIT_CPU
 * of timeout_ms rounded up to seconds, plus one); stdout is kept to 1 MiB (more
 * fails the test).
 *
 * The value: the share of tests passed (mode fraction), or 1 if all passed else 0
 * (mode all); 0 without a code block (no process runs). Errors (the job fails): no
 * record, no tests or asserts, a malformed test, python3 that cannot be started.
 */
#ifndef R1_REWARDCODE_H
#define R1_REWARDCODE_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "sandbox.h"

#define REWARDCODE_MAX_TESTS 256
#define REWARDCODE_OUT_MAX (1u << 20)

struct rewardcode_params {
	int all;                       /* mode all: 1 only if every test passes */
	int timeout_ms;                /* per test */
	struct sandbox_limits limits;  /* cpu_s is set from timeout_ms */
};

/* 1 and the block's code (a pointer into s) if s has a fenced code block, else 0. */
int rewardcode_last_block(const char *s, size_t len, const char **code, size_t *code_len);

/* 1 if got and want are equal once trailing whitespace is removed from each line and
 * trailing blank lines are dropped. */
int rewardcode_output_equal(const char *got, size_t got_len, const char *want, size_t want_len);

/* *value, and *passed / *tests (may be NULL) for the components. */
int rewardcode_score(const char *completion, size_t len, const json_t *record,
	const struct rewardcode_params *p, double *value, int *passed, int *tests,
	struct err *err);

#endif
