/*
 * retain — which of a training stage's checkpoints stay on disk.
 *
 * A training stage saves a checkpoint (weights, and AdamW moments: three times the
 * weights' bytes) every `save_every` steps; kept forever they grow without bound
 * (238 MB for a 0.85M-parameter model after a short GRPO run). After each save the
 * stage keeps:
 *   - its `keep_checkpoints` latest (a spec key of training stages, default 2: the
 *     latest, and the one before to resume from should the latest be damaged —
 *     blobs.h); the latest is the stage's final when it ends, the one other stages
 *     start `from`, and the one a restart resumes from;
 *   - the latest with moments, whatever K (a restart needs it);
 *   - the steps the stage pins: a GRPO stage's current reference weights (its
 *     checkpoint at the last refresh, or at step 0).
 * The other checkpoint rows are deleted and their blob files removed unless
 * something still names them (blobs_drop: another checkpoint — a stage's step 0 is
 * its `from`'s final —, a job still to run, a dataset, a learner's weights).
 * A spec without the key (a pipeline submitted before it existed) keeps everything.
 *
 *   retain_choose  the choice alone (a pure function, unit-tested)
 *   retain_stage   apply it to a stage's checkpoints; called inside the turn
 */
#ifndef R1_RETAIN_H
#define R1_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

struct stage_ctx;

/* keep[i] = 1 for the checkpoints ck[0..n) (ascending steps) to keep, 0 for the
 * rest: the `last` latest (last <= 0: all), the latest with moments, and those at a
 * step in pinned[0..npinned). */
void retain_choose(const struct store_checkpoint *ck, size_t n, int64_t last,
	const int64_t *pinned, size_t npinned, int *keep);

/* Delete the checkpoints of c's stage that retain_choose does not keep (last: the
 * stage's keep_checkpoints) and drop their blobs. */
int retain_stage(struct stage_ctx *c, int64_t last, const int64_t *pinned, size_t npinned,
	struct err *err);

#endif
