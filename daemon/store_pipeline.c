/*
 * store_pipeline — the pipeline, stage and event-listing half of the store (store.h
 * "Pipelines and stages"); SQL text in store.c's table, helpers in store_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const pipeline_states[PIPELINE_STATE_COUNT] = {
	[PIPELINE_QUEUED] = "queued", [PIPELINE_RUNNING] = "running",
	[PIPELINE_PAUSED] = "paused", [PIPELINE_SUCCEEDED] = "succeeded",
	[PIPELINE_FAILED] = "failed", [PIPELINE_CANCELLED] = "cancelled",
};

static const char *const stage_states[STAGE_STATE_COUNT] = {
	[STAGE_PENDING] = "pending", [STAGE_RUNNING] = "running", [STAGE_PAUSED] = "paused",
	[STAGE_SUCCEEDED] = "succeeded", [STAGE_FAILED] = "failed",
	[STAGE_CANCELLED] = "cancelled",
};

const char *store_pipeline_state_name(enum pipeline_state state)
{
	return (unsigned)state < PIPELINE_STATE_COUNT ? pipeline_states[state] : "?";
}

const char *store_stage_state_name(enum stage_state state)
{
	return (unsigned)state < STAGE_STATE_COUNT ? stage_states[state] : "?";
}

/* Index of `text` in names[0..n), or n (the CHECK constraints make that unreachable). */
static int parse_name(const unsigned char *text, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (text && strcmp((const char *)text, names[i]) == 0)
			return i;
	return n;
}

int store_pipeline_add(struct store *s, const char *name, const char *source,
	const char *spec, int64_t seed, int64_t now_ms, int64_t *id, struct err *err)
{
	const char *what = "add a pipeline";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_PIPELINE_ADD);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, source ? source : "");
	store_bind_text(st, 3, spec);
	sqlite3_bind_int64(st, 4, seed);
	sqlite3_bind_int64(st, 5, now_ms);
	return store_insert(s, st, id, err, what);
}

int store_stage_add(struct store *s, int64_t pipeline, const char *name, const char *kind,
	const char *spec, int64_t total, int64_t now_ms, int64_t *id, struct err *err)
{
	const char *what = "add a stage";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_STAGE_ADD);
	sqlite3_bind_int64(st, 1, pipeline);
	store_bind_text(st, 2, name);
	store_bind_text(st, 3, kind);
	store_bind_text(st, 4, spec);
	sqlite3_bind_int64(st, 5, total);
	sqlite3_bind_int64(st, 6, now_ms);
	return store_insert(s, st, id, err, what);
}

int store_unit_begin(struct store *s, struct err *err)
{
	return store_tx_enter(s, 1, err, "begin a unit of writes");
}

int store_unit_end(struct store *s, int ok, struct err *err)
{
	return store_tx_leave(s, 1, ok, err, "end a unit of writes");
}

static int read_pipeline(sqlite3_stmt *st, struct store_pipeline *p, struct err *err)
{
	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(st, 0);
	p->name = store_column_dup(st, 1);
	p->spec = store_column_dup(st, 2);
	p->seed = sqlite3_column_int64(st, 3);
	p->state = (enum pipeline_state)parse_name(sqlite3_column_text(st, 4), pipeline_states,
		PIPELINE_STATE_COUNT);
	p->error = store_column_dup(st, 5);
	p->created_at = sqlite3_column_int64(st, 6);
	p->started_at = sqlite3_column_int64(st, 7);
	p->finished_at = sqlite3_column_int64(st, 8);
	p->stages = sqlite3_column_int64(st, 9);
	p->stages_succeeded = sqlite3_column_int64(st, 10);
	if (!p->name || !p->spec) {
		store_pipeline_release(p);
		return err_set(err, ERR_NOMEM, "cannot read pipeline: out of memory");
	}
	return 0;
}

void store_pipeline_release(struct store_pipeline *p)
{
	free(p->name);
	free(p->spec);
	free(p->error);
	memset(p, 0, sizeof *p);
}

