/*
 * store — the coordinator's database: every SQL statement of the daemon lives here.
 *
 * One SQLite connection, owned by the daemon's event-loop thread, in WAL mode with
 * synchronous=FULL, foreign_keys=ON and a busy timeout. `store_open` applies the
 * embedded migrations (schema.h) past PRAGMA user_version in one transaction, then
 * prepares every statement once; the rest of the API only binds and steps them.
 * The database must be on a local disk (WAL needs shared memory that works, which
 * NFS and Lustre do not give).
 *
 * Jobs and leases (the state machine the broker drives)
 *
 *     enqueue ──▶ queued ──claim──▶ leased ──commit──▶ done
 *                   ▲                 │ │
 *                   └── fail(retry) ──┘ └── fail(final), attempts used up ──▶ failed
 *                       requeue (dead worker, expired lease): same rule
 *     cancel: queued | leased ──▶ cancelled
 *
 *   - A lease is (job id, epoch). Every claim adds 1 to both `epoch` and `attempt`.
 *     commit and fail act only when (id, epoch) names the current lease of a leased
 *     job; otherwise they change nothing and report the answer as stale. So a late
 *     RESULT from a worker declared dead, a second RESULT for the same lease, or one
 *     for a cancelled job, never lands: each job's result is committed exactly once.
 *   - `attempt` counts leases against `max_attempts` (default 3). A retryable FAIL,
 *     a dead worker or an expired lease puts the job back in the queue while
 *     attempts remain, else marks it failed with the last error, suffixed
 *     "(attempt N of M)". `epoch` never goes back, even if attempts are reset later.
 *   - `worker` is the holder while leased and the last holder once done or failed;
 *     it is cleared when the job goes back to the queue.
 *   - Claims take the oldest queued job (lowest id) whose kind the worker runs.
 *     Job kinds are lowercase identifiers ([a-z0-9_]{1,64}); enqueue refuses
 *     others, and claim matches kinds by their quoted name in the worker's JSON
 *     array, so pass the daemon's own serialisation of validated READY kinds.
 *
 * Transactions
 *   Every write runs in BEGIN IMMEDIATE. On its own each call is its own
 *   transaction (one fsync). Between store_begin and store_commit calls join one
 *   transaction instead: the daemon opens it for an event-loop turn, so a turn's
 *   claims and results cost one fsync. A call that fails inside it undoes its own
 *   writes only (a savepoint) and leaves the transaction open, unless SQLite had to
 *   abort the whole transaction (disk full, I/O error): store_commit then fails.
 *
 *   Rule for the caller: anything that presumes a write happened (sending the JOB
 *   of a claim, publishing an event, replying to a client) waits until store_commit
 *   returns 0. If store_commit fails, everything since store_begin is gone.
 *
 * Forbidden: store_begin inside store_begin, store_commit or store_rollback without
 * store_begin (both assert); using a store from two threads; reading a
 * `struct store_job` after store_job_release.
 *
 * Times are integer milliseconds since the Unix epoch, passed in by the caller (the
 * store never reads a clock, so tests are deterministic). Ids are >= 1; 0 means
 * "none" wherever an id is optional. JSON arguments are JSON text.
 *
 * Return values: -1 with err filled on a database error or bad argument; otherwise
 * 0 for done, or as the function says (1/0 for found/absent, committed/stale).
 */
#ifndef R1_STORE_H
#define R1_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

#define STORE_MAX_ATTEMPTS   3       /* default leases per job before it fails */
#define STORE_BUSY_TIMEOUT_MS 5000   /* wait this long for another connection's lock */
#define STORE_ALL_STAGES     (-1)    /* store_job_counts: every job, stage or not */

enum job_state {
	JOB_STATE_QUEUED,
	JOB_STATE_LEASED,
	JOB_STATE_DONE,
	JOB_STATE_FAILED,
	JOB_STATE_CANCELLED,
	JOB_STATE_COUNT,
};

enum worker_state { WORKER_STATE_READY, WORKER_STATE_DRAINING, WORKER_STATE_GONE };

