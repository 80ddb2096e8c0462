#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "deltas.h"
#include "clock.h"
#include "daemon.h"
#include "events.h"
#include "results.h"
#include "scheduler.h"
#include "uploads.h"

struct lease {
	int64_t job, epoch;
	int again;                       /* the job had been leased before: it runs alone */
	int64_t sent;                    /* monotonic ms the JOB went out; 0: made this
	                                  * turn, out when the turn commits (broker_sent) */
};

struct peer {
	unsigned char ident[PROTO_MAX_ENVELOPE]; /* ROUTER identity */
	size_t ident_size;
	int64_t id;                      /* workers.id */
	char name[BROKER_MAX_NAME + 1];
	char *kinds;                     /* JSON array text of validated kinds (for claims) */
	char host[256];
	int64_t pid;                     /* 0: unknown */
	int64_t threads;                 /* compute threads it announced; 0: unknown */
	int slots;                       /* leases it may hold */
	int draining;                    /* asked for no more jobs */
	char token[BROKER_MAX_TOKEN + 1]; /* READY's secret ("" none): never shown */
	int strikes;                     /* results refused, leases lost: since joined/released */
	char quarantined[512];           /* non-empty: why it takes no more jobs */
	char lost[256];                  /* non-empty: unreachable, reaped next turn */
	int64_t joined, last_seen, last_sent; /* monotonic ms */
	uint64_t idle_gen;               /* queue generation when a claim found nothing */
	uint64_t first_idle_gen;         /* ... when a first-lease claim found nothing */
	size_t nleases;
	struct lease leases[BROKER_MAX_SLOTS]; /* in its hands, oldest first */
	struct upload *uploads;          /* result blobs arriving (uploads.h) */
};

/* The strikes of a worker process that left (its token), restored if the same
 * process comes back: a reconnect does not wash a quarantine away, a restart does. */
struct standing {
	char name[BROKER_MAX_NAME + 1];
	char token[BROKER_MAX_TOKEN + 1];
	int strikes;
	char quarantined[512];
};

struct broker {
	struct peer **peers;             /* registered workers, in join order */
	size_t n, cap;
	struct standing *standing;       /* of workers gone with strikes, by name */
	size_t nstanding, capstanding;
	uint64_t queue_gen;              /* bumped whenever jobs may have been queued */
	size_t next;                     /* dispatch starts here: round robin */
	int64_t next_lease_tick;         /* monotonic ms of the next lease duty */
	unsigned lease_ticks;            /* lease duties run so far */
	int any_lost;                    /* some peer has `lost` set */
	int64_t last_fault_log;          /* monotonic ms: malformed messages log at most 1/5 s */
};

struct broker *broker_new(void)
{
	struct broker *b = calloc(1, sizeof *b);
	if (b)
		b->queue_gen = 1;
	return b;
}

static void peer_free(struct peer *p)
{
	if (p) {
		uploads_free(&p->uploads);
		free(p->kinds);
		free(p);
	}
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		peer_free(b->peers[i]);
	free(b->peers);
	free(b->standing);
	free(b);
}

size_t broker_count(const struct broker *b)
{
	return b->n;
}

void broker_queue_changed(struct daemon *d)
{
	d->broker->queue_gen++;
}

static struct peer *find_ident(struct broker *b, const void *ident, size_t size)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->peers[i]->ident_size == size && memcmp(b->peers[i]->ident, ident, size) == 0)
			return b->peers[i];
	return NULL;
}

static struct peer *find_name(struct broker *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->peers[i]->name, name) == 0)
			return b->peers[i];
	return NULL;
}

static void send_to(struct daemon *d, struct peer *p, struct msg *m)
{
	outbox_push(&d->out, d->workers, p->ident, p->ident_size, m);
	p->last_sent = d->now;
}

static void send_disconnect(struct daemon *d, const void *ident, size_t size,
	const char *reason)
{
	struct msg m;
	msg_init(&m, PROTO_DISCONNECT);
	m.header = json_pack("{ss}", "reason", reason);
	outbox_push(&d->out, d->workers, ident, size, &m);
}

static struct standing *find_standing(struct broker *b, const char *name)
{
	for (size_t i = 0; i < b->nstanding; i++)
		if (strcmp(b->standing[i].name, name) == 0)
			return &b->standing[i];
	return NULL;
}

static void forget_standing(struct broker *b, struct standing *st)
{
	size_t i = (size_t)(st - b->standing);
	memmove(st, st + 1, (b->nstanding - i - 1) * sizeof *st);
	b->nstanding--;
}

/* Keep the strikes of `p`, which is leaving, for its process's return. */
static void keep_standing(struct broker *b, const struct peer *p)
{
	struct standing *st = find_standing(b, p->name);
	if (!p->strikes || !*p->token) {
		if (st)
			forget_standing(b, st);
		return;
	}
	if (!st) {
		if (b->nstanding == b->capstanding) {
			size_t cap = b->capstanding ? 2 * b->capstanding : 8;
			struct standing *grown = realloc(b->standing, cap * sizeof *grown);
			if (!grown) {
				log_error("cannot keep the strikes of worker '%s': out of memory", p->name);
				return;
			}
			b->standing = grown;
			b->capstanding = cap;
		}
		st = &b->standing[b->nstanding++];
	}
	snprintf(st->name, sizeof st->name, "%s", p->name);
	snprintf(st->token, sizeof st->token, "%s", p->token);
	snprintf(st->quarantined, sizeof st->quarantined, "%s", p->quarantined);
	st->strikes = p->strikes;
}

/* A new registration of `p`: the same process (name and token) gets its strikes
 * back; another process under the name starts afresh. */