void store_pipelines_free(struct store_pipeline *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		store_pipeline_release(&p[i]);
	free(p);
}

int store_pipeline_get(struct store *s, int64_t id, struct store_pipeline *p, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_PIPELINE_GET);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st), result = 0;
	if (rc == SQLITE_ROW)
		result = read_pipeline(st, p, err) == 0 ? 1 : -1;
	else if (rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot read pipeline %lld", (long long)id);
	sqlite3_reset(st);
	return result;
}

/* Grow *arr (of elements `size`) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 8;
	void *a = realloc(*arr, c * size);
	if (!a)
		return -1;
	*arr = a;
	*cap = c;
	return 0;
}

static int read_pipeline_row(sqlite3_stmt *st, void *p, struct err *err)
{
	return read_pipeline(st, p, err);
}

static void release_pipeline_row(void *p)
{
	store_pipeline_release(p);
}

int store_pipeline_list(struct store *s, struct store_pipeline **out, size_t *n,
	struct err *err)
{
	void *rows = NULL;
	int rc = store_read_rows(s, store_stmt(s, S_PIPELINE_LIST), sizeof **out,
		read_pipeline_row, release_pipeline_row, &rows, n, "list pipelines", err);
	if (rc == 0)
		*out = rows;
	return rc;
}

static int read_id_row(sqlite3_stmt *st, void *id, struct err *err)
{
	(void)err;
	*(int64_t *)id = sqlite3_column_int64(st, 0);
	return 0;
}

int store_pipeline_ids(struct store *s, enum pipeline_state state, int64_t **ids, size_t *n,
	struct err *err)
{
	char what[64];
	sqlite3_stmt *st = store_stmt(s, S_PIPELINE_IDS);
	store_bind_text(st, 1, store_pipeline_state_name(state));
	snprintf(what, sizeof what, "list %s pipelines", store_pipeline_state_name(state));
	void *rows = NULL;
	int rc = store_read_rows(s, st, sizeof **ids, read_id_row, NULL, &rows, n, what, err);
	if (rc == 0)
		*ids = rows;
	return rc;
}

/* One UPDATE by id that must touch exactly one row. */
static int update_one(struct store *s, sqlite3_stmt *st, const char *what, int64_t id,
	struct err *err)
{
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s %lld", what, (long long)id);
	else if (sqlite3_changes(s->db) != 1)
		ok = err_set(err, ERR_NOTFOUND, "cannot %s %lld: no such row", what,
			(long long)id) + 1;
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}

int store_pipeline_set_state(struct store *s, int64_t id, enum pipeline_state state,
	const char *error, int64_t now_ms, struct err *err)
{
	const char *what = "set the state of pipeline";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_PIPELINE_STATE);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, store_pipeline_state_name(state));
	store_bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, now_ms);
	return update_one(s, st, what, id, err);
}

int store_pipeline_set_token(struct store *s, int64_t id, const char *token, struct err *err)
{
	const char *what = "set the submit token of pipeline";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_PIPELINE_TOKEN_SET);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, token);
	return update_one(s, st, what, id, err);
}

int store_pipeline_by_token(struct store *s, const char *token, int64_t *id, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_PIPELINE_BY_TOKEN);
	store_bind_text(st, 1, token);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		store_db_fail(s, err, "cannot look up submit token '%.64s'", token);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void free_stage(struct store_stage *g)
{
	free(g->name);
	free(g->kind);
	free(g->spec);
	free(g->error);
	memset(g, 0, sizeof *g);
}

