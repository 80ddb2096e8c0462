/*
 * rogue — a hostile peer for the fault tests: floods a daemon's worker socket with
 * messages that are malformed or unexpected, then sends one frame over the size
 * limit.
 *
 *   rogue DIR|ENDPOINT N [SEED]
 *
 * Sends N messages from one DEALER, cycling through twelve kinds (random frames,
 * unknown or misdirected commands, bad JSON, non-object headers, missing fields,
 * another r1flow version, nesting past the depth cap, too many frames, and
 * well-formed HEARTBEAT / RESULT / bad-kinds READY from a peer that never
 * registered). Each lands in exactly one of the daemon's counters: msgs_<fault>,
 * msgs_unknown_peer or workers_refused — so the test can check that all N were
 * counted. It never sends a valid READY or DISCONNECT; the last message is a
 * refused READY whose answer tells the rogue that the daemon has read them all.
 * Then a second DEALER sends
 * one frame of PROTO_MAX_FRAME_SIZE + 1 bytes, which libzmq on the daemon's side
 * refuses by closing that connection (ZMQ_MAXMSGSIZE).
 *
 * Deterministic for a given SEED (default 1). Exit status 0 when the daemon has
 * read the N messages, 1 if it did not answer the last one, 2 on a usage error.
 *
 *   rogue --mute DIR exit|silent
 *
 * plays a daemon that never answers: binds ipc://DIR/control.sock, prints
 * "listening", reads one request and then exits at once, closing the connection
 * (exit: a daemon that dies while answering), or keeps silent until killed (silent:
 * a daemon that hangs), so the CLI's two messages for these can be told apart.
 *
 *   rogue DIR|ENDPOINT worker NAME KINDS RESULT
 *
 * A worker with a bug: READY as NAME for KINDS (comma-separated), then every JOB is
 * answered at once with RESULT (JSON object text) as its result, and a line "job ID
 * KIND" is printed; HEARTBEATs every 300 ms. Runs until killed; exit 1 if the
 * daemon sends DISCONNECT (printed).
 *
 *   rogue DIR|ENDPOINT ready NAME HOST PID
 *
 * An impersonator: one READY claiming NAME, HOST and PID (what `r1flow workers`
 * shows of a live worker), kinds ["probe"]; prints the daemon's first answer as
 * "CMD HEADER" (or "no answer" after 3 s) and exits 0.
 *
 *   rogue DIR|ENDPOINT uploader NAME
 *
 * A worker whose uploads (PUT) are wrong: READY as NAME for ["probe"], and on its
 * first JOB it sends, each time waiting for the ACK and printing it as "ACK HEADER":
 * (1) a piece whose `check` is not its sha256; (2) a piece for the next epoch (a
 * lease it does not hold); (3) a good first piece, then one at the wrong offset;
 * (4) a whole blob in two pieces that does not hash to its `sha256`. Then a RESULT
 * whose `uploads` names a blob never uploaded, and it exits 0 (1: an ACK did not
 * come within 5 s).
 *
 *   rogue DIR|ENDPOINT twice NAME
 *
 * A worker that gives up on its connection and announces itself on a second one
 * while the daemon still holds the first: READY as NAME with token T on
 * connection A, then on B with T again, then on C with another token. Prints "B
 * accepted" or "B refused HEADER", and the same for C (accepted: no DISCONNECT
 * within 1.5 s), then exits 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>

#include "proto.h"
#include "sha256.h"

static uint64_t rng_state;

static uint32_t next(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

static void send_frames(void *s, const char *const *frames, const size_t *sizes, int n)
{
	for (int i = 0; i < n; i++)
		zmq_send(s, frames[i], sizes[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

/* One text-framed message: up to 40 frames given as C strings. */
static void send_text(void *s, int n, const char **frames)
{
	size_t sizes[64];
	for (int i = 0; i < n; i++)
		sizes[i] = strlen(frames[i]);
	send_frames(s, frames, sizes, n);
}

