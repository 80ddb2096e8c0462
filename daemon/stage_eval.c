/*
 * stage_eval — the `eval` stage: rollouts on one dataset or several, rewards,
 * metrics and the answers kept as samples.
 *
 * Each dataset's prompts (its first `limit` records, all when 0) go out in chunks of
 * EVAL_CHUNK as rollout jobs, the datasets one after the other in spec order (the
 * shards of dataset d follow those of d - 1): step 0 greedy (one answer each), step 1
 * `samples` sampled answers each (none when samples is 0). When a rollout job is
 * done, a reward job (same step and shard) scores its answers with the stage's
 * rewards plus the hidden components that say right (the stage's `correct` reward)
 * and well-formed (verdict.h). When every reward job is in, every answer goes to the
 * samples (step 0 and 1, with its dataset and verdict) and the metrics to step 0:
 *
 *   pass1          greedy: share of prompts answered correctly
 *   format         greedy: share of well-formed answers
 *   reasoning      greedy: share whose reasoning (before </think>) is not blank
 *   length         greedy: mean answer length in tokens
 *   reward         greedy: mean weighted reward of the stage's rewards
 *   pass1_sampled, format_sampled, reasoning_sampled, length_sampled,
 *   reward_sampled the same over every sampled answer
 *   majk           sampled: share of prompts whose most frequent answer is right
 *   pass@K, avg@K  sampled, for each K of pass_at: the mean over prompts of the
 *                  unbiased pass@K from its n = samples answers (verdict.h), and of
 *                  its share of right answers (the expected share of K answers,
 *                  equal to pass1_sampled)
 * With several datasets each metric is over all of their prompts, and again per
 * dataset as NAME/DATASET (pass1/test).
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

#define EVAL_CHUNK MEMPLAN_EVAL_PROMPTS /* prompts per rollout job */
/* Answers are compared for the majority vote by their first EVAL_ANSWER_MAX - 1
 * bytes: an answer is a number or a short expression, far shorter. */
#define EVAL_ANSWER_MAX 256

/* One dataset of the stage: its prompts are shards first .. first + jobs - 1. */
struct eval_ds {
	const char *name;           /* borrowed from the spec */
	int64_t id, n, first, jobs;
};

struct eval_plan {
	struct eval_settings set;
	struct eval_ds *ds;
	size_t nds;
	int64_t jobs;               /* rollout jobs per step */
};

static void plan_release(struct eval_plan *p)
{
	free(p->ds);
	p->ds = NULL;
}

static int plan_get(struct stage_ctx *c, struct eval_plan *p, struct err *err)
{
	memset(p, 0, sizeof *p);
	if (eval_settings_decode(c->spec, &p->set, err) < 0)
		return -1;
	size_t n = p->set.datasets ? json_array_size(p->set.datasets) : 1;
	if (!(p->ds = calloc(n ? n : 1, sizeof *p->ds)))
		return err_set(err, ERR_NOMEM, "out of memory");
	p->nds = n;
	for (size_t i = 0; i < n; i++) {
		struct eval_ds *d = &p->ds[i];
		int64_t limit = p->set.limit;
		d->name = p->set.datasets ? json_string_value(json_array_get(p->set.datasets, i)) :
			p->set.dataset;
		if (stage_dataset(c, d->name, &d->id, &d->n, err) < 0) {
			plan_release(p);
			return -1;
		}
		if (limit > 0 && limit < d->n)
			d->n = limit;
		d->first = p->jobs;
		d->jobs = (d->n + EVAL_CHUNK - 1) / EVAL_CHUNK;
		p->jobs += d->jobs;
	}
	return 0;
}

/* The dataset of shard `shard`. */
static const struct eval_ds *plan_ds(const struct eval_plan *p, int64_t shard)
{
	for (size_t i = 0; i < p->nds; i++)
		if (shard < p->ds[i].first + p->ds[i].jobs)
			return &p->ds[i];
	return &p->ds[p->nds - 1];
}

static int eval_start(struct stage_ctx *c, struct err *err)
{
	struct eval_plan p;
	if (plan_get(c, &p, err) < 0)
		return -1;
	int had = stage_requeue(c, 0, "rollout", err);
	if (had != 0) { /* resumed or retried: the jobs exist */
		plan_release(&p);
		return had < 0 ? -1 : 0;
	}
	char sha[SHA256_HEX_SIZE], *config = NULL;
	if (rl_weights(c, p.set.from, sha, &config, err) < 0) {
		plan_release(&p);
		return -1;
	}
	int samples = (int)p.set.samples, max_new = (int)p.set.max_new_tokens, rc = 0;
	struct rl_sampling greedy = { 1, 0.0, 1.0, 0, max_new };
	struct rl_sampling sampled = { samples, p.set.temperature, 1.0, 0, max_new };
	for (size_t i = 0; rc == 0 && i < p.nds; i++) {
		const struct eval_ds *d = &p.ds[i];
		int64_t *records = malloc((size_t)d->n * sizeof *records);
		if (!records) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		for (int64_t r = 0; r < d->n; r++)
			records[r] = r;
		rc = rl_enqueue_rollouts(c, 0, d->first, d->id, records, d->n, EVAL_CHUNK, &greedy,
			sha, config, err);
		if (rc == 0 && samples > 0)
			rc = rl_enqueue_rollouts(c, 1, d->first, d->id, records, d->n, EVAL_CHUNK,
				&sampled, sha, config, err);
		free(records);
	}
	free(config);
	int64_t total = 2 * p.jobs * (samples > 0 ? 2 : 1);
	plan_release(&p);
	if (rc < 0)
		return -1;
	return store_stage_set_progress(c->d->store, c->stage->id, 0, total, err);
}

