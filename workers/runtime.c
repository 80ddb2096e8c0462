#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "clock.h"
#include "curve.h"
#include "job.h"
#include "kinds.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "sock.h"
#include "upload.h"

#ifndef R1FLOW_VERSION
#define R1FLOW_VERSION "unknown"
#endif

#define COMPUTE_ENDPOINT "inproc://r1flow-compute"
#define QUEUE_MAX 128   /* JOBs held; the daemon sends at most `slots` (<= 64) */

enum link { LINK_BACKOFF, LINK_CONNECTING, LINK_UP };
enum ask { ASK_NEXT, ASK_FETCH };

/* The one object that travels (by pointer) between the threads. While the I/O
 * thread holds it the compute thread is blocked waiting for it, so it is never
 * touched by both at once. */
struct exchange {
	enum ask ask;
	struct msg reply;               /* ASK_NEXT: RESULT or FAIL of the job just run */
	uint64_t reply_session;         /* the session that job came on */
	int64_t reply_job;
	char blob_sha[JOB_MAX_BLOBS][SHA256_HEX_SIZE]; /* the reply's blobs' sha256s */
	struct sock_msg *job;           /* answer to ASK_NEXT: next JOB (heap), NULL: stop */
	uint64_t job_session;
	char sha256[SHA256_HEX_SIZE];   /* ASK_FETCH: the blob wanted */
	int full;                       /* ASK_FETCH: the whole blob, no delta */
	char path[CACHE_PATH_MAX];      /* answer: where it is */
	void *delta;                    /* or: a verified delta to apply (malloc'd) ... */
	size_t delta_size;
	char delta_base[SHA256_HEX_SIZE]; /* ... onto this cached blob */
	int fetch_rc;                   /* answer: 0 or -1 with fetch_err */
	struct err fetch_err;
};

struct runtime_compute {
	void *pair;                     /* PAIR, compute end */
	struct exchange x;
	const struct cache *cache;      /* read-only once open */
};

struct io {
	const struct worker_settings *s;
	void *zctx, *dealer, *pair;
	struct cache cache;
	json_t *kinds;                  /* announced in READY */
	char token[33];                 /* READY's secret, drawn once per process ("" none) */
	enum link link;
	uint64_t session;               /* bumped at every connect and every reset */
	int64_t now;                    /* monotonic ms */
	int64_t backoff;                /* next back-off */
	int64_t retry_at;               /* LINK_BACKOFF: when to connect */
	int64_t since;                  /* LINK_CONNECTING: since when */
	int64_t last_heard, last_sent;
	int heard;                      /* the daemon spoke in this session */
	struct exchange *waiting;       /* compute waits for a job (ASK_NEXT pending) */
	struct exchange *fetching;      /* compute waits for a blob */
	struct cache_fill fill;         /* the blob being fetched */
	char fill_sha[SHA256_HEX_SIZE]; /* what is streaming: the blob or its delta */
	int64_t fill_offset;            /* bytes received */
	int64_t fill_asked;             /* bytes asked for (FETCHes sent) */
	int64_t fill_total;             /* the stream's size, once known; 0 before */
	int fill_checked;               /* this fetch asked the daemon to hash its file */
	int fill_delta;                 /* the stream is a delta (into delta_buf) */
	uint8_t *delta_buf;
	struct sha256 delta_hash;       /* of the delta's bytes so far */
	int busy;                       /* compute runs a job */
	int64_t running;                /* its id */
	int cancelled;                  /* the daemon cancelled it: drop its reply */
	struct upload up;               /* a RESULT's blobs going up in PUTs (upload.h) */
	struct exchange *parked;        /* a finished job whose RESULT waits for `up` */
	struct peer_server peers;       /* --peer-listen: blobs served to workers (peer.h) */
	void *peer;                     /* DEALER to the peer serving the stream; NULL: daemon */
	void *peer_mon;                 /* PAIR: its monitor (a lost or refused connection) */
	unsigned peer_seq;              /* names the monitor's inproc endpoint */
	char peer_name[130];
	int64_t peer_heard;             /* last CHUNK from it (or the redirect) */
	int64_t fetch_chunk;            /* bytes asked per FETCH */
	uint8_t *kept_delta;            /* the last verified delta, served to peers */
	size_t kept_delta_size;
	char kept_delta_sha[SHA256_HEX_SIZE];
	uint64_t peer_fetches, peer_fallbacks;
	int64_t die_after;              /* test hook: SIGKILL ourselves after this many PUTs */
	struct sock_msg *queue[QUEUE_MAX]; /* JOBs waiting for compute, oldest first */
	size_t nqueue;
	struct sock_msg *spare;         /* receive buffer */
	int curve;                      /* connect as a CURVE client (--key) */
	struct curve_key server_key;    /* the daemon's public key */
	struct curve_key secret;        /* ours; wiped at exit */
	int draining;
	int fatal;                      /* stop now: err holds why */
	struct err err;
};

static int pass(void *pair, struct exchange *x)
{
	void *p = x;
	return zmq_send(pair, &p, sizeof p, 0) == (int)sizeof p ? 0 : -1;
}

static struct exchange *take(void *pair, int flags)
{
	void *p = NULL;
	return zmq_recv(pair, &p, sizeof p, flags) == (int)sizeof p ? p : NULL;
}

/* ---- compute thread ---- */

static void free_blob(void *data, void *hint)
{
	(void)hint;
	free(data);
}

int job_output_add_blob(struct job_output *out, void *data, size_t size, struct err *err)
{
	if (out->nblobs >= JOB_MAX_BLOBS) {
		free(data);
		return err_set(err, ERR_INVALID, "cannot add result blob: more than %d",
			JOB_MAX_BLOBS);
	}
	out->blobs[out->nblobs] = data;
	out->sizes[out->nblobs++] = size;
	return 0;
}

static int blob_dir_path(const char *dir, const char *sha256, char *path, size_t size,
	struct err *err)
{
	int n = snprintf(path, size, "%s/%s", dir ? dir : ".", sha256);
	if (n < 0 || (size_t)n >= size)
		return err_set(err, ERR_INVALID, "path of blob %s is too long", sha256);
	if (access(path, R_OK) != 0)
		return err_set(err, ERR_NOTFOUND, "cannot fetch blob %s: not in '%s'", sha256,
			dir ? dir : ".");
	return 0;
}