static void restore_standing(struct broker *b, struct peer *p)
{
	struct standing *st = find_standing(b, p->name);
	if (!st)
		return;
	if (*p->token && strcmp(st->token, p->token) == 0) {
		p->strikes = st->strikes;
		snprintf(p->quarantined, sizeof p->quarantined, "%s", st->quarantined);
	}
	forget_standing(b, st);
}

/* Take `p` out of the registry (it is freed by the caller), keeping its strikes. */
static void unlink_peer(struct broker *b, struct peer *p)
{
	keep_standing(b, p);
	for (size_t i = 0; i < b->n; i++)
		if (b->peers[i] == p) {
			memmove(&b->peers[i], &b->peers[i + 1], (b->n - i - 1) * sizeof *b->peers);
			b->n--;
			if (b->next >= b->n)
				b->next = 0;
			return;
		}
}

/* Requeue the leases `p` holds (`reason` becomes their error) and mark it gone;
 * `event` names the event to emit. Leaves the peer registered. */
static void release_peer(struct daemon *d, struct peer *p, const char *event,
	const char *reason)
{
	struct store_requeue r = { 0, 0 };
	struct err err = { 0 };
	blobs_peer_gone(d, p->id);
	if (store_job_requeue_worker(d->store, p->id, reason, d->wall, &r, &err) < 0)
		log_error("%s (its leases stay until they expire)", err.msg);
	if (store_worker_set_state(d->store, p->id, WORKER_STATE_GONE, &err) < 0)
		log_error("%s", err.msg);
	counters_add(&d->counters, C_JOBS_REQUEUED, r.queued);
	counters_add(&d->counters, C_JOBS_FAILED, r.failed);
	if (r.queued)
		broker_queue_changed(d);
	if (r.failed)
		log_warn("%lld job(s) of worker '%s' failed: attempts used up", (long long)r.failed,
			p->name);
	json_t *details = json_pack("{sI ss ss sI sI}", "worker", (json_int_t)p->id, "name",
		p->name, "reason", reason, "requeued", (json_int_t)r.queued, "failed",
		(json_int_t)r.failed);
	events_emit(d, event, details);
	p->nleases = 0;
	uploads_drop_all(d, &p->uploads);
}

/* Log a peer's misbehaviour at most once per 5 s at warn (the rest at debug), so a
 * flood of bad messages cannot flood the log; the counters keep the totals. */
static void misbehaved(struct daemon *d, const char *what, const char *why)
{
	struct broker *b = d->broker;
	if (d->now - b->last_fault_log >= 5000) {
		int64_t total = d->counters.total[C_MSGS_UNKNOWN_PEER] +
			d->counters.total[C_WORKERS_REFUSED];
		for (int f = 1; f < MSG_FAULT_COUNT; f++)
			total += d->counters.total[C_MSGS_FAULT + f];
		log_warn("%s: %s (%lld bad messages so far; more at debug level)", what, why,
			(long long)total);
		b->last_fault_log = d->now;
	} else {
		log_debug("%s: %s", what, why);
	}
}

static int kind_ok(const char *kind)
{
	size_t n = 0;
	for (; kind[n]; n++)
		if (!((kind[n] >= 'a' && kind[n] <= 'z') || (kind[n] >= '0' && kind[n] <= '9') ||
			kind[n] == '_'))
			return 0;
	return n > 0 && n <= 64;
}

/* Why a READY is unacceptable, or NULL. */
static const char *ready_problem(const struct msg *m, char *why, size_t size)
{
	const char *name = msg_str(m, "name");
	size_t len = strlen(name);
	if (len == 0 || len > BROKER_MAX_NAME) {
		snprintf(why, size, "worker name must be 1 to %d bytes", BROKER_MAX_NAME);
		return why;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			snprintf(why, size, "worker name has control characters");
			return why;
		}
	const char *token = msg_str(m, "token");
	if (token && strlen(token) > BROKER_MAX_TOKEN) {
		snprintf(why, size, "worker token must be at most %d bytes", BROKER_MAX_TOKEN);
		return why;
	}
	json_t *kinds = json_object_get(m->header, "kinds"), *k;
	size_t i;
	if (json_array_size(kinds) == 0 || json_array_size(kinds) > BROKER_MAX_KINDS) {
		snprintf(why, size, "READY must list 1 to %d job kinds", BROKER_MAX_KINDS);
		return why;
	}
	json_array_foreach(kinds, i, k)
		if (!kind_ok(json_string_value(k))) {
			snprintf(why, size, "job kind '%.64s' is not a lowercase identifier",
				json_string_value(k));
			return why;
		}
	return NULL;
}

