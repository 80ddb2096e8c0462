/*
 * stage_probe — the diagnostic stage: `jobs` probe jobs (shard 0..jobs-1), each
 * echoing `payload` after `sleep_ms`; the first `fail` of them fail for good. It
 * succeeds when every job is done and fails with the first failed job's error.
 * Tests and benchmarks drive the scheduler with it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "names.h"
#include "stage.h"
#include "stage_settings.h"

static int probe_start(struct stage_ctx *c, struct err *err)
{
	struct store *s = c->d->store;
	int64_t counts[JOB_STATE_COUNT], n = 0;
	if (store_job_counts(s, c->stage->id, counts, err) < 0)
		return -1;
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		n += counts[i];
	if (n > 0) /* resumed or retried: the jobs exist */
		return stage_requeue(c, 0, "probe", err) < 0 ? -1 : 0;
	struct probe_settings set;
	if (probe_settings_decode(c->spec, &set, err) < 0)
		return -1;
	int64_t jobs = set.jobs;
	if (jobs <= 0)
		return err_set(err, ERR_INVALID, "probe stage '%s': 'jobs' must be positive",
			c->stage->name);
	json_t **params = calloc((size_t)jobs, sizeof *params);
	if (!params)
		return err_set(err, ERR_NOMEM, "cannot enqueue %lld probe jobs: out of memory",
			(long long)jobs);
	for (int64_t i = 0; i < jobs; i++) {
		params[i] = json_pack("{ss sI}", "payload", set.payload, "sleep_ms",
			(json_int_t)set.sleep_ms);
		if (params[i] && i < set.fail)
			json_object_set_new(params[i], "fail", json_string("the stage asked for it"));
	}
	int rc = stage_enqueue(c, "probe", 0, 0, params, (size_t)jobs, err);
	free(params);
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
	.kind = NAME_STAGE_PROBE, .unit = "jobs", .start = probe_start, .advance = probe_advance,
};
