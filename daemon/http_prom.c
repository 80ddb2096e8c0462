/*
 * http_prom — GET /metrics: the `telemetry` op's reply and this process's CPU time
 * and memory (/proc/self) in the Prometheus text exposition format, version 0.0.4.
 *
 * Every family gets `# HELP` and `# TYPE` before its samples, its samples together;
 * label values are escaped (\\, \", \n); a counter's name ends in _total. Families:
 *
 *   r1flow_jobs{kind,state}              gauge: jobs in the database
 *   r1flow_leases                        gauge: jobs leased to workers now
 *   r1flow_workers_live                  gauge: workers connected
 *   r1flow_workers{state}                gauge: ready, draining, quarantined
 *   r1flow_<counter>_total               counter: each of the status op's counters
 *                                        (jobs_retried, results_refused,
 *                                        blob_bytes_sent, blob_bytes_received, ...)
 *   r1flow_pipelines{state}              gauge: pipelines by state
 *   r1flow_pipeline_info{pipeline,name,state}         gauge 1, watched pipelines
 *   r1flow_stage_info{pipeline,stage,kind,state}      gauge 1, their stages
 *   r1flow_stage_progress{pipeline,stage}             gauge 0..1
 *   r1flow_stage_step{pipeline,stage}                 gauge: units done (steps, jobs)
 *   r1flow_stage_steps{pipeline,stage}                gauge: units planned
 *   r1flow_stage_seconds_per_step{pipeline,stage}     gauge: mean wall time per unit
 *   r1flow_stage_step_seconds{pipeline,stage}         gauge: the last step's wall
 *                                                     time (stages recording step_time)
 *   r1flow_stage_metric{pipeline,stage,metric}        gauge: the headline metric
 *   r1flow_learner_step{pipeline,stage}               gauge: optimizer steps applied
 *   r1flow_learner_busy{pipeline,stage}               gauge: 1 while a step or save runs
 *   r1flow_uptime_seconds                gauge
 *   process_cpu_seconds_total            counter: user + system CPU of r1flowd
 *   process_resident_memory_bytes        gauge
 *
 * `pipeline` is the pipeline's id, `stage` the stage's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"

/* Help texts of the counters (counters.h); others get a generic one. */
static const struct { const char *name, *help; } counter_help[] = {
	{ "results_committed", "results committed, exactly one per done job" },
	{ "results_stale", "results or failures for a lease that is not current, dropped" },
	{ "jobs_enqueued", "jobs enqueued" },
	{ "jobs_requeued", "leases put back in the queue: dead or gone workers, expired leases" },
	{ "jobs_retried", "retryable failures put back in the queue" },
	{ "jobs_failed", "jobs that ended failed" },
	{ "jobs_cancelled", "jobs cancelled" },
	{ "workers_joined", "workers accepted (READY)" },
	{ "workers_lost", "workers declared dead" },
	{ "workers_refused", "READYs refused" },
	{ "results_refused", "results that did not answer their job" },
	{ "workers_quarantined", "workers quarantined after too many strikes" },
	{ "blob_bytes_sent", "blob bytes sent to workers (their fetches)" },
	{ "blob_bytes_received", "result blob bytes received from workers" },
	{ "sends_failed", "messages that could not be sent" },
};

/* A family's header. Help text escaped as the format wants (\\ and \n). */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	for (const char *p = help; *p; p++)
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void label_value(FILE *f, const char *v)
{
	fputc('"', f);
	for (const char *p = v ? v : ""; *p; p++)
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	fputc('"', f);
}

/* One sample: name{k1="v1",...} value; labels as NULL-terminated key, value pairs. */
static void sample(FILE *f, const char *name, double value, const char *const *labels)
{
	fputs(name, f);
	for (size_t i = 0; labels && labels[i]; i += 2) {
		fprintf(f, "%c%s=", i ? ',' : '{', labels[i]);
		label_value(f, labels[i + 1]);
	}
	if (labels && labels[0])
		fputc('}', f);
	if (value != value)
		fputs(" NaN\n", f);
	else if (value > 1e308 || value < -1e308)
		fputs(value > 0 ? " +Inf\n" : " -Inf\n", f);
	else if (value == (double)(long long)value && value < 9e15 && value > -9e15)
		fprintf(f, " %lld\n", (long long)value);
	else
		fprintf(f, " %.17g\n", value);
}

