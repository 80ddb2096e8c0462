#include "store.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "store_int.h"

#define JOB_COLUMNS "id, stage, kind, step, shard, state, attempt, max_attempts, epoch, " \
	"worker, lease_deadline, params, result, error"

#define PIPELINE_COLUMNS "id, name, spec, seed, state, error, created_at, started_at, " \
	"finished_at, (SELECT count(*) FROM stages WHERE pipeline = p.id), " \
	"(SELECT count(*) FROM stages WHERE pipeline = p.id AND state = 'succeeded')"
#define STAGE_COLUMNS "id, pipeline, name, kind, spec, state, step, total, progress, " \
	"error, created_at, started_at, finished_at"
#define FINAL(state) state " = 'succeeded' OR " state " = 'failed' OR " state " = 'cancelled'"

/* A job that goes back to the queue keeps its last error, marked with the attempt
 * it ended; with attempts used up it fails instead. Shared by fail and requeue. */
#define AGAIN "attempt < max_attempts"
#define ENDED(reason) "printf('%s (attempt %d of %d)', " reason ", attempt, max_attempts)"

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT store_op",
	[S_RELEASE] = "RELEASE store_op",
	[S_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[S_JOB_INSERT] =
		"INSERT INTO jobs (stage, kind, step, shard, max_attempts, params, created_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, '{}'), ?7)",
	/* kinds are lowercase identifiers (a CHECK says so), so a quoted kind occurs in
	 * the JSON array text exactly when it is an element: instr() instead of json_each,
	 * which costs twice the whole claim */
	[S_JOB_NEXT] =
		"SELECT " JOB_COLUMNS " FROM jobs WHERE state = 'queued' AND "
		"(?1 IS NULL OR instr(?1, '\"' || kind || '\"') > 0) ORDER BY id LIMIT ?2",
	[S_JOB_LEASE] =
		"UPDATE jobs SET state = 'leased', epoch = epoch + 1, attempt = attempt + 1, "
		"worker = ?2, lease_deadline = ?3, leased_at = ?4 WHERE id = ?1 AND state = 'queued'",
	[S_JOB_COMMIT] =
		"UPDATE jobs SET state = 'done', result = ?3, lease_deadline = NULL, "
		"finished_at = ?4 WHERE id = ?1 AND epoch = ?2 AND state = 'leased'",
	[S_JOB_FAIL] =
		"UPDATE jobs SET "
		"state = CASE WHEN ?3 AND " AGAIN " THEN 'queued' ELSE 'failed' END, "
		"worker = CASE WHEN ?3 AND " AGAIN " THEN NULL ELSE worker END, "
		"finished_at = CASE WHEN ?3 AND " AGAIN " THEN NULL ELSE ?5 END, "
		/* an error no retry can fix is not "attempt 1 of 3" */
		"error = CASE WHEN ?3 THEN " ENDED("?4") " ELSE ?4 END, lease_deadline = NULL "
		"WHERE id = ?1 AND epoch = ?2 AND state = 'leased' RETURNING state",
	/* a lease given back without counting it: attempt goes back to what it was
	 * before the claim (store_job_refund) */
	[S_JOB_REFUND] =
		"UPDATE jobs SET state = 'queued', attempt = max(attempt - 1, 0), worker = NULL, "
		"finished_at = NULL, lease_deadline = NULL, "
		"error = printf('%s (not counted as an attempt)', ?3) "
		"WHERE id = ?1 AND epoch = ?2 AND state = 'leased'",
	[S_JOB_REQUEUE_WORKER] =
		"UPDATE jobs SET "
		"state = CASE WHEN " AGAIN " THEN 'queued' ELSE 'failed' END, "
		"worker = CASE WHEN " AGAIN " THEN NULL ELSE worker END, "
		"finished_at = CASE WHEN " AGAIN " THEN NULL ELSE ?3 END, "
		"error = " ENDED("?2") ", lease_deadline = NULL "
		"WHERE worker = ?1 AND state = 'leased' RETURNING state",
	[S_JOB_REQUEUE_EXPIRED] =
		"UPDATE jobs SET "
		"state = CASE WHEN " AGAIN " THEN 'queued' ELSE 'failed' END, "
		"worker = CASE WHEN " AGAIN " THEN NULL ELSE worker END, "
		"finished_at = CASE WHEN " AGAIN " THEN NULL ELSE ?1 END, "
		"error = " ENDED("?2") ", lease_deadline = NULL "
		"WHERE state = 'leased' AND lease_deadline <= ?1 RETURNING state",
	[S_JOB_EXTEND] =
		"UPDATE jobs SET lease_deadline = ?2 WHERE worker = ?1 AND state = 'leased'",
	[S_JOB_CANCEL] =
		"UPDATE jobs SET state = 'cancelled', lease_deadline = NULL, finished_at = ?2 "
		"WHERE id = ?1 AND (state = 'queued' OR state = 'leased') RETURNING worker",
	[S_JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
	[S_JOB_COUNTS_ALL] = "SELECT state, count(*) FROM jobs GROUP BY state",
	[S_JOB_COUNTS_STAGE] = "SELECT state, count(*) FROM jobs WHERE stage = ?1 GROUP BY state",
	[S_JOB_COUNTS_KIND] = "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state",
	[S_WORKER_UPSERT] =
		"INSERT INTO workers (name, host, pid, threads, memory, kinds, build, state, "
		"first_seen, connected_at, last_seen) "
		"VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, '[]'), ?7, 'ready', ?8, ?8, ?8) "
		"ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
		"threads = excluded.threads, memory = excluded.memory, kinds = excluded.kinds, "
		"build = excluded.build, state = 'ready', connected_at = excluded.connected_at, "
		"last_seen = excluded.last_seen RETURNING id",
	[S_WORKER_SEEN] = "UPDATE workers SET last_seen = ?2 WHERE id = ?1",
	[S_WORKER_STATE] = "UPDATE workers SET state = ?2 WHERE id = ?1",
	[S_BLOB_PUT] =
		"INSERT INTO blobs (sha256, size, path, created_at) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (sha256) DO NOTHING",
	[S_BLOB_GET] = "SELECT size, path FROM blobs WHERE sha256 = ?1",
	[S_EVENT_ADD] =
		"INSERT INTO events (ts, pipeline, stage, type, data) "
		"VALUES (?1, ?2, ?3, ?4, coalesce(?5, '{}'))",
	[S_COUNTER_ADD] =
		"INSERT INTO counters (name, value) VALUES (?1, ?2) "
		"ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
	[S_COUNTER_GET] = "SELECT value FROM counters WHERE name = ?1",
	[S_PIPELINE_ADD] =
		"INSERT INTO pipelines (name, source, spec, seed, created_at) "
		"VALUES (?1, ?2, coalesce(?3, '{}'), ?4, ?5)",
	[S_STAGE_ADD] =
		"INSERT INTO stages (pipeline, name, kind, spec, total, created_at) "
		"VALUES (?1, ?2, ?3, coalesce(?4, '{}'), ?5, ?6)",
	[S_PIPELINE_GET] = "SELECT " PIPELINE_COLUMNS " FROM pipelines p WHERE id = ?1",
	[S_PIPELINE_LIST] = "SELECT " PIPELINE_COLUMNS " FROM pipelines p ORDER BY id DESC",
	[S_PIPELINE_IDS] = "SELECT id FROM pipelines WHERE state = ?1 ORDER BY id",
	[S_PIPELINE_STATE] =
		"UPDATE pipelines SET state = ?2, error = ?3, "
		"started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4) "
		"ELSE started_at END, "
		"finished_at = CASE WHEN " FINAL("?2") " THEN ?4 ELSE NULL END WHERE id = ?1",
	[S_PIPELINE_TOKEN_SET] = "UPDATE pipelines SET token = ?2 WHERE id = ?1",
	[S_PIPELINE_BY_TOKEN] = "SELECT id FROM pipelines WHERE token = ?1",
	[S_STAGE_LIST] = "SELECT " STAGE_COLUMNS " FROM stages WHERE pipeline = ?1 ORDER BY id",
	[S_STAGE_STATE] =
		"UPDATE stages SET state = ?2, error = ?3, "
		"started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4) "
		"ELSE started_at END, "
		"finished_at = CASE WHEN " FINAL("?2") " THEN ?4 ELSE NULL END WHERE id = ?1",
	[S_STAGE_PROGRESS] = "UPDATE stages SET step = ?2, total = ?3, progress = ?4 WHERE id = ?1",
	[S_STAGE_JOBS_CANCEL] =
		"UPDATE jobs SET state = 'cancelled', lease_deadline = NULL, finished_at = ?2 "
		"WHERE stage = ?1 AND (state = 'queued' OR state = 'leased') RETURNING id, worker",
	/* attempts start over: a retry or a resume is a new start, not a failure */
	[S_STAGE_JOBS_REQUEUE] =
		"UPDATE jobs SET state = 'queued', attempt = 0, worker = NULL, error = NULL, "
		"finished_at = NULL WHERE stage = ?1 AND (state = 'cancelled' OR state = 'failed')",
	[S_STAGE_JOB_FAILED] =
		"SELECT id, error FROM jobs WHERE stage = ?1 AND state = 'failed' ORDER BY id LIMIT 1",
	[S_EVENT_LIST] =
		"SELECT e.id, e.ts, s.name, e.type, e.data FROM events e "
		"LEFT JOIN stages s ON s.id = e.stage WHERE e.pipeline = ?1 AND e.id > ?2 "
		"ORDER BY e.id LIMIT ?3",
	[S_DATASET_ADD] =
		"INSERT INTO datasets (pipeline, name, source, created_at) "
		"VALUES (?1, ?2, coalesce(?3, '{}'), ?4)",
	/* the pipeline's own dataset first, then a shared one */
	[S_DATASET_FIND] =
		"SELECT id, count FROM datasets WHERE name = ?2 AND (pipeline = ?1 OR pipeline IS NULL) "
		"ORDER BY pipeline IS NULL LIMIT 1",
	[S_DATASET_COUNT] = "UPDATE datasets SET count = ?2 WHERE id = ?1",
	[S_DATASET_LIST] =
		"SELECT d.id, d.pipeline, d.name, d.source, d.count, d.created_at, p.name "
		"FROM datasets d LEFT JOIN pipelines p ON p.id = d.pipeline "
		"WHERE ?1 IS NULL OR d.pipeline = ?1 ORDER BY d.pipeline IS NOT NULL, d.pipeline, d.id",
	[S_RECORD_ADD] =
		"INSERT INTO records (dataset, idx, prompt, answer, response, text, meta, messages, "
		"record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_RECORD_GET] =
		"SELECT prompt, answer, response, text, meta, messages, record FROM records "
		"WHERE dataset = ?1 AND idx = ?2",
	[S_CHECKPOINT_ADD] =
		"INSERT INTO checkpoints (stage, step, sha256, optimizer, config, created_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (stage, step) DO UPDATE SET "
		"optimizer = coalesce(excluded.optimizer, optimizer)",
	[S_CHECKPOINT_LAST] =
		"SELECT step, sha256, optimizer, config FROM checkpoints WHERE stage = ?1 "
		"ORDER BY step DESC LIMIT 1",
	[S_CHECKPOINT_LAST_OPT] =
		"SELECT step, sha256, optimizer, config FROM checkpoints WHERE stage = ?1 "
		"AND optimizer IS NOT NULL AND step < ?2 ORDER BY step DESC LIMIT 1",
	/* never one a checkpoint names (the foreign key would refuse it anyway), nor one
	 * a job still to run or a dataset's source names (S_BLOB_REFERENCED) */
	[S_BLOB_DELETE] =
		"DELETE FROM blobs WHERE sha256 = ?1 AND NOT EXISTS "
		"(SELECT 1 FROM checkpoints WHERE sha256 = ?1 OR optimizer = ?1) AND NOT EXISTS "
		"(SELECT 1 FROM jobs WHERE state = 'queued' AND instr(params, ?1) > 0) AND NOT EXISTS "
		"(SELECT 1 FROM jobs WHERE state = 'leased' AND instr(params, ?1) > 0) AND NOT EXISTS "
		"(SELECT 1 FROM datasets WHERE instr(source, ?1) > 0) AND NOT EXISTS "
		"(SELECT 1 FROM pipelines WHERE instr(spec, ?1) > 0)",
	[S_BLOB_REFERENCED] =
		"SELECT EXISTS (SELECT 1 FROM checkpoints WHERE sha256 = ?1 OR optimizer = ?1) OR "
		"EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND instr(params, ?1) > 0) OR "
		"EXISTS (SELECT 1 FROM jobs WHERE state = 'leased' AND instr(params, ?1) > 0) OR "
		"EXISTS (SELECT 1 FROM datasets WHERE instr(source, ?1) > 0) OR "
		"EXISTS (SELECT 1 FROM pipelines WHERE instr(spec, ?1) > 0)", /* tokenizer files */
	[S_STEP_JOBS] =
		"SELECT " JOB_COLUMNS " FROM jobs WHERE stage = ?1 AND step = ?2 AND kind = ?3 "
		"ORDER BY shard",
	[S_JOBS_DELETE_AFTER] =
		"DELETE FROM jobs WHERE stage = ?1 AND step > ?2 AND (?3 IS NULL OR kind = ?3)",
	[S_METRIC_ADD] =
		"INSERT INTO metrics (stage, step, name, value, ts) VALUES (?1, ?2, ?3, ?4, ?5) "
		"ON CONFLICT (stage, step, name) DO UPDATE SET value = excluded.value, ts = excluded.ts",
	[S_METRIC_LAST] =
		"SELECT step, value FROM metrics WHERE stage = ?1 AND name = ?2 "
		"ORDER BY step DESC LIMIT 1",
	[S_METRIC_LIST] = "SELECT name, step, value FROM metrics WHERE stage = ?1 ORDER BY name, step",
	[S_SAMPLE_ADD] =
		"INSERT OR REPLACE INTO samples (stage, step, idx, record, text, tokens, rewards, "
		"advantage, finish, dataset, correct) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		"?10, ?11)",
	/* ?2 < 0: the latest step */
	[S_SAMPLE_LIST] =
		"SELECT step, idx, record, text, tokens, rewards, advantage, finish, dataset, "
		"correct FROM samples "
		"WHERE stage = ?1 AND step = CASE WHEN ?2 >= 0 THEN ?2 ELSE "
		"(SELECT max(step) FROM samples WHERE stage = ?1) END ORDER BY idx LIMIT ?3",
	[S_CHECKPOINT_AT] =
		"SELECT step, sha256, optimizer, config FROM checkpoints WHERE stage = ?1 AND step = ?2",
	[S_CHECKPOINT_LIST] =
		"SELECT step, sha256, optimizer FROM checkpoints WHERE stage = ?1 ORDER BY step",
	[S_CHECKPOINT_DELETE] = "DELETE FROM checkpoints WHERE stage = ?1 AND step = ?2",
	/* a pipeline not over that reads dataset ?1 (its own, of pipeline ?2; or the
	 * shared one, named by a stage and not defined by the pipeline's spec) */
	[S_DATASET_USER] =
		"SELECT p.id, p.name FROM pipelines p WHERE p.state IN ('queued', 'running', 'paused') "
		"AND (p.id = ?2 OR (?2 IS NULL AND json_type(p.spec, '$.datasets.' || ?1) IS NULL "
		"AND EXISTS (SELECT 1 FROM json_each(p.spec, '$.stages') st WHERE "
		"json_extract(st.value, '$.dataset') = ?1 OR json_extract(st.value, '$.prompts') = ?1 "
		"OR EXISTS (SELECT 1 FROM json_each(st.value, '$.inputs') i "
		"WHERE json_extract(i.value, '$.dataset') = ?1)))) ORDER BY p.id LIMIT 1",
	[S_DATASET_DELETE] = "DELETE FROM datasets WHERE id = ?1",
	[S_QUICK_CHECK] = "PRAGMA quick_check",
	[S_USER_VERSION] = "PRAGMA user_version",
};

