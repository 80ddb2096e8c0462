/*
 * rewards — the rule-based rewards of docs/rewards.md, pure functions of text.
 *
 * What they read. The completion is the text the model generated after the
 * templated prompt "{prompt}\n<think>", decoded with the model's tokenizer but its
 * final EOS (core/tokenizer.h), so special tokens appear as their spellings
 * ("</think>"): it starts inside the reasoning and may or may not carry the closing
 * tags, which are text here whether the vocabulary has them as tokens or not. The prompt is the record's prompt
 * (before the template); the answer is the record's reference answer. Inputs are
 * (pointer, length) or NUL-terminated strings, any size: every function is linear in
 * the completion's length (completion_len bytes; the completion need not be
 * NUL-terminated and may hold any bytes).
 *
 * Well-formed (rewards_parse, think_answer_format). The completion is
 *     REASONING "</think>" WS* "<answer>" ANSWER "</answer>" TAIL
 * where REASONING (possibly empty) and ANSWER contain no special spelling (the seven
 * of core/tokenizer: <think> </think> <answer> </answer> <|bos|> <|eos|> <|pad|>),
 * ANSWER is non-empty after trimming ASCII whitespace, WS is ASCII whitespace, and
 * TAIL is any run of ASCII whitespace, "<|eos|>" and "<|pad|>" — nothing else. So a
 * nested or repeated tag, a <think> inside the reasoning, an answer outside the tags,
 * text after </answer>, a missing tag or an empty answer all make it ill-formed.
 * The reasoning is the text before the first "</think>" (the whole completion when
 * there is none); the answer is ANSWER trimmed.
 *
 * The functions (each a double; the spec names them in `fn:`):
 *   think_answer_format   1 if well-formed, else 0.
 *   accuracy              1 if well-formed and the answer equals the reference,
 *                         format_credit (default 0.1) if well-formed but not equal,
 *                         0 if ill-formed. Equality after trimming ASCII whitespace:
 *                         if both sides are integers ("-"? digits; "+5" and "1,000"
 *                         are not integers), numerically, as digit strings with
 *                         leading zeros dropped ("0123" = "123", "-0" = "0", any
 *                         length, no overflow); otherwise byte for byte.
 *   countdown             TinyZero's 0 / 0.1 / 1: 1 if well-formed and the answer is
 *                         an expression (tasks.h task_expr_eval: integers, + - * /,
 *                         unary minus, parentheses, spaces; <= 256 bytes, <= 32
 *                         levels; exact int64 arithmetic) using the prompt's numbers
 *                         each at most once and equal to the prompt's target;
 *                         format_credit if well-formed but wrong or invalid (a
 *                         number reused or not in the prompt, division by zero or
 *                         with a remainder, overflow, "=80" after the expression);
 *                         0 if ill-formed. The prompt must parse as a countdown
 *                         prompt (rewards_score checks; the function alone gives 0).
 *   language_consistency  the share of the reasoning's code points that are in the
 *                         alphabet (UTF-8; default REWARDS_ALPHABET). Counted in
 *                         code points; each byte of invalid UTF-8 (bad lead,
 *                         truncated, overlong, surrogate, > U+10FFFF) counts as one
 *                         code point not in the alphabet. Empty reasoning gives 0.
 *   length                DAPO's soft overlong punishment of the completion's token
 *                         count L: 0 if L <= max_tokens - buffer; -penalty if
 *                         L >= max_tokens; linear in between,
 *                         -penalty * (L - (max_tokens - buffer)) / buffer.
 *                         buffer 0 is a step at max_tokens.
 *   math                  the final answer, extracted by the steps of `extract`
 *                         (mathans.h: answer_tag, boxed, hash, last_number; the
 *                         first that finds one wins), compared by value with the
 *                         reference (mathans_equal): 1 if equal; format_credit if
 *                         not equal but found by answer_tag, boxed or hash (the
 *                         answer is where the format puts it); 0 if not found, or
 *                         found only as the last number and not equal. Well-formed
 *                         is required only through answer_tag: with extract
 *                         [answer_tag] it is accuracy's 1 / format_credit / 0 by
 *                         value; with [boxed] a \boxed{} answer needs no tags.
 *
 * External kinds. `program` (a user's reward program) and `code` (the completion's
 * code run against tests) run processes, which this library does not: the worker's
 * rewardext.h computes their values and rewards_score takes them as given.
 *
 * A spec is an array of components; rewards_score fills each component's value
 * (unweighted) and the weighted sum.
 */
#ifndef R1_REWARDS_H
#define R1_REWARDS_H

#include <stddef.h>

#include "err.h"
#include "mathans.h"
#include "names.h"

