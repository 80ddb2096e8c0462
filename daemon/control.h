/*
 * control — the daemon's control socket: one R1FC1 REQUEST in, one REPLY out.
 *
 * A request is {op, ...fields} (plus blob frames for ops that take data); the reply
 * is {ok:true, ...} or {ok:false, error:{code, message}} with code one of
 * err_code_name()'s ("invalid", "notfound", "io", ...) or "version". Replies, like
 * every send, leave after the turn commits, so a client that got ok:true for
 * enqueue_probe knows the jobs are on disk.
 *
 * Ops (one table in control.c; `ops` lists them with their help)
 *   ops             the list of ops
 *   status          {pid, uptime_ms, data, workers: live count, jobs: {queued, leased,
 *                   done, failed, cancelled}, counters: {name: value}}
 *   counts          {queued, leased, done, failed, cancelled}
 *   workers         {workers: [{id, name, host, pid, threads?, kinds, slots, jobs, state
 *                   (ready, draining, quarantined), silent_ms, connected_ms, strikes,
 *                   quarantined?: why}]}
 *   release         {worker} -> {worker, state:"released"}: ends a quarantine
 *                   (broker.h)
 *   job             {id} -> {job: {id, kind, state, attempt, max_attempts, epoch,
 *                   worker, params, result, error}}
 *   enqueue_probe   {n?=1, payload?="", sleep_ms?=0, crash?:"abort"|"exit",
 *                   crash_every?=1, fail?:str, fail_every?=1, retryable?=false,
 *                   blob?:sha256, max_attempts?} -> {n, first, last}. Job i of the
 *                   batch (0-based) crashes if crash is set and i % crash_every == 0,
 *                   and likewise FAILs with `fail`. workers/job_probe.c runs them.
 *   cancel          {job} -> {cancelled: bool}; a leased job's holder gets CANCEL
 *   blob_put        one blob frame -> {sha256, size}
 *   shutdown        {} -> {}; the daemon stops after this turn
 *   submit, pipelines, pipeline, pipeline_cancel|pause|resume|retry, logs, drain:
 *                   pipelines (scheduler.h); `ops` has each one's fields
 *   metrics, checkpoint, blob_read, report, datasets, dataset_import, dataset_show,
 *   dataset_export, samples:
 *                   what pipelines produced (control_data.c)
 *   gc, dataset_delete: disk space given back (gc.h)
 *   telemetry       what /metrics shows, in one reply (control_telemetry.c)
 *
 * Every request is answered. One that does not decode is counted (msgs_<fault>) and
 * gets REPLY {ok:false, error:{code: "version" (another protocol version) or
 * "malformed", message}}; a reply that cannot be sent (over PROTO_MAX_HEADER_SIZE)
 * is replaced by an {ok:false} saying so.
 */
#ifndef R1_CONTROL_H
#define R1_CONTROL_H

#include <stdint.h>

#include "err.h"
#include "sock.h"

#define CONTROL_MAX_ENQUEUE 100000   /* jobs per enqueue request */
#define CONTROL_EXPORT_PAGE (1 << 20)       /* dataset_export's default page, bytes */
#define CONTROL_EXPORT_PAGE_MAX (64 << 20)  /* and its largest */
#define CONTROL_BLOB_PAGE (4 << 20)         /* blob_read's default page, bytes */
#define CONTROL_BLOB_PAGE_MAX (64 << 20)    /* and its largest */

struct daemon;

/* One message from the control socket: `rc` and `err` are sock_recv's outcome. */
void control_handle(struct daemon *d, struct sock_msg *in, int rc, const struct err *err);

/* For ops: an optional integer field in [lo, hi] (`dflt` when absent), an optional
 * string field (NULL when absent); errors name the op and the field. */
int control_get_int(const struct msg *req, const char *op, const char *key, int64_t dflt,
	int64_t lo, int64_t hi, int64_t *out, struct err *err);
int control_get_str(const struct msg *req, const char *op, const char *key, const char **out,
	struct err *err);

/* Attach a malloc'd blob to the reply of the op now running (taken over; dropped if
 * the op fails). */
void control_reply_blob(void *data, size_t size);

/* The ops of control_data.c. */
json_t *control_op_metrics(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_checkpoint(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_blob_read(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_report(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_datasets(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_dataset_import(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_dataset_show(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_dataset_export(struct daemon *d, const struct msg *req, struct err *err);
json_t *control_op_samples(struct daemon *d, const struct msg *req, struct err *err);

/* The op of control_telemetry.c. */
json_t *control_op_telemetry(struct daemon *d, const struct msg *req, struct err *err);

#endif
