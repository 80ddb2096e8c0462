/*
 * outbox — messages the daemon sends once the turn's transaction has committed.
 *
 * Every send of the event loop goes through here (daemon.h says why). An entry is a
 * socket, a copy of the envelope (ROUTER identity or PUB topic) and a message the
 * outbox owns from the push on.
 *
 *   outbox_push     take a message (its header and owned blobs); zeroes *m
 *   outbox_flush    send everything in order, non-blocking; failures go to a callback
 *   outbox_clear    drop everything unsent (after a failed commit)
 *
 * Sends use ZMQ_DONTWAIT: the loop never blocks on a slow peer. A worker that cannot
 * take a message (gone: EHOSTUNREACH; stuck: EAGAIN at the high-water mark) is
 * reported through the callback and the broker treats it as lost.
 */
#ifndef R1_OUTBOX_H
#define R1_OUTBOX_H

#include <stddef.h>

#include "msg.h"
#include "proto.h"

struct outbox_entry {
	void *sock;                              /* where to send */
	size_t envelope_size;                    /* 0: no envelope frame (DEALER) */
	unsigned char envelope[PROTO_MAX_ENVELOPE]; /* identity or topic bytes */
	int has_envelope;                        /* ROUTER and PUB: send the envelope frame */
	struct msg msg;                          /* owned */
};

struct outbox {
	struct outbox_entry *entries;  /* pending, in push order */
	size_t n, cap;
};

/* A send that failed: the socket, the envelope, errno and the error text. */
typedef void (*outbox_fail_fn)(void *arg, void *sock, const void *envelope,
	size_t envelope_size, int errnum, const char *message);

void outbox_init(struct outbox *o);
void outbox_release(struct outbox *o);    /* drops anything pending */

/* Queue *m for `sock` with `envelope` (NULL: none). Takes the message: *m is zeroed.
 * -1 only when out of memory (the message is then released). */
int outbox_push(struct outbox *o, void *sock, const void *envelope, size_t envelope_size,
	struct msg *m);

/* Send and release every entry; `fail` (may be NULL) hears of each failure. */
void outbox_flush(struct outbox *o, outbox_fail_fn fail, void *arg);

void outbox_clear(struct outbox *o);

#endif
