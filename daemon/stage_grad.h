/*
 * stage_grad — from a round of done grad jobs to a learner step: the one path the
 * training stages (stage_train.c, stage_grpo.c) share.
 *
 * A grad job's result (docs/protocol.md) names the file of its gradient (one
 * result file, the model's parameter count of fp32 values) and carries its sums
 * (loss, tokens, and for the grpo loss kl_sum, clip_count, entropy_sum).
 *
 *   grad_sums   the results' sums over jobs[0..n), added in the order given
 *   grad_apply  one learner step from jobs[0..n): their gradient files summed IN
 *               SHARD ORDER whatever order the array is in (learner_step; the
 *               final weights' sha256 depends on it, float addition not being
 *               associative), then the result files removed and the previous
 *               weights' blob dropped (blobs_drop keeps what a checkpoint or job
 *               names) unless it is `keep`. A job without a gradient file fails
 *               with ERR_FORMAT naming the job, and nothing is applied.
 */
#ifndef R1_STAGE_GRAD_H
#define R1_STAGE_GRAD_H

#include <stddef.h>

#include "err.h"
#include "store.h"

struct daemon;
struct learner;

struct grad_sums {
	double loss;                /* the loss's share of each job's sequences */
	double tokens;              /* target tokens */
	double kl;                  /* grpo: Σ per-token KL to the reference */
	double clip;                /* grpo: tokens whose ratio was clipped */
	double entropy;             /* grpo: Σ per-token entropy */
};

void grad_sums(const struct store_job *jobs, size_t n, struct grad_sums *sums);

/* keep: a blob the previous weights may be that must stay (NULL: none). */
int grad_apply(struct daemon *d, struct learner *l, const struct store_job *jobs, size_t n,
	const char *keep, struct err *err);

#endif
