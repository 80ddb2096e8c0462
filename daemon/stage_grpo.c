/*
 * stage_grpo — the `grpo` stage (docs/pipelines.md has its keys): group relative policy optimisation
 * with rule-based rewards, through rollout, reward and grad jobs and the learner.
 *
 * Step s (1-based):
 *   1. prompts: `prompts_per_step` records of `prompts`, positions (s-1)·P .. s·P-1
 *      of a per-epoch shuffle keyed by (seed, stage, epoch);
 *   2. rollout jobs (step s, shard k): GRPO_ROLLOUT_SEQS / group prompts each,
 *      `group` samples per prompt from the current weights (π_old), coins keyed by
 *      (seed, stage, step) and the sample's global index;
 *   3. a reward job per rollout job: the stage's rewards, plus the unweighted
 *      `eval_correct` every RL metric needs;
 *   4. advantages in the daemon, per group: (r − mean) / (std + 1e-4) with the
 *      population std, or r − mean when scale_rewards is false (Dr. GRPO); with
 *      dynamic_sampling, groups whose rewards are all equal (as doubles, not by a
 *      variance that rounding leaves at 1e-33: rl_advantages) leave the batch; with
 *      mask_truncated, samples that hit max_new_tokens weigh 0;
 *   5. `mu` rounds of grad jobs (step s, shard u·K + k: `shard` sequences each) over
 *      the batch with π_old's log-probs from the rollout and the reference weights
 *      (the stage's initial weights, refreshed every `ref_refresh` steps; none when
 *      beta is 0); a learner step after each round;
 *   6. metrics of step s; the samples go to the samples table.
 * Sequence weights follow loss_agg: seq_mean 1/(N·n_i), token_mean 1/Σn, constant
 * 1/(N·max_new_tokens); N the sequences kept, n_i the completion's tokens.
 *
 * Checkpoints are numbered in learner steps (mu per RL step), the stage's progress
 * in RL steps. Restart: like stage_train.c, from the last checkpoint with moments;
 * the jobs after it are recomputed. A refresh of the reference saves a checkpoint, so the
 * reference of any step is found again after a restart.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "checkpoint.h"
#include "daemon.h"
#include "learner.h"
#include "names.h"
#include "retain.h"
#include "rng.h"
#include "stage.h"
#include "stage_rl.h"

#define GRPO_ROLLOUT_SEQS 64   /* sequences per rollout job (prompts · group) */

/* Prompts per rollout job: a function of the spec alone. */
static int64_t per_job(struct stage_ctx *c)
{
	int64_t g = stage_int(c, "group"), k = GRPO_ROLLOUT_SEQS / (g > 0 ? g : 1);
	return k > 0 ? k : 1;
}

/* The reference weights for step `step` (1-based): the stage's checkpoint at the
 * last refresh before it, or at step 0 (its initial weights). "" when beta is 0. */
static int reference(struct stage_ctx *c, int64_t step, char sha[SHA256_HEX_SIZE],
	struct err *err)
{
	int64_t every = stage_int(c, "ref_refresh"), mu = stage_int(c, "mu");
	/* checkpoints are numbered in learner steps: mu per RL step */
	int64_t at = (every > 0 ? (step - 1) / every * every : 0) * mu;
	struct store_checkpoint ck;
	*sha = 0;
	if (stage_num(c, "beta") <= 0)
		return 0;
	int rc = store_checkpoint_at(c->d->store, c->stage->id, at, &ck, err);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "grpo stage '%s': no checkpoint of "
			"step %lld for the reference", c->stage->name, (long long)at);
	memcpy(sha, ck.sha256, SHA256_HEX_SIZE);
	free(ck.config);
	return 0;
}

/* One sample of a step, gathered from its rollout and reward jobs in job order. */
struct sample {
	int64_t record, j;
	const json_t *tokens, *logprobs, *components;
	const char *text, *finish;
	double reward, adv;
	int keep;
};

/* A step's rollouts and rewards: parsed results (owned) and their samples. */
struct batch {
	json_t **ro, **rw;        /* per rollout job: parsed results */
	size_t njobs;
	struct sample *s;
	size_t n;
	double zero_std_groups, groups;
};

