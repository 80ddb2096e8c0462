/* spec_keys — the schema tables; see spec_keys.h and docs/pipelines.md. */
#include "spec_keys.h"

#include <math.h>
#include <stddef.h>

#include "names.h"

#define INF HUGE_VAL

#define INT(n, k, f, lo, hi, d)  { n, KT_INT, k, f, lo, hi, d, NULL, NULL }
#define NUM(n, k, f, lo, hi, d)  { n, KT_NUM, k, f, lo, hi, d, NULL, NULL }
#define BOOL(n, k, d)            { n, KT_BOOL, k, 0, 0, 0, d, NULL, NULL }
#define STR(n, k, f, d)          { n, KT_STR, k, f, 0, 0, 0, d, NULL }
#define ENUM(n, k, f, choices)   { n, KT_ENUM, k, f, 0, 0, 0, choices, NULL }
#define TYPED(n, t, k, f)        { n, t, k, f, 0, 0, 0, NULL, NULL }
#define OBJ(n, k, f, sub)        { n, KT_OBJ, k, f, 0, 0, 0, NULL, sub }
#define CUSTOM(n, k, f)          { n, KT_CUSTOM, k, f, 0, 0, 0, NULL, NULL }
#define END                      { NULL, KT_CUSTOM, 0, 0, 0, 0, 0, NULL, NULL }

static const struct key config_keys[] = {
	INT("dim", 0, 0, 1, 65536, 128),
	INT("layers", 0, 0, 1, 65536, 4),
	INT("heads", 0, 0, 1, 65536, 4),
	INT("kv_heads", 0, K_DYN, 1, 65536, 0),      /* = heads */
	INT("ffn", 0, 0, 1, 65536, 336),
	ENUM("vocab", 0, 0, "bytes"),
	INT("max_seq", 0, 0, 1, 8192, 64),
	BOOL("tied", 0, 0),
	NUM("rope_theta", 0, K_LO_OPEN, 0, INF, 10000.0),
	NUM("norm_eps", 0, K_LO_OPEN, 0, INF, 1e-5),
	NUM("init_std", 0, K_LO_OPEN, 0, INF, 0.02),
	ENUM("architecture", 0, 0, "llama|mistral|qwen2|qwen3"),
	INT("head_dim", 0, K_DYN, 2, 65536, 0),      /* = dim / heads */
	END,
};

const struct key spec_model_keys[] = {
	OBJ("config", MK_CONFIG, K_REQ, config_keys),
	TYPED("checkpoint", KT_PATH, MK_CHECKPOINT, K_REQ),
	STR("pipeline", MK_PIPELINE, K_REQ | K_NONEMPTY, NULL),
	TYPED("stage", KT_NAME, MK_PIPELINE, K_REQ),
	TYPED("tokenizer", KT_PATH, MK_CONFIG | MK_CHECKPOINT, K_OPT),
	END,
};

/* Present only with style: corpus; given partly, the missing parts are 0. */
static const struct key mix_keys[] = {
	NUM(NAME_FORM_PLAIN, 0, 0, 0, 1, 0),
	NUM(NAME_FORM_TAGGED, 0, 0, 0, 1, 0),
	NUM(NAME_FORM_WORKED, 0, 0, 0, 1, 0),
	END,
};

/* A file's field mapping (tasks/fields.h): the file's key per field. */
static const struct key field_map_keys[] = {
	STR("prompt", 0, K_OPT | K_NONEMPTY, NULL),
	STR("answer", 0, K_OPT | K_NONEMPTY, NULL),
	STR("response", 0, K_OPT | K_NONEMPTY, NULL),
	STR("text", 0, K_OPT | K_NONEMPTY, NULL),
	STR("messages", 0, K_OPT | K_NONEMPTY, NULL),
	STR("meta", 0, K_OPT | K_NONEMPTY, NULL),
	STR("id", 0, K_OPT | K_NONEMPTY, NULL),
	END,
};

/* How the answer is cut out of a field: one of after, regex (checked by fields.h). */
static const struct key answer_rule_keys[] = {
	STR("field", 0, K_OPT | K_NONEMPTY, NULL),
	STR("after", 0, K_OPT | K_NONEMPTY, NULL),
	STR("regex", 0, K_OPT | K_NONEMPTY, NULL),
	END,
};

