/*
 * learner — the parameter server of a training stage (docs/architecture.md, "The life
 * of a job"): the stage's weights and AdamW moments in memory, stepped with the
 * gradients its shards sent.
 *
 *   learner_open    weights from a blob (a model.safetensors) or fresh (seeded)
 *   learner_resume  weights and moments of a saved checkpoint
 *   learner_step    sum the shard gradients IN SHARD ORDER (never arrival order),
 *                   clip the global norm, AdamW at the scheduled LR; the new
 *                   weights become a blob (learner->sha256)
 *   learner_save    record the current weights (and with `moments` the AdamW state)
 *                   as the stage's checkpoint at learner->step
 *
 * Every output is a function of the inputs alone: the same gradients in the same
 * order give the same bytes, whatever worker computed them.
 *
 * The learner runs inside the event loop's turn, not on a thread of its own: a step
 * of the models this build trains (≤ a few million parameters) takes milliseconds.
 * Only its start-up (learner_open) leaves the loop, as it also runs for models far
 * larger than any step this build is fast at. Learners live in the daemon's memory, one per
 * running training stage; a restart rebuilds them from the last checkpoint with
 * moments (learner_resume) and the stage recomputes the steps after it.
 */
#ifndef R1_LEARNER_H
#define R1_LEARNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "lora.h"
#include "model.h"
#include "optim.h"
#include "sha256.h"

struct daemon;

struct learner {
	int64_t stage;                 /* stages.id */
	struct model m;                /* params, grads, moments; activations for 1x1 */
	struct adamw_params adamw;     /* lr set per step from `schedule` */
	struct lr_schedule schedule;
	double grad_clip;              /* max global norm; <= 0: no clipping */
	long step;                     /* steps applied */
	char sha256[SHA256_HEX_SIZE];  /* blob of the current weights */
	char *config;                  /* HF config.json text of the model */
	double last_norm, last_lr;     /* of the last step, before clipping */
	int64_t step_started;          /* wall ms the current step's jobs went out */
	int64_t *order;                /* the driver's record order for `order_epoch` */
	int64_t order_epoch, order_n;
	int64_t *units;                /* pretrain: record i's first window, nrec+1 entries;
	                                  NULL: one unit per record (stage_train.c) */
	int units_ready;               /* `units` was computed for this learner */
	struct learner *next;          /* the daemon's list (or its list of preparations) */
	/* learner_open's preparation on a thread of its own */
	struct daemon *d;
	pthread_t thread;
	int joined;                    /* the thread was joined already */
	atomic_int prep_done;          /* the thread finished: prep_err says how */
	struct err prep_err;
	struct model_config prep_cfg;
	uint64_t prep_seed;
	char prep_sha[SHA256_HEX_SIZE]; /* weights to read, "" for fresh ones */
	size_t prep_size;              /* bytes of the weights' blob */
	int live;                      /* m was initialised */
	struct lora *lora;             /* adapters trained instead of m's weights, or NULL */
	char base_sha[SHA256_HEX_SIZE]; /* with lora: blob of the frozen weights */
};

/* The learner of `stage`, or NULL. */
struct learner *learner_find(struct daemon *d, int64_t stage);

/*
 * A learner for `stage` (replacing any) with weights from blob `sha256` (NULL:
 * fresh weights from `seed`). Making one takes seconds for a large model (memory,
 * drawing or reading ~100M weights, writing and hashing their blob), too long for
 * the event loop (heartbeats, replies), so it is done on a thread: the first call
 * starts it and fails with errnum EINPROGRESS, as do later calls until it is done;
 * the call after that returns the learner (or the preparation's error). Callers
 * call again later (the scheduler runs the stage's driver again). learner_open_wait
 * waits instead (for learners opened only to write fresh weights once).
 */
struct learner *learner_open(struct daemon *d, int64_t stage, const struct model_config *cfg,
	const char *sha256, uint64_t seed, struct err *err);
struct learner *learner_open_wait(struct daemon *d, int64_t stage,
	const struct model_config *cfg, const char *sha256, uint64_t seed, struct err *err);

/* 1 while a learner_open of `stage` runs on its thread. */
int learner_preparing(struct daemon *d, int64_t stage);

/* Load the weights and moments of checkpoint (sha256, opt) at `step`. */
int learner_resume(struct daemon *d, struct learner *l, const char *sha256, const char *opt,
	long step, struct err *err);

/* One optimizer step from the gradient files paths[0..n) (shard order): each holds
 * the model's parameter count of fp32 values. */
int learner_step(struct daemon *d, struct learner *l, const char *const *paths, size_t n,
	struct err *err);

/*
 * Train LoRA adapters of `c` (core/lora.h) instead of the weights: the weights stay
 * those the learner was opened with (base_sha, frozen), A is drawn from `seed`, B is
 * zero, and sha256 becomes the blob of the adapters (lora_write_mem), the per-step
 * blob workers fetch. A learner with adapters already keeps them. Steps then read
 * gradient files of the adapters' parameter count and step the adapters alone; a
 * checkpoint is the merged weights W + s·B·A (what later stages, eval and export
 * read) with the adapters' state (lora_state_write_mem) as its optimizer blob.
 */
int learner_lora(struct daemon *d, struct learner *l, const struct lora_config *c,
	uint64_t seed, struct err *err);

/* The model a job of l's runs: "weights" (and with adapters "lora": {rank, alpha,
 * targets, adapter}) set in params. */
int learner_job_weights(const struct learner *l, json_t *params);

/* Record checkpoint (stage, step); with `moments` the AdamW state too. */
int learner_save(struct daemon *d, struct learner *l, int moments, struct err *err);

void learner_close(struct daemon *d, int64_t stage);
void learner_close_all(struct daemon *d);

#endif
