/*
 * stage_reject — the `rejection_sample` stage (R1 §2.3.3): `samples` answers per
 * prompt from `from`'s weights, scored by the stage's rewards, filtered (correct
 * only, as the stage's `correct` reward says (verdict.h), mixed language, overlong paragraphs, code blocks, duplicates, a cap per
 * prompt), and the kept ones written as dataset `output` of SFT examples
 * {prompt, answer, response}, in prompt order.
 *
 * Jobs: rollouts (step 0, REJECT_CHUNK prompts each), then per rollout job a
 * reward job and then a reject job (same shard; a prompt never straddles two
 * jobs, so the per-prompt filters see all of its samples). When every reject job
 * is in, the dataset is written in one unit, and per-filter drop counts and the
 * kept count are the stage's metrics (step 0: dropped_<filter>, kept, sampled).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "memplan.h"
#include "names.h"
#include "sha256.h"
#include "stage.h"
#include "stage_rl.h"
#include "stage_settings.h"
#include "verdict.h"

#define REJECT_CHUNK MEMPLAN_REJECT_PROMPTS /* prompts per rollout job */

static int rs_start(struct stage_ctx *c, struct err *err)
{
	struct reject_settings set;
	if (reject_settings_decode(c->spec, &set, err) < 0)
		return -1;
	int had = stage_requeue(c, 0, "rollout", err);
	if (had != 0) /* resumed or retried: the jobs exist */
		return had < 0 ? -1 : 0;
	int64_t ds, n;
	char sha[SHA256_HEX_SIZE], *config = NULL;
	if (stage_dataset(c, set.prompts, &ds, &n, err) < 0 ||
		rl_weights(c, set.from, sha, &config, err) < 0)
		return -1;
	int64_t *records = malloc((size_t)n * sizeof *records);
	int rc = records && config ? 0 : err_set(err, ERR_NOMEM, "out of memory");
	for (int64_t i = 0; records && i < n; i++)
		records[i] = i;
	struct rl_sampling s = { (int)set.samples, set.temperature, set.top_p, (int)set.top_k,
		(int)set.max_new_tokens };
	if (rc == 0)
		rc = rl_enqueue_rollouts(c, 0, 0, ds, records, n, REJECT_CHUNK, &s, sha, config, err);
	free(records);
	free(config);
	return rc;
}

/* The reject job for a rollout job and its reward job. */
static int enqueue_reject(struct stage_ctx *c, const struct reject_settings *set,
	const struct store_job *ro, const struct store_job *rw, struct err *err)
{
	json_error_t jerr;
	json_t *a = json_loads(ro->result, 0, &jerr), *b = json_loads(rw->result, 0, &jerr);
	json_t *ss = json_object_get(a, "samples"), *is = json_object_get(b, "items");
	json_t *items = json_array(), *filters = json_deep_copy(set->filters);
	const char *key = verdict_key(c->pipeline_spec, set->rewards, set->correct);
	size_t i;
	json_t *x;
	json_array_foreach(ss, i, x) {
		json_t *comp = json_object_get(json_array_get(is, i), "components");
		json_array_append_new(items, json_pack("{sO sO sO sf}", "prompt_index",
			json_object_get(x, "prompt"), "completion", json_object_get(x, "text"),
			"total", json_object_get(json_array_get(is, i), "total"), "correct",
			(double)verdict_correct(comp, key)));
	}
	/* the spec's off-values (false, 0) mean "filter off": drop those keys */
	const char *k;
	json_t *v, *on = json_object();
	json_object_foreach(filters, k, v)
		if (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) > 0))
			json_object_set(on, k, v);
	json_t *p = json_pack("{so so}", "filters", on, "items", items);
	json_decref(filters);
	json_decref(a);
	json_decref(b);
	return stage_enqueue(c, "reject", 0, ro->shard, &p, 1, err);
}

