/*
 * runtime — the worker process: a connection to the daemon and a thread that runs
 * jobs (docs/architecture.md, protocol in proto.h and docs/protocol.md).
 *
 * Two threads, joined by an inproc PAIR socket:
 *
 *   I/O thread (the caller of runtime_run) owns the DEALER to the daemon. It sends
 *   READY on every new connection, HEARTBEAT when it has sent nothing for
 *   heartbeat_ms (listing the jobs in hand, and draining:true once draining), keeps
 *   up to `slots` leased JOBs in a queue, forwards the compute thread's RESULT/FAIL,
 *   fetches blobs for it into the local cache (cache.h), and watches the daemon:
 *   silent for heartbeat_ms * liveness, or a DISCONNECT, and the session is over —
 *   the JOBs in hand are abandoned (their leases are gone), the socket is closed
 *   and a new one connects after a back-off of reconnect_ms doubling up to
 *   reconnect_max_ms (reset once the daemon answers), then READY again.
 *
 *   compute thread runs one job at a time through the registry (kinds.h). Its loop
 *   is one call that sends the previous job's reply and waits for the next job
 *   (zguide mdwrkapi style): the received JOB — a struct sock_msg on the heap, as
 *   sock.h requires for a hand-over — passes to it by pointer, and so does the
 *   reply back. Heartbeats keep flowing while a job computes.
 *
 * A pause of the worker itself longer than that window (SIGSTOP, a suspended host)
 * is not held against the daemon: its liveness window starts over.
 *
 * Sessions: every connection gets a new session number; a reply whose job came on
 * an older session (or whose job was cancelled) is dropped, never sent.
 *
 * Signals: the caller passes the read end of a self-pipe written by its SIGTERM /
 * SIGINT handler. The first signal drains: no more JOBs are asked for, the jobs in
 * hand finish and are answered, then DISCONNECT and return 0. A second signal stops
 * at once (returns -1) without waiting for the running job.
 *
 * Exits with -1 and err also when the daemon speaks another protocol version
 * (retrying cannot fix that) or on a setup failure.
 */
#ifndef R1_RUNTIME_H
#define R1_RUNTIME_H

#include "err.h"
#include "settings.h"

/* The compute thread's side, seen by job_blob_path (job.h). */
struct runtime_compute;

int runtime_run(const struct worker_settings *s, int signal_fd, struct err *err);

#endif