static void on_ready(struct daemon *d, const struct msg_frame *ident, const struct msg *m,
	const char *user)
{
	struct broker *b = d->broker;
	char why[160];
	const char *name = msg_str(m, "name");
	struct peer *old = find_ident(b, ident->data, ident->size);
	if (old) { /* announced again on the same connection: it forgot its leases */
		char reason[BROKER_MAX_NAME + 64];
		snprintf(reason, sizeof reason, "worker '%s' announced itself again", old->name);
		release_peer(d, old, "worker_left", reason);
		unlink_peer(b, old);
		peer_free(old);
	}
	if (ready_problem(m, why, sizeof why)) {
		char what[BROKER_MAX_NAME + 32];
		counters_add(&d->counters, C_WORKERS_REFUSED, 1);
		snprintf(what, sizeof what, "refused worker '%.*s'", BROKER_MAX_NAME, name);
		misbehaved(d, what, why);
		send_disconnect(d, ident->data, ident->size, why);
		return;
	}
	struct peer *twin = find_name(b, name);
	const char *token = msg_str(m, "token");
	if (twin && *twin->token && token && strcmp(twin->token, token) == 0) {
		/* the same process on a new connection (it gave up on the old one first):
		 * the old registration is stale, not a rival. Only the token says so: the
		 * name, host and pid are public ('r1flow workers'), and anyone who can
		 * connect could claim them to take over a live worker's leases. */
		char reason[BROKER_MAX_NAME + 64];
		snprintf(reason, sizeof reason, "worker '%s' reconnected", twin->name);
		log_info("worker '%s' (pid %lld) reconnected: %zu job(s) of its old session "
			"requeued", twin->name, (long long)twin->pid, twin->nleases);
		release_peer(d, twin, "worker_left", reason);
		unlink_peer(b, twin);
		peer_free(twin);
		twin = NULL;
	}
	if (twin) {
		counters_add(&d->counters, C_WORKERS_REFUSED, 1);
		snprintf(why, sizeof why, "worker name '%.64s' is in use by a live worker", name);
		log_warn("refused worker '%s' (pid %lld): name in use by a live worker (pid %lld)",
			name, (long long)msg_uint(m, "pid"), (long long)twin->pid);
		send_disconnect(d, ident->data, ident->size, why);
		return;
	}

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		struct peer **grown = realloc(b->peers, cap * sizeof *grown);
		if (!grown) {
			log_error("cannot register worker '%s': out of memory", name);
			return;
		}
		b->peers = grown;
		b->cap = cap;
	}
	struct peer *p = calloc(1, sizeof *p);
	char *kinds = json_dumps(json_object_get(m->header, "kinds"), JSON_COMPACT);
	if (!p || !kinds) {
		free(p);
		free(kinds);
		log_error("cannot register worker '%s': out of memory", name);
		return;
	}
	memcpy(p->ident, ident->data, ident->size);
	p->ident_size = ident->size;
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->host, sizeof p->host, "%s", msg_str(m, "host") ? msg_str(m, "host") : "");
	snprintf(p->token, sizeof p->token, "%s", token ? token : "");
	p->kinds = kinds;
	p->pid = msg_uint(m, "pid") > 0 ? msg_uint(m, "pid") : 0;
	p->threads = msg_uint(m, "threads") > 0 ? msg_uint(m, "threads") : 0;
	int64_t slots = msg_uint(m, "slots");
	p->slots = slots < 1 ? 1 : slots > BROKER_MAX_SLOTS ? BROKER_MAX_SLOTS : (int)slots;
	p->joined = p->last_seen = d->now;

	struct store_worker w = {
		.name = p->name, .host = *p->host ? p->host : NULL, .pid = p->pid,
		.threads = p->threads,
		.memory = msg_uint(m, "memory") > 0 ? msg_uint(m, "memory") : 0,
		.kinds = p->kinds, .build = msg_str(m, "build"),
	};
	struct err err = { 0 };
	if (store_worker_upsert(d->store, &w, d->wall, &p->id, &err) < 0) {
		log_error("%s", err.msg);
		send_disconnect(d, ident->data, ident->size, "daemon cannot register workers now");
		peer_free(p);
		return;
	}
	b->peers[b->n++] = p;
	restore_standing(b, p);
	counters_add(&d->counters, C_WORKERS_JOINED, 1);
	blobs_peer_ready(d, p->id, p->name, p->ident, p->ident_size, m, user);
	log_info("worker '%s' ready: id %lld, pid %lld, host '%s', kinds %s, %d slot(s)", p->name,
		(long long)p->id, (long long)p->pid, p->host, p->kinds, p->slots);
	if (*p->quarantined)
		log_warn("worker '%s' is back on a new connection and still quarantined: %s",
			p->name, p->quarantined);
	events_emit(d, "worker_joined", json_pack("{sI ss}", "worker", (json_int_t)p->id,
		"name", p->name));
}

/* Index of the lease (job, epoch) in p's hands, or -1. */
static int find_lease(const struct peer *p, int64_t job, int64_t epoch)
{
	for (size_t i = 0; i < p->nleases; i++)
		if (p->leases[i].job == job && (epoch < 0 || p->leases[i].epoch == epoch))
			return (int)i;
	return -1;
}

static void drop_lease(struct peer *p, int i)
{
	memmove(&p->leases[i], &p->leases[i + 1], (p->nleases - (size_t)i - 1) *
		sizeof p->leases[0]);
	p->nleases--;
}

static void stale(struct daemon *d, const struct peer *p, const char *what, int64_t job,
	int64_t epoch)
{
	counters_add(&d->counters, C_RESULTS_STALE, 1);
	log_debug("dropped stale %s of job %lld epoch %lld from worker '%s'", what,
		(long long)job, (long long)epoch, p ? p->name : "(unknown)");
}

static void quarantine(struct daemon *d, struct peer *p, const char *why)
{
	snprintf(p->quarantined, sizeof p->quarantined, "%d strikes, the last: %s", p->strikes,
		why);
	counters_add(&d->counters, C_WORKERS_QUARANTINED, 1);
	log_warn("worker '%s' quarantined, it gets no more jobs ('r1flow workers --release %s' "
		"or a restart of the worker ends it): %s", p->name, p->name, p->quarantined);
	events_emit(d, "worker_quarantined", json_pack("{sI ss ss}", "worker", (json_int_t)p->id,
		"name", p->name, "reason", p->quarantined));
}

/* `p` let the lease (job, epoch) down: its result was refused or it lost the job.
 * The job goes back to the queue. Its first strike costs the job an attempt, as any
 * failure does (the job itself may be at fault, and a job that fails everywhere
 * must still run out of attempts); later ones do not: the worker is then the
 * suspect, and BROKER_STRIKES of them quarantine it, so one faulty worker costs
 * the jobs one attempt in all rather than failing them. */