static void send_random(void *s)
{
	char bufs[8][64];
	const char *frames[8];
	size_t sizes[8];
	int n = 1 + (int)(next() % 8);
	for (int i = 0; i < n; i++) {
		sizes[i] = next() % 64;
		for (size_t j = 0; j < sizes[i]; j++)
			bufs[i][j] = (char)next();
		if (i == 0 && sizes[0] && bufs[0][0] == 'R')
			bufs[0][0] = 'x'; /* never an r1flow version by chance */
		frames[i] = bufs[i];
	}
	send_frames(s, frames, sizes, n);
}

static void send_kind(void *s, int kind)
{
	const char *f[40];
	char deep[128];
	switch (kind) {
	case 0: send_random(s); break;
	case 1: send_text(s, 3, (const char *[]){ PROTO_WORKER, "BOGUS", "{}" }); break;
	case 2: send_text(s, 3, (const char *[]){ PROTO_WORKER, "JOB", "{}" }); break;
	case 3: send_text(s, 3, (const char *[]){ PROTO_WORKER, "RESULT", "{\"job\":" }); break;
	case 4: send_text(s, 3, (const char *[]){ PROTO_WORKER, "RESULT", "[1,2]" }); break;
	case 5: send_text(s, 3, (const char *[]){ PROTO_WORKER, "RESULT", "{\"job\":1}" }); break;
	case 6: send_text(s, 3, (const char *[]){ "R1FW9", "READY", "{}" }); break;
	case 7: /* {"x":[[[...]]]} nested past PROTO_MAX_DEPTH */
		memcpy(deep, "{\"x\":", 5);
		for (int i = 0; i < 40; i++)
			deep[5 + i] = '[', deep[5 + 79 - i] = ']';
		memcpy(deep + 85, "}", 2);
		send_text(s, 3, (const char *[]){ PROTO_WORKER, "HEARTBEAT", deep });
		break;
	case 8: /* more frames than PROTO_MAX_FRAMES */
		f[0] = PROTO_WORKER, f[1] = "RESULT", f[2] = "{\"job\":1,\"epoch\":1}";
		for (int i = 3; i < 40; i++)
			f[i] = "b";
		send_text(s, 40, f);
		break;
	case 9: send_text(s, 3, (const char *[]){ PROTO_WORKER, "HEARTBEAT", "{}" }); break;
	case 10:
		send_text(s, 3, (const char *[]){ PROTO_WORKER, "READY",
			"{\"name\":\"rogue\",\"kinds\":[\"Not A Kind\"]}" });
		break;
	default:
		send_text(s, 3, (const char *[]){ PROTO_WORKER, "RESULT",
			"{\"job\":1,\"epoch\":1,\"result\":{}}" });
		break;
	}
}

/* The mute daemon of --mute: 0 after the request (exit), or never returns. */
static int mute(const char *dir, const char *how)
{
	char endpoint[4200];
	snprintf(endpoint, sizeof endpoint, "ipc://%s/control.sock", dir);
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_ROUTER);
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_bind(s, endpoint) != 0) {
		fprintf(stderr, "rogue: cannot bind '%s': %s\n", endpoint, zmq_strerror(zmq_errno()));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	char frame[256];
	int more = 1;
	size_t more_size = sizeof more;
	while (more) { /* one whole request */
		if (zmq_recv(s, frame, sizeof frame, 0) < 0)
			return 1;
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &more_size);
	}
	printf("got a request\n");
	fflush(stdout);
	if (strcmp(how, "exit") == 0)
		_exit(0); /* like a crash: no goodbye, the kernel closes the socket */
	for (;;)
		pause();
}

/* Send one R1FW1 message with the JSON header `h` (taken). */
static void send_json(void *s, const char *cmd, json_t *h)
{
	char *text = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	send_text(s, 3, (const char *[]){ PROTO_WORKER, cmd, text ? text : "{}" });
	free(text);
}

/* Receive one message within `ms`: 1 with its command and header (frames after it
 * dropped), 0 if none came. */