struct store;

/* A job to enqueue; borrowed strings. */
struct store_job_new {
	int64_t stage;            /* 0: none (diagnostic jobs) */
	const char *kind;         /* "probe", "rollout": [a-z0-9_]{1,64}; required */
	int64_t step, shard;      /* (stage, step, kind, shard) is unique when stage != 0 */
	int max_attempts;         /* 0: STORE_MAX_ATTEMPTS */
	const char *params;       /* JSON object text; NULL: "{}" */
};

/* A job as stored; strings are owned (store_job_release frees them). */
struct store_job {
	int64_t id;
	int64_t stage;            /* 0: none */
	char *kind;
	int64_t step, shard;
	enum job_state state;
	int64_t attempt, max_attempts;
	int64_t epoch;            /* current lease */
	int64_t worker;           /* 0: none */
	int64_t lease_deadline;   /* 0 unless leased */
	char *params;             /* JSON text */
	char *result;             /* JSON text; NULL unless done */
	char *error;              /* last error; NULL if none */
};

/* What a requeue did. */
struct store_requeue {
	int64_t queued;           /* jobs back in the queue */
	int64_t failed;           /* jobs whose attempts were used up */
};

/* A worker as announced in READY; borrowed strings, 0/NULL for unknown. */
struct store_worker {
	const char *name;         /* required; the registry key */
	const char *host;
	int64_t pid, threads, memory;
	const char *kinds;        /* JSON array of job kinds; NULL: [] */
	const char *build;
};

/* Open (creating if absent) and migrate the database at `path` (":memory:" for
 * tests). Refuses a database whose user_version is newer than this build's. */
struct store *store_open(const char *path, struct err *err);

/* Roll back any open transaction, finalise statements, close. NULL is a no-op. */
void store_close(struct store *s);

/* PRAGMA user_version: the number of the last migration applied. */
int store_schema_version(struct store *s);

int store_begin(struct store *s, struct err *err);
int store_commit(struct store *s, struct err *err);   /* on failure: rolled back */
void store_rollback(struct store *s);
int store_in_transaction(const struct store *s);

/* Insert `n` jobs in one transaction: all or none. ids (may be NULL) receives the
 * new ids in order. */
int store_job_enqueue(struct store *s, const struct store_job_new *jobs, size_t n,
	int64_t now_ms, int64_t *ids, struct err *err);

/* Lease the oldest queued job whose kind is in `kinds` (JSON array text as READY
 * carries it, e.g. ["probe","rollout"]; NULL: any kind) to `worker` until
 * `deadline_ms`. 1 and *job filled (release it), 0 if no such job is queued (*job
 * untouched). The returned job is already leased: state, epoch, attempt, worker
 * and deadline are the new ones. */
int store_job_claim(struct store *s, int64_t worker, const char *kinds, int64_t now_ms,
	int64_t deadline_ms, struct store_job *job, struct err *err);

/* Like store_job_claim, but only if the job it would lease has never been leased
 * before (attempt 0); if that oldest job is one that came back (a dead worker, a
 * retryable failure, an expired lease), nothing is leased (0). The broker claims
 * this way for a worker that already holds leases: a job that came back — possibly
 * the one that killed its worker — then runs on a worker with empty hands, alone,
 * so a crash is charged to it rather than to jobs that happened to wait beside it;
 * and since it stays at the head of the queue, busy workers take nothing new until
 * one of them has emptied its hands and taken it, so it is never overtaken for
 * long. */
int store_job_claim_first_lease(struct store *s, int64_t worker, const char *kinds,
	int64_t now_ms, int64_t deadline_ms, struct store_job *job, struct err *err);

/* Up to `max` claims in one statement, oldest first, into jobs[0..n): n (release
 * each), 0 if nothing is queued for it. The rule of the two above holds per batch:
 * a job that came back is leased only as the first and only job of a claim without
 * `first_only`; with `first_only` the batch stops before it. */
