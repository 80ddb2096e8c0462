/*
 * stage_eval — the `eval` stage: rollouts on a dataset, rewards, metrics.
 *
 * The stage's prompts (the first `limit` records of `dataset`, all when 0) go out
 * in chunks of EVAL_CHUNK as rollout jobs: step 0 greedy (one answer each), step 1
 * `samples` sampled answers each (none when samples is 0). When a rollout job is
 * done, a reward job (same step and shard) scores its answers with the stage's
 * rewards plus two unweighted ones every eval reports: `correct` (accuracy, or
 * countdown for a countdown dataset: 1 only when right) and `eval_format`
 * (think_answer_format). When every reward job is in, the metrics go to step 0:
 *
 *   pass1          greedy: share of prompts answered correctly
 *   format         greedy: share of well-formed answers
 *   reasoning      greedy: share whose reasoning (before </think>) is not blank
 *   length         greedy: mean answer length in tokens
 *   reward         greedy: mean weighted reward of the stage's rewards
 *   pass1_sampled  sampled: mean correctness over all samples
 *   majk           sampled: share of prompts whose most frequent answer is right
 *   format_sampled, length_sampled
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "names.h"
#include "sha256.h"
#include "stage.h"
#include "stage_rl.h"
#include "stage_settings.h"

#define EVAL_CHUNK 50   /* prompts per rollout job */
/* Answers are compared for the majority vote by their first EVAL_ANSWER_MAX - 1
 * bytes: an answer is a number or a short expression, far shorter. */
#define EVAL_ANSWER_MAX 256

static int64_t prompt_count(struct stage_ctx *c, const struct eval_settings *set,
	int64_t *dataset, struct err *err)
{
	int64_t n = 0, limit = set->limit;
	if (stage_dataset(c, set->dataset, dataset, &n, err) < 0)
		return -1;
	return limit > 0 && limit < n ? limit : n;
}

static int eval_start(struct stage_ctx *c, struct err *err)
{
	struct eval_settings set;
	if (eval_settings_decode(c->spec, &set, err) < 0)
		return -1;
	int had = stage_requeue(c, 0, "rollout", err);
	if (had != 0) /* resumed or retried: the jobs exist */
		return had < 0 ? -1 : 0;
	int64_t dataset, n = prompt_count(c, &set, &dataset, err);
	char sha[SHA256_HEX_SIZE], *config = NULL;
	if (n < 0 || rl_weights(c, set.from, sha, &config, err) < 0)
		return -1;
	int samples = (int)set.samples;
	int64_t per_step = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
	int64_t *records = malloc((size_t)n * sizeof *records);
	int max_new = (int)set.max_new_tokens;
	struct rl_sampling greedy = { 1, 0.0, 1.0, 0, max_new };
	struct rl_sampling sampled = { samples, set.temperature, 1.0, 0, max_new };
	int rc = records ? 0 : err_set(err, ERR_NOMEM, "out of memory");
	for (int64_t i = 0; records && i < n; i++)
		records[i] = i;
	if (rc == 0)
		rc = rl_enqueue_rollouts(c, 0, 0, dataset, records, n, EVAL_CHUNK, &greedy, sha,
			config, err);
	if (rc == 0 && samples > 0)
		rc = rl_enqueue_rollouts(c, 1, 0, dataset, records, n, EVAL_CHUNK, &sampled, sha,
			config, err);
	free(records);
	free(config);
	if (rc < 0)
		return -1;
	return store_stage_set_progress(c->d->store, c->stage->id, 0,
		2 * per_step * (samples > 0 ? 2 : 1), err);
}

struct tally { double n, correct, format, reasoning, length, reward; };