/* What one step's answers add up to, over all datasets or one. */
struct tally {
	double n, correct, format, reasoning, length, reward, prompts, maj;
	double *pass, *avg;         /* per k of pass_at: sums over prompts */
};

/* The prompt's answers a .. b-1 (of rollout samples ss, reward items is) into t. */
static void tally_prompt(struct tally *t, const json_t *ss, const json_t *is, size_t a,
	size_t b, const char *key, const json_t *pass_at)
{
	size_t best = a, best_n = 0;
	int64_t right = 0;
	for (size_t i = a; i < b; i++) {
		json_t *s = json_array_get(ss, i), *comp = json_object_get(json_array_get(is, i),
			"components");
		const char *text = json_string_value(json_object_get(s, "text"));
		const char *end = text ? strstr(text, "</think>") : NULL;
		int blank = 1;
		for (const char *q = text; end && q < end; q++)
			blank &= *q == ' ' || *q == '\n';
		t->n++;
		right += verdict_correct(comp, key);
		t->format += verdict_format(comp);
		t->reasoning += end && !blank;
		t->length += (double)json_array_size(json_object_get(s, "tokens"));
		t->reward += json_number_value(json_object_get(json_array_get(is, i), "total"));
		char ans[EVAL_ANSWER_MAX], other[EVAL_ANSWER_MAX];
		size_t votes = 0;
		rl_answer(text, ans, sizeof ans);
		for (size_t j = a; j < b && *ans; j++) {
			rl_answer(json_string_value(json_object_get(json_array_get(ss, j), "text")),
				other, sizeof other);
			votes += !strcmp(ans, other);
		}
		if (votes > best_n) {
			best = i;
			best_n = votes;
		}
	}
	t->correct += (double)right;
	t->prompts++;
	t->maj += best_n > 0 && verdict_correct(json_object_get(json_array_get(is, best),
		"components"), key);
	size_t i;
	json_t *k;
	int64_t n = (int64_t)(b - a);
	json_array_foreach(pass_at, i, k) {
		int64_t kk = json_integer_value(k);
		if (kk >= 1 && kk <= n) { /* the spec says k <= samples = n */
			t->pass[i] += verdict_pass_at_k(n, right, kk);
			t->avg[i] += (double)right / (double)n;
		}
	}
}

/* Every answer of one rollout job (and its reward job) as samples of step `step`,
 * numbered from *idx. */
