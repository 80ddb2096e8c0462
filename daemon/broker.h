/*
 * broker — the worker registry and the daemon's side of the worker protocol (R1FW1).
 *
 * A worker is known by its ROUTER identity once it has sent READY; the registry
 * keeps, per worker: its store id (workers are upserted by name, so a reconnect
 * keeps the id), name, job kinds, slots (jobs it may hold at once), the leases in
 * its hands, and when it was last heard from and last sent to.
 *
 * What each message from a worker does (broker_handle)
 *   READY        validated (name, kinds [a-z0-9_]{1,64}, at most BROKER_MAX_KINDS,
 *                token at most BROKER_MAX_TOKEN bytes) and registered; refused with
 *                DISCONNECT if another live worker has the name — unless that
 *                registration sent the same token, i.e. is this very process on a
 *                connection it gave up on. Name, host and pid are no proof: `r1flow
 *                workers` shows them, so anyone who can connect could copy them and
 *                take a live worker's leases. The token is a secret the worker
 *                draws at start and the daemon never shows. A worker that sends none
 *                waits until its old registration is declared dead (liveness). From
 *                a known identity, or replacing such a stale registration: the
 *                leases held before are requeued first (the worker has forgotten
 *                them).
 *   HEARTBEAT    liveness; draining:true stops dispatch to it; a lease sent long
 *                enough ago that its `jobs` no longer lists lost its answer: the job
 *                goes back to the queue, a strike (below).
 *   RESULT       committed if (job, epoch) is a lease in its hands, the store
 *                agrees it is current and the result answers the job (results.h);
 *                not current: dropped and counted (results_stale); not an answer:
 *                refused and counted (results_refused), a strike (below). Blob frames
 *                (or uploads, below) are stored as result files and their names
 *                added as "files". A
 *                result that cannot be stored for a full disk pauses the job's
 *                pipeline (scheduler.h) instead of spending an attempt.
 *   FAIL         the lease fails: back to the queue if `retryable` (default false)
 *                and attempts remain, else the job fails with the error. A FAIL
 *                with `nospace` (the worker's disk is full) pauses the pipeline.
 *   FETCH        answered with a CHUNK (blobs.h).
 *   PUT          a piece of a result blob: written if its lease is in the worker's
 *                hands, answered with an ACK (uploads.h); a lease's uploads go with
 *                its RESULT or FAIL, a worker's with the worker.
 *   DISCONNECT   its leases are requeued and it leaves the registry.
 *   anything from an identity that never sent READY: DISCONNECT "send READY
 *   first" (and counted); a DISCONNECT from such a peer is ignored.
 *   a message that does not decode: counted by fault (msgs_<fault>) and dropped;
 *   a wrong r1flow version gets DISCONNECT with the reason.
 *
 * Leases: a claim (store_job_claim) leases the oldest queued job of a kind the worker
 * runs, with a new epoch; the JOB goes out after the turn commits. A worker silent
 * for heartbeat_ms * liveness is dead (broker_cron): its leases go back to the queue
 * (or fail, attempts used up), it leaves the registry and gets a DISCONNECT in case
 * it was only stalled. So does a worker the ROUTER cannot send to (a killed
 * worker's connection is gone, so the next HEARTBEAT or JOB to it fails: that finds
 * a dead worker within one heartbeat interval). Every lease of a dead worker costs
 * an attempt, so a job that comes back is then leased to a worker holding nothing
 * else, and runs alone (broker.c, may_claim): a poison job reaches its cap by
 * itself instead of taking the jobs queued beside it down with it.
 *
 * Strikes and quarantine. A refused result, or a lease the worker's HEARTBEAT no
 * longer lists (its answer was lost), is a strike: the job goes back to the queue
 * with the reason as its error. The worker's first strike costs the job an attempt
 * like any failure (the job may be the cause, and a job that fails on every worker
 * must still run out of attempts and fail its stage with the reason); its later
 * strikes give the attempt back (store_job_refund), so a faulty worker costs the
 * jobs one attempt in all. At BROKER_STRIKES strikes it is quarantined: it stays
 * connected but gets no more jobs (results of jobs it still holds are checked as
 * ever), and `r1flow workers` shows it as "quarantined" with the reason. It is
 * released by `r1flow workers --release NAME` (broker_release) or by a restart of
 * the worker process (a new token); a reconnect of the same process keeps its
 * strikes, and so does nothing across a daemon restart (strikes live in memory).
 * A job that is refused on every worker quarantines them one by one (each costing
 * it one attempt) and then waits: releasing them lets it run out of attempts.
 *
 * Order within a loop turn (loop.c): broker_handle for each message, broker_reap,
 * broker_cron when due, broker_dispatch; then commit, then the outbox is sent.
 */
