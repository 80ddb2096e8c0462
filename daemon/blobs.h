/*
 * blobs — content-addressed files in DIR/blobs/ and the FETCH/CHUNK service.
 *
 * A blob is a byte string named by its sha256 (checkpoints, optimizer moments,
 * gradient buffers). The daemon hashes every blob it stores itself, so a name
 * matches its bytes when they are written:
 *
 *   blobs_put     hash, write DIR/blobs/tmp/<random>, fsync, rename to
 *                 DIR/blobs/<sha256>, fsync the directory, index it in the store
 *                 (path "blobs/<sha256>", relative to DIR). Idempotent: a blob
 *                 already present with the same bytes is not written again; a
 *                 file of that name whose bytes differ (damaged) is replaced.
 *   blobs_path    the path of a blob to read, after hashing its file
 *   blobs_chunk   answer a worker's FETCH {sha256, offset, size?} with a CHUNK
 *                 {sha256, offset, size: total} carrying at most PROTO_CHUNK_SIZE
 *                 bytes (fewer if `size` asks for fewer), or a CHUNK with `error`
 *                 and no data (unknown blob, offset past the end, unreadable or
 *                 damaged file).
 *   blobs_clean   remove partial writes left in blobs/tmp/ by a crash (at startup).
 *
 * Files are trusted only as far as they are checked: a file can be damaged after
 * it was written (a disk, a stray write while the daemon was down), and nothing
 * cheaper than hashing notices a flipped byte (size and mtime do not change when
 * a medium decays). So the first read for use of a file in this process hashes
 * the whole file: blobs_path (the learner's weights and moments, checkpoint
 * export) and blobs_chunk at offset 0 (the start of a worker's fetch). A file this
 * process wrote from bytes it hashed (blobs_put: the learner hashes each step's
 * weights once, as it stores them) or hashed once already is not hashed again
 * while it stays the same file (base/filetrust.h): a step's weights fetched by N
 * workers cost one hash here, not N + 1. A file that does not hash to its name is
 * an ERR_FORMAT naming it; it is removed, so a stage that recomputes those bytes
 * (blobs_put) stores them again, and one that cannot fails with the path. The
 * worker hashes the chunks as they arrive and checks the whole blob's sha256 at
 * the end (workers/runtime.c), so the transfer is checked end to end; a worker
 * whose stream does not verify asks again with `check` (blobs_distrust), and the
 * file is hashed here before it is served again.
 *
 * Called from the event loop only; blobs_put belongs inside the turn's transaction
 * (its index row commits with the turn; the file is durable before that).
 */
#ifndef R1_BLOBS_H
#define R1_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"
#include "sha256.h"

struct daemon;

int blobs_put(struct daemon *d, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	struct err *err);

/* blobs_put in two halves, for work off the event loop: the durable file (any
 * thread: it touches no store) and its index row (the loop, in the turn). */
int blobs_put_file(struct daemon *d, const void *data, size_t size,
	char hex[SHA256_HEX_SIZE], struct err *err);
int blobs_index(struct daemon *d, const char hex[SHA256_HEX_SIZE], size_t size,
	struct err *err);

/* A file another thread wrote, fsynced and hashed (the learner's, learner.h): renamed
 * to DIR/blobs/<hex> (over any file of that name: these bytes are the name's),
 * trusted as hashed (base/filetrust.h) and indexed; with `sync` the directory is fsynced, so the name survives a crash before
 * the turn commits. The loop only: the rename is atomic, and nothing in the loop
 * sees the file until it has its name. */
int blobs_adopt(struct daemon *d, const char *path, const char hex[SHA256_HEX_SIZE],
	int64_t size, int sync, struct err *err);

/* Fill `out` (initialised here) with the CHUNK answering FETCH(sha256, offset, want);
 * want 0 means PROTO_CHUNK_SIZE. Never fails: problems become the CHUNK's error. */
void blobs_chunk(struct daemon *d, const char *sha256, int64_t offset, int64_t want,
	struct msg *out);

/* The bytes [offset, offset + n) of blob `sha256`, n = min(want (<= 0: max), max, what
 * is left), in a malloc'd *data, and the blob's size in *total: the reading behind
 * blobs_chunk and the control op blob_read. At offset 0 the whole file is hashed
 * first (above). -1 and err: ERR_NOTFOUND (no such blob), ERR_INVALID (offset past
 * the end), ERR_FORMAT (damaged, removed), ERR_IO. */
