#include "scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "broker.h"
#include "daemon.h"
#include "datasets.h"
#include "events.h"
#include "imports.h"
#include "learner.h"
#include "names.h"
#include "rewardfiles.h"
#include "spec.h"
#include "stage.h"
#include "tokenizers.h"

/* A stage waiting out a transient error: tried again at `at` (monotonic ms); the
 * next wait is `delay`, doubled after each failed try up to SCHED_BACKOFF_MAX_MS.
 * delay 0: it waits for its model directory's import (imports.h) instead, and is tried
 * again as soon as that thread is done (it wakes the loop). */
struct sched_backoff {
	int64_t stage, at, delay;
};

#define SCHED_BACKOFF_MIN_MS 1000
#define SCHED_BACKOFF_MAX_MS 60000

static struct sched_backoff *backoff_find(struct daemon *d, int64_t stage)
{
	for (size_t i = 0; i < d->nbackoff; i++)
		if (d->backoff[i].stage == stage)
			return &d->backoff[i];
	return NULL;
}

/* 1 while `stage` waits out its back-off. */
static int backing_off(struct daemon *d, int64_t stage)
{
	struct sched_backoff *b = backoff_find(d, stage);
	if (b && b->delay == 0)
		return import_working(d);
	return b && d->now < b->at;
}

static void backoff_clear(struct daemon *d, int64_t stage)
{
	struct sched_backoff *b = backoff_find(d, stage);
	if (b)
		*b = d->backoff[--d->nbackoff];
}

/* Start or lengthen the stage's back-off; the wait in ms (0: out of memory, the
 * stage is simply tried on the next run). */
static int64_t backoff_grow(struct daemon *d, int64_t stage)
{
	struct sched_backoff *b = backoff_find(d, stage);
	if (!b) {
		struct sched_backoff *grown = realloc(d->backoff, (d->nbackoff + 1) * sizeof *grown);
		if (!grown)
			return 0;
		d->backoff = grown;
		b = &d->backoff[d->nbackoff++];
		*b = (struct sched_backoff){ stage, 0, SCHED_BACKOFF_MIN_MS };
	}
	int64_t wait = b->delay;
	b->at = d->now + wait;
	b->delay = wait * 2 < SCHED_BACKOFF_MAX_MS ? wait * 2 : SCHED_BACKOFF_MAX_MS;
	return wait;
}

/* `stage` waits for the import in progress (not tried again until it is done). */
static void backoff_import(struct daemon *d, int64_t stage)
{
	if (backoff_grow(d, stage) > 0)
		backoff_find(d, stage)->delay = 0;
}

/* The pipeline error of a full disk: where, the failure, and what to do. */
static void nospace_text(char *out, size_t size, int64_t pipeline, const char *where,
	const char *why)
{
	snprintf(out, size, "No space left on device: %s (%s); free space there, then "
		"'r1flow resume %lld'", where, why, (long long)pipeline);
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	return json_is_object(v) ? v : (json_decref(v), json_object());
}