static double num(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* CPU seconds (user + system) and resident bytes of this process, from /proc/self. */
static void self_usage(double *cpu, double *rss)
{
	*cpu = *rss = -1;
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		char buf[1024];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		fclose(f);
		/* fields after the command name, which may hold spaces: from the last ')' */
		char *p = strrchr(buf, ')');
		unsigned long utime, stime;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			&utime, &stime) == 2)
			*cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		unsigned long size, resident;
		if (fscanf(f, "%lu %lu", &size, &resident) == 2)
			*rss = (double)resident * (double)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
}

/* The families of the watched pipelines' stages. */
static void stages(FILE *f, const json_t *pipelines)
{
	static const struct { const char *name, *help, *field; } per_stage[] = {
		{ "r1flow_stage_progress", "fraction of the stage done, 0 to 1", "progress" },
		{ "r1flow_stage_step", "units (steps, jobs, records) the stage has done", "step" },
		{ "r1flow_stage_steps", "units the stage will do in all", "total" },
		{ "r1flow_stage_seconds_per_step", "mean wall seconds per unit done so far", "rate" },
		{ "r1flow_stage_step_seconds", "wall seconds of the stage's last step (stages that "
		  "record step_time)", "step_time" },
	};
	size_t i, k;
	json_t *p, *st;
	char id[32];
	family(f, "r1flow_pipeline_info", "gauge", "a watched pipeline (not over, or among the "
		"newest): 1, with its name and state");
	json_array_foreach(pipelines, i, p) {
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p, "id")));
		sample(f, "r1flow_pipeline_info", 1, (const char *[]){ "pipeline", id, "name",
			json_string_value(json_object_get(p, "name")), "state",
			json_string_value(json_object_get(p, "state")), NULL });
	}
	family(f, "r1flow_stage_info", "gauge", "a stage of a watched pipeline: 1, with its "
		"kind and state");
	json_array_foreach(pipelines, i, p) {
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p, "id")));
		json_array_foreach(json_object_get(p, "stages"), k, st)
			sample(f, "r1flow_stage_info", 1, (const char *[]){ "pipeline", id, "stage",
				json_string_value(json_object_get(st, "name")), "kind",
				json_string_value(json_object_get(st, "kind")), "state",
				json_string_value(json_object_get(st, "state")), NULL });
	}
	for (size_t m = 0; m < sizeof per_stage / sizeof per_stage[0]; m++) {
		family(f, per_stage[m].name, "gauge", per_stage[m].help);
		json_array_foreach(pipelines, i, p) {
			snprintf(id, sizeof id, "%lld",
				(long long)json_integer_value(json_object_get(p, "id")));
			json_array_foreach(json_object_get(p, "stages"), k, st) {
				const json_t *v = json_object_get(st, per_stage[m].field);
				if (!json_is_number(v))
					continue;
				double x = num(v);
				if (strcmp(per_stage[m].field, "rate") == 0) { /* units/s: invert */
					if (x <= 0)
						continue;
					x = 1.0 / x;
				}
				sample(f, per_stage[m].name, x, (const char *[]){ "pipeline", id, "stage",
					json_string_value(json_object_get(st, "name")), NULL });
			}
		}
	}
	family(f, "r1flow_stage_metric", "gauge", "the stage's headline metric, latest value "
		"(loss, reward_mean, pass1, kept, count)");
	json_array_foreach(pipelines, i, p) {
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p, "id")));
		json_array_foreach(json_object_get(p, "stages"), k, st) {
			const json_t *metric = json_object_get(st, "metric");
			if (json_is_object(metric) && json_is_number(json_object_get(metric, "value")))
				sample(f, "r1flow_stage_metric", num(json_object_get(metric, "value")),
					(const char *[]){ "pipeline", id, "stage",
					json_string_value(json_object_get(st, "name")), "metric",
					json_string_value(json_object_get(metric, "name")), NULL });
		}
	}
	static const struct { const char *name, *help, *field; } per_learner[] = {
		{ "r1flow_learner_step", "optimizer steps the stage's learner has applied", "step" },
		{ "r1flow_learner_busy", "1 while the learner's thread runs a step or a save",
		  "busy" },
	};
	for (size_t m = 0; m < sizeof per_learner / sizeof per_learner[0]; m++) {
		family(f, per_learner[m].name, "gauge", per_learner[m].help);
		json_array_foreach(pipelines, i, p) {
			snprintf(id, sizeof id, "%lld",
				(long long)json_integer_value(json_object_get(p, "id")));
			json_array_foreach(json_object_get(p, "stages"), k, st) {
				const json_t *l = json_object_get(st, "learner");
				if (!l)
					continue;
				const json_t *v = json_object_get(l, per_learner[m].field);
				sample(f, per_learner[m].name, json_is_true(v) ? 1 : num(v),
					(const char *[]){ "pipeline", id, "stage",
					json_string_value(json_object_get(st, "name")), NULL });
			}
		}
	}
}

