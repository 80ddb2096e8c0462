/*
 * tasks — deterministic task generators with verifiers (docs/rewards.md): `arithmetic`
 * and `countdown`, and the worked-solution writer that produces the cold-start
 * demonstrations for them. Pure C, no I/O, no allocation.
 *
 * Determinism. Record i of a dataset is a pure function of (params, seed, i): its
 * draws come from `struct rng` under key rng_key_u64(rng_key_str(seed, task name),
 * i), and the corpus form from a second stream keyed by rng_key_str(that key,
 * "form"). Record 5000 needs no record before it; the bytes are the same on every
 * machine (integer arithmetic only; the one float, the form coin, is compared with
 * the mix in a fixed way). The same index gives the same problem in every style.
 * `seed` is the caller's dataset key (the spec's dataset seed, or one derived from
 * the pipeline seed — the caller decides and keeps it fixed).
 *
 * Texts (ASCII; no <|bos|>/<|eos|>: the stage adds those):
 *   arithmetic prompt   "{a}{op}{b}"                 e.g. "467+189"; both operands have
 *                       exactly `digits` digits (leading digit non-zero when
 *                       digits > 1; 0..9 when digits = 1)
 *   countdown prompt    "{n1} {n2} ... {nk} -> {target}" numbers in drawn order
 *   answer              arithmetic: the integer result ("-336" when negative);
 *                       countdown: an expression of the known solution,
 *                       minimally parenthesised: "(25-5)*4"
 *   response (worked)   "{steps}</think><answer>{answer}</answer>": what follows the
 *                       template "{prompt}\n<think>", so it starts right after
 *                       <think>. Steps are comma separated "LHS=RHS" equations, each
 *                       arithmetically true:
 *     +  rightmost column first, "digit+digit+carry=sum":
 *        467+189 -> "7+9+0=16,6+8+1=15,4+1+1=6"; answer = last sum, then the units
 *        of the earlier sums, right to left (656).
 *     -  a >= b: rightmost column first, "top-bottom-borrow=digit", where top is
 *        written as 1{digit} (digit+10) when the column borrows:
 *        523-187 -> "13-7-0=6,12-8-1=3,5-1-1=3" (336; leading zeros dropped).
 *        a < b: first the step "187-523=-(523-187)", then the columns of 523-187,
 *        answer "-336".
 *     *  one partial product per non-zero digit of b, rightmost first, the digit
 *        with its place value, then the sum of the partials (if more than one):
 *        482*367 -> "482*7=3374,482*60=28920,482*300=144600,3374+28920+144600=176894";
 *        b = 0 -> "482*0=0".
 *     countdown: the steps of the known solution, one operation each, in order:
 *        "25-5=20,20*4=80", answer "(25-5)*4".
 *   corpus text         one form per record, drawn with the mix's probabilities:
 *     plain   "{prompt}={answer}"                          "467+189=656"
 *     tagged  "{prompt}\n<think></think><answer>{answer}</answer>"
 *     worked  "{prompt}\n<think>{response}"
 *
 * Tokens. The tags are written as their literal spellings. core/tokenizer's
 * tok_encode maps each spelling ("<think>", "</think>", "<answer>", "</answer>") to
 * its special id wherever it occurs, so "{prompt}\n<think>" encodes to the prompt's
 * bytes, '\n', TOK_THINK, and a response encodes to its reasoning bytes,
 * TOK_THINK_END, TOK_ANSWER, ..., TOK_ANSWER_END. Generated texts contain no '<'
 * other than in these tags, so no byte sequence is mistaken for a tag.
 *
 * Countdown generation (TinyZero style): draw `numbers` numbers in 1..max_number;
 * pick a random subset of >= 2 of them; combine two random values of the pool at a
 * time with a random operator (subtraction larger minus smaller, never 0; division
 * only when exact) until one value is left: that is the target, with its steps and
 * expression known. A target outside 1..1000 is redrawn from the same stream (so
 * deterministically); after 1000 misses the first two numbers are combined as
 * larger-smaller (or a/a = 1 when equal), which is always in range.
 *
 * Expressions (task_expr_eval, shared by the verifier and the countdown reward):
 * integers, + - * / with the usual precedence, unary minus, parentheses, spaces.
 * Exact 64-bit integer arithmetic: overflow, division by zero and inexact division
 * make the expression invalid. At most TASK_EXPR_MAX bytes and TASK_EXPR_DEPTH
 * nesting levels (parentheses and unary minus).
 */
#ifndef R1_TASKS_H
#define R1_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "names.h"

#define TASK_PROMPT_MAX 128    /* bytes with the NUL; longest: 6 countdown numbers */
#define TASK_ANSWER_MAX 128    /* longest: a 6-number countdown expression */
#define TASK_RESPONSE_MAX 1024 /* longest: 9-digit multiplication, ~590 bytes */
#define TASK_TEXT_MAX (TASK_PROMPT_MAX + 16 + TASK_RESPONSE_MAX)
#define TASK_EXPR_MAX 256      /* longest expression task_expr_eval accepts */
#define TASK_EXPR_DEPTH 32     /* deepest nesting it accepts */
#define TASK_NUMBERS_MAX 6     /* countdown numbers */
#define TASK_TARGET_MAX 1000   /* countdown targets are in 1..1000 */

