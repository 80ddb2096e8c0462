/*
 * job_reward — score completions with the spec's reward functions (rewards.h).
 *
 * params
 *   rewards   non-empty array of components {name (unique, non-empty), fn, weight
 *             (default 1), and fn's params with rewards.h's defaults:
 *             format_credit, alphabet, max_tokens, buffer, penalty, extract (an
 *             array of names.h's extraction step names, distinct)}
 *             (program and code components: rewardext.h's params)
 *   items     array of {prompt: text, completion: text (may hold any bytes the
 *             rollout text carried), answer: text or null/absent, tokens: N (>= 0,
 *             generated tokens, EOS included), record: object or null/absent (the
 *             dataset record's other fields: what program and code rewards read)}
 *
 * Result: {items: [{components: {name: value (unweighted)}, total: Σ weight·value}]}
 * in items order; a program's own components are there too as "NAME.COMPONENT", and
 * a code reward's "NAME.passed" and "NAME.tests" (rewardext.h), outside the total. A
 * misconfigured component (rewards_component_check) or an item a component cannot
 * score (accuracy without an answer, countdown on a prompt that is not a countdown
 * prompt) fails the job, naming the component or item.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobparams.h"
#include "kinds.h"
#include "rewardext.h"
#include "rewards.h"

/* math's extract: absent keeps the default (every step); else 1..4 known names. */
static int reward_parse_extract(struct jobparams *p, const json_t *o, struct rewards_params *rp)
{
	const json_t *a = json_object_get(o, "extract"), *it;
	size_t i;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > MATHANS_STEPS)
		return jobparams_fail(p, "extract", "expected an array of 1 to %d step names",
			MATHANS_STEPS);
	json_array_foreach(a, i, it) {
		int k = names_find(names_extract, NAMES_EXTRACT_N, json_string_value(it));
		if (k < 0)
			return jobparams_fail(p, "extract", "item %zu: expected a step name", i);
		rp->extract[i] = (enum mathans_step)k;
	}
	rp->n_extract = (int)json_array_size(a);
	return 0;
}

static int reward_parse_spec(struct jobparams *p, const json_t *params,
	struct rewards_component **out, int *n)
{
	const json_t *a;
	*out = NULL;
	*n = 0;
	if (jobparams_array(p, params, "rewards", "an array of reward components", &a) < 0)
		return -1;
	size_t k = json_array_size(a);
	if (k == 0)
		return jobparams_fail(p, "rewards", "expected a non-empty array of reward components");
	if (k > 1024)
		return jobparams_fail(p, "rewards", "%zu components: at most 1024", k);
	struct rewards_component *spec = calloc(k, sizeof *spec);
	if (!spec)
		return err_set(p->err, ERR_NOMEM, "reward: out of memory");
	*out = spec;
	for (size_t i = 0; i < k; i++) {
		const json_t *o = json_array_get(a, i);
		struct rewards_component *c = &spec[i];
		struct rewards_params *rp = &c->params;
		const char *fn;
		long long max_tokens, buffer;
		struct err e = { 0 };
		char key[32];
		snprintf(key, sizeof key, "rewards[%zu]", i);
		jobparams_at(p, "%s", "");
		if (!json_is_object(o))
			return jobparams_fail(p, key, "expected an object");
		jobparams_at(p, "%s.", key);
		rewards_params_default(rp);
		if (jobparams_str(p, o, "name", 1, &c->name, NULL) < 0 ||
			jobparams_str(p, o, "fn", 1, &fn, NULL) < 0)
			return -1;
		if (!*c->name)
			return jobparams_fail(p, "name", "expected a non-empty string");
		for (size_t j = 0; j < i; j++)
			if (strcmp(spec[j].name, c->name) == 0)
				return jobparams_fail(p, "name", "'%s' is also rewards[%zu]'s name", c->name, j);
		if (rewards_kind_parse(fn, &c->kind, &e) < 0)
			return jobparams_fail(p, "fn", "%s", e.msg);
		if (rewardext_is(c->kind) && rewardext_check(o, &e) < 0)
			return err_set(p->err, ERR_INVALID, "reward: %s.%s", key, e.msg);
		if (jobparams_num(p, o, "weight", 0, 1.0, -1e30, 1e30, &c->weight) < 0 ||
			jobparams_num(p, o, "format_credit", 0, rp->format_credit, -1e30, 1e30,
				&rp->format_credit) < 0 ||
			jobparams_str(p, o, "alphabet", 0, &rp->alphabet, NULL) < 0 ||
			jobparams_int(p, o, "max_tokens", 0, 0, 0, INT32_MAX, &max_tokens) < 0 ||
			jobparams_int(p, o, "buffer", 0, 0, 0, INT32_MAX, &buffer) < 0 ||
			jobparams_num(p, o, "penalty", 0, rp->penalty, 0, 1e30, &rp->penalty) < 0 ||
			reward_parse_extract(p, o, rp) < 0)
			return -1;
		if (!rp->alphabet)
			rp->alphabet = REWARDS_ALPHABET;
		rp->max_tokens = (int)max_tokens;
		rp->buffer = (int)buffer;
		if (rewards_component_check(c, &e) < 0)
			return err_set(p->err, ERR_INVALID, "reward: %s: %s", key, e.msg);
		*n = (int)i + 1;
	}
	jobparams_at(p, "%s", "");
	return 0;
}