/* Metrics of one step from its rollout and reward jobs. */
static int metrics(struct stage_ctx *c, int64_t step, struct store_job *ro,
	struct store_job *rw, size_t n, struct err *err)
{
	struct tally t = { 0 };
	double maj = 0, prompts = 0;
	for (size_t k = 0; k < n; k++) {
		json_error_t jerr;
		json_t *samples = json_loads(ro[k].result, 0, &jerr);
		json_t *scores = json_loads(rw[k].result, 0, &jerr);
		json_t *ss = json_object_get(samples, "samples"), *is = json_object_get(scores, "items");
		size_t m = json_array_size(ss);
		for (size_t i = 0; i < m;) { /* one prompt's samples: i .. j-1 */
			size_t j = i;
			json_int_t p = json_integer_value(json_object_get(json_array_get(ss, i), "prompt"));
			while (j < m && json_integer_value(json_object_get(json_array_get(ss, j),
				"prompt")) == p)
				j++;
			size_t best = i, best_n = 0;
			for (size_t a = i; a < j; a++) {
				json_t *s = json_array_get(ss, a), *sc = json_array_get(is, a);
				json_t *comp = json_object_get(sc, "components");
				const char *text = json_string_value(json_object_get(s, "text"));
				const char *end = text ? strstr(text, "</think>") : NULL;
				int blank = 1;
				for (const char *q = text; end && q < end; q++)
					blank &= *q == ' ' || *q == '\n';
				t.n++;
				t.correct += json_number_value(json_object_get(comp, "eval_correct")) >= 1.0;
				t.format += json_number_value(json_object_get(comp, "eval_format")) >= 1.0;
				t.reasoning += end && !blank;
				t.length += (double)json_array_size(json_object_get(s, "tokens"));
				t.reward += json_number_value(json_object_get(sc, "total"));
				char ans[EVAL_ANSWER_MAX], other[EVAL_ANSWER_MAX];
				size_t votes = 0;
				rl_answer(text, ans, sizeof ans);
				for (size_t b = i; b < j && *ans; b++) {
					rl_answer(json_string_value(json_object_get(json_array_get(ss, b), "text")),
						other, sizeof other);
					votes += !strcmp(ans, other);
				}
				if (votes > best_n) {
					best = a;
					best_n = votes;
				}
			}
			prompts++;
			maj += best_n > 0 && json_number_value(json_object_get(json_object_get(
				json_array_get(is, best), "components"), "eval_correct")) >= 1.0;
			i = j;
		}
		json_decref(samples);
		json_decref(scores);
	}
	if (t.n == 0)
		return 0;
	const char *sfx = step ? "_sampled" : "";
	struct { const char *name; double v; } m[] = {
		{ "pass1", t.correct / t.n }, { "format", t.format / t.n },
		{ "reasoning", t.reasoning / t.n }, { "length", t.length / t.n },
		{ "reward", t.reward / t.n }, { "majk", prompts > 0 ? maj / prompts : 0 },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		char name[STAGE_METRIC_NAME];
		if (!step && !strcmp(m[i].name, "majk"))
			continue;
		snprintf(name, sizeof name, "%s%s", m[i].name, strcmp(m[i].name, "majk") ? sfx : "");
		if (store_metric_add(c->d->store, c->stage->id, 0, name, m[i].v, c->d->wall, err) < 0)
			return -1;
	}
	log_info("stage %lld '%s': %s pass@1 %.3f format %.3f length %.1f over %.0f answers",
		(long long)c->stage->id, c->stage->name, step ? "sampled" : "greedy",
		t.correct / t.n, t.format / t.n, t.length / t.n, t.n);
	return 0;
}

static int eval_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	int64_t dataset, done = 0, total = 0, finished = 1;
	struct eval_settings set;
	*state = STAGE_RUNNING;
	if (eval_settings_decode(c->spec, &set, err) < 0 ||
		prompt_count(c, &set, &dataset, err) < 0)
		return -1;
	struct store_job *ro[2] = { 0 }, *rw[2] = { 0 };
	size_t nro[2] = { 0 }, nrw[2] = { 0 };
	int rc = 0;
	for (int step = 0; step < 2 && rc == 0; step++) {
		if (store_step_jobs(c->d->store, c->stage->id, step, "rollout", &ro[step], &nro[step],
			err) < 0 || store_step_jobs(c->d->store, c->stage->id, step, "reward", &rw[step],
			&nrw[step], err) < 0) {
			rc = -1;
			break;
		}
		total += 2 * (int64_t)nro[step];
		for (size_t k = 0, r = 0; k < nro[step]; k++) {
			const struct store_job *j = &ro[step][k];
			const struct store_job *w = r < nrw[step] && rw[step][r].shard == j->shard ?
				&rw[step][r++] : NULL;
			if (j->state == JOB_STATE_FAILED || (w && w->state == JOB_STATE_FAILED)) {
				const struct store_job *f = j->state == JOB_STATE_FAILED ? j : w;
				err_set(err, ERR_INVALID, "%s job %lld failed: %s", f->kind, (long long)f->id,
					f->error ? f->error : "no error recorded");
				*state = STAGE_FAILED;
				rc = 1;
				break;
			}
			done += (j->state == JOB_STATE_DONE) + (w && w->state == JOB_STATE_DONE);
			if (j->state == JOB_STATE_DONE && !w && rl_enqueue_reward(c, j, dataset,
				set.dataset, set.rewards, err) < 0)
				rc = -1;
			finished &= w && w->state == JOB_STATE_DONE;
		}
	}
	if (rc == 0 && store_stage_set_progress(c->d->store, c->stage->id, done, total, err) < 0)
		rc = -1;
	if (rc == 0 && finished && total > 0) {
		for (int step = 0; step < 2 && rc == 0; step++)
			if (nro[step])
				rc = metrics(c, step, ro[step], rw[step], nro[step], err);
		if (rc == 0)
			*state = STAGE_SUCCEEDED;
	}
	for (int step = 0; step < 2; step++) {
		store_jobs_free(ro[step], nro[step]);
		store_jobs_free(rw[step], nrw[step]);
	}
	return rc < 0 ? -1 : 0;
}

const struct stage_driver stage_eval = {
	.kind = NAME_STAGE_EVAL, .unit = "jobs", .start = eval_start, .advance = eval_advance,
};