/* The tasks' reasoning alphabet (tasks.h steps: digits, operators, '=', ',', '()'). */
#define REWARDS_ALPHABET "0123456789+-*/=,() "

/* The functions, by their index in names.h's reward list (the spec's `fn:` names). */
enum rewards_kind {
	REWARDS_ACCURACY = NAMEI_REWARD_ACCURACY,    /* accuracy */
	REWARDS_COUNTDOWN = NAMEI_REWARD_COUNTDOWN,  /* countdown */
	REWARDS_FORMAT = NAMEI_REWARD_FORMAT,        /* think_answer_format */
	REWARDS_LANGUAGE = NAMEI_REWARD_LANGUAGE,    /* language_consistency */
	REWARDS_LENGTH = NAMEI_REWARD_LENGTH,        /* length */
	REWARDS_MATH = NAMEI_REWARD_MATH,            /* math */
	REWARDS_PROGRAM = NAMEI_REWARD_PROGRAM,      /* program: workers/rewardext.h */
	REWARDS_CODE = NAMEI_REWARD_CODE,            /* code: workers/rewardext.h */
};

struct rewards_params {
	double format_credit;  /* accuracy, countdown, math: right form, wrong answer (0.1) */
	const char *alphabet;  /* language_consistency: allowed code points, UTF-8; borrowed
	                        * (default REWARDS_ALPHABET) */
	int max_tokens;        /* length: L that gets the full penalty; >= 1 (default 0: must be set) */
	int buffer;            /* length: width of the linear zone, 0..max_tokens (default 0) */
	double penalty;        /* length: the full penalty, >= 0 (default 1) */
	enum mathans_step extract[MATHANS_STEPS]; /* math: the extraction steps in order, */
	int n_extract;         /* 1..MATHANS_STEPS distinct (default: all, in list order) */
};

struct rewards_component {
	const char *name;      /* the spec's key ("accuracy"), for reports; borrowed */
	enum rewards_kind kind;
	double weight;         /* finite */
	struct rewards_params params;
};

struct rewards_input {
	const char *prompt;       /* the record's prompt, NUL-terminated */
	const char *completion;   /* what the model wrote after "<think>" (specials spelled) */
	size_t completion_len;    /* bytes */
	const char *answer;       /* reference answer, NUL-terminated; NULL if none */
	int completion_tokens;    /* generated tokens, EOS included (length reward) */
};

struct rewards_parts {        /* pointers into the completion */
	int well_formed;          /* the grammar above */
	const char *reasoning;    /* before the first </think>, or the whole completion */
	size_t reasoning_len;
	const char *answer;       /* trimmed ANSWER; NULL unless well_formed */
	size_t answer_len;
};

/* "accuracy", ... → kind; -1 (with err naming the choices) otherwise. */
int rewards_kind_parse(const char *fn, enum rewards_kind *kind, struct err *err);
const char *rewards_kind_name(enum rewards_kind kind);

void rewards_params_default(struct rewards_params *p);
/* 0 if the component is usable (weight finite, its kind's params in range, alphabet
 * valid non-empty UTF-8), else -1 naming the component and the field. */
int rewards_component_check(const struct rewards_component *c, struct err *err);

void rewards_parse(const char *completion, size_t len, struct rewards_parts *out);

double rewards_format(const struct rewards_input *in);
double rewards_accuracy(const struct rewards_input *in, double format_credit);
double rewards_countdown(const struct rewards_input *in, double format_credit);
double rewards_language(const struct rewards_input *in, const char *alphabet);
double rewards_length(int tokens, int max_tokens, int buffer, double penalty);
double rewards_math(const struct rewards_input *in, const struct rewards_params *p);

/* Length of the special spelling (<think>, <|eos|>, ...) at s[0..len), or 0. */
size_t rewards_special_at(const char *s, size_t len);

/* Share of s[0..len)'s code points in alphabet (NULL: REWARDS_ALPHABET); 0 if empty. */
double rewards_alphabet_share(const char *s, size_t len, const char *alphabet);

/* 1 if the trimmed answer equals the trimmed reference under accuracy's rules. */
int rewards_answer_equal(const char *answer, size_t len, const char *reference);

/*
 * Score one completion: components[i] = spec[i]'s value (unweighted), *total = the
 * weighted sum. An external component's value (program, code) is read from
 * components[i], which the caller filled. Errors (nothing written to *total): a
 * component fails its check, an accuracy or math component without a reference
 * answer, a countdown component whose prompt
 * is not a countdown prompt — misconfigurations, each naming the component.
 */
int rewards_score(const struct rewards_component *spec, int n, const struct rewards_input *in,
	double *components, double *total, struct err *err);

#endif