/* By their index in names.h's lists (the spec's `generate:` and `style:` names). */
enum task_kind { TASK_ARITHMETIC = NAMEI_TASK_ARITHMETIC, TASK_COUNTDOWN = NAMEI_TASK_COUNTDOWN };

enum task_style {
	TASK_STYLE_PROBLEM = NAMEI_STYLE_PROBLEM, /* prompt + answer (RL prompts, eval sets) */
	TASK_STYLE_WORKED = NAMEI_STYLE_WORKED,   /* prompt + answer + response (cold-start SFT) */
	TASK_STYLE_CORPUS = NAMEI_STYLE_CORPUS,   /* prompt + answer + text (pretraining) */
};

enum task_form { TASK_FORM_NONE, TASK_FORM_PLAIN, TASK_FORM_TAGGED, TASK_FORM_WORKED };

struct task_params {
	enum task_kind kind;
	int digits;           /* arithmetic: operand digits, 1..9 (default 3) */
	char operators[4];    /* arithmetic: 1-3 chars of "+-*", drawn uniformly (default "+") */
	int numbers;          /* countdown: numbers per problem, 3..6 (default 4) */
	int max_number;       /* countdown: numbers are in 1..max_number, 1..1000 (default 100) */
};

struct task_mix {         /* corpus form probabilities; >= 0, normalised by their sum */
	double plain, tagged, worked;
};

struct task_record {
	char prompt[TASK_PROMPT_MAX];
	char answer[TASK_ANSWER_MAX];
	char response[TASK_RESPONSE_MAX]; /* worked style; "" otherwise */
	char text[TASK_TEXT_MAX];         /* corpus style; "" otherwise */
	enum task_form form;              /* corpus style: the form drawn; else NONE */
};

enum task_expr_status {
	TASK_EXPR_OK,
	TASK_EXPR_SYNTAX,      /* not an expression (also: empty, trailing text) */
	TASK_EXPR_TOO_LONG,    /* more than TASK_EXPR_MAX bytes */
	TASK_EXPR_TOO_DEEP,    /* more than TASK_EXPR_DEPTH levels */
	TASK_EXPR_OVERFLOW,    /* a literal or a result outside int64 */
	TASK_EXPR_DIV_ZERO,
	TASK_EXPR_INEXACT,     /* a division with a remainder */
	TASK_EXPR_UNKNOWN,     /* a literal not among the allowed numbers (left) */
};

/* "arithmetic" / "countdown" → kind; -1 (with err naming the choices) otherwise. */
int task_parse(const char *name, enum task_kind *kind, struct err *err);
const char *task_name(enum task_kind kind);

/* The defaults above for kind. */
void task_params_default(enum task_kind kind, struct task_params *p);
/* 0 if p is usable, else -1 naming the bad field. */
int task_params_check(const struct task_params *p, struct err *err);

/* The demo's corpus mix (docs/learning.md): plain 0.35, tagged 0.35, worked 0.30. */
struct task_mix task_mix_default(void);

/*
 * Record `index` of the dataset (params, seed) in `style`. mix is read only for the
 * corpus style; NULL means task_mix_default(). Errors: bad params or mix.
 */
int task_record(const struct task_params *p, uint64_t seed, uint64_t index,
	enum task_style style, const struct task_mix *mix, struct task_record *out,
	struct err *err);

/*
 * 1 if answer_text solves the problem in prompt (a record prompt of this task), 0
 * otherwise (also when the prompt does not parse). Arithmetic: the answer, trimmed
 * of ASCII whitespace, is an integer ("-" allowed, leading zeros allowed, "+" not)
 * equal to the result. Countdown: the answer is a valid expression (task_expr_eval)
 * using the prompt's numbers, each at most once, whose value is the target.
 */
int task_verify(const struct task_params *p, const char *prompt, const char *answer_text);

/*
 * Parse a countdown prompt "{n1} ... {nk} -> {target}" (1 <= k <= TASK_NUMBERS_MAX,
 * positive integers, single spaces as written; leading whitespace and anything
 * after the target that starts with whitespace are ignored, so a templated prompt
 * "{prompt}\n<think>" parses too). 0 on success, -1 otherwise.
 */
int task_countdown_parse(const char *prompt, int64_t numbers[TASK_NUMBERS_MAX], int *n,
	int64_t *target);

/*
 * Evaluate expression s[0..len). If allowed is non-NULL, every literal must match an
 * unused entry of allowed[0..n_allowed) (a multiset: each entry used at most once);
 * otherwise literals are free. On TASK_EXPR_OK *value holds the result.
 */
enum task_expr_status task_expr_eval(const char *s, size_t len, const int64_t *allowed,
	int n_allowed, int64_t *value);
const char *task_expr_status_name(enum task_expr_status s);

#endif
