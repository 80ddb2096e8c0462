#include "upload.h"

#include <string.h>

void upload_begin(struct upload *u, struct msg *reply,
	const char (*sha256)[SHA256_HEX_SIZE], uint64_t session, size_t chunk)
{
	memset(u, 0, sizeof *u);
	u->reply = *reply;
	memset(reply, 0, sizeof *reply);
	u->job = msg_uint(&u->reply, "job");
	u->epoch = msg_uint(&u->reply, "epoch");
	u->session = session;
	u->chunk = chunk;
	memcpy(u->sha256, sha256, u->reply.nblobs * sizeof u->sha256[0]);
	u->active = 1;
}

/* The bytes of the piece of blob `b` at `off`. */
static size_t piece_size(const struct upload *u, size_t b, int64_t off)
{
	size_t left = u->reply.blobs[b].size - (size_t)off;
	return left < u->chunk ? left : u->chunk;
}

int upload_next(struct upload *u, struct msg *put)
{
	if (!u->active || u->inflight >= PROTO_UPLOAD_WINDOW || u->send_blob >= u->reply.nblobs)
		return 0;
	const struct msg_frame *blob = &u->reply.blobs[u->send_blob];
	size_t n = piece_size(u, u->send_blob, u->send_off);
	const char *data = blob->data ? (const char *)blob->data + u->send_off : NULL;
	char check[SHA256_HEX_SIZE];
	sha256_buffer(data, n, check);
	msg_init(put, PROTO_PUT);
	put->header = json_pack("{sI sI sI sI sI ss ss}", "job", (json_int_t)u->job, "epoch",
		(json_int_t)u->epoch, "index", (json_int_t)u->send_blob, "offset",
		(json_int_t)u->send_off, "size", (json_int_t)blob->size, "sha256",
		u->sha256[u->send_blob], "check", check);
	msg_add_blob(put, data, n, NULL);
	u->send_off += (int64_t)n;
	if ((size_t)u->send_off >= blob->size) {
		u->send_blob++;
		u->send_off = 0;
	}
	u->inflight++;
	u->pieces++;
	return 1;
}

int upload_ack(struct upload *u, const struct msg *ack, struct err *err)
{
	if (!u->active || msg_uint(ack, "job") != u->job || msg_uint(ack, "epoch") != u->epoch)
		return 2;
	const char *problem = msg_str(ack, "error");
	if (problem)
		return err_set(err, ERR_IO, "daemon dropped the upload of job %lld: %s",
			(long long)u->job, problem);
	if (u->ack_blob >= u->reply.nblobs || u->inflight <= 0)
		return err_set(err, ERR_FORMAT, "ACK for job %lld with nothing in flight",
			(long long)u->job);
	int64_t want = u->ack_off + (int64_t)piece_size(u, u->ack_blob, u->ack_off);
	if (msg_uint(ack, "index") != (int64_t)u->ack_blob || msg_uint(ack, "offset") != want)
		return err_set(err, ERR_FORMAT, "ACK for job %lld at blob %lld offset %lld, expected "
			"blob %zu offset %lld", (long long)u->job, (long long)msg_uint(ack, "index"),
			(long long)msg_uint(ack, "offset"), u->ack_blob, (long long)want);
	u->inflight--;
	u->ack_off = want;
	if ((size_t)u->ack_off >= u->reply.blobs[u->ack_blob].size) {
		u->ack_blob++;
		u->ack_off = 0;
	}
	return u->ack_blob == u->reply.nblobs ? 1 : 0;
}

/* Free the RESULT's blobs (owned, as the runtime builds it). */
static void free_blobs(struct msg *m)
{
	for (size_t i = 0; i < m->nblobs; i++)
		if (m->blob_free)
			m->blob_free((void *)m->blobs[i].data, m->blob_hint);
	m->nblobs = 0;
	m->blob_free = NULL;
}

void upload_finish(struct upload *u, struct msg *result)
{
	json_t *names = json_array();
	for (size_t i = 0; i < u->reply.nblobs; i++)
		json_array_append_new(names, json_string(u->sha256[i]));
	if (u->reply.header)
		json_object_set_new(u->reply.header, "uploads", names);
	else
		json_decref(names);
	free_blobs(&u->reply);
	*result = u->reply;
	memset(&u->reply, 0, sizeof u->reply);
	u->active = 0;
}

void upload_abort(struct upload *u)
{
	if (u->active)
		msg_release(&u->reply);
	u->active = 0;
}