static void strike(struct daemon *d, struct peer *p, int64_t job, int64_t epoch,
	const char *why)
{
	int charge = p->strikes == 0;
	enum job_state state = JOB_STATE_QUEUED;
	struct err err = { 0 };
	p->strikes++;
	int rc = charge ? store_job_fail(d->store, job, epoch, why, 1, d->wall, &state, &err) :
		store_job_refund(d->store, job, epoch, why, &err);
	if (rc < 0) {
		log_error("%s", err.msg);
	} else if (rc == 1 && state == JOB_STATE_QUEUED) {
		counters_add(&d->counters, C_JOBS_RETRIED, 1);
		broker_queue_changed(d);
	} else if (rc == 1) {
		counters_add(&d->counters, C_JOBS_FAILED, 1);
		d->kick = 1;
		log_warn("job %lld failed: %s", (long long)job, why);
		events_emit(d, "job_failed", json_pack("{sI ss}", "job", (json_int_t)job, "error",
			why));
	}
	if (p->strikes >= BROKER_STRIKES && !*p->quarantined)
		quarantine(d, p, why);
}

/* 0 if the RESULT for the current lease (job, epoch) answers its job (results.h),
 * else -1 and err says why. A job that is gone or not at this lease any more is
 * left to store_job_commit to call stale. */
static int result_check(struct daemon *d, const struct msg *m, int64_t job, int64_t epoch,
	const struct msg_frame *blobs, size_t nblobs, const int64_t *nonfinite, struct err *err)
{
	struct store_job sj;
	struct err serr = { 0 };
	int rc = store_job_get(d->store, job, &sj, &serr);
	if (rc < 0)
		log_error("cannot check the result of job %lld: %s", (long long)job, serr.msg);
	if (rc != 1)
		return 0;
	rc = 0;
	if (sj.state == JOB_STATE_LEASED && sj.epoch == epoch) {
		json_error_t jerr;
		json_t *params = json_loads(sj.params, 0, &jerr);
		rc = results_check(sj.kind, job, params, msg_obj(m, "result"), blobs, nblobs, nonfinite,
			err);
		json_decref(params);
	}
	store_job_release(&sj);
	return rc;
}

/* The result text to commit: the RESULT's `result` object, plus the names of its
 * `nblobs` blobs as result files (blobs.h): its blob frames, stored now, or its
 * uploads (`uploaded`), whose files are there already. NULL and err on failure. */
static char *result_text(struct daemon *d, const struct msg *m, int64_t job, int64_t epoch,
	size_t nblobs, int uploaded, struct err *err)
{
	json_t *given = msg_obj(m, "result");
	json_t *r = given ? json_copy(given) : json_object();
	char name[BLOBS_RESULT_NAME], *text = NULL;
	if (!r)
		goto nomem;
	if (nblobs) {
		json_t *files = json_array();
		if (!files || json_object_set_new(r, "files", files) < 0)
			goto nomem;
		for (size_t i = 0; i < nblobs; i++) {
			if (uploaded)
				blobs_result_name(job, epoch, i, name);
			else if (blobs_put_result(d, job, epoch, i, m->blobs[i].data, m->blobs[i].size,
				name, err) < 0) {
				json_decref(r);
				return NULL;
			}
			json_array_append_new(files, json_string(name));
		}
	}
	text = json_dumps(r, JSON_COMPACT);
	if (text) {
		json_decref(r);
		return text;
	}
nomem:
	json_decref(r);
	err_set(err, ERR_NOMEM, "out of memory");
	return NULL;
}

/* A full disk (`where`) kept job (job, epoch) from being done or kept: its pipeline
 * pauses, which cancels the lease without spending an attempt (scheduler.h). 0 done,
 * -1 the job belongs to no running stage (the caller fails it as before). */
static int wait_for_space(struct daemon *d, int64_t job, const char *where, const char *why)
{
	struct store_job j;
	struct err err = { 0 };
	int rc = store_job_get(d->store, job, &j, &err);
	if (rc < 0)
		log_error("%s", err.msg);
	if (rc != 1)
		return -1;
	rc = j.stage ? scheduler_wait_for_space(d, j.stage, where, why) : -1;
	store_job_release(&j);
	return rc;
}