static void batch_free(struct batch *b)
{
	for (size_t k = 0; k < b->njobs; k++) {
		json_decref(b->ro[k]);
		json_decref(b->rw[k]);
	}
	free(b->ro);
	free(b->rw);
	free(b->s);
	memset(b, 0, sizeof *b);
}

/* Gather the samples and compute the advantages (stage header, step 4). */
static int batch_build(struct stage_ctx *c, struct store_job *ro, struct store_job *rw,
	size_t n, struct batch *b, struct err *err)
{
	int64_t g = stage_int(c, "group");
	int scale = json_is_true(json_object_get(c->spec, "scale_rewards"));
	int dynamic = json_is_true(json_object_get(c->spec, "dynamic_sampling"));
	int mask = json_is_true(json_object_get(c->spec, "mask_truncated"));
	memset(b, 0, sizeof *b);
	b->ro = calloc(n, sizeof *b->ro);
	b->rw = calloc(n, sizeof *b->rw);
	b->njobs = n;
	size_t cap = 0;
	if (!b->ro || !b->rw)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < n; k++) {
		json_error_t jerr;
		b->ro[k] = json_loads(ro[k].result, 0, &jerr);
		b->rw[k] = json_loads(rw[k].result, 0, &jerr);
		json_t *ss = json_object_get(b->ro[k], "samples"), *is = json_object_get(b->rw[k], "items");
		if (json_array_size(ss) != json_array_size(is))
			return err_set(err, ERR_FORMAT, "rollout job %lld and its reward job disagree",
				(long long)ro[k].id);
		cap += json_array_size(ss);
	}
	if (!(b->s = calloc(cap ? cap : 1, sizeof *b->s)))
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < n; k++) {
		json_t *ss = json_object_get(b->ro[k], "samples"), *is = json_object_get(b->rw[k], "items");
		for (size_t i = 0; i < json_array_size(ss); i++) {
			json_t *x = json_array_get(ss, i), *y = json_array_get(is, i);
			struct sample *p = &b->s[b->n++];
			p->record = json_integer_value(json_object_get(x, "prompt"));
			p->j = json_integer_value(json_object_get(x, "sample"));
			p->tokens = json_object_get(x, "tokens");
			p->logprobs = json_object_get(x, "logprobs");
			p->text = json_string_value(json_object_get(x, "text"));
			p->finish = json_string_value(json_object_get(x, "finish"));
			p->components = json_object_get(y, "components");
			p->reward = json_number_value(json_object_get(y, "total"));
		}
	}
	double *r = malloc(sizeof *r * 2 * (size_t)g);
	if (!r)
		return err_set(err, ERR_NOMEM, "out of memory");
	double *adv = r + g;
	for (size_t i = 0; i < b->n; i += (size_t)g) { /* groups are consecutive */
		size_t e = i + (size_t)g <= b->n ? i + (size_t)g : b->n;
		for (size_t k = i; k < e; k++)
			r[k - i] = b->s[k].reward;
		int equal = rl_advantages(r, e - i, scale, adv);
		b->groups++;
		b->zero_std_groups += equal;
		for (size_t k = i; k < e; k++) {
			struct sample *p = &b->s[k];
			p->adv = adv[k - i];
			p->keep = !(dynamic && equal) && !(mask && p->finish && !strcmp(p->finish,
				"length")) && json_array_size(p->tokens) > 0;
		}
	}
	free(r);
	return 0;
}

