#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "sock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_ID_MAX 256

struct peer_wait {                 /* a FETCH waiting for its bytes */
	unsigned char ident[PROTO_MAX_ENVELOPE];
	size_t ident_size;
	char sha[SHA256_HEX_SIZE];
	int64_t offset, size;
};

struct peer_zap {                  /* a handshake waiting for its ADMIT */
	unsigned char route[ZAP_ID_MAX], request[ZAP_ID_MAX];
	size_t route_size, request_size;
	char key[CURVE_KEY_LEN + 1];
	char address[64];
	int64_t since;
};

int peer_server_open(struct peer_server *ps, void *zctx, const char *endpoint,
	const struct cache *cache, struct err *err)
{
	struct curve_key secret = { "" };
	struct sock_opts opts = { 0 };
	int rc = -1;
	memset(ps, 0, sizeof *ps);
	ps->cache = cache;
	const char *slow = getenv("R1FLOW_TEST_PEER_SLOW_MS");
	ps->slow_ms = slow ? strtoll(slow, NULL, 10) : 0;
	ps->curve = strncmp(endpoint, "tcp://", 6) == 0;
	if (!ps->curve && strncmp(endpoint, "ipc://", 6) != 0)
		return err_set(err, ERR_INVALID, "cannot serve peers on '%s': not tcp:// or ipc://",
			endpoint);
	if (ps->curve) {
		int zero = 0;
		if (!curve_available())
			return err_set(err, ERR_INVALID, "cannot serve peers on '%s': this libzmq has no "
				"CURVE", endpoint);
		if (!(ps->admitted = calloc(PEER_ADMIT_MAX, sizeof *ps->admitted)) ||
			!(ps->held = calloc(PEER_ZAP_MAX, sizeof *ps->held)))
			return err_set(err, ERR_NOMEM, "cannot serve peers: out of memory");
		/* the handler first: a CURVE server without one lets every key in */
		ps->zap = zmq_socket(zctx, ZMQ_ROUTER);
		if (!ps->zap || zmq_setsockopt(ps->zap, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
			zmq_bind(ps->zap, ZAP_ENDPOINT) < 0) {
			err_set(err, ERR_IO, "cannot start the peer server's key check: %s",
				zmq_strerror(errno));
			goto out;
		}
		if (curve_keypair_new(&ps->pub, &secret, err) < 0)
			goto out;
	}
	if (!(ps->wait = calloc(PEER_WAIT_MAX, sizeof *ps->wait))) {
		err_set(err, ERR_NOMEM, "cannot serve peers: out of memory");
		goto out;
	}
	ps->router = sock_open(zctx, ZMQ_ROUTER, &opts, err);
	if (!ps->router || (ps->curve && curve_server_setup(ps->router, &secret, "peer", err) < 0) ||
		sock_bind(ps->router, endpoint, err) < 0)
		goto out;
	size_t len = sizeof ps->endpoint;
	if (zmq_getsockopt(ps->router, ZMQ_LAST_ENDPOINT, ps->endpoint, &len) != 0)
		snprintf(ps->endpoint, sizeof ps->endpoint, "%s", endpoint);
	rc = 0;
out:
	curve_key_wipe(&secret);
	if (rc < 0) {
		err_wrap(err, "cannot serve peers on '%s'", endpoint);
		peer_server_close(ps);
	}
	return rc;
}

void peer_server_close(struct peer_server *ps)
{
	sock_close(&ps->router);
	sock_close(&ps->zap);
	free(ps->admitted);
	free(ps->wait);
	free(ps->held);
	ps->admitted = NULL;
	ps->wait = NULL;
	ps->held = NULL;
	ps->nwait = ps->nheld = ps->nadmitted = 0;
}

static int admitted(const struct peer_server *ps, const char *key)
{
	for (size_t i = 0; i < ps->nadmitted; i++)
		if (strcmp(ps->admitted[i], key) == 0)
			return 1;
	return 0;
}

static void zap_reply(struct peer_server *ps, const struct peer_zap *z, int ok)
{
	const char *code = ok ? "200" : "400", *text = ok ? "OK" : "key not admitted by the daemon";
	zmq_send(ps->zap, z->route, z->route_size, ZMQ_SNDMORE);
	zmq_send(ps->zap, "", 0, ZMQ_SNDMORE);
	zmq_send(ps->zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(ps->zap, z->request, z->request_size, ZMQ_SNDMORE);
	zmq_send(ps->zap, code, 3, ZMQ_SNDMORE);
	zmq_send(ps->zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(ps->zap, ok ? z->key : "", ok ? strlen(z->key) : 0, ZMQ_SNDMORE);
	zmq_send(ps->zap, "", 0, 0);
}

static void zap_refuse(struct peer_server *ps, const struct peer_zap *z, int64_t now)
{
	ps->refused++;
	if (now - ps->refused_logged >= 1000) {
		log_warn("refused peer key %s from %s: the daemon did not admit it", *z->key ? z->key :
			"(none)", *z->address ? z->address : "?");
		ps->refused_logged = now;
	}
	zap_reply(ps, z, 0);
}

void peer_server_admit(struct peer_server *ps, const char *key, int64_t now)
{
	if (!ps->admitted || !curve_key_valid(key))
		return;
	if (!admitted(ps, key)) {
		snprintf(ps->admitted[ps->admit_next], CURVE_KEY_LEN + 1, "%s", key);
		ps->admit_next = (ps->admit_next + 1) % PEER_ADMIT_MAX;
		if (ps->nadmitted < PEER_ADMIT_MAX)
			ps->nadmitted++;
	}
	(void)now;
	for (size_t i = 0; i < ps->nheld; )
		if (strcmp(ps->held[i].key, key) == 0) {
			zap_reply(ps, &ps->held[i], 1);
			ps->held[i] = ps->held[--ps->nheld];
		} else {
			i++;
		}
}

/* One ZAP request (RFC 27): [route][""][version][request id][domain][address]
 * [identity][mechanism][credentials...]. Answered now, or held for its ADMIT. */
static int zap_one(struct peer_server *ps, int64_t now)
{
	zmq_msg_t part[10], extra;
	size_t n = 0;
	int more = 1;
	while (more) {
		zmq_msg_t *m = n < 10 ? &part[n] : &extra;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, ps->zap, n ? 0 : ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			if (n == 0)
				return 0;
			break;
		}
		more = zmq_msg_more(m);
		if (n < 10)
			n++;
		else
			zmq_msg_close(m);
	}
	struct peer_zap z = { .since = now };
	int curve = n >= 9 && zmq_msg_size(&part[7]) == 5 && !memcmp(zmq_msg_data(&part[7]),
		"CURVE", 5) && zmq_msg_size(&part[8]) == 32;
	if (n >= 4 && zmq_msg_size(&part[0]) <= ZAP_ID_MAX && zmq_msg_size(&part[3]) <= ZAP_ID_MAX) {
		z.route_size = zmq_msg_size(&part[0]);
		memcpy(z.route, zmq_msg_data(&part[0]), z.route_size);
		z.request_size = zmq_msg_size(&part[3]);
		memcpy(z.request, zmq_msg_data(&part[3]), z.request_size);
		if (n >= 6)
			snprintf(z.address, sizeof z.address, "%.*s", (int)zmq_msg_size(&part[5]),
				(const char *)zmq_msg_data(&part[5]));
		if (curve)
			zmq_z85_encode(z.key, zmq_msg_data(&part[8]), 32);
		if (curve && admitted(ps, z.key))
			zap_reply(ps, &z, 1);
		else if (curve && ps->nheld < PEER_ZAP_MAX)
			ps->held[ps->nheld++] = z; /* its ADMIT may still be on the way */
		else
			zap_refuse(ps, &z, now);
	}
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&part[i]);
	return 1;
}

static void answer_error(struct peer_server *ps, const struct peer_wait *w, const char *why)
{
	struct msg m;
	struct msg_frame env = { w->ident, w->ident_size };
	msg_init(&m, PROTO_CHUNK);
	m.header = json_pack("{ss sI ss}", "sha256", w->sha, "offset", (json_int_t)w->offset,
		"error", why);
	sock_send(ps->router, &env, &m, ZMQ_DONTWAIT, NULL);
	msg_release(&m);
}

static void free_bytes(void *data, void *hint)
{
	(void)hint;
	free(data);
}

static int read_at(const char *path, void *buf, size_t n, int64_t offset)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	while (fd >= 0 && got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, offset + (int64_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	return got == n ? 0 : -1;
}

/* Answer `w` if its bytes are here: 1 answered (data or error), 0 keep waiting. */
static int try_answer(struct peer_server *ps, const struct peer_wait *w,
	const struct peer_source *src, size_t nsrc)
{
	char path[CACHE_PATH_MAX];
	const struct peer_source *s = NULL;
	struct peer_source file = { 0 };
	struct stat st;
	if (cache_lookup(ps->cache, w->sha, path, sizeof path) && stat(path, &st) == 0) {
		file = (struct peer_source){ .sha = w->sha, .total = st.st_size, .have = st.st_size,
			.path = path };
		s = &file;
	}
	for (size_t i = 0; !s && i < nsrc; i++)
		if (src[i].sha && strcmp(src[i].sha, w->sha) == 0)
			s = &src[i];
	if (!s) {
		answer_error(ps, w, "this worker does not hold the blob");
		return 1;
	}
	if (!s->total)
		return 0; /* its size comes with the first bytes */
	if (w->offset > s->total) {
		answer_error(ps, w, "offset past the end of the blob");
		return 1;
	}
	int64_t want = w->size > 0 && w->size < PROTO_CHUNK_SIZE ? w->size : PROTO_CHUNK_SIZE;
	int64_t n = s->total - w->offset < want ? s->total - w->offset : want;
	if (w->offset + n > s->have)
		return 0;
	void *buf = malloc(n ? (size_t)n : 1);
	if (!buf || (s->mem ? (memcpy(buf, s->mem + w->offset, (size_t)n), 0) :
		read_at(s->path, buf, (size_t)n, w->offset)) < 0) {
		free(buf);
		answer_error(ps, w, buf ? "cannot read the blob" : "out of memory");
		return 1;
	}
	struct msg m;
	struct msg_frame env = { w->ident, w->ident_size };
	msg_init(&m, PROTO_CHUNK);
	m.header = json_pack("{ss sI sI}", "sha256", w->sha, "offset", (json_int_t)w->offset,
		"size", (json_int_t)s->total);
	m.blob_free = free_bytes;
	msg_add_blob(&m, buf, (size_t)n, NULL);
	if (sock_send(ps->router, &env, &m, ZMQ_DONTWAIT, NULL) == 0) {
		ps->chunks++;
		ps->bytes += (uint64_t)n;
	}
	msg_release(&m);
	return 1;
}

static void read_fetches(struct peer_server *ps)
{
	struct sock_msg *in = calloc(1, sizeof *in);
	for (int i = 0; in && i < 256; i++) {
		struct err err = { 0 };
		int rc = sock_recv(ps->router, in, PROTO_W2D, ZMQ_DONTWAIT, &err);
		if (rc < 0 && in->msg.fault == MSG_OK) {
			sock_msg_release(in);
			break;
		}
		if (rc == 0 && in->msg.cmd == PROTO_FETCH && in->envelope.size <= PROTO_MAX_ENVELOPE) {
			struct peer_wait w = { .ident_size = in->envelope.size,
				.offset = msg_uint(&in->msg, "offset"), .size = msg_uint(&in->msg, "size") };
			memcpy(w.ident, in->envelope.data, w.ident_size);
			snprintf(w.sha, sizeof w.sha, "%s", msg_str(&in->msg, "sha256"));
			if (ps->nwait < PEER_WAIT_MAX)
				ps->wait[ps->nwait++] = w;
			else
				answer_error(ps, &w, "too many fetches waiting");
		} else {
			log_debug("dropped a message from a peer: %s", rc < 0 ? err.msg : "not a FETCH");
		}
		sock_msg_release(in);
	}
	free(in);
}

void peer_server_run(struct peer_server *ps, int64_t now, const struct peer_source *src,
	size_t nsrc)
{
	if (!ps->router)
		return;
	for (int i = 0; ps->zap && i < 64 && zap_one(ps, now); i++)
		;
	for (size_t i = 0; i < ps->nheld; )
		if (now - ps->held[i].since >= PEER_ZAP_HOLD_MS) {
			zap_refuse(ps, &ps->held[i], now);
			ps->held[i] = ps->held[--ps->nheld];
		} else {
			i++;
		}
	read_fetches(ps);
	/* oldest first, so every fetcher's window advances in order */
	size_t kept = 0;
	for (size_t i = 0; i < ps->nwait; i++) {
		if (ps->slow_ms && now < ps->next_at) {
			ps->wait[kept++] = ps->wait[i];
			continue;
		}
		if (try_answer(ps, &ps->wait[i], src, nsrc)) {
			if (ps->slow_ms)
				ps->next_at = now + ps->slow_ms;
		} else {
			ps->wait[kept++] = ps->wait[i];
		}
	}
	ps->nwait = kept;
}

int peer_server_items(struct peer_server *ps, zmq_pollitem_t *items)
{
	int n = 0;
	if (ps->router)
		items[n++] = (zmq_pollitem_t){ ps->router, 0, ZMQ_POLLIN, 0 };
	if (ps->zap)
		items[n++] = (zmq_pollitem_t){ ps->zap, 0, ZMQ_POLLIN, 0 };
	return n;
}

long peer_server_timeout(const struct peer_server *ps, int64_t now)
{
	long t = -1;
	if (ps->nwait && ps->slow_ms)
		t = ps->next_at > now ? (long)(ps->next_at - now) : 0;
	for (size_t i = 0; i < ps->nheld; i++) {
		int64_t left = ps->held[i].since + PEER_ZAP_HOLD_MS - now;
		long l = left < 0 ? 0 : (long)left;
		if (t < 0 || l < t)
			t = l;
	}
	return t;
}

int peer_link_open(void *zctx, const char *endpoint, const char *key,
	const struct curve_key *secret, unsigned seq, void **sock, void **mon, struct err *err)
{
	struct curve_key server = { "" };
	struct sock_opts opts = { .reconnect_ms = 100, .reconnect_max_ms = 1000 };
	char name[64];
	int off = 0, linger = 0;
	*sock = *mon = NULL;
	if (key)
		snprintf(server.z85, sizeof server.z85, "%s", key);
	snprintf(name, sizeof name, "inproc://r1flow-peer-%u", seq);
	/* sock_open's DEALERs queue nothing without a connection: these must */
	if (!(*sock = sock_open(zctx, ZMQ_DEALER, &opts, err)) ||
		(key && curve_client_setup(*sock, &server, secret, err) < 0))
		goto fail;
	if (zmq_setsockopt(*sock, ZMQ_IMMEDIATE, &off, sizeof off) < 0 ||
		zmq_socket_monitor(*sock, name, ZMQ_EVENT_DISCONNECTED |
			ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0 ||
		!(*mon = zmq_socket(zctx, ZMQ_PAIR)) ||
		zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
		zmq_connect(*mon, name) < 0) {
		err_set(err, ERR_IO, "cannot connect to peer '%s': %s", endpoint, zmq_strerror(errno));
		goto fail;
	}
	if (sock_connect(*sock, endpoint, err) < 0)
		goto fail;
	return 0;
fail:
	peer_link_close(sock, mon);
	return -1;
}

const char *peer_link_event(void *mon)
{
	zmq_msg_t ev, addr;
	const char *why = NULL;
	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&ev) &&
		zmq_msg_recv(&addr, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2) {
		uint16_t event;
		memcpy(&event, zmq_msg_data(&ev), sizeof event);
		why = event == ZMQ_EVENT_DISCONNECTED ? "connection lost" :
			event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "it refused this worker's key" :
			"handshake failed";
	}
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
	return why;
}

void peer_link_close(void **sock, void **mon)
{
	if (*mon && *sock)
		zmq_socket_monitor(*sock, NULL, 0);
	sock_close(mon);
	sock_close(sock);
}
