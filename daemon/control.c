#include "control.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobs.h"
#include "broker.h"
#include "daemon.h"
#include "events.h"
#include "gc.h"
#include "scheduler.h"
#include "utf8.h"

typedef json_t *(*op_fn)(struct daemon *d, const struct msg *req, struct err *err);

struct op {
	const char *name;
	op_fn fn;
	const char *help;
};

/* An optional integer field in [lo, hi]; `dflt` when absent. */
int control_get_int(const struct msg *req, const char *op, const char *key, int64_t dflt,
	int64_t lo, int64_t hi, int64_t *out, struct err *err)
{
	json_t *v = json_object_get(req->header, key);
	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return err_set(err, ERR_INVALID, "%s: '%s' must be an integer from %lld to %lld", op,
			key, (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

/* An optional string field; NULL when absent. */
int control_get_str(const struct msg *req, const char *op, const char *key, const char **out,
	struct err *err)
{
	json_t *v = json_object_get(req->header, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return err_set(err, ERR_INVALID, "%s: '%s' must be a string", op, key);
	*out = json_string_value(v);
	return 0;
}

static json_t *counts_object(struct daemon *d, struct err *err)
{
	int64_t c[JOB_STATE_COUNT];
	if (store_job_counts(d->store, STORE_ALL_STAGES, c, err) < 0)
		return NULL;
	json_t *o = json_object();
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		json_object_set_new(o, store_job_state_name((enum job_state)i), json_integer(c[i]));
	return o;
}

/* The counters as {name: total}: in memory, O(1) to ask (counts scans the jobs). */
static json_t *counters_object(const struct daemon *d)
{
	json_t *counters = json_object();
	for (int i = 0; i < C_COUNT; i++)
		if (counters_name((enum counter)i))
			json_object_set_new(counters, counters_name((enum counter)i),
				json_integer(d->counters.total[i]));
	return counters;
}

static json_t *op_counters(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	(void)err;
	return counters_object(d);
}

static json_t *op_status(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	json_t *jobs = counts_object(d, err);
	if (!jobs)
		return NULL;
	json_t *counters = counters_object(d);
	return json_pack("{si sI ss sI so so}", "pid", (int)getpid(), "uptime_ms",
		(json_int_t)(d->now - d->started), "data", d->dir.root, "workers",
		(json_int_t)broker_count(d->broker), "jobs", jobs, "counters", counters);
}

static json_t *op_counts(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	return counts_object(d, err);
}

static json_t *op_workers(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	(void)err;
	return json_pack("{so}", "workers", broker_describe(d));
}

static json_t *text_json(const char *text)
{
	json_error_t jerr;
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, &jerr) : NULL;
	return v ? v : json_null();
}

static json_t *op_job(struct daemon *d, const struct msg *req, struct err *err)
{
	int64_t id;
	struct store_job job;
	if (control_get_int(req, "job", "id", -1, 1, INT64_MAX, &id, err) < 0)
		return NULL;
	if (id < 0) {
		err_set(err, ERR_INVALID, "job: 'id' is required");
		return NULL;
	}
	int found = store_job_get(d->store, id, &job, err);
	if (found <= 0) {
		if (found == 0)
			err_set(err, ERR_NOTFOUND, "job: no job %lld", (long long)id);
		return NULL;
	}
	json_t *o = json_pack("{s{sI ss ss sI sI sI sI so so so}}", "job",
		"id", (json_int_t)job.id, "kind", job.kind, "state", store_job_state_name(job.state),
		"attempt", (json_int_t)job.attempt, "max_attempts", (json_int_t)job.max_attempts,
		"epoch", (json_int_t)job.epoch, "worker", (json_int_t)job.worker,
		"params", text_json(job.params), "result", text_json(job.result),
		"error", job.error ? json_string(job.error) : json_null());
	store_job_release(&job);
	return o;
}

static json_t *op_enqueue_probe(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *op = "enqueue_probe";
	int64_t n, sleep_ms, crash_every, fail_every, attempts, result_bytes;
	const char *payload, *crash, *fail, *blob;
	if (control_get_int(req, op, "n", 1, 1, CONTROL_MAX_ENQUEUE, &n, err) < 0 ||
		control_get_int(req, op, "sleep_ms", 0, 0, 3600000, &sleep_ms, err) < 0 ||
		control_get_int(req, op, "crash_every", 1, 1, INT64_MAX, &crash_every, err) < 0 ||
		control_get_int(req, op, "fail_every", 1, 1, INT64_MAX, &fail_every, err) < 0 ||
		control_get_int(req, op, "max_attempts", d->cfg.max_attempts, 1, 1000, &attempts, err) < 0 ||
		control_get_int(req, op, "result_bytes", 0, 0, (int64_t)1 << 30, &result_bytes, err) < 0 ||
		control_get_str(req, op, "payload", &payload, err) < 0 ||
		control_get_str(req, op, "crash", &crash, err) < 0 ||
		control_get_str(req, op, "fail", &fail, err) < 0 ||
		control_get_str(req, op, "blob", &blob, err) < 0)
		return NULL;
	if (crash && strcmp(crash, "abort") != 0 && strcmp(crash, "exit") != 0) {
		err_set(err, ERR_INVALID, "%s: 'crash' must be \"abort\" or \"exit\"", op);
		return NULL;
	}
	if (blob && !sha256_hex_valid(blob)) {
		err_set(err, ERR_INVALID, "%s: 'blob' must be a sha256 (64 lowercase hex digits)", op);
		return NULL;
	}
	json_t *retryable = json_object_get(req->header, "retryable");
	if (retryable && !json_is_boolean(retryable)) {
		err_set(err, ERR_INVALID, "%s: 'retryable' must be a boolean", op);
		return NULL;
	}

	/* four variants of params at most: plain, crashing, failing, both */
	char *texts[4] = { NULL, NULL, NULL, NULL };
	for (int v = 0; v < 4; v++) {
		json_t *p = json_pack("{ss sI}", "payload", payload ? payload : "", "sleep_ms",
			(json_int_t)sleep_ms);
		if (p && blob)
			json_object_set_new(p, "blob", json_string(blob));
		if (p && result_bytes > 0)
			json_object_set_new(p, "result_bytes", json_integer(result_bytes));
		if (p && (v & 1))
			json_object_set_new(p, "crash", json_string(crash ? crash : "abort"));
		if (p && (v & 2)) {
			json_object_set_new(p, "fail", json_string(fail ? fail : "failed"));
			json_object_set_new(p, "retryable", json_boolean(json_is_true(retryable)));
		}
		texts[v] = p ? json_dumps(p, JSON_COMPACT) : NULL;
		json_decref(p);
	}
	json_t *reply = NULL;
	struct store_job_new *jobs = calloc((size_t)n, sizeof *jobs);
	int64_t *ids = calloc((size_t)n, sizeof *ids);
	if (!jobs || !ids || !texts[0] || !texts[1] || !texts[2] || !texts[3]) {
		err_set(err, ERR_NOMEM, "%s: out of memory", op);
		goto out;
	}
	for (int64_t i = 0; i < n; i++) {
		int v = (crash && i % crash_every == 0 ? 1 : 0) | (fail && i % fail_every == 0 ? 2 : 0);
		jobs[i] = (struct store_job_new){ .kind = "probe", .max_attempts = (int)attempts,
			.params = texts[v] };
	}
	if (store_job_enqueue(d->store, jobs, (size_t)n, d->wall, ids, err) < 0)
		goto out;
	counters_add(&d->counters, C_JOBS_ENQUEUED, n);
	broker_queue_changed(d);
	reply = json_pack("{sI sI sI}", "n", (json_int_t)n, "first", (json_int_t)ids[0], "last",
		(json_int_t)ids[n - 1]);
	events_emit(d, "jobs_enqueued", json_pack("{ss sI sI sI}", "kind", "probe", "n",
		(json_int_t)n, "first", (json_int_t)ids[0], "last", (json_int_t)ids[n - 1]));
	log_info("enqueued %lld probe job(s): %lld..%lld", (long long)n, (long long)ids[0],
		(long long)ids[n - 1]);
out:
	for (int v = 0; v < 4; v++)
		free(texts[v]);
	free(jobs);
	free(ids);
	return reply;
}

static json_t *op_cancel(struct daemon *d, const struct msg *req, struct err *err)
{
	int64_t job, worker = 0;
	if (control_get_int(req, "cancel", "job", -1, 1, INT64_MAX, &job, err) < 0)
		return NULL;
	if (job < 0) {
		err_set(err, ERR_INVALID, "cancel: 'job' is required");
		return NULL;
	}
	int rc = store_job_cancel(d->store, job, d->wall, &worker, err);
	if (rc < 0)
		return NULL;
	if (rc == 1) {
		counters_add(&d->counters, C_JOBS_CANCELLED, 1);
		if (worker)
			broker_cancelled(d, job, worker);
	}
	return json_pack("{sb}", "cancelled", rc == 1);
}

static json_t *op_blob_put(struct daemon *d, const struct msg *req, struct err *err)
{
	char hex[SHA256_HEX_SIZE];
	if (req->nblobs != 1) {
		err_set(err, ERR_INVALID, "blob_put: send exactly one blob frame (got %zu)",
			req->nblobs);
		return NULL;
	}
	if (blobs_put(d, req->blobs[0].data, req->blobs[0].size, hex, err) < 0)
		return NULL;
	log_info("stored blob %s (%zu bytes)", hex, req->blobs[0].size);
	return json_pack("{ss sI}", "sha256", hex, "size", (json_int_t)req->blobs[0].size);
}

static json_t *op_shutdown(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	(void)err;
	log_info("shutdown requested by a control client");
	d->stop = 1;
	return json_object();
}

static json_t *op_submit(struct daemon *d, const struct msg *req, struct err *err)
{
	json_t *spec = json_object_get(req->header, "spec");
	const char *source = NULL;
	int64_t id = 0;
	if (!json_is_object(spec)) {
		err_set(err, ERR_INVALID, "submit: 'spec' must be the normalised spec object "
			"('r1flow submit FILE' sends it)");
		return NULL;
	}
	const char *token = NULL;
	int existing = 0;
	if (control_get_str(req, "submit", "source", &source, err) < 0 ||
		control_get_str(req, "submit", "token", &token, err) < 0)
		return NULL;
	if (token && (!*token || strlen(token) > 64 || strspn(token, "0123456789abcdefghijklmn"
		"opqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_") != strlen(token))) {
		err_set(err, ERR_INVALID, "submit: 'token' must be 1 to 64 letters, digits, '-' "
			"or '_'");
		return NULL;
	}
	if (scheduler_submit(d, spec, source, token, &id, &existing, err) < 0)
		return NULL;
	return json_pack("{sI sO sb}", "id", (json_int_t)id, "name", json_object_get(spec, "name"),
		"existing", existing);
}

static json_t *op_pipelines(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)req;
	return scheduler_list(d, err);
}

/* The required pipeline `id` of a request. */
static int pipeline_id(const struct msg *req, const char *op, int64_t *id, struct err *err)
{
	if (!json_object_get(req->header, "id"))
		return err_set(err, ERR_INVALID, "%s: 'id' (a pipeline id) is required", op);
	return control_get_int(req, op, "id", 0, 1, INT64_MAX, id, err);
}

static json_t *op_pipeline(struct daemon *d, const struct msg *req, struct err *err)
{
	int64_t id;
	return pipeline_id(req, "pipeline", &id, err) < 0 ? NULL :
		scheduler_describe(d, id, err);
}

static json_t *act(struct daemon *d, const struct msg *req, const char *op,
	enum scheduler_action action, struct err *err)
{
	int64_t id;
	const char *state = NULL;
	if (pipeline_id(req, op, &id, err) < 0 || scheduler_act(d, id, action, &state, err) < 0)
		return NULL;
	return json_pack("{sI ss}", "id", (json_int_t)id, "state", state);
}

static json_t *op_pipeline_cancel(struct daemon *d, const struct msg *req, struct err *err)
{
	return act(d, req, "pipeline_cancel", SCHED_CANCEL, err);
}

static json_t *op_pipeline_pause(struct daemon *d, const struct msg *req, struct err *err)
{
	return act(d, req, "pipeline_pause", SCHED_PAUSE, err);
}

static json_t *op_pipeline_resume(struct daemon *d, const struct msg *req, struct err *err)
{
	return act(d, req, "pipeline_resume", SCHED_RESUME, err);
}

static json_t *op_pipeline_retry(struct daemon *d, const struct msg *req, struct err *err)
{
	return act(d, req, "pipeline_retry", SCHED_RETRY, err);
}

static json_t *op_logs(struct daemon *d, const struct msg *req, struct err *err)
{
	int64_t id, after, limit, last;
	struct store_pipeline p;
	json_t *events;
	if (pipeline_id(req, "logs", &id, err) < 0 ||
		control_get_int(req, "logs", "after", 0, 0, INT64_MAX, &after, err) < 0 ||
		control_get_int(req, "logs", "limit", 1000, 1, 100000, &limit, err) < 0)
		return NULL;
	int rc = store_pipeline_get(d->store, id, &p, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)id);
		return NULL;
	}
	json_t *out = NULL;
	if (store_event_list(d->store, id, after, limit, &events, &last, err) == 0)
		out = json_pack("{so sI ss}", "events", events, "last", (json_int_t)last, "state",
			store_pipeline_state_name(p.state));
	store_pipeline_release(&p);
	return out;
}

