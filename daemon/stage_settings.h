/*
 * stage_settings — a stage's settings as typed structs, one per stage kind, decoded
 * once from its normalised spec when its driver runs.
 *
 * The spec loader (pipelines/) checks every key and fills every default, so the
 * drivers never look a key up by name: a misspelt name in a driver would read 0
 * without a word. The decoders are the one place the daemon names stage keys; a
 * key a normalised spec must have that is missing, or of the wrong JSON type,
 * fails loudly (ERR_INVALID naming the stage and the key). docs/pipelines.md
 * (`r1flow validate --reference`) says what each key means, its range and default.
 *
 *   probe_settings_decode   probe
 *   train_settings_decode   pretrain, sft
 *   grpo_settings_decode    grpo
 *   reject_settings_decode  rejection_sample
 *   eval_settings_decode    eval
 *   merge_settings_decode   merge
 *
 * Ownership: strings and JSON values point into `spec`, which must outlive the
 * struct (a driver's call: the scheduler parses the spec per turn); a merge's list
 * of inputs is the struct's own (merge_settings_release, also after a failure).
 */
#ifndef R1_STAGE_SETTINGS_H
#define R1_STAGE_SETTINGS_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* What every stage that trains weights (pretrain, sft, grpo) has. */
struct learner_settings {
	const char *from;           /* stage whose final weights it starts from; NULL: the
	                               pipeline's model */
	double lr;                  /* peak learning rate */
	int64_t warmup;             /* learner steps of linear warm-up */
	double min_lr;              /* the cosine's floor, a fraction of lr */
	double weight_decay;        /* AdamW's decoupled decay */
	double beta1, beta2;        /* AdamW's moment decays */
	double grad_clip;           /* max global gradient norm */
	int64_t save_every;         /* a checkpoint with moments every this many steps */
	int64_t keep_checkpoints;   /* latest checkpoints kept (retain.h); 0: all (a spec
	                               submitted before the key existed) */
	/* not spec keys: what a restart (stage_learner) keeps of the stage's jobs */
	int64_t per_job_step;       /* learner steps per job step (grpo: mu); 0 means 1 */
	int keep_next_samples;      /* the rollout and reward jobs of the job step after
	                               the resumed one stay (grpo with max_staleness 1:
	                               they sampled from weights the learner no longer
	                               holds) */
};

struct probe_settings {
	int64_t jobs;               /* probe jobs to run */
	int64_t fail;               /* the first this many fail for good */
	int64_t sleep_ms;           /* each job sleeps this long */
	const char *payload;        /* echoed by each job */
};

struct train_settings {                   /* pretrain, sft */
	struct learner_settings learner;
	const char *dataset;        /* the dataset trained on */
	int64_t steps;              /* learner steps; 0 when epochs says how many */
	int64_t epochs;             /* passes over the dataset; 0 when steps says */
	int64_t batch;              /* sequences per step */
	int64_t shard;              /* sequences per grad job */
	const char *template;       /* sft: the prompt template; NULL for pretrain */
	const char *chat_format;    /* sft: how `messages` records are rendered (chat.h):
	                               "chatml", "llama3", "deepseek"; NULL: not set */
	const json_t *chat_template; /* sft: role templates instead (an object); NULL */
};

enum loss_agg {
	LOSS_AGG_SEQ_MEAN,          /* 1/(N·n_i): each sequence weighs the same */
	LOSS_AGG_TOKEN_MEAN,        /* 1/Σn: each token weighs the same */
	LOSS_AGG_CONSTANT,          /* 1/(N·max_new_tokens): Dr. GRPO's constant */
};

struct grpo_settings {
	struct learner_settings learner;
	const char *prompts;        /* the dataset of prompts */
	const json_t *rewards;      /* array of the pipeline's reward names */
	const char *correct;        /* the reward that says right (verdict.h); NULL: exact
	                               match or countdown */
	int64_t steps;              /* RL steps */
	int64_t shard;              /* sequences per grad job */
	int64_t group;              /* samples per prompt */
	int64_t prompts_per_step;   /* prompts per RL step */
	double beta;                /* KL weight; 0: no reference weights */
	double clip, clip_high;     /* the ratio's clip range: 1 - clip .. 1 + clip_high */
	enum loss_agg loss_agg;     /* how sequences are weighed */
	int scale_rewards;          /* advantages divided by the group's std */
	int64_t mu;                 /* learner steps (grad rounds) per RL step */
	int64_t ref_refresh;        /* the reference becomes the current weights every
	                               this many RL steps; 0: never */
	int dynamic_sampling;       /* groups whose rewards are all equal leave the batch */
	int mask_truncated;         /* samples cut at max_new_tokens weigh 0 */
	int64_t max_staleness;      /* 0: step s samples from the weights after step s − 1;
	                               1: from those after step s − 2 (overlapped steps) */
	double temperature, top_p;  /* sampling */
	int64_t top_k;              /* 0: off */
	int64_t max_new_tokens;     /* completion tokens per sample */
};

struct reject_settings {
	const char *from;           /* the stage whose weights sample */
	const char *prompts;        /* the dataset of prompts */
	const char *output;         /* the dataset written */
	const json_t *rewards;      /* array of the pipeline's reward names */
	const char *correct;        /* as grpo's */
	int64_t samples;            /* answers per prompt */
	double temperature, top_p;
	int64_t top_k;
	int64_t max_new_tokens;
	const json_t *filters;      /* object: the filters' settings (workers run them) */
};

struct eval_settings {
	const char *from;           /* NULL: the pipeline's model */
	const char *dataset;        /* the dataset evaluated; NULL: datasets says */
	const json_t *datasets;     /* or the array of dataset names evaluated; NULL */
	const json_t *rewards;      /* array of reward names */
	const char *correct;        /* as grpo's */
	const json_t *pass_at;      /* array of k for pass@k, 1 <= k <= samples; NULL: none */
	int64_t samples;            /* sampled answers per prompt besides the greedy one */
	double temperature;         /* of the sampled answers */
	int64_t max_new_tokens;
	int64_t limit;              /* the first this many records; 0: all */
};

struct merge_input {
	const char *dataset;        /* a dataset of the pipeline */
	int64_t cap;                /* > 0: take this many records (or all, if fewer) */
	double ratio;               /* cap 0: take this share of them, rounded */
};

struct merge_settings {
	struct merge_input *inputs; /* owned: merge_settings_release */
	size_t ninputs;
	const char *output;         /* the dataset written */
	int64_t seed;               /* of the shuffles */
};

int probe_settings_decode(const json_t *spec, struct probe_settings *s, struct err *err);
int train_settings_decode(const json_t *spec, struct train_settings *s, struct err *err);
int grpo_settings_decode(const json_t *spec, struct grpo_settings *s, struct err *err);
int reject_settings_decode(const json_t *spec, struct reject_settings *s, struct err *err);
int eval_settings_decode(const json_t *spec, struct eval_settings *s, struct err *err);
int merge_settings_decode(const json_t *spec, struct merge_settings *s, struct err *err);
void merge_settings_release(struct merge_settings *s);

#endif