static int read_stage(sqlite3_stmt *st, struct store_stage *g, struct err *err)
{
	memset(g, 0, sizeof *g);
	g->id = sqlite3_column_int64(st, 0);
	g->pipeline = sqlite3_column_int64(st, 1);
	g->name = store_column_dup(st, 2);
	g->kind = store_column_dup(st, 3);
	g->spec = store_column_dup(st, 4);
	g->state = (enum stage_state)parse_name(sqlite3_column_text(st, 5), stage_states,
		STAGE_STATE_COUNT);
	g->step = sqlite3_column_int64(st, 6);
	g->total = sqlite3_column_int64(st, 7);
	g->progress = sqlite3_column_double(st, 8);
	g->error = store_column_dup(st, 9);
	g->created_at = sqlite3_column_int64(st, 10);
	g->started_at = sqlite3_column_int64(st, 11);
	g->finished_at = sqlite3_column_int64(st, 12);
	if (!g->name || !g->kind || !g->spec) {
		free_stage(g);
		return err_set(err, ERR_NOMEM, "cannot read stage: out of memory");
	}
	return 0;
}

void store_stages_free(struct store_stage *st, size_t n)
{
	for (size_t i = 0; st && i < n; i++)
		free_stage(&st[i]);
	free(st);
}

static int read_stage_row(sqlite3_stmt *st, void *g, struct err *err)
{
	return read_stage(st, g, err);
}

static void release_stage_row(void *g)
{
	free_stage(g);
}

int store_stage_list(struct store *s, int64_t pipeline, struct store_stage **out, size_t *n,
	struct err *err)
{
	char what[80];
	sqlite3_stmt *st = store_stmt(s, S_STAGE_LIST);
	sqlite3_bind_int64(st, 1, pipeline);
	snprintf(what, sizeof what, "list the stages of pipeline %lld", (long long)pipeline);
	void *rows = NULL;
	int rc = store_read_rows(s, st, sizeof **out, read_stage_row, release_stage_row,
		&rows, n, what, err);
	if (rc == 0)
		*out = rows;
	return rc;
}

int store_stage_set_state(struct store *s, int64_t id, enum stage_state state,
	const char *error, int64_t now_ms, struct err *err)
{
	const char *what = "set the state of stage";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_STAGE_STATE);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, store_stage_state_name(state));
	store_bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, now_ms);
	return update_one(s, st, what, id, err);
}

int store_stage_set_progress(struct store *s, int64_t id, int64_t step, int64_t total,
	struct err *err)
{
	const char *what = "set the progress of stage";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_STAGE_PROGRESS);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, step);
	sqlite3_bind_int64(st, 3, total);
	sqlite3_bind_double(st, 4, total > 0 ? (double)step / (double)total : 0.0);
	return update_one(s, st, what, id, err);
}

int store_stage_jobs_cancel(struct store *s, int64_t stage, int64_t now_ms,
	int64_t (**held)[2], size_t *nheld, struct err *err)
{
	const char *what = "cancel the jobs of stage";
	int64_t (*h)[2] = NULL;
	size_t cap = 0, k = 0;
	if (store_tx_enter(s, 1, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_STAGE_JOBS_CANCEL);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc, ok = 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			continue; /* it was queued: nobody to tell */
		if (grow((void **)&h, &cap, k, sizeof *h) < 0) {
			err_set(err, ERR_NOMEM, "cannot %s %lld: out of memory", what, (long long)stage);
			ok = 0;
			break;
		}
		h[k][0] = sqlite3_column_int64(st, 0);
		h[k][1] = sqlite3_column_int64(st, 1);
		k++;
	}
	if (ok && rc != SQLITE_DONE) {
		store_db_fail(s, err, "cannot %s %lld", what, (long long)stage);
		ok = 0;
	}
	sqlite3_reset(st);
	if (store_tx_leave(s, 1, ok, err, what) < 0) {
		free(h);
		return -1;
	}
	*held = h;
	*nheld = k;
	return 0;
}

int store_stage_jobs_requeue(struct store *s, int64_t stage, struct err *err)
{
	const char *what = "requeue the jobs of stage";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_STAGE_JOBS_REQUEUE);
	sqlite3_bind_int64(st, 1, stage);
	int ok = store_run(st) == 0, n = ok ? sqlite3_changes(s->db) : 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s %lld", what, (long long)stage);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what) < 0 ? -1 : n;
}