static void on_result(struct daemon *d, struct peer *p, const struct msg *m)
{
	int64_t job = msg_uint(m, "job"), epoch = msg_uint(m, "epoch");
	int i = find_lease(p, job, epoch);
	if (i < 0) {
		uploads_forget(d, &p->uploads, job, epoch, 0);
		stale(d, p, "RESULT", job, epoch);
		return;
	}
	drop_lease(p, i);
	struct err err = { 0 };
	const json_t *names = json_object_get(m->header, "uploads");
	struct msg_frame mapped[PROTO_MAX_BLOBS];
	int64_t nonfinite[PROTO_MAX_BLOBS];
	size_t nblobs = m->nblobs, nmapped = 0;
	int rc = 0;
	if (names && m->nblobs)
		rc = err_set(&err, ERR_INVALID, "both uploads and %zu blob frames", m->nblobs);
	else if (names)
		rc = uploads_map(d, &p->uploads, job, epoch, names, mapped, nonfinite,
			PROTO_MAX_BLOBS, &nmapped, &err);
	if (names)
		nblobs = nmapped;
	if (rc == 0)
		rc = result_check(d, m, job, epoch, names ? mapped : m->blobs, nblobs,
			names ? nonfinite : NULL, &err);
	uploads_unmap(mapped, nmapped);
	/* the files of a result to commit stay (the stage reads them), all else goes */
	uploads_forget(d, &p->uploads, job, epoch, rc == 0);
	if (rc < 0) {
		char why[sizeof err.msg + BROKER_MAX_NAME + 64];
		counters_add(&d->counters, C_RESULTS_REFUSED, 1);
		snprintf(why, sizeof why, "result refused from worker '%s': %s", p->name, err.msg);
		log_warn("job %lld: %s", (long long)job, why);
		events_emit(d, "result_refused", json_pack("{sI sI ss ss}", "job", (json_int_t)job,
			"worker", (json_int_t)p->id, "name", p->name, "reason", err.msg));
		strike(d, p, job, epoch, why);
		return;
	}
	char *text = result_text(d, m, job, epoch, nblobs, names != NULL, &err);
	rc = text ? store_job_commit(d->store, job, epoch, text, d->wall, &err) : -1;
	if (rc == 1) {
		counters_add(&d->counters, C_RESULTS_COMMITTED, 1);
		d->kick = 1;
	} else {
		for (size_t k = 0; (text || names) && k < nblobs; k++) { /* nothing names them */
			char name[BLOBS_RESULT_NAME];
			blobs_result_name(job, epoch, k, name);
			blobs_result_drop(d, name);
		}
	}
	free(text);
	if (rc == 0) {
		stale(d, p, "RESULT", job, epoch);
	} else if (rc < 0) {
		/* the result cannot be kept: give the job another go rather than lose it */
		log_error("cannot commit result of job %lld from worker '%s': %s", (long long)job,
			p->name, err.msg);
		if (err_nospace(&err) && wait_for_space(d, job, d->dir.root, err.msg) == 0)
			return;
		char reason[600];
		snprintf(reason, sizeof reason, "cannot store result: %s", err.msg);
		enum job_state state = JOB_STATE_QUEUED;
		if (store_job_fail(d->store, job, epoch, reason, 1, d->wall, &state, &err) == 1) {
			if (state == JOB_STATE_QUEUED)
				broker_queue_changed(d);
			counters_add(&d->counters, state == JOB_STATE_QUEUED ? C_JOBS_RETRIED :
				C_JOBS_FAILED, 1);
		}
	}
}

static void on_fail(struct daemon *d, struct peer *p, const struct msg *m)
{
	int64_t job = msg_uint(m, "job"), epoch = msg_uint(m, "epoch");
	const char *error = msg_str(m, "error");
	int i = find_lease(p, job, epoch);
	uploads_forget(d, &p->uploads, job, epoch, 0);
	if (i < 0) {
		stale(d, p, "FAIL", job, epoch);
		return;
	}
	drop_lease(p, i);
	const char *full = msg_str(m, "nospace");
	if (full) {
		char where[600];
		snprintf(where, sizeof where, "'%s' on worker '%s'", full, p->name);
		log_warn("job %lld: worker '%s' has no space left in '%s': %s", (long long)job,
			p->name, full, error);
		if (wait_for_space(d, job, where, error) == 0)
			return;
	}
	enum job_state state = JOB_STATE_FAILED;
	struct err err = { 0 };
	int rc = store_job_fail(d->store, job, epoch, error, msg_bool(m, "retryable", 0), d->wall,
		&state, &err);
	if (rc < 0) {
		log_error("%s", err.msg);
	} else if (rc == 0) {
		stale(d, p, "FAIL", job, epoch);
	} else if (state == JOB_STATE_QUEUED) {
		counters_add(&d->counters, C_JOBS_RETRIED, 1);
		broker_queue_changed(d);
		log_info("job %lld failed on worker '%s', will retry: %s", (long long)job, p->name,
			error);
	} else {
		counters_add(&d->counters, C_JOBS_FAILED, 1);
		d->kick = 1;
		log_warn("job %lld failed on worker '%s': %s", (long long)job, p->name, error);
		events_emit(d, "job_failed", json_pack("{sI ss}", "job", (json_int_t)job, "error",
			error));
	}
}

static void mark_draining(struct daemon *d, struct peer *p)
{
	p->draining = 1;
	struct err err = { 0 };
	if (store_worker_set_state(d->store, p->id, WORKER_STATE_DRAINING, &err) < 0)
		log_error("%s", err.msg);
	log_info("worker '%s' is draining (%zu job(s) in hand)", p->name, p->nleases);
}

/* A HEARTBEAT lists the jobs the worker holds. A lease it no longer holds, sent
 * long enough ago that its JOB cannot still be on the way, lost its answer (a
 * RESULT dropped as malformed, say): the job goes back to the queue rather than
 * wait for the worker to die. */
static void reconcile(struct daemon *d, struct peer *p, const json_t *held)
{
	for (size_t i = 0; i < p->nleases;) {
		const struct lease *l = &p->leases[i];
		int found = 0;
		size_t k;
		json_t *v;
		json_array_foreach(held, k, v)
			found |= json_integer_value(v) == l->job;
		if (found || !l->sent || d->now - l->sent < 2 * (int64_t)d->cfg.heartbeat_ms) {
			i++;
			continue;
		}
		char why[300];
		int64_t job = l->job, epoch = l->epoch;
		snprintf(why, sizeof why, "worker '%s' no longer holds it (its answer was lost)",
			p->name);
		log_warn("job %lld: %s", (long long)job, why);
		drop_lease(p, (int)i);
		strike(d, p, job, epoch, why);
	}
}

static void on_heartbeat(struct daemon *d, struct peer *p, const struct msg *m)
{
	if (msg_bool(m, "draining", 0) && !p->draining)
		mark_draining(d, p);
	json_t *held = json_object_get(m->header, "jobs");
	if (json_is_array(held))
		reconcile(d, p, held);
}

int broker_drain(struct daemon *d, const char *name, struct err *err)
{
	struct peer *p = name ? find_name(d->broker, name) : NULL;
	if (!p || *p->lost)
		return err_set(err, ERR_NOTFOUND, "no live worker named '%s' (see 'r1flow workers')",
			name ? name : "");
	if (!p->draining)
		mark_draining(d, p);
	struct msg m;
	msg_init(&m, PROTO_HEARTBEAT);
	m.header = json_pack("{sb}", "drain", 1);
	send_to(d, p, &m);
	return 0;
}

