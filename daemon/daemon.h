/*
 * daemon — the state of one r1flowd process, shared by its modules.
 *
 * r1flowd is a single-threaded event loop (loop.c) over three ZeroMQ sockets, a
 * signal pipe and the learners' wake pipe; only the learners' heavy work (learner.h),
 * the ZAP handler and the --http server (http.h) run on threads of their own, and
 * none touches this struct beyond what their headers say. Each module owns one concept and works on this struct:
 *
 *   options.c   the option table: parsing, --help, defaults
 *   auth.c      tcp endpoints: CURVE keys, the allowlist, the ZAP handler thread
 *   datadir.c   the data directory: layout, 0700 mode, the lock, endpoint paths
 *   loop.c      the loop: one store transaction per turn, the periodic duties
 *   broker.c    the worker registry and the worker protocol (R1FW1): leases,
 *               heartbeats, liveness, results, dispatch
 *   blobs.c     content-addressed files under blobs/ and the FETCH/CHUNK service
 *   control.c   the control socket (R1FC1 REQUEST -> REPLY), one table of ops
 *   events.c    events: stored in the events table and published on the PUB socket
 *   outbox.c    messages waiting for the turn's commit
 *   counters.c  persistent counters (faults, stale results, requeues)
 *   scheduler.c pipelines and stages: submission, states, starts (stage.h drivers)
 *   http.c      --http: the dashboard, the JSON API, events, /metrics, on threads of
 *               libmicrohttpd's that reach the loop only through the control socket
 *
 * The rule every module follows (store.h "Transactions"): a turn's writes join one
 * transaction, and nothing that presumes a write — a JOB for a claim, a reply, an
 * event — leaves the process before store_commit returns 0. Modules therefore never
 * send directly: they push messages to `out`, which loop.c flushes after the commit
 * (or drops, together with the process, if the commit fails: the database is the
 * truth and a restart recovers from it).
 *
 * Times: `now` is the monotonic clock in ms (timers, liveness); `wall` is the Unix
 * time in ms (everything written to the store). Both are read once per turn.
 */
#ifndef R1_DAEMON_H
#define R1_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "datadir.h"
#include "log.h"
#include "outbox.h"
#include "sock.h"
#include "store.h"

struct auth;
struct broker;
struct http;
struct delta;
struct learner;
struct sched_backoff;

/* Everything the option table fills (options.c has the defaults and the help). */
struct daemon_config {
	const char *data;          /* data directory */
	int heartbeat_ms;          /* heartbeat interval, both directions */
	int liveness;              /* heartbeats a worker may miss before it is dead */
	int max_attempts;          /* leases per job before it fails */
	int max_frame_size;        /* ZMQ_MAXMSGSIZE of the workers socket */
	int max_control_frame_size; /* ... and of the control socket */
	int batch;                 /* messages read per socket per turn (one transaction) */
	int stats_ms;              /* status log line interval; 0: never */
	enum log_level log_level;
	const char *listen;        /* tcp:// worker endpoint; "" none (auth.h) */
	const char *listen_control; /* tcp:// control endpoint; "" none */
	const char *keys;          /* directory of server.key / server.pub */
	const char *allowlist;     /* file of allowed client keys */
	bool no_curve;             /* serve the tcp endpoints without CURVE */
	bool insecure;             /* ... even on a non-loopback address */
	const char *http;          /* --http ADDR:PORT; "" none (http.h) */
	const char *http_token_file; /* its token; "" none */
	char derived_keys[DATADIR_PATH_MAX];       /* storage for the derived defaults */
	char derived_allowlist[DATADIR_PATH_MAX];
};

struct daemon {
	struct daemon_config cfg;
	struct datadir dir;        /* layout and lock of cfg.data */
	void *zctx;                /* the ZeroMQ context */
	void *workers;             /* ROUTER, workers.sock: R1FW1 */
	void *control;             /* ROUTER, control.sock: R1FC1 requests */
	void *events;              /* PUB, events.sock: R1FC1 EVENTs */
	struct store *store;       /* the one writer connection */
	struct broker *broker;     /* worker registry (broker.h) */
	struct outbox out;         /* sends waiting for this turn's commit */
	struct counters counters;  /* persistent counters, flushed every turn */
	struct sock_msg *in;       /* receive buffer (heap: a sock_msg must not move) */
	int64_t now;               /* monotonic ms, this turn */
	int64_t wall;              /* Unix ms, this turn */
	int64_t started;           /* monotonic ms at startup */
	int64_t status_at;         /* monotonic ms of the last status line */
	int64_t status_results;    /* results_committed at the last status line */
	int64_t scheduled_at;      /* monotonic ms of the last scheduler_run */
	struct learner *learners;  /* training stages' optimizer state (learner.h) */
	struct learner *opening;   /* learners being prepared on their threads */
	struct learner *retired;   /* closed learners whose step threads still run */
	int learner_wake[2];       /* pipe: a learner's thread ended (learner.h) */
	int learner_wake_ready;    /* learner_wake was made */
	struct relays *relays;     /* the peer-fetch plan (relays.h) */
	int64_t turn_bytes;        /* blob bytes this turn served or wrote (loop.h) */
	struct delta *deltas;      /* each training stage's latest weights delta (deltas.h) */
	struct import *import;     /* a model directory being stored as a blob (imports.h) */
	struct sched_backoff *backoff; /* stages waiting out a transient error (scheduler.c) */
	size_t nbackoff;
	struct auth *auth;         /* CURVE allowlist and ZAP handler; NULL: no CURVE */
	struct http *http;         /* the --http server (http.h); NULL: none */
	char stalled[900];         /* "": normal; else the database cannot take a turn for
	                            * a full disk: why, answered to every control request
	                            * until space is back (loop.c) */
	int64_t stall_probe_at;    /* monotonic ms of the next check for space */
	int kick;                  /* a stage's job ended this turn: run the scheduler */
	int schedule_next;         /* run the scheduler at the start of the next turn */
	int stop;                  /* set by a signal or the shutdown op: last turn */
};

/* Lease length: a lease outlives two liveness windows, and the periodic function
 * extends the leases of live workers every heartbeat, so only leases nobody
 * extends (their holder is gone) ever expire. */
static inline int64_t daemon_lease_ms(const struct daemon *d)
{
	return 2 * (int64_t)d->cfg.heartbeat_ms * d->cfg.liveness;
}

#endif
