#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "broker.h"
#include "clock.h"
#include "control.h"
#include "daemon.h"
#include "events.h"
#include "learner.h"
#include "scheduler.h"

static void clocks(struct daemon *d)
{
	d->now = clock_mono_ms();
	d->wall = clock_wall_ms();
}

static void on_send_failed(void *arg, void *sock, const void *envelope, size_t size,
	int errnum, const char *message)
{
	struct daemon *d = arg;
	if (sock == d->workers) {
		broker_unreachable(d, envelope, size, message);
	} else {
		counters_add(&d->counters, C_SENDS_FAILED, 1);
		log_debug("%s (%s)", message, sock == d->control ? "control client gone" :
			"event subscribers slow");
	}
	(void)errnum;
}

/* The status line: jobs per state, workers, results per second since the last line. */
static void log_status(struct daemon *d)
{
	int64_t c[JOB_STATE_COUNT], faults = 0;
	struct err err = { 0 };
	if (store_job_counts(d->store, STORE_ALL_STAGES, c, &err) < 0) {
		log_error("%s", err.msg);
		return;
	}
	for (int f = 1; f < MSG_FAULT_COUNT; f++)
		faults += d->counters.total[C_MSGS_FAULT + f];
	int64_t results = d->counters.total[C_RESULTS_COMMITTED];
	double secs = (double)(d->now - d->status_at) / 1000.0;
	log_info("status: %zu worker(s); jobs queued %lld leased %lld done %lld failed %lld "
		"cancelled %lld; %.0f results/s; stale %lld, requeued %lld, malformed %lld",
		broker_count(d->broker), (long long)c[JOB_STATE_QUEUED],
		(long long)c[JOB_STATE_LEASED], (long long)c[JOB_STATE_DONE],
		(long long)c[JOB_STATE_FAILED], (long long)c[JOB_STATE_CANCELLED],
		secs > 0 ? (double)(results - d->status_results) / secs : 0.0,
		(long long)d->counters.total[C_RESULTS_STALE],
		(long long)d->counters.total[C_JOBS_REQUEUED], (long long)faults);
	d->status_at = d->now;
	d->status_results = results;
}

/*
 * cron — every periodic duty of the daemon, run every LOOP_CRON_MS inside a turn's
 * transaction (Redis serverCron):
 *   1. heartbeats out: HEARTBEAT to every worker sent nothing for heartbeat_ms
 *   2. liveness: a worker silent for heartbeat_ms * liveness is dead; its leases go
 *      back to the queue (each gets a new epoch when claimed again) or fail when
 *      their attempts are used up; it gets DISCONNECT in case it was only stalled
 *   3. leases, every heartbeat_ms: extend the leases of live workers; requeue leases
 *      past their deadline (a holder nobody is tracking any more)
 *   4. workers.last_seen in the store, every 10 * heartbeat_ms
 *   5. a status log line every stats_ms (jobs per state, workers, results/s,
 *      stale, requeued, malformed)
 *   6. pipelines, every LOOP_SCHEDULE_MS: stages advance, fail, succeed and start
 *      (scheduler_run; control ops that change a pipeline also run it at once)
 * Items 1-4 are broker_cron. Counters are flushed every turn, not here.
 */
static void cron(struct daemon *d)
{
	broker_cron(d);
	if (d->now - d->scheduled_at >= LOOP_SCHEDULE_MS) {
		scheduler_run(d);
		d->scheduled_at = d->now;
	}
	if (d->cfg.stats_ms > 0 && d->now - d->status_at >= d->cfg.stats_ms)
		log_status(d);
}

/*
 * A full disk (ENOSPC, EDQUOT, or EFBIG under a file-size limit) that keeps the
 * database from committing a turn does not stop the daemon. The turn is rolled back,
 * but memory saw it: the learners and the worker registry may be ahead of the
 * database, so they are dropped as a restart would drop them (learners are rebuilt
 * from their last saved checkpoint and the steps after it recomputed; workers get
 * DISCONNECT and come back with READY). Then the daemon stalls: worker messages
 * are dropped, every control request is answered with the reason ("No space left
 * on device: DIR (...)", what `r1flow status` prints), and every LOOP_STALL_MS a
 * probe file is written to DIR. Once it fits, a turn requeues the leases the
 * forgotten workers held and normal turns go on by themselves.
 */
static int begin(struct daemon *d);
static void read_socket(struct daemon *d, void *sock, enum proto_dir dir,
	void (*handle)(struct daemon *, struct sock_msg *, int, const struct err *));

#define LOOP_STALL_MS 1000
#define LOOP_STALL_PROBE (1 << 20) /* bytes written to test for space */