int broker_release(struct daemon *d, const char *name, struct err *err)
{
	struct broker *b = d->broker;
	struct peer *p = name ? find_name(b, name) : NULL;
	struct standing *st = name ? find_standing(b, name) : NULL;
	if (st)
		forget_standing(b, st);
	if (!p || *p->lost) {
		if (st)
			return 0;
		return err_set(err, ERR_NOTFOUND, "no live worker named '%s' (see 'r1flow workers')",
			name ? name : "");
	}
	if (*p->quarantined)
		log_info("worker '%s' released from quarantine (%s)", p->name, p->quarantined);
	p->strikes = 0;
	*p->quarantined = '\0';
	p->idle_gen = p->first_idle_gen = 0; /* look at the queue again */
	events_emit(d, "worker_released", json_pack("{sI ss}", "worker", (json_int_t)p->id,
		"name", p->name));
	return 0;
}

static void on_fetch(struct daemon *d, struct peer *p, const struct msg *m)
{
	struct msg chunk;
	blobs_fetch(d, p->id, p->name, m, &chunk); /* a CHUNK, or a redirect to a peer */
	send_to(d, p, &chunk);
}

/* A piece of a result blob: written if its lease is current, answered with an ACK
 * either way (uploads.h). A full disk pauses the job's pipeline, as for a RESULT
 * that cannot be stored. */
static void on_put(struct daemon *d, struct peer *p, const struct msg *m)
{
	int64_t job = msg_uint(m, "job"), epoch = msg_uint(m, "epoch");
	struct msg ack;
	struct err err = { 0 };
	if (find_lease(p, job, epoch) < 0) {
		uploads_forget(d, &p->uploads, job, epoch, 0);
		msg_init(&ack, PROTO_ACK);
		ack.header = json_pack("{sI sI sI sI ss}", "job", (json_int_t)job, "epoch",
			(json_int_t)epoch, "index", (json_int_t)msg_uint(m, "index"), "offset",
			(json_int_t)0, "error", "the lease is not current");
		log_debug("refused a PUT of job %lld epoch %lld from worker '%s': the lease is not "
			"current", (long long)job, (long long)epoch, p->name);
		send_to(d, p, &ack);
		return;
	}
	counters_add(&d->counters, C_BLOB_BYTES_RECEIVED, m->nblobs ? (int64_t)m->blobs[0].size : 0);
	d->turn_bytes += m->nblobs ? (int64_t)m->blobs[0].size : 0;
	if (uploads_put(d, &p->uploads, m, &ack, &err) < 0) {
		log_warn("job %lld: upload from worker '%s' dropped: %s", (long long)job, p->name,
			err.msg);
		if (err_nospace(&err))
			wait_for_space(d, job, d->dir.root, err.msg);
	}
	send_to(d, p, &ack);
}

static void on_disconnect(struct daemon *d, struct peer *p, const struct msg *m)
{
	char reason[BROKER_MAX_NAME + 64];
	const char *why = msg_str(m, "reason");
	log_info("worker '%s' disconnected%s%s (%zu job(s) in hand)", p->name, why ? ": " : "",
		why ? why : "", p->nleases);
	snprintf(reason, sizeof reason, "worker '%s' disconnected", p->name);
	release_peer(d, p, "worker_left", reason);
	unlink_peer(d->broker, p);
	peer_free(p);
}

void broker_handle(struct daemon *d, struct sock_msg *in, int rc, const struct err *err)
{
	struct msg *m = &in->msg;
	if (rc < 0) {
		if (m->fault == MSG_OK)
			return; /* nothing was received */
		counters_add(&d->counters, (enum counter)(C_MSGS_FAULT + m->fault), 1);
		misbehaved(d, "dropped a message", err->msg);
		if (m->fault == MSG_FAULT_VERSION && in->envelope.size)
			send_disconnect(d, in->envelope.data, in->envelope.size, err->msg);
		return;
	}
	struct peer *p = find_ident(d->broker, in->envelope.data, in->envelope.size);
	/* the worker's CURVE key, proved at the handshake (auth.h); NULL on ipc */
	const char *user = in->nparts > 1 ? zmq_msg_gets(&in->parts[1], "User-Id") : NULL;
	if (!p) {
		if (m->cmd == PROTO_READY) {
			on_ready(d, &in->envelope, m, user);
		} else if (m->cmd != PROTO_DISCONNECT) {
			counters_add(&d->counters, C_MSGS_UNKNOWN_PEER, 1);
			misbehaved(d, "told an unknown peer to send READY first",
				proto_cmd_name(m->cmd));
			if (m->cmd == PROTO_RESULT || m->cmd == PROTO_FAIL)
				stale(d, NULL, proto_cmd_name(m->cmd), msg_uint(m, "job"),
					msg_uint(m, "epoch"));
			send_disconnect(d, in->envelope.data, in->envelope.size, "send READY first");
		}
		return;
	}
	if (*p->lost)
		return; /* already declared lost; reaped at the start of the next turn */
	p->last_seen = d->now;
	switch (m->cmd) {
	case PROTO_READY: on_ready(d, &in->envelope, m, user); break;
	case PROTO_HEARTBEAT: on_heartbeat(d, p, m); break;
	case PROTO_RESULT: on_result(d, p, m); break;
	case PROTO_FAIL: on_fail(d, p, m); break;
	case PROTO_FETCH: on_fetch(d, p, m); break;
	case PROTO_PUT: on_put(d, p, m); break;
	case PROTO_DISCONNECT: on_disconnect(d, p, m); break;
	default: break; /* decode admits only worker commands here */
	}
}

