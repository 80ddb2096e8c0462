/*
 * control_telemetry — the `telemetry` op: in one reply, what a monitoring system
 * scrapes (r1flowd's /metrics turns it into Prometheus text, http_prom.c): jobs by
 * kind and state, the counters, workers by state, pipelines by state, and for the
 * pipelines worth watching each stage's progress, headline metric, step time and
 * learner.
 *
 * Pipelines worth watching: every one not over (queued, running, paused) and the
 * CONTROL_TELEMETRY_RECENT newest, so a finished run stays visible for a while and
 * the reply does not grow with the history.
 */
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "control.h"
#include "daemon.h"
#include "learner.h"
#include "scheduler.h"

#define CONTROL_TELEMETRY_RECENT 10

/* Workers by state ("ready", "draining", "quarantined") and their sum, live. */
static json_t *workers_by_state(struct daemon *d)
{
	json_t *list = broker_describe(d);
	json_t *o = json_pack("{sI sI sI sI}", "live", (json_int_t)json_array_size(list),
		"ready", (json_int_t)0, "draining", (json_int_t)0, "quarantined", (json_int_t)0);
	size_t i;
	json_t *w;
	json_array_foreach(list, i, w) {
		const char *state = json_string_value(json_object_get(w, "state"));
		json_t *n = state ? json_object_get(o, state) : NULL;
		if (n && strcmp(state, "live") != 0)
			json_integer_set(n, json_integer_value(n) + 1);
	}
	json_decref(list);
	return o;
}

/* A pipeline as `pipeline` describes it, without its spec, each stage with its last
 * step_time metric (stages that record one) and its learner, if it has one. */
static json_t *pipeline(struct daemon *d, int64_t id, struct err *err)
{
	json_t *desc = scheduler_describe(d, id, err);
	if (!desc)
		return NULL;
	json_t *p = json_incref(json_object_get(desc, "pipeline"));
	json_object_del(p, "spec");
	json_t *stages = json_incref(json_object_get(desc, "stages"));
	json_decref(desc);
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st) {
		int64_t stage = json_integer_value(json_object_get(st, "id")), step;
		double secs;
		json_object_del(st, "deps");
		int found = store_metric_last(d->store, stage, "step_time", &step, &secs, err);
		if (found < 0) {
			json_decref(p);
			json_decref(stages);
			return NULL;
		}
		if (found == 1)
			json_object_set_new(st, "step_time", json_real(secs));
		struct learner *l = learner_find(d, stage);
		if (l)
			json_object_set_new(st, "learner", json_pack("{sI sb}", "step",
				(json_int_t)l->step, "busy", l->busy));
	}
	json_object_set_new(p, "stages", stages);
	return p;
}

json_t *control_op_telemetry(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	json_t *jobs = NULL, *out = NULL, *pipelines = json_array(), *states = json_object();
	struct store_pipeline *all = NULL;
	size_t n = 0;
	if (store_job_counts_by_kind(d->store, &jobs, err) < 0 ||
		store_pipeline_list(d->store, &all, &n, err) < 0)
		goto out;
	for (int s = 0; s < PIPELINE_STATE_COUNT; s++)
		json_object_set_new(states, store_pipeline_state_name((enum pipeline_state)s),
			json_integer(0));
	for (size_t i = 0; i < n; i++) { /* newest first */
		json_t *c = json_object_get(states, store_pipeline_state_name(all[i].state));
		json_integer_set(c, json_integer_value(c) + 1);
		bool over = all[i].state == PIPELINE_SUCCEEDED || all[i].state == PIPELINE_FAILED ||
			all[i].state == PIPELINE_CANCELLED;
		if (over && i >= CONTROL_TELEMETRY_RECENT)
			continue;
		json_t *p = pipeline(d, all[i].id, err);
		if (!p)
			goto out;
		json_array_append_new(pipelines, p);
	}
	json_t *counters = json_object();
	for (int i = 0; i < C_COUNT; i++)
		if (counters_name((enum counter)i))
			json_object_set_new(counters, counters_name((enum counter)i),
				json_integer(d->counters.total[i]));
	out = json_pack("{sI sI sO so so sO sO}", "pid", (json_int_t)getpid(), "uptime_ms",
		(json_int_t)(d->now - d->started), "jobs", jobs, "counters", counters, "workers",
		workers_by_state(d), "pipeline_states", states, "pipelines", pipelines);
out:
	store_pipelines_free(all, n);
	json_decref(jobs);
	json_decref(states);
	json_decref(pipelines);
	return out;
}