static int recv_one(void *s, int ms, char *cmd, size_t cmd_size, char *header, size_t h_size)
{
	zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
	if (zmq_poll(&item, 1, ms) <= 0)
		return 0;
	char *bufs[3] = { NULL, cmd, header };
	size_t sizes[3] = { 0, cmd_size, h_size };
	char version[16];
	bufs[0] = version;
	sizes[0] = sizeof version;
	int more = 1;
	*cmd = *header = '\0';
	for (int i = 0; more; i++) {
		char sink[64];
		char *b = i < 3 ? bufs[i] : sink;
		size_t cap = i < 3 ? sizes[i] : sizeof sink;
		int got = zmq_recv(s, b, cap - 1, 0);
		if (got < 0)
			return 0;
		b[(size_t)got < cap - 1 ? (size_t)got : cap - 1] = '\0';
		size_t len = sizeof more;
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
	}
	return 1;
}

static int rogue_worker(void *s, const char *name, const char *kinds, const char *result)
{
	json_error_t jerr;
	json_t *answer = json_loads(result, 0, &jerr), *k = json_array();
	if (!json_is_object(answer)) {
		fprintf(stderr, "rogue: RESULT must be a JSON object: %s\n", result);
		return 2;
	}
	char *list = strdup(kinds);
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(k, json_string(t));
	free(list);
	send_json(s, "READY", json_pack("{ss so ss si si}", "name", name, "kinds", k, "host",
		"rogue", "pid", (int)getpid(), "slots", 1));
	static char header[8 << 20];
	char cmd[32];
	for (;;) {
		if (!recv_one(s, 300, cmd, sizeof cmd, header, sizeof header)) {
			send_json(s, "HEARTBEAT", json_pack("{s[]}", "jobs"));
			continue;
		}
		if (strcmp(cmd, "DISCONNECT") == 0) {
			printf("DISCONNECT %s\n", header);
			return 1;
		}
		if (strcmp(cmd, "JOB") != 0)
			continue;
		json_t *job = json_loads(header, 0, &jerr);
		json_int_t id = json_integer_value(json_object_get(job, "job"));
		printf("job %lld %s\n", (long long)id,
			json_string_value(json_object_get(job, "kind")));
		fflush(stdout);
		send_json(s, "RESULT", json_pack("{sI sO sO}", "job", id, "epoch",
			json_object_get(job, "epoch"), "result", answer));
		json_decref(job);
	}
}

/* One PUT of `piece` (n bytes) at `offset` of a blob of `size` bytes named `sha`,
 * `check` its claimed sha256 (NULL: the true one); then the ACK printed. 0, or -1 if
 * none came. */
static int put_and_ack(void *s, json_int_t job, json_int_t epoch, json_int_t offset,
	json_int_t size, const char *sha, const char *piece, size_t n, const char *check)
{
	char real[SHA256_HEX_SIZE], cmd[32], header[4096];
	sha256_buffer(piece, n, real);
	json_t *h = json_pack("{sI sI sI sI sI ss ss}", "job", job, "epoch", epoch, "index",
		(json_int_t)0, "offset", offset, "size", size, "sha256", sha, "check",
		check ? check : real);
	char *text = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	send_frames(s, (const char *const[]){ PROTO_WORKER, "PUT", text, piece },
		(const size_t[]){ strlen(PROTO_WORKER), 3, strlen(text), n }, 4);
	free(text);
	for (int waited = 0; waited < 5000; waited += 300) {
		if (!recv_one(s, 300, cmd, sizeof cmd, header, sizeof header))
			send_json(s, "HEARTBEAT", json_pack("{s[I]}", "jobs", job));
		else if (strcmp(cmd, "ACK") == 0) {
			printf("ACK %s\n", header);
			return 0;
		}
	}
	printf("no ACK\n");
	return -1;
}