void broker_unreachable(struct daemon *d, const void *identity, size_t size,
	const char *why)
{
	struct peer *p = find_ident(d->broker, identity, size);
	counters_add(&d->counters, C_SENDS_FAILED, 1);
	if (!p || *p->lost)
		return;
	snprintf(p->lost, sizeof p->lost, "worker '%s' unreachable: %s", p->name, why);
	d->broker->any_lost = 1;
}

/* Declare `p` lost: requeue, unlink, free. */
static void lose(struct daemon *d, struct peer *p, const char *reason)
{
	log_warn("%s: requeueing %zu job(s)", reason, p->nleases);
	counters_add(&d->counters, C_WORKERS_LOST, 1);
	release_peer(d, p, "worker_lost", reason);
	unlink_peer(d->broker, p);
	peer_free(p);
}

void broker_revoke(struct daemon *d, const void *identity, size_t size, const char *why)
{
	send_disconnect(d, identity, size, why);
	struct peer *p = find_ident(d->broker, identity, size);
	if (!p || *p->lost)
		return;
	char reason[BROKER_MAX_NAME + 96];
	snprintf(reason, sizeof reason, "worker '%s' cut off: %s", p->name, why);
	lose(d, p, reason);
}

void broker_reap(struct daemon *d)
{
	struct broker *b = d->broker;
	if (!b->any_lost)
		return;
	b->any_lost = 0;
	for (size_t i = b->n; i-- > 0;) {
		struct peer *p = b->peers[i];
		if (*p->lost) {
			char reason[sizeof p->lost];
			memcpy(reason, p->lost, sizeof reason);
			lose(d, p, reason);
		}
	}
}

void broker_grace(struct daemon *d, int64_t stalled_ms)
{
	struct broker *b = d->broker;
	if (!b->n)
		return;
	log_warn("the daemon did not run for %lld ms (stopped or suspended): every worker gets "
		"a fresh liveness window", (long long)stalled_ms);
	for (size_t i = 0; i < b->n; i++)
		b->peers[i]->last_seen = d->now;
}

void broker_cron(struct daemon *d)
{
	struct broker *b = d->broker;
	int64_t window = (int64_t)d->cfg.heartbeat_ms * d->cfg.liveness;
	struct err err = { 0 };
	broker_reap(d);
	for (size_t i = b->n; i-- > 0;) {
		struct peer *p = b->peers[i];
		int64_t silent = d->now - p->last_seen;
		if (silent > window) {
			char reason[BROKER_MAX_NAME + 96];
			snprintf(reason, sizeof reason, "worker '%s' lost: silent for %lld ms", p->name,
				(long long)silent);
			send_disconnect(d, p->ident, p->ident_size, "declared dead: silent past liveness");
			lose(d, p, reason);
		} else if (d->now - p->last_sent >= d->cfg.heartbeat_ms) {
			struct msg hb;
			msg_init(&hb, PROTO_HEARTBEAT);
			send_to(d, p, &hb);
		}
	}
	if (d->now < b->next_lease_tick)
		return;
	b->next_lease_tick = d->now + d->cfg.heartbeat_ms;
	/* workers.last_seen is for people (liveness is judged in memory): every 10th
	 * tick is enough, and keeps an idle daemon from writing every second */
	int seen = b->lease_ticks++ % 10 == 0;
	for (size_t i = 0; i < b->n; i++) {
		struct peer *p = b->peers[i];
		if (p->nleases && store_job_extend(d->store, p->id, d->wall + daemon_lease_ms(d),
			&err) < 0)
			log_error("%s", err.msg);
		if (seen && store_worker_seen(d->store, p->id, d->wall - (d->now - p->last_seen),
			&err) < 0)
			log_error("%s", err.msg);
	}
	struct store_requeue r = { 0, 0 };
	if (store_job_requeue_expired(d->store, d->wall, "lease expired", &r, &err) < 0) {
		log_error("%s", err.msg);
	} else if (r.queued || r.failed) {
		log_warn("%lld expired lease(s) requeued, %lld job(s) failed", (long long)r.queued,
			(long long)r.failed);
		counters_add(&d->counters, C_JOBS_REQUEUED, r.queued);
		counters_add(&d->counters, C_JOBS_FAILED, r.failed);
		broker_queue_changed(d);
	}
}

/* Whether `p` may get another job now, and which: 2 any, 1 first leases only, 0 none.
 *
 * Isolation of returning jobs: a job that comes back to the queue (its worker died,
 * it failed retryably, its lease expired) may be the one that killed the worker,
 * and when a worker dies every lease it holds costs an attempt — the daemon cannot
 * tell which one was running, since the crash can swallow the worker's last
 * messages. So such a job is leased only to a worker holding nothing else, and
 * that worker gets nothing more until it is done: a poison job then reaches its
 * attempt cap alone, and jobs that merely waited beside it in a worker's queue the
 * first time lose one attempt at most. A worker that holds fresh jobs gets more
 * fresh jobs only while no returning job heads the queue
 * (store_job_claim_first_lease), so returning jobs are not starved: the first
 * worker to empty its hands takes them. */
static int may_claim(const struct broker *b, const struct peer *p)
{
	if (*p->lost || p->draining || *p->quarantined || p->nleases >= (size_t)p->slots ||
		p->idle_gen == b->queue_gen)
		return 0;
	if (p->nleases == 0)
		return 2;
	for (size_t i = 0; i < p->nleases; i++)
		if (p->leases[i].again)
			return 0;
	return p->first_idle_gen == b->queue_gen ? 0 : 1;
}