int blobs_read(struct daemon *d, const char *sha256, int64_t offset, int64_t want,
	int64_t max, void **data, size_t *n, int64_t *total, struct err *err);

void blobs_clean(struct daemon *d);

/*
 * Peer fetch (relays.h plans it; docs/protocol.md "Peer fetch"):
 *   blobs_fetch       answer a worker's FETCH: blobs_chunk, or a weights delta at
 *                     offset 0 (deltas.h), or — at offset 0, without `check` or
 *                     `failed_peer` — a redirect CHUNK {sha256, offset 0, size,
 *                     delta?, base?, peer: {name, endpoint, key?}} with no bytes,
 *                     after an ADMIT {key, name} to the serving worker when it is a
 *                     CURVE server. `failed_peer` marks that peer failed for the
 *                     stream; the answer then always comes from here. Counts
 *                     blob_bytes_sent (only bytes sent by the daemon), peer_redirects
 *                     and peer_failures.
 *   blobs_peer_ready  a worker registered: its READY's `peer` and its CURVE key
 *   blobs_peer_gone   it left
 */
void blobs_fetch(struct daemon *d, int64_t worker, const char *name, const struct msg *m,
	struct msg *out);
void blobs_peer_ready(struct daemon *d, int64_t worker, const char *name, const void *ident,
	size_t ident_size, const struct msg *ready, const char *user);
void blobs_peer_gone(struct daemon *d, int64_t worker);

/* Forget that blob `sha256`'s file was hashed: its next read for use hashes it (a
 * worker's FETCH with `check`: what it streamed did not hash to the name). */
void blobs_distrust(struct daemon *d, const char *sha256);

/*
 * Result files: the blobs of a job's RESULT (gradients; uploads.h writes them
 * piece by piece under the same names, blobs_put_result whole) are not content-
 * addressed — nothing else ever asks for them by hash, and hashing megabytes per
 * result would cost the loop more than the learner step. They go to
 * DIR/blobs/tmp/result-<job>-<epoch>-<i>, unsynced: blobs_clean removes them at
 * startup, and a training stage recomputes what a restart lost. The stage that
 * reads one drops it.
 */
#define BLOBS_RESULT_NAME 64
void blobs_result_name(int64_t job, int64_t epoch, size_t i, char name[BLOBS_RESULT_NAME]);
int blobs_put_result(struct daemon *d, int64_t job, int64_t epoch, size_t i,
	const void *data, size_t size, char name[BLOBS_RESULT_NAME], struct err *err);
int blobs_result_path(struct daemon *d, const char *name, char *path, size_t size,
	struct err *err);
void blobs_result_drop(struct daemon *d, const char *name);

/* blobs_put without the fsyncs, for blobs the daemon can make again after a crash
 * (gradients: a training stage resumes from its last saved step and recomputes the
 * rest). A crash may leave such a file truncated; its index row may then point at
 * it, which is why only recomputable blobs go this way. */
int blobs_put_scratch(struct daemon *d, const void *data, size_t size,
	char hex[SHA256_HEX_SIZE], struct err *err);

/* Forget a blob and remove its file, unless something still names it: a checkpoint,
 * a queued or leased job, a dataset (store_blob_referenced) or a learner's current
 * weights (blobs_held). Problems are logged: a file left behind costs only disk
 * space, and `r1flow gc` finds it. */
void blobs_drop(struct daemon *d, const char *sha256);

/* Whether a learner in memory holds `sha256` as its current weights (written, not
 * yet named by a checkpoint or a job) or it is a stage's current weights delta
 * (deltas.h); while a learner is being prepared on its
 * thread (learner_open), every blob counts as held: its file may be written before
 * the loop can know its name. A learner's step on its thread writes nothing under
 * blobs/ but its scratch directory (blobs_adopt names the files in the loop), so a
 * running step holds only the learner's current weights. */
int blobs_held(struct daemon *d, const char *sha256);

/* The path of a stored blob, once its file was hashed: ERR_NOTFOUND if it cannot be
 * read, ERR_FORMAT naming the file if its bytes do not hash to `sha256` (the file
 * is then removed). */
int blobs_path(struct daemon *d, const char *sha256, char *path, size_t size, struct err *err);

#endif
