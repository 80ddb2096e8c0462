/*
 * scheduler — pipelines and their stages: submission, the state machine of store.h
 * "Pipelines and stages", and what `r1flow status` shows.
 *
 * A submitted spec (normalised by pipelines/spec.c, checked again here) becomes a
 * pipeline row and one row per stage, and the pipeline is running at once. Every
 * scheduler_run (the periodic function calls it, and so does every control op that
 * changes a pipeline):
 *   1. asks each running stage's driver (stage.h) to advance: progress, success or
 *      failure. A driver error (of advance or start) is sorted by err_transient():
 *      permanent (missing or malformed input) fails the stage at once; a full disk
 *      pauses the pipeline with "No space left on device: DIR (...)" as its error
 *      (resume once space is freed; nothing is lost); other transient errors (a
 *      busy database, memory) are tried again after a back-off doubling from 1 s
 *      to 60 s, one log line per try;
 *   2. a failed stage fails its pipeline with the stage's error; the pipeline's
 *      other running stages are cancelled (their jobs too);
 *   3. starts every pending stage whose dependencies (`deps` of the spec: from,
 *      needs and the producers of its datasets) all succeeded — independent
 *      stages run side by side;
 *   4. a pipeline whose stages all succeeded has succeeded.
 * Controls: cancel (queued, running or paused → cancelled), pause (running →
 * paused: running stages pause and their queued and leased jobs are cancelled),
 * resume (paused → running: paused stages start again, their jobs requeued), retry
 * (failed or cancelled → running: failed and cancelled stages go back to pending,
 * what succeeded is kept).
 *
 * Everything runs inside the daemon's turn transaction.
 */
#ifndef R1_SCHEDULER_H
#define R1_SCHEDULER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct daemon;

enum scheduler_action { SCHED_CANCEL, SCHED_PAUSE, SCHED_RESUME, SCHED_RETRY };

/* Advance every running pipeline (the duties above). */
void scheduler_run(struct daemon *d);

/* A job of `stage` hit a full disk at `where` (the daemon's data directory, or a
 * worker's cache): pause the stage's pipeline with "No space left on device: WHERE
 * (WHY)" as its error instead of spending the job's attempts. `r1flow resume`
 * carries on once space is freed (the pipeline's jobs are requeued with their
 * attempts starting over). -1 when the stage is not in a running pipeline. */
int scheduler_wait_for_space(struct daemon *d, int64_t stage, const char *where,
	const char *why);

/* Check and store a normalised spec; *id the new pipeline. Its stages start in the
 * next turn (so the reply is not held up by their start-up). With `token` (NULL:
 * none), a token submitted before gives that pipeline's *id and *existing = 1
 * instead of a second pipeline. */
int scheduler_submit(struct daemon *d, json_t *spec, const char *source, const char *token,
	int64_t *id, int *existing, struct err *err);

/* Apply an action; the pipeline's new state name in *state. ERR_NOTFOUND for an
 * unknown id, ERR_INVALID when the state does not allow it. */
int scheduler_act(struct daemon *d, int64_t id, enum scheduler_action action,
	const char **state, struct err *err);

/* {pipeline: {...}, stages: [...], workers: N} for `r1flow status` (NULL and err). */
json_t *scheduler_describe(struct daemon *d, int64_t id, struct err *err);

/* {pipelines: [...]}, newest first. */
json_t *scheduler_list(struct daemon *d, struct err *err);

struct store_stage;
/* 1 if every stage `st` depends on (its spec's `deps`) is among all[0..n) and has
 * succeeded: the test of duty 3 above. A dep naming no stage of all[] never is. */
int scheduler_stage_ready(const struct store_stage *st, const struct store_stage *all,
	size_t n);

#endif
