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

#include "blobs.h"
#include "broker.h"
#include "checkpoint.h"
#include "daemon.h"
#include "learner.h"
#include "rng.h"
#include "stage.h"
#include "tokenizer.h"

#define EVAL_CHUNK 50   /* prompts per rollout job */

/* The weights to evaluate: a checkpoint's blob, or fresh weights written as one. */
static int eval_weights(struct stage_ctx *c, char sha[SHA256_HEX_SIZE], char **config,
	struct err *err)
{
	struct model_config cfg;
	if (stage_initial_weights(c, &cfg, sha, err) < 0)
		return -1;
	struct learner *l = learner_open(c->d, c->stage->id, &cfg, *sha ? sha : NULL,
		(uint64_t)c->pipeline->seed, err);
	if (!l)
		return -1;
	memcpy(sha, l->sha256, SHA256_HEX_SIZE);
	*config = strdup(l->config);
	/* a checkpoint row keeps fresh weights from being dropped, and names them */
	int rc = store_checkpoint_add(c->d->store, c->stage->id, 0, sha, NULL, l->config,
		c->d->wall, err);
	learner_close(c->d, c->stage->id);
	return *config ? rc : err_set(err, ERR_NOMEM, "out of memory");
}

static int64_t prompt_count(struct stage_ctx *c, int64_t *dataset, struct err *err)
{
	const char *name = json_string_value(json_object_get(c->spec, "dataset"));
	int64_t n = 0, limit = json_integer_value(json_object_get(c->spec, "limit"));
	int rc = store_dataset_find(c->d->store, c->pipeline->id, name, dataset, &n, err);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "dataset '%s' does not exist (yet)",
			name);
	return limit > 0 && limit < n ? limit : n;
}

static int enqueue_rollouts(struct stage_ctx *c, int64_t step, int samples, double temp,
	const char *sha, const char *config, int64_t dataset, int64_t n, struct err *err)
{
	const char *tpl = json_string_value(json_object_get(c->pipeline_spec, "template"));
	const char *at = tpl ? strstr(tpl, "{prompt}") : NULL;
	json_error_t jerr;
	json_t *cfg = json_loads(config, 0, &jerr);
	struct model_config mc;
	int64_t nshards = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
	struct store_job_new *jobs = calloc((size_t)nshards, sizeof *jobs);
	char **params = calloc((size_t)nshards, sizeof *params);
	char key[32];
	int rc = -1;
	int *ids = NULL;
	if (!at || !cfg || !jobs || !params ||
		checkpoint_parse_config(config, strlen(config), "eval", &mc, err) < 0 ||
		!(ids = malloc((size_t)mc.max_seq * sizeof *ids))) {
		if (!err->code)
			err_set(err, ERR_INVALID, "cannot build the eval's rollouts");
		goto out;
	}
	snprintf(key, sizeof key, "%llu", (unsigned long long)rng_key_u64(rng_key_str(
		rng_key_u64((uint64_t)c->pipeline->seed, 0), c->stage->name), (uint64_t)step));
	for (int64_t k = 0; k < nshards; k++) {
		json_t *prompts = json_array();
		for (int64_t i = k * EVAL_CHUNK; i < n && i < (k + 1) * EVAL_CHUNK; i++) {
			struct store_record r;
			if (store_record_get(c->d->store, dataset, i, &r, err) != 1 || !r.prompt) {
				if (!err->code)
					err_set(err, ERR_INVALID, "record %lld has no prompt", (long long)i);
				store_record_release(&r);
				json_decref(prompts);
				goto out;
			}
			int len = 0, cap = mc.max_seq - 1;
			ids[len++] = mc.bos_id;
			len += (int)tok_encode(tpl, (size_t)(at - tpl), ids + len, (size_t)(cap - len));
			len += (int)tok_encode(r.prompt, strlen(r.prompt), ids + len, (size_t)(cap - len));
			len += (int)tok_encode(at + 8, strlen(at + 8), ids + len, (size_t)(cap - len));
			store_record_release(&r);
			json_t *toks = json_array();
			for (int t = 0; t < len; t++)
				json_array_append_new(toks, json_integer(ids[t]));
			json_array_append_new(prompts, json_pack("{sI so}", "index", (json_int_t)i,
				"tokens", toks));
		}
		json_t *p = json_pack("{ss sO ss so si sf sI s[s]}", "weights", sha, "config", cfg,
			"key", key, "prompts", prompts, "samples", samples, "temperature", temp,
			"max_new_tokens", (json_int_t)json_integer_value(json_object_get(c->spec,
			"max_new_tokens")), "stop", "</answer>");
		params[k] = p ? json_dumps(p, JSON_COMPACT) : NULL;
		json_decref(p);
		if (!params[k]) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		jobs[k] = (struct store_job_new){ .stage = c->stage->id, .kind = "rollout",
			.step = step, .shard = k, .max_attempts = c->d->cfg.max_attempts,
			.params = params[k] };
	}
	rc = store_job_enqueue(c->d->store, jobs, (size_t)nshards, c->d->wall, NULL, err);
out:
	for (int64_t k = 0; params && k < nshards; k++)
		free(params[k]);
	free(params);
	free(jobs);
	free(ids);
	json_decref(cfg);
	return rc;
}