int store_job_claim_many(struct store *s, int64_t worker, const char *kinds, int first_only,
	int64_t now_ms, int64_t deadline_ms, struct store_job *jobs, size_t max, struct err *err);

/* Commit `result` (JSON text) for the lease (job, epoch). 1 committed, 0 stale (not
 * the current lease of a leased job; nothing written). */
int store_job_commit(struct store *s, int64_t job, int64_t epoch, const char *result,
	int64_t now_ms, struct err *err);

/* Record a failure of the lease (job, epoch): back to queued if `retryable` and
 * attempts remain, else failed. 1 applied (*state, may be NULL, says which), 0 stale. */
int store_job_fail(struct store *s, int64_t job, int64_t epoch, const char *error,
	int retryable, int64_t now_ms, enum job_state *state, struct err *err);

/* Put the lease (job, epoch) back in the queue without counting it as an attempt
 * (attempt goes back to its value before the claim): a result refused from a
 * worker already known to be faulty (broker.h) is the worker's failure, not the
 * job's. `error` becomes the job's error, marked as not counted. 1 applied, 0 stale. */
int store_job_refund(struct store *s, int64_t job, int64_t epoch, const char *error,
	struct err *err);

/* Put every job leased by `worker` back (a dead worker); `reason` becomes their
 * error, e.g. "worker 'w1' died". */
int store_job_requeue_worker(struct store *s, int64_t worker, const char *reason,
	int64_t now_ms, struct store_requeue *out, struct err *err);

/* Put every lease whose deadline is <= now_ms back (after a daemon restart: pass
 * INT64_MAX to requeue every lease at once). */
int store_job_requeue_expired(struct store *s, int64_t now_ms, const char *reason,
	struct store_requeue *out, struct err *err);

/* Move the deadline of every lease `worker` holds to `deadline_ms`; returns how many
 * leases were extended. */
int store_job_extend(struct store *s, int64_t worker, int64_t deadline_ms, struct err *err);

/* Cancel a queued or leased job. 1 cancelled (*worker, may be NULL, is the holder
 * to send CANCEL to, 0 if it was queued), 0 if it had already finished. */
int store_job_cancel(struct store *s, int64_t job, int64_t now_ms, int64_t *worker,
	struct err *err);

/* 1 and *job filled (release it), 0 if there is no such job. */
int store_job_get(struct store *s, int64_t id, struct store_job *job, struct err *err);

/* Free the strings of `job` and zero it. */
void store_job_release(struct store_job *job);

/* Jobs per state for `stage` (STORE_ALL_STAGES: all jobs). */
int store_job_counts(struct store *s, int64_t stage, int64_t counts[JOB_STATE_COUNT],
	struct err *err);

/* "queued", "leased", ...; "?" out of range. */
const char *store_job_state_name(enum job_state state);

/* Jobs per kind and state as {kind: {queued: n, leased: n, ...}} (every state named). */
int store_job_counts_by_kind(struct store *s, json_t **out, struct err *err);

/* Register a worker or refresh it by name (a reconnect keeps its id): state ready,
 * connected_at and last_seen now. *id receives its id. */
int store_worker_upsert(struct store *s, const struct store_worker *w, int64_t now_ms,
	int64_t *id, struct err *err);
int store_worker_seen(struct store *s, int64_t id, int64_t now_ms, struct err *err);
int store_worker_set_state(struct store *s, int64_t id, enum worker_state state,
	struct err *err);

/* Index a content-addressed blob. 1 inserted, 0 already known with the same size;
 * -1 if known with another size (a corrupt store) or on error. */
int store_blob_put(struct store *s, const char *sha256, int64_t size, const char *path,
	int64_t now_ms, struct err *err);

/* Forget a blob: 1 if its row went, 0 if unknown or still named (as in
 * store_blob_referenced). */
int store_blob_delete(struct store *s, const char *sha256, struct err *err);

/* 1 found (*size and *path filled; *path is the caller's to free), 0 absent. */
int store_blob_get(struct store *s, const char *sha256, int64_t *size, char **path,
	struct err *err);