/* The exposition of a telemetry reply; NULL if out of memory. */
static char *render(const json_t *t, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	const char *kind, *key;
	json_t *states, *v;
	family(f, "r1flow_jobs", "gauge", "jobs in the daemon's database by kind and state");
	json_object_foreach((json_t *)json_object_get(t, "jobs"), kind, states)
		json_object_foreach(states, key, v)
			sample(f, "r1flow_jobs", num(v), (const char *[]){ "kind", kind, "state", key,
				NULL });
	double leased = 0;
	json_object_foreach((json_t *)json_object_get(t, "jobs"), kind, states)
		leased += num(json_object_get(states, "leased"));
	family(f, "r1flow_leases", "gauge", "jobs leased to workers now");
	sample(f, "r1flow_leases", leased, NULL);
	const json_t *w = json_object_get(t, "workers");
	family(f, "r1flow_workers_live", "gauge", "workers connected to the daemon");
	sample(f, "r1flow_workers_live", num(json_object_get(w, "live")), NULL);
	family(f, "r1flow_workers", "gauge", "connected workers by state (ready, draining, "
		"quarantined)");
	json_object_foreach((json_t *)w, key, v)
		if (strcmp(key, "live") != 0)
			sample(f, "r1flow_workers", num(v), (const char *[]){ "state", key, NULL });
	json_object_foreach((json_t *)json_object_get(t, "counters"), key, v) {
		char name[160], help[200];
		if (strlen(key) > 100 || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
			strlen(key))
			continue; /* not a name the format allows: counters.c names are */
		snprintf(name, sizeof name, "r1flow_%s_total", key);
		snprintf(help, sizeof help, "the daemon's counter %s (the status op's counters)", key);
		const char *text_help = help;
		for (size_t i = 0; i < sizeof counter_help / sizeof counter_help[0]; i++)
			if (strcmp(counter_help[i].name, key) == 0)
				text_help = counter_help[i].help;
		family(f, name, "counter", text_help);
		sample(f, name, num(v), NULL);
	}
	family(f, "r1flow_pipelines", "gauge", "pipelines in the database by state");
	json_object_foreach((json_t *)json_object_get(t, "pipeline_states"), key, v)
		sample(f, "r1flow_pipelines", num(v), (const char *[]){ "state", key, NULL });
	stages(f, json_object_get(t, "pipelines"));
	family(f, "r1flow_uptime_seconds", "gauge", "seconds since r1flowd started");
	sample(f, "r1flow_uptime_seconds", num(json_object_get(t, "uptime_ms")) / 1000.0, NULL);
	double cpu, rss;
	self_usage(&cpu, &rss);
	if (cpu >= 0) {
		family(f, "process_cpu_seconds_total", "counter", "user and system CPU time of "
			"r1flowd, seconds");
		sample(f, "process_cpu_seconds_total", cpu, NULL);
	}
	if (rss >= 0) {
		family(f, "process_resident_memory_bytes", "gauge", "resident memory of r1flowd, "
			"bytes");
		sample(f, "process_resident_memory_bytes", rss, NULL);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

enum MHD_Result http_prom(struct http *h, struct MHD_Connection *c)
{
	unsigned status;
	struct err err = { 0 };
	json_t *t = http_call(h, json_pack("{ss}", "op", "telemetry"), &status, &err);
	if (!t)
		return http_respond(c, status, "text/plain; charset=utf-8", strdup(err.msg),
			strlen(err.msg));
	if (!json_is_true(json_object_get(t, "ok"))) {
		const char *why = json_string_value(json_object_get(json_object_get(t, "error"),
			"message"));
		char *body = strdup(why ? why : "the telemetry op failed");
		status = http_reply_status(t);
		json_decref(t);
		return http_respond(c, status, "text/plain; charset=utf-8", body, body ?
			strlen(body) : 0);
	}
	size_t len = 0;
	char *text = render(t, &len);
	json_decref(t);
	if (!text)
		return http_respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			strdup("cannot render the metrics: out of memory"), 41);
	return http_respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
		len);
}