static int rogue_uploader(void *s, const char *name)
{
	send_json(s, "READY", json_pack("{ss s[s] ss si si}", "name", name, "kinds", "probe",
		"host", "rogue", "pid", (int)getpid(), "slots", 1));
	static char header[1 << 20];
	char cmd[32], whole[SHA256_HEX_SIZE], other[SHA256_HEX_SIZE];
	json_error_t jerr;
	do {
		if (!recv_one(s, 300, cmd, sizeof cmd, header, sizeof header)) {
			send_json(s, "HEARTBEAT", json_pack("{s[]}", "jobs"));
			*cmd = '\0';
		}
	} while (strcmp(cmd, "JOB") != 0);
	json_t *jobh = json_loads(header, 0, &jerr);
	json_int_t job = json_integer_value(json_object_get(jobh, "job")),
		epoch = json_integer_value(json_object_get(jobh, "epoch"));
	json_decref(jobh);
	printf("job %lld\n", (long long)job);
	sha256_buffer("abcdefgh", 8, whole);
	sha256_buffer("abcdefgX", 8, other);
	if (put_and_ack(s, job, epoch, 0, 8, whole, "abcd", 4, other) < 0 ||
		put_and_ack(s, job, epoch + 1, 0, 8, whole, "abcd", 4, NULL) < 0 ||
		put_and_ack(s, job, epoch, 0, 8, whole, "abcd", 4, NULL) < 0 ||
		put_and_ack(s, job, epoch, 6, 8, whole, "gh", 2, NULL) < 0 ||
		put_and_ack(s, job, epoch, 0, 8, other, "abcd", 4, NULL) < 0 ||
		put_and_ack(s, job, epoch, 4, 8, other, "efgh", 4, NULL) < 0)
		return 1;
	send_json(s, "RESULT", json_pack("{sI sI s{} s[s]}", "job", job, "epoch", epoch, "result",
		"uploads", whole));
	/* the RESULT is read before anything we send after it: a HEARTBEAT's answer-free
	 * round trip is not observable, so give the daemon a moment, then go */
	recv_one(s, 1000, cmd, sizeof cmd, header, sizeof header);
	return 0;
}

static int rogue_ready(void *s, const char *name, const char *host, const char *pid)
{
	send_json(s, "READY", json_pack("{ss s[s] ss sI si}", "name", name, "kinds", "probe",
		"host", host, "pid", (json_int_t)strtoll(pid, NULL, 10), "slots", 1));
	char cmd[32], header[4096];
	if (recv_one(s, 3000, cmd, sizeof cmd, header, sizeof header))
		printf("%s %s\n", cmd, header);
	else
		printf("no answer\n");
	return 0;
}

/* READY as `name` with `token` on a new connection: prints "LABEL accepted" or
 * "LABEL refused HEADER"; the connection is left open in *out. */
static void announce(void *ctx, const char *endpoint, const char *label, const char *name,
	const char *token, void **out)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	zmq_connect(s, endpoint);
	send_json(s, "READY", json_pack("{ss s[s] ss si si ss}", "name", name, "kinds", "probe",
		"host", "rogue", "pid", (int)getpid(), "slots", 1, "token", token));
	char cmd[32], header[4096];
	for (int i = 0; i < 5; i++) {
		if (recv_one(s, 300, cmd, sizeof cmd, header, sizeof header) &&
			strcmp(cmd, "DISCONNECT") == 0) {
			printf("%s refused %s\n", label, header);
			*out = s;
			return;
		}
		send_json(s, "HEARTBEAT", json_pack("{s[]}", "jobs"));
	}
	printf("%s accepted\n", label);
	*out = s;
}