const struct key spec_dataset_keys[] = {
	ENUM("generate", DK_GENERATE, K_REQ, NAMES_TASK_CHOICES),
	TYPED("file", KT_PATH, DK_FILE, K_REQ),
	TYPED("shared", KT_NAME, DK_SHARED, K_REQ),
	INT("count", DK_GENERATE, K_REQ, 1, 10000000, 0),
	INT("seed", DK_GENERATE, 0, 0, INF, 0),
	ENUM("style", DK_GENERATE, 0, NAMES_STYLE_CHOICES),
	OBJ("mix", DK_GENERATE, K_OPT, mix_keys),
	INT("digits", DK_ARITHMETIC, 0, 1, 9, 3),
	STR("operators", DK_ARITHMETIC, K_NONEMPTY, "+"),
	INT("numbers", DK_COUNTDOWN, 0, 3, 6, 4),
	INT("max_number", DK_COUNTDOWN, 0, 1, 1000, 100),
	ENUM("format", DK_FILE, 0, "auto|prompt_answer|prompt_response|messages"),
	OBJ("fields", DK_FILE, K_OPT, field_map_keys),
	OBJ("answer", DK_FILE, K_OPT, answer_rule_keys),
	{ "csv", KT_BOOL, DK_FILE, K_OPT, 0, 0, 0, NULL, NULL },
	END,
};

const struct key spec_reward_keys[] = {
	ENUM("fn", 0, K_REQ, NAMES_REWARD_CHOICES),
	NUM("weight", 0, 0, -INF, INF, 1.0),
	STR("alphabet", RK_LANGUAGE, K_NONEMPTY, "0123456789+-*=,() "),
	INT("max_tokens", RK_LENGTH, K_REQ, 1, INF, 0),
	INT("buffer", RK_LENGTH, 0, 0, INF, 0),
	NUM("penalty", RK_LENGTH, 0, 0, INF, 1.0),
	NUM("format_credit", RK_ACCURACY | RK_COUNTDOWN | RK_MATH, 0, 0, 1, 0.1),
	CUSTOM("extract", RK_MATH, 0),                 /* default: every step, in order */
	CUSTOM("program", RK_PROGRAM, K_REQ),                   /* [command, args...] */
	CUSTOM("files", RK_PROGRAM, 0),                         /* paths: [] */
	INT("timeout_ms", RK_PROGRAM | RK_CODE, 0, 1, 600000, 2000),
	INT("start_timeout_ms", RK_PROGRAM, 0, 0, 600000, 10000),
	INT("memory_mb", RK_PROGRAM | RK_CODE, 0, 16, 1048576, 1024),
	ENUM("mode", RK_CODE, 0, "fraction|all"),
	END,
};

static const struct key filter_keys[] = {
	BOOL("correct", 0, 1),
	BOOL("mixed_language", 0, 1),
	INT("max_paragraph", 0, 0, 0, INF, 0),       /* 0: off */
	BOOL("code_blocks", 0, 1),
	BOOL("duplicates", 0, 1),
	INT("max_per_prompt", 0, 0, 0, INF, 1),      /* 0: no cap */
	END,
};

/* An sft stage's chat_template: the role templates of tasks/chat.h. */
static const struct key chat_template_keys[] = {
	TYPED("system", KT_ROLE, 0, K_REQ),
	TYPED("user", KT_ROLE, 0, K_REQ),
	TYPED("assistant", KT_ROLE, 0, K_REQ),
	STR("prefix", 0, 0, ""),
	END,
};

/* An item of a merge stage's inputs; a normalised one has ratio or cap. */
const struct key spec_input_keys[] = {
	CUSTOM("dataset", 0, K_REQ),
	NUM("ratio", 0, K_OPT | K_LO_OPEN, 0, 1, 0),
	INT("cap", 0, K_OPT, 1, INF, 0),
	END,
};

