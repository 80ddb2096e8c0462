/*
 * stage — what a stage kind implements for the scheduler: a driver.
 *
 * A driver turns a stage's spec into jobs and its jobs' results into progress and a
 * verdict. The scheduler (scheduler.c) owns the states; a driver only answers:
 *
 *   start    the stage becomes running: enqueue its work. Also called on resume,
 *            on retry and for a stage whose work was cancelled, so it must be
 *            idempotent: work that exists is requeued (store_stage_jobs_requeue),
 *            never enqueued twice (jobs are UNIQUE per (stage, step, kind, shard)).
 *   advance  look at the committed results; record progress (step/total in the
 *            driver's unit) and say whether the stage is still running, succeeded
 *            or failed (with err set to why).
 *
 * Both run inside the daemon's turn transaction (store.h "Transactions"); a -1 from
 * start fails the stage with err's message. `unit` names what step/total count.
 */
#ifndef R1_STAGE_H
#define R1_STAGE_H

#include <jansson.h>

#include "store.h"

struct daemon;

/* Room for a metric's name made of a prefix, a name from the spec (a dataset, reward
 * or filter name: at most 32 bytes, pipelines/) and a suffix, as drivers make them
 * ("reward_<name>_mean", "taken_<dataset>", "dropped_<filter>", "pass1_sampled"). */
#define STAGE_METRIC_NAME 96

struct stage_ctx {
	struct daemon *d;
	const struct store_pipeline *pipeline;
	const struct store_stage *stage;
	json_t *spec;                     /* the stage's normalised spec (borrowed); drivers
	                                     read it through stage_settings.h, never by key */
	json_t *pipeline_spec;            /* the whole normalised spec (borrowed) */
};

struct stage_driver {
	const char *kind;                 /* "probe", "pretrain", ... */
	const char *unit;                 /* "jobs", "steps", "records" */
	int (*start)(struct stage_ctx *c, struct err *err);
	/* *state: STAGE_RUNNING, STAGE_SUCCEEDED or STAGE_FAILED (err set) */
	int (*advance)(struct stage_ctx *c, enum stage_state *state, struct err *err);
};

/* The dataset `name` (a stage's settings name it: stage_settings.h): the pipeline's
 * own or a shared one; *id and *n records. ERR_NOTFOUND if absent or empty. */
int stage_dataset(struct stage_ctx *c, const char *name, int64_t *id, int64_t *n,
	struct err *err);

/* Enqueue n jobs of `kind` for the stage at `step`, shards first_shard + k, with
 * params[k] (consumed, each set to NULL; a NULL entry is an out-of-memory error),
 * and tell the broker. All or nothing. */
int stage_enqueue(struct stage_ctx *c, const char *kind, int64_t step, int64_t first_shard,
	json_t **params, size_t n, struct err *err);

/* A start that finds `kind` jobs of `step` already there (a resume, a retry, a
 * restart) requeues the stage's cancelled and failed jobs instead of enqueuing:
 * 1 done so, 0 there were none (enqueue them), -1 error. */
int stage_requeue(struct stage_ctx *c, int64_t step, const char *kind, struct err *err);

/* The driver of `kind`, or NULL if this build runs no such stage. */
const struct stage_driver *stage_driver_find(const char *kind);

/* The drivers, one file each. */
extern const struct stage_driver stage_probe;
extern const struct stage_driver stage_pretrain, stage_sft;   /* stage_train.c */
extern const struct stage_driver stage_eval;
extern const struct stage_driver stage_grpo;
extern const struct stage_driver stage_rejection_sample, stage_merge;

struct model_config;
struct learner_settings;
/* The weights a model stage starts from (stage_train.c): stage `from`'s final
 * checkpoint; with `from` NULL, the pipeline's model.checkpoint (stored as one blob:
 * its model.safetensors, or its shards merged with each tensor in its own dtype), or
 * model.config with *sha256 = "" for fresh weights. With `config` (may be NULL),
 * *config is the HF config.json text of weights that exist (the caller frees it),
 * NULL for fresh ones. */
int stage_initial_weights(struct stage_ctx *c, const char *from, struct model_config *cfg,
	char sha256[65], char **config, struct err *err);

/*
 * At submit: check the spec's model where it comes from outside the spec. A
 * model.checkpoint directory must pass checkpoint_check (errors name the user's
 * files). A model: {pipeline, stage} must name an existing pipeline (its id, or its
 * name: the newest of that name) whose stage has succeeded with weights; the spec's
 * model.pipeline is then rewritten to that pipeline's id, so the stages start from
 * the weights that were checked, whatever is submitted later.
 */
int stage_model_resolve(struct daemon *d, json_t *spec, struct err *err);

struct learner;
/* The learner of a training stage (stage_train.c): in memory; or rebuilt from the
 * stage's last checkpoint with moments, deleting the jobs after it (they are
 * recomputed; jobs count steps in per_job_step learner steps, and keep_next_samples
 * spares the next job step's rollout and reward jobs); or new from
 * stage_initial_weights, recorded as checkpoint step 0.
 * Its checkpoints keep the config.json the weights came with (its torch_dtype is the
 * dtype r1flow export writes), r1flow's own for fresh weights.
 * The settings' from, lr, warmup, min_lr, beta1, beta2, weight_decay and grad_clip,
 * over `total` learner steps. */
struct learner *stage_learner(struct stage_ctx *c, const struct learner_settings *set,
	int64_t total, struct err *err);

/* The record at position `pos` (0-based, across epochs) of the stage's reading
 * order: a shuffle per epoch keyed by (seed, stage name, epoch); -1 out of memory. */
int64_t stage_record_at(struct stage_ctx *c, struct learner *l, int64_t n, int64_t pos);

#endif
