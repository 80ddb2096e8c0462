/*
 * job — what a job kind implements, and what the runtime gives it.
 *
 * A job kind is one function (kinds.h lists them):
 *
 *   int job_<kind>_run(const struct job *job, struct job_output *out, struct err *err);
 *
 * It runs on the worker's compute thread, one job at a time, and must be a pure
 * function of the job's params and blobs (docs/architecture.md, "Determinism"): a
 * retry on another worker gives the same bytes. It returns 0 with out->result set (the runtime sends RESULT)
 * or -1 with err set (the runtime sends FAIL with err.msg; out->retryable says
 * whether another attempt could succeed, e.g. a blob that could not be fetched,
 * against bad params, which never will).
 *
 * Ownership
 *   - job->params and job->blobs are borrowed from the JOB message; they live until
 *     the function returns.
 *   - out->result and out->stats become the runtime's (it decrefs them); the blobs
 *     added with job_output_add_blob are malloc'd buffers the runtime frees once
 *     sent.
 *
 * Blobs (checkpoints) come by content hash: job_blob_path returns the path of the
 * blob in the worker's local cache, fetching it from the daemon first if it is
 * not there (FETCH/CHUNK, verified against the sha256 before it is used). It blocks
 * the compute thread only; heartbeats go on.
 *
 * Tests run job functions in-process without a runtime: with compute NULL,
 * job_blob_path takes blob `sha256` from the file blob_dir/<sha256> (no fetch, no
 * hash check; missing is an ERR_NOTFOUND error). The runtime leaves blob_dir NULL;
 * `r1flow reward test` runs a reward job this way too (cli/cmd_reward.c).
 *
 * Forbidden: keeping pointers into job after returning; calling job_blob_path from
 * any thread but the compute thread that runs the job.
 *
 * job_blob_path and job_output_add_blob are implemented by runtime.c, which owns
 * the threads they depend on.
 */
#ifndef R1_JOB_H
#define R1_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"

#define JOB_MAX_BLOBS PROTO_MAX_BLOBS

struct runtime_compute;

/* Where a job's time went on its weights, for the worker's log (milliseconds, summed
 * over the job): waiting for a fetch, hashing a cached file, reading it into a model. */
struct job_times {
	double fetch_ms, verify_ms, load_ms;
};

struct job {
	int64_t id, epoch;                 /* the lease */
	const char *kind;                  /* "probe", ... */
	const json_t *params;              /* the JOB's params object, borrowed */
	const struct msg_frame *blobs;     /* the JOB's blob frames, borrowed */
	size_t nblobs;
	struct runtime_compute *compute;   /* for job_blob_path; NULL in tests */
	const char *blob_dir;              /* tests: where blobs are when compute is NULL */
	struct job_times *times;           /* filled when not NULL (the runtime's) */
};

struct job_output {
	json_t *result;                    /* owned; NULL sends {} */
	json_t *stats;                     /* owned; optional */
	void *blobs[JOB_MAX_BLOBS];        /* malloc'd, owned */
	size_t sizes[JOB_MAX_BLOBS];
	size_t nblobs;
	int retryable;                     /* on failure: worth another attempt */
};

typedef int (*job_run_fn)(const struct job *job, struct job_output *out, struct err *err);

/* The path of blob `sha256` in the local cache (fetched and verified if missing). */
int job_blob_path(const struct job *job, const char *sha256, char *path, size_t size,
	struct err *err);

/* Add a malloc'd buffer as a result blob; the output takes it (freed on failure). */
int job_output_add_blob(struct job_output *out, void *data, size_t size, struct err *err);

#endif
