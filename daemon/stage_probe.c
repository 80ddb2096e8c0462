/*
 * stage_probe — the diagnostic stage: `jobs` probe jobs (shard 0..jobs-1), each
 * echoing `payload` after `sleep_ms`; the first `fail` of them fail for good. It
 * succeeds when every job is done and fails with the first failed job's error.
 * Tests and benchmarks drive the scheduler with it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "daemon.h"
#include "stage.h"

static int probe_start(struct stage_ctx *c, struct err *err)
{
	struct store *s = c->d->store;
	int64_t counts[JOB_STATE_COUNT], n = 0;
	if (store_job_counts(s, c->stage->id, counts, err) < 0)
		return -1;
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		n += counts[i];
	if (n > 0) { /* resumed or retried: the jobs exist */
		if (store_stage_jobs_requeue(s, c->stage->id, err) < 0)
			return -1;
		broker_queue_changed(c->d);
		return 0;
	}
	int64_t jobs = json_integer_value(json_object_get(c->spec, "jobs"));
	int64_t fail = json_integer_value(json_object_get(c->spec, "fail"));
	int64_t sleep_ms = json_integer_value(json_object_get(c->spec, "sleep_ms"));
	const char *payload = json_string_value(json_object_get(c->spec, "payload"));
	if (jobs <= 0)
		return err_set(err, ERR_INVALID, "probe stage '%s': 'jobs' must be positive",
			c->stage->name);
	struct store_job_new *batch = calloc((size_t)jobs, sizeof *batch);
	char **params = calloc((size_t)jobs, sizeof *params);
	int rc = -1;
	if (!batch || !params) {
		err_set(err, ERR_NOMEM, "cannot enqueue %lld probe jobs: out of memory",
			(long long)jobs);
		goto out;
	}
	for (int64_t i = 0; i < jobs; i++) {
		json_t *p = json_pack("{ss sI}", "payload", payload ? payload : "", "sleep_ms",
			(json_int_t)sleep_ms);
		if (p && i < fail)
			json_object_set_new(p, "fail", json_string("the stage asked for it"));
		params[i] = p ? json_dumps(p, JSON_COMPACT) : NULL;
		json_decref(p);
		if (!params[i]) {
			err_set(err, ERR_NOMEM, "cannot enqueue probe jobs: out of memory");
			goto out;
		}
		batch[i] = (struct store_job_new){ .stage = c->stage->id, .kind = "probe",
			.shard = i, .max_attempts = c->d->cfg.max_attempts, .params = params[i] };
	}
	if (store_job_enqueue(s, batch, (size_t)jobs, c->d->wall, NULL, err) < 0)
		goto out;
	broker_queue_changed(c->d);
	rc = 0;
out:
	for (int64_t i = 0; params && i < jobs; i++)
		free(params[i]);
	free(params);
	free(batch);
	return rc;
}

static int probe_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	struct store *s = c->d->store;
	int64_t counts[JOB_STATE_COUNT], total = 0;
	if (store_job_counts(s, c->stage->id, counts, err) < 0)
		return -1;
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		total += counts[i];
	int64_t done = counts[JOB_STATE_DONE];
	if ((done != c->stage->step || total != c->stage->total) &&
		store_stage_set_progress(s, c->stage->id, done, total, err) < 0)
		return -1;
	*state = STAGE_RUNNING;
	if (counts[JOB_STATE_FAILED] > 0) {
		int64_t job = 0;
		char *why = NULL;
		if (store_stage_job_failed(s, c->stage->id, &job, &why, err) < 0)
			return -1;
		err_set(err, ERR_INVALID, "job %lld failed: %s", (long long)job,
			why ? why : "no error recorded");
		free(why);
		*state = STAGE_FAILED;
	} else if (total > 0 && done == total) {
		*state = STAGE_SUCCEEDED;
	}
	return 0;
}

const struct stage_driver stage_probe = {
	.kind = "probe", .unit = "jobs", .start = probe_start, .advance = probe_advance,
};
