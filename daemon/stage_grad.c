/* stage_grad — from done grad jobs to a learner step (stage_grad.h). */
#include "stage_grad.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "blobs.h"
#include "daemon.h"
#include "learner.h"

void grad_sums(const struct store_job *jobs, size_t n, struct grad_sums *s)
{
	memset(s, 0, sizeof *s);
	for (size_t k = 0; k < n; k++) {
		json_error_t jerr;
		json_t *r = json_loads(jobs[k].result ? jobs[k].result : "", 0, &jerr);
		s->loss += json_number_value(json_object_get(r, "loss"));
		s->tokens += json_number_value(json_object_get(r, "tokens"));
		s->kl += json_number_value(json_object_get(r, "kl_sum"));
		s->clip += json_number_value(json_object_get(r, "clip_count"));
		s->entropy += json_number_value(json_object_get(r, "entropy_sum"));
		json_decref(r);
	}
}

/* One gradient: where the learner reads it, and the result file's name. */
struct grad_file {
	int64_t shard;
	char name[BLOBS_RESULT_NAME];
	char path[DATADIR_PATH_MAX];
};

static int by_shard(const void *a, const void *b)
{
	const struct grad_file *x = a, *y = b;
	return (x->shard > y->shard) - (x->shard < y->shard);
}

/* The gradient files of jobs[0..n) into f[0..n), in shard order. */
static int grad_files(struct daemon *d, const struct store_job *jobs, size_t n,
	struct grad_file *f, struct err *err)
{
	for (size_t k = 0; k < n; k++) {
		json_error_t jerr;
		json_t *r = json_loads(jobs[k].result ? jobs[k].result : "", 0, &jerr);
		const char *name = json_string_value(json_array_get(json_object_get(r, "files"), 0));
		if (!name) {
			json_decref(r);
			return err_set(err, ERR_FORMAT, "grad job %lld (step %lld, shard %lld) returned "
				"no gradient", (long long)jobs[k].id, (long long)jobs[k].step,
				(long long)jobs[k].shard);
		}
		f[k].shard = jobs[k].shard;
		snprintf(f[k].name, sizeof f[k].name, "%s", name);
		json_decref(r);
		if (blobs_result_path(d, f[k].name, f[k].path, sizeof f[k].path, err) < 0)
			return -1;
	}
	qsort(f, n, sizeof *f, by_shard);
	for (size_t k = 1; k < n; k++)
		assert(f[k].shard != f[k - 1].shard); /* jobs are unique per shard */
	return 0;
}

int grad_start(struct daemon *d, struct learner *l, const struct store_job *jobs, size_t n,
	int save, struct err *err)
{
	struct grad_file *f = calloc(n ? n : 1, sizeof *f);
	const char **paths = calloc(n ? n : 1, sizeof *paths);
	int rc = -1;
	if (!f || !paths) {
		err_set(err, ERR_NOMEM, "cannot apply the gradients of stage %lld: out of memory",
			(long long)l->stage);
		goto out;
	}
	if (grad_files(d, jobs, n, f, err) < 0)
		goto out;
	for (size_t k = 0; k < n; k++)
		paths[k] = f[k].path;
	rc = learner_start(d, l, paths, n, LEARNER_STEP | (save ? LEARNER_SAVE : 0), err);
out:
	free(f);
	free(paths);
	return rc;
}

int grad_finish(struct daemon *d, struct learner *l, const struct store_job *jobs, size_t n,
	const char *keep, struct err *err)
{
	char prev[SHA256_HEX_SIZE];
	int rc = learner_finish(d, l, prev, err);
	if (rc <= 0)
		return rc;
	struct grad_file *f = calloc(n ? n : 1, sizeof *f);
	if (!f)
		return err_set(err, ERR_NOMEM, "cannot apply the gradients of stage %lld: out of "
			"memory", (long long)l->stage);
	rc = grad_files(d, jobs, n, f, err);
	for (size_t k = 0; rc == 0 && k < n; k++)
		blobs_result_drop(d, f[k].name);
	free(f);
	if (rc < 0)
		return -1;
	if (!keep || strcmp(prev, keep) != 0)
		blobs_drop(d, prev); /* kept if a checkpoint names it */
	return 1;
}
