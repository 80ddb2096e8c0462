/*
 * counters — the daemon's persistent counters, kept in the store's counters table.
 *
 * One fixed table of names (counters.c). The daemon adds to them in memory as things
 * happen; `counters_flush` writes the turn's deltas inside the turn's transaction,
 * so a counter and the change it counts commit together (results_committed always
 * equals the results in the jobs table, even across a kill -9). `total` is loaded
 * at startup and kept current, for the status op and the log line.
 *
 * Forbidden: counters_flush outside a store transaction (it would cost one fsync per
 * counter).
 */
#ifndef R1_COUNTERS_H
#define R1_COUNTERS_H

#include <stdint.h>

#include "err.h"
#include "msg.h"

struct store;

enum counter {
	C_RESULTS_COMMITTED,  /* RESULTs committed: exactly one per done job */
	C_RESULTS_STALE,      /* RESULT/FAIL for a lease that is not current: dropped */
	C_JOBS_ENQUEUED,
	C_JOBS_REQUEUED,      /* leases put back: dead or gone workers, expired leases */
	C_JOBS_RETRIED,       /* retryable FAILs put back in the queue */
	C_JOBS_FAILED,        /* jobs that ended failed */
	C_JOBS_CANCELLED,
	C_WORKERS_JOINED,     /* READYs accepted */
	C_WORKERS_LOST,       /* declared dead: silent past liveness, or unreachable */
	C_WORKERS_REFUSED,    /* READYs refused: bad kinds, name in use */
	C_MSGS_UNKNOWN_PEER,  /* valid messages from peers that never sent READY */
	C_RESULTS_REFUSED,    /* RESULTs that do not answer their job (results.h) */
	C_WORKERS_QUARANTINED, /* workers that got no more jobs after too many strikes */
	C_MSGS_FAULT,         /* first of MSG_FAULT_COUNT: malformed messages by fault */
	C_SENDS_FAILED = C_MSGS_FAULT + MSG_FAULT_COUNT,  /* sends that did not go out */
	C_UPLOAD_PIECES,      /* PUT pieces of result blobs written (uploads.h) */
	C_UPLOADS_DROPPED,    /* uploads abandoned: refused piece, lease over, worker gone */
	C_BLOB_BYTES_SENT,    /* blob bytes sent to workers in CHUNKs (their fetches) */
	C_BLOB_BYTES_RECEIVED, /* result blob bytes received from workers in PUT pieces */
	C_PEER_REDIRECTS,     /* FETCHes answered with a peer to fetch from (relays.h) */
	C_PEER_FAILURES,      /* fetches from a peer that failed and fell back to the daemon */
	C_COUNT,
};

struct counters {
	int64_t total[C_COUNT];   /* persisted value plus this turn's delta */
	int64_t delta[C_COUNT];   /* not yet written */
};

/* "results_committed", "msgs_json", ...; NULL for unused slots (msgs_ok). */
const char *counters_name(enum counter c);

/* Load every counter's persisted value. */
int counters_load(struct counters *c, struct store *s, struct err *err);

static inline void counters_add(struct counters *c, enum counter which, int64_t delta)
{
	c->total[which] += delta;
	c->delta[which] += delta;
}

/* Write and zero the deltas (inside the turn's transaction). */
int counters_flush(struct counters *c, struct store *s, struct err *err);

/* Forget unwritten deltas (the transaction they belonged to rolled back). */
void counters_discard(struct counters *c);

#endif
