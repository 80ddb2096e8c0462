/*
 * relays — the daemon's plan for peer fetches: which worker serves a blob to which
 * (docs/protocol.md "Peer fetch").
 *
 * A worker started with --peer-listen announces a peer endpoint (and, on tcp, the
 * CURVE public key of its peer server) in READY. The daemon then serves each blob
 * (a stream: a weights file, or a weights delta, by its own sha256) itself to only
 * RELAYS_DIRECT workers; every other FETCH at offset 0 is answered with a redirect
 * to a worker that holds or is fetching the same stream, one with fewer than
 * RELAYS_FANOUT fetchers sent to it, the shallowest first. A worker serves the
 * bytes of a stream it is still receiving as they arrive, so the plan is a tree
 * of depth log_FANOUT(N) whose levels stream at once, and the daemon sends each
 * blob about once however many workers fetch it.
 *
 *   relays_ready    a worker registered (READY): its peer endpoint ("" none), its
 *                   peer server's key ("" for ipc) and its own client key (the
 *                   User-Id CURVE proved at the daemon's handshake; "" on ipc)
 *   relays_gone     a worker left (lost, disconnected): never planned again
 *   relays_route    a FETCH at offset 0 of stream `sha` from `worker`: 1 and the
 *                   server in *out (redirect), or 0 (serve it yourself). Either way
 *                   a worker with a peer endpoint becomes a node of the stream's
 *                   tree (it will hold the stream, so it can serve it next). Only
 *                   workers that announced a peer endpoint are redirected: that is
 *                   how a worker says it follows redirects (another implementation
 *                   of the protocol may not).
 *   relays_failed   the worker's fetch from `server` failed (dead, stalled, error):
 *                   that server is not planned again for this stream
 *
 * Who may be sent where: a fetcher to a tcp server only if the daemon knows the
 * fetcher's client key (it tells the server to admit that key: PROTO_ADMIT); an ipc
 * server takes anyone (its socket lives on this machine; protect its directory). A
 * fetcher that is already a node of the tree (fetching the stream again after a
 * failed check) is served by the daemon: routing it under its own subtree would
 * make a cycle.
 *
 * Memory: the RELAYS_STREAMS most recently routed streams, one node per worker;
 * the oldest stream is forgotten (a FETCH of it then starts a new tree).
 * Pure bookkeeping: no sockets, no store; the loop thread only.
 */
#ifndef R1_RELAYS_H
#define R1_RELAYS_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

#define RELAYS_DIRECT   1      /* fetchers of a stream the daemon serves itself */
#define RELAYS_FANOUT   4      /* fetchers sent to one serving worker per stream */
#define RELAYS_STREAMS  32     /* streams remembered */
#define RELAYS_ENDPOINT 256    /* bytes of a peer endpoint, NUL included */
#define RELAYS_KEY      41     /* Z85 key + NUL */
#define RELAYS_NAME     129
#define RELAYS_IDENT    256

struct relays;

/* Where a redirected fetcher goes, and whom the daemon must tell to admit whom. */
struct relay_plan {
	int64_t server;                    /* worker id */
	char name[RELAYS_NAME];
	char endpoint[RELAYS_ENDPOINT];
	char key[RELAYS_KEY];              /* the server's peer key; "" on ipc */
	unsigned char ident[RELAYS_IDENT]; /* the server's ROUTER identity */
	size_t ident_size;
	char admit[RELAYS_KEY];            /* the fetcher's client key to admit; "" none */
};

struct relays *relays_new(void);
void relays_free(struct relays *r);

void relays_ready(struct relays *r, int64_t worker, const char *name, const void *ident,
	size_t ident_size, const char *endpoint, const char *key, const char *user);
void relays_gone(struct relays *r, int64_t worker);
int relays_route(struct relays *r, const char *sha, int64_t worker, struct relay_plan *out);
void relays_failed(struct relays *r, const char *sha, int64_t worker, const char *server);

/* For tests and logs: the number of nodes of stream `sha`'s tree and the daemon's
 * direct fetchers of it (0 and 0 if it is not remembered). */
void relays_stat(const struct relays *r, const char *sha, size_t *nodes, int *direct);

#endif
