/*
 * uploads — result blobs arriving from a worker in PUT pieces (proto.h).
 *
 * A job's result blobs (a grad job's gradient: 4 bytes per parameter, gigabytes for
 * a 1B model) never travel as one frame: libzmq refuses frames over its message
 * size limit, and a whole-gradient frame would have the daemon hold all of it in
 * memory at once. The worker sends each blob as PUTs in order of offset, at most
 * PROTO_UPLOAD_WINDOW unanswered; the daemon writes each piece to
 * DIR/blobs/tmp/result-<job>-<epoch>-<index> (the result file name blobs.h uses)
 * as it arrives and answers with an ACK, so per worker it never holds more than
 * the window of pieces libzmq has queued. Then the RESULT names the blobs by sha256
 * in `uploads` and carries no blob frames.
 *
 * Checks, all runtime errors that become the ACK's `error` (the upload is then
 * dropped, its file removed): the piece's sha256 is its `check`; its offset is the
 * bytes held so far (pieces come in order); `size` and `sha256` stay those of the
 * first piece; the blob is at most UPLOADS_MAX_SIZE; and once all `size` bytes are
 * in, they hash to `sha256` (hashed as they arrive, so never read back).
 *
 * As a piece is written its bytes are also read as little-endian fp32 values (a
 * value may straddle two pieces) and the first that is inf or NaN is remembered:
 * results_check refuses a gradient holding one (results.h) from that verdict, so
 * committing a RESULT reads none of its blobs' bytes in the event loop (a 135M
 * model's gradient is 0.5 GB: a whole-file pass there held up heartbeats for
 * seconds). The scan costs less than the piece's hash; blobs of other kinds are
 * scanned too (the daemon does not know a blob's kind before the RESULT) and the
 * verdict is then unused.
 *
 * The list is the broker's, one per worker connection (struct peer). The broker
 * checks the lease before uploads_put; uploads of a lease that ends (RESULT, FAIL,
 * a stale PUT, the worker gone) are dropped with their files. A daemon crash
 * mid-upload leaves only the tmp file, which blobs_clean removes at startup.
 *
 * Primitives
 *   uploads_put      take one PUT, fill the ACK
 *   uploads_map      on RESULT: the finished blobs `uploads` names, mapped read-only
 *                    as frames (for results_check), in order, with each one's
 *                    non-finite verdict
 *   uploads_unmap    undo uploads_map
 *   uploads_forget   forget a lease's uploads, keeping (keep=1) or removing their files
 *   uploads_drop_all a worker left: remove every upload and file
 *   uploads_free     free the list (files stay: shutdown; blobs_clean has them)
 */
#ifndef R1_UPLOADS_H
#define R1_UPLOADS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"

#define UPLOADS_MAX_SIZE (64LL << 30)  /* bytes of one result blob */

struct daemon;
struct upload;

/* Handle PUT `m` of a current lease: write the piece, fill `ack` (initialised here:
 * an ACK with the bytes now held, or with `error`). Returns 0, or -1 when the
 * upload was dropped; err then says why (err_nospace: the daemon's disk is full). */
int uploads_put(struct daemon *d, struct upload **list, const struct msg *m,
	struct msg *ack, struct err *err);

/* The blobs of lease (job, epoch) that `names` (a JSON array of sha256s, the
 * RESULT's `uploads`) lists, index i being names[i]: each finished and hashed to its
 * name. Fills frames[0..n) with read-only mappings (untouched: no page is read here)
 * and, unless `nonfinite` is NULL, nonfinite[0..n) with the index of each blob's
 * first fp32 value that is inf or NaN, -1 if it has none. -1 and err (ERR_INVALID)
 * if one is missing or unfinished, or more than `max` are named. */
int uploads_map(struct daemon *d, struct upload **list, int64_t job, int64_t epoch,
	const json_t *names, struct msg_frame *frames, int64_t *nonfinite, size_t max, size_t *n,
	struct err *err);
void uploads_unmap(struct msg_frame *frames, size_t n);

void uploads_forget(struct daemon *d, struct upload **list, int64_t job, int64_t epoch,
	int keep);
void uploads_drop_all(struct daemon *d, struct upload **list);
void uploads_free(struct upload **list);

#endif