static const char *const job_states[JOB_STATE_COUNT] = {
	[JOB_STATE_QUEUED] = "queued", [JOB_STATE_LEASED] = "leased", [JOB_STATE_DONE] = "done",
	[JOB_STATE_FAILED] = "failed", [JOB_STATE_CANCELLED] = "cancelled",
};

static const char *const worker_states[] = {
	[WORKER_STATE_READY] = "ready", [WORKER_STATE_DRAINING] = "draining",
	[WORKER_STATE_GONE] = "gone",
};


const char *store_job_state_name(enum job_state state)
{
	return (unsigned)state < JOB_STATE_COUNT ? job_states[state] : "?";
}

static enum job_state parse_state(const unsigned char *text)
{
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		if (text && strcmp((const char *)text, job_states[i]) == 0)
			return (enum job_state)i;
	return JOB_STATE_COUNT; /* the CHECK constraint makes this unreachable */
}

static enum err_code code_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM: return ERR_NOMEM;
	case SQLITE_CONSTRAINT: case SQLITE_MISMATCH: case SQLITE_RANGE: return ERR_INVALID;
	case SQLITE_CORRUPT: case SQLITE_NOTADB: return ERR_FORMAT;
	default: return ERR_IO;
	}
}

/* The errno err_transient() classifies a SQLite failure by: a full disk is
 * ENOSPC, another connection holding the lock EBUSY, no memory ENOMEM, an I/O
 * error the errno SQLite saw; 0 (permanent) for the rest (corruption, constraints,
 * misuse). SQLite
 * reports a write cut short by a file-size limit (EFBIG) as a plain I/O error and
 * does not always keep its errno (sqlite3_system_errno is 0), so `seen`, errno as
 * the failed call left it, stands in when it says the disk is full. */