/* Enqueue round `round` of grad jobs over the kept samples. */
static int enqueue_grads(struct stage_ctx *c, struct learner *l, int64_t step, int64_t round,
	struct batch *b, int64_t prompts_ds, const char *ref, struct err *err)
{
	int64_t shard = stage_int(c, "shard"), max_new = stage_int(c, "max_new_tokens");
	const char *agg = json_string_value(json_object_get(c->spec, "loss_agg"));
	size_t kept = 0;
	double tokens = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->s[i].keep) {
			kept++;
			tokens += (double)json_array_size(b->s[i].tokens);
		}
	if (kept == 0)
		return 0;
	int64_t nshards = ((int64_t)kept + shard - 1) / shard;
	json_t **params = calloc((size_t)nshards, sizeof *params);
	int *ids = malloc((size_t)l->m.cfg.max_seq * sizeof *ids);
	json_error_t jerr;
	json_t *config = json_loads(l->config, 0, &jerr);
	int rc = -1;
	size_t at = 0;
	if (!params || !ids || !config) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int64_t k = 0; k < nshards; k++) {
		json_t *seqs = json_array();
		for (int64_t m = 0; m < shard && at < b->n; at++) {
			struct sample *p = &b->s[at];
			if (!p->keep)
				continue;
			struct store_record r;
			if (store_record_get(c->d->store, prompts_ds, p->record, &r, err) != 1) {
				json_decref(seqs);
				goto out;
			}
			int len = rl_prompt_tokens(c, &l->m.cfg, r.prompt, p->record, ids, err);
			store_record_release(&r);
			if (len < 0) {
				json_decref(seqs);
				goto out;
			}
			json_t *toks = json_array(), *t;
			size_t i;
			for (int q = 0; q < len; q++)
				json_array_append_new(toks, json_integer(ids[q]));
			json_array_foreach(p->tokens, i, t)
				if ((int)json_array_size(toks) < l->m.cfg.max_seq)
					json_array_append(toks, t);
			size_t ngen = json_array_size(toks) - (size_t)len;
			json_t *old = json_array();
			for (i = 0; i < ngen; i++)
				json_array_append(old, json_array_get(p->logprobs, i));
			double w = !strcmp(agg, "token_mean") ? 1.0 / tokens :
				!strcmp(agg, "constant") ? 1.0 / ((double)kept * (double)max_new) :
				1.0 / ((double)kept * (double)ngen);
			json_array_append_new(seqs, json_pack("{so si sf sf so}", "tokens", toks,
				"start", len, "weight", w, "adv", p->adv, "old_lp", old));
			m++;
		}
		params[k] = json_pack("{ss sO ss so ss? sf sf sf}", "weights", l->sha256,
			"config", config, "loss", "grpo", "seqs", seqs, "ref_weights", *ref ? ref : NULL,
			"beta", stage_num(c, "beta"), "clip_low", stage_num(c, "clip"),
			"clip_high", stage_num(c, "clip_high"));
	}
	rc = stage_enqueue(c, "grad", step, round * 100000, params, (size_t)nshards, err);
out:
	for (int64_t k = 0; params && k < nshards; k++)
		json_decref(params[k]); /* left over when a shard could not be built */
	free(params);
	free(ids);
	json_decref(config);
	return rc;
}