/* Append an event (pipeline and stage 0 for daemon-wide); data is JSON text or NULL
 * for {}. *id (may be NULL) receives its id. */
int store_event_add(struct store *s, int64_t pipeline, int64_t stage, const char *type,
	const char *data, int64_t now_ms, int64_t *id, struct err *err);

/* Persistent counters ("results_stale", "msgs_malformed", ...). */
int store_counter_add(struct store *s, const char *name, int64_t delta, struct err *err);
int store_counter_get(struct store *s, const char *name, int64_t *value, struct err *err);

/*
 * Pipelines and stages (store_pipeline.c). A pipeline is its normalised spec (JSON)
 * and a state; each of its stages a row with the stage's own spec, a state and its
 * progress in units (jobs, steps, records). The scheduler moves the states:
 *
 *   pipeline  queued ─▶ running ─▶ succeeded | failed | cancelled;  running ◀─▶ paused
 *   stage     pending ─▶ running ─▶ succeeded | failed | cancelled;  running ◀─▶ paused
 *
 * started_at is set the first time a row becomes running, finished_at whenever it
 * reaches a final state (and cleared when a retry takes it back).
 */
enum pipeline_state {
	PIPELINE_QUEUED, PIPELINE_RUNNING, PIPELINE_PAUSED, PIPELINE_SUCCEEDED,
	PIPELINE_FAILED, PIPELINE_CANCELLED, PIPELINE_STATE_COUNT,
};
enum stage_state {
	STAGE_PENDING, STAGE_RUNNING, STAGE_PAUSED, STAGE_SUCCEEDED, STAGE_FAILED,
	STAGE_CANCELLED, STAGE_STATE_COUNT,
};

/* Strings owned; store_pipeline_release frees them. */
struct store_pipeline {
	int64_t id;
	char *name;
	char *spec;               /* normalised spec, JSON text */
	int64_t seed;
	enum pipeline_state state;
	char *error;              /* NULL unless failed */
	int64_t created_at, started_at, finished_at; /* 0: not yet */
	int64_t stages, stages_succeeded;
};

struct store_stage {
	int64_t id, pipeline;
	char *name, *kind;
	char *spec;               /* the stage's normalised spec, JSON text */
	enum stage_state state;
	int64_t step, total;      /* units done and planned */
	double progress;          /* 0..1 */
	char *error;
	int64_t created_at, started_at, finished_at;
};

const char *store_pipeline_state_name(enum pipeline_state state);
const char *store_stage_state_name(enum stage_state state);

int store_pipeline_add(struct store *s, const char *name, const char *source,
	const char *spec, int64_t seed, int64_t now_ms, int64_t *id, struct err *err);
/* The client's submit token of pipeline `id` (UNIQUE: a second pipeline with the
 * same token is refused as ERR_INVALID). */
int store_pipeline_set_token(struct store *s, int64_t id, const char *token, struct err *err);
/* The pipeline submitted with `token`: 1 and *id, 0 none, -1 error. */
int store_pipeline_by_token(struct store *s, const char *token, int64_t *id, struct err *err);
int store_stage_add(struct store *s, int64_t pipeline, const char *name, const char *kind,
	const char *spec, int64_t total, int64_t now_ms, int64_t *id, struct err *err);

/* 1 and *p filled (release it), 0 if there is no such pipeline. */
int store_pipeline_get(struct store *s, int64_t id, struct store_pipeline *p, struct err *err);
/* Every pipeline, newest first: *out is an array of *n (store_pipelines_free it). */
int store_pipeline_list(struct store *s, struct store_pipeline **out, size_t *n,
	struct err *err);
/* Ids of the pipelines in `state`, oldest first (free *ids). */
int store_pipeline_ids(struct store *s, enum pipeline_state state, int64_t **ids, size_t *n,
	struct err *err);
int store_pipeline_set_state(struct store *s, int64_t id, enum pipeline_state state,
	const char *error, int64_t now_ms, struct err *err);
void store_pipeline_release(struct store_pipeline *p);
void store_pipelines_free(struct store_pipeline *p, size_t n);