const struct key spec_stage_keys[] = {
	CUSTOM("name", 0, K_REQ),
	ENUM("kind", 0, K_REQ, NAMES_STAGE_CHOICES),
	CUSTOM("from", SK_TRAIN | SK_EVAL, 0),                     /* null: the pipeline's model */
	CUSTOM("from", SK_REJECT, K_REQ),
	CUSTOM("needs", 0, 0),
	/* probe: the diagnostic stage */
	INT("jobs", SK_PROBE, K_REQ, 1, 10000000, 0),
	STR("payload", SK_PROBE, 0, ""),
	INT("sleep_ms", SK_PROBE, 0, 0, 60000, 0),
	INT("fail", SK_PROBE, 0, 0, INF, 0),
	/* data in and out */
	CUSTOM("dataset", SK_PRETRAIN | SK_SFT, K_REQ),
	CUSTOM("dataset", SK_EVAL, K_OPT),                         /* dataset or datasets */
	CUSTOM("datasets", SK_EVAL, K_OPT),
	CUSTOM("prompts", SK_GRPO | SK_REJECT, K_REQ),
	CUSTOM("inputs", SK_MERGE, K_REQ),
	CUSTOM("output", SK_REJECT | SK_MERGE, K_REQ),
	CUSTOM("rewards", SK_GRPO | SK_REJECT, K_REQ),
	CUSTOM("rewards", SK_EVAL, 0),                             /* all rewards */
	CUSTOM("correct", SK_GRPO | SK_REJECT | SK_EVAL, K_OPT),   /* an accuracy-type reward */
	TYPED("template", KT_TEMPLATE, SK_SFT, K_DYN),             /* the pipeline's */
	ENUM("chat_format", SK_SFT, K_OPT, "chatml|llama3|deepseek"), /* chat records */
	OBJ("chat_template", SK_SFT, K_OPT, chat_template_keys),   /* or role templates */
	/* training */
	INT("steps", SK_GRPO, K_REQ, 1, INF, 0),
	INT("steps", SK_PRETRAIN | SK_SFT, K_OPT, 1, INF, 0),      /* steps or epochs */
	INT("epochs", SK_PRETRAIN | SK_SFT, K_OPT, 1, INF, 0),
	INT("batch", SK_PRETRAIN | SK_SFT, 0, 1, INF, 32),
	INT("shard", SK_PRETRAIN | SK_SFT, 0, 1, INF, 8),
	INT("shard", SK_GRPO, 0, 1, INF, 16),
	NUM("lr", SK_PRETRAIN, K_LO_OPEN, 0, INF, 3e-3),
	NUM("lr", SK_SFT, K_LO_OPEN, 0, INF, 1e-3),
	NUM("lr", SK_GRPO, K_LO_OPEN, 0, INF, 1e-4),
	INT("warmup", SK_TRAIN, 0, 0, INF, 0),
	NUM("min_lr", SK_TRAIN, 0, 0, 1, 0.1),
	NUM("weight_decay", SK_TRAIN, 0, 0, INF, 0.0),
	NUM("beta1", SK_TRAIN, K_HI_OPEN, 0, 1, 0.9),
	NUM("beta2", SK_PRETRAIN | SK_SFT, K_HI_OPEN, 0, 1, 0.95),
	NUM("beta2", SK_GRPO, K_HI_OPEN, 0, 1, 0.99),
	NUM("grad_clip", SK_TRAIN, K_LO_OPEN, 0, INF, 1.0),
	INT("save_every", SK_TRAIN, 0, 1, INF, 100),
	INT("keep_checkpoints", SK_TRAIN, 0, 1, INF, 2),           /* daemon/retain.h */
	/* grpo */
	INT("group", SK_GRPO, 0, 2, INF, 8),
	INT("prompts_per_step", SK_GRPO, 0, 1, INF, 16),
	NUM("beta", SK_GRPO, 0, 0, INF, 0.04),
	NUM("clip", SK_GRPO, K_LO_OPEN | K_HI_OPEN, 0, 1, 0.2),
	NUM("clip_high", SK_GRPO, K_DYN | K_LO_OPEN | K_HI_OPEN, 0, 10, 0), /* = clip */
	ENUM("loss_agg", SK_GRPO, 0, "seq_mean|token_mean|constant"),
	BOOL("scale_rewards", SK_GRPO, 1),
	INT("mu", SK_GRPO, 0, 1, INF, 1),
	INT("ref_refresh", SK_GRPO, 0, 0, INF, 0),                 /* 0: never */
	BOOL("dynamic_sampling", SK_GRPO, 0),
	BOOL("mask_truncated", SK_GRPO, 0),
	INT("max_staleness", SK_GRPO, 0, 0, 1, 0),                 /* 1: overlapped steps */
	/* sampling */
	INT("samples", SK_REJECT, 0, 1, INF, 4),
	INT("samples", SK_EVAL, 0, 0, INF, 0),                     /* besides the greedy one */
	NUM("temperature", SK_GRPO | SK_REJECT | SK_EVAL, K_LO_OPEN, 0, INF, 1.0),
	NUM("top_p", SK_GRPO | SK_REJECT, K_LO_OPEN, 0, 1, 1.0),
	INT("top_k", SK_GRPO | SK_REJECT, 0, 0, INF, 0),
	INT("max_new_tokens", SK_GRPO | SK_REJECT | SK_EVAL, 0, 1, INF, 64),
	OBJ("filters", SK_REJECT, 0, filter_keys),
	INT("limit", SK_EVAL, 0, 0, INF, 0),                       /* 0: all */
	CUSTOM("pass_at", SK_EVAL, K_OPT),                         /* [samples] */
	INT("seed", SK_MERGE, K_DYN, 0, INF, 0),                   /* the pipeline's */
	CUSTOM("deps", 0, K_JSON),
	END,
};

const struct key spec_top_keys[] = {
	CUSTOM("version", 0, K_REQ),
	TYPED("name", KT_PNAME, 0, K_REQ),
	INT("seed", 0, 0, 0, INF, 0),
	CUSTOM("model", 0, K_REQ),
	CUSTOM("datasets", 0, 0),
	CUSTOM("rewards", 0, 0),
	{ "template", KT_TEMPLATE, 0, 0, 0, 0, 0, "{prompt}\n<think>", NULL },
	CUSTOM("stages", 0, K_REQ),
	END,
};