static json_t *op_drain(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *name = NULL;
	if (control_get_str(req, "drain", "worker", &name, err) < 0)
		return NULL;
	if (!name) {
		err_set(err, ERR_INVALID, "drain: 'worker' (a worker name) is required");
		return NULL;
	}
	return broker_drain(d, name, err) < 0 ? NULL :
		json_pack("{ss ss}", "worker", name, "state", "draining");
}

static json_t *op_release(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *name = NULL;
	if (control_get_str(req, "release", "worker", &name, err) < 0)
		return NULL;
	if (!name) {
		err_set(err, ERR_INVALID, "release: 'worker' (a worker name) is required");
		return NULL;
	}
	return broker_release(d, name, err) < 0 ? NULL :
		json_pack("{ss ss}", "worker", name, "state", "released");
}

static json_t *op_ops(struct daemon *d, const struct msg *req, struct err *err);

static const struct op ops[] = {
	{ "ops", op_ops, "list the ops" },
	{ "status", op_status, "jobs per state, live workers, counters" },
	{ "counts", op_counts, "jobs per state" },
	{ "counters", op_counters, "the daemon's counters (results committed, stale, ...)" },
	{ "workers", op_workers, "live workers and the jobs in their hands" },
	{ "job", op_job, "one job by {id}" },
	{ "enqueue_probe", op_enqueue_probe, "enqueue {n} probe jobs (payload, sleep_ms, "
		"crash, crash_every, fail, fail_every, retryable, blob, result_bytes, max_attempts)" },
	{ "cancel", op_cancel, "cancel {job}" },
	{ "blob_put", op_blob_put, "store the request's blob frame" },
	{ "shutdown", op_shutdown, "stop the daemon" },
	{ "submit", op_submit, "run a pipeline: {spec (normalised), source (YAML text), "
	  "token? (the same token again answers with the same pipeline: {id, name, existing})}" },
	{ "pipelines", op_pipelines, "every pipeline, newest first" },
	{ "pipeline", op_pipeline, "one pipeline {id}: its state and stages' progress" },
	{ "pipeline_cancel", op_pipeline_cancel, "cancel pipeline {id}" },
	{ "pipeline_pause", op_pipeline_pause, "pause pipeline {id}" },
	{ "pipeline_resume", op_pipeline_resume, "resume paused pipeline {id}" },
	{ "pipeline_retry", op_pipeline_retry, "retry failed or cancelled pipeline {id} from "
		"its failed stages" },
	{ "logs", op_logs, "events of pipeline {id} after event {after}, at most {limit}" },
	{ "drain", op_drain, "let worker {worker} finish its jobs and leave" },
	{ "release", op_release, "end the quarantine of worker {worker} and forget its "
		"strikes" },
	{ "metrics", control_op_metrics, "metrics of pipeline {id} (stage {stage}): every point" },
	{ "checkpoint", control_op_checkpoint, "the final weights of stage {stage} of pipeline "
		"{id}: config, tokenizer files, the model.safetensors blob's sha256 and size (its "
		"bytes: blob_read; {file}: that tokenizer file's blob frame)" },
	{ "blob_read", control_op_blob_read, "bytes {offset}.. (at most {size}, default 4 MiB) "
		"of blob {sha256} as a blob frame, and its size" },
	{ "report", control_op_report, "the eval stages' metrics of pipeline {id}" },
	{ "datasets", control_op_datasets, "datasets (of pipeline {id}, or all)" },
	{ "dataset_import", control_op_dataset_import, "import the JSONL or CSV blob frame (or "
		"the blobs {parts} names, joined) as shared dataset {name}" },
	{ "samples", control_op_samples, "what an RL or eval stage {stage} of pipeline {id} "
		"wrote at step {step} (default the latest), at most {limit}" },
	{ "dataset_show", control_op_dataset_show, "records {offset}..+{limit} of dataset {name} "
		"(of pipeline {id})" },
	{ "dataset_export", control_op_dataset_export, "records of dataset {name} (of pipeline "
		"{id}) from index {after} on, as JSONL in a blob frame of about {max_bytes}" },
	{ "dataset_delete", control_op_dataset_delete, "delete dataset {name} (of pipeline {id}) "
		"unless a pipeline not over reads it" },
	{ "gc", control_op_gc, "remove the blob files nothing names; {files, bytes} freed" },
	{ "telemetry", control_op_telemetry, "jobs by kind and state, counters, workers and "
		"pipelines by state, and the watched pipelines' stages (what /metrics shows)" },
};