static int keep_samples(struct stage_ctx *c, int64_t step, const char *dataset,
	const json_t *ss, const json_t *is, const char *key, int64_t *idx, struct err *err)
{
	size_t i;
	json_t *s;
	json_array_foreach(ss, i, s) {
		json_t *item = json_array_get(is, i), *comp = json_object_get(item, "components");
		json_t *rw = verdict_public(comp);
		const char *finish = json_string_value(json_object_get(s, "finish"));
		if (rw)
			json_object_set(rw, "total", json_object_get(item, "total"));
		char *text = rw ? json_dumps(rw, JSON_COMPACT) : NULL;
		json_decref(rw);
		struct store_sample x = { step, (*idx)++, json_integer_value(json_object_get(s,
			"prompt")), (int64_t)json_array_size(json_object_get(s, "tokens")),
			json_string_value(json_object_get(s, "text")), text, finish ? finish : "stop", 0,
			dataset, verdict_correct(comp, key) };
		int rc = text ? store_sample_add(c->d->store, c->stage->id, &x, err) :
			err_set(err, ERR_NOMEM, "out of memory");
		free(text);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The metrics of tally t, named NAME[_sampled][/dataset]. */
static int tally_write(struct stage_ctx *c, const struct tally *t, int64_t step,
	const json_t *pass_at, const char *dataset, struct err *err)
{
	if (t->n == 0 || t->prompts == 0)
		return 0;
	const char *sfx = step ? "_sampled" : "";
	char slash[40] = "";
	if (dataset)
		snprintf(slash, sizeof slash, "/%s", dataset);
	struct { const char *name; double v; } m[] = {
		{ "pass1", t->correct / t->n }, { "format", t->format / t->n },
		{ "reasoning", t->reasoning / t->n }, { "length", t->length / t->n },
		{ "reward", t->reward / t->n },
	};
	char name[STAGE_METRIC_NAME];
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		snprintf(name, sizeof name, "%s%s%s", m[i].name, sfx, slash);
		if (store_metric_add(c->d->store, c->stage->id, 0, name, m[i].v, c->d->wall, err) < 0)
			return -1;
	}
	if (!step)
		return 0;
	snprintf(name, sizeof name, "majk%s", slash);
	if (store_metric_add(c->d->store, c->stage->id, 0, name, t->maj / t->prompts, c->d->wall,
		err) < 0)
		return -1;
	size_t i;
	json_t *k;
	json_array_foreach(pass_at, i, k) {
		long long kk = (long long)json_integer_value(k);
		snprintf(name, sizeof name, "pass@%lld%s", kk, slash);
		if (store_metric_add(c->d->store, c->stage->id, 0, name, t->pass[i] / t->prompts,
			c->d->wall, err) < 0)
			return -1;
		snprintf(name, sizeof name, "avg@%lld%s", kk, slash);
		if (store_metric_add(c->d->store, c->stage->id, 0, name, t->avg[i] / t->prompts,
			c->d->wall, err) < 0)
			return -1;
	}
	return 0;
}

/* Samples and metrics of one step from its rollout and reward jobs (by shard). */
static int metrics(struct stage_ctx *c, const struct eval_plan *p, int64_t step,
	struct store_job *ro, struct store_job *rw, size_t n, struct err *err)
{
	const char *key = verdict_key(c->pipeline_spec, p->set.rewards, p->set.correct);
	const json_t *pass_at = step ? p->set.pass_at : NULL;
	size_t npass = json_array_size(pass_at), nt = p->nds + 1; /* t[0]: every dataset */
	struct tally *t = calloc(nt, sizeof *t);
	double *sums = calloc(2 * nt * (npass ? npass : 1), sizeof *sums);
	int64_t idx = 0;
	int rc = t && sums ? 0 : err_set(err, ERR_NOMEM, "out of memory");
	for (size_t d = 0; rc == 0 && d < nt; d++) {
		t[d].pass = sums + 2 * d * npass;
		t[d].avg = t[d].pass + npass;
	}
	for (size_t k = 0; rc == 0 && k < n; k++) {
		json_error_t jerr;
		json_t *samples = json_loads(ro[k].result, 0, &jerr);
		json_t *scores = json_loads(rw[k].result, 0, &jerr);
		json_t *ss = json_object_get(samples, "samples"), *is = json_object_get(scores, "items");
		const struct eval_ds *ds = plan_ds(p, ro[k].shard);
		struct tally *mine = &t[1 + (size_t)(ds - p->ds)];
		size_t m = json_array_size(ss);
		for (size_t i = 0; i < m;) { /* one prompt's samples: i .. j-1 */
			size_t j = i;
			json_int_t pr = json_integer_value(json_object_get(json_array_get(ss, i), "prompt"));
			while (j < m && json_integer_value(json_object_get(json_array_get(ss, j),
				"prompt")) == pr)
				j++;
			tally_prompt(&t[0], ss, is, i, j, key, pass_at);
			tally_prompt(mine, ss, is, i, j, key, pass_at);
			i = j;
		}
		rc = keep_samples(c, step, ds->name, ss, is, key, &idx, err);
		json_decref(samples);
		json_decref(scores);
	}
	if (rc == 0)
		rc = tally_write(c, &t[0], step, pass_at, NULL, err);
	for (size_t d = 0; rc == 0 && p->nds > 1 && d < p->nds; d++)
		rc = tally_write(c, &t[1 + d], step, pass_at, p->ds[d].name, err);
	if (rc == 0 && t[0].n > 0)
		log_info("stage %lld '%s': %s pass@1 %.3f format %.3f length %.1f over %.0f answers",
			(long long)c->stage->id, c->stage->name, step ? "sampled" : "greedy",
			t[0].correct / t[0].n, t[0].format / t[0].n, t[0].length / t[0].n, t[0].n);
	free(sums);
	free(t);
	return rc;
}

static int eval_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	int64_t done = 0, total = 0, finished = 1;
	struct eval_plan p;
	*state = STAGE_RUNNING;
	if (plan_get(c, &p, err) < 0)
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
			const struct eval_ds *ds = plan_ds(&p, j->shard);
			if (j->state == JOB_STATE_DONE && !w && rl_enqueue_reward(c, j, ds->id, ds->name,
				p.set.rewards, p.set.correct, err) < 0)
				rc = -1;
			finished &= w && w->state == JOB_STATE_DONE;
		}
	}
	if (rc == 0 && store_stage_set_progress(c->d->store, c->stage->id, done, total, err) < 0)
		rc = -1;
	if (rc == 0 && finished && total > 0) {
		for (int step = 0; step < 2 && rc == 0; step++)
			if (nro[step])
				rc = metrics(c, &p, step, ro[step], rw[step], nro[step], err);
		if (rc == 0)
			*state = STAGE_SUCCEEDED;
	}
	for (int step = 0; step < 2; step++) {
		store_jobs_free(ro[step], nro[step]);
		store_jobs_free(rw[step], nrw[step]);
	}
	plan_release(&p);
	return rc < 0 ? -1 : 0;
}

const struct stage_driver stage_eval = {
	.kind = NAME_STAGE_EVAL, .unit = "jobs", .start = eval_start, .advance = eval_advance,
};
