/*
 * learner — the parameter server of a training stage (DESIGN §3): the stage's
 * weights and AdamW moments in memory, stepped with the gradients its shards sent.
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
 * The learner runs inside the event loop's turn, not on a thread of its own as
 * DESIGN §1 draws it: a step of the models this build trains (≤ a few million
 * parameters) takes milliseconds. Learners live in the daemon's memory, one per
 * running training stage; a restart rebuilds them from the last checkpoint with
 * moments (learner_resume) and the stage recomputes the steps after it.
 */
#ifndef R1_LEARNER_H
#define R1_LEARNER_H

#include <stdint.h>

#include "err.h"
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
	struct learner *next;          /* the daemon's list */
};

/* The learner of `stage`, or NULL. */
struct learner *learner_find(struct daemon *d, int64_t stage);

/* A learner for `stage` (replacing any) with weights from blob `sha256` (NULL:
 * fresh weights from `seed`). */
struct learner *learner_open(struct daemon *d, int64_t stage, const struct model_config *cfg,
	const char *sha256, uint64_t seed, struct err *err);

/* Load the weights and moments of checkpoint (sha256, opt) at `step`. */
int learner_resume(struct daemon *d, struct learner *l, const char *sha256, const char *opt,
	long step, struct err *err);

/* One optimizer step from the gradient files paths[0..n) (shard order): each holds
 * the model's parameter count of fp32 values. */
int learner_step(struct daemon *d, struct learner *l, const char *const *paths, size_t n,
	struct err *err);

/* Record checkpoint (stage, step); with `moments` the AdamW state too. */
int learner_save(struct daemon *d, struct learner *l, int moments, struct err *err);

void learner_close(struct daemon *d, int64_t stage);
void learner_close_all(struct daemon *d);

/* The HF config.json text and model_config of a spec's model.config object. */
int learner_config_from_spec(const void *spec_config, struct model_config *cfg,
	struct err *err);

#endif
