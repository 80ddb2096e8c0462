/*
 * upload — the worker's side of sending a RESULT's blobs in PUT pieces (proto.h).
 *
 * A RESULT with blob frames (a grad job's gradient) is not sent as one message: its
 * blobs go up as PUTs of at most `chunk` bytes each, in order of offset, with at most
 * PROTO_UPLOAD_WINDOW of them unanswered; each ACK from the daemon lets one more go.
 * When the daemon has acknowledged every byte, the RESULT goes without its blobs,
 * naming them by sha256 in `uploads` (the daemon checks each piece's sha256 and the
 * whole blob's). So no frame is larger than `chunk` and the daemon holds at most a
 * window of pieces per worker however slow it writes.
 *
 * The state machine is pure (no socket): the runtime's I/O thread sends what
 * upload_next gives and feeds ACKs to upload_ack. The whole-blob sha256s are
 * computed by the caller beforehand (on the compute thread, which has the bytes).
 *
 * Ownership: upload_begin takes the RESULT (its header and owned blobs); the PUTs
 * borrow from those blobs (sock_send copies borrowed blobs, so a PUT may be released
 * at once); upload_finish hands back the blob-less RESULT; upload_abort frees all.
 */
#ifndef R1_UPLOAD_H
#define R1_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"
#include "sha256.h"

struct upload {
	int active;                       /* an upload is under way */
	struct msg reply;                 /* the RESULT, owning its blobs */
	int64_t job, epoch;
	uint64_t session;                 /* the runtime's session it belongs to */
	size_t chunk;                     /* bytes per PUT */
	char sha256[PROTO_MAX_BLOBS][SHA256_HEX_SIZE];
	size_t send_blob;                 /* next piece to send: blob and offset */
	int64_t send_off;
	size_t ack_blob;                  /* next ACK expected: blob and offset */
	int64_t ack_off;
	int inflight;                     /* PUTs sent, not yet acknowledged */
	uint64_t pieces;                  /* PUTs sent in all */
};

/* Take RESULT `reply` (moved: left empty) whose blobs hash to sha256[i]. */
void upload_begin(struct upload *u, struct msg *reply,
	const char (*sha256)[SHA256_HEX_SIZE], uint64_t session, size_t chunk);

/* 1 and `put` filled with the next PUT if the window allows one; 0 if not. */
int upload_next(struct upload *u, struct msg *put);

/* An ACK: 0 taken (maybe more PUTs may go), 1 the last byte is acknowledged
 * (call upload_finish), 2 not about this upload (ignore it), -1 the daemon dropped
 * the upload or the ACK is not the one expected: err says which. */
int upload_ack(struct upload *u, const struct msg *ack, struct err *err);

/* Move the RESULT, blobs freed and `uploads` set, into `result`; the upload ends. */
void upload_finish(struct upload *u, struct msg *result);

/* End the upload, freeing the RESULT; harmless when none is active. */
void upload_abort(struct upload *u);

#endif