/* Enqueue the rollouts of RL step `step`. */
static int enqueue_rollouts(struct stage_ctx *c, struct learner *l, int64_t step,
	struct err *err)
{
	int64_t ds, n, p = stage_int(c, "prompts_per_step");
	if (stage_dataset(c, "prompts", &ds, &n, err) < 0)
		return -1;
	int64_t *records = malloc((size_t)p * sizeof *records);
	if (!records)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (int64_t i = 0; i < p; i++)
		if ((records[i] = stage_record_at(c, l, n, (step - 1) * p + i)) < 0) {
			free(records);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
	struct rl_sampling s = { (int)stage_int(c, "group"),
		stage_num(c, "temperature"), stage_num(c, "top_p"),
		(int)stage_int(c, "top_k"), (int)stage_int(c, "max_new_tokens") };
	l->step_started = c->d->wall;
	int rc = rl_enqueue_rollouts(c, step, 0, ds, records, p, per_job(c), &s, l->sha256,
		l->config, err);
	free(records);
	return rc;
}

/* Metrics and samples of a finished RL step. */
static int step_done(struct stage_ctx *c, struct learner *l, int64_t step, struct batch *b,
	struct store_job *grads, size_t ngrads, struct err *err)
{
	double kl = 0, clip = 0, ent = 0, toks = 0, gen = 0, lmin = 1e30, lmax = 0;
	double acc = 0, fmt = 0, mean = 0, sq = 0;
	for (size_t k = 0; k < ngrads; k++) {
		json_error_t jerr;
		json_t *r = json_loads(grads[k].result, 0, &jerr);
		kl += json_number_value(json_object_get(r, "kl_sum"));
		clip += json_number_value(json_object_get(r, "clip_count"));
		ent += json_number_value(json_object_get(r, "entropy_sum"));
		toks += json_number_value(json_object_get(r, "tokens"));
		json_decref(r);
	}
	json_t *comp_sum = json_object(), *comp_sq = json_object();
	for (size_t i = 0; i < b->n; i++) {
		struct sample *p = &b->s[i];
		double len = (double)json_array_size(p->tokens);
		const char *name;
		json_t *v;
		gen += len;
		lmin = len < lmin ? len : lmin;
		lmax = len > lmax ? len : lmax;
		acc += json_number_value(json_object_get(p->components, "eval_correct")) >= 1.0;
		fmt += json_number_value(json_object_get(p->components, "eval_format")) >= 1.0;
		mean += p->reward;
		sq += p->reward * p->reward;
		json_object_foreach((json_t *)p->components, name, v) {
			double x = json_number_value(v);
			json_object_set_new(comp_sum, name, json_real(json_number_value(
				json_object_get(comp_sum, name)) + x));
			json_object_set_new(comp_sq, name, json_real(json_number_value(
				json_object_get(comp_sq, name)) + x * x));
		}
		json_t *rw = json_deep_copy(p->components);
		json_object_set_new(rw, "total", json_real(p->reward));
		char *rtext = json_dumps(rw, JSON_COMPACT);
		json_decref(rw);
		struct store_sample x = { step, (int64_t)i, p->record, (int64_t)len, p->text, rtext,
			p->finish ? p->finish : "stop", p->adv };
		int rc = rtext ? store_sample_add(c->d->store, c->stage->id, &x, err) :
			err_set(err, ERR_NOMEM, "out of memory");
		free(rtext);
		if (rc < 0) {
			json_decref(comp_sum);
			json_decref(comp_sq);
			return -1;
		}
	}
	double n = b->n ? (double)b->n : 1, secs = (double)(c->d->wall - l->step_started) / 1000.0;
	struct { const char *name; double v; } m[] = {
		{ "reward_mean", mean / n }, { "reward_std", sqrt(fmax(0, sq / n - mean / n * mean / n)) },
		{ "accuracy", acc / n }, { "format", fmt / n },
		{ "zero_std_groups", b->groups ? b->zero_std_groups / b->groups : 0 },
		{ "kl", toks ? kl / toks : 0 }, { "clip_frac", toks ? clip / toks : 0 },
		{ "entropy", toks ? ent / toks : 0 }, { "length_mean", gen / n },
		{ "length_min", b->n ? lmin : 0 }, { "length_max", lmax },
		{ "grad_norm", l->last_norm }, { "lr", l->last_lr },
		{ "tokens_per_s", secs > 0 ? gen / secs : 0 }, { "step_time", secs },
	};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof m / sizeof m[0]; i++)
		rc = store_metric_add(c->d->store, c->stage->id, step, m[i].name, m[i].v, c->d->wall,
			err);
	const char *name;
	json_t *v;
	json_object_foreach(comp_sum, name, v) {
		char key[96];
		double mu = json_number_value(v) / n;
		double var = json_number_value(json_object_get(comp_sq, name)) / n - mu * mu;
		snprintf(key, sizeof key, "reward_%s_mean", name);
		if (rc == 0)
			rc = store_metric_add(c->d->store, c->stage->id, step, key, mu, c->d->wall, err);
		snprintf(key, sizeof key, "reward_%s_std", name);
		if (rc == 0)
			rc = store_metric_add(c->d->store, c->stage->id, step, key, sqrt(fmax(0, var)),
				c->d->wall, err);
	}
	json_decref(comp_sum);
	json_decref(comp_sq);
	return rc;
}

