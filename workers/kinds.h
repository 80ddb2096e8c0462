/*
 * kinds — the registry of job kinds a worker can run: one table (kinds.c), one file
 * per kind (job_<kind>.c), like git's builtin.h and commands[].
 *
 * A worker announces the names in its READY (all of them, or the subset given with
 * --kinds) and the daemon leases it only jobs of those kinds. Adding a kind: write
 * workers/job_<kind>.c with job_<kind>_run (job.h), declare it here, add a row to
 * the table and the file to workers/meson.build.
 *
 *   probe     diagnostic: echo a payload; optionally fetch a blob, sleep, fail or
 *             crash (job_probe.c has the params). For tests and benchmarks.
 *   rollout   G samples per prompt from a checkpoint blob: tokens, text, log-probs,
 *             finish (job_rollout.c)
 *   reward    rule-based rewards of completions, per component and weighted, and
 *             reward programs and the code reward in a sandbox (job_reward.c,
 *             rewardext.h)
 *   reject    rejection-sampling filters: kept items and drop counts (job_reject.c)
 *   grad      the flat fp32 gradient of a shard of sequences under CE or GRPO, and
 *             loss sums (job_grad.c)
 *
 * The model-running kinds share jobmodel.h (weights from params, cached across
 * jobs); all parse their params with jobparams.h.
 */
#ifndef R1_KINDS_H
#define R1_KINDS_H

#include <stddef.h>

#include "job.h"

struct job_kind {
	const char *name;   /* [a-z0-9_]{1,64}, as in READY and the jobs table */
	job_run_fn run;
	const char *help;   /* one line */
};

extern const struct job_kind job_kinds[];
extern const size_t job_kind_count;

/* The kind named `name`, or NULL. */
const struct job_kind *job_kind_find(const char *name);

int job_probe_run(const struct job *job, struct job_output *out, struct err *err);
int job_rollout_run(const struct job *job, struct job_output *out, struct err *err);
int job_reward_run(const struct job *job, struct job_output *out, struct err *err);
int job_reject_run(const struct job *job, struct job_output *out, struct err *err);
int job_grad_run(const struct job *job, struct job_output *out, struct err *err);

#endif
