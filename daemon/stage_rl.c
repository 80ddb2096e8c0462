#include "stage_rl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "daemon.h"
#include "learner.h"
#include "names.h"
#include "packing.h"
#include "rng.h"
#include "tokenizers.h"
#include "verdict.h"

int rl_weights(struct stage_ctx *c, const char *from, char sha256[65], char **config,
	struct err *err)
{
	struct model_config cfg;
	if (stage_initial_weights(c, from, &cfg, sha256, config, err) < 0)
		return -1;
	if (!*sha256) { /* fresh weights: the learner writes them as a blob */
		struct learner *l = learner_open_wait(c->d, c->stage->id, &cfg, NULL,
			(uint64_t)c->pipeline->seed, err);
		if (!l)
			return -1;
		memcpy(sha256, l->sha256, 65);
		*config = strdup(l->config);
		learner_close(c->d, c->stage->id);
		if (!*config)
			return err_set(err, ERR_NOMEM, "out of memory");
	}
	/* a checkpoint row names the weights the stage used (and keeps fresh ones) */
	if (store_checkpoint_add(c->d->store, c->stage->id, 0, sha256, NULL, *config, c->d->wall,
		err) < 0) {
		free(*config);
		*config = NULL;
		return -1;
	}
	return 0;
}

int rl_prompt_tokens(struct stage_ctx *c, const struct model_config *cfg, const char *prompt,
	int64_t record, int64_t max_new, int *ids, struct err *err)
{
	const char *tpl = json_string_value(json_object_get(c->pipeline_spec, "template"));
	struct tokenizer *tok = tokenizers_get(c->d, c->pipeline_spec, cfg, err);
	int64_t got = tok ? pack_prompt(tok, tpl, prompt, ids, (size_t)cfg->max_seq, err) : -1;
	if (got < 0)
		return err_wrap(err, "stage '%s': record %lld", c->stage->name, (long long)record);
	size_t n = (size_t)got;
	if (!pack_prompt_fits(n, max_new, cfg->max_seq))
		return err_set(err, ERR_INVALID, "stage '%s': record %lld: the templated prompt "
			"is %zu tokens and max_new_tokens %lld more need %lld, more than max_seq %d",
			c->stage->name, (long long)record, n, (long long)max_new,
			(long long)n + (long long)max_new, cfg->max_seq);
	return (int)n;
}

int rl_enqueue_rollouts(struct stage_ctx *c, int64_t step, int64_t first_shard,
	int64_t dataset, const int64_t *records, int64_t n, int64_t per_job,
	const struct rl_sampling *s, const char *sha256, const char *config, struct err *err)
{
	json_error_t jerr;
	json_t *cfg = json_loads(config, 0, &jerr);
	struct model_config mc;
	int64_t nshards = (n + per_job - 1) / per_job;
	json_t **params = calloc((size_t)nshards, sizeof *params);
	char key[32];
	int rc = -1;
	int *ids = NULL;
	if (!cfg || !params ||
		hfconfig_parse(config, strlen(config), c->stage->name, &mc, err) < 0 ||
		!(ids = malloc((size_t)mc.max_seq * sizeof *ids))) {
		if (!err->code)
			err_set(err, ERR_INVALID, "cannot build the rollouts of stage '%s'",
				c->stage->name);
		goto out;
	}
	snprintf(key, sizeof key, "%llu", (unsigned long long)rng_key_u64(rng_key_str(
		rng_key_u64((uint64_t)c->pipeline->seed, 0), c->stage->name), (uint64_t)step));
	for (int64_t k = 0; k < nshards; k++) {
		json_t *prompts = json_array();
		for (int64_t i = k * per_job; i < n && i < (k + 1) * per_job; i++) {
			struct store_record r;
			if (store_record_get(c->d->store, dataset, records[i], &r, err) != 1 || !r.prompt) {
				if (!err->code)
					err_set(err, ERR_INVALID, "record %lld has no prompt",
						(long long)records[i]);
				store_record_release(&r);
				json_decref(prompts);
				goto out;
			}
			int len = rl_prompt_tokens(c, &mc, r.prompt, records[i], s->max_new_tokens, ids,
				err);
			store_record_release(&r);
			if (len < 0) {
				json_decref(prompts);
				goto out;
			}
			json_t *toks = json_array();
			for (int t = 0; t < len; t++)
				json_array_append_new(toks, json_integer(ids[t]));
			json_array_append_new(prompts, json_pack("{sI so}", "index",
				(json_int_t)records[i], "tokens", toks));
		}
		params[k] = json_pack("{ss sO ss so si sf sf si si s[s]}", "weights", sha256,
			"config", cfg, "key", key, "prompts", prompts, "samples", s->samples,
			"temperature", s->temperature, "top_p", s->top_p, "top_k", s->top_k,
			"max_new_tokens", s->max_new_tokens, "stop", "</answer>");
		const json_t *tb = tokenizers_blobs(c->pipeline_spec);
		if (params[k] && tb && json_object_set(params[k], "tokenizer", (json_t *)tb) < 0) {
			err_set(err, ERR_NOMEM, "cannot build the rollouts of stage '%s': out of memory",
				c->stage->name);
			goto out;
		}
	}
	rc = stage_enqueue(c, "rollout", step, first_shard, params, (size_t)nshards, err);
out:
	for (int64_t k = 0; params && k < nshards; k++)
		json_decref(params[k]); /* left over when a prompt could not be read */
	free(params);
	free(ids);
	json_decref(cfg);
	return rc;
}

