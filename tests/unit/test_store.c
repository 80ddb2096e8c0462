#include <sqlite3.h>
#include <stdint.h>

#include "schema.h"
#include "store.h"
#include "test.h"
#include "testdir.h"

/* ---- helpers ---- */

static struct store *open_ok(const char *path)
{
	struct err e = { 0 };
	struct store *s = store_open(path, &e);
	CHECK_MSG(s, "%s", e.msg);
	return s;
}

static void enqueue(struct store *s, int n, const char *kind, int max_attempts, int64_t *ids)
{
	struct store_job_new *jobs = calloc((size_t)n, sizeof *jobs);
	for (int i = 0; i < n; i++)
		jobs[i] = (struct store_job_new){ .kind = kind, .shard = i,
			.max_attempts = max_attempts, .params = "{\"i\":1}" };
	struct err e;
	CHECK_MSG(store_job_enqueue(s, jobs, (size_t)n, 1000, ids, &e) == 0, "%s", e.msg);
	free(jobs);
}

/* Claim for `worker` and return the lease; the job must exist. */
static struct store_job claim(struct store *s, int64_t worker, const char *kinds, int64_t now)
{
	struct store_job j;
	struct err e;
	int rc = store_job_claim(s, worker, kinds, now, now + 3000, &j, &e);
	CHECK_MSG(rc == 1, "claim returned %d: %s", rc, e.msg);
	return j;
}

static int64_t count(struct store *s, enum job_state state)
{
	int64_t c[JOB_STATE_COUNT];
	struct err e;
	CHECK(store_job_counts(s, STORE_ALL_STAGES, c, &e) == 0);
	return c[state];
}

static enum job_state state_of(struct store *s, int64_t id)
{
	struct store_job j;
	struct err e;
	CHECK(store_job_get(s, id, &j, &e) == 1);
	enum job_state st = j.state;
	store_job_release(&j);
	return st;
}

static int64_t worker(struct store *s, const char *name)
{
	struct err e;
	int64_t id = 0;
	CHECK(store_worker_upsert(s, &(struct store_worker){ .name = name,
		.kinds = "[\"probe\"]" }, 500, &id, &e) == 0);
	return id;
}

/* ---- tests ---- */

static void test_store__migrations_apply_on_a_fresh_database(void)
{
	struct store *s = open_ok(":memory:");
	CHECK(schema_migration_count >= 1 && schema_migrations[0].version == 1);
	CHECK(store_schema_version(s) == schema_migrations[schema_migration_count - 1].version);
	struct err e;
	CHECK_MSG(store_quick_check(s, &e) == 0, "%s", e.msg);
	CHECK(count(s, JOB_STATE_QUEUED) == 0);
	store_close(s);
	store_close(NULL);
}

static void test_store__reopen_is_idempotent_and_keeps_everything(void)
{
	char path[1100];
	snprintf(path, sizeof path, "%s/r1flow.db", testdir_new("store"));
	struct store *s = open_ok(path);
	int version = store_schema_version(s);
	int64_t ids[3], w = worker(s, "w1");
	enqueue(s, 3, "probe", 0, ids);
	struct store_job j = claim(s, w, NULL, 2000);
	struct err e;
	CHECK(store_job_commit(s, j.id, j.epoch, "{\"echo\":\"x\"}", 2100, &e) == 1);
	store_job_release(&j);
	CHECK(store_blob_put(s, "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff", 12,
		"blobs/00ff", 2200, &e) == 1);
	CHECK(store_counter_add(s, "results_stale", 2, &e) == 0);
	store_close(s);

	for (int round = 0; round < 2; round++) {
		s = open_ok(path);
		CHECK(store_schema_version(s) == version);
		CHECK(count(s, JOB_STATE_DONE) == 1 && count(s, JOB_STATE_QUEUED) == 2);
		CHECK(store_job_get(s, ids[0], &j, &e) == 1);
		CHECK(j.state == JOB_STATE_DONE && strcmp(j.result, "{\"echo\":\"x\"}") == 0);
		CHECK(j.worker == w && j.epoch == 1 && j.lease_deadline == 0);
		store_job_release(&j);
		int64_t size = 0, v = 0;
		char *p = NULL;
		CHECK(store_blob_get(s, "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff",
			&size, &p, &e) == 1);
		CHECK(size == 12 && strcmp(p, "blobs/00ff") == 0);
		free(p);
		CHECK(store_counter_get(s, "results_stale", &v, &e) == 0 && v == 2);
		CHECK(store_quick_check(s, &e) == 0);
		CHECK(worker(s, "w1") == w); /* same name, same row */
		store_close(s);
	}

	/* the file is in WAL mode, for any connection */
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	testdir_done();
}

static void test_store__newer_schema_is_refused(void)
{
	char path[1100];
	snprintf(path, sizeof path, "%s/r1flow.db", testdir_new("store"));
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	struct err e;
	CHECK(store_open(path, &e) == NULL);
	CHECK_MSG(strstr(e.msg, "schema version 999 is newer than this build's"), "%s", e.msg);
	CHECK(strstr(e.msg, path));
	testdir_done();
}

static void test_store__open_failure_names_the_file(void)
{
	struct err e;
	CHECK(store_open("/nonexistent-dir/r1flow.db", &e) == NULL);
	CHECK_MSG(strstr(e.msg, "cannot open database '/nonexistent-dir/r1flow.db': "), "%s", e.msg);
}

/* Another connection holding the write lock is worth waiting for: the error says
 * so (err_transient), so the scheduler tries again instead of failing a stage. */
