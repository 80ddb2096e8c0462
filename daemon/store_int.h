/*
 * store_int — what store.c shares with the other store_*.c files, and nothing else
 * includes: the statement table's ids, the store struct and the helpers every
 * statement call goes through. All SQL text stays in store.c's table.
 */
#ifndef R1_STORE_INT_H
#define R1_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* Every statement of the daemon, prepared once in store_open. */
enum stmt {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_JOB_INSERT, S_JOB_NEXT, S_JOB_LEASE, S_JOB_COMMIT, S_JOB_FAIL, S_JOB_REFUND, S_JOB_REQUEUE_WORKER,
	S_JOB_REQUEUE_EXPIRED, S_JOB_EXTEND, S_JOB_CANCEL, S_JOB_GET, S_JOB_COUNTS_ALL,
	S_JOB_COUNTS_STAGE, S_JOB_COUNTS_KIND,
	S_WORKER_UPSERT, S_WORKER_SEEN, S_WORKER_STATE,
	S_BLOB_PUT, S_BLOB_GET, S_EVENT_ADD, S_COUNTER_ADD, S_COUNTER_GET,
	S_PIPELINE_ADD, S_STAGE_ADD, S_QUICK_CHECK, S_USER_VERSION,
	/* store_pipeline.c */
	S_PIPELINE_GET, S_PIPELINE_LIST, S_PIPELINE_IDS, S_PIPELINE_STATE, S_STAGE_LIST,
	S_STAGE_STATE, S_STAGE_PROGRESS, S_STAGE_JOBS_CANCEL, S_STAGE_JOBS_REQUEUE,
	S_STAGE_JOB_FAILED, S_EVENT_LIST, S_PIPELINE_TOKEN_SET, S_PIPELINE_BY_TOKEN,
	/* store_dataset.c */
	S_DATASET_ADD, S_DATASET_FIND, S_DATASET_COUNT, S_DATASET_LIST, S_RECORD_ADD,
	S_RECORD_GET, S_CHECKPOINT_ADD, S_CHECKPOINT_LAST, S_CHECKPOINT_LAST_OPT,
	S_BLOB_DELETE, S_STEP_JOBS, S_JOBS_DELETE_AFTER, S_METRIC_ADD, S_METRIC_LAST,
	S_METRIC_LIST, S_SAMPLE_ADD, S_SAMPLE_LIST, S_CHECKPOINT_AT,
	S_CHECKPOINT_LIST, S_CHECKPOINT_DELETE, S_BLOB_REFERENCED, S_DATASET_USER,
	S_DATASET_DELETE,
	S_COUNT,
};

struct store {
	sqlite3 *db;
	int in_tx;                  /* inside store_begin .. store_commit */
	int lost_errnum;            /* errno of the error that rolled the transaction back */
	sqlite3_stmt *st[S_COUNT];  /* prepared statements, by enum stmt */
};

/* err = "<what>: <sqlite's message>". Call before anything else touches the db. */
int store_db_fail(struct store *s, struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A statement ready for binding (reset, bindings cleared). */
sqlite3_stmt *store_stmt(struct store *s, enum stmt id);
void store_bind_id(sqlite3_stmt *st, int i, int64_t id);       /* 0: NULL */
void store_bind_text(sqlite3_stmt *st, int i, const char *text); /* NULL: NULL */
char *store_column_dup(sqlite3_stmt *st, int col);              /* NULL for NULL */
/* Step a statement that returns no rows: 0 or -1. */
int store_run(sqlite3_stmt *st);
/* Write scopes: outside store_begin a write is its own BEGIN IMMEDIATE transaction;
 * inside, `multi` statements run in a savepoint so a failure undoes only them. */
int store_tx_enter(struct store *s, int multi, struct err *err, const char *what);
int store_tx_leave(struct store *s, int multi, int ok, struct err *err, const char *what);
/* Step an INSERT, *id (may be NULL) its rowid, and leave a single-statement scope. */
int store_insert(struct store *s, sqlite3_stmt *st, int64_t *id, struct err *err,
	const char *what);

/* Step `st` (bound) to its end, reading each row into a new `size`-byte element of a
 * growing array with read(st, element, err). On success *out (the caller's; NULL when
 * no row) and *n. On failure the elements read so far go through `release` (NULL:
 * nothing to release), the array is freed and err names `what` ("list pipelines"). */
int store_read_rows(struct store *s, sqlite3_stmt *st, size_t size,
	int (*read)(sqlite3_stmt *st, void *element, struct err *err),
	void (*release)(void *element), void **out, size_t *n, const char *what,
	struct err *err);

#endif
