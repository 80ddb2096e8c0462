#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sock.h"
#include "test.h"
#include "testdir.h"

/* ---- helpers ---- */

static void endpoint(char *out, size_t size, const char *name)
{
	CHECK(snprintf(out, size, "ipc://%s/%s", testdir, name) < (int)size);
}

static int get_int(void *s, int option)
{
	int v = -12345;
	size_t len = sizeof v;
	CHECK(zmq_getsockopt(s, option, &v, &len) == 0);
	return v;
}

/* Wait up to `ms` for `s` to be readable. */
static int readable(void *s, int ms)
{
	zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
	return zmq_poll(&item, 1, ms) > 0;
}

static void recv_ok(void *s, struct sock_msg *in, enum proto_dir dir)
{
	struct err e = { 0 };
	CHECK_MSG(readable(s, 5000), "nothing arrived");
	CHECK_MSG(sock_recv(s, in, dir, 0, &e) == 0, "%s", e.msg);
}

static void send_ready(void *dealer, const char *name)
{
	struct msg m;
	struct err e;
	msg_init(&m, PROTO_READY);
	m.header = json_pack("{ss s[s]}", "name", name, "kinds", "probe");
	CHECK_MSG(sock_send(dealer, NULL, &m, 0, &e) == 0, "%s", e.msg);
	msg_release(&m);
}