static int errnum_of(sqlite3 *db, int rc, int seen)
{
	int sys;
	switch (rc & 0xff) {
	case SQLITE_FULL: return ENOSPC;
	case SQLITE_BUSY: case SQLITE_LOCKED: return EBUSY;
	case SQLITE_NOMEM: return ENOMEM;
	case SQLITE_IOERR:
		sys = sqlite3_system_errno(db);
		if (!sys && (seen == ENOSPC || seen == EFBIG || seen == EDQUOT))
			sys = seen;
		return sys;
	default: return 0;
	}
}

int store_db_fail(struct store *s, struct err *err, const char *fmt, ...)
{
	int seen = errno;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int rc = sqlite3_extended_errcode(s->db);
	err_set(err, code_of(rc), "%s: %s", what, sqlite3_errmsg(s->db));
	if (err)
		err->errnum = errnum_of(s->db, rc, seen);
	if (s->in_tx && sqlite3_get_autocommit(s->db)) /* SQLite rolled the turn back */
		s->lost_errnum = errnum_of(s->db, rc, seen);
	return -1;
}

/* A statement ready for binding. */
sqlite3_stmt *store_stmt(struct store *s, enum stmt id)
{
	sqlite3_stmt *st = s->st[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

void store_bind_id(sqlite3_stmt *st, int i, int64_t id)
{
	if (id > 0)
		sqlite3_bind_int64(st, i, id);
	else
		sqlite3_bind_null(st, i);
}

void store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

char *store_column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? strdup((const char *)t) : NULL;
}

/* Step a statement that returns no rows. */
int store_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int exec_simple(struct store *s, enum stmt id)
{
	int rc = store_run(store_stmt(s, id));
	sqlite3_reset(s->st[id]);
	return rc;
}

/*
 * Write scopes. Outside store_begin a write is its own BEGIN IMMEDIATE transaction;
 * inside, a multi-statement write is a savepoint so a failure undoes only itself,
 * and a single statement needs nothing (a statement is atomic).
 */
int store_tx_enter(struct store *s, int multi, struct err *err, const char *what)
{
	if (s->in_tx) {
		if (sqlite3_get_autocommit(s->db)) {
			err_set(err, ERR_IO, "cannot %s: an earlier error rolled the transaction back",
				what);
			if (err)
				err->errnum = s->lost_errnum; /* ENOSPC: still a full disk */
			return -1;
		}
		if (multi && exec_simple(s, S_SAVEPOINT) < 0)
			return store_db_fail(s, err, "cannot %s", what);
		return 0;
	}
	if (exec_simple(s, S_BEGIN) < 0)
		return store_db_fail(s, err, "cannot %s", what);
	return 0;
}

int store_tx_leave(struct store *s, int multi, int ok, struct err *err, const char *what)
{
	if (s->in_tx) {
		if (!multi || sqlite3_get_autocommit(s->db))
			return ok ? 0 : -1; /* nothing to undo, or SQLite aborted it all */
		if (!ok)
			exec_simple(s, S_ROLLBACK_TO);
		if (exec_simple(s, S_RELEASE) < 0 && ok)
			return store_db_fail(s, err, "cannot %s", what);
		return ok ? 0 : -1;
	}
	if (ok) {
		if (exec_simple(s, S_COMMIT) == 0)
			return 0;
		store_db_fail(s, err, "cannot %s", what);
	}
	if (!sqlite3_get_autocommit(s->db))
		exec_simple(s, S_ROLLBACK);
	return -1;
}

static int pragma(struct store *s, const char *text, const char *path, struct err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, text, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	err_set(err, ERR_IO, "cannot set up database '%s': %s: %s", path, text,
		msg ? msg : "unknown error");
	sqlite3_free(msg);
	return -1;
}

/* The single text value a statement yields, copied into out. */
static int query_text(struct store *s, const char *text, char *out, size_t size)
{
	sqlite3_stmt *st;
	int ok = -1;
	if (sqlite3_prepare_v2(s->db, text, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", t ? (const char *)t : "");
		ok = 0;
	}
	sqlite3_finalize(st);
	return ok;
}

static int user_version(struct store *s)
{
	char v[32];
	return query_text(s, "PRAGMA user_version", v, sizeof v) == 0 ? atoi(v) : -1;
}

/* Apply the embedded migrations past user_version, all in one transaction. */
static int migrate(struct store *s, const char *path, struct err *err)
{
	int latest = schema_migrations[schema_migration_count - 1].version;
	int have = user_version(s);
	if (have < 0)
		return store_db_fail(s, err, "cannot read schema version of '%s'", path);
	if (have > latest)
		return err_set(err, ERR_INVALID, "cannot open database '%s': schema version %d is "
			"newer than this build's %d", path, have, latest);
	if (have == latest)
		return 0;
	char *msg = NULL;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	have = user_version(s); /* another process may have migrated meanwhile */
	for (size_t i = 0; i < schema_migration_count; i++) {
		const struct schema_migration *m = &schema_migrations[i];
		if (m->version <= have)
			continue;
		char set[64];
		snprintf(set, sizeof set, "PRAGMA user_version = %d", m->version);
		if (sqlite3_exec(s->db, m->sql, NULL, NULL, &msg) != SQLITE_OK ||
			sqlite3_exec(s->db, set, NULL, NULL, &msg) != SQLITE_OK) {
			err_set(err, ERR_IO, "cannot apply migration '%s' to '%s': %s", m->name, path,
				msg ? msg : "unknown error");
			sqlite3_free(msg);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK)
		return 0;
fail:
	err_set(err, ERR_IO, "cannot migrate database '%s': %s", path,
		msg ? msg : "unknown error");
	sqlite3_free(msg);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

struct store *store_open(const char *path, struct err *err)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		err_set(err, ERR_NOMEM, "cannot open database '%s': out of memory", path);
		return NULL;
	}
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		err_set(err, code_of(rc), "cannot open database '%s': %s", path,
			s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);

	char mode[32];
	if (query_text(s, "PRAGMA journal_mode = WAL", mode, sizeof mode) < 0) {
		store_db_fail(s, err, "cannot open database '%s'", path);
		goto fail;
	}
	/* an in-memory database has no WAL and needs none; a file must get it */
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
		err_set(err, ERR_IO, "cannot open database '%s': WAL mode refused (journal mode "
			"is '%s'; is it on a network filesystem?)", path, mode);
		goto fail;
	}
	if (pragma(s, "PRAGMA synchronous = FULL", path, err) < 0 ||
		pragma(s, "PRAGMA foreign_keys = ON", path, err) < 0)
		goto fail;
	char fk[8];
	if (query_text(s, "PRAGMA foreign_keys", fk, sizeof fk) < 0 || strcmp(fk, "1") != 0) {
		err_set(err, ERR_INVALID, "cannot open database '%s': this SQLite has no foreign "
			"key support", path);
		goto fail;
	}
	if (migrate(s, path, err) < 0)
		goto fail;
	for (int i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
			NULL) != SQLITE_OK) {
			store_db_fail(s, err, "cannot prepare statement %d of '%s'", i, path);
			goto fail;
		}
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->db && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

int store_schema_version(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, S_USER_VERSION);
	int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	return v;
}