static void stall(struct daemon *d, const struct err *why)
{
	int first = !d->stalled[0];
	snprintf(d->stalled, sizeof d->stalled, "No space left on device: %.300s (%.450s); the "
		"daemon carries on by itself once space is freed", d->dir.root, why->msg);
	if (first)
		log_error("%s", d->stalled);
	learner_close_all(d);
	broker_forget_all(d, "daemon waiting for disk space");
	outbox_flush(&d->out, on_send_failed, d); /* the DISCONNECTs: nothing to commit */
	d->stall_probe_at = d->now + LOOP_STALL_MS;
}

/* 1 if LOOP_STALL_PROBE bytes fit in DIR again. */
static int space_back(struct daemon *d)
{
	char path[DATADIR_PATH_MAX];
	struct err err = { 0 };
	if (datadir_path(&d->dir, "space-probe", path, sizeof path, &err) < 0)
		return 0;
	static char zeros[64 * 1024];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ok = fd >= 0;
	for (size_t done = 0; ok && done < LOOP_STALL_PROBE; done += sizeof zeros)
		ok = write(fd, zeros, sizeof zeros) == (ssize_t)sizeof zeros;
	ok = ok && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	unlink(path);
	return ok;
}

/* Commit the turn and send what it produced. -1 if the commit failed for good. */
static int finish_turn(struct daemon *d)
{
	struct err err = { 0 };
	if (counters_flush(&d->counters, d->store, &err) < 0 ||
		store_commit(d->store, &err) < 0) {
		if (store_in_transaction(d->store))
			store_rollback(d->store);
		counters_discard(&d->counters);
		outbox_clear(&d->out);
		if (err_nospace(&err)) {
			stall(d, &err);
			return 0;
		}
		log_error("%s; stopping: a restart recovers from the database", err.msg);
		return -1;
	}
	outbox_flush(&d->out, on_send_failed, d);
	broker_sent(d);
	return 0;
}

/* A turn while stalled: answer control requests with the reason, drop the rest, and
 * see whether space is back. -1: stop (a commit failed for another reason). */
static int stalled_turn(struct daemon *d, const zmq_pollitem_t *items)
{
	if (items[0].revents & ZMQ_POLLIN)
		for (int i = 0; i < d->cfg.batch; i++) {
			struct err err = { 0 };
			int rc = sock_recv(d->workers, d->in, PROTO_W2D, ZMQ_DONTWAIT, &err);
			sock_msg_release(d->in);
			if (rc < 0 && d->in->msg.fault == MSG_OK)
				break;
		}
	if (items[1].revents & ZMQ_POLLIN) {
		read_socket(d, d->control, PROTO_C2D, control_handle);
		outbox_flush(&d->out, on_send_failed, d); /* error replies: nothing to commit */
	}
	if (d->now < d->stall_probe_at)
		return 0;
	d->stall_probe_at = d->now + LOOP_STALL_MS;
	if (!space_back(d) || begin(d) < 0)
		return 0;
	struct err err = { 0 };
	struct store_requeue r = { 0, 0 };
	if (store_job_requeue_expired(d->store, INT64_MAX, "the daemon waited for disk space",
		&r, &err) < 0) {
		store_rollback(d->store);
		if (err_nospace(&err))
			return 0;
		log_error("%s", err.msg);
		return -1;
	}
	counters_add(&d->counters, C_JOBS_REQUEUED, r.queued);
	counters_add(&d->counters, C_JOBS_FAILED, r.failed);
	char was[sizeof d->stalled];
	memcpy(was, d->stalled, sizeof was);
	d->stalled[0] = '\0';
	events_emit(d, "daemon_resumed", json_pack("{ss}", "after", was));
	if (finish_turn(d) < 0)
		return -1;
	if (!d->stalled[0])
		log_info("space is back: carrying on (%lld lease(s) requeued)", (long long)r.queued);
	return 0;
}

/* Read up to cfg.batch messages from `sock` without waiting. */
static void read_socket(struct daemon *d, void *sock, enum proto_dir dir,
	void (*handle)(struct daemon *, struct sock_msg *, int, const struct err *))
{
	for (int i = 0; i < d->cfg.batch && (sock != d->workers || d->turn_bytes < LOOP_TURN_BYTES);
		i++) {
		struct err err = { 0 };
		int rc = sock_recv(sock, d->in, dir, ZMQ_DONTWAIT, &err);
		if (rc < 0 && d->in->msg.fault == MSG_OK) {
			sock_msg_release(d->in);
			if (errno != EAGAIN && errno != EINTR)
				log_error("%s", err.msg);
			return;
		}
		if (auth_admit(d, sock, d->in))
			handle(d, d->in, rc, &err);
		sock_msg_release(d->in);
	}
}

static int begin(struct daemon *d)
{
	struct err err = { 0 };
	d->turn_bytes = 0;
	if (store_begin(d->store, &err) == 0)
		return 0;
	log_error("%s; retrying", err.msg);
	return -1;
}