/* The reward components: the named ones, then the hidden ones (verdict.h). */
static json_t *reward_spec(struct stage_ctx *c, const char *dataset, const json_t *names,
	const char *correct)
{
	json_t *all = json_object_get(c->pipeline_spec, "rewards"), *out = json_array(), *name;
	json_t *hidden = verdict_hidden(c->pipeline_spec, names, correct, dataset);
	size_t i;
	json_array_foreach(names, i, name) {
		json_t *r = json_deep_copy(json_object_get(all, json_string_value(name)));
		if (!r)
			continue;
		json_object_set(r, "name", name);
		json_array_append_new(out, r);
	}
	if (!hidden || json_array_extend(out, hidden) < 0) {
		json_decref(out);
		out = NULL;
	}
	json_decref(hidden);
	return out;
}

int rl_enqueue_reward(struct stage_ctx *c, const struct store_job *ro, int64_t dataset,
	const char *dataset_name, const json_t *reward_names, const char *correct, struct err *err)
{
	json_error_t jerr;
	json_t *res = json_loads(ro->result, 0, &jerr), *s, *items = json_array();
	size_t i;
	int rc = -1;
	json_array_foreach(json_object_get(res, "samples"), i, s) {
		struct store_record r;
		int64_t idx = json_integer_value(json_object_get(s, "prompt"));
		if (store_record_get(c->d->store, dataset, idx, &r, err) != 1) {
			if (!err->code)
				err_set(err, ERR_NOTFOUND, "record %lld is missing", (long long)idx);
			goto out;
		}
		/* record: the keys the dataset file gave it (tasks/fields.h), for rewards that
		 * read more than the answer (test cases, an id); null when it has none */
		json_t *rec = r.record ? json_loads(r.record, 0, &jerr) : NULL;
		json_array_append_new(items, json_pack("{ss ss ss* sI so}", "prompt", r.prompt,
			"completion", json_string_value(json_object_get(s, "text")),
			"answer", r.answer, "tokens",
			(json_int_t)json_array_size(json_object_get(s, "tokens")), "record",
			rec ? rec : json_null()));
		store_record_release(&r);
	}
	json_t *p = json_pack("{so sO}", "rewards", reward_spec(c, dataset_name, reward_names,
		correct), "items", items);
	rc = stage_enqueue(c, "reward", ro->step, ro->shard, &p, 1, err);
out:
	json_decref(items);
	json_decref(res);
	return rc;
}

void rl_answer(const char *text, char *buf, size_t size)
{
	const char *a = text ? strstr(text, "<answer>") : NULL, *b = a ? strstr(a, "</answer>") : NULL;
	*buf = 0;
	if (!text)
		return;
	if (a && b) {
		a += 8;
	} else { /* no answer tags: the last line that is not blank */
		b = text + strlen(text);
		while (b > text && (b[-1] == ' ' || b[-1] == '\n'))
			b--;
		for (a = b; a > text && a[-1] != '\n'; a--)
			;
	}
	while (a < b && (*a == ' ' || *a == '\n'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\n'))
		b--;
	snprintf(buf, size, "%.*s", (int)(b - a), a);
}

int rl_advantages(const double *reward, size_t n, int scale, double *adv)
{
	size_t k = 1;
	while (k < n && reward[k] == reward[0])
		k++;
	if (k == n) {
		for (k = 0; k < n; k++)
			adv[k] = 0;
		return 1;
	}
	double mean = 0, var = 0;
	for (k = 0; k < n; k++)
		mean += reward[k];
	mean /= (double)n;
	for (k = 0; k < n; k++)
		var += (reward[k] - mean) * (reward[k] - mean);
	double sd = sqrt(var / (double)n);
	for (k = 0; k < n; k++)
		adv[k] = scale ? (reward[k] - mean) / (sd + 1e-4) : reward[k] - mean;
	return 0;
}
