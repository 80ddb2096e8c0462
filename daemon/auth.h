/*
 * auth — who may use the daemon's tcp:// endpoints (docs/protocol.md; README "Scaling
 * across machines").
 *
 * The ipc:// sockets in the data directory need nothing more than the directory's
 * 0700 mode. `--listen tcp://ADDR:PORT` (workers) and `--listen-control ...`
 * (control clients) bind the same ROUTER sockets to tcp as CURVE servers: traffic
 * is encrypted and a client gets in only if its public key is in the allowlist
 * under the role of that endpoint.
 *
 *   KEYS/server.key    the daemon's secret key (mode 0600), made on first start
 *   KEYS/server.pub    its public key: every client needs it (--server-key)
 *   ALLOWLIST          one client per line; a line, or the words after the key,
 *                      starting with '#' are comments (a Z85 key may hold '#'):
 *                        ROLE NAME KEY
 *                      ROLE worker or control, NAME [A-Za-z0-9._@-]{1,64} (for the
 *                      logs; unique per role), KEY the client's Z85 public key
 *                      (its PREFIX.pub from 'r1flow keygen'). Made empty, with
 *                      this help, on first start. Reread on SIGHUP; a file that
 *                      does not parse keeps the previous list (logged).
 *
 * Two checks, both against the current list:
 *   - at the handshake, a ZAP handler (RFC 27) in a thread of its own, bound to
 *     inproc://zeromq.zap.01 before any bind. Each tcp endpoint has its own ZAP
 *     domain ("worker", "control"); a key is let in only under its own role, so a
 *     worker key cannot speak the control protocol and the other way round. It
 *     answers with the key as User-Id, logs every refusal (the address and the
 *     public key: nothing secret), and 400 for anything but CURVE.
 *   - on every message (auth_admit, from the loop): libzmq hands the User-Id to
 *     each message, so a key removed from the list and SIGHUP'ed is cut off on its
 *     next message (a worker's heartbeat comes every second): a worker gets
 *     DISCONNECT and is forgotten (broker_revoke: its leases are requeued), a
 *     control client gets REPLY {ok:false, error:{code:"denied"}}. Its reconnect
 *     then fails at the handshake. Messages without a User-Id came over ipc (or a
 *     --no-curve endpoint) and pass.
 *
 * Self-test: stock libzmq lets any CURVE client in when no ZAP handler answers. So
 * before the daemon binds anything, a client with a fresh random key handshakes
 * with a throw-away CURVE server on ipc://DIR/zaptest.sock; unless it is refused
 * within AUTH_SELFTEST_MS, r1flowd refuses to start ("self-test failed").
 * R1FLOW_TEST_NO_ZAP=1 in the environment skips starting the handler, for the
 * test that proves this.
 *
 * Without CURVE (--no-curve) a tcp endpoint must be loopback (curve.h) unless
 * --insecure; no handler runs then and d->auth stays NULL.
 *
 * Order (main.c): auth_start (keys, list, handler, self-test) before any bind; the
 * ipc binds; auth_listen (tcp binds); ... zmq_ctx_term, which ends the handler
 * thread (ETERM), then auth_free. Secrets: the server's secret key is wiped once
 * auth_listen has bound; it is never logged nor stored in the database.
 */
#ifndef R1_AUTH_H
#define R1_AUTH_H

#include <stdio.h>

#include "curve.h"
#include "sock.h"

#define AUTH_SELFTEST_MS 3000   /* the self-test's verdict must come within this */
#define AUTH_NAME_MAX    64     /* bytes of an allowlist name */
#define AUTH_MAX_KEYS    100000 /* allowlist lines with a key */

struct daemon;
struct auth;

enum auth_role { AUTH_WORKER, AUTH_CONTROL, AUTH_ROLES };

struct auth_entry {
	enum auth_role role;
	char name[AUTH_NAME_MAX + 1];   /* the allowlist's label, for logs */
	struct curve_key key;           /* a client's public key */
};

/* Entries sorted by (key, role), so a lookup is a binary search. */
struct auth_allowlist {
	struct auth_entry *v;
	size_t n;
};

/* Parse the allowlist text read from `f` (to its end) into `out`, which the caller
 * frees with auth_allowlist_release; `path` only names it in errors ("allowlist
 * 'PATH' line N: ..."). All or nothing: on -1 `out` is untouched. Duplicates are
 * errors: a key twice under one role, or a name twice within one role. No I/O
 * besides reading `f`: auth_start and auth_reload use it on the file, tests on text. */
int auth_allowlist_parse(FILE *f, const char *path, struct auth_allowlist *out,
	struct err *err);
void auth_allowlist_release(struct auth_allowlist *l);

/* Check the listen options; with CURVE: load or make the keypair, read the
 * allowlist, start the ZAP handler and run the self-test. Before any bind. */
int auth_start(struct daemon *d, struct err *err);

/* Bind the tcp endpoints (--listen, --listen-control) on d->workers / d->control,
 * with CURVE unless --no-curve. After the ipc binds. */
int auth_listen(struct daemon *d, struct err *err);

/* 1 if the message `in` (read from `sock`, d->workers or d->control) may be
 * handled; 0 if its key is no longer allowed: the refusal is already queued. */
int auth_admit(struct daemon *d, void *sock, const struct sock_msg *in);

/* SIGHUP: reread the allowlist; log what changed, or why the old list stays. */
void auth_reload(struct daemon *d);

/* Join the handler thread (after zmq_ctx_term) and free. NULL is a no-op. */
void auth_free(struct auth *a);

#endif