static int first_turn(struct daemon *d)
{
	struct err err = { 0 };
	struct store_requeue r = { 0, 0 };
	clocks(d);
	if (begin(d) < 0)
		return -1;
	if (store_job_requeue_expired(d->store, INT64_MAX, "daemon restarted", &r, &err) < 0) {
		log_error("%s", err.msg);
		store_rollback(d->store);
		return -1;
	}
	if (r.queued || r.failed)
		log_info("recovered from the previous run: %lld lease(s) requeued, %lld job(s) "
			"failed (attempts used up)", (long long)r.queued, (long long)r.failed);
	counters_add(&d->counters, C_JOBS_REQUEUED, r.queued);
	counters_add(&d->counters, C_JOBS_FAILED, r.failed);
	events_emit(d, "daemon_started", json_pack("{si}", "pid", (int)getpid()));
	d->status_at = d->now;
	d->status_results = d->counters.total[C_RESULTS_COMMITTED];
	return finish_turn(d);
}

static void last_turn(struct daemon *d)
{
	clocks(d);
	if (begin(d) < 0)
		return;
	broker_shutdown(d);
	events_emit(d, "daemon_stopping", NULL);
	finish_turn(d);
}

int loop_run(struct daemon *d, int signal_fd)
{
	int64_t next_cron = 0, last_turn_at;
	int wake_fd = learner_wake_fd(d);
	if (first_turn(d) < 0)
		return -1;
	last_turn_at = d->now;
	while (!d->stop) {
		zmq_pollitem_t items[4] = {
			{ d->workers, 0, ZMQ_POLLIN, 0 },
			{ d->control, 0, ZMQ_POLLIN, 0 },
			{ NULL, signal_fd, ZMQ_POLLIN, 0 },
			{ NULL, wake_fd, ZMQ_POLLIN, 0 },
		};
		clocks(d);
		long timeout = d->stalled[0] ? LOOP_STALL_MS / 4 : d->schedule_next ? 0 :
			next_cron > d->now ? (long)(next_cron - d->now) : 0;
		if (zmq_poll(items, wake_fd >= 0 ? 4 : 3, timeout) < 0 && errno != EINTR) {
			log_error("cannot poll: %s", zmq_strerror(errno));
			return -1;
		}
		clocks(d);
		if (items[2].revents & ZMQ_POLLIN) {
			unsigned char sig[16];
			ssize_t n = read(signal_fd, sig, sizeof sig);
			for (ssize_t i = 0; i < n && !d->stop; i++) {
				if (sig[i] == SIGHUP) {
					auth_reload(d);
					continue;
				}
				log_info("received signal %d: stopping", (int)sig[i]);
				d->stop = 1;
			}
		}
		if (items[3].revents & ZMQ_POLLIN) { /* a learner's thread ended */
			unsigned char buf[64];
			while (read(wake_fd, buf, sizeof buf) > 0)
				;
			learner_reap(d);
			d->kick = 1; /* its stage commits the step in this turn */
		}
		if (d->stalled[0]) {
			if (stalled_turn(d, items) < 0)
				return -1;
			last_turn_at = d->now;
			continue;
		}
		if (begin(d) < 0) {
			usleep(100 * 1000);
			continue;
		}
		/* time since the last turn beyond the poll timeout is time the process did
		 * not run (or a turn took that long) */
		int64_t stalled = d->now - last_turn_at - timeout;
		last_turn_at = d->now;
		if (stalled > (int64_t)d->cfg.heartbeat_ms * d->cfg.liveness)
			broker_grace(d, stalled);
		if (d->schedule_next) { /* asked for by the last turn (a submit) */
			d->schedule_next = 0;
			scheduler_run(d);
			d->scheduled_at = d->now;
		}
		if (items[0].revents & ZMQ_POLLIN)
			read_socket(d, d->workers, PROTO_W2D, broker_handle);
		broker_reap(d);
		if (items[1].revents & ZMQ_POLLIN)
			read_socket(d, d->control, PROTO_C2D, control_handle);
		if (d->now >= next_cron) {
			cron(d);
			next_cron = d->now + LOOP_CRON_MS;
		}
		if (d->kick) { /* a stage's job finished: let the stage move on in this turn */
			d->kick = 0;
			scheduler_run(d);
			d->scheduled_at = d->now;
		}
		broker_dispatch(d);
		if (finish_turn(d) < 0)
			return -1;
		/* a turn longer than a heartbeat holds up heartbeats and replies: say so */
		int64_t took = clock_mono_ms() - d->now;
		if (took > d->cfg.heartbeat_ms)
			log_warn("a turn took %lld ms (nothing was sent or received meanwhile)",
				(long long)took);
	}
	last_turn(d);
	return 0;
}