#ifndef R1_BROKER_H
#define R1_BROKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sock.h"

#define BROKER_MAX_SLOTS 64     /* slots a worker may ask for */
#define BROKER_MAX_KINDS 32     /* job kinds per READY */
#define BROKER_MAX_NAME  128    /* bytes of a worker name */
#define BROKER_MAX_TOKEN 64     /* bytes of a worker's READY token */
#define BROKER_STRIKES   3      /* refused results or lost leases that quarantine */

struct daemon;

struct broker *broker_new(void);
void broker_free(struct broker *b);   /* NULL is a no-op */

/* One message from the workers socket: `rc` and `err` are sock_recv's outcome. */
void broker_handle(struct daemon *d, struct sock_msg *in, int rc, const struct err *err);

/* Drop workers marked unreachable by the last flush (requeue their leases). Runs
 * after the turn's messages are read, so a RESULT the worker sent before it died
 * is counted before its leases are. */
void broker_reap(struct daemon *d);

/* Periodic duties (see loop.c): heartbeats out, liveness, lease extension and
 * expiry. */
void broker_cron(struct daemon *d);

/* The loop itself did not run for `stalled_ms` (the process was stopped, the host
 * suspended): the workers' silence is ours, so their liveness starts over. */
void broker_grace(struct daemon *d, int64_t stalled_ms);

/* Lease queued jobs to workers with free slots. */
void broker_dispatch(struct daemon *d);

/* Something was queued (enqueue, requeue, retry): idle workers should look again. */
void broker_queue_changed(struct daemon *d);

/* The outbox could not send to the worker with this identity: mark it lost. */
void broker_unreachable(struct daemon *d, const void *identity, size_t size,
	const char *why);

/* The peer with this identity may no longer speak (auth.h: its key was revoked):
 * DISCONNECT `why`, and if it is a registered worker, requeue its leases and forget
 * it now. */
void broker_revoke(struct daemon *d, const void *identity, size_t size, const char *why);

/* A job was cancelled: tell its holder (store id `worker`) and forget the lease. */
void broker_cancelled(struct daemon *d, int64_t job, int64_t worker);

/* Last turn: DISCONNECT every worker and requeue their leases. */
void broker_shutdown(struct daemon *d);

/* The JOBs of this turn's leases went out (the turn committed and its sends were
 * flushed): their time is now, not the turn's start. A turn can take seconds (a
 * learner step of a big model), and a HEARTBEAT the worker sent before a JOB reached
 * it must not count against that JOB (reconcile waits two heartbeats from its send). */
void broker_sent(struct daemon *d);

/* Forget every worker without touching the store (its rows and leases stay as the
 * last commit left them) and send each DISCONNECT `why`: after a turn that could not
 * commit, memory must not hold what the database does not. */
void broker_forget_all(struct daemon *d, const char *why);

/* Live workers, and a JSON array describing them for the `workers` op (new ref). */
size_t broker_count(const struct broker *b);
json_t *broker_describe(const struct daemon *d);

/* `r1flow drain NAME`: no more jobs for the worker, and a HEARTBEAT with drain:true
 * asks it to finish what it holds and leave (as on SIGTERM). ERR_NOTFOUND if no
 * live worker has that name. */
int broker_drain(struct daemon *d, const char *name, struct err *err);

/* `r1flow workers --release NAME`: forget the worker's strikes and end its
 * quarantine, live or remembered for its return. ERR_NOTFOUND if there is no such
 * worker. */
int broker_release(struct daemon *d, const char *name, struct err *err);

#endif
