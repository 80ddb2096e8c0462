/*
 * gc — giving disk space back: the control ops behind `r1flow gc` and
 * `r1flow dataset delete`.
 *
 *   gc              {} -> {files, bytes, kept, kept_bytes}: remove every file of
 *                   DIR/blobs/ that nothing names — no checkpoint row, no queued or
 *                   leased job's params, no dataset's source, no learner's current
 *                   weights (blobs_drop's rule) — and its index row. Files a
 *                   retention policy made unreferenced are removed as they go
 *                   (retain.h); what gc finds is what slipped through: a blob a
 *                   crash left between its write and its checkpoint, a model
 *                   directory's weights imported for a stage that failed, files of
 *                   checkpoints deleted by hand, blobs stored with blob_put.
 *   dataset_delete  {name, id?} -> {name, pipeline, count}: delete the shared
 *                   dataset `name` (with `id`, pipeline id's own) and its records.
 *                   Refused while a pipeline that is not over (queued, running,
 *                   paused) reads it, naming that pipeline.
 *
 * Both run inside the loop's turn, like every op: nothing is being written to
 * blobs/ meanwhile (blobs_put completes within the turn that calls it; partial
 * writes, and a learner's step on its thread, live in blobs/tmp/, which gc leaves
 * alone, until a turn renames them in: blobs_adopt).
 */
#ifndef R1_GC_H
#define R1_GC_H

#include <jansson.h>

#include "err.h"
#include "msg.h"

struct daemon;

json_t *control_op_gc(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_dataset_delete(struct daemon *d, const struct msg *req, struct err *err);

#endif
