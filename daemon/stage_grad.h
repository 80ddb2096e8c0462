/*
 * stage_grad — from a round of done grad jobs to a learner step: the one path the
 * training stages (stage_train.c, stage_grpo.c) share.
 *
 * A grad job's result (docs/protocol.md) names the file of its gradient (one
 * result file, the model's parameter count of fp32 values) and carries its sums
 * (loss, tokens, and for the grpo loss kl_sum, clip_count, entropy_sum).
 *
 *   grad_sums   the results' sums over jobs[0..n), added in the order given
 *   grad_start  one learner step from jobs[0..n) started on the learner's thread
 *               (learner_start; with `save`, the checkpoint with moments at the new
 *               step too): their gradient files summed IN SHARD ORDER whatever
 *               order the array is in (the final weights' sha256 depends on it,
 *               float addition not being associative). A job without a gradient
 *               file fails with ERR_FORMAT naming the job, and nothing starts.
 *   grad_finish the step started from the same jobs, once it is done: committed
 *               (learner_finish), then the result files removed and the previous
 *               weights' blob dropped (blobs_drop keeps what a checkpoint or job
 *               names) unless it is `keep`. 1 done, 0 still running, -1 error.
 *
 * Between the two the loop goes on (heartbeats, replies, other stages); the driver
 * sees the step running (learner->busy) and waits for it.
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

int grad_start(struct daemon *d, struct learner *l, const struct store_job *jobs, size_t n,
	int save, struct err *err);
/* keep: a blob the previous weights may be that must stay (NULL: none). */
int grad_finish(struct daemon *d, struct learner *l, const struct store_job *jobs, size_t n,
	const char *keep, struct err *err);

#endif
