/*
 * client.c — the control client: endpoint resolution, the no-daemon check, one
 * request -> reply with a timeout. See client.h.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "curve.h"
#include "sock.h"
#include "spec.h"
#include "utf8.h"

const char *client_data_dir(const struct client_addr *a)
{
	if (a && a->data && a->data[0])
		return a->data;
	const char *env = getenv("R1FLOW_DATA");
	return env && env[0] ? env : CLIENT_DEFAULT_DATA;
}

static int no_daemon(const struct client *c, struct err *err)
{
	if (c->data[0])
		return err_set(err, ERR_IO, "no daemon at '%s': start one with 'r1flow daemon "
			"--data %s' (or use 'r1flow run FILE')", c->endpoint, c->data);
	return err_set(err, ERR_IO, "no daemon at '%s': start one with 'r1flow daemon "
		"--data DIR' (or use 'r1flow run FILE')", c->endpoint);
}

/*
 * Is anybody accepting on the unix socket at `path`? A plain connect() says so at
 * once, where libzmq would retry quietly until the timeout. 1 yes, 0 no; a path too
 * long for sun_path counts as yes (libzmq's own error will be the clearer one).
 */
static int ipc_alive(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path)
		return 1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	int rc;
	do
		rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (rc < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	return rc == 0 || (saved != ECONNREFUSED && saved != ENOENT);
}

/* CURVE on a tcp:// endpoint when $R1FLOW_SERVER_KEY and $R1FLOW_KEY name key files. */
static int use_keys(struct client *c, struct err *err)
{
	const char *server = getenv("R1FLOW_SERVER_KEY"), *key = getenv("R1FLOW_KEY");
	int has_server = server && *server, has_key = key && *key;
	if (!has_server && !has_key)
		return 0;
	if (has_server != has_key)
		return err_set(err, ERR_INVALID, "R1FLOW_SERVER_KEY and R1FLOW_KEY go together "
			"(the daemon's server.pub and this client's PREFIX.key)");
	if (strncmp(c->endpoint, "tcp://", 6) != 0)
		return 0; /* ipc needs no keys: the same environment serves both */
	struct curve_key server_key, secret;
	int rc = curve_key_load(server, 0, &server_key, err) < 0 ||
		curve_key_load(key, 1, &secret, err) < 0 ||
		curve_client_setup(c->sock, &server_key, &secret, err) < 0 ? -1 : 0;
	curve_key_wipe(&secret);
	return rc;
}

/* The connection's end is seen through libzmq's socket monitor: a PAIR socket that
 * receives an event when the connection to the daemon drops, which is how a daemon
 * that dies (or closes the connection) while answering is told from a slow one. */
static int watch_connection(struct client *c, struct err *err)
{
	static const char monitor[] = "inproc://r1flow-client-monitor";
	if (zmq_socket_monitor(c->sock, monitor, ZMQ_EVENT_DISCONNECTED) < 0 ||
		!(c->monitor = zmq_socket(c->zctx, ZMQ_PAIR)) ||
		zmq_connect(c->monitor, monitor) < 0)
		return err_set(err, ERR_IO, "cannot watch the connection to '%s': %s", c->endpoint,
			zmq_strerror(errno));
	return 0;
}

/* Read the monitor's pending events: 1 if the connection dropped since the last
 * call, else 0. */
static int connection_dropped(struct client *c)
{
	int dropped = 0;
	for (;;) {
		zmq_msg_t ev;
		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			return dropped;
		}
		uint16_t event = 0;
		if (zmq_msg_size(&ev) >= sizeof event)
			memcpy(&event, zmq_msg_data(&ev), sizeof event);
		dropped |= event == ZMQ_EVENT_DISCONNECTED;
		while (zmq_msg_more(&ev) && zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) >= 0)
			;  /* the event's second frame: the endpoint */
		zmq_msg_close(&ev);
	}
}

