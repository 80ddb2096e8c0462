/*
 * bench_raw_zmq — the baseline for bench/dispatch.sh: a raw ZeroMQ DEALER/ROUTER
 * request–reply loop with no persistence, no JSON and no protocol checks.
 *
 * One ROUTER "broker" (the main thread, like r1flowd) and W DEALER "workers"
 * (threads, like r1flow-worker) over ipc:// in a fresh temporary directory. Each
 * worker says hello; the broker then keeps `slots` requests in flight to each
 * worker until N requests have been answered. A worker echoes every request
 * (an 8-byte request number and a small payload). Round trips are timed in the
 * broker from send to reply.
 *
 *   bench_raw_zmq [--workers W] [--slots S] [--n N]
 *
 * Prints one line: raw_req_per_s=N p50_us=N p99_us=N workers=W slots=S n=N
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"

#define MAX_WORKERS 64
#define ID_MAX 256

static char endpoint[512];
static void *ctx;

static void die(const char *what)
{
	fprintf(stderr, "bench_raw_zmq: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(1);
}

static void *worker_main(void *arg)
{
	(void)arg;
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s, endpoint) < 0)
		die("connect");
	if (zmq_send(s, "hello", 5, 0) < 0)
		die("send hello");
	for (;;) {
		zmq_msg_t parts[2];
		int n = 0, more = 1;
		while (more) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, s, 0) < 0) {
				zmq_msg_close(&m);
				goto out; /* context terminated */
			}
			more = zmq_msg_more(&m);
			if (n < 2)
				parts[n++] = m;
			else
				zmq_msg_close(&m);
		}
		if (n == 1 && zmq_msg_size(&parts[0]) == 4 && memcmp(zmq_msg_data(&parts[0]), "stop", 4) == 0) {
			zmq_msg_close(&parts[0]);
			break;
		}
		for (int i = 0; i < n; i++)
			if (zmq_msg_send(&parts[i], s, i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
				die("echo");
	}
out:
	zmq_close(s);
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int workers = 2, slots = 16;
	long n = 20000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			workers = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--slots") && i + 1 < argc)
			slots = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_raw_zmq [--workers W] [--slots S] [--n N]\n");
			return 2;
		}
	}
	if (workers < 1 || workers > MAX_WORKERS || slots < 1 || n < 1) {
		fprintf(stderr, "bench_raw_zmq: bad arguments\n");
		return 2;
	}

	char dir[] = "/tmp/rzmq.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", dir);

	ctx = zmq_ctx_new();
	void *router = zmq_socket(ctx, ZMQ_ROUTER);
	int zero = 0, one = 1;
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
	if (zmq_bind(router, endpoint) < 0)
		die("bind");

	pthread_t th[MAX_WORKERS];
	for (int i = 0; i < workers; i++)
		pthread_create(&th[i], NULL, worker_main, NULL);

	/* identities from the hellos */
	unsigned char ids[MAX_WORKERS][ID_MAX];
	size_t idlen[MAX_WORKERS];
	for (int w = 0; w < workers; w++) {
		int r = zmq_recv(router, ids[w], ID_MAX, 0);
		if (r < 0)
			die("recv hello id");
		idlen[w] = (size_t)r;
		char buf[16];
		if (zmq_recv(router, buf, sizeof buf, 0) < 0)
			die("recv hello");
	}

	int64_t *sent_at = calloc((size_t)n, sizeof *sent_at);
	int64_t *rtt = calloc((size_t)n, sizeof *rtt);
	if (!sent_at || !rtt)
		return 1;
	static const char payload[] = "p";
	long next = 0, done = 0;

#define SEND_TO(w)                                                                \
	do {                                                                          \
		uint64_t seq = (uint64_t)next;                                            \
		sent_at[next++] = clock_mono_ns();                                               \
		if (zmq_send(router, ids[w], idlen[w], ZMQ_SNDMORE) < 0 ||               \
		    zmq_send(router, &seq, sizeof seq, ZMQ_SNDMORE) < 0 ||               \
		    zmq_send(router, payload, sizeof payload - 1, 0) < 0)                \
			die("send");                                                          \
	} while (0)

	int64_t t0 = clock_mono_ns();
	for (int s = 0; s < slots; s++)
		for (int w = 0; w < workers && next < n; w++)
			SEND_TO(w);
	while (done < n) {
		unsigned char id[ID_MAX];
		uint64_t seq;
		char buf[64];
		int r = zmq_recv(router, id, ID_MAX, 0);
		if (r < 0)
			die("recv id");
		if (zmq_recv(router, &seq, sizeof seq, 0) < 0 || zmq_recv(router, buf, sizeof buf, 0) < 0)
			die("recv");
		int64_t t = clock_mono_ns();
		if (seq >= (uint64_t)n)
			continue;
		rtt[done++] = t - sent_at[seq];
		if (next < n) {
			int w = 0;
			while (w < workers && !((size_t)r == idlen[w] && !memcmp(id, ids[w], idlen[w])))
				w++;
			if (w == workers)
				w = 0;
			SEND_TO(w);
		}
	}
	int64_t t1 = clock_mono_ns();

	for (int w = 0; w < workers; w++) {
		zmq_send(router, ids[w], idlen[w], ZMQ_SNDMORE);
		zmq_send(router, "stop", 4, 0);
	}
	for (int w = 0; w < workers; w++)
		pthread_join(th[w], NULL);
	zmq_close(router);
	zmq_ctx_term(ctx);
	char sock[600];
	snprintf(sock, sizeof sock, "%s/broker.sock", dir);
	unlink(sock);
	rmdir(dir);

	qsort(rtt, (size_t)n, sizeof *rtt, cmp_i64);
	double secs = (double)(t1 - t0) / 1e9;
	printf("raw_req_per_s=%.0f p50_us=%lld p99_us=%lld workers=%d slots=%d n=%ld\n",
		(double)n / secs, (long long)(rtt[n / 2] / 1000),
		(long long)(rtt[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000), workers, slots, n);
	free(sent_at);
	free(rtt);
	return 0;
}