static int eval_start(struct stage_ctx *c, struct err *err)
{
	struct store_job *have = NULL;
	size_t nhave = 0;
	if (store_step_jobs(c->d->store, c->stage->id, 0, "rollout", &have, &nhave, err) < 0)
		return -1;
	store_jobs_free(have, nhave);
	if (nhave > 0) { /* resumed or retried */
		if (store_stage_jobs_requeue(c->d->store, c->stage->id, err) < 0)
			return -1;
		broker_queue_changed(c->d);
		return 0;
	}
	int64_t dataset, n = prompt_count(c, &dataset, err);
	char sha[SHA256_HEX_SIZE], *config = NULL;
	if (n < 0 || eval_weights(c, sha, &config, err) < 0)
		return -1;
	int samples = (int)json_integer_value(json_object_get(c->spec, "samples"));
	int64_t per_step = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
	int rc = enqueue_rollouts(c, 0, 1, 0.0, sha, config, dataset, n, err);
	if (rc == 0 && samples > 0)
		rc = enqueue_rollouts(c, 1, samples, json_number_value(json_object_get(c->spec,
			"temperature")), sha, config, dataset, n, err);
	free(config);
	if (rc < 0)
		return -1;
	broker_queue_changed(c->d);
	return store_stage_set_progress(c->d->store, c->stage->id, 0,
		2 * per_step * (samples > 0 ? 2 : 1), err);
}

/* The reward components of the stage: its rewards, then `correct` and `format`. */
static json_t *reward_spec(struct stage_ctx *c)
{
	json_t *all = json_object_get(c->pipeline_spec, "rewards"), *out = json_array(), *name;
	size_t i;
	json_array_foreach(json_object_get(c->spec, "rewards"), i, name) {
		json_t *r = json_deep_copy(json_object_get(all, json_string_value(name)));
		if (!r)
			continue;
		json_object_set(r, "name", name);
		json_array_append_new(out, r);
	}
	const char *ds = json_string_value(json_object_get(c->spec, "dataset"));
	const char *task = json_string_value(json_object_get(json_object_get(json_object_get(
		c->pipeline_spec, "datasets"), ds), "generate"));
	json_array_append_new(out, json_pack("{ss ss sf sf}", "name", "eval_correct", "fn",
		task && !strcmp(task, "countdown") ? "countdown" : "accuracy", "weight", 0.0,
		"format_credit", 0.0));
	json_array_append_new(out, json_pack("{ss ss sf}", "name", "eval_format", "fn",
		"think_answer_format", "weight", 0.0));
	return out;
}

/* Enqueue the reward job scoring rollout job `ro`. */
static int enqueue_reward(struct stage_ctx *c, const struct store_job *ro, int64_t dataset,
	struct err *err)
{
	json_error_t jerr;
	json_t *res = json_loads(ro->result, 0, &jerr), *s, *items = json_array();
	size_t i;
	int rc = -1;
	json_array_foreach(json_object_get(res, "samples"), i, s) {
		struct store_record r;
		int64_t idx = json_integer_value(json_object_get(s, "prompt"));
		if (store_record_get(c->d->store, dataset, idx, &r, err) != 1)
			goto out;
		json_array_append_new(items, json_pack("{ss ss ss* sI}", "prompt", r.prompt,
			"completion", json_string_value(json_object_get(s, "text")),
			"answer", r.answer, "tokens",
			(json_int_t)json_array_size(json_object_get(s, "tokens"))));
		store_record_release(&r);
	}
	json_t *p = json_pack("{so sO}", "rewards", reward_spec(c), "items", items);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (!text) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	struct store_job_new job = { .stage = c->stage->id, .kind = "reward", .step = ro->step,
		.shard = ro->shard, .max_attempts = c->d->cfg.max_attempts, .params = text };
	rc = store_job_enqueue(c->d->store, &job, 1, c->d->wall, NULL, err);
	free(text);
	if (rc == 0)
		broker_queue_changed(c->d);
out:
	json_decref(items);
	json_decref(res);
	return rc;
}

/* The text between <answer> and </answer>, trimmed, in buf; "" if none. */
static void answer_of(const char *text, char *buf, size_t size)
{
	const char *a = text ? strstr(text, "<answer>") : NULL, *b = a ? strstr(a, "</answer>") : NULL;
	*buf = 0;
	if (!a || !b)
		return;
	a += 8;
	while (a < b && (*a == ' ' || *a == '\n'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\n'))
		b--;
	snprintf(buf, size, "%.*s", (int)(b - a), a);
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
				char ans[256], other[256];
				size_t votes = 0;
				answer_of(text, ans, sizeof ans);
				for (size_t b = i; b < j && *ans; b++) {
					answer_of(json_string_value(json_object_get(json_array_get(ss, b), "text")),
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
		char name[64];
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
	*state = STAGE_RUNNING;
	if (prompt_count(c, &dataset, err) < 0)
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
			if (j->state == JOB_STATE_DONE && !w && enqueue_reward(c, j, dataset, err) < 0)
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
	.kind = "eval", .unit = "jobs", .start = eval_start, .advance = eval_advance,
};
