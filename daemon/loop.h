/*
 * loop — r1flowd's event loop: zmq_poll over the worker and control sockets and the
 * signal pipe, one store transaction per turn, and the periodic duties (cron).
 *
 * A turn:
 *   1. zmq_poll until a socket is readable, a signal arrives, a learner's thread
 *      ends (its wake pipe: the turn then runs the scheduler, so the stage commits
 *      the step at once) or cron is due
 *   2. store_begin
 *   3. read up to cfg.batch messages (or LOOP_TURN_BYTES of blob traffic) from the
 *      worker socket (broker_handle); reap
 *      workers the last flush found unreachable; read up to cfg.batch control
 *      requests (control_handle); cron if due; dispatch queued jobs to free worker
 *      slots; flush the counters
 *   4. store_commit — then, and only then, send the outbox (JOBs, CHUNKs, replies,
 *      events). A failed commit ends the loop with -1: everything since store_begin
 *      is gone, so the registry no longer matches the database, and a restart (which
 *      requeues every lease) is the way back to a consistent state.
 *
 * A turn that starts more than a liveness window after the previous one means the
 * process did not run (SIGSTOP, a suspended host): the workers get a fresh window
 * (broker_grace) rather than all being declared dead for the daemon's own silence.
 *
 * The first turn recovers from the previous run: every lease in the database
 * belonged to a session that no longer exists, so all of them go back to the queue
 * (store_job_requeue_expired at INT64_MAX); their workers reconnect and announce
 * themselves again. The last turn (after SIGTERM, SIGINT or the shutdown op) sends
 * every worker DISCONNECT and requeues their leases.
 */
#ifndef R1_LOOP_H
#define R1_LOOP_H

struct daemon;

#define LOOP_CRON_MS 100   /* cron period; each duty keeps its own, longer, interval */
#define LOOP_SCHEDULE_MS 250 /* pipelines advance this often (stage progress, starts) */
/* Blob bytes a turn may read or write (CHUNKs served, PUT pieces written) before it
 * stops reading messages: the outbox goes out only after the commit, so a turn of
 * 512 FETCHes would hold 512 MiB and every worker's heartbeat for seconds. */
#define LOOP_TURN_BYTES (32 << 20)

/* Run until d->stop is set or `signal_fd` becomes readable (a byte per signal).
 * 0 after a clean stop, -1 if a commit failed (logged). */
int loop_run(struct daemon *d, int signal_fd);

#endif