/* {components: {...}, total} of one item; extra (taken): programs' own components. */
static json_t *reward_item_json(const struct rewards_component *spec, int n, const double *v,
	double total, json_t *extra)
{
	json_t *o = json_object(), *comp = json_object();
	int bad = !o || !comp;
	for (int i = 0; !bad && i < n; i++)
		bad = json_object_set_new(comp, spec[i].name, json_real(v[i]));
	bad = bad || json_object_update(comp, extra);
	json_decref(extra);
	if (bad) {
		json_decref(comp);
		json_decref(o);
		return NULL;
	}
	if (json_object_set_new(o, "components", comp) ||
		json_object_set_new(o, "total", json_real(total))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int job_reward_run(const struct job *job, struct job_output *out, struct err *err)
{
	struct jobparams p;
	struct rewards_component *spec = NULL;
	double *values = NULL;
	json_t *items_out = NULL;
	const json_t *items;
	int n, rc = -1;
	jobparams_init(&p, "reward", err);
	if (reward_parse_spec(&p, job->params, &spec, &n) < 0 ||
		jobparams_array(&p, job->params, "items", "an array of items", &items) < 0)
		goto out;
	if (!(values = calloc((size_t)n, sizeof *values)) || !(items_out = json_array())) {
		err_set(err, ERR_NOMEM, "reward: out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *o = json_array_get(items, i);
		struct rewards_input in = { 0 };
		long long tokens;
		double total;
		struct err e = { 0 };
		char key[32];
		snprintf(key, sizeof key, "items[%zu]", i);
		jobparams_at(&p, "%s", "");
		if (!json_is_object(o)) {
			jobparams_fail(&p, key, "expected an object");
			goto out;
		}
		jobparams_at(&p, "%s.", key);
		if (jobparams_str(&p, o, "prompt", 1, &in.prompt, NULL) < 0 ||
			jobparams_str(&p, o, "completion", 1, &in.completion, &in.completion_len) < 0 ||
			jobparams_str(&p, o, "answer", 0, &in.answer, NULL) < 0 ||
			jobparams_int(&p, o, "tokens", 1, 0, 0, INT32_MAX, &tokens) < 0)
			goto out;
		in.completion_tokens = (int)tokens;
		const json_t *record = json_object_get(o, "record"), *rs = json_object_get(job->params,
			"rewards");
		json_t *extra = json_object();
		if (!extra) {
			err_set(err, ERR_NOMEM, "reward: out of memory");
			goto out;
		}
		if (record && !json_is_object(record) && !json_is_null(record)) {
			json_decref(extra);
			jobparams_fail(&p, "record", "expected an object or null");
			goto out;
		}
		for (int k = 0; k < n; k++)
			if (rewardext_is(spec[k].kind) && rewardext_score(job, json_array_get(rs, (size_t)k),
				&in, json_is_object(record) ? record : NULL, &values[k], extra, &e) < 0) {
				json_decref(extra);
				out->retryable = err_transient(&e); /* a program's files not fetched */
				err_set(err, ERR_INVALID, "reward: %s: %s", key, e.msg);
				goto out;
			}
		if (rewards_score(spec, n, &in, values, &total, &e) < 0) {
			json_decref(extra);
			err_set(err, ERR_INVALID, "reward: %s: %s", key, e.msg);
			goto out;
		}
		json_t *item = reward_item_json(spec, n, values, total, extra);
		if (!item || json_array_append_new(items_out, item)) {
			err_set(err, ERR_NOMEM, "reward: out of memory");
			goto out;
		}
	}
	out->result = json_object();
	json_t *all = items_out;
	items_out = NULL;
	if (json_object_set_new(out->result, "items", all) < 0) { /* frees all if no result */
		err_set(err, ERR_NOMEM, "reward: out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(items_out);
	free(values);
	free(spec);
	return rc;
}