int store_begin(struct store *s, struct err *err)
{
	assert(!s->in_tx && "store_begin inside store_begin");
	if (exec_simple(s, S_BEGIN) < 0)
		return store_db_fail(s, err, "cannot begin transaction");
	s->in_tx = 1;
	s->lost_errnum = 0;
	return 0;
}

int store_commit(struct store *s, struct err *err)
{
	assert(s->in_tx && "store_commit without store_begin");
	s->in_tx = 0;
	if (sqlite3_get_autocommit(s->db)) {
		err_set(err, ERR_IO, "cannot commit transaction: an earlier error rolled it back%s",
			s->lost_errnum == ENOSPC ? " (database or disk is full)" : "");
		if (err) /* a full disk stays a full disk: the loop waits instead of exiting */
			err->errnum = s->lost_errnum;
		return -1;
	}
	if (exec_simple(s, S_COMMIT) == 0)
		return 0;
	store_db_fail(s, err, "cannot commit transaction");
	if (!sqlite3_get_autocommit(s->db))
		exec_simple(s, S_ROLLBACK);
	return -1;
}

void store_rollback(struct store *s)
{
	assert(s->in_tx && "store_rollback without store_begin");
	s->in_tx = 0;
	if (!sqlite3_get_autocommit(s->db))
		exec_simple(s, S_ROLLBACK);
}

