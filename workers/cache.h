/*
 * cache — the worker's local blob cache: DIR/<sha256>, one file per blob.
 *
 * A file appears under its final name only once complete and verified: a fill
 * writes DIR/tmp/<sha256>.tmp.<pid>.<n> (file.h's atomic write), hashes the bytes as
 * they arrive, and cache_fill_commit renames the file into place only if the sha256
 * matches. So any DIR/<sha256> held exactly those bytes when it appeared, several
 * workers may share one cache directory (rename is atomic; two fills of the same
 * blob write the same bytes), and a crash leaves at most a stray file in tmp/.
 *
 * A file can still be damaged after that (a disk, a stray write between two runs
 * of the worker), and no cheaper check than hashing sees a flipped byte: size and
 * mtime stay. So a job hashes a cached file again before it reads it
 * (cache_verify, in runtime.c's job_blob_path) the first time this process uses
 * it; a damaged one is removed and fetched again. A file this process filled
 * (hashed as it streamed in) or hashed once is trusted while it stays the same
 * file (base/filetrust.h), so a fetched blob is never read back just to hash it.
 *
 *   cache_open            create DIR and DIR/tmp
 *   cache_lookup          1 and the path if the blob is cached, else 0 (a stat)
 *   cache_verify          hash a cached file: ERR_FORMAT naming it if its bytes do
 *                         not hash to its name, and it is removed
 *   cache_fill_begin      start receiving a blob
 *   cache_fill_write      append bytes (in order)
 *   cache_fill_commit     verify, rename; the fill is over either way. No fsync:
 *                         after a crash a file may be torn under its name, and the
 *                         next process hashes every file the first time it uses
 *                         it (cache_verify) and drops a torn one
 *   cache_fill_abort      drop a fill; safe on a fill that is over or never began
 *   cache_trim            keep the `keep` most recently filled blobs, delete older
 *                         ones (every commit trims to CACHE_KEEP: training writes a
 *                         new checkpoint every step, and only the latest are used)
 *
 * A blob deleted while a job reads it stays readable through the open descriptor.
 * A job that looks up several blobs before it opens them (a tokenizer's files) could
 * see the first trimmed by the fill of the next: a cache hit therefore touches the
 * file (cache_touch), so trimming, which keeps the newest, spares what is in use.
 */
#ifndef R1_CACHE_H
#define R1_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "file.h"
#include "sha256.h"

#define CACHE_PATH_MAX 4096
#define CACHE_KEEP 8          /* blobs kept after each fill */

struct cache {
	char dir[CACHE_PATH_MAX];     /* without a trailing '/' */
};

struct cache_fill {
	struct file_atomic file;      /* the temp file; fd -1 when no fill is in progress */
	char sha256[SHA256_HEX_SIZE]; /* what the bytes must hash to */
	struct sha256 hash;           /* of the bytes so far */
	int64_t size;                 /* bytes so far */
};

int cache_open(struct cache *c, const char *dir, struct err *err);
int cache_lookup(const struct cache *c, const char *sha256, char *path, size_t size);
int cache_verify(const struct cache *c, const char *sha256, const char *path,
	struct err *err);

int cache_fill_begin(const struct cache *c, struct cache_fill *f, const char *sha256,
	struct err *err);
int cache_fill_write(struct cache_fill *f, const void *data, size_t size, struct err *err);
int cache_fill_commit(const struct cache *c, struct cache_fill *f, char *path, size_t size,
	struct err *err);
void cache_fill_abort(struct cache_fill *f);

void cache_trim(const struct cache *c, int keep, const char *spare);

/* A cached blob is in use: its modification time becomes now, so cache_trim (which
 * keeps the newest) does not take it from under the job that just looked it up when
 * the same job's next fetch trims; the file stays trusted (filetrust.h) if it was.
 * Problems are ignored: at worst the file is trimmed and fetched again. */
void cache_touch(const struct cache *c, const char *sha256, const char *path);

/* The names of up to `max` cached blobs, the most recently filled first (what a
 * FETCH offers as `have`, for a delta). */
size_t cache_list(const struct cache *c, char (*names)[SHA256_HEX_SIZE], size_t max);

/* Blob `target` into the cache, rebuilt from cached blob `base` and a weights delta
 * (core/wdelta.h, already checked against its own name): the result is hashed as it
 * is written and enters the cache only if it hashes to `target` (as a fill). -1
 * and err when the base is gone or the result is not `target`: fetch it whole. */
int cache_apply_delta(const struct cache *c, const char *target, const char *base,
	const void *delta, size_t n, char *path, size_t size, struct err *err);

#endif