/* Cancel a stage's queued and leased jobs; holders get CANCEL. */
static int cancel_jobs(struct daemon *d, int64_t stage, struct err *err)
{
	int64_t (*held)[2] = NULL;
	size_t n = 0;
	if (store_stage_jobs_cancel(d->store, stage, d->wall, &held, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		broker_cancelled(d, held[i][0], held[i][1]);
	free(held);
	return 0;
}

static int set_stage(struct daemon *d, struct store_stage *st, enum stage_state state,
	const char *error, struct err *err)
{
	if (store_stage_set_state(d->store, st->id, state, error, d->wall, err) < 0)
		return -1;
	st->state = state;
	if (state == STAGE_FAILED || state == STAGE_CANCELLED)
		learner_close(d, st->id); /* a retry rebuilds it from the last checkpoint */
	free(st->error);
	st->error = error ? strdup(error) : NULL;
	char type[32];
	snprintf(type, sizeof type, "stage_%s", state == STAGE_RUNNING ? "started" :
		store_stage_state_name(state));
	if (state == STAGE_PENDING)
		return 0;
	events_emit_for(d, st->pipeline, st->id, type, json_pack("{ss ss ss?}", "stage", st->name,
		"kind", st->kind, "error", error));
	return 0;
}

static int set_pipeline(struct daemon *d, struct store_pipeline *p,
	enum pipeline_state state, const char *event, const char *error, struct err *err)
{
	if (store_pipeline_set_state(d->store, p->id, state, error, d->wall, err) < 0)
		return -1;
	p->state = state;
	events_emit_for(d, p->id, 0, event, json_pack("{ss ss?}", "name", p->name, "error",
		error));
	if (state == PIPELINE_SUCCEEDED || state == PIPELINE_FAILED)
		log_info("pipeline %lld '%s' %s%s%s", (long long)p->id, p->name,
			store_pipeline_state_name(state), error ? ": " : "", error ? error : "");
	return 0;
}

/* Start a pending stage: running, then its driver's start. A driver that cannot
 * start fails the stage (not the turn) when the cause is permanent; a transient
 * cause puts it back to pending, to start again after a back-off, and a full disk
 * is also copied to *nospace (may be NULL) for the caller to pause the pipeline. */
static int start_stage(struct daemon *d, struct store_pipeline *p, json_t *pspec,
	struct store_stage *st, struct err *nospace, struct err *err)
{
	const struct stage_driver *drv = stage_driver_find(st->kind);
	if (set_stage(d, st, STAGE_RUNNING, NULL, err) < 0)
		return -1;
	struct err why = { 0 };
	if (!drv) {
		err_set(&why, ERR_INVALID, "this build has no driver for stage kind '%s'", st->kind);
	} else {
		json_t *spec = parse(st->spec);
		struct stage_ctx c = { d, p, st, spec, pspec };
		int rc = store_unit_begin(d->store, err) < 0 ? -1 : drv->start(&c, &why);
		json_decref(spec);
		if (store_unit_end(d->store, rc == 0, err) < 0 && rc == 0)
			return -1;
		if (rc < 0 && why.errnum == EINPROGRESS && !learner_preparing(d, st->id)) {
			/* its model directory is being stored as a blob (imports.h): the start
			 * was rolled back; start again when the thread wakes the loop */
			backoff_import(d, st->id);
			log_debug("pipeline %lld: stage '%s' waits: %s", (long long)p->id, st->name,
				why.msg);
			return set_stage(d, st, STAGE_PENDING, NULL, err);
		}
		if (rc == 0 || why.errnum == EINPROGRESS) {
			/* EINPROGRESS: its learner is being prepared off the loop; the stage is
			 * running and its driver's advance carries the start on when it is ready */
			backoff_clear(d, st->id);
			log_info("pipeline %lld: stage '%s' (%s) started%s", (long long)p->id, st->name,
				st->kind, rc == 0 ? "" : " (preparing its learner)");
			return 0;
		}
		if (err_transient(&why)) {
			learner_close(d, st->id); /* its start was rolled back */
			if (err_nospace(&why) && nospace) {
				*nospace = why;
			} else {
				log_error("pipeline %lld: stage '%s' cannot start: %s; trying again in "
					"%lld ms", (long long)p->id, st->name, why.msg,
					(long long)backoff_grow(d, st->id));
			}
			return set_stage(d, st, STAGE_PENDING, NULL, err);
		}
	}
	backoff_clear(d, st->id);
	return set_stage(d, st, STAGE_FAILED, why.msg, err);
}

int scheduler_stage_ready(const struct store_stage *st, const struct store_stage *all,
	size_t n)
{
	json_t *spec = parse(st->spec), *dep;
	size_t i;
	int ok = 1;
	json_array_foreach(json_object_get(spec, "deps"), i, dep) {
		int found = 0;
		for (size_t k = 0; k < n; k++)
			if (strcmp(all[k].name, json_string_value(dep) ? json_string_value(dep) : "") == 0)
				found = all[k].state == STAGE_SUCCEEDED;
		ok &= found;
	}
	json_decref(spec);
	return ok;
}

/* Stop the pipeline's live stages: cancel their jobs; `to` their new state. */
static int stop_stages(struct daemon *d, struct store_stage *st, size_t n, int pending_too,
	enum stage_state to, struct err *err)
{
	for (size_t i = 0; i < n; i++) {
		int live = st[i].state == STAGE_RUNNING || st[i].state == STAGE_PAUSED;
		if (!live && !(pending_too && st[i].state == STAGE_PENDING))
			continue;
		if (live && cancel_jobs(d, st[i].id, err) < 0)
			return -1;
		if (set_stage(d, &st[i], to, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* Pause pipeline p (stages st[0..n)) for a full disk at `where`. */
static int wait_for_space(struct daemon *d, struct store_pipeline *p, struct store_stage *st,
	size_t n, const char *where, const char *why, struct err *err)
{
	char error[900];
	nospace_text(error, sizeof error, p->id, where, why);
	log_error("pipeline %lld '%s' paused: %s", (long long)p->id, p->name, error);
	if (stop_stages(d, st, n, 0, STAGE_PAUSED, err) < 0)
		return -1;
	return set_pipeline(d, p, PIPELINE_PAUSED, "pipeline_paused", error, err);
}

static int run_pipeline(struct daemon *d, struct store_pipeline *p, struct err *err)
{
	struct store_stage *st = NULL;
	size_t n = 0;
	json_t *pspec = parse(p->spec);
	struct err nospace = { 0 };
	int rc = -1;
	if (store_stage_list(d->store, p->id, &st, &n, err) < 0)
		goto out;
	/* 1. advance */
	for (size_t i = 0; i < n; i++) {
		const struct stage_driver *drv = stage_driver_find(st[i].kind);
		if (st[i].state != STAGE_RUNNING || !drv || backing_off(d, st[i].id))
			continue;
		json_t *spec = parse(st[i].spec);
		struct stage_ctx c = { d, p, &st[i], spec, pspec };
		enum stage_state next = STAGE_RUNNING;
		struct err why = { 0 };
		int arc = drv->advance(&c, &next, &why);
		json_decref(spec);
		if (arc < 0 && why.errnum == EINPROGRESS)
			continue; /* a learner being prepared: see start_stage */
		if (arc < 0) /* memory may be ahead of the store (a step applied, its blob not
		              * written): the stage's learner is rebuilt from its checkpoint */
			learner_close(d, st[i].id);
		if (arc < 0 && err_nospace(&why)) {
			nospace = why;
			break;
		}
		if (arc < 0 && err_transient(&why)) {
			/* a busy database, memory: the same again later can succeed */
			log_error("pipeline %lld: stage '%s': %s; trying again in %lld ms",
				(long long)p->id, st[i].name, why.msg, (long long)backoff_grow(d, st[i].id));
			continue;
		}
		if (arc < 0) /* missing or malformed input: no retry will fix it */
			next = STAGE_FAILED;
		else
			backoff_clear(d, st[i].id);
		if (next != STAGE_RUNNING &&
			set_stage(d, &st[i], next, next == STAGE_FAILED ? why.msg : NULL, err) < 0)
			goto out;
	}
	/* 3. start what is ready (a stage that cannot start fails at once) */
	for (size_t i = 0; i < n && !nospace.code; i++)
		if (st[i].state == STAGE_PENDING && scheduler_stage_ready(&st[i], st, n) &&
			!backing_off(d, st[i].id) && start_stage(d, p, pspec, &st[i], &nospace, err) < 0)
			goto out;
	/* a full disk pauses the pipeline: nothing is lost, resume carries on */
	if (nospace.code) {
		rc = wait_for_space(d, p, st, n, d->dir.root, nospace.msg, err);
		goto out;
	}
	/* 2. a failed stage fails the pipeline */
	for (size_t i = 0; i < n; i++) {
		if (st[i].state != STAGE_FAILED)
			continue;
		char error[700];
		snprintf(error, sizeof error, "stage '%s' failed: %s", st[i].name,
			st[i].error ? st[i].error : "see its events");
		if (stop_stages(d, st, n, 0, STAGE_CANCELLED, err) < 0 ||
			set_pipeline(d, p, PIPELINE_FAILED, "pipeline_failed", error, err) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	/* 4. all succeeded */
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += st[i].state == STAGE_SUCCEEDED;
	if (ok == n && set_pipeline(d, p, PIPELINE_SUCCEEDED, "pipeline_succeeded", NULL, err) < 0)
		goto out;
	rc = 0;
out:
	store_stages_free(st, n);
	json_decref(pspec);
	return rc;
}

void scheduler_run(struct daemon *d)
{
	int64_t *ids = NULL;
	size_t n = 0;
	struct err err = { 0 };
	if (store_pipeline_ids(d->store, PIPELINE_RUNNING, &ids, &n, &err) < 0) {
		log_error("%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_pipeline p;
		if (store_pipeline_get(d->store, ids[i], &p, &err) != 1)
			continue;
		if (store_unit_begin(d->store, &err) == 0) {
			int rc = run_pipeline(d, &p, &err);
			if (rc < 0)
				log_error("pipeline %lld: %s", (long long)p.id, err.msg);
			store_unit_end(d->store, rc == 0, &err);
		}
		store_pipeline_release(&p);
	}
	free(ids);
}

int scheduler_wait_for_space(struct daemon *d, int64_t stage, const char *where,
	const char *why)
{
	int64_t *ids = NULL;
	size_t nids = 0;
	struct err err = { 0 };
	int done = 0;
	if (store_pipeline_ids(d->store, PIPELINE_RUNNING, &ids, &nids, &err) < 0)
		goto out;
	for (size_t i = 0; i < nids && !done && !err.code; i++) {
		struct store_pipeline p;
		struct store_stage *st = NULL;
		size_t n = 0;
		if (store_pipeline_get(d->store, ids[i], &p, &err) != 1)
			continue;
		if (store_stage_list(d->store, p.id, &st, &n, &err) == 0)
			for (size_t k = 0; k < n; k++)
				done |= st[k].id == stage;
		if (done && store_unit_begin(d->store, &err) == 0) {
			int rc = wait_for_space(d, &p, st, n, where, why, &err);
			if (store_unit_end(d->store, rc == 0, &err) < 0 || rc < 0)
				done = 0;
		}
		store_stages_free(st, n);
		store_pipeline_release(&p);
	}
out:
	free(ids);
	if (err.code)
		log_error("%s", err.msg);
	return done ? 0 : -1;
}

/* rewardfiles.h's put: a reward program's file becomes a blob. */
static int submit_put_blob(void *ctx, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	struct err *err)
{
	return blobs_put(ctx, data, size, hex, err);
}

int scheduler_submit(struct daemon *d, json_t *spec, const char *source, const char *token,
	int64_t *id, int *existing, struct err *err)
{
	*existing = 0;
	if (token) { /* asked again after a timeout: the pipeline it made already */
		int found = store_pipeline_by_token(d->store, token, id, err);
		if (found != 0) {
			if (found == 1) {
				*existing = 1;
				log_info("pipeline %lld: submitted again with the same token: not run twice",
					(long long)*id);
			}
			return found < 0 ? -1 : 0;
		}
	}
	if (spec_check_json(spec, err) < 0 || stage_model_resolve(d, spec, err) < 0 ||
		tokenizers_pin(d, spec, err) < 0 || rewardfiles_pin(spec, submit_put_blob, d, err) < 0)
		return -1;
	const char *name = json_string_value(json_object_get(spec, "name"));
	int64_t seed = json_integer_value(json_object_get(spec, "seed"));
	char *text = json_dumps(spec, JSON_COMPACT);
	json_t *stage;
	size_t i;
	int ok = 0;
	if (!text)
		return err_set(err, ERR_NOMEM, "cannot submit: out of memory");
	if (store_unit_begin(d->store, err) < 0) {
		free(text);
		return -1;
	}
	if (store_pipeline_add(d->store, name, source, text, seed, d->wall, id, err) < 0 ||
		(token && store_pipeline_set_token(d->store, *id, token, err) < 0))
		goto out;
	json_array_foreach(json_object_get(spec, "stages"), i, stage) {
		const char *kind = json_string_value(json_object_get(stage, "kind"));
		json_t *jobs = json_object_get(stage, "jobs");
		char *stext = json_dumps(stage, JSON_COMPACT);
		int64_t sid;
		int rc = stext ? store_stage_add(d->store, *id,
			json_string_value(json_object_get(stage, "name")), kind, stext,
			json_is_integer(jobs) ? json_integer_value(jobs) : 0, d->wall, &sid, err) :
			err_set(err, ERR_NOMEM, "cannot submit: out of memory");
		free(stext);
		if (rc < 0)
			goto out;
	}
	if (datasets_materialize(d, *id, spec, err) < 0 ||
		datasets_fit(d, *id, spec, err) < 0 ||
		store_pipeline_set_state(d->store, *id, PIPELINE_RUNNING, NULL, d->wall, err) < 0)
		goto out;
	ok = 1;
out:
	free(text);
	if (store_unit_end(d->store, ok, err) < 0 || !ok)
		return -1;
	events_emit_for(d, *id, 0, "pipeline_submitted", json_pack("{ss sI}", "name", name,
		"stages", (json_int_t)json_array_size(json_object_get(spec, "stages"))));
	log_info("pipeline %lld '%s' submitted: %zu stage(s)", (long long)*id, name,
		json_array_size(json_object_get(spec, "stages")));
	/* its stages start in the next turn: the reply goes out with this one, before a
	 * first stage's start-up (initial weights) can delay it */
	d->schedule_next = 1;
	return 0;
}

static const char *const action_names[] = {
	[SCHED_CANCEL] = "cancel", [SCHED_PAUSE] = "pause", [SCHED_RESUME] = "resume",
	[SCHED_RETRY] = "retry",
};

/* The action on pipeline p and its stages st[0..n). */
static int act(struct daemon *d, struct store_pipeline *p, struct store_stage *st, size_t n,
	enum scheduler_action action, struct err *err)
{
	json_t *pspec;
	struct err nospace = { 0 };
	switch (action) {
	case SCHED_CANCEL:
		if (stop_stages(d, st, n, 1, STAGE_CANCELLED, err) < 0)
			return -1;
		return set_pipeline(d, p, PIPELINE_CANCELLED, "pipeline_cancelled", NULL, err);
	case SCHED_PAUSE:
		if (stop_stages(d, st, n, 0, STAGE_PAUSED, err) < 0)
			return -1;
		return set_pipeline(d, p, PIPELINE_PAUSED, "pipeline_paused", NULL, err);
	case SCHED_RESUME:
		if (set_pipeline(d, p, PIPELINE_RUNNING, "pipeline_resumed", NULL, err) < 0)
			return -1;
		pspec = parse(p->spec);
		for (size_t i = 0; i < n && !nospace.code; i++) {
			backoff_clear(d, st[i].id);
			if (st[i].state == STAGE_PAUSED &&
				start_stage(d, p, pspec, &st[i], &nospace, err) < 0) {
				json_decref(pspec);
				return -1;
			}
		}
		json_decref(pspec);
		/* still no space: paused again, with the reason */
		return nospace.code ? wait_for_space(d, p, st, n, d->dir.root, nospace.msg, err) : 0;
	case SCHED_RETRY:
		for (size_t i = 0; i < n; i++)
			backoff_clear(d, st[i].id);
		for (size_t i = 0; i < n; i++)
			if ((st[i].state == STAGE_FAILED || st[i].state == STAGE_CANCELLED) &&
				set_stage(d, &st[i], STAGE_PENDING, NULL, err) < 0)
				return -1;
		return set_pipeline(d, p, PIPELINE_RUNNING, "pipeline_retried", NULL, err);
	}
	return err_set(err, ERR_INVALID, "unknown action");
}

int scheduler_act(struct daemon *d, int64_t id, enum scheduler_action action,
	const char **state, struct err *err)
{
	struct store_pipeline p;
	int rc = store_pipeline_get(d->store, id, &p, err);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)id);
	static const unsigned allowed[] = {
		[SCHED_CANCEL] = 1u << PIPELINE_QUEUED | 1u << PIPELINE_RUNNING | 1u << PIPELINE_PAUSED,
		[SCHED_PAUSE] = 1u << PIPELINE_RUNNING,
		[SCHED_RESUME] = 1u << PIPELINE_PAUSED,
		[SCHED_RETRY] = 1u << PIPELINE_FAILED | 1u << PIPELINE_CANCELLED,
	};
	if (!(allowed[action] & 1u << p.state)) {
		err_set(err, ERR_INVALID, "cannot %s pipeline %lld: it is %s", action_names[action],
			(long long)id, store_pipeline_state_name(p.state));
		store_pipeline_release(&p);
		return -1;
	}
	struct store_stage *st = NULL;
	size_t n = 0;
	rc = -1;
	if (store_unit_begin(d->store, err) == 0) {
		if (store_stage_list(d->store, id, &st, &n, err) == 0)
			rc = act(d, &p, st, n, action, err);
		if (store_unit_end(d->store, rc == 0, err) < 0)
			rc = -1;
	}
	store_stages_free(st, n);
	if (rc == 0) {
		log_info("pipeline %lld '%s': %s -> %s", (long long)id, p.name, action_names[action],
			store_pipeline_state_name(p.state));
		*state = store_pipeline_state_name(p.state);
		scheduler_run(d);
	}
	store_pipeline_release(&p);
	return rc;
}

static json_t *time_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

/* The stage's headline metric, latest value: {name, value, step}, or null. */
static json_t *headline(struct daemon *d, const struct store_stage *st)
{
	static const struct { const char *kind, *metric; } by_kind[] = {
		{ NAME_STAGE_PRETRAIN, "loss" }, { NAME_STAGE_SFT, "loss" },
		{ NAME_STAGE_GRPO, "reward_mean" }, { NAME_STAGE_EVAL, "pass1" },
		{ NAME_STAGE_REJECT, "kept" }, { NAME_STAGE_MERGE, "count" },
	};
	int64_t step;
	double value;
	struct err err = { 0 };
	for (size_t i = 0; i < sizeof by_kind / sizeof by_kind[0]; i++)
		if (!strcmp(by_kind[i].kind, st->kind) &&
			store_metric_last(d->store, st->id, by_kind[i].metric, &step, &value, &err) == 1)
			return json_pack("{ss sf sI}", "name", by_kind[i].metric, "value", value, "step",
				(json_int_t)step);
	return json_null();
}

static json_t *describe_stage(struct daemon *d, const struct store_stage *st)
{
	const struct stage_driver *drv = stage_driver_find(st->kind);
	json_t *spec = parse(st->spec), *deps = json_object_get(spec, "deps");
	double secs = st->started_at ? (double)((st->finished_at ? st->finished_at : d->wall) -
		st->started_at) / 1000.0 : 0.0;
	double rate = secs > 0 ? (double)st->step / secs : 0.0;
	json_t *eta = st->state == STAGE_RUNNING && rate > 0 ?
		json_real((double)(st->total - st->step) / rate) : json_null();
	json_t *o = json_pack("{sI ss ss ss sO sI sI ss sf sf so so ss? so so}",
		"id", (json_int_t)st->id, "name", st->name, "kind", st->kind,
		"state", store_stage_state_name(st->state), "deps", deps ? deps : json_array(),
		"step", (json_int_t)st->step, "total", (json_int_t)st->total,
		"unit", drv ? drv->unit : "steps", "progress", st->progress, "rate", rate,
		"eta_s", eta, "metric", headline(d, st), "error", st->error,
		"started_at", time_or_null(st->started_at),
		"finished_at", time_or_null(st->finished_at));
	json_decref(spec);
	return o;
}

json_t *scheduler_describe(struct daemon *d, int64_t id, struct err *err)
{
	struct store_pipeline p;
	int rc = store_pipeline_get(d->store, id, &p, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)id);
		return NULL;
	}
	struct store_stage *st = NULL;
	size_t n = 0;
	json_t *out = NULL;
	if (store_stage_list(d->store, id, &st, &n, err) == 0) {
		json_t *stages = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(stages, describe_stage(d, &st[i]));
		out = json_pack("{s{sI ss ss ss? sI so so so so} so sI}",
			"pipeline", "id", (json_int_t)p.id, "name", p.name,
			"state", store_pipeline_state_name(p.state), "error", p.error,
			"seed", (json_int_t)p.seed, "created_at", json_integer(p.created_at),
			"started_at", time_or_null(p.started_at),
			"finished_at", time_or_null(p.finished_at), "spec", parse(p.spec),
			"stages", stages, "workers", (json_int_t)broker_count(d->broker));
		store_stages_free(st, n);
	}
	store_pipeline_release(&p);
	if (!out && !err->code)
		err_set(err, ERR_NOMEM, "cannot describe pipeline %lld: out of memory",
			(long long)id);
	return out;
}

json_t *scheduler_list(struct daemon *d, struct err *err)
{
	struct store_pipeline *all = NULL;
	size_t n = 0;
	if (store_pipeline_list(d->store, &all, &n, err) < 0)
		return NULL;
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{sI ss ss ss? sI so so sI sI}",
			"id", (json_int_t)all[i].id, "name", all[i].name,
			"state", store_pipeline_state_name(all[i].state), "error", all[i].error,
			"created_at", (json_int_t)all[i].created_at,
			"started_at", time_or_null(all[i].started_at),
			"finished_at", time_or_null(all[i].finished_at),
			"stages", (json_int_t)all[i].stages,
			"stages_succeeded", (json_int_t)all[i].stages_succeeded));
	store_pipelines_free(all, n);
	return json_pack("{so}", "pipelines", list);
}
