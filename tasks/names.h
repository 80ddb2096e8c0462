/*
 * names — the one table of the names a pipeline spec uses for what tasks/ provides
 * and what the daemon runs: stage kinds, tasks (dataset generators), dataset styles,
 * corpus forms (the keys of a corpus dataset's `mix`), reward functions and the math
 * reward's answer extraction steps. The spec
 * loader (pipelines/), the daemon's stage drivers and dataset maker, the workers'
 * reward and reject jobs and `r1flow validate` all spell them from here, so a name
 * is written once and a new one is added in one place.
 *
 * Dependency-free (no base, no libc beyond string.h) and in a library of its own
 * (r1names), so the spec loader can use it without linking the task code.
 *
 * Per list L (STAGE, TASK, STYLE, FORM, REWARD, EXTRACT) and entry ID:
 *   NAME_L_ID          the name as a string literal ("rejection_sample"): usable in
 *                      static initializers and string concatenation
 *   NAMEI_L_ID         its index in the list (enum names_l), 0-based, in list order
 *   NAMES_L_N          the number of entries
 *   names_l[]          the names by index
 *   NAMES_L_CHOICES    the names joined by '|' as one string literal, in list order
 *                      (the spec loader's enum choices: the first is the default)
 * The order is part of the contract: the spec loader's kind bits (pipelines/
 * spec_keys.h) and the choices' default follow it, and messages list names in it.
 * Adding an entry: append it to its list (and handle it where the list is switched
 * on: tasks/tasks.c, tasks/rewards.c, the stage drivers); never reorder.
 */
#ifndef R1_NAMES_H
#define R1_NAMES_H

#include <stddef.h>

/* A stage's `kind:`. */
#define NAME_STAGE_PROBE    "probe"
#define NAME_STAGE_PRETRAIN "pretrain"
#define NAME_STAGE_SFT      "sft"
#define NAME_STAGE_GRPO     "grpo"
#define NAME_STAGE_REJECT   "rejection_sample"
#define NAME_STAGE_MERGE    "merge"
#define NAME_STAGE_EVAL     "eval"
#define NAMES_STAGE(X) X(STAGE, PROBE) X(STAGE, PRETRAIN) X(STAGE, SFT) X(STAGE, GRPO) \
	X(STAGE, REJECT) X(STAGE, MERGE) X(STAGE, EVAL)

/* A generated dataset's `generate:` (tasks.h). */
#define NAME_TASK_ARITHMETIC "arithmetic"
#define NAME_TASK_COUNTDOWN  "countdown"
#define NAMES_TASK(X) X(TASK, ARITHMETIC) X(TASK, COUNTDOWN)

/* A generated dataset's `style:` (tasks.h enum task_style). */
#define NAME_STYLE_PROBLEM "problem"
#define NAME_STYLE_WORKED  "worked"
#define NAME_STYLE_CORPUS  "corpus"
#define NAMES_STYLE(X) X(STYLE, PROBLEM) X(STYLE, WORKED) X(STYLE, CORPUS)

/* The forms of a corpus record: the keys of a corpus dataset's `mix:` (tasks.h). */
#define NAME_FORM_PLAIN  "plain"
#define NAME_FORM_TAGGED "tagged"
#define NAME_FORM_WORKED "worked"
#define NAMES_FORM(X) X(FORM, PLAIN) X(FORM, TAGGED) X(FORM, WORKED)

/* A reward's `fn:` (rewards.h). */
#define NAME_REWARD_ACCURACY  "accuracy"
#define NAME_REWARD_COUNTDOWN "countdown"
#define NAME_REWARD_FORMAT    "think_answer_format"
#define NAME_REWARD_LANGUAGE  "language_consistency"
#define NAME_REWARD_LENGTH    "length"
#define NAME_REWARD_MATH      "math"
#define NAME_REWARD_PROGRAM   "program"
#define NAME_REWARD_CODE      "code"
#define NAMES_REWARD(X) X(REWARD, ACCURACY) X(REWARD, COUNTDOWN) X(REWARD, FORMAT) \
	X(REWARD, LANGUAGE) X(REWARD, LENGTH) X(REWARD, MATH) X(REWARD, PROGRAM) X(REWARD, CODE)

/* The math reward's `extract:` steps (mathans.h), in their default order. */
#define NAME_EXTRACT_ANSWER_TAG  "answer_tag"
#define NAME_EXTRACT_BOXED       "boxed"
#define NAME_EXTRACT_HASH        "hash"
#define NAME_EXTRACT_LAST_NUMBER "last_number"
#define NAMES_EXTRACT(X) X(EXTRACT, ANSWER_TAG) X(EXTRACT, BOXED) X(EXTRACT, HASH) \
	X(EXTRACT, LAST_NUMBER)

/* The accuracy-type rewards: a value >= 1 says the answer is right. The first of
 * them among a stage's rewards (then the pipeline's) is what an eval, grpo or
 * rejection_sample stage counts as correct when its spec has no `correct:`; their
 * format_credit is set to 0 for that count (docs/rewards.md). A new answer checker
 * is appended here too. */
#define NAMES_REWARD_CORRECT(X) X(REWARD, ACCURACY) X(REWARD, COUNTDOWN) X(REWARD, MATH) \
	X(REWARD, CODE)

/* ---- derived from the lists above ------------------------------------------- */

#define NAMES_INDEX_(l, id) NAMEI_##l##_##id,
#define NAMES_BAR_(l, id) "|" NAME_##l##_##id
/* "|a|b|c" + 1: the leading bar skipped (an address constant, fine in initializers) */
#define NAMES_CHOICES_(list) (list(NAMES_BAR_) + 1)

enum names_stage { NAMES_STAGE(NAMES_INDEX_) NAMES_STAGE_N };
enum names_task { NAMES_TASK(NAMES_INDEX_) NAMES_TASK_N };
enum names_style { NAMES_STYLE(NAMES_INDEX_) NAMES_STYLE_N };
enum names_form { NAMES_FORM(NAMES_INDEX_) NAMES_FORM_N };
enum names_reward { NAMES_REWARD(NAMES_INDEX_) NAMES_REWARD_N };
enum names_extract { NAMES_EXTRACT(NAMES_INDEX_) NAMES_EXTRACT_N };

#define NAMES_STAGE_CHOICES NAMES_CHOICES_(NAMES_STAGE)
#define NAMES_TASK_CHOICES NAMES_CHOICES_(NAMES_TASK)
#define NAMES_STYLE_CHOICES NAMES_CHOICES_(NAMES_STYLE)
#define NAMES_FORM_CHOICES NAMES_CHOICES_(NAMES_FORM)
#define NAMES_REWARD_CHOICES NAMES_CHOICES_(NAMES_REWARD)
#define NAMES_EXTRACT_CHOICES NAMES_CHOICES_(NAMES_EXTRACT)

extern const char *const names_stage[NAMES_STAGE_N];
extern const char *const names_task[NAMES_TASK_N];
extern const char *const names_style[NAMES_STYLE_N];
extern const char *const names_form[NAMES_FORM_N];
extern const char *const names_reward[NAMES_REWARD_N];
extern const char *const names_extract[NAMES_EXTRACT_N];

/* 1 if fn is an accuracy-type reward (NAMES_REWARD_CORRECT), else 0 (also for NULL). */
int names_reward_correct(const char *fn);

/* The index of s in names[0..n), or -1 (also for s NULL). */
int names_find(const char *const *names, int n, const char *s);

/* "a, b or c" (names[0..n) in order) into buf; returns buf, cut short to fit cap. */
const char *names_list(char *buf, size_t cap, const char *const *names, int n);

#endif
