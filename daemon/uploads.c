#include "uploads.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blobs.h"
#include "daemon.h"
#include "sha256.h"

struct upload {
	struct upload *next;
	int64_t job, epoch, index;
	int64_t size, held;              /* the blob's bytes, and those written so far */
	char sha256[SHA256_HEX_SIZE];    /* what the whole blob must hash to */
	char name[BLOBS_RESULT_NAME];    /* its file in DIR/blobs/tmp */
	struct sha256 hash;              /* of bytes [0, held) */
	int fd;                          /* -1 once finished */
	int done;                        /* all bytes in and hashed to sha256 */
	int64_t nonfinite;               /* first fp32 value of [0, held) that is inf or
	                                    NaN, -1 none (so far) */
	uint8_t byte2;                   /* byte 2 of the value at held / 4 when held % 4
	                                    is 3: a value split across two pieces */
};

static void unlink_file(struct daemon *d, const char *name)
{
	blobs_result_drop(d, name);
}

static void release(struct daemon *d, struct upload *u, int keep)
{
	if (u->fd >= 0)
		close(u->fd);
	if (!keep && d)
		unlink_file(d, u->name);
	free(u);
}

/* Take `u` out of `list` and release it. */
static void drop(struct daemon *d, struct upload **list, struct upload *u, int keep)
{
	for (struct upload **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	if (!keep && d)
		counters_add(&d->counters, C_UPLOADS_DROPPED, 1);
	release(d, u, keep);
}

static struct upload *find(struct upload *list, int64_t job, int64_t epoch, int64_t index)
{
	for (struct upload *u = list; u; u = u->next)
		if (u->job == job && u->epoch == epoch && u->index == index)
			return u;
	return NULL;
}

static void ack(struct msg *out, const struct msg *m, int64_t held, const char *error)
{
	msg_init(out, PROTO_ACK);
	out->header = json_pack("{sI sI sI sI}", "job", (json_int_t)msg_uint(m, "job"),
		"epoch", (json_int_t)msg_uint(m, "epoch"), "index", (json_int_t)msg_uint(m, "index"),
		"offset", (json_int_t)held);
	if (out->header && error)
		json_object_set_new(out->header, "error", json_string(error));
}

/* A new upload at offset 0: its file created (truncated if a previous try left one). */
static struct upload *start(struct daemon *d, struct upload **list, const struct msg *m,
	struct err *err)
{
	int64_t job = msg_uint(m, "job"), epoch = msg_uint(m, "epoch"),
		index = msg_uint(m, "index"), size = msg_uint(m, "size");
	char path[DATADIR_PATH_MAX];
	if (index >= PROTO_MAX_BLOBS) {
		err_set(err, ERR_INVALID, "blob index %lld is not below %d", (long long)index,
			PROTO_MAX_BLOBS);
		return NULL;
	}
	if (size > UPLOADS_MAX_SIZE) {
		err_set(err, ERR_INVALID, "blob of %lld bytes is over the limit of %lld",
			(long long)size, UPLOADS_MAX_SIZE);
		return NULL;
	}
	struct upload *u = calloc(1, sizeof *u);
	if (!u) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	u->job = job;
	u->epoch = epoch;
	u->index = index;
	u->size = size;
	u->fd = -1;
	u->nonfinite = -1;
	memcpy(u->sha256, msg_str(m, "sha256"), SHA256_HEX_SIZE);
	sha256_init(&u->hash);
	blobs_result_name(job, epoch, (size_t)index, u->name);
	if (blobs_result_path(d, u->name, path, sizeof path, err) < 0) {
		free(u);
		return NULL;
	}
	u->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (u->fd < 0) {
		err_sys(err, errno, "cannot create '%s'", path);
		free(u);
		return NULL;
	}
	u->next = *list;
	*list = u;
	return u;
}

/* Whether the little-endian fp32 value with bytes 2 and 3 `b2`, `b3` is inf or NaN:
 * its exponent all ones. */
static int not_finite(uint8_t b2, uint8_t b3)
{
	return (b3 & 0x7f) == 0x7f && (b2 & 0x80);
}

/* Note the first inf or NaN among the fp32 values of the piece's bytes p[0..n),
 * which start at byte u->held of the blob (a value may straddle two pieces). Done
 * here, as the piece goes by, so that checking a gradient's values at its RESULT
 * (results.h) reads no file in the loop. */
static void scan(struct upload *u, const uint8_t *p, size_t n)
{
	int64_t at = u->held;
	size_t j = 0;
	if (u->nonfinite >= 0)
		return;
	for (; j < n && (at & 3); j++, at++) { /* the rest of a value begun before */
		if ((at & 3) == 2)
			u->byte2 = p[j];
		else if ((at & 3) == 3 && not_finite(u->byte2, p[j])) {
			u->nonfinite = at / 4;
			return;
		}
	}
	for (; j + 4 <= n; j += 4, at += 4)
		if (not_finite(p[j + 2], p[j + 3])) {
			u->nonfinite = at / 4;
			return;
		}
	for (; j < n; j++, at++) /* the start of a value the next piece ends */
		if ((at & 3) == 2)
			u->byte2 = p[j];
}

/* Write the piece at u->held; 0 or -1 and err. */
static int piece(struct daemon *d, struct upload *u, const struct msg *m, struct err *err)
{
	const struct msg_frame *f = &m->blobs[0];
	char got[SHA256_HEX_SIZE];
	if (strcmp(msg_str(m, "sha256"), u->sha256) != 0 || msg_uint(m, "size") != u->size)
		return err_set(err, ERR_INVALID, "piece at offset %lld names another blob (%s, %lld "
			"bytes) than the upload (%s, %lld bytes)", (long long)u->held, msg_str(m, "sha256"),
			(long long)msg_uint(m, "size"), u->sha256, (long long)u->size);
	if (msg_uint(m, "offset") != u->held)
		return err_set(err, ERR_INVALID, "piece at offset %lld, expected %lld (pieces come "
			"in order)", (long long)msg_uint(m, "offset"), (long long)u->held);
	if ((int64_t)f->size > u->size - u->held || (f->size == 0 && u->held < u->size))
		return err_set(err, ERR_INVALID, "piece of %zu bytes at offset %lld does not fit a "
			"blob of %lld bytes", f->size, (long long)u->held, (long long)u->size);
	sha256_buffer(f->data, f->size, got);
	if (strcmp(got, msg_str(m, "check")) != 0)
		return err_set(err, ERR_FORMAT, "piece at offset %lld is damaged: its %zu bytes hash "
			"to %s, not %s", (long long)u->held, f->size, got, msg_str(m, "check"));
	size_t off = 0;
	while (off < f->size) {
		ssize_t w = pwrite(u->fd, (const char *)f->data + off, f->size - off,
			(off_t)(u->held + (int64_t)off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_sys(err, errno, "cannot write 'blobs/tmp/%s'", u->name);
		off += (size_t)w;
	}
	sha256_update(&u->hash, f->data, f->size);
	scan(u, f->data, f->size);
	u->held += (int64_t)f->size;
	counters_add(&d->counters, C_UPLOAD_PIECES, 1);
	if (u->held < u->size)
		return 0;
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_final(&u->hash, digest);
	sha256_hex(digest, got);
	if (strcmp(got, u->sha256) != 0)
		return err_set(err, ERR_FORMAT, "uploaded blob is damaged: its %lld bytes hash to "
			"%s, not %s", (long long)u->size, got, u->sha256);
	close(u->fd);
	u->fd = -1;
	u->done = 1;
	return 0;
}

int uploads_put(struct daemon *d, struct upload **list, const struct msg *m,
	struct msg *out, struct err *err)
{
	int64_t job = msg_uint(m, "job"), epoch = msg_uint(m, "epoch");
	struct upload *u = find(*list, job, epoch, msg_uint(m, "index"));
	if (msg_uint(m, "offset") == 0 && u) { /* the worker starts over (a new session) */
		drop(d, list, u, 0);
		u = NULL;
	}
	int rc = 0;
	if (!u && msg_uint(m, "offset") != 0)
		rc = err_set(err, ERR_INVALID, "piece at offset %lld of an upload that never began "
			"(or was dropped)", (long long)msg_uint(m, "offset"));
	else if (!u && !(u = start(d, list, m, err)))
		rc = -1;
	else if (u->done)
		rc = err_set(err, ERR_INVALID, "piece after the whole blob was in");
	else
		rc = piece(d, u, m, err);
	if (rc < 0) {
		char text[sizeof err->msg + 64];
		snprintf(text, sizeof text, "upload of blob %lld dropped: %s",
			(long long)msg_uint(m, "index"), err->msg);
		ack(out, m, 0, text);
		if (u)
			drop(d, list, u, 0);
		return -1;
	}
	ack(out, m, u->held, NULL);
	return 0;
}

void uploads_unmap(struct msg_frame *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (frames[i].size)
			munmap((void *)frames[i].data, frames[i].size);
}

int uploads_map(struct daemon *d, struct upload **list, int64_t job, int64_t epoch,
	const json_t *names, struct msg_frame *frames, int64_t *nonfinite, size_t max, size_t *n,
	struct err *err)
{
	size_t i;
	json_t *v;
	*n = 0;
	if (json_array_size(names) > max)
		return err_set(err, ERR_INVALID, "%zu uploaded blobs named, at most %zu",
			json_array_size(names), max);
	json_array_foreach(names, i, v) {
		const char *want = json_string_value(v);
		struct upload *u = find(*list, job, epoch, (int64_t)i);
		char path[DATADIR_PATH_MAX];
		if (!u || !u->done || strcmp(u->sha256, want) != 0) {
			err_set(err, ERR_INVALID, "uploads[%zu]: blob %s was not uploaded whole", i, want);
			goto fail;
		}
		frames[i].data = NULL;
		frames[i].size = 0;
		if (nonfinite)
			nonfinite[i] = u->nonfinite;
		if (u->size > 0) {
			if (blobs_result_path(d, u->name, path, sizeof path, err) < 0)
				goto fail;
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			void *p = fd < 0 ? MAP_FAILED :
				mmap(NULL, (size_t)u->size, PROT_READ, MAP_SHARED, fd, 0);
			int saved = errno;
			if (fd >= 0)
				close(fd);
			if (p == MAP_FAILED) {
				err_sys(err, saved, "cannot read '%s'", path);
				goto fail;
			}
			frames[i].data = p;
			frames[i].size = (size_t)u->size;
		}
		*n = i + 1;
	}
	return 0;
fail:
	uploads_unmap(frames, *n);
	*n = 0;
	return -1;
}

void uploads_forget(struct daemon *d, struct upload **list, int64_t job, int64_t epoch,
	int keep)
{
	for (struct upload *u = *list, *next; u; u = next) {
		next = u->next;
		if (u->job == job && u->epoch == epoch)
			drop(d, list, u, keep);
	}
}

void uploads_drop_all(struct daemon *d, struct upload **list)
{
	while (*list)
		drop(d, list, *list, 0);
}

void uploads_free(struct upload **list)
{
	while (*list) {
		struct upload *u = *list;
		*list = u->next;
		release(NULL, u, 1);
	}
}
