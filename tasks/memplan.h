/*
 * memplan — the memory a pipeline spec needs, per process, from its model's config
 * and its stages alone (nothing is allocated: a spec needing terabytes is estimated
 * in microseconds). `r1flow validate` prints it and refuses a spec that cannot fit
 * the machine; docs/pipelines.md states the same figures.
 *
 * The daemon holds one learner per training stage (pretrain, sft, grpo) while the
 * stage runs: a model of the config with fp32 weights, gradient accumulation and
 * AdamW's two moments — 16 bytes a parameter — plus one batch row of activations.
 * On top of that, while it writes a checkpoint it reads the optimizer file back
 * whole to hash it (8 bytes a parameter, one learner at a time: the daemon's loop
 * runs one step at once; a step's gradient shards are read one file at a time, 4
 * bytes a parameter, which the 8 covers). Training stages that can run at the same time (none
 * depends on another) hold their learners at once: the estimate counts the largest
 * such set of the stage graph.
 *
 * A worker runs one job at a time; its model (jobmodel.h) is sized to the job:
 *   grad      weights + gradients (8 bytes a parameter), the LM head's chunk
 *             buffers (head.h: a few hundred rows of vocab logits, a fixed size),
 *             activations of a micro-batch: as many rows of T = max_seq - 1 tokens
 *             as MEMPLAN_GRAD_ACT_BYTES holds beside the head's chunk (at least one,
 *             at most `shard`); with the stage's checkpoint_activations as many
 *             rows, each holding only x per layer and one layer's working set; and
 *             for GRPO with beta > 0 the reference weights (4 bytes a parameter)
 *   rollout   weights (an inference-only model: no gradients, no training
 *             activations), and per sequence of a gen_run the generator's KV cache
 *             and buffers over max_seq positions and its prefill's one-layer working
 *             set (prompts up to max_seq - max_new_tokens tokens, as the fit check
 *             guarantees): as many sequences as MEMPLAN_ROLLOUT_BYTES holds, at
 *             most the job's (GRPO 64 = prompts x group, eval 50 prompts x samples,
 *             rejection_sample 32 prompts x samples)
 * The worker's figure is the largest job of the spec.
 *
 * The per-row formulas and the byte budgets are the ones the workers size their jobs
 * with (job_rollout.c's rollout_rows and job_grad.c's grad_rows call them); the job
 * sizes below are the ones the daemon cuts its rollout jobs to (stage_grpo.c,
 * stage_eval.c, stage_reject.c use them), so the estimate is of the jobs that run.
 */
#ifndef R1_MEMPLAN_H
#define R1_MEMPLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

#define MEMPLAN_GRAD_ACT_BYTES ((double)(1u << 30)) /* a grad job's activations */
#define MEMPLAN_ROLLOUT_BYTES ((double)(1u << 30))  /* a gen_run's generator (+ its prefill) */
#define MEMPLAN_GRPO_SEQS 64      /* sequences per GRPO rollout job (prompts x group) */
#define MEMPLAN_EVAL_PROMPTS 50   /* prompts per eval rollout job */
#define MEMPLAN_REJECT_PROMPTS 32 /* prompts per rejection_sample rollout job */

/* Prompts per GRPO rollout job of a stage with `group` samples a prompt:
 * MEMPLAN_GRPO_SEQS / group, at least 1. Part of the daemon's job keys: changing it
 * renumbers running stages' rollout jobs. */
static inline long long memplan_grpo_prompts(long long group)
{
	long long k = MEMPLAN_GRPO_SEQS / (group > 0 ? group : 1);
	return k > 0 ? k : 1;
}

/* Bytes of training activations (forward + backward) per row of T tokens, with or
 * without activation checkpointing; the LM head's logits are not per row (below). */
double memplan_train_row_bytes(const struct model_config *c, int T, bool checkpoint);

/* memplan_train_row_bytes without checkpointing (a rollout's prefill). */
double memplan_row_bytes(const struct model_config *c, int T);

/* Bytes of the LM head's chunk buffers (head.h), the same for every batch. */
double memplan_head_bytes(const struct model_config *c);

/* Bytes of the generator per sequence over max_len positions (KV cache, one
 * position's working set, the sampler's vocabulary buffers). */
double memplan_gen_bytes(const struct model_config *c, int max_len);

/* Bytes of the generator's prefill per sequence of P prompt tokens (one layer's
 * working set and the attention probabilities). */
double memplan_prefill_bytes(const struct model_config *c, int P);

/* Rows of per_row bytes that fit budget: at least 1, at most n. */
double memplan_rows(double budget, double per_row, double n);

struct memplan {
	double params;             /* P, parameters of the config */
	/* daemon */
	int learners;              /* learners that may be alive at once; 0: none */
	double learner;            /* bytes of one: weights, gradients, moments, one row */
	double ckpt_buffer;        /* the optimizer file read back at a checkpoint */
	double daemon;             /* learners x learner + ckpt_buffer */
	/* worker: its largest job */
	char job_kind[16];         /* "grad", "rollout"; "" no model job */
	char job_stage[33];
	double job_model;          /* weights (+ gradients for grad) */
	double job_ref;            /* GRPO's reference weights */
	double job_head;           /* the LM head's chunk buffers (memplan_head_bytes) */
	double job_rows;           /* rows (sequences) of the micro-batch / gen_run */
	double job_row_bytes;      /* activations (+ generator) per row */
	double worker;             /* job_model + job_ref + job_head + job_rows x job_row_bytes */
};

/*
 * The model config of a normalised spec's model.config object (its architecture,
 * head_dim and the rest; the byte vocabulary), checked by config_validate. The
 * daemon makes a `config` model's fresh weights from it, validate estimates with it.
 */
int memplan_model_config(const json_t *config, struct model_config *cfg, struct err *err);

/*
 * The model config of the normalised spec: model.config (vocab: `vocab` when it is
 * > 0, else the config's byte vocabulary — pass the tokenizer's size for a model
 * made for model.tokenizer) or model.checkpoint's config.json. 1 known, 0 not known
 * before the pipeline runs (model.pipeline), -1 error naming the file.
 */
int memplan_config(const json_t *spec, int vocab, struct model_config *cfg, struct err *err);

/* The estimate for the normalised spec's stages under cfg (see above). */
void memplan_spec(const json_t *spec, const struct model_config *cfg, struct memplan *mp);

/* bytes as "512.0 MiB", "1.50 GiB", "10.23 TiB" into buf. */
const char *memplan_fmt(double bytes, char *buf, size_t size);

#endif