int job_blob_path(const struct job *job, const char *sha256, char *path, size_t size,
	struct err *err)
{
	struct runtime_compute *c = job->compute;
	if (!sha256_hex_valid(sha256))
		return err_set(err, ERR_INVALID, "cannot fetch blob '%.70s': not a sha256", sha256);
	if (!c) /* tests (job.h): a plain directory of blobs */
		return blob_dir_path(job->blob_dir, sha256, path, size, err);
	struct exchange *x = &c->x;
	int64_t t0 = clock_mono_ns();
	if (cache_lookup(c->cache, sha256, path, size)) {
		struct err why = { 0 };
		int rc = cache_verify(c->cache, sha256, path, &why);
		if (job->times)
			job->times->verify_ms += (double)(clock_mono_ns() - t0) / 1e6;
		if (rc == 0) {
			cache_touch(c->cache, sha256, path);
			return 0;
		}
		log_warn("%s: fetching it again", why.msg);
		t0 = clock_mono_ns();
	}
	x->ask = ASK_FETCH;
	x->full = 0;
	memcpy(x->sha256, sha256, SHA256_HEX_SIZE);
again:
	if (pass(c->pair, x) < 0 || take(c->pair, 0) != x) {
		err_set(err, ERR_IO, "cannot fetch blob %s: worker stopping", sha256);
		if (err)
			err->errnum = ENOTCONN;
		return -1;
	}
	if (job->times)
		job->times->fetch_ms += (double)(clock_mono_ns() - t0) / 1e6;
	if (x->fetch_rc < 0) {
		if (err)
			*err = x->fetch_err;
		return -1;
	}
	if (x->delta) { /* rebuild the blob from the one we hold; its sha256 is checked */
		struct err why = { 0 };
		int rc = cache_apply_delta(c->cache, sha256, x->delta_base, x->delta, x->delta_size,
			x->path, sizeof x->path, &why);
		x->delta = NULL; /* the I/O thread's: it serves it to peers (io->kept_delta) */
		if (rc < 0) {
			log_warn("%s: fetching the whole blob", why.msg);
			x->full = 1;
			goto again;
		}
	}
	int n = snprintf(path, size, "%s", x->path);
	if (n < 0 || (size_t)n >= size)
		return err_set(err, ERR_INVALID, "path of blob %s is too long", sha256);
	return 0;
}

/* Run one JOB and leave its RESULT or FAIL in c->x.reply. Frees the JOB. */
static void run_job(struct runtime_compute *c, struct sock_msg *in, uint64_t session)
{
	struct msg *m = &in->msg, *r = &c->x.reply;
	struct job job = {
		.id = msg_uint(m, "job"), .epoch = msg_uint(m, "epoch"), .kind = msg_str(m, "kind"),
		.params = msg_obj(m, "params"), .blobs = m->blobs, .nblobs = m->nblobs,
		.compute = c,
	};
	struct job_output out;
	struct job_times times = { 0 };
	struct err err = { 0 };
	memset(&out, 0, sizeof out);
	job.times = &times;
	int64_t t0 = clock_mono_ns();
	const struct job_kind *kind = job_kind_find(job.kind);
	log_debug("job %lld (epoch %lld, %s) started", (long long)job.id, (long long)job.epoch,
		job.kind);
	int rc = kind ? kind->run(&job, &out, &err) :
		err_set(&err, ERR_INVALID, "this worker does not run job kind '%s'", job.kind);
	/* one line per job that touched weights (about one per step): where the time went */
	if (times.fetch_ms + times.verify_ms + times.load_ms > 0)
		log_info("job %lld (%s) took %.1f ms: weights fetch %.1f ms, verify %.1f ms, "
			"load %.1f ms", (long long)job.id, job.kind,
			(double)(clock_mono_ns() - t0) / 1e6, times.fetch_ms, times.verify_ms,
			times.load_ms);
	if (rc == 0) {
		msg_init(r, PROTO_RESULT);
		r->header = json_pack("{sI sI so}", "job", (json_int_t)job.id, "epoch",
			(json_int_t)job.epoch, "result", out.result ? out.result : json_object());
		if (r->header && out.stats)
			json_object_set_new(r->header, "stats", out.stats);
		else
			json_decref(out.stats);
		r->blob_free = free_blob;
		for (size_t i = 0; i < out.nblobs; i++) {
			msg_add_blob(r, out.blobs[i], out.sizes[i], NULL);
			/* the upload names each blob by its sha256: hashed here, where compute is */
			sha256_buffer(out.blobs[i], out.sizes[i], c->x.blob_sha[i]);
		}
	} else {
		json_decref(out.result);
		json_decref(out.stats);
		for (size_t i = 0; i < out.nblobs; i++)
			free(out.blobs[i]);
		/* an error the OS gave is classified the daemon's way (err.h); one without
		 * an errno is the job's own judgement (bad params never succeed) */
		int retryable = err.errnum ? err_transient(&err) : out.retryable;
		log_warn("job %lld failed%s: %s", (long long)job.id, retryable ? "" :
			" (not retryable)", err.msg);
		msg_init(r, PROTO_FAIL);
		r->header = json_pack("{sI sI ss sb}", "job", (json_int_t)job.id, "epoch",
			(json_int_t)job.epoch, "error", err.msg, "retryable", retryable);
		if (r->header && err_nospace(&err)) /* the daemon pauses the pipeline */
			json_object_set_new(r->header, "nospace", json_string(c->cache->dir));
	}
	c->x.reply_session = session;
	c->x.reply_job = job.id;
	sock_msg_release(in);
	free(in);
}

/* Send the previous reply (if any) and wait for the next job; NULL: stop. */
static struct sock_msg *compute_next(struct runtime_compute *c, uint64_t *session)
{
	c->x.ask = ASK_NEXT;
	if (pass(c->pair, &c->x) < 0 || take(c->pair, 0) != &c->x)
		return NULL;
	*session = c->x.job_session;
	return c->x.job;
}

static void *compute_main(void *arg)
{
	struct runtime_compute *c = arg;
	struct sock_msg *in;
	uint64_t session = 0;
	while ((in = compute_next(c, &session)))
		run_job(c, in, session);
	return NULL;
}

/* ---- I/O thread ---- */

static void link_reset(struct io *io, const char *why);

/* Send and release `m`. A send that fails ends the session. */
static int io_send(struct io *io, struct msg *m)
{
	struct err err = { 0 };
	if (io->link != LINK_UP) {
		msg_release(m);
		return -1;
	}
	if (sock_send(io->dealer, NULL, m, ZMQ_DONTWAIT, &err) < 0) {
		/* EAGAIN: ZMQ_IMMEDIATE queues nothing without a live connection */
		if (errno == EAGAIN)
			err_set(&err, ERR_IO, "cannot send %s: no connection", proto_cmd_name(m->cmd));
		msg_release(m);
		link_reset(io, err.msg);
		return -1;
	}
	io->last_sent = io->now;
	msg_release(m);
	return 0;
}

