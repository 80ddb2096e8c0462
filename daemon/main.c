/*
 * r1flowd — the r1flow coordinator (docs/architecture.md). Startup, signals, shutdown; the work
 * is in loop.c and the modules daemon.h lists. SIGTERM and SIGINT stop it; SIGHUP
 * rereads the CURVE allowlist (auth.h).
 *
 * Exit status: 0 after a clean stop (SIGTERM, SIGINT, the shutdown op), 1 on a
 * startup or store failure, 2 on a usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "blobs.h"
#include "broker.h"
#include "clock.h"
#include "daemon.h"
#include "deltas.h"
#include "http.h"
#include "imports.h"
#include "learner.h"
#include "loop.h"
#include "options.h"
#include "relays.h"
#include "selfpipe.h"
#include "tokenizers.h"

/* Open a socket of `type` and bind it to DIR/`name`.
 *
 * The ROUTERs get a linger of DAEMON_LINGER_MS instead of sock.h's 0, for what it
 * does on the receiving side: when a peer's connection closes, libzmq keeps the
 * messages it already received from that peer readable for the linger time (with
 * 0 it drops them at once). Without it, a worker that sends its last RESULT and
 * DISCONNECT and exits (a drain) loses them whenever it closes before the loop
 * reads them. The cost is that zmq_ctx_term at shutdown may wait that long for
 * DISCONNECTs to dead workers, which is also what lets live workers get theirs. */
#define DAEMON_LINGER_MS 1000

static void *open_bound(struct daemon *d, int type, const char *name, struct err *err)
{
	char endpoint[DATADIR_PATH_MAX + 16];
	if (datadir_endpoint(&d->dir, name, endpoint, sizeof endpoint, err) < 0)
		return NULL;
	/* workers send big frames (result pieces, bounded by their --chunk-size), and so
	 * do control clients (dataset import pieces, blob_put) */
	struct sock_opts opts = { .max_frame_size = strcmp(name, "workers.sock") == 0 ?
		d->cfg.max_frame_size : strcmp(name, "control.sock") == 0 ?
		d->cfg.max_control_frame_size : 0 };
	void *s = sock_open(d->zctx, type, &opts, err);
	int linger = DAEMON_LINGER_MS;
	if (s && type == ZMQ_ROUTER &&
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0) {
		err_set(err, ERR_IO, "cannot set ZMQ_LINGER on '%s': %s", endpoint,
			zmq_strerror(errno));
		sock_close(&s);
		return NULL;
	}
	if (s && sock_bind(s, endpoint, err) < 0)
		sock_close(&s);
	return s;
}

static int start(struct daemon *d, struct err *err)
{
	char path[DATADIR_PATH_MAX];
	if (datadir_open(&d->dir, d->cfg.data, err) < 0 ||
		datadir_path(&d->dir, "r1flow.db", path, sizeof path, err) < 0)
		return -1;
	if (!(d->store = store_open(path, err)) ||
		counters_load(&d->counters, d->store, err) < 0)
		return -1;
	if (!(d->broker = broker_new()) || !(d->in = calloc(1, sizeof *d->in)))
		return err_set(err, ERR_NOMEM, "cannot start: out of memory");
	if (!(d->zctx = zmq_ctx_new()))
		return err_set(err, ERR_IO, "cannot create ZeroMQ context: %s", zmq_strerror(errno));
	/* the ZAP handler (and its self-test) before any bind: auth.h */
	if (auth_start(d, err) < 0)
		return -1;
	if (!(d->workers = open_bound(d, ZMQ_ROUTER, "workers.sock", err)) ||
		!(d->control = open_bound(d, ZMQ_ROUTER, "control.sock", err)) ||
		!(d->events = open_bound(d, ZMQ_PUB, "events.sock", err)) ||
		http_bind(d, err) < 0 || auth_listen(d, err) < 0)
		return -1;
	blobs_clean(d);
	d->started = clock_mono_ms();
	return http_start(d, err);
}

static void stop(struct daemon *d)
{
	http_stop(d); /* its threads' sockets close before the context ends */
	sock_close(&d->workers);
	sock_close(&d->control);
	sock_close(&d->events);
	if (d->zctx)
		zmq_ctx_term(d->zctx); /* also ends the ZAP handler thread (ETERM) */
	auth_free(d->auth);
	outbox_release(&d->out);
	relays_free(d->relays);
	deltas_free(d); /* before the learners go: blobs_drop asks what they hold */
	learner_shutdown(d);
	import_shutdown(d);
	tokenizers_clear();
	free(d->backoff);
	broker_free(d->broker);
	free(d->in);
	store_close(d->store);
	datadir_close(&d->dir);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct err err = { 0 };
	memset(&d, 0, sizeof d);
	d.dir.lock_fd = -1;
	outbox_init(&d.out);

	int rc = options_parse(&d.cfg, argc, argv, &err);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "r1flowd: %s (see --help)\n", err.msg);
		return rc < 0 ? 2 : 0;
	}
	log_init("r1flowd", d.cfg.log_level);
	int signal_fd = selfpipe_open((const int[]){ SIGTERM, SIGINT, SIGHUP, 0 }, &err);
	if (signal_fd < 0 || start(&d, &err) < 0) {
		fprintf(stderr, "r1flowd: %s\n", err.msg);
		stop(&d);
		return 1;
	}
	log_info("serving '%s' (heartbeat %d ms, liveness %d, max attempts %d)", d.dir.root,
		d.cfg.heartbeat_ms, d.cfg.liveness, d.cfg.max_attempts);
	rc = loop_run(&d, signal_fd);
	log_info("stopped%s", rc < 0 ? " on a store error" : "");
	stop(&d);
	return rc < 0 ? 1 : 0;
}
