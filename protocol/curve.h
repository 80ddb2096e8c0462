/*
 * curve — CURVE keys for r1flow's tcp:// endpoints (docs/protocol.md): key files
 * and the socket options of both ends. libzmq does the cryptography (it is built
 * with libsodium on Debian); this module only moves keys between files and sockets.
 *
 * A key is 32 bytes, kept everywhere as its Z85 text: CURVE_KEY_LEN characters plus
 * a NUL (struct curve_key). Files:
 *
 *   PREFIX.key   the secret key, one line of Z85; mode 0600. The public key is
 *                derived from it (zmq_curve_public), so it is all a peer needs of
 *                its own keypair.
 *   PREFIX.pub   the public key, one line of Z85; given to the other side (the
 *                daemon's server.pub to workers, a worker's .pub to the allowlist).
 *
 * `curve_key_load` refuses a secret key file that others may read (mode & 0007):
 * ssh's rule, relaxed for the group so that a Kubernetes Secret mounted with
 * fsGroup (mode 0440) or a service group can hold it.
 *
 * Secrets: a struct curve_key holding a secret is wiped with curve_key_wipe as soon
 * as libzmq has its copy. Nothing here prints a key; callers log public keys only.
 *
 * Sockets: `curve_server_setup` makes the next bind of a socket a CURVE server in a
 * ZAP domain, `curve_client_setup` the next connect a CURVE client. libzmq copies a
 * socket's options into each listener or connection when it is made, so a socket
 * can bind ipc:// first (NULL mechanism, no ZAP) and tcp:// after the setup.
 *
 * Without a ZAP handler bound to inproc://zeromq.zap.01 in the same context, a
 * stock libzmq CURVE server lets every client in (the "stonehouse" mode): the daemon
 * runs one (daemon/auth.c) and checks it with a self-test before serving.
 */
#ifndef R1_CURVE_H
#define R1_CURVE_H

#include "err.h"

#define CURVE_KEY_LEN 40      /* Z85 characters of a 32-byte key */

struct curve_key {
	char z85[CURVE_KEY_LEN + 1];   /* Z85 text, NUL-terminated; "" when unset */
};

/* 1 if this libzmq can do CURVE (zmq_has("curve")). */
int curve_available(void);

/* Whether `text` is exactly CURVE_KEY_LEN characters of valid Z85. */
int curve_key_valid(const char *text);

/* A fresh keypair (zmq_curve_keypair). */
int curve_keypair_new(struct curve_key *pub, struct curve_key *secret, struct err *err);

/* The public key of `secret`. */
int curve_public_of(const struct curve_key *secret, struct curve_key *pub, struct err *err);

/* Read a key file: one Z85 key, surrounding white space ignored. `secret` 1 also
 * checks the mode (see above). */
int curve_key_load(const char *path, int secret, struct curve_key *key, struct err *err);

/* Write PREFIX.key (0600) and PREFIX.pub (0644, umask applied) for a new keypair;
 * `pub` gets the public key (may be NULL). Refuses to replace an existing file
 * unless `overwrite`; on failure nothing new is left behind. */
int curve_keypair_save(const char *prefix, int overwrite, struct curve_key *pub,
	struct err *err);

/* Zero a key (explicit_bzero: the compiler cannot drop it). */
void curve_key_wipe(struct curve_key *key);

/* Server side: ZMQ_CURVE_SERVER, the secret key and ZMQ_ZAP_DOMAIN `domain`. */
int curve_server_setup(void *sock, const struct curve_key *secret, const char *domain,
	struct err *err);

/* Client side: the server's public key and our own keypair (public derived). */
int curve_client_setup(void *sock, const struct curve_key *server,
	const struct curve_key *secret, struct err *err);

/* Whether a tcp:// endpoint's address is loopback only: 127.0.0.0/8, ::1,
 * "localhost" or the interface "lo". Anything else (a wildcard, another address, a
 * host name) is not. 0 for endpoints that are not tcp://. */
int curve_endpoint_loopback(const char *endpoint);

#endif
