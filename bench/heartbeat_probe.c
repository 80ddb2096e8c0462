/*
 * heartbeat_probe — bench/heartbeat.sh's probe client: a cheap control request
 * (`counters`, answered from memory) to a running r1flowd every PERIOD ms, open loop:
 * a request goes out on time whether or not the earlier ones were answered, so a
 * daemon that stops answering for a second shows as a second of late replies, not
 * as one slow sample (coordinated omission).
 *
 *   bench_heartbeat_probe [--period-ms N] DIR OUT
 *
 * Runs until SIGTERM or SIGINT. Each answered request is a line of OUT:
 *   SEND_WALL_MS GRAD LATENCY_US
 * SEND_WALL_MS the Unix time it was sent (to compare with the database's times);
 * GRAD 1 if a gradient result file (DIR/blobs/tmp/result-*) existed when it was sent
 * — the files of a step exist from their upload until the learner's step is
 * committed, on any build, which is how the bench finds the learner's steps;
 * LATENCY_US send to reply on the monotonic clock. The daemon answers one
 * client's requests in order, so replies match requests first in, first out.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "sock.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 1 if DIR/blobs/tmp holds a result file. */
static int grad_files(const char *tmp)
{
	DIR *dh = opendir(tmp);
	struct dirent *e;
	int found = 0;
	while (dh && !found && (e = readdir(dh)))
		found = strncmp(e->d_name, "result-", 7) == 0;
	if (dh)
		closedir(dh);
	return found;
}

struct sent {
	int64_t wall, at_us;
	int grad;
};

int main(int argc, char **argv)
{
	long period = 10;
	int a = 1;
	if (a + 1 < argc && strcmp(argv[a], "--period-ms") == 0) {
		period = strtol(argv[a + 1], NULL, 10);
		a += 2;
	}
	if (argc - a != 2 || period <= 0) {
		fprintf(stderr, "usage: bench_heartbeat_probe [--period-ms N] DIR OUT\n");
		return 2;
	}
	char endpoint[4200], tmp[4200];
	snprintf(endpoint, sizeof endpoint, "ipc://%s/control.sock", argv[a]);
	snprintf(tmp, sizeof tmp, "%s/blobs/tmp", argv[a]);
	FILE *out = fopen(argv[a + 1], "w");
	if (!out) {
		perror(argv[a + 1]);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	struct err err = { 0 };
	void *ctx = zmq_ctx_new();
	void *s = sock_open(ctx, ZMQ_DEALER, NULL, &err);
	struct sock_msg *in = calloc(1, sizeof *in);
	size_t cap = 1 << 20, head = 0, tail = 0; /* requests in flight: a ring */
	struct sent *q = calloc(cap, sizeof *q);
	int rc = 1;
	if (!s || !in || !q || sock_connect(s, endpoint, &err) < 0) {
		fprintf(stderr, "bench_heartbeat_probe: %s\n", *err.msg ? err.msg : "out of memory");
		goto out;
	}
	int64_t next = mono_us();
	while (!stop) {
		int64_t now = mono_us();
		if (now >= next && tail - head < cap) {
			struct msg m;
			msg_init(&m, PROTO_REQUEST);
			m.header = json_pack("{ss}", "op", "counters");
			q[tail % cap] = (struct sent){ clock_wall_ms(), 0, grad_files(tmp) };
			q[tail % cap].at_us = mono_us();
			if (sock_send(s, NULL, &m, ZMQ_DONTWAIT, &err) == 0)
				tail++;
			msg_release(&m);
			next += period * 1000;
			if (next < now) /* the probe itself was descheduled: do not burst */
				next = now + period * 1000;
			continue;
		}
		zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
		long wait = (long)((next - now) / 1000);
		if (zmq_poll(&item, 1, wait > 0 ? wait : 0) <= 0)
			continue;
		/* every reply that is in: a probe that took one per request sent would keep a
		 * backlog of replies forever once it fell behind (a loaded machine), and
		 * measure itself */
		while (sock_recv(s, in, PROTO_D2C, ZMQ_DONTWAIT, &err) == 0) {
			int64_t at = mono_us();
			if (head < tail) {
				struct sent *p = &q[head++ % cap];
				fprintf(out, "%lld %d %lld\n", (long long)p->wall, p->grad,
					(long long)(at - p->at_us));
			}
			sock_msg_release(in);
		}
		sock_msg_release(in);
	}
	rc = 0;
out:
	fclose(out);
	free(q);
	free(in);
	sock_close(&s);
	zmq_ctx_term(ctx);
	return rc;
}