static void peer_close(struct io *io)
{
	peer_link_close(&io->peer, &io->peer_mon);
	*io->peer_name = '\0';
}

static void fetch_done(struct io *io, int rc, const struct err *err)
{
	struct exchange *x = io->fetching;
	io->fetching = NULL;
	peer_close(io);
	if (rc < 0) {
		cache_fill_abort(&io->fill);
		free(io->delta_buf);
		io->delta_buf = NULL;
	}
	x->fetch_rc = rc;
	if (err)
		x->fetch_err = *err;
	pass(io->pair, x);
}

static void free_queue(struct io *io)
{
	for (size_t i = 0; i < io->nqueue; i++) {
		sock_msg_release(io->queue[i]);
		free(io->queue[i]);
	}
	io->nqueue = 0;
}

/* Close nothing, but wait a back-off before the next connect; the back-off doubles. */
static void schedule_retry(struct io *io)
{
	io->link = LINK_BACKOFF;
	io->retry_at = io->now + io->backoff;
	io->backoff = io->backoff * 2 > io->s->reconnect_max_ms ? io->s->reconnect_max_ms :
		io->backoff * 2;
	io->heard = 0;
}

static void link_reset(struct io *io, const char *why)
{
	size_t abandoned = io->nqueue + (size_t)io->busy + (size_t)io->up.active +
		(io->parked != NULL);
	if (io->link == LINK_CONNECTING)
		log_warn("cannot reach the daemon at '%s'%s; reconnecting in %lld ms", io->s->connect,
			io->curve ? " (or it refused this worker's key or server key: see its log)" : "",
			(long long)io->backoff);
	else if (io->link == LINK_UP && abandoned)
		log_warn("lost the daemon at '%s': %s; abandoning %zu job(s) in hand; reconnecting "
			"in %lld ms", io->s->connect, why, abandoned, (long long)io->backoff);
	else if (io->link == LINK_UP)
		log_warn("lost the daemon at '%s': %s; reconnecting in %lld ms", io->s->connect, why,
			(long long)io->backoff);
	free_queue(io);
	upload_abort(&io->up);
	if (io->parked) { /* its lease is gone with the session: compute may go on */
		msg_release(&io->parked->reply);
		io->waiting = io->parked;
		io->parked = NULL;
	}
	if (io->fetching) {
		struct err err = { 0 };
		err_set(&err, ERR_IO, "lost the daemon while fetching blob %s", io->fetching->sha256);
		err.errnum = ENOTCONN; /* a lost connection: another attempt can succeed */
		fetch_done(io, -1, &err);
	}
	sock_close(&io->dealer);
	io->session++;
	schedule_retry(io);
}

static void link_open(struct io *io)
{
	struct err err = { 0 };
	struct sock_opts opts = { .reconnect_ms = io->s->reconnect_ms,
		.reconnect_max_ms = io->s->reconnect_max_ms };
	io->dealer = sock_open(io->zctx, ZMQ_DEALER, &opts, &err);
	if (!io->dealer ||
		(io->curve && curve_client_setup(io->dealer, &io->server_key, &io->secret, &err) < 0) ||
		sock_connect(io->dealer, io->s->connect, &err) < 0) {
		log_error("%s; retrying in %lld ms", err.msg, (long long)io->backoff);
		sock_close(&io->dealer);
		schedule_retry(io);
		return;
	}
	io->session++;
	io->link = LINK_CONNECTING;
	io->since = io->now;
}

/* The token this process sends in every READY: proof to the daemon that a new
 * connection under our name is us again (after we gave up on the old one), not
 * another process copying our name, host and pid to take our leases (broker.h).
 * Without randomness there is none: a reconnect then waits until the daemon has
 * declared the old connection dead. */
