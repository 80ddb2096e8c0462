/* stage — the table of stage drivers (stage.h). */
#include "stage.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "daemon.h"

static const struct stage_driver *const drivers[] = {
	&stage_probe,
	&stage_pretrain,
	&stage_sft,
	&stage_eval,
	&stage_grpo,
	&stage_rejection_sample,
	&stage_merge,
};

const struct stage_driver *stage_driver_find(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof drivers / sizeof drivers[0]; i++)
		if (strcmp(drivers[i]->kind, kind) == 0)
			return drivers[i];
	return NULL;
}

int stage_dataset(struct stage_ctx *c, const char *name, int64_t *id, int64_t *n,
	struct err *err)
{
	int rc = store_dataset_find(c->d->store, c->pipeline->id, name ? name : "", id, n, err);
	if (rc < 0)
		return -1;
	if (rc == 0 || *n <= 0)
		return err_set(err, ERR_NOTFOUND, "dataset '%s' %s", name ? name : "",
			rc ? "is empty" : "does not exist (yet)");
	return 0;
}

int stage_enqueue(struct stage_ctx *c, const char *kind, int64_t step, int64_t first_shard,
	json_t **params, size_t n, struct err *err)
{
	struct store_job_new *jobs = calloc(n ? n : 1, sizeof *jobs);
	char **text = calloc(n ? n : 1, sizeof *text);
	int rc = 0;
	for (size_t k = 0; k < n; k++) {
		if (!jobs || !text || !params[k] ||
			!(text[k] = json_dumps(params[k], JSON_COMPACT))) {
			rc = -1;
			break;
		}
		jobs[k] = (struct store_job_new){ .stage = c->stage->id, .kind = kind, .step = step,
			.shard = first_shard + (int64_t)k, .max_attempts = c->d->cfg.max_attempts,
			.params = text[k] };
	}
	if (rc < 0)
		err_set(err, ERR_NOMEM, "cannot enqueue the %s jobs of stage '%s': out of memory",
			kind, c->stage->name);
	else if ((rc = store_job_enqueue(c->d->store, jobs, n, c->d->wall, NULL, err)) == 0)
		broker_queue_changed(c->d);
	for (size_t k = 0; k < n; k++) {
		if (text)
			free(text[k]);
		json_decref(params[k]);
		params[k] = NULL;
	}
	free(text);
	free(jobs);
	return rc;
}

int stage_requeue(struct stage_ctx *c, int64_t step, const char *kind, struct err *err)
{
	struct store_job *have = NULL;
	size_t n = 0;
	if (store_step_jobs(c->d->store, c->stage->id, step, kind, &have, &n, err) < 0)
		return -1;
	store_jobs_free(have, n);
	if (n == 0)
		return 0;
	if (store_stage_jobs_requeue(c->d->store, c->stage->id, err) < 0)
		return -1;
	broker_queue_changed(c->d);
	return 1;
}