static json_t *op_ops(struct daemon *d, const struct msg *req, struct err *err)
{
	(void)d;
	(void)req;
	(void)err;
	json_t *list = json_array();
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		json_array_append_new(list, json_pack("{ss ss}", "name", ops[i].name, "help",
			ops[i].help));
	return json_pack("{so}", "ops", list);
}

/* The blob an op attached to its reply (control_reply_blob), or NULL. */
static void *pending_blob;
static size_t pending_size;

void control_reply_blob(void *data, size_t size)
{
	free(pending_blob);
	pending_blob = data;
	pending_size = size;
}

static void reply_error(struct daemon *d, const struct msg_frame *client, const char *op,
	const char *code, const char *message);

static void free_blob(void *data, void *hint)
{
	(void)hint;
	free(data);
}

/* Send `header` (consumed) to `client`, with the pending blob if any. A reply that
 * cannot go out as it is (over the header limit, not serialisable) becomes an error
 * reply saying so, so that the client always hears back; `op` names it there. */
static void reply(struct daemon *d, const struct msg_frame *client, const char *op,
	json_t *header)
{
	struct msg m;
	struct msg_wire w;
	struct err e = { 0 };
	msg_init(&m, PROTO_REPLY);
	m.header = header;
	int ok = header && json_is_true(json_object_get(header, "ok"));
	if (msg_encode(&w, &m, &e) < 0) {
		msg_release(&m);
		control_reply_blob(NULL, 0);
		log_warn("control: cannot send the reply to '%s': %s", op, e.msg);
		if (ok) {
			char message[sizeof e.msg + 96];
			snprintf(message, sizeof message, "cannot send the reply to '%.64s': %s", op,
				e.msg);
			reply_error(d, client, op, err_code_name(ERR_INVALID), message);
		}
		return;
	}
	msg_wire_release(&w);
	if (pending_blob) {
		m.blob_free = free_blob;
		if (msg_add_blob(&m, pending_blob, pending_size, NULL) < 0)
			free(pending_blob);
		pending_blob = NULL;
	}
	outbox_push(&d->out, d->control, client->data, client->size, &m);
}

