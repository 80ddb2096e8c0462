/*
 * store_dataset — datasets, records and checkpoints (store.h); SQL text in store.c's
 * table, helpers in store_int.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int store_dataset_add(struct store *s, int64_t pipeline, const char *name,
	const char *source, int64_t now_ms, int64_t *id, struct err *err)
{
	const char *what = "add a dataset";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_DATASET_ADD);
	store_bind_id(st, 1, pipeline);
	store_bind_text(st, 2, name);
	store_bind_text(st, 3, source);
	sqlite3_bind_int64(st, 4, now_ms);
	return store_insert(s, st, id, err, what);
}

int store_dataset_find(struct store *s, int64_t pipeline, const char *name, int64_t *id,
	int64_t *count, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_DATASET_FIND);
	sqlite3_bind_int64(st, 1, pipeline);
	store_bind_text(st, 2, name);
	int rc = sqlite3_step(st), result = 0;
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (count)
			*count = sqlite3_column_int64(st, 1);
		result = 1;
	} else if (rc != SQLITE_DONE) {
		result = store_db_fail(s, err, "cannot look up dataset '%s'", name);
	}
	sqlite3_reset(st);
	return result;
}

int store_dataset_set_count(struct store *s, int64_t id, int64_t count, struct err *err)
{
	const char *what = "count the records of dataset";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_DATASET_COUNT);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, count);
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot %s %lld", what, (long long)id);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}

int store_dataset_list(struct store *s, int64_t pipeline, json_t **out, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_DATASET_LIST);
	store_bind_id(st, 1, pipeline);
	json_t *all = json_array();
	int rc = SQLITE_DONE, result = 0;
	while (all && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_error_t jerr;
		json_t *source = json_loads((const char *)sqlite3_column_text(st, 3), 0, &jerr);
		json_t *pl = sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null() :
			json_integer(sqlite3_column_int64(st, 1));
		json_array_append_new(all, json_pack("{sI so ss? ss so sI sI}",
			"id", (json_int_t)sqlite3_column_int64(st, 0), "pipeline", pl,
			"pipeline_name", (const char *)sqlite3_column_text(st, 6),
			"name", (const char *)sqlite3_column_text(st, 2),
			"source", source ? source : json_object(),
			"count", (json_int_t)sqlite3_column_int64(st, 4),
			"created_at", (json_int_t)sqlite3_column_int64(st, 5)));
	}
	if (!all)
		result = err_set(err, ERR_NOMEM, "cannot list datasets: out of memory");
	else if (rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot list datasets");
	sqlite3_reset(st);
	if (result < 0) {
		json_decref(all);
		return -1;
	}
	*out = all;
	return 0;
}

int store_record_add(struct store *s, int64_t dataset, int64_t idx,
	const struct store_record *r, struct err *err)
{
	const char *what = "add a record";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_RECORD_ADD);
	sqlite3_bind_int64(st, 1, dataset);
	sqlite3_bind_int64(st, 2, idx);
	store_bind_text(st, 3, r->prompt);
	store_bind_text(st, 4, r->answer);
	store_bind_text(st, 5, r->response);
	store_bind_text(st, 6, r->text);
	store_bind_text(st, 7, r->meta);
	store_bind_text(st, 8, r->messages);
	store_bind_text(st, 9, r->record);
	return store_insert(s, st, NULL, err, what);
}

int store_record_get(struct store *s, int64_t dataset, int64_t idx, struct store_record *r,
	struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_RECORD_GET);
	sqlite3_bind_int64(st, 1, dataset);
	sqlite3_bind_int64(st, 2, idx);
	int rc = sqlite3_step(st), result = 0;
	memset(r, 0, sizeof *r);
	if (rc == SQLITE_ROW) {
		r->prompt = store_column_dup(st, 0);
		r->answer = store_column_dup(st, 1);
		r->response = store_column_dup(st, 2);
		r->text = store_column_dup(st, 3);
		r->meta = store_column_dup(st, 4);
		r->messages = store_column_dup(st, 5);
		r->record = store_column_dup(st, 6);
		result = 1;
	} else if (rc != SQLITE_DONE) {
		result = store_db_fail(s, err, "cannot read record %lld of dataset %lld",
			(long long)idx, (long long)dataset);
	}
	sqlite3_reset(st);
	return result;
}

void store_record_release(struct store_record *r)
{
	free(r->prompt);
	free(r->answer);
	free(r->response);
	free(r->text);
	free(r->meta);
	free(r->messages);
	free(r->record);
	memset(r, 0, sizeof *r);
}

int store_checkpoint_add(struct store *s, int64_t stage, int64_t step, const char *sha256,
	const char *opt, const char *config, int64_t now_ms, struct err *err)
{
	const char *what = "record a checkpoint";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_CHECKPOINT_ADD);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	store_bind_text(st, 3, sha256);
	store_bind_text(st, 4, opt && *opt ? opt : NULL);
	store_bind_text(st, 5, config);
	sqlite3_bind_int64(st, 6, now_ms);
	return store_insert(s, st, NULL, err, what);
}

static int read_checkpoint(struct store *s, sqlite3_stmt *st, int64_t stage,
	struct store_checkpoint *c, struct err *err)
{
	int rc = sqlite3_step(st), result = 0;
	memset(c, 0, sizeof *c);
	if (rc == SQLITE_ROW) {
		const unsigned char *sha = sqlite3_column_text(st, 1), *opt = sqlite3_column_text(st, 2);
		c->step = sqlite3_column_int64(st, 0);
		snprintf(c->sha256, sizeof c->sha256, "%s", sha ? (const char *)sha : "");
		snprintf(c->optimizer, sizeof c->optimizer, "%s", opt ? (const char *)opt : "");
		c->config = store_column_dup(st, 3);
		result = c->config ? 1 : err_set(err, ERR_NOMEM, "cannot read checkpoint: out of memory");
	} else if (rc != SQLITE_DONE) {
		result = store_db_fail(s, err, "cannot read the checkpoints of stage %lld",
			(long long)stage);
	}
	sqlite3_reset(st);
	return result;
}

int store_checkpoint_last(struct store *s, int64_t stage, int with_optimizer,
	struct store_checkpoint *c, struct err *err)
{
	if (with_optimizer)
		return store_checkpoint_before(s, stage, INT64_MAX, c, err);
	sqlite3_stmt *st = store_stmt(s, S_CHECKPOINT_LAST);
	sqlite3_bind_int64(st, 1, stage);
	return read_checkpoint(s, st, stage, c, err);
}

int store_checkpoint_before(struct store *s, int64_t stage, int64_t before,
	struct store_checkpoint *c, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_CHECKPOINT_LAST_OPT);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, before);
	return read_checkpoint(s, st, stage, c, err);
}

int store_checkpoint_at(struct store *s, int64_t stage, int64_t step,
	struct store_checkpoint *c, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_CHECKPOINT_AT);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	return read_checkpoint(s, st, stage, c, err);
}

int store_sample_add(struct store *s, int64_t stage, const struct store_sample *x,
	struct err *err)
{
	const char *what = "record a sample";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_SAMPLE_ADD);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, x->step);
	sqlite3_bind_int64(st, 3, x->idx);
	sqlite3_bind_int64(st, 4, x->record);
	store_bind_text(st, 5, x->text ? x->text : "");
	sqlite3_bind_int64(st, 6, x->tokens);
	store_bind_text(st, 7, x->rewards);
	sqlite3_bind_double(st, 8, x->advantage);
	store_bind_text(st, 9, x->finish);
	if (x->dataset)
		store_bind_text(st, 10, x->dataset);
	else
		sqlite3_bind_null(st, 10);
	if (x->correct >= 0)
		sqlite3_bind_int(st, 11, x->correct != 0);
	else
		sqlite3_bind_null(st, 11);
	return store_insert(s, st, NULL, err, what);
}

int store_sample_list(struct store *s, int64_t stage, int64_t step, int64_t offset,
	int64_t limit, json_t **out, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_SAMPLE_LIST);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, offset);
	json_t *all = json_array();
	int rc = SQLITE_DONE, result = 0;
	while (all && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_error_t jerr;
		json_t *rw = json_loads((const char *)sqlite3_column_text(st, 5), 0, &jerr);
		json_t *x = json_pack("{sI sI sI ss sI so sf ss}",
			"step", (json_int_t)sqlite3_column_int64(st, 0),
			"idx", (json_int_t)sqlite3_column_int64(st, 1),
			"record", (json_int_t)sqlite3_column_int64(st, 2),
			"text", (const char *)sqlite3_column_text(st, 3),
			"tokens", (json_int_t)sqlite3_column_int64(st, 4),
			"rewards", rw ? rw : json_object(), "advantage", sqlite3_column_double(st, 6),
			"finish", (const char *)sqlite3_column_text(st, 7));
		if (x && sqlite3_column_type(st, 8) != SQLITE_NULL)
			json_object_set_new(x, "dataset", json_string((const char *)
				sqlite3_column_text(st, 8)));
		if (x && sqlite3_column_type(st, 9) != SQLITE_NULL)
			json_object_set_new(x, "correct", json_boolean(sqlite3_column_int(st, 9)));
		json_array_append_new(all, x);
	}
	if (!all)
		result = err_set(err, ERR_NOMEM, "cannot list samples: out of memory");
	else if (rc != SQLITE_DONE)
		result = store_db_fail(s, err, "cannot list the samples of stage %lld",
			(long long)stage);
	sqlite3_reset(st);
	if (result < 0) {
		json_decref(all);
		return -1;
	}
	*out = all;
	return 0;
}

static int read_checkpoint_row(sqlite3_stmt *st, void *element, struct err *err)
{
	struct store_checkpoint *c = element;
	const unsigned char *sha = sqlite3_column_text(st, 1), *opt = sqlite3_column_text(st, 2);
	(void)err;
	memset(c, 0, sizeof *c);
	c->step = sqlite3_column_int64(st, 0);
	snprintf(c->sha256, sizeof c->sha256, "%s", sha ? (const char *)sha : "");
	snprintf(c->optimizer, sizeof c->optimizer, "%s", opt ? (const char *)opt : "");
	return 0;
}

int store_checkpoint_list(struct store *s, int64_t stage, struct store_checkpoint **out,
	size_t *n, struct err *err)
{
	char what[80];
	sqlite3_stmt *st = store_stmt(s, S_CHECKPOINT_LIST);
	sqlite3_bind_int64(st, 1, stage);
	snprintf(what, sizeof what, "list the checkpoints of stage %lld", (long long)stage);
	void *rows = NULL;
	int rc = store_read_rows(s, st, sizeof **out, read_checkpoint_row, NULL, &rows, n, what,
		err);
	*out = rows;
	return rc;
}

int store_checkpoint_delete(struct store *s, int64_t stage, int64_t step, struct err *err)
{
	const char *what = "delete a checkpoint";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_CHECKPOINT_DELETE);
	sqlite3_bind_int64(st, 1, stage);
	sqlite3_bind_int64(st, 2, step);
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot delete the checkpoint of stage %lld, step %lld",
			(long long)stage, (long long)step);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}

int store_blob_referenced(struct store *s, const char *sha256, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_BLOB_REFERENCED);
	store_bind_text(st, 1, sha256);
	int rc = sqlite3_step(st), result;
	if (rc == SQLITE_ROW)
		result = sqlite3_column_int(st, 0) != 0;
	else
		result = store_db_fail(s, err, "cannot look up the uses of blob %s", sha256);
	sqlite3_reset(st);
	return result;
}

int store_dataset_user(struct store *s, const char *name, int64_t pipeline, int64_t *user,
	char **user_name, struct err *err)
{
	sqlite3_stmt *st = store_stmt(s, S_DATASET_USER);
	store_bind_text(st, 1, name);
	store_bind_id(st, 2, pipeline);
	int rc = sqlite3_step(st), result = 0;
	if (rc == SQLITE_ROW) {
		*user = sqlite3_column_int64(st, 0);
		*user_name = store_column_dup(st, 1);
		result = *user_name ? 1 : err_set(err, ERR_NOMEM, "cannot read a pipeline's name: "
			"out of memory");
	} else if (rc != SQLITE_DONE) {
		result = store_db_fail(s, err, "cannot look up the pipelines that use dataset '%s'",
			name);
	}
	sqlite3_reset(st);
	return result;
}

int store_dataset_delete(struct store *s, int64_t id, struct err *err)
{
	const char *what = "delete a dataset";
	if (store_tx_enter(s, 0, err, what) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(s, S_DATASET_DELETE);
	sqlite3_bind_int64(st, 1, id);
	int ok = store_run(st) == 0;
	if (!ok)
		store_db_fail(s, err, "cannot delete dataset %lld", (long long)id);
	sqlite3_reset(st);
	return store_tx_leave(s, 0, ok, err, what);
}
