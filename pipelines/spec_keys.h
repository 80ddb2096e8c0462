/*
 * spec_keys — the schema of a pipeline spec as tables (private to pipelines/).
 *
 * One table per level (top, model, model.config, dataset, reward, stage, filters,
 * mix, merge input); a row is one key with its type, range, default and the kinds
 * of its level it belongs to. The rows drive unknown-key detection, suggestions,
 * type and range checks, defaults, and the key order of the normalised spec. A key
 * whose range or default differs by kind (a stage's lr, shard, beta2, samples) has
 * one row per kind group; for any one kind at most one row of a name applies.
 * What a row cannot say (cross-key rules, references between stages) is code in
 * spec_check.c.
 */
#ifndef R1_SPEC_KEYS_H
#define R1_SPEC_KEYS_H

#include "names.h"

enum key_type {
	KT_INT,      /* integer in [lo, hi] */
	KT_NUM,      /* finite number in lo..hi (ends open per K_LO_OPEN / K_HI_OPEN) */
	KT_BOOL,     /* true / false */
	KT_STR,      /* any string (K_NONEMPTY: not "") */
	KT_ENUM,     /* one of the '|'-separated choices in str; the default is the first */
	KT_NAME,     /* [a-z0-9_]{1,32} */
	KT_PNAME,    /* [A-Za-z0-9_.-]{1,64}: a pipeline name */
	KT_TEMPLATE, /* a string containing "{prompt}" */
	KT_ROLE,     /* a string containing "{content}" exactly once (a chat role template) */
	KT_PATH,     /* a path; made absolute */
	KT_OBJ,      /* a mapping checked against sub */
	KT_CUSTOM,   /* checked by code; the row gives its place, kinds and flags */
};

#define K_REQ      0x01u /* absent is an error */
#define K_OPT      0x02u /* may be absent, also from a normalised spec; no default */
#define K_DYN      0x04u /* the default depends on other values: filled by code */
#define K_LO_OPEN  0x08u /* KT_NUM: lo itself excluded */
#define K_HI_OPEN  0x10u /* KT_NUM: hi itself excluded */
#define K_NONEMPTY 0x20u /* KT_STR: "" refused */
#define K_JSON     0x40u /* exists only in a normalised spec (a stage's deps) */

struct key {
	const char *name;
	enum key_type type;
	unsigned kinds;        /* kinds of the level the key belongs to; 0: all */
	unsigned flags;        /* K_* */
	double lo, hi;         /* KT_INT, KT_NUM range */
	double def;            /* default of KT_INT, KT_NUM, KT_BOOL */
	const char *str;       /* default of KT_STR, KT_TEMPLATE; choices of KT_ENUM */
	const struct key *sub; /* KT_OBJ: the nested table */
};

/* Stage kinds: bit i is names_stage[i] (names.h), the choices of the "kind" row. */
enum {
	SK_PROBE = 1u << NAMEI_STAGE_PROBE, SK_PRETRAIN = 1u << NAMEI_STAGE_PRETRAIN,
	SK_SFT = 1u << NAMEI_STAGE_SFT, SK_GRPO = 1u << NAMEI_STAGE_GRPO,
	SK_REJECT = 1u << NAMEI_STAGE_REJECT, SK_MERGE = 1u << NAMEI_STAGE_MERGE,
	SK_EVAL = 1u << NAMEI_STAGE_EVAL,
};
#define SK_TRAIN (SK_PRETRAIN | SK_SFT | SK_GRPO)

enum { MK_CONFIG = 1u << 0, MK_CHECKPOINT = 1u << 1, MK_PIPELINE = 1u << 2 };

/* Generated datasets by generator (bit i is names_task[i], "generate"'s choices); then
 * files, then shared datasets (imported into the daemon, copied at submit). */
enum {
	DK_ARITHMETIC = 1u << NAMEI_TASK_ARITHMETIC, DK_COUNTDOWN = 1u << NAMEI_TASK_COUNTDOWN,
	DK_FILE = 1u << NAMES_TASK_N, DK_SHARED = 1u << (NAMES_TASK_N + 1),
};
#define DK_GENERATE (DK_ARITHMETIC | DK_COUNTDOWN)

/* Reward functions: bit i is names_reward[i], "fn"'s choices. */
enum {
	RK_ACCURACY = 1u << NAMEI_REWARD_ACCURACY, RK_COUNTDOWN = 1u << NAMEI_REWARD_COUNTDOWN,
	RK_FORMAT = 1u << NAMEI_REWARD_FORMAT, RK_LANGUAGE = 1u << NAMEI_REWARD_LANGUAGE,
	RK_LENGTH = 1u << NAMEI_REWARD_LENGTH, RK_MATH = 1u << NAMEI_REWARD_MATH,
	RK_PROGRAM = 1u << NAMEI_REWARD_PROGRAM, RK_CODE = 1u << NAMEI_REWARD_CODE,
};

/* Each table ends with a row whose name is NULL. */
extern const struct key spec_top_keys[];
extern const struct key spec_model_keys[];
extern const struct key spec_dataset_keys[];
extern const struct key spec_reward_keys[];
extern const struct key spec_stage_keys[];
extern const struct key spec_input_keys[];

#endif