int store_in_transaction(const struct store *s)
{
	return s->in_tx;
}

/* [a-z0-9_]+, at most 64 bytes: what job kinds look like (and what claim relies on). */
static int kind_ok(const char *kind)
{
	size_t n = 0;
	if (!kind)
		return 0;
	for (; kind[n]; n++)
		if (!((kind[n] >= 'a' && kind[n] <= 'z') || (kind[n] >= '0' && kind[n] <= '9') ||
			kind[n] == '_'))
			return 0;
	return n > 0 && n <= 64;
}

int store_job_enqueue(struct store *s, const struct store_job_new *jobs, size_t n,
	int64_t now_ms, int64_t *ids, struct err *err)
{
	const char *what = "enqueue jobs";
	for (size_t i = 0; i < n; i++) {
		if (!kind_ok(jobs[i].kind))
			return err_set(err, ERR_INVALID, "cannot enqueue job %zu of %zu: kind '%s' is "
				"not a lowercase identifier", i + 1, n, jobs[i].kind ? jobs[i].kind : "");
		if (jobs[i].max_attempts < 0)
			return err_set(err, ERR_INVALID, "cannot enqueue job %zu of %zu: max_attempts "
				"is negative", i + 1, n);
	}
	if (n == 0)
		return 0;
	if (store_tx_enter(s, 1, err, what) < 0)
		return -1;
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		const struct store_job_new *j = &jobs[i];
		sqlite3_stmt *st = store_stmt(s, S_JOB_INSERT);
		store_bind_id(st, 1, j->stage);
		store_bind_text(st, 2, j->kind);
		sqlite3_bind_int64(st, 3, j->step);
		sqlite3_bind_int64(st, 4, j->shard);
		sqlite3_bind_int(st, 5, j->max_attempts ? j->max_attempts : STORE_MAX_ATTEMPTS);
		store_bind_text(st, 6, j->params);
		sqlite3_bind_int64(st, 7, now_ms);
		if (store_run(st) < 0) {
			store_db_fail(s, err, "cannot enqueue job %zu of %zu (kind '%s', step %lld, shard "
				"%lld)", i + 1, n, j->kind, (long long)j->step, (long long)j->shard);
			ok = 0;
		} else if (ids) {
			ids[i] = sqlite3_last_insert_rowid(s->db);
		}
		sqlite3_reset(st);
	}
	return store_tx_leave(s, 1, ok, err, what);
}

/* Fill *job from a row of JOB_COLUMNS. */
static int read_job(sqlite3_stmt *st, struct store_job *job, struct err *err)
{
	memset(job, 0, sizeof *job);
	job->id = sqlite3_column_int64(st, 0);
	job->stage = sqlite3_column_int64(st, 1);
	job->kind = store_column_dup(st, 2);
	job->step = sqlite3_column_int64(st, 3);
	job->shard = sqlite3_column_int64(st, 4);
	job->state = parse_state(sqlite3_column_text(st, 5));
	job->attempt = sqlite3_column_int64(st, 6);
	job->max_attempts = sqlite3_column_int64(st, 7);
	job->epoch = sqlite3_column_int64(st, 8);
	job->worker = sqlite3_column_int64(st, 9);
	job->lease_deadline = sqlite3_column_int64(st, 10);
	job->params = store_column_dup(st, 11);
	job->result = store_column_dup(st, 12);
	job->error = store_column_dup(st, 13);
	if (!job->kind || !job->params || (!job->result && sqlite3_column_type(st, 12) !=
		SQLITE_NULL) || (!job->error && sqlite3_column_type(st, 13) != SQLITE_NULL)) {
		store_job_release(job);
		return err_set(err, ERR_NOMEM, "cannot read job: out of memory");
	}
	return 0;
}

