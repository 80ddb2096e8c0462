/*
 * http_api — GET /api/OP: a control REQUEST made of the query, sent to the loop over
 * inproc, its REPLY returned as it is; GET /api/events: the events PUB as a
 * server-sent event stream. See http.h.
 *
 * Query to request: each `field=value` becomes a field of the request; a value of
 * digits (an optional '-' and at most 18 digits) is sent as an integer, except for
 * the fields that are always names (stage, name, worker), anything else as a
 * string. `op` and `token` are not fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http_int.h"
#include "log.h"
#include "sock.h"

/* The ops a page may call: those that change nothing. */
static const char *const readable[] = {
	"status", "counts", "counters", "workers", "pipelines", "pipeline", "logs", "metrics",
	"report", "samples", "datasets", "dataset_show", "telemetry", NULL,
};

/* Fields that hold names, even when a name is made of digits. */
static const char *const names[] = { "stage", "name", "worker", NULL };

static bool listed(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

unsigned http_reply_status(const json_t *reply)
{
	if (json_is_true(json_object_get(reply, "ok")))
		return MHD_HTTP_OK;
	const char *code = json_string_value(json_object_get(json_object_get(reply, "error"),
		"code"));
	static const struct { const char *code; unsigned status; } map[] = {
		{ "invalid", MHD_HTTP_BAD_REQUEST }, { "malformed", MHD_HTTP_BAD_REQUEST },
		{ "version", MHD_HTTP_BAD_REQUEST }, { "format", MHD_HTTP_BAD_REQUEST },
		{ "notfound", MHD_HTTP_NOT_FOUND }, { "denied", MHD_HTTP_FORBIDDEN },
		{ "nospace", MHD_HTTP_SERVICE_UNAVAILABLE },
	};
	for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

json_t *http_call(struct http *h, json_t *request, unsigned *status, struct err *err)
{
	struct sock_msg *in = calloc(1, sizeof *in);
	void *s = in ? sock_open(h->zctx, ZMQ_DEALER, NULL, err) : NULL;
	json_t *reply = NULL;
	struct msg m;
	msg_init(&m, PROTO_REQUEST);
	m.header = request;
	*status = MHD_HTTP_SERVICE_UNAVAILABLE;
	if (!in)
		err_set(err, ERR_NOMEM, "cannot ask the daemon: out of memory");
	if (!s || sock_connect(s, HTTP_CONTROL_ENDPOINT, err) < 0 ||
		sock_send(s, NULL, &m, 0, err) < 0)
		goto out;
	int64_t deadline = clock_mono_ms() + HTTP_CALL_TIMEOUT_MS;
	for (;;) {
		if (atomic_load(&h->stopping)) {
			err_set(err, ERR_IO, "the daemon is stopping");
			goto out;
		}
		zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
		int n = zmq_poll(&item, 1, HTTP_SLICE_MS);
		if (n < 0 && errno != EINTR) {
			err_set(err, ERR_IO, "cannot wait for the daemon's reply: %s",
				zmq_strerror(errno));
			goto out;
		}
		if (n > 0)
			break;
		if (clock_mono_ms() >= deadline) {
			*status = MHD_HTTP_GATEWAY_TIMEOUT;
			err_set(err, ERR_IO, "no reply from the daemon's loop within %d ms",
				HTTP_CALL_TIMEOUT_MS);
			goto out;
		}
	}
	if (sock_recv(s, in, PROTO_D2C, 0, err) == 0 && in->msg.cmd == PROTO_REPLY)
		reply = json_incref(in->msg.header);
	else if (!err->msg[0])
		err_set(err, ERR_IO, "the daemon answered with something other than REPLY");
out:
	if (in)
		sock_msg_release(in);
	free(in);
	msg_release(&m);
	sock_close(&s);
	return reply;
}

struct fields {
	json_t *request;
	const char *bad;  /* a key whose value is not UTF-8 */
};

static enum MHD_Result add_field(void *cls, enum MHD_ValueKind kind, const char *key,
	const char *value)
{
	struct fields *f = cls;
	(void)kind;
	if (!key || strcmp(key, "op") == 0 || strcmp(key, "token") == 0)
		return MHD_YES;
	if (!value)
		value = "";
	const char *digits = value[0] == '-' ? value + 1 : value;
	size_t n = strlen(digits);
	json_t *v;
	if (n > 0 && n <= 18 && strspn(digits, "0123456789") == n && !listed(names, key))
		v = json_integer(strtoll(value, NULL, 10));
	else
		v = json_string(value);
	if (!v || json_object_set_new(f->request, key, v) < 0) {
		f->bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

/* ---- server-sent events ---- */

struct stream {
	struct http *h;
	void *sub;
	int64_t pipeline;          /* 0: every event */
	struct sock_msg *in;
	char *pending;             /* text not yet handed to MHD */
	size_t len, off;
	int64_t sent_at;           /* monotonic ms of the last text handed over */
	bool opened;
};

static void stream_free(void *cls)
{
	struct stream *st = cls;
	atomic_fetch_sub(&st->h->streams, 1);
	sock_close(&st->sub);
	if (st->in)
		sock_msg_release(st->in);
	free(st->in);
	free(st->pending);
	free(st);
}

/* The next text of the stream, set as pending: 1, or 0 when the server stops. */
static int stream_next(struct stream *st)
{
	if (!st->opened) {
		st->opened = true;
		st->pending = strdup("retry: 2000\n: r1flow events\n\n");
		return st->pending != NULL;
	}
	for (;;) {
		/* once stopping, what is already queued (daemon_stopping) still goes out */
		bool stopping = atomic_load(&st->h->stopping);
		zmq_pollitem_t item = { st->sub, 0, ZMQ_POLLIN, 0 };
		int n = zmq_poll(&item, 1, stopping ? 0 : HTTP_SLICE_MS);
		if (n > 0) {
			struct err err = { 0 };
			int rc = sock_recv(st->sub, st->in, PROTO_D2C, ZMQ_DONTWAIT, &err);
			json_t *ev = rc == 0 && st->in->msg.cmd == PROTO_EVENT ? st->in->msg.header : NULL;
			/* topics match by prefix: "1" also gets pipeline 10's events */
			if (ev && st->pipeline && json_integer_value(json_object_get(ev, "pipeline")) !=
				st->pipeline)
				ev = NULL;
			char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
			sock_msg_release(st->in);
			if (text) {
				size_t len = strlen(text);
				st->pending = malloc(len + 9);
				if (st->pending)
					snprintf(st->pending, len + 9, "data: %s\n\n", text);
				free(text);
				return st->pending != NULL;
			}
			continue;
		}
		if ((n < 0 && errno != EINTR) || stopping)
			return 0;
		if (clock_mono_ms() - st->sent_at >= HTTP_KEEPALIVE_MS) {
			st->pending = strdup(": keep-alive\n\n");
			return st->pending != NULL;
		}
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	(void)pos;
	if (!st->pending) {
		if (!stream_next(st))
			return MHD_CONTENT_READER_END_OF_STREAM;
		st->len = strlen(st->pending);
		st->off = 0;
	}
	size_t n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(buf, st->pending + st->off, n);
	st->off += n;
	if (st->off == st->len) {
		free(st->pending);
		st->pending = NULL;
	}
	st->sent_at = clock_mono_ms();
	return (ssize_t)n;
}

static enum MHD_Result events(struct http *h, struct MHD_Connection *c)
{
	const char *only = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pipeline");
	char topic[32] = "";
	int64_t pipeline = 0;
	if (only) {
		char *end;
		errno = 0;
		long long v = strtoll(only, &end, 10);
		if (!*only || *end || errno || v < 1)
			return http_respond_error(c, MHD_HTTP_BAD_REQUEST, "invalid", "events: "
				"'pipeline' must be a pipeline id (an integer >= 1)");
		pipeline = v;
		snprintf(topic, sizeof topic, "%lld", v);
	}
	struct err err = { 0 };
	struct stream *st = calloc(1, sizeof *st);
	if (st) {
		atomic_fetch_add(&h->streams, 1);
		st->h = h;
		st->pipeline = pipeline;
		st->sent_at = clock_mono_ms();
		st->in = calloc(1, sizeof *st->in);
		st->sub = st->in ? sock_open(h->zctx, ZMQ_SUB, &(struct sock_opts){
			.subscribe = topic }, &err) : NULL;
	}
	if (!st || !st->sub || sock_connect(st->sub, HTTP_EVENTS_ENDPOINT, &err) < 0) {
		if (st)
			stream_free(st);
		return http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "io", err.msg[0] ?
			err.msg : "cannot follow the events: out of memory");
	}
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
		stream_read, st, stream_free);
	if (!r) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	http_headers(r, c);
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result http_api(struct http *h, struct MHD_Connection *c, const char *op)
{
	if (strcmp(op, "events") == 0)
		return events(h, c);
	if (!listed(readable, op)) {
		char message[300];
		snprintf(message, sizeof message, "no API op '%.64s': the pages read status, counts, "
			"counters, workers, pipelines, pipeline, logs, metrics, report, samples, "
			"datasets, dataset_show, telemetry and events", op);
		return http_respond_error(c, MHD_HTTP_NOT_FOUND, "notfound", message);
	}
	struct fields f = { json_pack("{ss}", "op", op), NULL };
	if (!f.request)
		return MHD_NO;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_field, &f);
	if (f.bad) {
		char message[200];
		snprintf(message, sizeof message, "the value of '%.64s' is not UTF-8", f.bad);
		json_decref(f.request);
		return http_respond_error(c, MHD_HTTP_BAD_REQUEST, "invalid", message);
	}
	unsigned status;
	struct err err = { 0 };
	json_t *reply = http_call(h, f.request, &status, &err);
	if (!reply)
		return http_respond_error(c, status, "io", err.msg);
	return http_respond_json(c, http_reply_status(reply), reply);
}