int store_stage_job_failed(struct store *s, int64_t stage, int64_t *job, char **error,
	struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_STAGE_JOB_FAILED);
	sqlite3_bind_int64(st, 1, stage);
	int rc = sqlite3_step(st), result = 0;
	if (rc == SQLITE_ROW) {
		*job = sqlite3_column_int64(st, 0);
		*error = store_column_dup(st, 1);
		result = 1;
	} else if (rc != SQLITE_DONE) {
		result = store_db_fail(s, err, "cannot read the failed jobs of stage %lld",
			(long long)stage);
	}
	sqlite3_reset(st);
	return result;
}

int store_event_list(struct store *s, int64_t pipeline, int64_t after, int64_t limit,
	json_t **out, int64_t *last, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_EVENT_LIST);
	sqlite3_bind_int64(st, 1, pipeline);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, limit);
	json_t *all = json_array();
	int rc = SQLITE_DONE, result = 0;
	*last = after;
	while (all && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *stage = (const char *)sqlite3_column_text(st, 2);
		json_error_t jerr;
		json_t *data = json_loads((const char *)sqlite3_column_text(st, 4), 0, &jerr);
		*last = sqlite3_column_int64(st, 0);
		json_array_append_new(all, json_pack("{sI sI ss? ss so}", "id", (json_int_t)*last,
			"ts", (json_int_t)sqlite3_column_int64(st, 1), "stage", stage, "type",
			(const char *)sqlite3_column_text(st, 3), "data", data ? data : json_object()));
	}
	if (!all)
		result = err_set(err, ERR_NOMEM, "cannot list events: out of memory");
	else if (rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot list the events of pipeline %lld",
			(long long)pipeline);
	sqlite3_reset(st);
	if (result < 0) {
		json_decref(all);
		return -1;
	}
	*out = all;
	return 0;
}

int store_metric_add(struct store *s, int64_t stage, int64_t step, const char *name,
	double value, int64_t now_ms, struct err *err)
{
	const char *what = "record a metric";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_METRIC_ADD);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	store_bind_text(st, 3, name);
	sqlite3_bind_double(st, 4, value);
	sqlite3_bind_int64(st, 5, now_ms);
	return store_insert(s, st, NULL, err, what);
}

int store_metric_last(struct store *s, int64_t stage, const char *name, int64_t *step,
	double *value, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_METRIC_LAST);
	sqlite3_bind_int64(st, 1, stage);
	store_bind_text(st, 2, name);
	int rc = sqlite3_step(st), result = 0;
	if (rc == SQLITE_ROW) {
		*step = sqlite3_column_int64(st, 0);
		*value = sqlite3_column_double(st, 1);
		result = 1;
	} else if (rc != SQLITE_DONE) {
		result = store_db_fail(s, err, "cannot read metric '%s' of stage %lld", name,
			(long long)stage);
	}
	sqlite3_reset(st);
	return result;
}

int store_metric_list(struct store *s, int64_t stage, json_t **out, struct err *err)
{
	return store_metric_list_ts(s, stage, false, out, err);
}

int store_metric_list_ts(struct store *s, int64_t stage, bool with_ts, json_t **out,
	struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_METRIC_LIST);
	sqlite3_bind_int64(st, 1, stage);
	json_t *all = json_object();
	int rc = SQLITE_DONE, result = 0;
	while (all && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		json_t *series = json_object_get(all, name);
		if (!series) {
			series = json_array();
			json_object_set_new(all, name, series);
		}
		json_t *pt = json_pack("[I f]", (json_int_t)sqlite3_column_int64(st, 1),
			sqlite3_column_double(st, 2));
		if (pt && with_ts)
			json_array_append_new(pt, json_integer(sqlite3_column_int64(st, 3)));
		json_array_append_new(series, pt);
	}
	if (!all)
		result = err_set(err, ERR_NOMEM, "cannot list metrics: out of memory");
	else if (rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot list the metrics of stage %lld",
			(long long)stage);
	sqlite3_reset(st);
	if (result < 0) {
		json_decref(all);
		return -1;
	}
	*out = all;
	return 0;
}