static void test_store__a_busy_database_is_transient(void)
{
	char path[1100];
	snprintf(path, sizeof path, "%s/r1flow.db", testdir_new("store"));
	struct store *s = open_ok(path);
	sqlite3 *other;
	CHECK(sqlite3_open(path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	struct err e = { 0 };
	CHECK(store_begin(s, &e) < 0); /* after STORE_BUSY_TIMEOUT_MS */
	CHECK_MSG(err_transient(&e) && !err_nospace(&e) && strstr(e.msg, "locked"), "%s (errno %d)",
		e.msg, e.errnum);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	CHECK_MSG(store_begin(s, &e) == 0, "%s", e.msg);
	store_rollback(s);
	store_close(s);
	testdir_done();
}

static void test_store__foreign_keys_are_enforced(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	struct store_job_new j = { .stage = 999, .kind = "probe" };
	CHECK(store_job_enqueue(s, &j, 1, 1000, NULL, &e) == -1);
	CHECK_MSG(strstr(e.msg, "FOREIGN KEY"), "%s", e.msg);
	CHECK(e.code == ERR_INVALID);
	store_close(s);
}

static void test_store__claim_leases_oldest_job_of_a_known_kind(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t a[2], b[2], w = worker(s, "w1");
	enqueue(s, 2, "alpha", 0, a);
	enqueue(s, 2, "beta", 0, b);
	CHECK(a[1] == a[0] + 1 && b[0] > a[1]);

	struct store_job j = claim(s, w, "[\"beta\"]", 2000);
	CHECK(j.id == b[0] && strcmp(j.kind, "beta") == 0);
	CHECK(j.state == JOB_STATE_LEASED && j.epoch == 1 && j.attempt == 1);
	CHECK(j.worker == w && j.lease_deadline == 5000 && strcmp(j.params, "{\"i\":1}") == 0);
	CHECK(j.result == NULL && j.error == NULL && j.max_attempts == STORE_MAX_ATTEMPTS);
	store_job_release(&j);
	j = claim(s, w, NULL, 2000); /* any kind: the oldest */
	CHECK(j.id == a[0]);
	store_job_release(&j);
	j = claim(s, w, "[\"alpha\",\"gamma\"]", 2000);
	CHECK(j.id == a[1]);
	store_job_release(&j);
	CHECK(store_job_claim(s, w, "[\"alpha\"]", 2000, 5000, &j, &e) == 0);
	/* kinds match whole names only */
	CHECK(store_job_claim(s, w, "[\"bet\",\"betax\",\"xbeta\"]", 2000, 5000, &j, &e) == 0);
	CHECK(store_job_enqueue(s, &(struct store_job_new){ .kind = "Beta" }, 1, 1, NULL, &e) == -1);
	CHECK(store_job_enqueue(s, &(struct store_job_new){ .kind = "a\"b" }, 1, 1, NULL, &e) == -1);
	CHECK(store_job_claim(s, w, "[]", 2000, 5000, &j, &e) == 0);
	CHECK(count(s, JOB_STATE_LEASED) == 3 && count(s, JOB_STATE_QUEUED) == 1);
	store_close(s);
}

static void test_store__result_commits_exactly_once(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t id, w = worker(s, "w1");
	enqueue(s, 1, "probe", 0, &id);
	struct store_job j = claim(s, w, NULL, 2000);
	CHECK(store_job_commit(s, j.id, j.epoch, "{\"n\":1}", 2500, &e) == 1);
	CHECK(store_job_commit(s, j.id, j.epoch, "{\"n\":2}", 2600, &e) == 0);
	CHECK(store_job_fail(s, j.id, j.epoch, "late", 1, 2700, NULL, &e) == 0);
	store_job_release(&j);
	CHECK(store_job_get(s, id, &j, &e) == 1);
	CHECK(j.state == JOB_STATE_DONE && strcmp(j.result, "{\"n\":1}") == 0 && j.error == NULL);
	store_job_release(&j);
	CHECK(store_job_commit(s, 12345, 1, "{}", 2800, &e) == 0); /* no such job: stale */
	CHECK(store_job_commit(s, id, 1, "not json", 2800, &e) <= 0);
	store_close(s);
}

static void test_store__stale_epoch_is_dropped(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t id, w1 = worker(s, "w1"), w2 = worker(s, "w2");
	enqueue(s, 1, "probe", 0, &id);
	struct store_job first = claim(s, w1, NULL, 2000);
	struct store_requeue r;
	CHECK(store_job_requeue_worker(s, w1, "worker 'w1' died", 3000, &r, &e) == 0);
	CHECK(r.queued == 1 && r.failed == 0);
	/* queued again: the old lease's answer is stale even before anyone re-claims */
	CHECK(store_job_commit(s, id, first.epoch, "{}", 3100, &e) == 0);
	struct store_job second = claim(s, w2, NULL, 3200);
	CHECK(second.id == id && second.epoch == first.epoch + 1 && second.attempt == 2);
	CHECK(strstr(second.error, "worker 'w1' died (attempt 1 of 3)"));
	CHECK(store_job_commit(s, id, first.epoch, "{\"from\":1}", 3300, &e) == 0);
	CHECK(store_job_fail(s, id, first.epoch, "x", 1, 3300, NULL, &e) == 0);
	CHECK(state_of(s, id) == JOB_STATE_LEASED);
	CHECK(store_job_commit(s, id, second.epoch, "{\"from\":2}", 3400, &e) == 1);
	struct store_job j;
	CHECK(store_job_get(s, id, &j, &e) == 1);
	CHECK(strcmp(j.result, "{\"from\":2}") == 0 && j.worker == w2);
	store_job_release(&j);
	store_job_release(&first);
	store_job_release(&second);
	store_close(s);
}

static void test_store__failures_retry_until_attempts_run_out(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t id, other, w = worker(s, "w1");
	enqueue(s, 1, "probe", 3, &id);
	enum job_state st;
	for (int attempt = 1; attempt <= 3; attempt++) {
		struct store_job j = claim(s, w, NULL, 2000);
		CHECK(j.id == id && j.attempt == attempt && j.epoch == attempt);
		CHECK(store_job_fail(s, id, j.epoch, "boom", 1, 2100, &st, &e) == 1);
		CHECK(st == (attempt < 3 ? JOB_STATE_QUEUED : JOB_STATE_FAILED));
		store_job_release(&j);
	}
	struct store_job j;
	CHECK(store_job_get(s, id, &j, &e) == 1);
	CHECK(j.state == JOB_STATE_FAILED && strcmp(j.error, "boom (attempt 3 of 3)") == 0);
	CHECK(j.worker == w && j.lease_deadline == 0);
	store_job_release(&j);
	CHECK(store_job_claim(s, w, NULL, 2000, 3000, &j, &e) == 0);

	/* a non-retryable failure ends the job on its first attempt */
	enqueue(s, 1, "other", 0, &other);
	j = claim(s, w, NULL, 2000);
	CHECK(store_job_fail(s, other, j.epoch, "bad params", 0, 2100, &st, &e) == 1);
	CHECK(st == JOB_STATE_FAILED);
	store_job_release(&j);
	/* ... and says nothing of attempts no retry would have used */
	CHECK(store_job_get(s, other, &j, &e) == 1);
	CHECK_MSG(strcmp(j.error, "bad params") == 0, "%s", j.error);
	store_job_release(&j);
	CHECK(count(s, JOB_STATE_FAILED) == 2);
	store_close(s);
}

/* A refunded lease goes back to the queue without using an attempt, however often;
 * the next real failure still counts. A stale refund changes nothing. */
static void test_store__refund_gives_the_attempt_back(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t id, w = worker(s, "w1");
	enqueue(s, 1, "probe", 2, &id);
	for (int i = 0; i < 5; i++) {
		struct store_job j = claim(s, w, NULL, 2000);
		CHECK(j.id == id && j.attempt == 1 && j.epoch == i + 1);
		CHECK(store_job_refund(s, id, j.epoch, "refused", &e) == 1);
		CHECK(store_job_refund(s, id, j.epoch, "refused", &e) == 0); /* no longer leased */
		store_job_release(&j);
	}
	struct store_job j;
	CHECK(store_job_get(s, id, &j, &e) == 1);
	CHECK(j.state == JOB_STATE_QUEUED && j.attempt == 0 && j.worker == 0 &&
		j.lease_deadline == 0);
	CHECK_MSG(strcmp(j.error, "refused (not counted as an attempt)") == 0, "%s", j.error);
	store_job_release(&j);
	enum job_state st;
	for (int attempt = 1; attempt <= 2; attempt++) {
		j = claim(s, w, NULL, 2000);
		CHECK(j.attempt == attempt);
		CHECK(store_job_fail(s, id, j.epoch, "boom", 1, 2100, &st, &e) == 1);
		store_job_release(&j);
	}
	CHECK(st == JOB_STATE_FAILED);
	store_close(s);
}

static void test_store__dead_worker_jobs_are_requeued(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[4], w1 = worker(s, "w1"), w2 = worker(s, "w2");
	enqueue(s, 3, "probe", 0, ids);
	enqueue(s, 1, "poison", 1, ids + 3);
	struct store_job a = claim(s, w1, "[\"probe\"]", 2000), b = claim(s, w1, "[\"probe\"]", 2000);
	struct store_job c = claim(s, w2, "[\"probe\"]", 2000), p = claim(s, w1, "[\"poison\"]", 2000);
	struct store_requeue r;
	CHECK(store_job_requeue_worker(s, w1, "worker 'w1' died", 2500, &r, &e) == 0);
	CHECK(r.queued == 2 && r.failed == 1);
	CHECK(state_of(s, a.id) == JOB_STATE_QUEUED && state_of(s, b.id) == JOB_STATE_QUEUED);
	CHECK(state_of(s, c.id) == JOB_STATE_LEASED && state_of(s, p.id) == JOB_STATE_FAILED);
	struct store_job j;
	CHECK(store_job_get(s, a.id, &j, &e) == 1 && j.worker == 0 && j.lease_deadline == 0);
	store_job_release(&j);
	CHECK(store_job_get(s, p.id, &j, &e) == 1);
	CHECK(strcmp(j.error, "worker 'w1' died (attempt 1 of 1)") == 0);
	store_job_release(&j);
	CHECK(store_job_requeue_worker(s, w1, "again", 2600, &r, &e) == 0 && r.queued == 0);
	store_job_release(&a);
	store_job_release(&b);
	store_job_release(&c);
	store_job_release(&p);
	store_close(s);
}

static void test_store__first_lease_claims_wait_behind_jobs_that_came_back(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[3], w1 = worker(s, "w1"), w2 = worker(s, "w2");
	enqueue(s, 3, "probe", 0, ids);
	struct store_job a = claim(s, w1, NULL, 2000), b = claim(s, w1, NULL, 2000);
	struct store_requeue r;
	CHECK(store_job_requeue_worker(s, w1, "worker 'w1' died", 2500, &r, &e) == 0);
	CHECK(r.queued == 2);
	/* a and b came back and head the queue: a first-lease claim takes nothing, not c */
	struct store_job j;
	CHECK(store_job_claim_first_lease(s, w2, "[\"probe\"]", 3000, 6000, &j, &e) == 0);
	CHECK(state_of(s, ids[2]) == JOB_STATE_QUEUED);
	/* an ordinary claim takes them, oldest first; then c is fresh at the head */
	struct store_job a2 = claim(s, w2, NULL, 3100), b2 = claim(s, w2, NULL, 3100);
	CHECK(a2.id == a.id && a2.attempt == 2 && a2.epoch == 2 && b2.id == b.id);
	CHECK(store_job_claim_first_lease(s, w2, NULL, 3200, 6000, &j, &e) == 1);
	CHECK(j.id == ids[2] && j.attempt == 1 && j.epoch == 1 && j.state == JOB_STATE_LEASED);
	store_job_release(&j);
	CHECK(store_job_claim_first_lease(s, w2, NULL, 3300, 6000, &j, &e) == 0);
	store_job_release(&a2);
	store_job_release(&b2);
	store_job_release(&a);
	store_job_release(&b);
	store_close(s);
}

static void test_store__claim_many_fills_slots_and_stops_at_a_returned_job(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[6], w1 = worker(s, "w1"), w2 = worker(s, "w2");
	enqueue(s, 6, "probe", 0, ids);
	struct store_job j[8];
	CHECK(store_job_claim_many(s, w1, "[\"probe\"]", 0, 2000, 5000, j, 2, &e) == 2);
	CHECK(j[0].id == ids[0] && j[1].id == ids[1] && j[1].state == JOB_STATE_LEASED);
	CHECK(j[0].epoch == 1 && j[0].worker == w1 && state_of(s, ids[1]) == JOB_STATE_LEASED);
	for (int i = 0; i < 2; i++)
		store_job_release(&j[i]);
	struct store_requeue r;
	CHECK(store_job_requeue_worker(s, w1, "worker 'w1' died", 2500, &r, &e) == 0);
	CHECK(r.queued == 2);
	/* the two that came back head the queue: a first-lease batch takes nothing */
	CHECK(store_job_claim_many(s, w2, NULL, 1, 3000, 6000, j, 8, &e) == 0);
	/* a full claim takes exactly one of them, alone */
	CHECK(store_job_claim_many(s, w2, NULL, 0, 3000, 6000, j, 8, &e) == 1);
	CHECK(j[0].id == ids[0] && j[0].attempt == 2 && j[0].epoch == 2);
	store_job_release(&j[0]);
	CHECK(store_job_claim_many(s, w2, NULL, 0, 3000, 6000, j, 8, &e) == 1);
	CHECK(j[0].id == ids[1]);
	store_job_release(&j[0]);
	/* then fresh jobs in a batch, up to `max`, and nothing past the queue's end */
	CHECK(store_job_claim_many(s, w1, NULL, 1, 3000, 6000, j, 3, &e) == 3);
	CHECK(j[0].id == ids[2] && j[2].id == ids[4]);
	for (int i = 0; i < 3; i++)
		store_job_release(&j[i]);
	CHECK(store_job_claim_many(s, w1, NULL, 0, 3000, 6000, j, 8, &e) == 1);
	store_job_release(&j[0]);
	CHECK(store_job_claim_many(s, w1, NULL, 0, 3000, 6000, j, 8, &e) == 0);
	CHECK(count(s, JOB_STATE_LEASED) == 6);
	store_close(s);
}

static void test_store__pipelines_and_stages_move_through_their_states(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t p1, p2, a, b;
	CHECK(store_pipeline_add(s, "one", "name: one", "{\"name\":\"one\"}", 7, 1000, &p1, &e) == 0);
	CHECK(store_pipeline_add(s, "two", "", "{}", 0, 1100, &p2, &e) == 0);
	CHECK(store_stage_add(s, p1, "a", "probe", "{\"jobs\":2}", 2, 1000, &a, &e) == 0);
	CHECK(store_stage_add(s, p1, "b", "probe", "{}", 0, 1000, &b, &e) == 0);
	/* a stage name is unique within its pipeline */
	CHECK(store_stage_add(s, p1, "a", "probe", "{}", 0, 1000, NULL, &e) < 0);
	CHECK(strstr(e.msg, "UNIQUE") != NULL);

	struct store_pipeline *all;
	size_t n;
	CHECK(store_pipeline_list(s, &all, &n, &e) == 0 && n == 2);
	CHECK(all[0].id == p2 && all[1].id == p1 && all[1].stages == 2 && all[1].seed == 7);
	CHECK(all[1].state == PIPELINE_QUEUED && all[1].started_at == 0);
	store_pipelines_free(all, n);

	CHECK(store_pipeline_set_state(s, p1, PIPELINE_RUNNING, NULL, 2000, &e) == 0);
	CHECK(store_pipeline_set_state(s, p1, PIPELINE_PAUSED, NULL, 2500, &e) == 0);
	CHECK(store_pipeline_set_state(s, p1, PIPELINE_RUNNING, NULL, 3000, &e) == 0);
	struct store_pipeline p;
	CHECK(store_pipeline_get(s, p1, &p, &e) == 1);
	CHECK(p.started_at == 2000 && p.finished_at == 0 && strcmp(p.spec, "{\"name\":\"one\"}") == 0);
	store_pipeline_release(&p);
	CHECK(store_pipeline_set_state(s, p1, PIPELINE_FAILED, "stage 'a' failed: x", 4000, &e) == 0);
	CHECK(store_pipeline_get(s, p1, &p, &e) == 1);
	CHECK(p.state == PIPELINE_FAILED && p.finished_at == 4000 && strcmp(p.error, "stage 'a' failed: x") == 0);
	store_pipeline_release(&p);
	CHECK(store_pipeline_get(s, 99, &p, &e) == 0);
	CHECK(store_pipeline_set_state(s, 99, PIPELINE_RUNNING, NULL, 1, &e) < 0 && e.code == ERR_NOTFOUND);

	int64_t *ids;
	CHECK(store_pipeline_ids(s, PIPELINE_QUEUED, &ids, &n, &e) == 0 && n == 1 && ids[0] == p2);
	free(ids);

	CHECK(store_stage_set_state(s, a, STAGE_RUNNING, NULL, 2100, &e) == 0);
	CHECK(store_stage_set_progress(s, a, 1, 2, &e) == 0);
	struct store_stage *st;
	CHECK(store_stage_list(s, p1, &st, &n, &e) == 0 && n == 2);
	CHECK(st[0].id == a && st[0].state == STAGE_RUNNING && st[0].started_at == 2100);
	CHECK(st[0].step == 1 && st[0].total == 2 && st[0].progress == 0.5);
	CHECK(st[1].state == STAGE_PENDING && strcmp(st[1].kind, "probe") == 0);
	store_stages_free(st, n);
	CHECK(strcmp(store_stage_state_name(STAGE_SUCCEEDED), "succeeded") == 0);
	CHECK(strcmp(store_pipeline_state_name(PIPELINE_CANCELLED), "cancelled") == 0);
	store_close(s);
}

static void test_store__stage_jobs_cancel_and_requeue(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t pl, stage, w = worker(s, "w1");
	CHECK(store_pipeline_add(s, "p", "", "{}", 0, 1000, &pl, &e) == 0);
	CHECK(store_stage_add(s, pl, "a", "probe", "{}", 3, 1000, &stage, &e) == 0);
	struct store_job_new jobs[3];
	for (int i = 0; i < 3; i++)
		jobs[i] = (struct store_job_new){ .stage = stage, .kind = "probe", .shard = i };
	int64_t ids[3];
	CHECK(store_job_enqueue(s, jobs, 3, 1000, ids, &e) == 0);
	struct store_job j = claim(s, w, NULL, 2000);
	CHECK(j.id == ids[0]);
	int64_t (*held)[2];
	size_t n;
	CHECK(store_stage_jobs_cancel(s, stage, 2100, &held, &n, &e) == 0);
	CHECK(n == 1 && held[0][0] == ids[0] && held[0][1] == w);
	free(held);
	CHECK(count(s, JOB_STATE_CANCELLED) == 3);
	/* the holder's late answer is stale */
	CHECK(store_job_commit(s, j.id, j.epoch, "{}", 2200, &e) == 0);
	CHECK(store_stage_jobs_requeue(s, stage, &e) == 3);
	CHECK(count(s, JOB_STATE_QUEUED) == 3);
	struct store_job again = claim(s, w, NULL, 2300);
	CHECK(again.id == ids[0] && again.attempt == 1 && again.epoch == j.epoch + 1);
	int64_t job;
	char *why;
	CHECK(store_stage_job_failed(s, stage, &job, &why, &e) == 0);
	CHECK(store_job_fail(s, again.id, again.epoch, "boom", 0, 2400, NULL, &e) == 1);
	CHECK(store_stage_job_failed(s, stage, &job, &why, &e) == 1 && job == ids[0]);
	CHECK(strcmp(why, "boom") == 0); /* not retryable: no "(attempt 1 of 3)" */
	free(why);
	store_job_release(&j);
	store_job_release(&again);
	store_close(s);
}

static void test_store__expired_leases_are_requeued_and_extensible(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[2], w1 = worker(s, "w1"), w2 = worker(s, "w2");
	enqueue(s, 2, "probe", 0, ids);
	struct store_job a, b;
	CHECK(store_job_claim(s, w1, NULL, 1000, 4000, &a, &e) == 1);
	CHECK(store_job_claim(s, w2, NULL, 1000, 4000, &b, &e) == 1);
	CHECK(store_job_extend(s, w2, 9000, &e) == 1);
	CHECK(store_job_extend(s, 777, 9000, &e) == 0);
	struct store_requeue r;
	CHECK(store_job_requeue_expired(s, 3999, NULL, &r, &e) == 0 && r.queued == 0);
	CHECK(store_job_requeue_expired(s, 4000, NULL, &r, &e) == 0 && r.queued == 1);
	CHECK(state_of(s, a.id) == JOB_STATE_QUEUED && state_of(s, b.id) == JOB_STATE_LEASED);
	CHECK(store_job_requeue_expired(s, INT64_MAX, "daemon restarted", &r, &e) == 0);
	CHECK(r.queued == 1 && count(s, JOB_STATE_QUEUED) == 2);
	store_job_release(&a);
	store_job_release(&b);
	store_close(s);
}

static void test_store__cancel_makes_later_answers_stale(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[2], holder = -1, w = worker(s, "w1");
	enqueue(s, 2, "probe", 0, ids);
	struct store_job j = claim(s, w, NULL, 2000);
	CHECK(store_job_cancel(s, j.id, 2100, &holder, &e) == 1 && holder == w);
	CHECK(store_job_commit(s, j.id, j.epoch, "{}", 2200, &e) == 0);
	CHECK(store_job_cancel(s, ids[1], 2100, &holder, &e) == 1 && holder == 0);
	CHECK(store_job_cancel(s, ids[1], 2100, &holder, &e) == 0);
	CHECK(count(s, JOB_STATE_CANCELLED) == 2);
	store_job_release(&j);
	store_close(s);
}

static void test_store__enqueue_is_all_or_nothing(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t p, st;
	CHECK(store_pipeline_add(s, "p", "version: 1", "{}", 1234, 100, &p, &e) == 0);
	CHECK(store_stage_add(s, p, "zero", "grpo", NULL, 10, 100, &st, &e) == 0);
	struct store_job_new jobs[3] = {
		{ .stage = st, .kind = "grad", .step = 1, .shard = 0 },
		{ .stage = st, .kind = "grad", .step = 1, .shard = 1 },
		{ .stage = st, .kind = "grad", .step = 1, .shard = 0 }, /* same slot twice */
	};
	CHECK(store_job_enqueue(s, jobs, 3, 1000, NULL, &e) == -1);
	CHECK_MSG(strstr(e.msg, "cannot enqueue job 3 of 3 (kind 'grad', step 1, shard 0): UNIQUE"),
		"%s", e.msg);
	CHECK(count(s, JOB_STATE_QUEUED) == 0);
	CHECK(store_job_enqueue(s, jobs, 2, 1000, NULL, &e) == 0);
	int64_t c[JOB_STATE_COUNT];
	CHECK(store_job_counts(s, st, c, &e) == 0 && c[JOB_STATE_QUEUED] == 2);
	CHECK(store_job_counts(s, st + 1, c, &e) == 0 && c[JOB_STATE_QUEUED] == 0);
	CHECK(store_job_enqueue(s, &(struct store_job_new){ .kind = "" }, 1, 1, NULL, &e) == -1);
	CHECK(strstr(e.msg, "kind '' is not a lowercase identifier"));
	CHECK(store_job_enqueue(s, &(struct store_job_new){ .kind = "x", .params = "{" }, 1, 1,
		NULL, &e) == -1 && strstr(e.msg, "CHECK constraint"));
	/* a stage may not hold two stages of one name */
	CHECK(store_stage_add(s, p, "zero", "sft", NULL, 1, 100, NULL, &e) == -1);
	store_close(s);
}

static void test_store__batched_transaction(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[4], w = worker(s, "w1");
	enqueue(s, 4, "probe", 0, ids);

	/* one event-loop turn: claims and commits in one transaction */
	CHECK(store_begin(s, &e) == 0 && store_in_transaction(s));
	struct store_job a = claim(s, w, NULL, 2000), b = claim(s, w, NULL, 2000);
	CHECK(store_job_commit(s, a.id, a.epoch, "{}", 2100, &e) == 1);
	/* a failing call inside the batch undoes only itself */
	struct store_job_new dup[2] = { { .kind = "x", .stage = 0 }, { .kind = "y", .stage = 42 } };
	CHECK(store_job_enqueue(s, dup, 2, 2100, NULL, &e) == -1);
	CHECK(store_in_transaction(s));
	CHECK(store_commit(s, &e) == 0 && !store_in_transaction(s));
	CHECK(count(s, JOB_STATE_DONE) == 1 && count(s, JOB_STATE_LEASED) == 1);
	CHECK(count(s, JOB_STATE_QUEUED) == 2);

	/* a rolled-back turn leaves nothing behind */
	CHECK(store_begin(s, &e) == 0);
	CHECK(store_job_commit(s, b.id, b.epoch, "{}", 2200, &e) == 1);
	struct store_job c = claim(s, w, NULL, 2200);
	store_rollback(s);
	CHECK(!store_in_transaction(s));
	CHECK(count(s, JOB_STATE_DONE) == 1 && count(s, JOB_STATE_LEASED) == 1);
	CHECK(count(s, JOB_STATE_QUEUED) == 2);
	CHECK(store_job_commit(s, b.id, b.epoch, "{}", 2300, &e) == 1);
	store_job_release(&a);
	store_job_release(&b);
	store_job_release(&c);
	store_close(s);
}

static void test_store__close_rolls_back_an_open_transaction(void)
{
	char path[1100];
	snprintf(path, sizeof path, "%s/r1flow.db", testdir_new("store"));
	struct store *s = open_ok(path);
	struct err e;
	CHECK(store_begin(s, &e) == 0);
	enqueue(s, 5, "probe", 0, NULL);
	store_close(s);
	s = open_ok(path);
	CHECK(count(s, JOB_STATE_QUEUED) == 0);
	store_close(s);
	testdir_done();
}

static void test_store__workers_blobs_events_counters(void)
{
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t id = 0, again = 0, ev = 0, v = -1;
	struct store_worker w = { .name = "host-1:42", .host = "host-1", .pid = 42, .threads = 4,
		.memory = 1 << 30, .kinds = "[\"probe\",\"rollout\"]", .build = "0.1.0" };
	CHECK(store_worker_upsert(s, &w, 1000, &id, &e) == 0 && id > 0);
	w.pid = 43;
	CHECK(store_worker_upsert(s, &w, 2000, &again, &e) == 0 && again == id);
	CHECK(store_worker_seen(s, id, 3000, &e) == 0);
	CHECK(store_worker_set_state(s, id, WORKER_STATE_DRAINING, &e) == 0);
	CHECK(store_worker_upsert(s, &(struct store_worker){ .name = "" }, 1, &id, &e) == -1);
	CHECK(store_worker_upsert(s, &(struct store_worker){ .name = "k", .kinds = "[" }, 1, &id,
		&e) == -1);

	const char *sha = "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";
	int64_t size = 0;
	char *path = NULL;
	CHECK(store_blob_get(s, sha, &size, &path, &e) == 0);
	CHECK(store_blob_put(s, sha, 100, "blobs/ab01", 1000, &e) == 1);
	CHECK(store_blob_put(s, sha, 100, "blobs/ab01", 1100, &e) == 0);
	CHECK(store_blob_put(s, sha, 101, "blobs/ab01", 1100, &e) == -1);
	CHECK_MSG(strstr(e.msg, "already indexed with 100 bytes, now 101"), "%s", e.msg);
	CHECK(store_blob_get(s, sha, &size, &path, &e) == 1 && size == 100);
	free(path);
	CHECK(store_blob_put(s, "../../etc/passwd", 1, "x", 1, &e) == -1);
	CHECK(store_blob_put(s, "AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01",
		1, "x", 1, &e) == -1);

	CHECK(store_event_add(s, 0, 0, "daemon_started", NULL, 1000, &ev, &e) == 0 && ev > 0);
	CHECK(store_event_add(s, 77, 0, "x", NULL, 1000, NULL, &e) == -1); /* no pipeline 77 */
	CHECK(store_event_add(s, 0, 0, "x", "{bad", 1000, NULL, &e) == -1);

	CHECK(store_counter_get(s, "msgs_malformed", &v, &e) == 0 && v == 0);
	CHECK(store_counter_add(s, "msgs_malformed", 3, &e) == 0);
	CHECK(store_counter_add(s, "msgs_malformed", 4, &e) == 0);
	CHECK(store_counter_get(s, "msgs_malformed", &v, &e) == 0 && v == 7);
	CHECK(store_quick_check(s, &e) == 0);
	store_close(s);
}

/* xorshift64*, fixed seed: the random walk below replays identically. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

/* The lease state machine, checked against a model over a random walk of claims,
 * commits (current and stale epochs), failures, dead workers, expiries and cancels. */
static void test_store__lease_state_machine_matches_model(void)
{
	enum { JOBS = 24, WORKERS = 3, STEPS = 4000, MAX = 3 };
	struct model { enum job_state state; int64_t epoch, attempt, worker, deadline; int commits; };
	struct model m[JOBS + 1] = { { 0 } };
	struct store *s = open_ok(":memory:");
	struct err e;
	int64_t ids[JOBS], w[WORKERS + 1];
	for (int i = 1; i <= WORKERS; i++) {
		char name[16];
		snprintf(name, sizeof name, "w%d", i);
		w[i] = worker(s, name);
	}
	enqueue(s, JOBS, "probe", MAX, ids);
	for (int i = 0; i < JOBS; i++)
		CHECK(ids[i] == i + 1); /* model index = job id */
	int64_t now = 10000;
	int batched = 0, stale = 0;
	for (int step = 0; step < STEPS; step++) {
		now += 10;
		/* sometimes run a stretch of operations as one batch */
		if (!batched && rnd(20) == 0) {
			CHECK(store_begin(s, &e) == 0);
			batched = 1;
		} else if (batched && rnd(5) == 0) {
			CHECK(store_commit(s, &e) == 0);
			batched = 0;
		}
		int64_t j = 1 + rnd(JOBS), wk = 1 + rnd(WORKERS);
		switch (rnd(10)) {
		case 0: case 1: case 2: { /* claim */
			int64_t want = 0;
			for (int64_t k = 1; k <= JOBS && !want; k++)
				if (m[k].state == JOB_STATE_QUEUED)
					want = k;
			struct store_job got;
			int rc = store_job_claim(s, w[wk], NULL, now, now + 400, &got, &e);
			CHECK(rc == (want != 0));
			if (rc == 1) {
				CHECK(got.id == want);
				m[want].state = JOB_STATE_LEASED;
				m[want].epoch++;
				m[want].attempt++;
				m[want].worker = wk;
				m[want].deadline = now + 400;
				CHECK(got.epoch == m[want].epoch && got.attempt == m[want].attempt);
				store_job_release(&got);
			}
			break;
		}
		case 3: case 4: case 5: { /* commit, usually a live lease's */
			for (int64_t k = 0, at = rnd(JOBS); k < JOBS && rnd(4); k++)
				if (m[1 + (at + k) % JOBS].state == JOB_STATE_LEASED) {
					j = 1 + (at + k) % JOBS;
					break;
				}
			int64_t epoch = m[j].epoch - (rnd(4) == 0);
			int live = m[j].state == JOB_STATE_LEASED && epoch == m[j].epoch;
			CHECK(store_job_commit(s, j, epoch, "{\"ok\":true}", now, &e) == live);
			stale += !live;
			if (live) {
				m[j].state = JOB_STATE_DONE;
				m[j].commits++;
			}
			break;
		}
		case 6: { /* fail */
			int64_t epoch = m[j].epoch - (int64_t)rnd(2);
			int retry = (int)rnd(4) != 0;
			int live = m[j].state == JOB_STATE_LEASED && epoch == m[j].epoch;
			enum job_state st;
			CHECK(store_job_fail(s, j, epoch, "err", retry, now, &st, &e) == live);
			if (live) {
				m[j].state = retry && m[j].attempt < MAX ? JOB_STATE_QUEUED : JOB_STATE_FAILED;
				CHECK(st == m[j].state);
			}
			break;
		}
		case 7: { /* a worker dies */
			struct store_requeue r, want = { 0, 0 };
			for (int k = 1; k <= JOBS; k++)
				if (m[k].state == JOB_STATE_LEASED && m[k].worker == wk) {
					m[k].state = m[k].attempt < MAX ? JOB_STATE_QUEUED : JOB_STATE_FAILED;
					*(m[k].state == JOB_STATE_QUEUED ? &want.queued : &want.failed) += 1;
				}
			CHECK(store_job_requeue_worker(s, w[wk], "died", now, &r, &e) == 0);
			CHECK(r.queued == want.queued && r.failed == want.failed);
			break;
		}
		case 8: { /* leases expire */
			struct store_requeue r, want = { 0, 0 };
			int64_t cutoff = now - 50;
			for (int k = 1; k <= JOBS; k++)
				if (m[k].state == JOB_STATE_LEASED && m[k].deadline <= cutoff) {
					m[k].state = m[k].attempt < MAX ? JOB_STATE_QUEUED : JOB_STATE_FAILED;
					*(m[k].state == JOB_STATE_QUEUED ? &want.queued : &want.failed) += 1;
				}
			CHECK(store_job_requeue_expired(s, cutoff, NULL, &r, &e) == 0);
			CHECK(r.queued == want.queued && r.failed == want.failed);
			break;
		}
		case 9: /* cancel, rarely */
			if (rnd(8) == 0) {
				int live = m[j].state == JOB_STATE_QUEUED || m[j].state == JOB_STATE_LEASED;
				CHECK(store_job_cancel(s, j, now, NULL, &e) == live);
				if (live)
					m[j].state = JOB_STATE_CANCELLED;
			}
			break;
		}
		for (int64_t k = 1; k <= JOBS; k++) {
			struct store_job got;
			CHECK(store_job_get(s, k, &got, &e) == 1);
			CHECK_MSG(got.state == m[k].state, "step %d job %lld: %s, model %s", step,
				(long long)k, store_job_state_name(got.state), store_job_state_name(m[k].state));
			CHECK(got.epoch == m[k].epoch && got.attempt == m[k].attempt);
			CHECK((got.state == JOB_STATE_LEASED) == (got.lease_deadline != 0));
			CHECK((got.state == JOB_STATE_DONE) == (got.result != NULL));
			CHECK(m[k].commits <= 1);
			store_job_release(&got);
		}
	}
	if (batched)
		CHECK(store_commit(s, &e) == 0);
	int done = 0;
	for (int k = 1; k <= JOBS; k++)
		done += m[k].commits;
	CHECK(count(s, JOB_STATE_DONE) == done);
	CHECK(store_quick_check(s, &e) == 0);
	int64_t failed = count(s, JOB_STATE_FAILED);
	printf("model walk: %d jobs done, %lld failed, %lld cancelled, %d stale commits\n", done,
		(long long)failed, (long long)count(s, JOB_STATE_CANCELLED), stale);
	CHECK(done > JOBS / 2 && failed > 0 && stale > 0); /* the walk covered every path */
	store_close(s);
}

/* What may be forgotten (retention, gc) and what is still in use: a blob named by a
 * checkpoint or a queued job stays; a dataset a pipeline not over reads is found. */
static void test_store__blob_and_dataset_uses(void)
{
	char path[1100];
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/r1flow.db", testdir_new("store"));
	struct store *s = open_ok(path);
	const char *w = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *o = "2222222222222222222222222222222222222222222222222222222222222222";
	const char *j = "3333333333333333333333333333333333333333333333333333333333333333";
	int64_t p, st, id, ds, user = 0;
	char *user_name = NULL;
	CHECK(store_pipeline_add(s, "p", "", "{\"datasets\":{\"own\":{}},\"stages\":[{\"name\":"
		"\"a\",\"dataset\":\"corpus\"},{\"name\":\"b\",\"prompts\":\"own\"},"
		"{\"name\":\"m\",\"inputs\":[{\"dataset\":\"mixin\"}]}]}", 1, 1000, &p, &e) == 0);
	CHECK(store_stage_add(s, p, "a", "pretrain", "{}", 2, 1000, &st, &e) == 0);
	CHECK(store_blob_put(s, w, 10, "blobs/w", 1000, &e) == 1);
	CHECK(store_blob_put(s, o, 10, "blobs/o", 1000, &e) == 1);
	CHECK(store_blob_put(s, j, 10, "blobs/j", 1000, &e) == 1);
	CHECK(store_checkpoint_add(s, st, 0, w, NULL, "{}", 1000, &e) == 0);
	CHECK(store_checkpoint_add(s, st, 4, w, o, "{}", 1000, &e) == 0);
	struct store_job_new job = { .kind = "rollout", .params = NULL, .max_attempts = 1 };
	char params[200];
	snprintf(params, sizeof params, "{\"weights\":\"%s\"}", j);
	job.params = params;
	CHECK_MSG(store_job_enqueue(s, &job, 1, 1000, &id, &e) == 0, "%s", e.msg);

	CHECK(store_blob_referenced(s, w, &e) == 1 && store_blob_referenced(s, o, &e) == 1);
	CHECK(store_blob_referenced(s, j, &e) == 1); /* a queued job's weights */
	CHECK(store_blob_delete(s, j, &e) == 0 && store_blob_delete(s, o, &e) == 0);
	struct store_checkpoint *ck = NULL;
	size_t n = 0;
	CHECK(store_checkpoint_list(s, st, &ck, &n, &e) == 0 && n == 2);
	CHECK(ck[0].step == 0 && !ck[0].optimizer[0] && ck[1].step == 4 && !strcmp(ck[1].optimizer, o));
	free(ck);
	CHECK(store_checkpoint_delete(s, st, 4, &e) == 0);
	CHECK(store_checkpoint_list(s, st, &ck, &n, &e) == 0 && n == 1 && ck[0].step == 0);
	free(ck);
	CHECK(store_blob_referenced(s, o, &e) == 0 && store_blob_delete(s, o, &e) == 1);
	CHECK(store_blob_referenced(s, w, &e) == 1); /* step 0 still names it */
	CHECK(store_job_cancel(s, id, 1100, NULL, &e) == 1);
	CHECK(store_blob_referenced(s, j, &e) == 0 && store_blob_delete(s, j, &e) == 1);

	/* datasets: shared `corpus` and `mixin` are read by p (queued), `own` is p's own */
	CHECK(store_dataset_add(s, 0, "corpus", NULL, 1000, &ds, &e) == 0);
	CHECK(store_dataset_user(s, "corpus", 0, &user, &user_name, &e) == 1 && user == p);
	CHECK(!strcmp(user_name, "p"));
	free(user_name);
	CHECK(store_dataset_user(s, "mixin", 0, &user, &user_name, &e) == 1 && user == p);
	free(user_name);
	CHECK(store_dataset_user(s, "own", 0, &user, &user_name, &e) == 0); /* p defines it */
	CHECK(store_dataset_user(s, "own", p, &user, &user_name, &e) == 1 && user == p);
	free(user_name);
	CHECK(store_dataset_user(s, "other", 0, &user, &user_name, &e) == 0);
	CHECK(store_pipeline_set_state(s, p, PIPELINE_SUCCEEDED, NULL, 2000, &e) == 0);
	CHECK(store_dataset_user(s, "corpus", 0, &user, &user_name, &e) == 0);
	CHECK(store_dataset_delete(s, ds, &e) == 0);
	CHECK(store_dataset_find(s, 0, "corpus", &ds, NULL, &e) == 0);
	CHECK(store_quick_check(s, &e) == 0);
	store_close(s);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_store__migrations_apply_on_a_fresh_database),
		TEST(test_store__reopen_is_idempotent_and_keeps_everything),
		TEST(test_store__newer_schema_is_refused),
		TEST(test_store__open_failure_names_the_file),
		TEST(test_store__a_busy_database_is_transient),
		TEST(test_store__foreign_keys_are_enforced),
		TEST(test_store__claim_leases_oldest_job_of_a_known_kind),
		TEST(test_store__result_commits_exactly_once),
		TEST(test_store__stale_epoch_is_dropped),
		TEST(test_store__failures_retry_until_attempts_run_out),
		TEST(test_store__refund_gives_the_attempt_back),
		TEST(test_store__dead_worker_jobs_are_requeued),
		TEST(test_store__first_lease_claims_wait_behind_jobs_that_came_back),
		TEST(test_store__claim_many_fills_slots_and_stops_at_a_returned_job),
		TEST(test_store__expired_leases_are_requeued_and_extensible),
		TEST(test_store__pipelines_and_stages_move_through_their_states),
		TEST(test_store__stage_jobs_cancel_and_requeue),
		TEST(test_store__cancel_makes_later_answers_stale),
		TEST(test_store__enqueue_is_all_or_nothing),
		TEST(test_store__batched_transaction),
		TEST(test_store__close_rolls_back_an_open_transaction),
		TEST(test_store__workers_blobs_events_counters),
		TEST(test_store__blob_and_dataset_uses),
		TEST(test_store__lease_state_machine_matches_model),
		{ 0 } });
}