static int grpo_start(struct stage_ctx *c, struct err *err)
{
	int64_t steps = stage_int(c, "steps"), mu = stage_int(c, "mu");
	struct learner *l = stage_learner(c, steps * mu, err);
	if (!l || store_stage_set_progress(c->d->store, c->stage->id, l->step / mu, steps,
		err) < 0)
		return -1;
	int64_t step = l->step / mu + 1;
	int had = stage_requeue(c, step, "rollout", err);
	if (had != 0) /* resumed or retried: the jobs exist */
		return had < 0 ? -1 : 0;
	return enqueue_rollouts(c, l, step, err);
}

/* 1 if a job of jobs[0..n) failed (err set, stage failed), else 0. */
static int any_failed(const struct store_job *jobs, size_t n, struct err *err)
{
	for (size_t k = 0; k < n; k++)
		if (jobs[k].state == JOB_STATE_FAILED) {
			err_set(err, ERR_INVALID, "%s job %lld (step %lld, shard %lld) failed: %s",
				jobs[k].kind, (long long)jobs[k].id, (long long)jobs[k].step,
				(long long)jobs[k].shard, jobs[k].error ? jobs[k].error : "no error recorded");
			return 1;
		}
	return 0;
}

static size_t count_done(const struct store_job *jobs, size_t n)
{
	size_t d = 0;
	for (size_t k = 0; k < n; k++)
		d += jobs[k].state == JOB_STATE_DONE;
	return d;
}

