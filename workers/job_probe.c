/*
 * job_probe — the diagnostic job kind: proves the runtime end to end without a model.
 *
 * params (all optional; the daemon's enqueue_probe op writes them)
 *   payload     string echoed back
 *   blob        sha256 of a blob to fetch into the cache and hash again
 *   sleep_ms    sleep this long (a "busy" worker for fault tests)
 *   result_bytes  answer with one result blob of this many bytes (a pattern of the
 *               job id), uploaded in PUT pieces as a gradient is: bench/cluster.sh
 *               models grad results of the right size with it
 *   crash       "abort" (SIGABRT, no core file) or "exit" (_exit(3)) — a poison job
 *   fail        FAIL with this error instead of answering; retryable (bool) says
 *               whether the daemon should try again
 *
 * In that order: blob, sleep, crash, fail. The result:
 *   {echo, job, pid, blob_size?} (+ the blob of result_bytes) — `job` lets tests
 *   check each result is its own.
 * Deterministic apart from `pid` (which tells tests who ran it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kinds.h"
#include "sha256.h"

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int job_probe_run(const struct job *job, struct job_output *out, struct err *err)
{
	const json_t *p = job->params;
	const char *payload = json_string_value(json_object_get(p, "payload"));
	const char *blob = json_string_value(json_object_get(p, "blob"));
	const char *crash = json_string_value(json_object_get(p, "crash"));
	const char *fail = json_string_value(json_object_get(p, "fail"));
	json_int_t nap = json_integer_value(json_object_get(p, "sleep_ms"));
	int64_t blob_size = -1;

	if (blob) {
		char path[4096], hex[SHA256_HEX_SIZE];
		if (job_blob_path(job, blob, path, sizeof path, err) < 0) {
			out->retryable = err_transient(err);
			return -1;
		}
		if (sha256_file(path, hex, &blob_size, err) < 0)
			return -1;
		if (strcmp(hex, blob) != 0)
			return err_set(err, ERR_FORMAT, "cached blob '%s' hashes to %s", path, hex);
	}
	if (nap > 0)
		sleep_ms(nap);
	if (crash) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none); /* a diagnostic crash leaves no core file */
		if (strcmp(crash, "exit") == 0)
			_exit(3);
		abort();
	}
	if (fail) {
		out->retryable = json_is_true(json_object_get(p, "retryable"));
		return err_set(err, ERR_INVALID, "probe failed as asked: %s", fail);
	}
	json_int_t result_bytes = json_integer_value(json_object_get(p, "result_bytes"));
	if (result_bytes > 0) {
		unsigned char *blob_out = malloc((size_t)result_bytes);
		if (!blob_out)
			return err_set(err, ERR_NOMEM, "probe: cannot allocate a result blob of %lld "
				"bytes", (long long)result_bytes);
		for (json_int_t i = 0; i < result_bytes; i++)
			blob_out[i] = (unsigned char)(job->id * 131 + i);
		if (job_output_add_blob(out, blob_out, (size_t)result_bytes, err) < 0)
			return -1;
	}
	out->result = json_pack("{ss sI si}", "echo", payload ? payload : "", "job",
		(json_int_t)job->id, "pid", (int)getpid());
	if (out->result && blob_size >= 0)
		json_object_set_new(out->result, "blob_size", json_integer(blob_size));
	if (!out->result)
		return err_set(err, ERR_NOMEM, "probe: out of memory");
	return 0;
}