void store_job_release(struct store_job *job)
{
	free(job->kind);
	free(job->params);
	free(job->result);
	free(job->error);
	memset(job, 0, sizeof *job);
}

/* store_job_claim_many; the single claims are the batch of one. */
static int claim(struct store *s, int first_only, int64_t worker, const char *kinds,
	int64_t now_ms, int64_t deadline_ms, struct store_job *jobs, size_t max,
	struct err *err)
{
	const char *what = "claim a job";
	size_t n = 0;
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	/* read first, then lease: a failure between the two leaves nothing to undo */
	sqlite3_stmt *st = store_stmt(s, S_JOB_NEXT);
	store_bind_text(st, 1, kinds);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	int ok = 1, rc = SQLITE_DONE;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* a job that came back runs alone on empty hands: take it only as the first
		 * of a full claim, and stop there */
		if (sqlite3_column_int64(st, 6) > 0 && (first_only || n > 0))
			break;
		if (read_job(st, &jobs[n], err) < 0) {
			ok = 0;
			break;
		}
		if (jobs[n++].attempt > 0)
			break;
	}
	if (ok && n < max && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_db_fail(s, err, "cannot claim a job for worker %lld", (long long)worker);
		ok = 0;
	}
	sqlite3_reset(st);
	for (size_t i = 0; ok && i < n; i++) {
		st = store_stmt(s, S_JOB_LEASE);
		sqlite3_bind_int64(st, 1, jobs[i].id);
		sqlite3_bind_int64(st, 2, worker);
		sqlite3_bind_int64(st, 3, deadline_ms);
		sqlite3_bind_int64(st, 4, now_ms);
		if (store_run(st) < 0 || sqlite3_changes(s->db) != 1) {
			store_db_fail(s, err, "cannot lease job %lld to worker %lld", (long long)jobs[i].id,
				(long long)worker);
			ok = 0;
		}
		sqlite3_reset(st);
	}
	if (store_tx_leave(s, 0, ok, err, what) < 0) {
		for (size_t i = 0; i < n; i++)
			store_job_release(&jobs[i]);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].state = JOB_STATE_LEASED;
		jobs[i].epoch++;
		jobs[i].attempt++;
		jobs[i].worker = worker;
		jobs[i].lease_deadline = deadline_ms;
	}
	return (int)n;
}

int store_job_claim(struct store *s, int64_t worker, const char *kinds, int64_t now_ms,
	int64_t deadline_ms, struct store_job *job, struct err *err)
{
	return claim(s, 0, worker, kinds, now_ms, deadline_ms, job, 1, err);
}

int store_job_claim_first_lease(struct store *s, int64_t worker, const char *kinds,
	int64_t now_ms, int64_t deadline_ms, struct store_job *job, struct err *err)
{
	return claim(s, 1, worker, kinds, now_ms, deadline_ms, job, 1, err);
}

int store_job_claim_many(struct store *s, int64_t worker, const char *kinds, int first_only,
	int64_t now_ms, int64_t deadline_ms, struct store_job *jobs, size_t max, struct err *err)
{
	return max ? claim(s, first_only, worker, kinds, now_ms, deadline_ms, jobs, max, err) : 0;
}

int store_job_commit(struct store *s, int64_t job, int64_t epoch, const char *result,
	int64_t now_ms, struct err *err)
{
	const char *what = "commit a result";
	if (!result)
		return err_set(err, ERR_INVALID, "cannot commit result of job %lld: no result",
			(long long)job);
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_COMMIT);
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_int64(st, 2, epoch);
	store_bind_text(st, 3, result);
	sqlite3_bind_int64(st, 4, now_ms);
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot commit result of job %lld (epoch %lld)", (long long)job,
			(long long)epoch);
	int changed = ok ? sqlite3_changes(s->db) : 0;
	sqlite3_reset(st);
	if (store_tx_leave(s, 0, ok, err, what) < 0)
		return -1;
	return changed > 0;
}

int store_job_fail(struct store *s, int64_t job, int64_t epoch, const char *error,
	int retryable, int64_t now_ms, enum job_state *state, struct err *err)
{
	const char *what = "record a failure";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_FAIL);
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int(st, 3, retryable != 0);
	store_bind_text(st, 4, error ? error : "failed");
	sqlite3_bind_int64(st, 5, now_ms);
	int applied = 0, ok = 1, rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		applied = 1;
		if (state)
			*state = parse_state(sqlite3_column_text(st, 0));
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		store_db_fail(s, err, "cannot record failure of job %lld (epoch %lld)", (long long)job,
			(long long)epoch);
		ok = 0;
	}
	sqlite3_reset(st);
	if (store_tx_leave(s, 0, ok, err, what) < 0)
		return -1;
	return applied;
}

int store_job_refund(struct store *s, int64_t job, int64_t epoch, const char *error,
	struct err *err)
{
	const char *what = "give back a lease";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_REFUND);
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_int64(st, 2, epoch);
	store_bind_text(st, 3, error ? error : "lease given back");
	int ok = sqlite3_step(st) == SQLITE_DONE;
	if (!ok)
		store_db_fail(s, err, "cannot give back lease of job %lld (epoch %lld)", (long long)job,
			(long long)epoch);
	int changed = ok ? sqlite3_changes(s->db) : 0;
	sqlite3_reset(st);
	if (store_tx_leave(s, 0, ok, err, what) < 0)
		return -1;
	return changed > 0;
}

static int requeue(struct store *s, sqlite3_stmt *st, struct store_requeue *out,
	struct err *err, const char *what)
{
	struct store_requeue r = { 0, 0 };
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (parse_state(sqlite3_column_text(st, 0)) == JOB_STATE_QUEUED)
			r.queued++;
		else
			r.failed++;
	}
	int ok = rc == SQLITE_DONE;
	if (!ok)
		store_db_fail(s, err, "cannot %s", what);
	sqlite3_reset(st);
	if (store_tx_leave(s, 0, ok, err, what) < 0)
		return -1;
	if (out)
		*out = r;
	return 0;
}