/* Send raw frames, bypassing the encoder, as a rogue peer would. */
static void send_raw(void *s, const struct msg_frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK(zmq_send(s, f[i].data, f[i].size, i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

static atomic_int blob_frees;

static void count_free(void *data, void *hint)
{
	(void)hint;
	atomic_fetch_add(&blob_frees, 1);
	free(data);
}

/* ---- tests ---- */

static void test_sock__options_are_set(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *router = sock_open(ctx, ZMQ_ROUTER, NULL, &e);
	void *dealer = sock_open(ctx, ZMQ_DEALER, &(struct sock_opts){ .max_frame_size = 4096,
		.reconnect_ms = 250, .sndhwm = 7 }, &e);
	CHECK(router && dealer);
	CHECK(get_int(router, ZMQ_LINGER) == 0 && get_int(dealer, ZMQ_LINGER) == 0);
	CHECK(get_int(router, ZMQ_TCP_KEEPALIVE) == 1 && get_int(router, ZMQ_TCP_KEEPALIVE_IDLE) == 30);
	CHECK(get_int(dealer, ZMQ_IMMEDIATE) == 1 && get_int(router, ZMQ_IMMEDIATE) == 0);
	CHECK(get_int(router, ZMQ_RECONNECT_IVL) == PROTO_RECONNECT_MS);
	CHECK(get_int(dealer, ZMQ_RECONNECT_IVL) == 250);
	CHECK(get_int(dealer, ZMQ_RECONNECT_IVL_MAX) == PROTO_RECONNECT_MAX_MS);
	CHECK(get_int(dealer, ZMQ_SNDHWM) == 7);
	int64_t max = 0;
	size_t len = sizeof max;
	CHECK(zmq_getsockopt(router, ZMQ_MAXMSGSIZE, &max, &len) == 0 && max == PROTO_MAX_FRAME_SIZE);
	CHECK(zmq_getsockopt(dealer, ZMQ_MAXMSGSIZE, &max, &len) == 0 && max == 4096);
	sock_close(&router);
	sock_close(&dealer);
	CHECK(router == NULL && dealer == NULL);
	sock_close(&router); /* closing twice is a no-op */
	CHECK(sock_open(ctx, 9999, NULL, &e) == NULL && strstr(e.msg, "cannot create unknown socket"));
	zmq_ctx_term(ctx);
}

static void test_sock__bind_and_connect_errors_name_the_endpoint(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *s = sock_open(ctx, ZMQ_ROUTER, NULL, &e);
	CHECK(sock_bind(s, "ipc:///nonexistent-dir/x.sock", &e) == -1);
	CHECK(strstr(e.msg, "cannot bind to 'ipc:///nonexistent-dir/x.sock': "));
	CHECK(sock_connect(s, "bogus://x", &e) == -1 && strstr(e.msg, "cannot connect to 'bogus://x'"));
	sock_close(&s);
	zmq_ctx_term(ctx);
}

static void test_sock__dealer_router_round_trip(void)
{
	testdir_new_short("r1sock");
	char ep[300];
	endpoint(ep, sizeof ep, "workers.sock");
	void *ctx = zmq_ctx_new();
	struct err e;
	void *router = sock_open(ctx, ZMQ_ROUTER, NULL, &e);
	void *dealer = sock_open(ctx, ZMQ_DEALER, NULL, &e);
	CHECK(sock_bind(router, ep, &e) == 0 && sock_connect(dealer, ep, &e) == 0);

	send_ready(dealer, "w1");
	struct sock_msg *in = malloc(sizeof *in);
	recv_ok(router, in, PROTO_W2D);
	CHECK(in->msg.cmd == PROTO_READY && in->envelope.size > 0);
	CHECK(strcmp(msg_str(&in->msg, "name"), "w1") == 0);
	CHECK(in->nparts == 4);

	/* answer with a JOB carrying a big owned blob (zero-copy) and a small borrowed one */
	size_t big = 8u << 20;
	unsigned char *payload = malloc(big);
	for (size_t i = 0; i < big; i++)
		payload[i] = (unsigned char)(i * 31 + 7);
	struct msg job;
	msg_init(&job, PROTO_JOB);
	job.header = json_pack("{sI sI ss s{}}", "job", (json_int_t)5, "epoch", (json_int_t)1,
		"kind", "probe", "params");
	job.blob_free = count_free;
	CHECK(msg_add_blob(&job, payload, big, &e) == 0);
	unsigned char *small = malloc(3);
	memcpy(small, "abc", 3);
	CHECK(msg_add_blob(&job, small, 3, &e) == 0);
	struct msg_frame id = in->envelope;
	CHECK(sock_send(router, &id, &job, 0, &e) == 0);
	CHECK(job.nblobs == 0); /* the blobs went to libzmq */
	msg_release(&job);
	sock_msg_release(in);

	recv_ok(dealer, in, PROTO_D2W);
	CHECK(in->msg.cmd == PROTO_JOB && in->envelope.size == 0);
	CHECK(msg_uint(&in->msg, "job") == 5 && msg_uint(&in->msg, "epoch") == 1);
	CHECK(in->msg.nblobs == 2 && in->msg.blobs[0].size == big && in->msg.blobs[1].size == 3);
	const unsigned char *got = in->msg.blobs[0].data;
	for (size_t i = 0; i < big; i += 4099)
		CHECK(got[i] == (unsigned char)(i * 31 + 7));
	CHECK(memcmp(in->msg.blobs[1].data, "abc", 3) == 0);
	CHECK(in->bytes > big);
	sock_msg_release(in);
	sock_msg_release(in); /* twice is harmless */
	free(in);

	sock_close(&dealer);
	sock_close(&router);
	zmq_ctx_term(ctx); /* waits until libzmq has freed everything it held */
	CHECK(atomic_load(&blob_frees) == 2);
	testdir_done();
}

static void test_sock__router_refuses_unknown_peer(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *router = sock_open(ctx, ZMQ_ROUTER, NULL, &e);
	CHECK(sock_bind(router, "inproc://r", &e) == 0);
	struct msg m;
	msg_init(&m, PROTO_HEARTBEAT);
	m.blob_free = count_free;
	struct msg_frame nobody = { "nobody", 6 };
	CHECK(sock_send(router, &nobody, &m, ZMQ_DONTWAIT, &e) == -1);
	CHECK(errno == EHOSTUNREACH);
	CHECK_MSG(strstr(e.msg, "cannot send HEARTBEAT: "), "%s", e.msg);
	msg_release(&m);

	/* an owned blob is freed even when the send fails */
	msg_init(&m, PROTO_CHUNK);
	m.header = json_pack("{ss sI}", "sha256",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "offset",
		(json_int_t)0);
	m.blob_free = count_free;
	CHECK(msg_add_blob(&m, malloc(100), 100, &e) == 0);
	CHECK(sock_send(router, &nobody, &m, ZMQ_DONTWAIT, &e) == -1 && errno == EHOSTUNREACH);
	CHECK(m.nblobs == 0);
	msg_release(&m);
	sock_close(&router);
	zmq_ctx_term(ctx);
	CHECK(atomic_load(&blob_frees) == 1);
}

static void test_sock__send_refuses_a_message_that_does_not_encode(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *dealer = sock_open(ctx, ZMQ_DEALER, NULL, &e);
	struct msg m;
	msg_init(&m, PROTO_RESULT); /* no job, no epoch */
	m.blob_free = count_free;
	CHECK(msg_add_blob(&m, malloc(10), 10, &e) == 0);
	CHECK(sock_send(dealer, NULL, &m, ZMQ_DONTWAIT, &e) == -1 && errno == EINVAL);
	CHECK(strstr(e.msg, "field 'job' is missing") && m.nblobs == 0);
	CHECK(atomic_load(&blob_frees) == 1);
	msg_release(&m);
	sock_close(&dealer);
	zmq_ctx_term(ctx);
}

static void test_sock__recv_without_message_reports_transport(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *router = sock_open(ctx, ZMQ_ROUTER, NULL, &e);
	CHECK(sock_bind(router, "inproc://empty", &e) == 0);
	struct sock_msg in;
	CHECK(sock_recv(router, &in, PROTO_W2D, ZMQ_DONTWAIT, &e) == -1);
	CHECK(errno == EAGAIN && in.msg.fault == MSG_OK && in.nparts == 0);
	sock_msg_release(&in);
	sock_close(&router);
	zmq_ctx_term(ctx);
}

static void test_sock__malformed_messages_are_drained_whole(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *router = sock_open(ctx, ZMQ_ROUTER, NULL, &e);
	void *rogue = zmq_socket(ctx, ZMQ_DEALER);
	CHECK(sock_bind(router, "inproc://w", &e) == 0 && zmq_connect(rogue, "inproc://w") == 0);

	/* 40 frames: over the limit; must be read to the end, not left half-read */
	struct msg_frame f[40];
	for (int i = 0; i < 40; i++)
		f[i] = (struct msg_frame){ "R1FW1", 5 };
	send_raw(rogue, f, 40);
	/* then another version, then garbage, then a good one */
	send_raw(rogue, (struct msg_frame[]){ { "R1FW9", 5 }, { "HEARTBEAT", 9 }, { "{}", 2 } }, 3);
	send_raw(rogue, (struct msg_frame[]){ { "\x00\x01", 2 } }, 1);
	send_raw(rogue, (struct msg_frame[]){ { "R1FW1", 5 }, { "HEARTBEAT", 9 }, { "{}", 2 } }, 3);

	struct sock_msg in;
	CHECK(readable(router, 5000));
	CHECK(sock_recv(router, &in, PROTO_W2D, 0, &e) == -1);
	CHECK(in.msg.fault == MSG_FAULT_FRAMES && strstr(e.msg, "41 frames") == NULL);
	CHECK_MSG(strstr(e.msg, "40 frames (limit 32)"), "%s", e.msg);
	CHECK(in.envelope.size > 0);
	sock_msg_release(&in);

	CHECK(readable(router, 5000));
	CHECK(sock_recv(router, &in, PROTO_W2D, 0, &e) == -1 && in.msg.fault == MSG_FAULT_VERSION);
	CHECK(in.envelope.size > 0);
	/* the daemon's answer to a wrong version: DISCONNECT with the reason */
	struct msg bye;
	msg_init(&bye, PROTO_DISCONNECT);
	bye.header = json_pack("{ss}", "reason", e.msg);
	struct msg_frame id = in.envelope;
	CHECK(sock_send(router, &id, &bye, ZMQ_DONTWAIT, &e) == 0);
	msg_release(&bye);
	sock_msg_release(&in);
	char buf[256];
	int n = zmq_recv(rogue, buf, sizeof buf, 0);
	CHECK(n == 5 && memcmp(buf, "R1FW1", 5) == 0);
	n = zmq_recv(rogue, buf, sizeof buf, 0);
	CHECK(n == 10 && memcmp(buf, "DISCONNECT", 10) == 0);
	n = zmq_recv(rogue, buf, sizeof buf - 1, 0);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK_MSG(strstr(buf, "unsupported protocol version 'R1FW9'"), "%s", buf);

	CHECK(readable(router, 5000));
	CHECK(sock_recv(router, &in, PROTO_W2D, 0, &e) == -1 && in.msg.fault == MSG_FAULT_PROTOCOL);
	sock_msg_release(&in);

	recv_ok(router, &in, PROTO_W2D);
	CHECK(in.msg.cmd == PROTO_HEARTBEAT);
	sock_msg_release(&in);

	zmq_close(rogue);
	sock_close(&router);
	zmq_ctx_term(ctx);
}

static void test_sock__oversized_frame_drops_only_that_peer(void)
{
	testdir_new_short("r1sock");
	char ep[300];
	endpoint(ep, sizeof ep, "w.sock");
	void *ctx = zmq_ctx_new();
	struct err e;
	void *router = sock_open(ctx, ZMQ_ROUTER, &(struct sock_opts){ .max_frame_size = 1024 }, &e);
	void *rogue = sock_open(ctx, ZMQ_DEALER, NULL, &e);
	void *good = sock_open(ctx, ZMQ_DEALER, NULL, &e);
	CHECK(sock_bind(router, ep, &e) == 0);
	CHECK(sock_connect(rogue, ep, &e) == 0 && sock_connect(good, ep, &e) == 0);

	char *blob = calloc(1, 4096);
	struct msg big;
	msg_init(&big, PROTO_RESULT);
	big.header = json_pack("{sI sI}", "job", (json_int_t)1, "epoch", (json_int_t)1);
	CHECK(msg_add_blob(&big, blob, 4096, &e) == 0);
	/* ZMQ_IMMEDIATE: wait until the connection is up before sending */
	for (int i = 0; i < 500 && sock_send(rogue, NULL, &big, ZMQ_DONTWAIT, &e) != 0; i++)
		usleep(10000);
	msg_release(&big);
	free(blob);
	send_ready(good, "good");

	struct sock_msg in;
	recv_ok(router, &in, PROTO_W2D);
	CHECK(in.msg.cmd == PROTO_READY && strcmp(msg_str(&in.msg, "name"), "good") == 0);
	sock_msg_release(&in);
	CHECK(!readable(router, 200)); /* the oversized message never arrived */

	sock_close(&rogue);
	sock_close(&good);
	sock_close(&router);
	zmq_ctx_term(ctx);
	testdir_done();
}

static void test_sock__pub_sub_carries_the_topic(void)
{
	void *ctx = zmq_ctx_new();
	struct err e;
	void *pub = sock_open(ctx, ZMQ_PUB, NULL, &e);
	void *sub = sock_open(ctx, ZMQ_SUB, &(struct sock_opts){ .subscribe = "7" }, &e);
	CHECK(sock_bind(pub, "inproc://events", &e) == 0);
	CHECK(sock_connect(sub, "inproc://events", &e) == 0);
	struct msg_frame topic = { "7", 1 }, other = { "8", 1 };
	struct sock_msg in;
	int got = 0;
	/* subscriptions travel asynchronously: publish until one arrives */
	for (int i = 0; i < 500 && !got; i++) {
		struct msg ev;
		msg_init(&ev, PROTO_EVENT);
		ev.header = json_pack("{ss sI}", "type", "step_done", "pipeline", (json_int_t)7);
		CHECK(sock_send(pub, &other, &ev, 0, &e) == 0);
		CHECK(sock_send(pub, &topic, &ev, 0, &e) == 0);
		msg_release(&ev);
		got = readable(sub, 10);
	}
	CHECK(got);
	CHECK(sock_recv(sub, &in, PROTO_D2C, 0, &e) == 0);
	CHECK(in.envelope.size == 1 && memcmp(in.envelope.data, "7", 1) == 0);
	CHECK(in.msg.cmd == PROTO_EVENT && strcmp(msg_str(&in.msg, "type"), "step_done") == 0);
	sock_msg_release(&in);
	sock_close(&sub);
	sock_close(&pub);
	zmq_ctx_term(ctx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_sock__options_are_set),
		TEST(test_sock__bind_and_connect_errors_name_the_endpoint),
		TEST(test_sock__dealer_router_round_trip),
		TEST(test_sock__router_refuses_unknown_peer),
		TEST(test_sock__send_refuses_a_message_that_does_not_encode),
		TEST(test_sock__recv_without_message_reports_transport),
		TEST(test_sock__malformed_messages_are_drained_whole),
		TEST(test_sock__oversized_frame_drops_only_that_peer),
		TEST(test_sock__pub_sub_carries_the_topic),
		{ 0 } });
}
