#include "sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(int type)
{
	switch (type) {
	case ZMQ_ROUTER: return "ROUTER";
	case ZMQ_DEALER: return "DEALER";
	case ZMQ_PUB: return "PUB";
	case ZMQ_SUB: return "SUB";
	case ZMQ_XPUB: return "XPUB";
	case ZMQ_XSUB: return "XSUB";
	case ZMQ_PAIR: return "PAIR";
	default: return "unknown";
	}
}

/* Sockets whose messages carry one envelope frame before the version. */
static int has_envelope(int type)
{
	return type == ZMQ_ROUTER || type == ZMQ_PUB || type == ZMQ_SUB || type == ZMQ_XPUB ||
		type == ZMQ_XSUB;
}

static int socket_type(void *sock)
{
	int type = -1;
	size_t len = sizeof type;
	if (zmq_getsockopt(sock, ZMQ_TYPE, &type, &len) != 0)
		return -1;
	return type;
}

static int set_int(void *sock, int option, const char *name, int value, struct err *err)
{
	if (zmq_setsockopt(sock, option, &value, sizeof value) == 0)
		return 0;
	return err_set(err, ERR_INVALID, "cannot set %s to %d: %s", name, value,
		zmq_strerror(errno));
}

void *sock_open(void *ctx, int type, const struct sock_opts *opts, struct err *err)
{
	static const struct sock_opts defaults;
	const struct sock_opts *o = opts ? opts : &defaults;
	void *s = zmq_socket(ctx, type);
	if (!s) {
		err_set(err, ERR_IO, "cannot create %s socket: %s", type_name(type),
			zmq_strerror(errno));
		return NULL;
	}
	int64_t max = o->max_frame_size ? o->max_frame_size : PROTO_MAX_FRAME_SIZE;
	int reconnect = o->reconnect_ms ? o->reconnect_ms : PROTO_RECONNECT_MS;
	int reconnect_max = o->reconnect_max_ms ? o->reconnect_max_ms : PROTO_RECONNECT_MAX_MS;
	if (set_int(s, ZMQ_LINGER, "ZMQ_LINGER", 0, err) < 0 ||
		set_int(s, ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE", 1, err) < 0 ||
		set_int(s, ZMQ_TCP_KEEPALIVE_IDLE, "ZMQ_TCP_KEEPALIVE_IDLE", 30, err) < 0 ||
		set_int(s, ZMQ_TCP_KEEPALIVE_INTVL, "ZMQ_TCP_KEEPALIVE_INTVL", 10, err) < 0 ||
		set_int(s, ZMQ_TCP_KEEPALIVE_CNT, "ZMQ_TCP_KEEPALIVE_CNT", 3, err) < 0 ||
		set_int(s, ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", reconnect, err) < 0 ||
		set_int(s, ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX", reconnect_max, err) < 0)
		goto fail;
	if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0) {
		err_set(err, ERR_INVALID, "cannot set ZMQ_MAXMSGSIZE to %lld: %s", (long long)max,
			zmq_strerror(errno));
		goto fail;
	}
	if (o->sndhwm && set_int(s, ZMQ_SNDHWM, "ZMQ_SNDHWM", o->sndhwm, err) < 0)
		goto fail;
	if (o->rcvhwm && set_int(s, ZMQ_RCVHWM, "ZMQ_RCVHWM", o->rcvhwm, err) < 0)
		goto fail;
	if (type == ZMQ_ROUTER &&
		set_int(s, ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", 1, err) < 0)
		goto fail;
	if (type == ZMQ_DEALER && set_int(s, ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", 1, err) < 0)
		goto fail;
	if (o->routing_id && zmq_setsockopt(s, ZMQ_ROUTING_ID, o->routing_id,
		strlen(o->routing_id)) != 0) {
		err_set(err, ERR_INVALID, "cannot set routing id '%s': %s", o->routing_id,
			zmq_strerror(errno));
		goto fail;
	}
	if (type == ZMQ_SUB && o->subscribe && zmq_setsockopt(s, ZMQ_SUBSCRIBE, o->subscribe,
		strlen(o->subscribe)) != 0) {
		err_set(err, ERR_INVALID, "cannot subscribe to '%s': %s", o->subscribe,
			zmq_strerror(errno));
		goto fail;
	}
	return s;
fail:
	zmq_close(s);
	return NULL;
}

int sock_bind(void *sock, const char *endpoint, struct err *err)
{
	if (zmq_bind(sock, endpoint) == 0)
		return 0;
	return err_set(err, ERR_IO, "cannot bind to '%s': %s", endpoint, zmq_strerror(errno));
}

int sock_connect(void *sock, const char *endpoint, struct err *err)
{
	if (zmq_connect(sock, endpoint) == 0)
		return 0;
	return err_set(err, ERR_IO, "cannot connect to '%s': %s", endpoint,
		zmq_strerror(errno));
}

void sock_close(void **sock)
{
	if (sock && *sock) {
		zmq_close(*sock);
		*sock = NULL;
	}
}

static void free_text(void *data, void *hint)
{
	(void)hint;
	free(data);
}

/* Build a frame holding a copy of `size` bytes. */
static int part_copy(zmq_msg_t *p, const void *data, size_t size)
{
	if (zmq_msg_init_size(p, size) != 0)
		return -1;
	if (size)
		memcpy(zmq_msg_data(p), data, size);
	return 0;
}

int sock_send(void *sock, const struct msg_frame *envelope, struct msg *m, int flags,
	struct err *err)
{
	zmq_msg_t parts[SOCK_MAX_PARTS];
	size_t np = 0, i;
	struct msg_wire w;
	const char *cmd = proto_cmd_name(m->cmd);
	int saved;

	if (msg_encode(&w, m, err) < 0) {
		if (m->blob_free)
			for (i = 0; i < m->nblobs; i++)
				m->blob_free((void *)m->blobs[i].data, m->blob_hint);
		m->nblobs = 0;
		errno = EINVAL;
		return -1;
	}
	if (envelope) {
		if (part_copy(&parts[np], envelope->data, envelope->size) != 0)
			goto nomem;
		np++;
	}
	/* version and command point at static strings: no copy, nothing to free */
	for (i = 0; i < 2; i++) {
		if (zmq_msg_init_data(&parts[np], (void *)w.frames[i].data, w.frames[i].size,
			NULL, NULL) != 0)
			goto nomem;
		np++;
	}
	if (zmq_msg_init_data(&parts[np], w.text, w.frames[2].size, free_text, NULL) != 0)
		goto nomem;
	np++;
	w.text = NULL; /* libzmq frees it now */
	for (i = 0; i < m->nblobs; i++) {
		const struct msg_frame *b = &m->blobs[i];
		int rc = m->blob_free
			? zmq_msg_init_data(&parts[np], (void *)b->data, b->size, m->blob_free,
				m->blob_hint)
			: part_copy(&parts[np], b->data, b->size);
		if (rc != 0) {
			/* the frames built so far free their own blobs; the rest are ours */
			if (m->blob_free)
				for (size_t j = i; j < m->nblobs; j++)
					m->blob_free((void *)m->blobs[j].data, m->blob_hint);
			m->nblobs = 0;
			goto nomem;
		}
		np++;
	}
	if (m->blob_free)
		m->nblobs = 0;
	for (i = 0; i < np; i++)
		if (zmq_msg_send(&parts[i], sock, flags | (i + 1 < np ? ZMQ_SNDMORE : 0)) < 0)
			break;
	if (i == np)
		return 0;
	saved = errno;
	for (; i < np; i++)
		zmq_msg_close(&parts[i]);
	err_set(err, ERR_IO, "cannot send %s: %s", cmd, zmq_strerror(saved));
	errno = saved;
	return -1;
nomem:
	/* parts[0 .. np) are live frames; parts[np] failed to initialise */
	saved = errno;
	for (i = 0; i < np; i++)
		zmq_msg_close(&parts[i]);
	msg_wire_release(&w);
	if (m->blob_free)
		for (i = 0; i < m->nblobs; i++)
			m->blob_free((void *)m->blobs[i].data, m->blob_hint);
	m->nblobs = 0;
	err_set(err, ERR_NOMEM, "cannot send %s: %s", cmd, zmq_strerror(saved));
	errno = saved;
	return -1;
}

int sock_recv(void *sock, struct sock_msg *in, enum proto_dir dir, int flags,
	struct err *err)
{
	memset(&in->msg, 0, sizeof in->msg);
	in->envelope = (struct msg_frame){ NULL, 0 };
	in->nparts = 0;
	in->bytes = 0;

	int type = socket_type(sock);
	size_t total = 0;
	int more = 1;
	while (more) {
		zmq_msg_t extra, *p = in->nparts < SOCK_MAX_PARTS ? &in->parts[in->nparts] : &extra;
		zmq_msg_init(p);
		if (zmq_msg_recv(p, sock, total == 0 ? flags : 0) < 0) {
			int saved = errno;
			zmq_msg_close(p);
			sock_msg_release(in);
			err_set(err, ERR_IO, "cannot receive from %s: %s", proto_dir_sender(dir),
				zmq_strerror(saved));
			errno = saved;
			return -1;
		}
		more = zmq_msg_more(p);
		in->bytes += zmq_msg_size(p);
		total++;
		if (p == &extra)
			zmq_msg_close(p); /* past the limit: read to stay aligned, then drop */
		else
			in->nparts++;
	}

	size_t skip = has_envelope(type) ? 1 : 0;
	if (skip) {
		in->envelope.data = zmq_msg_data(&in->parts[0]);
		in->envelope.size = zmq_msg_size(&in->parts[0]);
	}
	if (total > PROTO_MAX_FRAMES + skip) {
		in->msg.fault = MSG_FAULT_FRAMES;
		return err_set(err, ERR_FORMAT, "malformed message from %s: %zu frames (limit %d)",
			proto_dir_sender(dir), total - skip, PROTO_MAX_FRAMES);
	}
	if (in->envelope.size > PROTO_MAX_ENVELOPE) {
		in->msg.fault = MSG_FAULT_SIZE;
		return err_set(err, ERR_FORMAT, "malformed message from %s: envelope is %zu bytes "
			"(limit %d)", proto_dir_sender(dir), in->envelope.size, PROTO_MAX_ENVELOPE);
	}
	struct msg_frame frames[SOCK_MAX_PARTS];
	size_t n = in->nparts - skip;
	for (size_t i = 0; i < n; i++) {
		frames[i].data = zmq_msg_data(&in->parts[skip + i]);
		frames[i].size = zmq_msg_size(&in->parts[skip + i]);
	}
	return msg_decode(&in->msg, frames, n, dir, err);
}

void sock_msg_release(struct sock_msg *in)
{
	msg_release(&in->msg);
	for (size_t i = 0; i < in->nparts; i++)
		zmq_msg_close(&in->parts[i]);
	in->nparts = 0;
	in->bytes = 0;
	in->envelope = (struct msg_frame){ NULL, 0 };
}