/* Write dataset `output` from the kept samples, and the counts. */
static int write_output(struct stage_ctx *c, const struct reject_settings *set, int64_t ds,
	struct store_job *ro, struct store_job *rj, size_t n, struct err *err)
{
	const char *out = set->output;
	json_t *src = json_pack("{ss ss}", "stage", c->stage->name, "kind", NAME_STAGE_REJECT);
	char *stext = json_dumps(src, JSON_COMPACT);
	json_decref(src);
	int64_t id, kept = 0, sampled = 0;
	json_t *dropped = json_object();
	int rc = store_dataset_add(c->d->store, c->pipeline->id, out, stext, c->d->wall, &id, err);
	free(stext);
	for (size_t k = 0; rc == 0 && k < n; k++) {
		json_error_t jerr;
		json_t *a = json_loads(ro[k].result, 0, &jerr), *b = json_loads(rj[k].result, 0, &jerr);
		json_t *ss = json_object_get(a, "samples"), *idx, *cnt;
		size_t i;
		const char *name;
		sampled += (int64_t)json_array_size(ss);
		json_object_foreach(json_object_get(b, "dropped"), name, cnt)
			json_object_set_new(dropped, name, json_integer(json_integer_value(
				json_object_get(dropped, name)) + json_integer_value(cnt)));
		json_array_foreach(json_object_get(b, "kept"), i, idx) {
			json_t *x = json_array_get(ss, (size_t)json_integer_value(idx));
			struct store_record r, w = { 0 };
			int64_t rec = json_integer_value(json_object_get(x, "prompt"));
			if (store_record_get(c->d->store, ds, rec, &r, err) != 1) {
				rc = -1;
				break;
			}
			w.prompt = r.prompt;
			w.answer = r.answer;
			w.response = (char *)json_string_value(json_object_get(x, "text"));
			rc = store_record_add(c->d->store, id, kept++, &w, err);
			store_record_release(&r);
			if (rc < 0)
				break;
		}
		json_decref(a);
		json_decref(b);
	}
	if (rc == 0)
		rc = store_dataset_set_count(c->d->store, id, kept, err);
	const char *name;
	json_t *cnt;
	json_object_foreach(dropped, name, cnt) {
		char key[STAGE_METRIC_NAME];
		snprintf(key, sizeof key, "dropped_%s", name);
		if (rc == 0)
			rc = store_metric_add(c->d->store, c->stage->id, 0, key,
				(double)json_integer_value(cnt), c->d->wall, err);
	}
	json_decref(dropped);
	if (rc == 0)
		rc = store_metric_add(c->d->store, c->stage->id, 0, "kept", (double)kept, c->d->wall,
			err);
	if (rc == 0)
		rc = store_metric_add(c->d->store, c->stage->id, 0, "sampled", (double)sampled,
			c->d->wall, err);
	if (rc == 0)
		log_info("stage %lld '%s': kept %lld of %lld samples as dataset '%s'",
			(long long)c->stage->id, c->stage->name, (long long)kept, (long long)sampled, out);
	return rc;
}

static int rs_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	int64_t ds, n;
	struct store_job *ro = NULL, *rw = NULL, *rj = NULL;
	size_t nro = 0, nrw = 0, nrj = 0;
	int rc = -1;
	struct reject_settings set;
	*state = STAGE_RUNNING;
	if (reject_settings_decode(c->spec, &set, err) < 0 ||
		stage_dataset(c, set.prompts, &ds, &n, err) < 0 ||
		store_step_jobs(c->d->store, c->stage->id, 0, "rollout", &ro, &nro, err) < 0 ||
		store_step_jobs(c->d->store, c->stage->id, 0, "reward", &rw, &nrw, err) < 0 ||
		store_step_jobs(c->d->store, c->stage->id, 0, "reject", &rj, &nrj, err) < 0)
		goto out;
	int64_t done = 0, finished = nro > 0;
	rc = 0;
	for (size_t k = 0, r = 0, q = 0; k < nro && rc == 0; k++) {
		const struct store_job *w = r < nrw && rw[r].shard == ro[k].shard ? &rw[r++] : NULL;
		const struct store_job *j = q < nrj && rj[q].shard == ro[k].shard ? &rj[q++] : NULL;
		const struct store_job *f = ro[k].state == JOB_STATE_FAILED ? &ro[k] :
			w && w->state == JOB_STATE_FAILED ? w : j && j->state == JOB_STATE_FAILED ? j : NULL;
		if (f) {
			err_set(err, ERR_INVALID, "%s job %lld failed: %s", f->kind, (long long)f->id,
				f->error ? f->error : "no error recorded");
			*state = STAGE_FAILED;
			goto out;
		}
		done += (ro[k].state == JOB_STATE_DONE) + (w && w->state == JOB_STATE_DONE) +
			(j && j->state == JOB_STATE_DONE);
		if (ro[k].state == JOB_STATE_DONE && !w)
			rc = rl_enqueue_reward(c, &ro[k], ds, set.prompts, set.rewards, set.correct, err);
		else if (w && w->state == JOB_STATE_DONE && !j)
			rc = enqueue_reject(c, &set, &ro[k], w, err);
		finished &= j && j->state == JOB_STATE_DONE;
	}
	if (rc == 0)
		rc = store_stage_set_progress(c->d->store, c->stage->id, done, 3 * (int64_t)nro, err);
	if (rc == 0 && finished && nrj == nro) {
		rc = write_output(c, &set, ds, ro, rj, nro, err);
		if (rc == 0)
			*state = STAGE_SUCCEEDED;
	}
out:
	store_jobs_free(ro, nro);
	store_jobs_free(rw, nrw);
	store_jobs_free(rj, nrj);
	return rc;
}

const struct stage_driver stage_rejection_sample = {
	.kind = NAME_STAGE_REJECT, .unit = "jobs", .start = rs_start, .advance = rs_advance,
};