static void draw_token(char token[33])
{
	unsigned char raw[16];
	*token = '\0';
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
		log_warn("no random token for READY (%s): a reconnect waits for the daemon to "
			"give up on the old connection", strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
}

/* The DEALER is writable: the connection is up, announce ourselves. */
static void link_ready(struct io *io)
{
	char host[256] = "";
	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	/* the compute threads a job runs on (--threads, else the pool's default) */
	int threads = io->s->threads > 0 ? io->s->threads : pool_threads();
	struct msg m;
	msg_init(&m, PROTO_READY);
	m.header = json_pack("{ss sO ss si sI sI ss si}", "name", io->s->name, "kinds", io->kinds,
		"host", host, "pid", (int)getpid(), "threads", (json_int_t)threads,
		"memory", (json_int_t)(pages > 0 && page > 0 ? (int64_t)pages * page : 0),
		"build", "r1flow-worker " R1FLOW_VERSION, "slots", io->s->slots);
	if (m.header && *io->token)
		json_object_set_new(m.header, "token", json_string(io->token));
	if (m.header && io->peers.router) {
		json_t *peer = json_pack("{ss}", "endpoint", io->peers.endpoint);
		if (peer && *io->peers.pub.z85)
			json_object_set_new(peer, "key", json_string(io->peers.pub.z85));
		json_object_set_new(m.header, "peer", peer);
	}
	io->link = LINK_UP;
	io->last_heard = io->now; /* the daemon has a liveness window to answer */
	if (io_send(io, &m) == 0)
		log_debug("sent READY to '%s' as '%s'", io->s->connect, io->s->name);
}

static void heartbeat(struct io *io)
{
	json_t *jobs = json_array();
	if (io->busy)
		json_array_append_new(jobs, json_integer(io->running));
	if (io->up.active) /* still ours until its RESULT is sent */
		json_array_append_new(jobs, json_integer(io->up.job));
	if (io->parked)
		json_array_append_new(jobs, json_integer(io->parked->reply_job));
	for (size_t i = 0; i < io->nqueue; i++)
		json_array_append_new(jobs, json_integer(msg_uint(&io->queue[i]->msg, "job")));
	struct msg m;
	msg_init(&m, PROTO_HEARTBEAT);
	m.header = json_pack("{so}", "jobs", jobs);
	if (m.header && io->draining)
		json_object_set_new(m.header, "draining", json_true());
	io_send(io, &m);
}

/* Hand the oldest queued JOB to the compute thread if it is waiting. */
static void feed(struct io *io)
{
	if (!io->waiting || !io->nqueue)
		return;
	struct exchange *x = io->waiting;
	x->job = io->queue[0];
	x->job_session = io->session;
	memmove(&io->queue[0], &io->queue[1], --io->nqueue * sizeof io->queue[0]);
	io->running = msg_uint(&x->job->msg, "job");
	io->busy = 1;
	io->cancelled = 0;
	io->waiting = NULL;
	pass(io->pair, x);
}

#define FETCH_WINDOW 4 /* FETCHes in flight: a blob streams without a round trip per chunk */
#define PEER_STALL_WINDOWS 3 /* a peer silent this many liveness windows is given up */

static void peer_fallback(struct io *io, const char *why);

/* Send a FETCH to where the stream comes from: the peer, else the daemon. */
static int fetch_send(struct io *io, struct msg *m)
{
	struct err err = { 0 };
	if (!io->peer)
		return io_send(io, m);
	int rc = sock_send(io->peer, NULL, m, ZMQ_DONTWAIT, &err);
	msg_release(m);
	if (rc < 0)
		peer_fallback(io, err.msg);
	return rc;
}

/* Ask for the next chunks of the stream in hand, up to FETCH_WINDOW ahead. */
static void fetch_pump(struct io *io)
{
	while (io->link == LINK_UP && io->fill_asked < io->fill_total &&
		io->fill_asked - io->fill_offset < FETCH_WINDOW * io->fetch_chunk) {
		struct msg m;
		msg_init(&m, PROTO_FETCH);
		m.header = json_pack("{ss sI sI}", "sha256", io->fill_sha, "offset",
			(json_int_t)io->fill_asked, "size", (json_int_t)io->fetch_chunk);
		if (fetch_send(io, &m) < 0)
			return;
		io->fill_asked += io->fetch_chunk;
	}
}

/* The peer serving the stream failed (dead, stalled, error, or it cannot be
 * reached): the rest comes from the daemon, from where we are, and the daemon
 * learns not to plan that peer again for this stream. */
static void peer_fallback(struct io *io, const char *why)
{
	char name[130];
	snprintf(name, sizeof name, "%s", io->peer_name);
	peer_close(io);
	io->peer_fallbacks++;
	log_warn("peer '%s' failed to serve blob %s at offset %lld (%s): fetching the rest from "
		"the daemon", name, io->fill_sha, (long long)io->fill_offset, why);
	if (io->link != LINK_UP) {
		struct err err = { 0 };
		err_set(&err, ERR_IO, "cannot fetch blob %s: peer '%s' failed and the daemon is not "
			"connected", io->fetching->sha256, name);
		err.errnum = ENOTCONN;
		fetch_done(io, -1, &err);
		return;
	}
	struct msg m;
	msg_init(&m, PROTO_FETCH);
	m.header = json_pack("{ss sI sI ss}", "sha256", io->fill_sha, "offset",
		(json_int_t)io->fill_offset, "size", (json_int_t)io->fetch_chunk, "failed_peer", name);
	io->fill_asked = io->fill_offset + io->fetch_chunk;
	if (io_send(io, &m) == 0)
		fetch_pump(io);
}

/* The daemon sent us to a peer for the stream: connect (CURVE with our own key
 * when the peer has one: it admits only keys the daemon vouched for) and ask it. */
static void peer_connect(struct io *io, const json_t *peer)
{
	const char *ep = json_string_value(json_object_get(peer, "endpoint")),
		*key = json_string_value(json_object_get(peer, "key")),
		*name = json_string_value(json_object_get(peer, "name"));
	struct err err = { 0 };
	snprintf(io->peer_name, sizeof io->peer_name, "%.128s", name ? name : "?");
	io->peer_heard = io->now;
	io->fill_asked = io->fill_offset;
	if (!ep || (key && !curve_key_valid(key)) || (key && !io->curve)) {
		peer_fallback(io, !ep ? "no endpoint" : !io->curve ? "a CURVE peer, and this worker "
			"has no key (--key)" : "bad key");
		return;
	}
	if (peer_link_open(io->zctx, ep, key, &io->secret, ++io->peer_seq, &io->peer,
			&io->peer_mon, &err) < 0) {
		peer_fallback(io, err.msg);
		return;
	}
	io->peer_fetches++;
	log_info("fetching blob %s from peer '%s' at '%s'", io->fill_sha, io->peer_name, ep);
	fetch_pump(io);
}

/* Start streaming x's blob from offset 0: whole (into the cache fill), or, unless
 * x->full, offering the blobs the cache holds so the daemon may answer with a delta
 * (deltas.h on its side). `check` asks the daemon to hash its file first. */
static void fetch_begin(struct io *io, struct exchange *x, int check)
{
	struct err err = { 0 };
	cache_fill_abort(&io->fill); /* a stream given up for this one (fetch_whole) */
	peer_close(io);
	if (cache_fill_begin(&io->cache, &io->fill, x->sha256, &err) < 0) {
		fetch_done(io, -1, &err);
		return;
	}
	io->fill_offset = io->fill_total = 0;
	io->fill_asked = io->fetch_chunk; /* the first FETCH; the size comes with its CHUNK */
	io->fill_delta = 0;
	memcpy(io->fill_sha, x->sha256, SHA256_HEX_SIZE);
	struct msg m;
	msg_init(&m, PROTO_FETCH);
	m.header = json_pack("{ss sI sI}", "sha256", x->sha256, "offset", (json_int_t)0, "size",
		(json_int_t)io->fetch_chunk);
	if (check)
		json_object_set_new(m.header, "check", json_true());
	if (!x->full && !check) {
		char have[CACHE_KEEP][SHA256_HEX_SIZE];
		size_t n = cache_list(&io->cache, have, CACHE_KEEP);
		json_t *list = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(list, json_string(have[i]));
		json_object_set_new(m.header, "have", list);
	}
	io_send(io, &m);
}

static void fetch_start(struct io *io, struct exchange *x)
{
	struct err err = { 0 };
	io->fetching = x;
	x->delta = NULL;
	x->delta_size = 0;
	if (cache_lookup(&io->cache, x->sha256, x->path, sizeof x->path)) {
		fetch_done(io, 0, NULL);
		return;
	}
	if (io->link != LINK_UP) {
		err_set(&err, ERR_IO, "cannot fetch blob %s: not connected to the daemon", x->sha256);
		err.errnum = ENOTCONN;
		fetch_done(io, -1, &err);
		return;
	}
	io->fill_checked = 0;
	log_info("fetching blob %s from the daemon", x->sha256);
	fetch_begin(io, x, 0);
}

/* The stream of x's blob did not hash to its name: once per fetch, start over and ask
 * the daemon to hash its file first (it trusts files it hashed before: blobs.h), so a
 * file damaged under a running daemon is found, removed and named in the error. */
static int fetch_recheck(struct io *io, struct exchange *x, const struct err *why)
{
	if (io->fill_checked || io->link != LINK_UP)
		return -1;
	log_warn("%s: fetching it again, checked by the daemon", why->msg);
	io->fill_checked = 1;
	fetch_begin(io, x, 1);
	return 0;
}

/* A delta that could not be had (gone, damaged): the whole blob instead. */
static void fetch_whole(struct io *io, struct exchange *x, const char *why)
{
	log_warn("weights delta to blob %s not used (%s): fetching the whole blob", x->sha256,
		why);
	free(io->delta_buf);
	io->delta_buf = NULL;
	x->full = 1;
	fetch_begin(io, x, 0);
}

static void on_chunk(struct io *io, const struct msg *m, int from_peer)
{
	struct exchange *x = io->fetching;
	struct err err = { 0 };
	if (!x || strcmp(msg_str(m, "sha256"), io->fill_sha) != 0 ||
		msg_uint(m, "offset") != io->fill_offset || from_peer != (io->peer != NULL)) {
		log_debug("ignored a CHUNK nobody asked for");
		return;
	}
	const char *problem = msg_str(m, "error");
	int64_t total = msg_uint(m, "size");
	const json_t *peer = from_peer ? NULL : json_object_get(m->header, "peer");
	if (from_peer) {
		io->peer_heard = io->now;
		if (problem || m->nblobs != 1 || (io->fill_total && total != io->fill_total)) {
			peer_fallback(io, problem ? problem : "bad CHUNK");
			return;
		}
	}
	if (problem && io->fill_delta) {
		fetch_whole(io, x, problem);
		return;
	}
	if (problem) {
		err_set(&err, ERR_NOTFOUND, "daemon cannot serve blob %s: %s", x->sha256, problem);
		fetch_done(io, -1, &err);
		return;
	}
	const char *delta = msg_str(m, "delta"), *base = msg_str(m, "base");
	if (io->fill_offset == 0 && !io->fill_delta && delta && base) {
		/* the daemon answered with a delta from a blob we hold: stream it into memory */
		if (total <= 0 || total > ((int64_t)1 << 36) || x->full) {
			fetch_whole(io, x, "unusable delta");
			return;
		}
		cache_fill_abort(&io->fill);
		if (!(io->delta_buf = malloc((size_t)total))) {
			fetch_whole(io, x, "out of memory");
			return;
		}
		io->fill_delta = 1;
		memcpy(io->fill_sha, delta, SHA256_HEX_SIZE);
		memcpy(x->delta_base, base, SHA256_HEX_SIZE);
		sha256_init(&io->delta_hash);
	}
	if (peer && io->fill_offset == 0 && !io->peer) {
		if (total <= 0) {
			err_set(&err, ERR_FORMAT, "bad redirect for blob %s", x->sha256);
			fetch_done(io, -1, &err);
			return;
		}
		io->fill_total = total;
		peer_connect(io, peer);
		return;
	}
	if (total < 0 || m->nblobs != 1 || io->fill_offset + (int64_t)m->blobs[0].size > total ||
		(m->blobs[0].size == 0 && io->fill_offset < total) ||
		(io->fill_total && total != io->fill_total)) {
		if (io->fill_delta) {
			fetch_whole(io, x, "bad CHUNK");
			return;
		}
		err_set(&err, ERR_FORMAT, "bad CHUNK of blob %s at offset %lld", x->sha256,
			(long long)io->fill_offset);
		fetch_done(io, -1, &err);
		return;
	}
	io->fill_total = total;
	const void *data = m->blobs[0].data;
	size_t n = m->blobs[0].size;
	if (io->fill_delta) {
		memcpy(io->delta_buf + io->fill_offset, data, n);
		sha256_update(&io->delta_hash, data, n);
	} else if (cache_fill_write(&io->fill, data, n, &err) < 0) {
		fetch_done(io, -1, &err);
		return;
	}
	io->fill_offset += (int64_t)n;
	if (io->fill_asked <= io->fill_offset)
		io->fill_asked = io->fill_offset;
	if (io->fill_offset < total) {
		fetch_pump(io);
		return;
	}
	if (io->fill_delta) {
		uint8_t digest[SHA256_DIGEST_SIZE];
		char got[SHA256_HEX_SIZE];
		sha256_final(&io->delta_hash, digest);
		sha256_hex(digest, got);
		if (strcmp(got, io->fill_sha) != 0) {
			fetch_whole(io, x, "its bytes did not hash to its name");
			return;
		}
		log_info("weights delta %s to blob %s fetched and verified (%lld bytes) from %s%s%s",
			io->fill_sha, x->sha256, (long long)total, io->peer ? "peer '" : "the daemon",
			io->peer ? io->peer_name : "", io->peer ? "'" : "");
		/* the compute thread applies it (job_blob_path); we keep it to serve to peers,
		 * and free it only when the next delta is in: compute is done with it by then */
		free(io->kept_delta);
		io->kept_delta = io->delta_buf;
		io->kept_delta_size = (size_t)total;
		memcpy(io->kept_delta_sha, io->fill_sha, SHA256_HEX_SIZE);
		x->delta = io->delta_buf;
		x->delta_size = (size_t)total;
		io->delta_buf = NULL;
		fetch_done(io, 0, NULL);
		return;
	}
	int rc = cache_fill_commit(&io->cache, &io->fill, x->path, sizeof x->path, &err);
	if (rc == 0)
		log_info("blob %s fetched and verified (%lld bytes) from %s%s%s", x->sha256,
			(long long)total, io->peer ? "peer '" : "the daemon", io->peer ? io->peer_name : "",
			io->peer ? "'" : "");
	else if (err.code == ERR_FORMAT && fetch_recheck(io, x, &err) == 0)
		return;
	fetch_done(io, rc, &err);
}

static void upload_done(struct io *io);
static void on_ack(struct io *io, const struct msg *m);

static void on_cancel(struct io *io, const struct msg *m)
{
	int64_t job = msg_uint(m, "job");
	for (size_t i = 0; i < io->nqueue; i++)
		if (msg_uint(&io->queue[i]->msg, "job") == job) {
			sock_msg_release(io->queue[i]);
			free(io->queue[i]);
			memmove(&io->queue[i], &io->queue[i + 1], (--io->nqueue - i) * sizeof io->queue[0]);
			log_info("job %lld cancelled before it started", (long long)job);
			return;
		}
	if (io->up.active && io->up.job == job) {
		log_info("job %lld cancelled while its result went up; dropped", (long long)job);
		upload_abort(&io->up);
		upload_done(io);
		return;
	}
	if (io->parked && io->parked->reply_job == job) {
		log_info("job %lld cancelled; its result will be dropped", (long long)job);
		msg_release(&io->parked->reply);
		return;
	}
	if (io->busy && io->running == job) {
		io->cancelled = 1;
		log_info("job %lld cancelled; its result will be dropped", (long long)job);
	}
}

/* Take one received message. Returns 1 if the buffer was kept (a queued JOB). */
static void start_drain(struct io *io);

static int on_message(struct io *io, struct sock_msg *in)
{
	struct msg *m = &in->msg;
	switch (m->cmd) {
	case PROTO_JOB:
		if (io->nqueue == QUEUE_MAX) {
			struct msg fail;
			msg_init(&fail, PROTO_FAIL);
			fail.header = json_pack("{sI sI ss sb}", "job", (json_int_t)msg_uint(m, "job"),
				"epoch", (json_int_t)msg_uint(m, "epoch"), "error", "worker queue full",
				"retryable", 1);
			io_send(io, &fail);
			return 0;
		}
		io->queue[io->nqueue++] = in;
		feed(io);
		return 1;
	case PROTO_CHUNK:
		on_chunk(io, m, 0);
		return 0;
	case PROTO_ADMIT:
		peer_server_admit(&io->peers, msg_str(m, "key"), io->now);
		return 0;
	case PROTO_ACK:
		on_ack(io, m);
		return 0;
	case PROTO_CANCEL:
		on_cancel(io, m);
		return 0;
	case PROTO_DISCONNECT: {
		char why[300];
		snprintf(why, sizeof why, "daemon said DISCONNECT: %s",
			msg_str(m, "reason") ? msg_str(m, "reason") : "no reason");
		link_reset(io, why);
		return 0;
	}
	case PROTO_HEARTBEAT: /* being heard is all it does, unless it asks us to drain */
		if (msg_bool(m, "drain", 0) && !io->draining)
			start_drain(io);
		return 0;
	default:
		return 0;
	}
}

static void read_daemon(struct io *io)
{
	for (int i = 0; i < 256 && io->dealer; i++) {
		struct err err = { 0 };
		if (!io->spare && !(io->spare = calloc(1, sizeof *io->spare))) {
			log_error("cannot receive: out of memory");
			return;
		}
		int rc = sock_recv(io->dealer, io->spare, PROTO_D2W, ZMQ_DONTWAIT, &err);
		if (rc < 0 && io->spare->msg.fault == MSG_OK) {
			sock_msg_release(io->spare);
			return; /* EAGAIN */
		}
		if (rc < 0) {
			if (io->spare->msg.fault == MSG_FAULT_VERSION) {
				err_set(&io->err, ERR_INVALID, "daemon at '%s' speaks another protocol: %s",
					io->s->connect, err.msg);
				io->fatal = 1;
			} else {
				log_warn("dropped a message from the daemon: %s", err.msg);
			}
			sock_msg_release(io->spare);
			continue;
		}
		io->last_heard = io->now;
		if (!io->heard) {
			io->heard = 1;
			io->backoff = io->s->reconnect_ms;
			log_info("connected to the daemon at '%s' as '%s'", io->s->connect, io->s->name);
		}
		if (on_message(io, io->spare))
			io->spare = NULL;
		else
			sock_msg_release(io->spare);
	}
}

/* CHUNKs from the peer serving the stream. */
static void read_peer(struct io *io)
{
	for (int i = 0; i < 64 && io->peer; i++) {
		struct err err = { 0 };
		if (!io->spare && !(io->spare = calloc(1, sizeof *io->spare)))
			return;
		int rc = sock_recv(io->peer, io->spare, PROTO_D2W, ZMQ_DONTWAIT, &err);
		if (rc < 0 && io->spare->msg.fault == MSG_OK) {
			sock_msg_release(io->spare);
			return;
		}
		if (rc == 0 && io->spare->msg.cmd == PROTO_CHUNK)
			on_chunk(io, &io->spare->msg, 1);
		else
			log_debug("dropped a message from peer '%s': %s", io->peer_name,
				rc < 0 ? err.msg : "not a CHUNK");
		sock_msg_release(io->spare);
	}
}

/* The peer connection's monitor: it dropped, or the peer refused us. */
static void read_peer_monitor(struct io *io)
{
	const char *why = peer_link_event(io->peer_mon);
	if (why)
		peer_fallback(io, why);
}

/* What the peer server may serve besides the cache: the stream coming in now (the
 * blob's fill file, or a delta in memory) and the last delta. */
static size_t peer_sources(const struct io *io, struct peer_source src[2])
{
	size_t n = 0;
	if (io->fetching && (io->fill_delta ? io->delta_buf != NULL : io->fill.file.fd >= 0))
		src[n++] = (struct peer_source){ .sha = io->fill_sha, .total = io->fill_total,
			.have = io->fill_offset, .mem = io->fill_delta ? io->delta_buf : NULL,
			.path = io->fill.file.tmp };
	if (io->kept_delta)
		src[n++] = (struct peer_source){ .sha = io->kept_delta_sha,
			.total = (int64_t)io->kept_delta_size, .have = (int64_t)io->kept_delta_size,
			.mem = io->kept_delta };
	return n;
}

/* Send the PUTs the window allows. */
static void upload_pump(struct io *io)
{
	struct msg put;
	while (io->up.active && upload_next(&io->up, &put)) {
		if (io_send(io, &put) < 0)
			return; /* the session is over: link_reset dropped the upload */
		if (io->die_after && (int64_t)io->up.pieces >= io->die_after) {
			log_warn("R1FLOW_TEST_UPLOAD_DIE_AFTER: killing this worker after %lld PUTs",
				(long long)io->up.pieces);
			raise(SIGKILL);
		}
	}
}

/* Send the answer of a finished job: FAIL and blob-less RESULT at once, a RESULT
 * with blobs by upload first (upload.h). */
static void answer(struct io *io, struct exchange *x)
{
	if (x->reply.cmd == PROTO_NONE)
		return;
	if (x->reply_session != io->session || io->link != LINK_UP) {
		log_info("dropped the answer to job %lld: its session is over",
			(long long)x->reply_job);
		msg_release(&x->reply);
		return;
	}
	if (x->reply.cmd == PROTO_RESULT && x->reply.nblobs) {
		log_debug("job %lld done: uploading %zu blob(s)", (long long)x->reply_job,
			x->reply.nblobs);
		upload_begin(&io->up, &x->reply, (const char (*)[SHA256_HEX_SIZE])x->blob_sha,
			io->session, (size_t)io->s->chunk_size);
		upload_pump(io);
		return;
	}
	log_debug("job %lld done: %s", (long long)x->reply_job, proto_cmd_name(x->reply.cmd));
	io_send(io, &x->reply);
}

/* The upload ended (sent or dropped): a parked job's answer goes next. */
static void upload_done(struct io *io)
{
	struct exchange *x = io->parked;
	if (!x)
		return;
	io->parked = NULL;
	answer(io, x);
	io->waiting = x;
	feed(io);
}

static void on_ack(struct io *io, const struct msg *m)
{
	struct err err = { 0 };
	int rc = upload_ack(&io->up, m, &err);
	if (rc == 2) {
		log_debug("ignored an ACK of job %lld nobody waits for", (long long)msg_uint(m, "job"));
		return;
	}
	if (rc < 0) {
		/* the lease may still be ours: say so, and the job is tried again */
		int64_t job = io->up.job, epoch = io->up.epoch;
		log_warn("job %lld: %s", (long long)job, err.msg);
		upload_abort(&io->up);
		struct msg fail;
		msg_init(&fail, PROTO_FAIL);
		fail.header = json_pack("{sI sI ss sb}", "job", (json_int_t)job, "epoch",
			(json_int_t)epoch, "error", err.msg, "retryable", 1);
		io_send(io, &fail);
		upload_done(io);
		return;
	}
	if (rc == 1) {
		struct msg result;
		log_debug("job %lld: uploaded its blobs in %llu piece(s)", (long long)io->up.job,
			(unsigned long long)io->up.pieces);
		upload_finish(&io->up, &result);
		io_send(io, &result);
		upload_done(io);
		return;
	}
	upload_pump(io);
}

static void on_compute(struct io *io)
{
	struct exchange *x;
	while ((x = take(io->pair, ZMQ_DONTWAIT))) {
		if (x->ask == ASK_FETCH) {
			fetch_start(io, x);
			continue;
		}
		io->busy = 0;
		if (x->reply.cmd != PROTO_NONE && io->cancelled) {
			log_info("dropped the answer to job %lld: cancelled", (long long)x->reply_job);
			msg_release(&x->reply);
		}
		io->cancelled = 0;
		if (io->up.active && x->reply.cmd != PROTO_NONE) {
			/* one upload at a time: the next job waits, so a worker holds at most two
			 * results (this one and the one going up) */
			io->parked = x;
			continue;
		}
		answer(io, x);
		io->waiting = x;
		feed(io);
	}
}

static void timers(struct io *io)
{
	int64_t window = (int64_t)io->s->heartbeat_ms * io->s->liveness;
	char why[128];
	/* a dead peer or one that refused us is seen by the monitor; silence is a peer that
	 * is wedged, or waits for its own upstream: give the chain above it time */
	if (io->peer && io->now - io->peer_heard > PEER_STALL_WINDOWS * window) {
		snprintf(why, sizeof why, "no CHUNK for %lld ms", (long long)(io->now - io->peer_heard));
		peer_fallback(io, why);
	}
	switch (io->link) {
	case LINK_BACKOFF:
		if (io->now >= io->retry_at && !io->draining)
			link_open(io);
		break;
	case LINK_CONNECTING:
		if (io->now - io->since > window)
			link_reset(io, "no connection");
		break;
	case LINK_UP:
		if (io->now - io->last_heard > window) {
			snprintf(why, sizeof why, "silent for %lld ms", (long long)(io->now - io->last_heard));
			link_reset(io, why);
		} else if (io->now - io->last_sent >= io->s->heartbeat_ms) {
			heartbeat(io);
		}
		break;
	}
}

static long poll_timeout(const struct io *io)
{
	int64_t window = (int64_t)io->s->heartbeat_ms * io->s->liveness, due = io->now + 1000;
	switch (io->link) {
	case LINK_BACKOFF:
		due = io->retry_at;
		break;
	case LINK_CONNECTING:
		due = io->since + window + 1;
		break;
	case LINK_UP: {
		int64_t hb = io->last_sent + io->s->heartbeat_ms, dead = io->last_heard + window + 1;
		due = hb < dead ? hb : dead;
		break;
	}
	}
	if (io->peer && io->peer_heard + PEER_STALL_WINDOWS * window + 1 < due)
		due = io->peer_heard + PEER_STALL_WINDOWS * window + 1;
	long serve = peer_server_timeout(&io->peers, io->now);
	if (serve >= 0 && io->now + serve < due)
		due = io->now + serve;
	int64_t t = due - io->now;
	return t < 0 ? 0 : t > 1000 ? 1000 : (long)t;
}

static void start_drain(struct io *io)
{
	io->draining = 1;
	log_info("draining: finishing %zu job(s) in hand, then leaving",
		io->nqueue + (size_t)io->busy);
	if (io->link == LINK_UP)
		heartbeat(io); /* draining:true: the daemon stops sending JOBs */
}

/* The announced kinds: all registered, or those --kinds names. */
static int build_kinds(struct io *io, struct err *err)
{
	io->kinds = json_array();
	const char *list = io->s->kinds;
	if (!*list) {
		for (size_t i = 0; i < job_kind_count; i++)
			json_array_append_new(io->kinds, json_string(job_kinds[i].name));
		return 0;
	}
	while (*list) {
		size_t len = strcspn(list, ",");
		char name[80];
		snprintf(name, sizeof name, "%.*s", (int)(len < 79 ? len : 79), list);
		if (!job_kind_find(name))
			return err_set(err, ERR_INVALID, "unknown job kind '%s' in --kinds", name);
		json_array_append_new(io->kinds, json_string(name));
		list += len + (list[len] == ',');
	}
	return json_array_size(io->kinds) ? 0 :
		err_set(err, ERR_INVALID, "option '--kinds' names no job kind");
}

int runtime_run(const struct worker_settings *s, int signal_fd, struct err *err)
{
	struct io io;
	struct runtime_compute compute;
	pthread_t thread;
	int started = 0, rc = -1;
	memset(&io, 0, sizeof io);
	memset(&compute, 0, sizeof compute);
	io.s = s;
	io.fill.file.fd = -1;
	io.backoff = s->reconnect_ms;
	io.now = clock_mono_ms();
	draw_token(io.token);
	const char *die = getenv("R1FLOW_TEST_UPLOAD_DIE_AFTER");
	io.die_after = die ? strtoll(die, NULL, 10) : 0;
	/* tests: smaller pieces, so a small model's weights take many CHUNKs */
	const char *chunk = getenv("R1FLOW_TEST_FETCH_CHUNK");
	io.fetch_chunk = chunk ? strtoll(chunk, NULL, 10) : 0;
	if (io.fetch_chunk <= 0 || io.fetch_chunk > PROTO_CHUNK_SIZE)
		io.fetch_chunk = PROTO_CHUNK_SIZE;
	if (cache_open(&io.cache, s->cache, err) < 0 || build_kinds(&io, err) < 0)
		goto out;
	struct curve_key pub = { "" };
	if (*s->key) {
		if (curve_key_load(s->server_key, 0, &io.server_key, err) < 0 ||
			curve_key_load(s->key, 1, &io.secret, err) < 0 ||
			curve_public_of(&io.secret, &pub, err) < 0)
			goto out;
		io.curve = 1;
	}
	io.zctx = zmq_ctx_new();
	io.pair = io.zctx ? zmq_socket(io.zctx, ZMQ_PAIR) : NULL;
	compute.pair = io.zctx ? zmq_socket(io.zctx, ZMQ_PAIR) : NULL;
	compute.cache = &io.cache;
	if (!io.pair || !compute.pair || zmq_bind(io.pair, COMPUTE_ENDPOINT) < 0 ||
		zmq_connect(compute.pair, COMPUTE_ENDPOINT) < 0) {
		err_set(err, ERR_IO, "cannot set up the compute thread's socket: %s",
			zmq_strerror(errno));
		goto out;
	}
	if (pthread_create(&thread, NULL, compute_main, &compute) != 0) {
		err_set(err, ERR_IO, "cannot start the compute thread");
		goto out;
	}
	started = 1;
	if (*s->peer_listen) {
		if (peer_server_open(&io.peers, io.zctx, s->peer_listen, &io.cache, err) < 0)
			goto out;
		log_info("serving blobs to peers on '%s'%s%s", io.peers.endpoint,
			io.peers.curve ? ", CURVE public key " : " (no CURVE: keep its directory private)",
			io.peers.curve ? io.peers.pub.z85 : "");
	}
	char *kinds = json_dumps(io.kinds, JSON_COMPACT);
	log_info("worker '%s' starting: daemon '%s', kinds %s, %d slot(s), cache '%s'%s%s",
		s->name, s->connect, kinds ? kinds : "?", s->slots, io.cache.dir,
		io.curve ? ", CURVE public key " : "", io.curve ? pub.z85 : "");
	free(kinds);
	link_open(&io);

	for (;;) {
		if (io.fatal) {
			*err = io.err;
			break;
		}
		if (io.draining && !io.busy && !io.nqueue && !io.fetching && !io.up.active &&
			io.waiting) {
			if (io.link == LINK_UP) {
				struct msg bye;
				msg_init(&bye, PROTO_DISCONNECT);
				bye.header = json_pack("{ss}", "reason", "drained");
				io_send(&io, &bye);
			}
			log_info("drained: leaving");
			rc = 0;
			break;
		}
		zmq_pollitem_t items[8] = { /* daemon link, peer link + monitor, peer server x2 */
			{ io.pair, 0, ZMQ_POLLIN, 0 },
			{ NULL, signal_fd, ZMQ_POLLIN, 0 },
			{ io.dealer, 0, (short)(ZMQ_POLLIN |
				(io.link == LINK_CONNECTING ? ZMQ_POLLOUT : 0)), 0 },
		};
		int n = io.dealer ? 3 : 2, extra = 3;
		if (!io.dealer) /* keep slot 2 for the daemon: the others follow it */
			items[2] = (zmq_pollitem_t){ NULL, -1, 0, 0 };
		if (io.peer) {
			items[extra++] = (zmq_pollitem_t){ io.peer, 0, ZMQ_POLLIN, 0 };
			items[extra++] = (zmq_pollitem_t){ io.peer_mon, 0, ZMQ_POLLIN, 0 };
		}
		extra += peer_server_items(&io.peers, items + extra);
		long timeout = poll_timeout(&io);
		if (zmq_poll(items, extra, timeout) < 0 && errno != EINTR) {
			err_set(err, ERR_IO, "cannot poll: %s", zmq_strerror(errno));
			break;
		}
		int64_t before = io.now;
		io.now = clock_mono_ms();
		if (io.now - before - timeout > (int64_t)s->heartbeat_ms * s->liveness) {
			/* we did not run (SIGSTOP, suspend): the daemon's silence is ours */
			log_warn("the worker did not run for %lld ms: the daemon gets a fresh liveness "
				"window", (long long)(io.now - before - timeout));
			io.last_heard = io.since = io.now;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			unsigned char sig[16];
			ssize_t got = read(signal_fd, sig, sizeof sig);
			if (io.draining || got > 1) {
				err_set(err, ERR_INVALID, "stopped by a second signal before the jobs in "
					"hand finished");
				break;
			}
			start_drain(&io);
		}
		if (items[0].revents & ZMQ_POLLIN)
			on_compute(&io);
		if (n == 3 && io.link == LINK_CONNECTING && (items[2].revents & ZMQ_POLLOUT))
			link_ready(&io);
		if (n == 3 && io.dealer && (items[2].revents & ZMQ_POLLIN))
			read_daemon(&io);
		void *mon = io.peer_mon;
		if (io.peer && items[3].socket == io.peer && (items[3].revents & ZMQ_POLLIN))
			read_peer(&io);
		if (io.peer && io.peer_mon == mon && items[4].socket == mon &&
			(items[4].revents & ZMQ_POLLIN))
			read_peer_monitor(&io);
		timers(&io);
		if (io.peers.router) {
			struct peer_source src[2];
			peer_server_run(&io.peers, io.now, src, peer_sources(&io, src));
		}
	}
out:
	if (started && io.waiting) {
		io.waiting->job = NULL; /* stop */
		pass(io.pair, io.waiting);
		pthread_join(thread, NULL);
	} else if (started) {
		/* the compute thread is inside a job and cannot be interrupted: leave it
		 * running; the process exits when the caller returns */
		log_warn("leaving with job %lld still running", (long long)io.running);
		return -1;
	}
	free_queue(&io);
	upload_abort(&io.up);
	cache_fill_abort(&io.fill);
	free(io.delta_buf);
	free(io.kept_delta);
	sock_close(&io.peer);
	if (io.peers.router || io.peer_fetches)
		log_info("peers: %llu fetch(es) from peers, %llu fell back to the daemon; served %llu "
			"chunk(s), %llu bytes; refused %llu key(s)", (unsigned long long)io.peer_fetches,
			(unsigned long long)io.peer_fallbacks, (unsigned long long)io.peers.chunks,
			(unsigned long long)io.peers.bytes, (unsigned long long)io.peers.refused);
	peer_server_close(&io.peers);
	free(io.spare);
	if (io.dealer) {
		int linger = 1000; /* let the last RESULT and the DISCONNECT out */
		zmq_setsockopt(io.dealer, ZMQ_LINGER, &linger, sizeof linger);
		sock_close(&io.dealer);
	}
	sock_close(&io.pair);
	sock_close(&compute.pair);
	if (io.zctx)
		zmq_ctx_term(io.zctx);
	json_decref(io.kinds);
	curve_key_wipe(&io.secret);
	return rc;
}
