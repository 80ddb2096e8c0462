/* workers/upload.h: the PUT/ACK state machine, driven by hand as the daemon would. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "upload.h"

static void free_blob(void *data, void *hint)
{
	(void)hint;
	free(data);
}

/* A RESULT for job 7 epoch 2 owning blobs of the given sizes (bytes i*31 % 251), their
 * sha256s in sha[]. */
static void result_of(struct msg *r, const size_t *sizes, size_t n,
	char (*sha)[SHA256_HEX_SIZE])
{
	msg_init(r, PROTO_RESULT);
	r->header = json_pack("{sI sI s{si}}", "job", (json_int_t)7, "epoch", (json_int_t)2,
		"result", "loss", 1);
	r->blob_free = free_blob;
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = malloc(sizes[i] ? sizes[i] : 1);
		for (size_t k = 0; k < sizes[i]; k++)
			p[k] = (unsigned char)(k * 31 % 251);
		sha256_buffer(p, sizes[i], sha[i]);
		msg_add_blob(r, p, sizes[i], NULL);
	}
}

/* The daemon's ACK for `put`: bytes held after it. */
static void ack_for(struct msg *ack, const struct msg *put, const char *error)
{
	msg_init(ack, PROTO_ACK);
	ack->header = json_pack("{sI sI sI sI}", "job", (json_int_t)msg_uint(put, "job"), "epoch",
		(json_int_t)msg_uint(put, "epoch"), "index", (json_int_t)msg_uint(put, "index"),
		"offset", (json_int_t)(error ? 0 : msg_uint(put, "offset") +
		(int64_t)put->blobs[0].size));
	if (error)
		json_object_set_new(ack->header, "error", json_string(error));
}

static void test_upload__pieces_in_order_window_then_result(void)
{
	static const size_t sizes[] = { 10000, 0, 4096 };
	char sha[3][SHA256_HEX_SIZE];
	struct msg r, puts[64], result;
	struct upload u;
	struct err e = { 0 };
	result_of(&r, sizes, 3, sha);
	upload_begin(&u, &r, (const char (*)[SHA256_HEX_SIZE])sha, 1, 4096);
	CHECK(r.header == NULL && r.nblobs == 0); /* moved */

	/* a window of 4 goes out, then nothing until an ACK */
	size_t n = 0;
	while (upload_next(&u, &puts[n]))
		n++;
	CHECK(n == PROTO_UPLOAD_WINDOW);
	/* blob 0 in 4096, 4096, 1808; blob 1 one empty piece; blob 2 one of 4096 */
	CHECK(msg_uint(&puts[0], "offset") == 0 && puts[0].blobs[0].size == 4096);
	CHECK(msg_uint(&puts[2], "offset") == 8192 && puts[2].blobs[0].size == 1808);
	CHECK(msg_uint(&puts[3], "index") == 1 && puts[3].blobs[0].size == 0);
	CHECK(msg_uint(&puts[0], "size") == 10000 && strcmp(msg_str(&puts[0], "sha256"), sha[0]) == 0);
	char check[SHA256_HEX_SIZE];
	sha256_buffer(puts[2].blobs[0].data, puts[2].blobs[0].size, check);
	CHECK(strcmp(msg_str(&puts[2], "check"), check) == 0);

	/* an ACK of another job is not ours; one out of order is an error */
	struct msg ack;
	msg_init(&ack, PROTO_ACK);
	ack.header = json_pack("{sI sI sI sI}", "job", (json_int_t)8, "epoch", (json_int_t)2,
		"index", (json_int_t)0, "offset", (json_int_t)4096);
	CHECK(upload_ack(&u, &ack, &e) == 2);
	msg_release(&ack);

	int rc = 0;
	for (size_t k = 0; k < PROTO_UPLOAD_WINDOW; k++) {
		ack_for(&ack, &puts[k], NULL);
		rc = upload_ack(&u, &ack, &e);
		CHECK_MSG(rc == 0, "%s", e.msg);
		msg_release(&ack);
		if (upload_next(&u, &puts[n]))
			n++;
	}
	CHECK(n == 5);
	CHECK(msg_uint(&puts[4], "index") == 2 && puts[4].blobs[0].size == 4096);
	CHECK(!upload_next(&u, &puts[n])); /* all sent */
	ack_for(&ack, &puts[4], NULL);
	CHECK(upload_ack(&u, &ack, &e) == 1);
	msg_release(&ack);

	upload_finish(&u, &result);
	CHECK(!u.active && result.cmd == PROTO_RESULT && result.nblobs == 0);
	json_t *names = json_object_get(result.header, "uploads");
	CHECK(json_array_size(names) == 3);
	for (size_t i = 0; i < 3; i++)
		CHECK(strcmp(json_string_value(json_array_get(names, i)), sha[i]) == 0);
	CHECK(msg_uint(&result, "job") == 7);
	msg_release(&result);
	for (size_t k = 0; k < n; k++)
		msg_release(&puts[k]);
}

static void test_upload__a_refused_or_wrong_ack_ends_it(void)
{
	static const size_t sizes[] = { 9000 };
	char sha[1][SHA256_HEX_SIZE];
	struct msg r, put, ack;
	struct upload u;
	struct err e = { 0 };

	result_of(&r, sizes, 1, sha);
	upload_begin(&u, &r, (const char (*)[SHA256_HEX_SIZE])sha, 1, 4096);
	CHECK(upload_next(&u, &put));
	ack_for(&ack, &put, "the lease is not current");
	CHECK(upload_ack(&u, &ack, &e) == -1);
	CHECK_MSG(strstr(e.msg, "the lease is not current") && strstr(e.msg, "job 7"), "%s", e.msg);
	msg_release(&ack);
	msg_release(&put);
	upload_abort(&u);
	CHECK(!u.active);
	upload_abort(&u); /* harmless twice */

	/* an ACK claiming more bytes than the piece carried */
	result_of(&r, sizes, 1, sha);
	upload_begin(&u, &r, (const char (*)[SHA256_HEX_SIZE])sha, 1, 4096);
	CHECK(upload_next(&u, &put));
	msg_init(&ack, PROTO_ACK);
	ack.header = json_pack("{sI sI sI sI}", "job", (json_int_t)7, "epoch", (json_int_t)2,
		"index", (json_int_t)0, "offset", (json_int_t)9000);
	CHECK(upload_ack(&u, &ack, &e) == -1 && e.code == ERR_FORMAT);
	CHECK_MSG(strstr(e.msg, "expected blob 0 offset 4096"), "%s", e.msg);
	msg_release(&ack);
	msg_release(&put);
	upload_abort(&u);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_upload__pieces_in_order_window_then_result),
		TEST(test_upload__a_refused_or_wrong_ack_ends_it),
		{ 0 },
	});
}
