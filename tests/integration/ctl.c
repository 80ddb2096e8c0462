/*
 * ctl — send one control request to a running r1flowd and print the reply, or
 * listen to its events (a test helper until the CLI grows its verbs).
 *
 *   ctl [--timeout MS] [--blob FILE] DIR|ENDPOINT 'JSON'
 *   ctl [--timeout MS] --until FIELD=N DIR|ENDPOINT 'JSON'
 *   ctl [--timeout MS] --events N DIR
 *   ctl [--timeout MS] --raw DIR|ENDPOINT 'BYTES'
 *
 * DIR is a daemon's data directory (the request goes to ipc://DIR/control.sock);
 * anything with "://" is used as the endpoint itself. JSON is the request header,
 * e.g. '{"op":"enqueue_probe","n":100}'; --blob attaches a file as a blob frame.
 * Prints the reply header as one line of JSON on stdout. With --events, subscribes
 * to ipc://DIR/events.sock and prints the first N events, one JSON line each.
 * With --until, repeats the request every 5 ms over one connection until the reply's
 * integer FIELD equals N (benchmarks wait this way: a process per poll costs more
 * CPU than the daemon under test), then prints the last reply.
 * With --raw, BYTES go as the header frame of a REQUEST exactly as given, JSON or
 * not (the malformed-request tests), and the reply is printed the same way.
 *
 * Exit status: 0 if the reply says ok:true (or N events came), 1 if ok:false or on
 * nothing within the timeout (default 10000 ms), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "file.h"
#include "sock.h"

static int usage(void)
{
	fprintf(stderr, "usage: ctl [--timeout MS] [--blob FILE] DIR|ENDPOINT 'JSON'\n"
		"       ctl [--timeout MS] --until FIELD=N DIR|ENDPOINT 'JSON'\n"
		"       ctl [--timeout MS] --events N DIR\n"
		"       ctl [--timeout MS] --raw DIR|ENDPOINT 'BYTES'\n");
	return 2;
}

/* Print the first `n` events published on DIR/events.sock. */
static int events(const char *dir, long n, long timeout)
{
	char endpoint[4200];
	struct err err = { 0 };
	snprintf(endpoint, sizeof endpoint, "ipc://%s/events.sock", dir);
	void *ctx = zmq_ctx_new();
	void *s = sock_open(ctx, ZMQ_SUB, &(struct sock_opts){ .subscribe = "" }, &err);
	struct sock_msg *in = calloc(1, sizeof *in);
	long got = 0;
	if (!s || !in || sock_connect(s, endpoint, &err) < 0) {
		fprintf(stderr, "ctl: %s\n", err.msg);
		goto out;
	}
	printf("subscribed\n");
	fflush(stdout);
	while (got < n) {
		zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&item, 1, timeout) <= 0) {
			fprintf(stderr, "ctl: %ld of %ld events within %ld ms\n", got, n, timeout);
			break;
		}
		if (sock_recv(s, in, PROTO_D2C, 0, &err) == 0) {
			char *text = json_dumps(in->msg.header, JSON_COMPACT);
			printf("%s\n", text ? text : "{}");
			fflush(stdout);
			free(text);
			got++;
		} else {
			fprintf(stderr, "ctl: %s\n", err.msg);
		}
		sock_msg_release(in);
	}