/* An {ok:false, error:{code, message}} reply. A message that is not UTF-8 (it may
 * quote bytes a client sent) goes with those bytes as U+FFFD, so the reply encodes. */
static void reply_error(struct daemon *d, const struct msg_frame *client, const char *op,
	const char *code, const char *message)
{
	if (!message[0])
		message = "the request failed without saying why";
	reply(d, client, op, json_pack("{sb s{ss so}}", "ok", 0, "error", "code", code,
		"message", utf8_jstring(message)));
}

/* The error code of a request that did not decode: "version" for another protocol
 * version, "malformed" for everything else (not JSON, not an object, no 'op'...). */
static const char *fault_code(enum msg_fault fault)
{
	return fault == MSG_FAULT_VERSION ? "version" : "malformed";
}

void control_handle(struct daemon *d, struct sock_msg *in, int rc, const struct err *err)
{
	if (rc < 0) {
		if (in->msg.fault == MSG_OK)
			return;
		counters_add(&d->counters, (enum counter)(C_MSGS_FAULT + in->msg.fault), 1);
		log_debug("control: %s", err->msg);
		/* every request gets an answer, so a client can tell a bad request from a
		 * dead daemon; the message says what was wrong */
		reply_error(d, &in->envelope, "?", fault_code(in->msg.fault), err->msg);
		return;
	}
	if (d->stalled[0]) { /* no turn can commit: say why rather than change nothing */
		const char *op = msg_str(&in->msg, "op");
		reply_error(d, &in->envelope, op ? op : "?", "nospace", d->stalled);
		return;
	}
	const char *name = msg_str(&in->msg, "op");
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (strcmp(ops[i].name, name) != 0)
			continue;
		struct err e = { 0 };
		json_t *r = ops[i].fn(d, &in->msg, &e);
		if (!r) {
			control_reply_blob(NULL, 0);
			log_debug("control op '%s' failed: %s", name, e.msg);
			reply_error(d, &in->envelope, name, err_code_name(e.code), e.msg);
			return;
		}
		json_object_set_new(r, "ok", json_true());
		reply(d, &in->envelope, name, r);
		return;
	}
	char message[256];
	snprintf(message, sizeof message, "unknown op '%.64s' (the 'ops' op lists them)", name);
	reply_error(d, &in->envelope, name, err_code_name(ERR_INVALID), message);
}
