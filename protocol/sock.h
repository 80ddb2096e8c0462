/*
 * sock — ZeroMQ sockets set up the way r1flow needs them, and whole-message I/O.
 *
 * `sock_open` creates a socket with the options that matter already set, so no
 * caller forgets one:
 *
 *   every socket   ZMQ_LINGER 0 (close never blocks on a dead peer),
 *                  ZMQ_MAXMSGSIZE (per frame; a bigger frame drops the connection),
 *                  TCP keepalive (idle 30 s, interval 10 s, 3 probes: NAT and
 *                  firewall state stays warm, half-open connections die),
 *                  reconnect back-off ZMQ_RECONNECT_IVL 1 s, doubling (libzmq does
 *                  the doubling) up to ZMQ_RECONNECT_IVL_MAX 32 s
 *   ROUTER         ZMQ_ROUTER_MANDATORY (sending to a gone peer fails with
 *                  EHOSTUNREACH instead of vanishing)
 *   DEALER         ZMQ_IMMEDIATE (queue only on live connections: nothing piles up
 *                  for a daemon that is down, and a send fails with EAGAIN under
 *                  ZMQ_DONTWAIT until the connection is up)
 *   SUB            subscribes to `opts.subscribe` when set
 *
 * Then `sock_bind` / `sock_connect`; CURVE options (coming with the daemon) must be
 * set between sock_open and bind/connect, and the ZAP handler must be bound before
 * any bind.
 *
 * `sock_send` / `sock_recv` move one whole r1flow message (proto.h layout) with its
 * envelope: the identity frame on ROUTER, the topic on PUB/SUB/XPUB/XSUB, nothing
 * on DEALER/PAIR. They are built on zmq_msg_t so big frames are not copied:
 *   - receive: the decoded msg's blobs point straight into the received frames;
 *   - send: version and command frames point at static strings, the header text is
 *     handed over, and blobs are copied unless the msg owns them (msg.blob_free), in
 *     which case libzmq takes them as they are.
 *
 * Threads: a ZeroMQ socket belongs to one thread at a time; so does a sock_msg.
 *
 * Forbidden: moving or copying a `struct sock_msg` after sock_recv (libzmq keeps
 * frames of up to 33 bytes inside the zmq_msg_t itself, so blob pointers can point
 * into the struct): allocate it where it will stay, e.g. on the heap to pass it to
 * another thread. Reading msg blobs after sock_msg_release.
 */
#ifndef R1_SOCK_H
#define R1_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "err.h"
#include "msg.h"

#define SOCK_MAX_PARTS (PROTO_MAX_FRAMES + 1)  /* envelope + frames */

/* Options of sock_open; a zeroed struct (or NULL) means the defaults. */
struct sock_opts {
	int64_t max_frame_size;   /* ZMQ_MAXMSGSIZE; 0: PROTO_MAX_FRAME_SIZE, -1: no limit */
	int reconnect_ms;         /* first reconnect back-off; 0: PROTO_RECONNECT_MS */
	int reconnect_max_ms;     /* back-off cap; 0: PROTO_RECONNECT_MAX_MS */
	int sndhwm, rcvhwm;       /* high-water marks in messages; 0: libzmq's (1000) */
	const char *routing_id;   /* DEALER identity seen by the ROUTER; NULL: random */
	const char *subscribe;    /* SUB: topic prefix ("" = everything); NULL: none */
};

/* A received message. Owns its frames; `msg` borrows from them. Do not move it. */
struct sock_msg {
	struct msg msg;                   /* the decoded message (see msg.h) */
	struct msg_frame envelope;        /* identity or topic; size 0 when none */
	size_t nparts;                    /* frames received, envelope included */
	size_t bytes;                     /* their total size */
	zmq_msg_t parts[SOCK_MAX_PARTS];  /* the frames themselves */
};

/* Create a socket of `type` (ZMQ_ROUTER, ZMQ_DEALER, ZMQ_PUB, ZMQ_SUB, ...) with the
 * options above. NULL and err on failure. Close with sock_close. */
void *sock_open(void *ctx, int type, const struct sock_opts *opts, struct err *err);

int sock_bind(void *sock, const char *endpoint, struct err *err);
int sock_connect(void *sock, const char *endpoint, struct err *err);

/* Close the socket and NULL the pointer; NULL or *NULL is a no-op. */
void sock_close(void **sock);

/*
 * Send `m` as one multipart message, preceded by `envelope` (the ROUTER identity or
 * the PUB topic; NULL on a DEALER). `flags` is 0 or ZMQ_DONTWAIT.
 *
 * Whatever the outcome, `m` keeps its header (release it as usual) and, if
 * m->blob_free is set, loses its blobs to libzmq: sock_send empties m->blobs, and
 * each blob is freed through blob_free once libzmq is done (or right away on
 * failure). Borrowed blobs are copied and stay the caller's.
 *
 * On failure returns -1 with err filled and errno left as zmq set it: EAGAIN (HWM
 * reached, or no live connection for a DEALER with ZMQ_DONTWAIT), EHOSTUNREACH (no
 * such ROUTER peer), EINTR, ETERM; EINVAL if `m` does not encode (msg_encode).
 * A multipart message is atomic: either the peer gets all of it or none.
 */
int sock_send(void *sock, const struct msg_frame *envelope, struct msg *m, int flags,
	struct err *err);

/*
 * Receive one whole message travelling in direction `dir` into `in` (`flags`: 0 or
 * ZMQ_DONTWAIT). All its frames are always read, so a bad message never leaves the
 * socket mid-message.
 *
 *   0   in->msg is decoded and valid.
 *   -1  with in->msg.fault != MSG_OK: the message was received but did not decode;
 *       in->envelope still names the sender (a ROUTER can answer DISCONNECT when the
 *       fault is MSG_FAULT_VERSION).
 *   -1  with in->msg.fault == MSG_OK: nothing was received; errno says why (EAGAIN
 *       under ZMQ_DONTWAIT, EINTR, ETERM).
 *
 * In every case call sock_msg_release(in) afterwards (it is safe after any outcome).
 * `in` need not be initialised.
 */
int sock_recv(void *sock, struct sock_msg *in, enum proto_dir dir, int flags,
	struct err *err);

/* Release the header and the frames; leaves `in` empty. */
void sock_msg_release(struct sock_msg *in);

#endif