/* Advance one RL step as far as its jobs allow: 1 if the step finished. */
static int grpo_step(struct stage_ctx *c, struct learner *l, enum stage_state *state,
	struct err *err)
{
	int64_t mu = stage_int(c, "mu"), step = l->step / mu + 1, round = l->step % mu;
	int64_t ds, nrec;
	struct store_job *ro = NULL, *rw = NULL, *gr = NULL;
	size_t nro = 0, nrw = 0, ngr = 0;
	struct batch b = { 0 };
	int rc = -1;
	char ref[SHA256_HEX_SIZE];
	if (stage_dataset(c, "prompts", &ds, &nrec, err) < 0 ||
		store_step_jobs(c->d->store, c->stage->id, step, "rollout", &ro, &nro, err) < 0 ||
		store_step_jobs(c->d->store, c->stage->id, step, "reward", &rw, &nrw, err) < 0 ||
		store_step_jobs(c->d->store, c->stage->id, step, "grad", &gr, &ngr, err) < 0)
		goto out;
	if (any_failed(ro, nro, err) || any_failed(rw, nrw, err) || any_failed(gr, ngr, err)) {
		*state = STAGE_FAILED;
		rc = 0;
		goto out;
	}
	if (nro == 0) {
		rc = enqueue_rollouts(c, l, step, err);
		goto out;
	}
	rc = 0;
	for (size_t k = 0, r = 0; k < nro; k++) { /* rewards for the rollouts that are done */
		int has = r < nrw && rw[r].shard == ro[k].shard;
		r += has;
		if (!has && ro[k].state == JOB_STATE_DONE &&
			(rc = rl_enqueue_reward(c, &ro[k], ds, json_object_get(c->spec, "rewards"),
			err)) < 0)
			goto out;
	}
	if (nrw < nro || count_done(rw, nrw) < nrw)
		goto out;
	if ((rc = batch_build(c, ro, rw, nro, &b, err)) < 0 ||
		(rc = reference(c, step, ref, err)) < 0)
		goto out;
	/* this round's grad jobs: shards round·100000 + k */
	size_t first = 0, cnt = 0;
	while (first < ngr && gr[first].shard < round * 100000)
		first++;
	while (first + cnt < ngr && gr[first + cnt].shard < (round + 1) * 100000)
		cnt++;
	size_t kept = 0;
	for (size_t i = 0; i < b.n; i++)
		kept += b.s[i].keep;
	if (cnt == 0 && kept > 0) {
		rc = enqueue_grads(c, l, step, round, &b, ds, ref, err);
		goto out;
	}
	if (count_done(gr + first, cnt) < cnt)
		goto out;
	/* the round is in: a learner step (none when nothing was kept) */
	if (cnt > 0) {
		const char **paths = calloc(cnt, sizeof *paths);
		char (*names)[BLOBS_RESULT_NAME] = calloc(cnt, sizeof *names);
		char (*full)[4200] = calloc(cnt, sizeof *full);
		char prev[SHA256_HEX_SIZE];
		rc = paths && names && full ? 0 : err_set(err, ERR_NOMEM, "out of memory");
		for (size_t k = 0; rc == 0 && k < cnt; k++) {
			json_error_t jerr;
			json_t *r = json_loads(gr[first + k].result, 0, &jerr);
			const char *nm = json_string_value(json_array_get(json_object_get(r, "files"), 0));
			snprintf(names[k], sizeof names[k], "%s", nm ? nm : "");
			json_decref(r);
			rc = blobs_result_path(c->d, names[k], full[k], sizeof full[k], err);
			paths[k] = full[k];
		}
		memcpy(prev, l->sha256, SHA256_HEX_SIZE);
		if (rc == 0)
			rc = learner_step(c->d, l, paths, cnt, err);
		for (size_t k = 0; rc == 0 && k < cnt; k++)
			blobs_result_drop(c->d, names[k]);
		if (rc == 0 && strcmp(prev, ref) != 0)
			blobs_drop(c->d, prev);
		free(paths);
		free(names);
		free(full);
		if (rc < 0)
			goto out;
	} else {
		l->step++; /* every group was dropped: no update this round */
	}
	if (l->step % mu != 0) {
		rc = 1; /* the next round can go out now */
		goto out;
	}
	/* the RL step is done */
	int64_t steps = stage_int(c, "steps"), every = stage_int(c, "save_every");
	int64_t refresh = stage_int(c, "ref_refresh");
	if ((rc = step_done(c, l, step, &b, gr, ngr, err)) < 0 ||
		(rc = store_stage_set_progress(c->d->store, c->stage->id, step, steps, err)) < 0)
		goto out;
	if (step % every == 0 || step >= steps || (refresh > 0 && step % refresh == 0)) {
		/* the reference of the next step, if any, stays (reference(); learner steps) */
		int64_t ref_at = (refresh > 0 ? step / refresh * refresh : 0) * mu;
		int pin = stage_num(c, "beta") > 0 && step < steps;
		if ((rc = learner_save(c->d, l, 1, err)) < 0 ||
			(rc = retain_stage(c, &ref_at, (size_t)pin, err)) < 0)
			goto out;
	}
	if (step >= steps) {
		log_info("stage %lld '%s': %lld GRPO steps done, weights %s", (long long)c->stage->id,
			c->stage->name, (long long)step, l->sha256);
		learner_close(c->d, c->stage->id);
		*state = STAGE_SUCCEEDED;
		rc = 0;
		goto out;
	}
	rc = enqueue_rollouts(c, l, step + 1, err);
	if (rc == 0)
		rc = 1;
out:
	batch_free(&b);
	store_jobs_free(ro, nro);
	store_jobs_free(rw, nrw);
	store_jobs_free(gr, ngr);
	return rc;
}

static int grpo_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	*state = STAGE_RUNNING;
	struct learner *l = learner_find(c->d, c->stage->id);
	if (!l) /* the daemon restarted: rebuild, then carry on */
		return grpo_start(c, err);
	for (int guard = 0; guard < 16; guard++) {
		int rc = grpo_step(c, l, state, err);
		if (rc < 0)
			return -1;
		if (*state == STAGE_FAILED) {
			learner_close(c->d, c->stage->id);
			return 0;
		}
		if (rc == 0 || *state != STAGE_RUNNING)
			return 0;
		if (!(l = learner_find(c->d, c->stage->id)))
			return 0;
	}
	return 0;
}

const struct stage_driver stage_grpo = {
	.kind = NAME_STAGE_GRPO, .unit = "steps", .start = grpo_start, .advance = grpo_advance,
};
