/*
 * deltas — the exact weights deltas the daemon serves between a training stage's
 * steps (core/wdelta.h), so a worker that holds step s's weights fetches the
 * compressed XOR to step s+1 instead of the whole file.
 *
 *   deltas_note    after the learner stored step s+1's weights (target) over step
 *                  s's (base): the delta file its thread encoded and hashed (the
 *                  learner reads both weights files and compresses their XOR off the
 *                  event loop: seconds for a 135M model) becomes a scratch blob
 *                  (recomputable, like the weights; renamed, not read: blobs_adopt)
 *                  and the stage's one delta; the stage's previous delta is dropped.
 *                  Called once per step from the learner (learner.c's one hook); a
 *                  failure is logged and costs only the bytes a delta would have
 *                  saved.
 *   deltas_chunk   answer a FETCH of `target` at offset 0 from a worker that lists
 *                  the blobs it `have`s: when the stage's delta leads there from
 *                  one of them, a CHUNK of the delta's first bytes, with `delta`
 *                  (the delta blob's sha256, fetched on as any blob) and `base`;
 *                  0 when there is none (the caller serves the whole blob).
 *   deltas_holds   whether `sha256` is a current delta (blobs_held keeps it)
 *   deltas_forget  a stage's learner closes: its delta is no longer served and, inside
 *                  a turn, its blob is dropped (outside one, at shutdown, the store
 *                  takes no writes: the blob stays until `r1flow gc`)
 *   deltas_free    at exit, before the store closes: the deltas' blobs are dropped in
 *                  one transaction of their own
 *
 * The table lives in memory only: after a restart the first step of each stage is
 * fetched whole, as are the weights of a worker that missed a step.
 */
#ifndef R1_DELTAS_H
#define R1_DELTAS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "sha256.h"

struct daemon;

struct delta {
	int64_t stage;
	char base[SHA256_HEX_SIZE], target[SHA256_HEX_SIZE], blob[SHA256_HEX_SIZE];
	size_t size, full;              /* bytes of the delta and of the target */
	struct delta *next;
};

/* `path`: the delta's file (removed if it is not adopted), `blob` its sha256, `size`
 * its bytes; `full` the target's bytes. */
void deltas_note(struct daemon *d, int64_t stage, const char *base, const char *target,
	size_t full, const char *path, const char *blob, size_t size);
int deltas_chunk(struct daemon *d, const char *target, const json_t *have, int64_t want,
	struct msg *out);
int deltas_holds(struct daemon *d, const char *sha256);
void deltas_forget(struct daemon *d, int64_t stage);
void deltas_free(struct daemon *d);

#endif