out:
	free(in);
	sock_close(&s);
	zmq_ctx_term(ctx);
	return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	long timeout = 10000, nevents = 0;
	const char *blob_path = NULL, *until = NULL;
	int a = 1, raw = 0;
	for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		if (strcmp(argv[a], "--timeout") == 0 && a + 1 < argc)
			timeout = strtol(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--blob") == 0 && a + 1 < argc)
			blob_path = argv[++a];
		else if (strcmp(argv[a], "--until") == 0 && a + 1 < argc && strchr(argv[a + 1], '='))
			until = argv[++a];
		else if (strcmp(argv[a], "--raw") == 0)
			raw = 1;
		else if (strcmp(argv[a], "--events") == 0 && a + 1 < argc)
			nevents = strtol(argv[++a], NULL, 10);
		else
			return usage();
	}
	if (nevents > 0)
		return argc - a == 1 ? events(argv[a], nevents, timeout) : usage();
	if (argc - a != 2)
		return usage();
	char endpoint[4200];
	if (strstr(argv[a], "://"))
		snprintf(endpoint, sizeof endpoint, "%s", argv[a]);
	else
		snprintf(endpoint, sizeof endpoint, "ipc://%s/control.sock", argv[a]);

	json_error_t jerr;
	json_t *header = raw ? json_object() : json_loads(argv[a + 1], 0, &jerr);
	if (!json_is_object(header)) {
		fprintf(stderr, "ctl: request is not a JSON object: %s\n", jerr.text);
		return 2;
	}
	size_t blob_size = 0;
	char *blob = NULL;
	struct err ferr = { 0 };
	if (blob_path && file_read(blob_path, FILE_READ_ANY, &blob, &blob_size, &ferr) < 0) {
		fprintf(stderr, "ctl: %s\n", ferr.msg);
		return 1;
	}

	int rc = 1;
	struct err err = { 0 };
	void *ctx = zmq_ctx_new();
	void *s = sock_open(ctx, ZMQ_DEALER, NULL, &err);
	struct sock_msg *in = calloc(1, sizeof *in);
	struct msg m;
	msg_init(&m, PROTO_REQUEST);
	if (!s || !in || sock_connect(s, endpoint, &err) < 0) {
		fprintf(stderr, "ctl: %s\n", err.msg);
		goto out;
	}
	char field[256] = "";
	long long want = 0;
	if (until) {
		snprintf(field, sizeof field, "%.*s", (int)(strchr(until, '=') - until), until);
		want = strtoll(strchr(until, '=') + 1, NULL, 10);
	}
	int64_t t0 = clock_mono_ms();
again:
	msg_release(&m);
	msg_init(&m, PROTO_REQUEST);
	m.header = json_deep_copy(header);
	if (blob)
		msg_add_blob(&m, blob, blob_size, NULL);
	zmq_pollitem_t item = { s, 0, ZMQ_POLLOUT, 0 };
	if (raw && zmq_poll(&item, 1, timeout) > 0) {
		/* the header frame as given: the daemon must answer whatever it is */
		if (zmq_send(s, PROTO_CONTROL, strlen(PROTO_CONTROL), ZMQ_SNDMORE) < 0 ||
			zmq_send(s, "REQUEST", 7, ZMQ_SNDMORE) < 0 ||
			zmq_send(s, argv[a + 1], strlen(argv[a + 1]), 0) < 0) {
			fprintf(stderr, "ctl: cannot send to '%s': %s\n", endpoint,
				zmq_strerror(zmq_errno()));
			goto out;
		}
	} else if (raw || zmq_poll(&item, 1, timeout) <= 0 ||
		sock_send(s, NULL, &m, ZMQ_DONTWAIT, &err) < 0) {
		fprintf(stderr, "ctl: cannot send to '%s': %s\n", endpoint,
			*err.msg ? err.msg : "daemon not reachable");
		goto out;
	}
	item.events = ZMQ_POLLIN;
	if (zmq_poll(&item, 1, timeout) <= 0) {
		fprintf(stderr, "ctl: no reply from '%s' within %ld ms\n", endpoint, timeout);
		goto out;
	}
	if (sock_recv(s, in, PROTO_D2C, 0, &err) < 0) {
		fprintf(stderr, "ctl: %s\n", err.msg);
		sock_msg_release(in);
		goto out;
	}
	if (until && json_integer_value(json_object_get(in->msg.header, field)) != want) {
		if (clock_mono_ms() - t0 < timeout) {
			sock_msg_release(in);
			nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
			goto again;
		}
		fprintf(stderr, "ctl: '%s' did not reach %lld within %ld ms\n", field, want, timeout);
		sock_msg_release(in);
		goto out;
	}
	char *text = json_dumps(in->msg.header, JSON_COMPACT);
	printf("%s\n", text ? text : "{}");
	free(text);
	rc = msg_bool(&in->msg, "ok", 0) ? 0 : 1;
	sock_msg_release(in);
out:
	msg_release(&m);
	json_decref(header);
	free(in);
	free(blob);
	sock_close(&s);
	zmq_ctx_term(ctx);
	return rc;
}