int client_open(struct client *c, const struct client_addr *a, struct err *err)
{
	memset(c, 0, sizeof *c);
	c->timeout_ms = CLIENT_TIMEOUT_MS;
	const char *t = getenv("R1FLOW_TIMEOUT_MS");
	if (t && atoi(t) > 0)
		c->timeout_ms = atoi(t);
	if (a && a->endpoint && a->endpoint[0]) {
		if (snprintf(c->endpoint, sizeof c->endpoint, "%s", a->endpoint) >=
			(int)sizeof c->endpoint)
			return err_set(err, ERR_INVALID, "endpoint too long: '%.64s...'", a->endpoint);
	} else {
		const char *dir = client_data_dir(a);
		size_t len = strlen(dir);
		while (len > 1 && dir[len - 1] == '/')
			len--;
		if (len >= sizeof c->data)
			return err_set(err, ERR_INVALID, "data directory path too long: '%.64s...'", dir);
		memcpy(c->data, dir, len);
		c->data[len] = '\0';
		snprintf(c->endpoint, sizeof c->endpoint, "ipc://%s/control.sock", c->data);
	}
	if (strncmp(c->endpoint, "ipc://", 6) == 0 && !ipc_alive(c->endpoint + 6))
		return no_daemon(c, err);
	c->zctx = zmq_ctx_new();
	if (!c->zctx)
		return err_set(err, ERR_IO, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
	c->sock = sock_open(c->zctx, ZMQ_DEALER, NULL, err);
	if (!c->sock || use_keys(c, err) < 0 || watch_connection(c, err) < 0 ||
		sock_connect(c->sock, c->endpoint, err) < 0) {
		client_close(c);
		return -1;
	}
	return 0;
}

void client_close(struct client *c)
{
	if (c->monitor) {
		zmq_socket_monitor(c->sock, NULL, 0);
		zmq_close(c->monitor);
		c->monitor = NULL;
	}
	sock_close(&c->sock);
	if (c->zctx) {
		zmq_ctx_term(c->zctx);
		c->zctx = NULL;
	}
}

/* Milliseconds left until `deadline` (monotonic seconds); at least 0. */
static long ms_left(double deadline)
{
	double left = (deadline - clock_mono_s()) * 1000.0;
	return left > 0 ? (long)left : 0;
}

/* zmq_poll for `events` until `deadline`, in CLIENT_CHECK_MS slices when c->check
 * is set. 1 ready, 0 timed out, -1 with err (interrupted, check failed, or, waiting
 * for a reply, the connection dropped before one came). */
static int client_wait(struct client *c, short events, double deadline, struct err *err)
{
	for (;;) {
		zmq_pollitem_t items[2] = { { c->sock, 0, events, 0 },
			{ c->monitor, 0, ZMQ_POLLIN, 0 } };
		int watch = events == ZMQ_POLLIN && c->monitor;
		long left = ms_left(deadline);
		long slice = c->check && left > CLIENT_CHECK_MS ? CLIENT_CHECK_MS : left;
		int rc = zmq_poll(items, watch ? 2 : 1, slice);
		if (rc > 0 && (items[0].revents & events))
			return 1;
		if (rc > 0 && connection_dropped(c)) {
			/* a reply that came just before the drop is still there to read */
			zmq_pollitem_t last = { c->sock, 0, ZMQ_POLLIN, 0 };
			if (zmq_poll(&last, 1, 0) > 0)
				return 1;
			err_set(err, ERR_IO, "the daemon at '%s' closed the connection while "
				"answering: it died or was stopped (see its log)", c->endpoint);
			if (err) /* or refused a frame over its limit: callers that send big ones say so */
				err->errnum = ECONNRESET;
			return -1;
		}
		if (rc > 0)
			continue;
		if (rc < 0 && errno == EINTR)
			return err_set(err, ERR_IO, "interrupted");
		if (rc < 0)
			return err_set(err, ERR_IO, "cannot poll '%s': %s", c->endpoint,
				zmq_strerror(errno));
		if (c->check && c->check(c->check_arg, err) < 0)
			return -1;
		if (slice == left)
			return 0;
	}
}

json_t *client_call(struct client *c, json_t *req, struct err *err)
{
	return client_call_blob(c, req, NULL, 0, NULL, err);
}

json_t *client_call_blob(struct client *c, json_t *req, const void *out, size_t size,
	struct client_blob *blob, struct err *err)
{
	json_t *reply = NULL;
	struct sock_msg *in = NULL;
	struct msg m;
	msg_init(&m, PROTO_REQUEST);
	m.header = req;
	c->last_code[0] = '\0';
	if (blob)
		*blob = (struct client_blob){ NULL, 0 };
	if (!c->sock || c->broken) {
		err_set(err, ERR_IO, "no usable connection to '%s'", c->endpoint);
		goto out;
	}
	if (!req) {
		err_set(err, ERR_NOMEM, "cannot build the request: out of memory");
		goto out;
	}
	if (out && (size > (size_t)PROTO_MAX_FRAME_SIZE || msg_add_blob(&m, out, size, err) < 0)) {
		err_set(err, ERR_INVALID, "cannot send %zu bytes: the limit is %lld MB per request",
			size, PROTO_MAX_FRAME_SIZE >> 20);
		goto out;
	}
	double deadline = clock_mono_s() + c->timeout_ms / 1000.0;

	/* ZMQ_IMMEDIATE: writable only once the connection is up */
	int rc = client_wait(c, ZMQ_POLLOUT, deadline, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		no_daemon(c, err);
		goto out;
	}
	connection_dropped(c);  /* forget drops before this request: it is not theirs */
	if (sock_send(c->sock, NULL, &m, ZMQ_DONTWAIT, err) < 0)
		goto out;

	rc = client_wait(c, ZMQ_POLLIN, deadline, err);
	if (rc <= 0) {
		c->broken = true;  /* the reply may still come, and answer the wrong request */
		if (rc == 0)
			err_set(err, ERR_IO, "no reply from the daemon at '%s' within %d ms "
				"(see its log)", c->endpoint, c->timeout_ms);
		goto out;
	}
	in = calloc(1, sizeof *in);
	if (!in) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sock_recv(c->sock, in, PROTO_D2C, 0, err) < 0) {
		c->broken = true;
		goto out;
	}
	if (msg_bool(&in->msg, "ok", 0)) {
		if (blob && in->msg.nblobs > 0) {
			const struct msg_frame *f = &in->msg.blobs[0];
			blob->data = malloc(f->size ? f->size : 1);
			if (!blob->data) {
				err_set(err, ERR_NOMEM, "cannot take the reply's %zu bytes: out of memory",
					f->size);
				goto out;
			}
			if (f->size)
				memcpy(blob->data, f->data, f->size);
			blob->size = f->size;
		}
		reply = json_incref(in->msg.header);
		json_object_del(reply, "ok");
		goto out;
	}
	json_t *e = json_object_get(in->msg.header, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *message = json_string_value(json_object_get(e, "message"));
	snprintf(c->last_code, sizeof c->last_code, "%s", code ? code : "");
	err_set(err, code && strcmp(code, "notfound") == 0 ? ERR_NOTFOUND : ERR_INVALID, "%s",
		message ? message : "the daemon refused the request without saying why");
out:
	if (in)
		sock_msg_release(in);
	free(in);
	msg_release(&m);
	return reply;
}

json_t *client_ask(const char *verb, const struct client_addr *a, json_t *req)
{
	struct client c;
	struct err e = { 0 };
	json_t *reply = NULL;
	if (client_open(&c, a, &e) == 0)
		reply = client_call(&c, req, &e);
	else
		json_decref(req);
	client_close(&c);
	if (!reply)
		cli_error(verb, "%s", e.msg);
	return reply;
}

/* The whole file at `path` as a NUL-terminated string; NULL and err. */
static char *read_text(const char *path, struct err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				err_set(err, ERR_NOMEM, "cannot read '%s': out of memory", path);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
		goto fail;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* 32 hex digits that no other invocation makes: the kernel's randomness, or (no
 * /dev/urandom) the clock, the pid and an address. */
static void submit_token(char out[33])
{
	unsigned char raw[16];
	FILE *f = fopen("/dev/urandom", "rb");
	size_t got = f ? fread(raw, 1, sizeof raw, f) : 0;
	if (f)
		fclose(f);
	if (got != sizeof raw) {
		uint64_t a = (uint64_t)(cli_now() * 1e6), b = (uint64_t)getpid() << 32 ^
			(uint64_t)(uintptr_t)&got;
		memcpy(raw, &a, 8);
		memcpy(raw + 8, &b, 8);
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

json_t *client_submit(const char *verb, const struct client_addr *a, json_t *req)
{
	struct err e = { 0 };
	json_t *reply = NULL;
	for (int try = 1; !reply; try++) {
		struct client c;
		bool timed_out = false;
		if (client_open(&c, a, &e) == 0) {
			reply = client_call(&c, json_incref(req), &e);
			timed_out = !reply && c.broken;
		}
		client_close(&c);
		if (reply || !timed_out || try == CLIENT_SUBMIT_TRIES)
			break;
		fprintf(stderr, "r1flow %s: %s; asking again (%d of %d) with the same token: the "
			"daemon runs it once\n", verb, e.msg, try + 1, CLIENT_SUBMIT_TRIES);
	}
	json_decref(req);
	if (!reply)
		cli_error(verb, "%s", e.msg);
	return reply;
}

json_t *client_submit_request(const char *file, const struct opt_list *sets, struct err *err)
{
	json_t *spec = NULL;
	if (spec_load_file(file, sets->v, (size_t)sets->n, &spec, err) < 0)
		return NULL;
	/* the loader read the file already; this is the text stored as the source */
	char *source = read_text(file, err);
	if (!source) {
		json_decref(spec);
		return NULL;
	}
	/* the loader took the text as UTF-8; a file name need not be */
	char token[33];
	submit_token(token);
	json_t *req = json_pack("{ss so so so ss}", "op", "submit", "spec", spec, "source",
		utf8_jstring(source), "file", utf8_jstring(file), "token", token);
	free(source);
	if (!req)
		err_set(err, ERR_NOMEM, "cannot build the submit request for '%s': out of memory",
			file);
	return req;
}

int client_print_json(const char *verb, const json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
	if (!s) {
		cli_error(verb, "cannot format the output as JSON: out of memory");
		return CLI_EXIT_FAIL;
	}
	printf("%s\n", s);
	free(s);
	return CLI_EXIT_OK;
}

int64_t client_parse_id(const char *arg)
{
	char *end;
	errno = 0;
	long long x = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || x <= 0 || arg[0] == '+' || arg[0] == ' ')
		return -1;
	return (int64_t)x;
}

int client_parse_verb_id(const struct cli_verb *v, int argc, char **argv, int *first,
	int64_t *id)
{
	int rc = cli_parse(v, argc, argv, first);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((*id = client_parse_id(argv[*first])) < 0)
		return cli_usage_error(v->name, "ID must be a pipeline id (a positive integer), "
			"got '%s'", argv[*first]);
	return CLI_CONTINUE;
}

