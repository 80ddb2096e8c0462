/*
 * stage_grpo — the `grpo` stage (docs/pipelines.md has its keys): group relative policy optimisation
 * with rule-based rewards, through rollout, reward and grad jobs and the learner.
 *
 * Step s (1-based):
 *   1. prompts: `prompts_per_step` records of `prompts`, positions (s-1)·P .. s·P-1
 *      of a per-epoch shuffle keyed by (seed, stage, epoch);
 *   2. rollout jobs (step s, shard k): MEMPLAN_GRPO_SEQS / group prompts each,
 *      `group` samples per prompt from the weights after step s − 1 (π_old), coins
 *      keyed by (seed, stage, step) and the sample's global index; with
 *      max_staleness 1, from those after step s − 2, enqueued as soon as step s − 1's
 *      rollouts are done (phase_ahead), so that workers sample while step s − 1
 *      trains (rollout_from: which weights is a function of the step, not of timing);
 *   3. a reward job per rollout job: the stage's rewards, plus the hidden ones
 *      that say right and well-formed (verdict.h: metrics accuracy and format);
 *   4. advantages in the daemon, per group: (r − mean) / (std + 1e-4) with the
 *      population std, or r − mean when scale_rewards is false (Dr. GRPO); with
 *      dynamic_sampling, groups whose rewards are all equal (as doubles, not by a
 *      variance that rounding leaves at 1e-33: rl_advantages) leave the batch; with
 *      mask_truncated, samples that hit max_new_tokens weigh 0;
 *   5. `mu` rounds of grad jobs (step s, shard u·GRPO_ROUND_SHARDS + k: `shard`
 *      sequences each) over the batch with π_old's log-probs from the rollout and
 *      the reference weights (the stage's initial weights, refreshed every
 *      `ref_refresh` steps; none when beta is 0); a learner step after each round
 *      (stage_grad.h), on the learner's thread while the loop goes on, committed by
 *      the advance after it ends; round 0 computes the reference's log-probs and the
 *      later rounds reuse them (enqueue_grads);
 *   6. metrics of step s; the samples go to the samples table.
 * Sequence weights follow loss_agg: seq_mean 1/(N·n_i), token_mean 1/Σn, constant
 * 1/(N·max_new_tokens); N the sequences kept, n_i the completion's tokens.
 *
 * Checkpoints are numbered in learner steps (mu per RL step), the stage's progress
 * in RL steps. Restart: like stage_train.c, from the last checkpoint with moments;
 * the jobs after it are recomputed, except with max_staleness 1 the next step's
 * rollouts and rewards (stage_learner keeps them: they sampled from weights older
 * than the checkpoint, which the learner no longer holds). A refresh of the
 * reference saves a checkpoint, so the reference of any step is found again after
 * a restart.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "checkpoint.h"
#include "daemon.h"
#include "learner.h"
#include "memplan.h"
#include "names.h"
#include "retain.h"
#include "rng.h"
#include "stage.h"
#include "stage_grad.h"
#include "stage_rl.h"
#include "stage_settings.h"
#include "verdict.h"

/* Grad jobs of round u of an RL step are shards u·GRPO_ROUND_SHARDS + k: the mu
 * rounds share the step's job numbering (jobs are unique per (stage, step, kind,
 * shard)), so a round must have fewer than this many shards: ⌈kept sequences /
 * shard⌉, at most ⌈prompts_per_step · group / shard⌉ (enqueue_grads refuses more).
 * Part of the job keys in the store: changing it renumbers running stages' jobs. */
#define GRPO_ROUND_SHARDS 100000
/* Rounds an advance may carry through in one turn (a learner step runs on its
 * thread, so a turn commits at most one and starts the next): a bound on the turn's
 * length all the same. */
#define GRPO_ROUNDS_PER_TURN 16

/* Prompts per rollout job: a function of the spec alone (memplan.h sizes a worker's
 * memory by the same figure). */
static int64_t per_job(const struct grpo_settings *set)
{
	return memplan_grpo_prompts(set->group);
}

/* The reference weights for step `step` (1-based): the stage's checkpoint at the
 * last refresh before it, or at step 0 (its initial weights). "" when beta is 0. */