/* Send the JOB of a lease just claimed for `p`. */
static void send_job(struct daemon *d, struct peer *p, const struct store_job *job)
{
	json_error_t jerr;
	json_t *params = json_loads(job->params, 0, &jerr);
	if (!json_is_object(params)) { /* enqueue writes objects; an old row might not */
		json_decref(params);
		params = json_object();
	}
	struct msg m;
	msg_init(&m, PROTO_JOB);
	m.header = json_pack("{sI sI ss so}", "job", (json_int_t)job->id, "epoch",
		(json_int_t)job->epoch, "kind", job->kind, "params", params);
	p->leases[p->nleases++] = (struct lease){ job->id, job->epoch, job->attempt > 1, 0 };
	if (job->attempt > 1)
		broker_queue_changed(d); /* a new head: first-lease claims may succeed again */
	log_debug("job %lld (epoch %lld, attempt %lld) leased to worker '%s'", (long long)job->id,
		(long long)job->epoch, (long long)job->attempt, p->name);
	send_to(d, p, &m);
}

/* Fill up to `max` of `p`'s free slots in one claim (`how` from may_claim): 1 leased
 * some, 0 nothing for it, -1 store error. One statement per worker per pass instead
 * of one per job. */
static int claim_some(struct daemon *d, struct peer *p, int how, size_t max)
{
	struct store_job jobs[BROKER_MAX_SLOTS];
	struct err err = { 0 };
	int64_t deadline = d->wall + daemon_lease_ms(d);
	size_t room = (size_t)p->slots - p->nleases;
	if (room > max)
		room = max;
	int n = store_job_claim_many(d->store, p->id, p->kinds, how == 1, d->wall, deadline,
		jobs, room, &err);
	if (n < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	if (n == 0) {
		if (how == 2)
			p->idle_gen = d->broker->queue_gen;
		else
			p->first_idle_gen = d->broker->queue_gen;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		send_job(d, p, &jobs[i]);
		store_job_release(&jobs[i]);
	}
	return 1;
}

/* The first pass gives every worker that may claim at most one job, the passes after
 * it fill the slots left: a short queue (a GRPO step's two rollout jobs) is spread
 * over the workers instead of filling the first one's slots while the next one
 * idles — one running job and one waiting in a worker's queue only when every
 * worker has one to run. */
void broker_dispatch(struct daemon *d)
{
	struct broker *b = d->broker;
	for (int progress = 1, pass = 0; progress && b->n; pass++) {
		progress = 0;
		for (size_t k = 0; k < b->n; k++) {
			struct peer *p = b->peers[(b->next + k) % b->n];
			int how = may_claim(b, p);
			if (!how)
				continue;
			int rc = claim_some(d, p, how, pass == 0 ? 1 : BROKER_MAX_SLOTS);
			if (rc < 0)
				return;
			progress |= rc;
		}
	}
	if (b->n)
		b->next = (b->next + 1) % b->n;
}

void broker_cancelled(struct daemon *d, int64_t job, int64_t worker)
{
	struct broker *b = d->broker;
	for (size_t i = 0; i < b->n; i++) {
		struct peer *p = b->peers[i];
		if (p->id != worker)
			continue;
		int at = find_lease(p, job, -1);
		if (at >= 0)
			drop_lease(p, at);
		struct msg m;
		msg_init(&m, PROTO_CANCEL);
		m.header = json_pack("{sI}", "job", (json_int_t)job);
		send_to(d, p, &m);
		return;
	}
}

void broker_shutdown(struct daemon *d)
{
	struct broker *b = d->broker;
	while (b->n) {
		struct peer *p = b->peers[b->n - 1];
		send_disconnect(d, p->ident, p->ident_size, "daemon shutting down");
		release_peer(d, p, "worker_left", "daemon shut down");
		unlink_peer(b, p);
		peer_free(p);
	}
}

void broker_sent(struct daemon *d)
{
	int64_t now = 0;
	for (size_t k = 0; k < d->broker->n; k++) {
		struct peer *p = d->broker->peers[k];
		for (size_t i = 0; i < p->nleases; i++)
			if (!p->leases[i].sent)
				p->leases[i].sent = now ? now : (now = clock_mono_ms());
	}
}

void broker_forget_all(struct daemon *d, const char *why)
{
	struct broker *b = d->broker;
	while (b->n) {
		struct peer *p = b->peers[b->n - 1];
		send_disconnect(d, p->ident, p->ident_size, why);
		unlink_peer(b, p);
		peer_free(p);
	}
}

json_t *broker_describe(const struct daemon *d)
{
	const struct broker *b = d->broker;
	json_t *all = json_array();
	for (size_t i = 0; all && i < b->n; i++) {
		const struct peer *p = b->peers[i];
		json_error_t jerr;
		json_t *jobs = json_array(), *kinds = json_loads(p->kinds, 0, &jerr);
		if (!kinds)
			kinds = json_array();
		for (size_t j = 0; jobs && j < p->nleases; j++)
			json_array_append_new(jobs, json_integer(p->leases[j].job));
		json_t *w = json_pack("{sI ss ss sI so si so ss sI sI si}",
			"id", (json_int_t)p->id, "name", p->name, "host", p->host,
			"pid", (json_int_t)p->pid, "kinds", kinds,
			"slots", p->slots, "jobs", jobs ? jobs : json_array(),
			"state", p->draining ? "draining" : *p->quarantined ? "quarantined" : "ready",
			"silent_ms", (json_int_t)(d->now - p->last_seen),
			"connected_ms", (json_int_t)(d->now - p->joined), "strikes", p->strikes);
		if (w && p->threads)
			json_object_set_new(w, "threads", json_integer(p->threads));
		if (w && *p->quarantined)
			json_object_set_new(w, "quarantined", json_string(p->quarantined));
		json_array_append_new(all, w);
	}
	return all;
}