/* The stages of `pipeline` in spec order (store_stages_free). */
int store_stage_list(struct store *s, int64_t pipeline, struct store_stage **out, size_t *n,
	struct err *err);
int store_stage_set_state(struct store *s, int64_t id, enum stage_state state,
	const char *error, int64_t now_ms, struct err *err);
int store_stage_set_progress(struct store *s, int64_t id, int64_t step, int64_t total,
	struct err *err);
void store_stages_free(struct store_stage *st, size_t n);

/* Several calls as one unit: inside a turn a savepoint (a failure undoes only the
 * unit), outside a transaction of its own. store_unit_end commits the unit when ok,
 * else undoes it; it returns -1 if the unit could not be committed. */
int store_unit_begin(struct store *s, struct err *err);
int store_unit_end(struct store *s, int ok, struct err *err);

/* Cancel the stage's queued and leased jobs; the holders of leased ones (to send
 * CANCEL to) go to held[0..*nheld) as (job, worker) pairs (free *held). */
int store_stage_jobs_cancel(struct store *s, int64_t stage, int64_t now_ms,
	int64_t (**held)[2], size_t *nheld, struct err *err);
/* Put the stage's cancelled and failed jobs back in the queue with their attempts
 * reset (resume, retry); returns how many. */
int store_stage_jobs_requeue(struct store *s, int64_t stage, struct err *err);
/* 1 and the first failed job's id and error (free *error), 0 if none failed. */
int store_stage_job_failed(struct store *s, int64_t stage, int64_t *job, char **error,
	struct err *err);

/* Events of `pipeline` with id > after, oldest first, at most `limit`, as a JSON
 * array of {id, ts, stage (name or null), type, data}; *last the largest id (or
 * `after`). */
int store_event_list(struct store *s, int64_t pipeline, int64_t after, int64_t limit,
	json_t **out, int64_t *last, struct err *err);

/*
 * Datasets, records and checkpoints (store_dataset.c). A pipeline's dataset
 * shadows a shared one of the same name.
 */
struct store_record {
	char *prompt, *answer, *response, *text; /* NULL where the record has none */
	char *meta;                              /* JSON text or NULL */
	char *messages;                          /* a chat's messages (JSON text) or NULL */
	char *record;                            /* the file's keys (tasks/fields.h), a JSON
	                                            object's text, or NULL */
};

struct store_checkpoint {
	int64_t step;
	char sha256[65];          /* the model.safetensors blob */
	char optimizer[65];       /* "" unless the AdamW moments were saved at this step */
	char *config;             /* HF config.json text (free it) */
};

/* pipeline 0: a shared dataset. source: JSON text (how it was made) or NULL. */
int store_dataset_add(struct store *s, int64_t pipeline, const char *name,
	const char *source, int64_t now_ms, int64_t *id, struct err *err);
/* 1 and *id, *count (may be NULL) of the dataset `name` seen from `pipeline`, 0 if
 * there is none. */
int store_dataset_find(struct store *s, int64_t pipeline, const char *name, int64_t *id,
	int64_t *count, struct err *err);
int store_dataset_set_count(struct store *s, int64_t id, int64_t count, struct err *err);
/* The datasets of `pipeline` (0: all) as a JSON array of {id, pipeline, name, source,
 * count, created_at}. */
int store_dataset_list(struct store *s, int64_t pipeline, json_t **out, struct err *err);
/* Add record `idx` (callers add 0..n-1 in one store_unit and then set the count). */
int store_record_add(struct store *s, int64_t dataset, int64_t idx,
	const struct store_record *r, struct err *err);
/* 1 and *r filled (store_record_release), 0 if absent. */
int store_record_get(struct store *s, int64_t dataset, int64_t idx, struct store_record *r,
	struct err *err);
void store_record_release(struct store_record *r);

/* Record weights (and optionally optimizer moments, opt NULL or "") for (stage,
 * step); a second call for the same step can only add the moments. */