static int reference(struct stage_ctx *c, const struct grpo_settings *set, int64_t step,
	char sha[SHA256_HEX_SIZE], struct err *err)
{
	int64_t every = set->ref_refresh, mu = set->mu;
	/* checkpoints are numbered in learner steps: mu per RL step */
	int64_t at = (every > 0 ? (step - 1) / every * every : 0) * mu;
	struct store_checkpoint ck;
	*sha = 0;
	if (set->beta <= 0)
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
static int batch_build(const struct grpo_settings *set, struct store_job *ro,
	struct store_job *rw, size_t n, struct batch *b, struct err *err)
{
	int64_t g = set->group;
	int scale = set->scale_rewards, dynamic = set->dynamic_sampling;
	int mask = set->mask_truncated;
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

/* The reference's log-probs of sequence m of round 0's grad job k (return_ref_lp),
 * a borrowed array; an error when the job is missing or its result lacks them. */
static int round0_ref_lp(struct stage_ctx *c, const struct store_job *r0, size_t n0,
	json_t **parsed, int64_t k, int64_t m, json_t **out, struct err *err)
{
	if ((size_t)k >= n0 || r0[k].shard != k)
		return err_set(err, ERR_NOTFOUND, "grpo stage '%s': no grad job of round 0 for "
			"shard %lld to take the reference's log-probs from", c->stage->name,
			(long long)k);
	if (!parsed[k]) {
		json_error_t jerr;
		parsed[k] = json_loads(r0[k].result ? r0[k].result : "", 0, &jerr);
	}
	*out = json_array_get(json_object_get(parsed[k], "ref_lp"), (size_t)m);
	if (!json_is_array(*out))
		return err_set(err, ERR_FORMAT, "grpo stage '%s': grad job %lld (step %lld, shard "
			"%lld) returned no reference log-probs for sequence %lld", c->stage->name,
			(long long)r0[k].id, (long long)r0[k].step, (long long)k, (long long)m);
	return 0;
}

/* Enqueue round `round` of grad jobs over the kept samples. With a reference, round 0
 * computes its log-probs and returns them (when there are more rounds); the later
 * rounds take them from round 0's jobs r0[0..n0) — the same shards over the same
 * sequences — so the reference runs once per sample, not once per round. */
static int enqueue_grads(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, int64_t round, struct batch *b, int64_t prompts_ds,
	const char *ref, const struct store_job *r0, size_t n0, struct err *err)
{
	int64_t shard = set->shard, max_new = set->max_new_tokens;
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
	if (nshards >= GRPO_ROUND_SHARDS)
		return err_set(err, ERR_INVALID, "grpo stage '%s': %lld grad jobs a round, more "
			"than the %d a round can number: raise shard", c->stage->name,
			(long long)nshards, GRPO_ROUND_SHARDS - 1);
	json_t **params = calloc((size_t)nshards, sizeof *params);
	json_t **parsed = calloc((size_t)nshards, sizeof *parsed); /* round 0's results */
	int *ids = malloc((size_t)l->m.cfg.max_seq * sizeof *ids);
	json_error_t jerr;
	json_t *config = json_loads(l->config, 0, &jerr);
	int rc = -1, given = *ref && round > 0;
	size_t at = 0;
	if (!params || !parsed || !ids || !config) {
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
			int len = rl_prompt_tokens(c, &l->m.cfg, r.prompt, p->record, max_new, ids,
				err);
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
			double w = set->loss_agg == LOSS_AGG_TOKEN_MEAN ? 1.0 / tokens :
				set->loss_agg == LOSS_AGG_CONSTANT ? 1.0 / ((double)kept * (double)max_new) :
				1.0 / ((double)kept * (double)ngen);
			json_t *seq = json_pack("{so si sf sf so}", "tokens", toks, "start", len,
				"weight", w, "adv", p->adv, "old_lp", old), *rlp = NULL;
			json_array_append_new(seqs, seq);
			if (given && (round0_ref_lp(c, r0, n0, parsed, k, m, &rlp, err) < 0 ||
				json_object_set(seq, "ref_lp", rlp) < 0)) {
				if (!err->code)
					err_set(err, ERR_NOMEM, "out of memory");
				json_decref(seqs);
				goto out;
			}
			m++;
		}
		params[k] = json_pack("{ss sO ss so ss? sf sf sf sb}", "weights", l->sha256,
			"config", config, "loss", "grpo", "seqs", seqs, "ref_weights", *ref ? ref : NULL,
			"beta", set->beta, "clip_low", set->clip, "clip_high", set->clip_high,
			"return_ref_lp", *ref && round == 0 && set->mu > 1);
		if (params[k] && set->learner.checkpoint_activations) /* absent: off */
			json_object_set_new(params[k], "checkpoint_activations", json_true());
		if (params[k] && learner_job_weights(l, params[k]) < 0) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = stage_enqueue(c, "grad", step, round * GRPO_ROUND_SHARDS, params, (size_t)nshards,
		err);
out:
	for (int64_t k = 0; params && k < nshards; k++)
		json_decref(params[k]); /* left over when a shard could not be built */
	for (int64_t k = 0; parsed && k < nshards; k++)
		json_decref(parsed[k]);
	free(params);
	free(parsed);
	free(ids);
	json_decref(config);
	return rc;
}

/* The learner step whose weights the rollouts of RL step `step` sample from: the end
 * of step − 1, or with max_staleness 1 of step − 2 (so that step s + 1's rollouts
 * can go out while step s trains). A function of the spec and the step alone, never
 * of timing: the samples do not depend on when their jobs went out. */
static int64_t rollout_from(const struct grpo_settings *set, int64_t step)
{
	int64_t s = step - 1 - set->max_staleness;
	return (s > 0 ? s : 0) * set->mu;
}

/* Those weights: the learner's when it is at that step, else that step's checkpoint
 * (a restart that lost the next step's rollouts); an error when neither has them. */
static int rollout_weights(struct stage_ctx *c, const struct grpo_settings *set,
	const struct learner *l, int64_t step, char sha[SHA256_HEX_SIZE], struct err *err)
{
	int64_t at = rollout_from(set, step);
	struct store_checkpoint ck;
	if (at == l->step) {
		memcpy(sha, l->sha256, SHA256_HEX_SIZE);
		return 0;
	}
	int rc = store_checkpoint_at(c->d->store, c->stage->id, at, &ck, err);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "grpo stage '%s': cannot sample "
			"step %lld: the weights of learner step %lld it samples from (max_staleness "
			"%lld) are neither the learner's (step %ld) nor a checkpoint",
			c->stage->name, (long long)step, (long long)at, (long long)set->max_staleness,
			l->step);
	memcpy(sha, ck.sha256, SHA256_HEX_SIZE);
	free(ck.config);
	return 0;
}

/* Enqueue the rollouts of RL step `step`; ahead: they go out while an earlier step
 * trains (max_staleness 1), which leaves that step's start time alone. */
static int enqueue_rollouts(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, int ahead, struct err *err)
{
	int64_t ds, n, p = set->prompts_per_step;
	char sha[SHA256_HEX_SIZE];
	if (stage_dataset(c, set->prompts, &ds, &n, err) < 0 ||
		rollout_weights(c, set, l, step, sha, err) < 0)
		return -1;
	int64_t *records = malloc((size_t)p * sizeof *records);
	if (!records)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (int64_t i = 0; i < p; i++)
		if ((records[i] = stage_record_at(c, l, n, (step - 1) * p + i)) < 0) {
			free(records);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
	struct rl_sampling s = { (int)set->group, set->temperature, set->top_p, (int)set->top_k,
		(int)set->max_new_tokens };
	if (!ahead)
		l->step_started = c->d->wall;
	/* the learner's weights: with LoRA, the frozen base and the current adapters; a
	 * checkpoint's (older weights, max_staleness): its merged weights as they are */
	int rc = rl_enqueue_rollouts(c, step, 0, ds, records, p, per_job(set), &s, sha,
		l->config, strcmp(sha, l->sha256) == 0 ? l : NULL, err);
	free(records);
	return rc;
}

/* Metrics and samples of a finished RL step. */
static int step_done(struct stage_ctx *c, const struct grpo_settings *set, struct learner *l,
	int64_t step, struct batch *b, struct store_job *grads, size_t ngrads, struct err *err)
{
	const char *key = verdict_key(c->pipeline_spec, set->rewards, set->correct);
	double gen = 0, lmin = HUGE_VAL, lmax = 0, acc = 0, fmt = 0, mean = 0, sq = 0;
	struct grad_sums g;
	grad_sums(grads, ngrads, &g);
	double kl = g.kl, clip = g.clip, ent = g.entropy, toks = g.tokens;
	json_t *comp_sum = json_object(), *comp_sq = json_object();
	for (size_t i = 0; i < b->n; i++) {
		struct sample *p = &b->s[i];
		double len = (double)json_array_size(p->tokens);
		const char *name;
		json_t *v;
		gen += len;
		lmin = len < lmin ? len : lmin;
		lmax = len > lmax ? len : lmax;
		acc += verdict_correct(p->components, key);
		fmt += verdict_format(p->components);
		mean += p->reward;
		sq += p->reward * p->reward;
		json_t *rw = verdict_public(p->components);
		json_object_foreach(rw, name, v) {
			double x = json_number_value(v);
			json_object_set_new(comp_sum, name, json_real(json_number_value(
				json_object_get(comp_sum, name)) + x));
			json_object_set_new(comp_sq, name, json_real(json_number_value(
				json_object_get(comp_sq, name)) + x * x));
		}
		json_object_set_new(rw, "total", json_real(p->reward));
		char *rtext = json_dumps(rw, JSON_COMPACT);
		json_decref(rw);
		struct store_sample x = { step, (int64_t)i, p->record, (int64_t)len, p->text, rtext,
			p->finish ? p->finish : "stop", p->adv, set->prompts,
			verdict_correct(p->components, key) };
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
		char key[STAGE_METRIC_NAME];
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
	struct grpo_settings set;
	if (grpo_settings_decode(c->spec, &set, err) < 0)
		return -1;
	int64_t steps = set.steps, mu = set.mu;
	struct learner *l = stage_learner(c, &set.learner, steps * mu, err);
	if (!l || store_stage_set_progress(c->d->store, c->stage->id, l->step / mu, steps,
		err) < 0)
		return -1;
	int64_t step = l->step / mu + 1;
	int had = stage_requeue(c, step, "rollout", err);
	if (had != 0) /* resumed or retried: the jobs exist */
		return had < 0 ? -1 : 0;
	return enqueue_rollouts(c, &set, l, step, 0, err);
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

/* The jobs of an RL step by kind, each in shard order (store_step_jobs). */
struct step_jobs {
	struct store_job *ro, *rw, *gr;   /* rollout, reward, grad */
	size_t nro, nrw, ngr;
};

static int step_jobs_read(struct stage_ctx *c, int64_t step, struct step_jobs *j,
	struct err *err)
{
	memset(j, 0, sizeof *j);
	return store_step_jobs(c->d->store, c->stage->id, step, "rollout", &j->ro, &j->nro,
		err) < 0 || store_step_jobs(c->d->store, c->stage->id, step, "reward", &j->rw,
		&j->nrw, err) < 0 || store_step_jobs(c->d->store, c->stage->id, step, "grad",
		&j->gr, &j->ngr, err) < 0 ? -1 : 0;
}

static void step_jobs_free(struct step_jobs *j)
{
	store_jobs_free(j->ro, j->nro);
	store_jobs_free(j->rw, j->nrw);
	store_jobs_free(j->gr, j->ngr);
	memset(j, 0, sizeof *j);
}

/*
 * The phases of an RL step (stage header, steps 2-6). Each returns 1 when the step
 * can go on to the next phase in this turn, 0 when it waits for jobs (or has just
 * enqueued them), -1 on error.
 */

/* Rollouts: enqueued when the step has none (a step after a restart); 1 when
 * they exist. */
static int phase_rollouts(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, const struct step_jobs *j, struct err *err)
{
	if (j->nro > 0)
		return 1;
	return enqueue_rollouts(c, set, l, step, 0, err) < 0 ? -1 : 0;
}

/* Rewards: a reward job per done rollout job; 1 when every reward job is done. */
static int phase_rewards(struct stage_ctx *c, const struct grpo_settings *set, int64_t ds,
	const struct step_jobs *j, struct err *err)
{
	for (size_t k = 0, r = 0; k < j->nro; k++) { /* rewards for the rollouts that are done */
		int has = r < j->nrw && j->rw[r].shard == j->ro[k].shard;
		r += has;
		if (!has && j->ro[k].state == JOB_STATE_DONE &&
			rl_enqueue_reward(c, &j->ro[k], ds, set->prompts, set->rewards, set->correct,
				err) < 0)
			return -1;
	}
	return j->nrw == j->nro && count_done(j->rw, j->nrw) == j->nrw;
}

/* max_staleness 1: the next step's rollouts go out once this step's are all done,
 * from the weights the learner holds in this step's round 0 (rollout_from: those
 * after step − 1), so that workers sample while this step's grads and learner run;
 * their reward jobs go out as they finish (phase_rewards). */
static int phase_ahead(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, int64_t ds, const struct step_jobs *j,
	struct err *err)
{
	struct step_jobs next = { 0 };
	int rc = 0;
	if (set->max_staleness < 1 || step >= set->steps ||
		count_done(j->ro, j->nro) != j->nro)
		return 0;
	if (store_step_jobs(c->d->store, c->stage->id, step + 1, "rollout", &next.ro, &next.nro,
		err) < 0)
		return -1;
	if (next.nro == 0) /* only in round 0: the learner holds rollout_from(step + 1) */
		rc = l->step % set->mu == 0 ? enqueue_rollouts(c, set, l, step + 1, 1, err) : 0;
	else if (store_step_jobs(c->d->store, c->stage->id, step + 1, "reward", &next.rw,
		&next.nrw, err) < 0 || phase_rewards(c, set, ds, &next, err) < 0)
		rc = -1;
	step_jobs_free(&next);
	return rc;
}

/* Advantages: the batch of samples and the reference weights of the step. */
static int phase_advantages(struct stage_ctx *c, const struct grpo_settings *set,
	int64_t step, const struct step_jobs *j, struct batch *b, char ref[SHA256_HEX_SIZE],
	struct err *err)
{
	if (batch_build(set, j->ro, j->rw, j->nro, b, err) < 0 ||
		reference(c, set, step, ref, err) < 0)
		return -1;
	return 1;
}

/* Grad jobs of round `round`: gr[*first .. *first + *n) (shards round·GRPO_ROUND_SHARDS
 * + k), enqueued when there are none and samples were kept; 1 when they are all done
 * (or there are none to do: every group was dropped). */
static int phase_grads(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, int64_t round, struct batch *b, int64_t ds,
	const char *ref, const struct step_jobs *j, size_t *first, size_t *n, struct err *err)
{
	size_t at = 0, cnt = 0, kept = 0;
	while (at < j->ngr && j->gr[at].shard < round * GRPO_ROUND_SHARDS)
		at++;
	while (at + cnt < j->ngr && j->gr[at + cnt].shard < (round + 1) * GRPO_ROUND_SHARDS)
		cnt++;
	*first = at;
	*n = cnt;
	for (size_t i = 0; i < b->n; i++)
		kept += b->s[i].keep;
	size_t n0 = 0; /* round 0's jobs: gr[0 .. n0) */
	while (n0 < j->ngr && j->gr[n0].shard < GRPO_ROUND_SHARDS)
		n0++;
	if (cnt == 0 && kept > 0)
		return enqueue_grads(c, set, l, step, round, b, ds, ref, j->gr, n0, err);
	return count_done(j->gr + at, cnt) == cnt;
}

/* Whether RL step `step` ends with a checkpoint (with moments): every save_every, the
 * last, and a refresh of the reference (reference() finds it after a restart). */
static int saves(const struct grpo_settings *set, int64_t step)
{
	int64_t refresh = set->ref_refresh;
	return step % set->learner.save_every == 0 || step >= set->steps ||
		(refresh > 0 && step % refresh == 0);
}

/* The learner step of round `round` of RL step `step`, whose grad jobs gr[0..n) are
 * in: started on the learner's thread (0), with the step's checkpoint if it is the
 * last round of a step that saves; then, on a later call, committed (1; 0 while it
 * runs). None when nothing was kept: the step counter moves on at once (1), or on
 * the thread with the checkpoint to save. The reference's blob stays: later steps
 * compare against it. */
static int phase_learn(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, int64_t round, const struct store_job *gr, size_t n,
	const char *ref, struct err *err)
{
	if (l->busy)
		return grad_finish(c->d, l, gr, n, ref, err);
	int save = round == set->mu - 1 && saves(set, step);
	if (n == 0 && !save) {
		l->step++; /* every group was dropped: no update this round */
		return 1;
	}
	return grad_start(c->d, l, gr, n, save, err) < 0 ? -1 : 0;
}

/* The RL step is done: metrics, progress, checkpoint, then the next step's rollouts
 * (1) or the end of the stage (0, *state set). */
static int phase_end(struct stage_ctx *c, const struct grpo_settings *set,
	struct learner *l, int64_t step, struct batch *b, const struct step_jobs *j,
	enum stage_state *state, struct err *err)
{
	int64_t steps = set->steps, mu = set->mu;
	int64_t refresh = set->ref_refresh;
	if (step_done(c, set, l, step, b, j->gr, j->ngr, err) < 0 ||
		store_stage_set_progress(c->d->store, c->stage->id, step, steps, err) < 0)
		return -1;
	if (saves(set, step)) { /* the checkpoint came with the last round (phase_learn) */
		/* the reference of the next step, if any, stays (reference(); learner steps) */
		int64_t ref_at = (refresh > 0 ? step / refresh * refresh : 0) * mu;
		int pin = set->beta > 0 && step < steps;
		if (retain_stage(c, set->learner.keep_checkpoints, &ref_at, (size_t)pin, err) < 0)
			return -1;
	}
	if (set->max_staleness > 0) {
		/* the weights this step sampled from, kept while its rollouts were out (blobs_drop
		 * keeps them if a checkpoint or a job still names them) */
		json_error_t jerr;
		json_t *p = j->nro ? json_loads(j->ro[0].params, 0, &jerr) : NULL;
		const char *w = json_string_value(json_object_get(p, "weights"));
		if (w && strcmp(w, l->sha256) != 0)
			blobs_drop(c->d, w);
		json_decref(p);
	}
	if (step >= steps) {
		log_info("stage %lld '%s': %lld GRPO steps done, weights %s", (long long)c->stage->id,
			c->stage->name, (long long)step, l->sha256);
		learner_close(c->d, c->stage->id);
		*state = STAGE_SUCCEEDED;
		return 0;
	}
	if (set->max_staleness > 0) { /* the next step's rollouts went out ahead (phase_ahead) */
		l->step_started = c->d->wall;
		return 1;
	}
	return enqueue_rollouts(c, set, l, step + 1, 0, err) < 0 ? -1 : 1;
}

/* Advance one RL step as far as its jobs allow, phase by phase: 1 if a round or the
 * step finished and the next can go out at once, 0 if it waits (or the stage ended:
 * *state), -1 on error. */
static int grpo_step(struct stage_ctx *c, const struct grpo_settings *set, struct learner *l,
	enum stage_state *state, struct err *err)
{
	int64_t mu = set->mu, step = l->step / mu + 1, round = l->step % mu;
	int64_t ds, nrec;
	struct step_jobs j = { 0 };
	struct batch b = { 0 };
	size_t first = 0, n = 0;
	int rc = -1;
	char ref[SHA256_HEX_SIZE];
	if (stage_dataset(c, set->prompts, &ds, &nrec, err) < 0 ||
		step_jobs_read(c, step, &j, err) < 0)
		goto out;
	if (any_failed(j.ro, j.nro, err) || any_failed(j.rw, j.nrw, err) ||
		any_failed(j.gr, j.ngr, err)) {
		*state = STAGE_FAILED;
		rc = 0;
		goto out;
	}
	if ((rc = phase_rollouts(c, set, l, step, &j, err)) <= 0 ||
		(rc = phase_rewards(c, set, ds, &j, err)) < 0)
		goto out;
	/* after this step's reward jobs: they go to workers before the next rollouts */
	if (phase_ahead(c, set, l, step, ds, &j, err) < 0) {
		rc = -1;
		goto out;
	}
	if (rc == 0 ||
		(rc = phase_advantages(c, set, step, &j, &b, ref, err)) <= 0 ||
		(rc = phase_grads(c, set, l, step, round, &b, ds, ref, &j, &first, &n, err)) <= 0 ||
		(rc = phase_learn(c, set, l, step, round, j.gr + first, n, ref, err)) <= 0)
		goto out;
	if (l->step % mu != 0) {
		rc = 1; /* the next round can go out now */
		goto out;
	}
	rc = phase_end(c, set, l, step, &b, &j, state, err);
out:
	batch_free(&b);
	step_jobs_free(&j);
	return rc;
}

static int grpo_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	struct grpo_settings set;
	*state = STAGE_RUNNING;
	if (grpo_settings_decode(c->spec, &set, err) < 0)
		return -1;
	struct learner *l = learner_find(c->d, c->stage->id);
	if (!l) /* the daemon restarted: rebuild, then carry on */
		return grpo_start(c, err);
	for (int rounds = 0; rounds < GRPO_ROUNDS_PER_TURN; rounds++) {
		int rc = grpo_step(c, &set, l, state, err);
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