static int rogue_twice(void *ctx, const char *endpoint, const char *name)
{
	void *a, *b, *c;
	announce(ctx, endpoint, "A", name, "0123456789abcdef", &a);
	announce(ctx, endpoint, "B", name, "0123456789abcdef", &b);
	announce(ctx, endpoint, "C", name, "another process", &c);
	zmq_close(a);
	zmq_close(b);
	zmq_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--mute") == 0)
		return mute(argv[2], argv[3]);
	int worker = argc == 6 && strcmp(argv[2], "worker") == 0;
	int ready = argc == 6 && strcmp(argv[2], "ready") == 0;
	int twice = argc == 4 && strcmp(argv[2], "twice") == 0;
	int uploader = argc == 4 && strcmp(argv[2], "uploader") == 0;
	if (!worker && !ready && !twice && !uploader && (argc < 3 || argc > 4)) {
		fprintf(stderr, "usage: rogue DIR|ENDPOINT N [SEED]\n"
			"       rogue --mute DIR exit|silent\n"
			"       rogue DIR|ENDPOINT worker NAME KINDS RESULT\n"
			"       rogue DIR|ENDPOINT ready NAME HOST PID\n"
			"       rogue DIR|ENDPOINT twice NAME\n"
			"       rogue DIR|ENDPOINT uploader NAME\n");
		return 2;
	}
	char endpoint[4200];
	if (strstr(argv[1], "://"))
		snprintf(endpoint, sizeof endpoint, "%s", argv[1]);
	else
		snprintf(endpoint, sizeof endpoint, "ipc://%s/workers.sock", argv[1]);
	if (twice) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		void *ctx = zmq_ctx_new();
		int rc = rogue_twice(ctx, endpoint, argv[3]);
		zmq_ctx_term(ctx);
		return rc;
	}
	if (worker || ready || uploader) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
		int linger = 0;
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
		if (zmq_connect(s, endpoint) != 0) {
			fprintf(stderr, "rogue: cannot connect to '%s': %s\n", endpoint,
				zmq_strerror(zmq_errno()));
			return 1;
		}
		int rc = worker ? rogue_worker(s, argv[3], argv[4], argv[5]) :
			uploader ? rogue_uploader(s, argv[3]) : rogue_ready(s, argv[3], argv[4], argv[5]);
		zmq_close(s);
		zmq_ctx_term(ctx);
		return rc;
	}
	long n = strtol(argv[2], NULL, 10);
	rng_state = argc == 4 ? strtoull(argv[3], NULL, 10) : 1;

	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 5000;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(s, endpoint) != 0) {
		fprintf(stderr, "rogue: cannot connect to '%s': %s\n", endpoint, zmq_strerror(zmq_errno()));
		return 1;
	}
	/* Send while reading the daemon's answers (so none is dropped for want of room),
	 * and make the last message a marker: a READY refused with a reason naming it.
	 * Its answer means the daemon has read everything before it (one connection is
	 * one ordered stream); closing earlier could lose the tail inside libzmq. */
	char marker[96], header[160];
	snprintf(marker, sizeof marker, "marker %llu", (unsigned long long)rng_state);
	snprintf(header, sizeof header, "{\"name\":\"rogue\",\"kinds\":[\"%s\"]}", marker);
	long sent = 0;
	int seen = 0;
	for (int idle = 0; !seen && idle < 300;) {
		zmq_pollitem_t item = { s, 0, (short)(ZMQ_POLLIN | (sent < n ? ZMQ_POLLOUT : 0)), 0 };
		if (zmq_poll(&item, 1, 100) <= 0) {
			idle++;
			continue;
		}
		idle = 0;
		char frame[512];
		int got;
		while ((got = zmq_recv(s, frame, sizeof frame - 1, ZMQ_DONTWAIT)) >= 0) {
			frame[got < (int)sizeof frame - 1 ? got : (int)sizeof frame - 1] = '\0';
			if (strstr(frame, marker))
				seen = 1;
		}
		for (int k = 0; k < 64 && sent < n && (item.revents & ZMQ_POLLOUT); k++, sent++) {
			if (sent == n - 1)
				send_text(s, 3, (const char *[]){ PROTO_WORKER, "READY", header });
			else
				send_kind(s, (int)(sent % 12));
		}
	}
	if (!seen)
		fprintf(stderr, "rogue: no answer to the last message within 30 s of quiet\n");
	zmq_close(s);

	/* one frame over the limit, on its own connection */
	void *big = zmq_socket(ctx, ZMQ_DEALER);
	linger = 2000;
	zmq_setsockopt(big, ZMQ_LINGER, &linger, sizeof linger);
	zmq_connect(big, endpoint);
	zmq_msg_t part;
	size_t size = (size_t)PROTO_MAX_FRAME_SIZE + 1;
	if (zmq_msg_init_size(&part, size) == 0) {
		memset(zmq_msg_data(&part), 'x', size);
		zmq_send(big, PROTO_WORKER, strlen(PROTO_WORKER), ZMQ_SNDMORE);
		zmq_send(big, "RESULT", 6, ZMQ_SNDMORE);
		zmq_msg_send(&part, big, 0);
	}
	zmq_close(big);
	zmq_ctx_term(ctx);
	printf("sent %ld malformed or unexpected messages and one of %zu bytes\n", n, size);
	return seen ? 0 : 1;
}