int store_checkpoint_add(struct store *s, int64_t stage, int64_t step, const char *sha256,
	const char *opt, const char *config, int64_t now_ms, struct err *err);
/* 1 and *c (the latest, or with `with_optimizer` the latest with moments), 0 if none. */
int store_checkpoint_last(struct store *s, int64_t stage, int with_optimizer,
	struct store_checkpoint *c, struct err *err);
/* 1 and *c, the latest checkpoint with moments at a step before `before`, 0 if none
 * (a resume whose latest checkpoint is damaged tries the one before). */
int store_checkpoint_before(struct store *s, int64_t stage, int64_t before,
	struct store_checkpoint *c, struct err *err);
/* Every checkpoint of `stage` by step (config left NULL); free(*out). */
int store_checkpoint_list(struct store *s, int64_t stage, struct store_checkpoint **out,
	size_t *n, struct err *err);
/* Forget the checkpoint (stage, step); its blobs stay (blobs_drop them after). */
int store_checkpoint_delete(struct store *s, int64_t stage, int64_t step, struct err *err);
/* 1 if a checkpoint, a queued or leased job's params, a dataset's source or a
 * pipeline's spec (its tokenizer files) names the blob, else 0. */
int store_blob_referenced(struct store *s, const char *sha256, struct err *err);
/* 1 and the first pipeline not over (queued, running, paused) that reads dataset
 * `name` — the own dataset of `pipeline`, or with pipeline 0 the shared one (a stage
 * names it and the spec does not define its own) — *user_name to free; 0 if none. */
int store_dataset_user(struct store *s, const char *name, int64_t pipeline, int64_t *user,
	char **user_name, struct err *err);
/* Delete dataset `id` and its records. */
int store_dataset_delete(struct store *s, int64_t id, struct err *err);
/* 1 and *c, the checkpoint of exactly `step`, 0 if none. */
int store_checkpoint_at(struct store *s, int64_t stage, int64_t step,
	struct store_checkpoint *c, struct err *err);

/* The `kind` jobs of one step of a stage, by shard (store_jobs_free). */
int store_step_jobs(struct store *s, int64_t stage, int64_t step, const char *kind,
	struct store_job **jobs, size_t *n, struct err *err);
void store_jobs_free(struct store_job *jobs, size_t n);
/* Delete the stage's jobs of steps after `step` (a training stage resuming from a
 * saved step recomputes them), only those of `kind` unless it is NULL. */
int store_jobs_delete_after(struct store *s, int64_t stage, int64_t step, const char *kind,
	struct err *err);

/* A stage's metric at a step (written again: replaced). */
int store_metric_add(struct store *s, int64_t stage, int64_t step, const char *name,
	double value, int64_t now_ms, struct err *err);
/* 1 and the latest step and value of metric `name`, 0 if none. */
int store_metric_last(struct store *s, int64_t stage, const char *name, int64_t *step,
	double *value, struct err *err);

/* Every metric of a stage as {name: [[step, value], ...]} (steps ascending). */
int store_metric_list(struct store *s, int64_t stage, json_t **out, struct err *err);

/* One sampled completion of an RL step or an eval (schema 0003, 0006); rewards is JSON
 * text; dataset the prompt record's (NULL: not said), correct 1 right, 0 wrong, -1 not
 * said. */
struct store_sample {
	int64_t step, idx, record, tokens;
	const char *text, *rewards, *finish;
	double advantage;
	const char *dataset;
	int correct;
};
int store_sample_add(struct store *s, int64_t stage, const struct store_sample *x,
	struct err *err);
/* The samples of step `step` (< 0: the latest) as a JSON array, at most `limit`:
 * {step, idx, record, text, tokens, rewards, advantage, finish, and dataset and
 * correct (a boolean) when recorded}. */
int store_sample_list(struct store *s, int64_t stage, int64_t step, int64_t limit,
	json_t **out, struct err *err);

/* PRAGMA quick_check: 0 if "ok", else -1 with its first complaint. */
int store_quick_check(struct store *s, struct err *err);

#endif