int store_job_requeue_worker(struct store *s, int64_t worker, const char *reason,
	int64_t now_ms, struct store_requeue *out, struct err *err)
{
	const char *what = "requeue the jobs of a worker";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_REQUEUE_WORKER);
	sqlite3_bind_int64(st, 1, worker);
	store_bind_text(st, 2, reason ? reason : "worker lost");
	sqlite3_bind_int64(st, 3, now_ms);
	return requeue(s, st, out, err, what);
}

int store_job_requeue_expired(struct store *s, int64_t now_ms, const char *reason,
	struct store_requeue *out, struct err *err)
{
	const char *what = "requeue expired leases";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_REQUEUE_EXPIRED);
	sqlite3_bind_int64(st, 1, now_ms);
	store_bind_text(st, 2, reason ? reason : "lease expired");
	return requeue(s, st, out, err, what);
}

/* Step a single-statement write opened with store_tx_enter(s, 0, ...) and close its scope;
 * returns the rows changed. */
static int write_one(struct store *s, sqlite3_stmt *st, struct err *err, const char *what)
{
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s", what);
	int changed = ok ? sqlite3_changes(s->db) : 0;
	sqlite3_reset(st);
	if (store_tx_leave(s, 0, ok, err, what) < 0)
		return -1;
	return changed;
}

int store_job_extend(struct store *s, int64_t worker, int64_t deadline_ms, struct err *err)
{
	const char *what = "extend leases";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_EXTEND);
	sqlite3_bind_int64(st, 1, worker);
	sqlite3_bind_int64(st, 2, deadline_ms);
	return write_one(s, st, err, what);
}

int store_job_cancel(struct store *s, int64_t job, int64_t now_ms, int64_t *worker,
	struct err *err)
{
	const char *what = "cancel a job";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOB_CANCEL);
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_int64(st, 2, now_ms);
	int64_t holder = 0;
	int cancelled = 0, ok = 1, rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cancelled = 1;
		holder = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		store_db_fail(s, err, "cannot cancel job %lld", (long long)job);
		ok = 0;
	}
	sqlite3_reset(st);
	if (store_tx_leave(s, 0, ok, err, what) < 0)
		return -1;
	if (worker)
		*worker = holder;
	return cancelled;
}

int store_job_get(struct store *s, int64_t id, struct store_job *job, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_JOB_GET);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st), found = 0;
	if (rc == SQLITE_ROW)
		found = read_job(st, job, err) < 0 ? -1 : 1;
	else if (rc != SQLITE_DONE)
		found = store_db_fail(s, err, "cannot read job %lld", (long long)id);
	sqlite3_reset(st);
	return found;
}

int store_job_counts(struct store *s, int64_t stage, int64_t counts[JOB_STATE_COUNT],
	struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, stage == STORE_ALL_STAGES ? S_JOB_COUNTS_ALL : S_JOB_COUNTS_STAGE);
	if (stage != STORE_ALL_STAGES)
		sqlite3_bind_int64(st, 1, stage);
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		counts[i] = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum job_state state = parse_state(sqlite3_column_text(st, 0));
		if (state < JOB_STATE_COUNT)
			counts[state] = sqlite3_column_int64(st, 1);
	}
	int result = rc == SQLITE_DONE ? 0 : store_db_fail(s, err, "cannot count jobs");
	sqlite3_reset(st);
	return result;
}

int store_job_counts_by_kind(struct store *s, json_t **out, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_JOB_COUNTS_KIND);
	json_t *o = json_object();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		enum job_state state = parse_state(sqlite3_column_text(st, 1));
		if (!kind || state >= JOB_STATE_COUNT)
			continue;
		json_t *k = json_object_get(o, kind);
		if (!k) {
			k = json_object();
			for (int i = 0; i < JOB_STATE_COUNT; i++)
				json_object_set_new(k, job_states[i], json_integer(0));
			json_object_set_new(o, kind, k);
		}
		json_object_set_new(k, job_states[state], json_integer(sqlite3_column_int64(st, 2)));
	}
	int result = rc == SQLITE_DONE ? 0 : store_db_fail(s, err, "cannot count jobs by kind");
	sqlite3_reset(st);
	if (result < 0)
		json_decref(o);
	else
		*out = o;
	return result;
}

int store_worker_upsert(struct store *s, const struct store_worker *w, int64_t now_ms,
	int64_t *id, struct err *err)
{
	const char *what = "register a worker";
	if (!w->name || !*w->name)
		return err_set(err, ERR_INVALID, "cannot register worker: no name");
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_WORKER_UPSERT);
	store_bind_text(st, 1, w->name);
	store_bind_text(st, 2, w->host);
	sqlite3_bind_int64(st, 3, w->pid);
	sqlite3_bind_int64(st, 4, w->threads);
	sqlite3_bind_int64(st, 5, w->memory);
	store_bind_text(st, 6, w->kinds);
	store_bind_text(st, 7, w->build);
	sqlite3_bind_int64(st, 8, now_ms);
	int ok = 1, rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (id)
			*id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		store_db_fail(s, err, "cannot register worker '%s'", w->name);
		ok = 0;
	}
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}

int store_worker_seen(struct store *s, int64_t id, int64_t now_ms, struct err *err)
{
	const char *what = "update a worker";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_WORKER_SEEN);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms);
	return write_one(s, st, err, what) < 0 ? -1 : 0;
}

int store_worker_set_state(struct store *s, int64_t id, enum worker_state state,
	struct err *err)
{
	const char *what = "update a worker";
	if ((unsigned)state > WORKER_STATE_GONE)
		return err_set(err, ERR_INVALID, "cannot update worker %lld: bad state %d",
			(long long)id, (int)state);
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_WORKER_STATE);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, worker_states[state]);
	return write_one(s, st, err, what) < 0 ? -1 : 0;
}

