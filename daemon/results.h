/*
 * results — is a worker's RESULT a well-formed answer to its job?
 *
 * The broker commits a result only if it passes results_check; the stage drivers
 * then read results without checking them again (stage_eval, stage_grpo, ...). So a
 * worker with a bug, a stale build or bad intentions gets its answer refused as a
 * failed attempt with the reason, instead of a stage "succeeding" on it (an empty
 * reward list once read as 0% format where the truth was 100%).
 *
 * What is checked, per kind (the formats are documented in workers/job_<kind>.c):
 *   probe    {echo, job, pid}: `job` is the job's id, `echo` its params' payload,
 *            blob_size an integer >= 0 when the params name a blob; no blob frames
 *   rollout  one sample per (prompt, j) in params order (P prompts × G samples): its
 *            prompt index and j, tokens (ids < vocab, at most max_new_tokens, prompt
 *            plus tokens at most max_seq), one finite logprob per token, text a
 *            string, finish "stop" or "length"
 *   reward   one item per params item: components with a finite number for every
 *            reward the params name, total finite
 *   reject   kept: ascending distinct indices of params items; dropped: a count
 *            >= 0 per filter; kept and dropped account for every item once
 *   grad     loss, nll_sum, entropy_sum finite, tokens an integer >= 0 (and at most
 *            the shard's counted positions); for loss "grpo" kl_sum finite and
 *            clip_count an integer >= 0; exactly one blob frame of 4 × n_params
 *            bytes (the config's parameter count, fp32), every value finite (from
 *            the uploads' verdict when it came in PUT pieces: uploads.h)
 *   other    a JSON object (the daemon enqueues no other kind)
 *
 * What is not checked: that the numbers are the right ones. Jobs are deterministic,
 * but recomputing one to compare would cost what running it costs; a well-formed
 * wrong answer gets through.
 *
 * Params come from the daemon's own enqueue; where they lack what a check needs,
 * that check is skipped (a bad param is the daemon's bug, not the worker's).
 */
#ifndef R1_RESULTS_H
#define R1_RESULTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"

/* 0 if `result` (NULL: the RESULT had none) and the blob frames blobs[0..nblobs)
 * answer job `job` of `kind` with `params`; else -1 and err (ERR_INVALID) says
 * what is wrong, naming the element ("samples[3].tokens[7]: id 9000 is not below
 * the vocabulary size 264"). `nonfinite`, unless NULL, is what is known of each
 * blob's values already: nonfinite[i] the index of blob i's first fp32 value that
 * is inf or NaN, -1 none (uploads_map's verdict, made as the pieces came); the
 * gradient's values are then not read here. NULL: blobs that came as frames of the
 * RESULT, whose values results_check reads itself. */
int results_check(const char *kind, int64_t job, const json_t *params, const json_t *result,
	const struct msg_frame *blobs, size_t nblobs, const int64_t *nonfinite, struct err *err);

#endif
