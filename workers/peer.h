/*
 * peer — a worker's peer server: it serves the blobs it holds, and the one it is
 * receiving, to other workers the daemon sends to it (docs/protocol.md "Peer
 * fetch"; the daemon's plan is daemon/relays.h).
 *
 * `r1flow-worker --peer-listen ENDPOINT` binds a ROUTER there. Fetchers speak the
 * worker protocol's FETCH to it and get CHUNKs exactly as from the daemon (without
 * deltas or redirects: the daemon already chose the stream). What it serves, by
 * sha256:
 *   - a blob in the worker's cache (complete, verified when it was filled);
 *   - the stream the worker is receiving now (struct peer_source): bytes as they
 *     arrive, in order. A FETCH for bytes not received yet waits here until they
 *     come, so a chain of workers relays one stream with all links busy at once.
 *     If the stream ends without the bytes (it failed, or the worker moved on to
 *     another blob that is not in the cache), the waiting FETCH gets an error;
 *   - the last weights delta it received (kept in memory by the runtime).
 * Fetchers check the whole stream's sha256 as they do with the daemon, so a peer
 * can make a fetch fail but never feed a job other bytes.
 *
 * Access. On tcp the server is a CURVE server with a keypair drawn at start (its
 * public key goes to the daemon in READY, and from the daemon to fetchers), and a
 * ZAP handler (RFC 27) served from the same I/O thread lets a client in only if
 * its public key was ADMITted by the daemon, which vouches for the live workers it
 * sends here. A handshake with another key is held up to PEER_ZAP_HOLD_MS in case
 * its ADMIT is still on the way (it travels on another connection), then refused
 * ("400") and logged. On ipc nothing is checked: the socket's directory must be
 * private (like the daemon's, mode 0700).
 *
 * R1FLOW_TEST_PEER_SLOW_MS=N (tests only): at most one CHUNK per N ms, so a test
 * can kill a relay in the middle of a transfer; with R1FLOW_TEST_FETCH_CHUNK=BYTES
 * (runtime.c: the fetcher asks for pieces of BYTES, from the daemon and peers alike)
 * a small model's weights take many CHUNKs.
 *
 * The I/O thread only (runtime.c): peer_server_items adds the sockets to its poll,
 * peer_server_run answers what it can after each wake-up (and whenever the stream
 * received bytes), peer_server_timeout says when it must run again.
 */
#ifndef R1_PEER_H
#define R1_PEER_H

#include <stdint.h>
#include <zmq.h>

#include "cache.h"
#include "curve.h"
#include "err.h"
#include "sha256.h"

#define PEER_ADMIT_MAX   4096   /* admitted keys remembered (oldest forgotten first) */
#define PEER_WAIT_MAX    256    /* FETCHes held for bytes not received yet */
#define PEER_ZAP_MAX     64     /* handshakes held for their ADMIT */
#define PEER_ZAP_HOLD_MS 5000
#define PEER_ENDPOINT    256

/* A stream the worker receives or holds in memory. */
struct peer_source {
	const char *sha;        /* NULL: none */
	int64_t total;          /* bytes of the whole stream; 0 until known */
	int64_t have;           /* bytes received so far, from offset 0 */
	const uint8_t *mem;     /* the bytes in memory, or NULL: */
	const char *path;       /* the file being written */
};

struct peer_wait;
struct peer_zap;

struct peer_server {
	void *router, *zap;               /* NULL when closed / not CURVE */
	int curve;
	char endpoint[PEER_ENDPOINT];     /* as bound (the port filled in) */
	struct curve_key pub;             /* the CURVE key fetchers need; "" on ipc */
	const struct cache *cache;
	char (*admitted)[CURVE_KEY_LEN + 1];
	size_t nadmitted, admit_next;
	struct peer_wait *wait;
	size_t nwait;
	struct peer_zap *held;
	size_t nheld;
	int64_t slow_ms, next_at;         /* the test throttle */
	int64_t refused_logged;
	uint64_t chunks, bytes, refused;  /* served, and handshakes refused */
};

int peer_server_open(struct peer_server *ps, void *zctx, const char *endpoint,
	const struct cache *cache, struct err *err);
void peer_server_close(struct peer_server *ps);

/* The daemon vouches for `key` (ADMIT): let it in from now on. */
void peer_server_admit(struct peer_server *ps, const char *key, int64_t now);

/* Add the server's sockets to a poll set; returns how many (0 when closed). */
int peer_server_items(struct peer_server *ps, zmq_pollitem_t *items);

/* Read what came (handshakes, FETCHes) and answer what can be answered from the
 * cache and `src[0..n)`. */
void peer_server_run(struct peer_server *ps, int64_t now, const struct peer_source *src,
	size_t n);

/* ms until peer_server_run must run again without a wake-up (-1: never). */
long peer_server_timeout(const struct peer_server *ps, int64_t now);

/*
 * The fetcher's side: a DEALER to a peer's endpoint (a CURVE client with our own
 * `secret` when `key`, the peer's public key, is given; FETCHes queue until the
 * connection is up) and a monitor on it (PAIR `*mon`, endpoint numbered by `seq`),
 * so that a peer that dies (its connection drops) or refuses our key is given up
 * at once rather than after a silent window.
 *   peer_link_event  read one monitor event: the reason to give the peer up, or
 *                    NULL (nothing, or an event that is no failure)
 *   peer_link_close  close both; safe on NULLs
 */
int peer_link_open(void *zctx, const char *endpoint, const char *key,
	const struct curve_key *secret, unsigned seq, void **sock, void **mon, struct err *err);
const char *peer_link_event(void *mon);
void peer_link_close(void **sock, void **mon);

#endif