int store_blob_delete(struct store *s, const char *sha256, struct err *err)
{
	const char *what = "forget blob";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_BLOB_DELETE);
	store_bind_text(st, 1, sha256);
	int ok = store_run(st) == 0, n = ok ? sqlite3_changes(s->db) : 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s %s", what, sha256);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what) < 0 ? -1 : n;
}

int store_blob_put(struct store *s, const char *sha256, int64_t size, const char *path,
	int64_t now_ms, struct err *err)
{
	const char *what = "index a blob";
	if (!sha256 || !path)
		return err_set(err, ERR_INVALID, "cannot index blob: no sha256 or path");
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_BLOB_PUT);
	store_bind_text(st, 1, sha256);
	sqlite3_bind_int64(st, 2, size);
	store_bind_text(st, 3, path);
	sqlite3_bind_int64(st, 4, now_ms);
	int inserted = write_one(s, st, err, what);
	if (inserted != 0)
		return inserted < 0 ? -1 : 1;
	int64_t known = 0;
	char *known_path = NULL;
	int found = store_blob_get(s, sha256, &known, &known_path, err);
	free(known_path);
	if (found < 0)
		return -1;
	if (found && known != size)
		return err_set(err, ERR_FORMAT, "cannot index blob '%s': already indexed with %lld "
			"bytes, now %lld", sha256, (long long)known, (long long)size);
	return 0;
}

int store_blob_get(struct store *s, const char *sha256, int64_t *size, char **path,
	struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_BLOB_GET);
	store_bind_text(st, 1, sha256);
	int rc = sqlite3_step(st), found = 0;
	if (rc == SQLITE_ROW) {
		*size = sqlite3_column_int64(st, 0);
		*path = store_column_dup(st, 1);
		found = *path ? 1 : err_set(err, ERR_NOMEM, "cannot read blob '%s': out of memory",
			sha256);
	} else if (rc != SQLITE_DONE) {
		found = store_db_fail(s, err, "cannot look up blob '%s'", sha256);
	}
	sqlite3_reset(st);
	return found;
}

int store_event_add(struct store *s, int64_t pipeline, int64_t stage, const char *type,
	const char *data, int64_t now_ms, int64_t *id, struct err *err)
{
	const char *what = "append an event";
	if (!type || !*type)
		return err_set(err, ERR_INVALID, "cannot append event: no type");
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_EVENT_ADD);
	sqlite3_bind_int64(st, 1, now_ms);
	store_bind_id(st, 2, pipeline);
	store_bind_id(st, 3, stage);
	store_bind_text(st, 4, type);
	store_bind_text(st, 5, data);
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot append event '%s'", type);
	else if (id)
		*id = sqlite3_last_insert_rowid(s->db);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}

int store_counter_add(struct store *s, const char *name, int64_t delta, struct err *err)
{
	const char *what = "update a counter";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_COUNTER_ADD);
	store_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, delta);
	return write_one(s, st, err, what) < 0 ? -1 : 0;
}

int store_counter_get(struct store *s, const char *name, int64_t *value, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_COUNTER_GET);
	store_bind_text(st, 1, name);
	int rc = sqlite3_step(st), result = 0;
	*value = 0;
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot read counter '%s'", name);
	sqlite3_reset(st);
	return result;
}

/* An INSERT in its own write scope; *id (may be NULL) receives the new rowid. */
int store_insert(struct store *s, sqlite3_stmt *st, int64_t *id, struct err *err,
	const char *what)
{
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s", what);
	else if (id)
		*id = sqlite3_last_insert_rowid(s->db);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}

int store_quick_check(struct store *s, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_QUICK_CHECK);
	int rc = sqlite3_step(st), result = 0;
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (!t || strcmp((const char *)t, "ok") != 0)
			result = err_set(err, ERR_FORMAT, "database failed quick_check: %s",
				t ? (const char *)t : "no answer");
	} else {
		result = store_db_fail(s, err, "cannot run quick_check");
	}
	sqlite3_reset(st);
	return result;
}

void store_jobs_free(struct store_job *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++)
		store_job_release(&jobs[i]);
	free(jobs);
}

int store_read_rows(struct store *s, sqlite3_stmt *st, size_t size,
	int (*read)(sqlite3_stmt *st, void *element, struct err *err),
	void (*release)(void *element), void **out, size_t *n, const char *what,
	struct err *err)
{
	char *all = NULL;
	size_t k = 0, cap = 0;
	int rc = SQLITE_DONE, result = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			char *g = realloc(all, (cap = cap ? 2 * cap : 16) * size);
			if (!g) {
				result = err_set(err, ERR_NOMEM, "cannot %s: out of memory", what);
				break;
			}
			all = g;
		}
		if (read(st, all + k * size, err) < 0) {
			result = -1;
			break;
		}
		k++;
	}
	if (result == 0 && rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot %s", what);
	sqlite3_reset(st);
	if (result < 0) {
		for (size_t i = 0; release && i < k; i++)
			release(all + i * size);
		free(all);
		return -1;
	}
	*out = all;
	*n = k;
	return 0;
}

static int read_job_row(sqlite3_stmt *st, void *job, struct err *err)
{
	return read_job(st, job, err);
}

static void release_job_row(void *job)
{
	store_job_release(job);
}

int store_step_jobs(struct store *s, int64_t stage, int64_t step, const char *kind,
	struct store_job **jobs, size_t *n, struct err *err)
{
	char what[160];
	sqlite3_stmt *st = store_stmt(s, S_STEP_JOBS);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	store_bind_text(st, 3, kind);
	snprintf(what, sizeof what, "read the %s jobs of stage %lld step %lld", kind,
		(long long)stage, (long long)step);
	void *rows = NULL;
	int rc = store_read_rows(s, st, sizeof **jobs, read_job_row, release_job_row,
		&rows, n, what, err);
	if (rc == 0)
		*jobs = rows;
	return rc;
}

int store_jobs_delete_after(struct store *s, int64_t stage, int64_t step, const char *kind,
	struct err *err)
{
	const char *what = "delete the later jobs of stage";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_JOBS_DELETE_AFTER);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	if (kind)
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s %lld", what, (long long)stage);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}
