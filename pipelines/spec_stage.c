/*
 * spec_stage — one stage: its name and kind, the kind's keys, and the keys a table
 * row cannot check alone: from / needs / dataset references (kept as names here,
 * resolved in spec_graph.c), merge inputs, outputs, reward lists, defaults taken from
 * elsewhere (template, clip_high, seed), steps-or-epochs and chat_format-or-
 * chat_template.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_check.h"

/* A string-valued reference key (from, dataset, prompts): must look like a name. */
static int ref_value(struct v *v, const struct snode *n, const char *scope, const char *kp,
	const char *what, json_t *out, const char *key)
{
	char g[80];
	if (!spec_ref_ok(v, n))
		return spec_fail(v, n, scope, kp, "expected a %s name, got %s", what, spec_got(n, g, sizeof g));
	json_t *s = spec_jstr(v, n->text, n->len);
	if (!s || json_object_set_new(out, key, s) < 0)
		return -1;
	return 0;
}

static int stage_needs(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	char g[80], kp[40];
	json_t *list = json_array();
	if (!list || json_object_set_new(out, "needs", list) < 0)
		return spec_nomem(v);
	if (!n)
		return 0;
	if (n->type != SNODE_SEQ)
		return spec_fail(v, n, scope, "needs", "expected a list of stage names, got %s", spec_got(n, g, sizeof g));
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(kp, sizeof kp, "needs[%zu]", i);
		if (!spec_ref_ok(v, it))
			return spec_fail(v, it, scope, kp, "expected a stage name, got %s", spec_got(it, g, sizeof g));
		json_t *s = spec_jstr(v, it->text, it->len);
		if (!s || json_array_append_new(list, s) < 0)
			return -1;
	}
	return 0;
}

static int stage_rewards(struct v *v, const struct snode *n, unsigned kind, const char *scope,
	json_t *out)
{
	char g[80], kp[40], q[80], hint[80];
	json_t *defined = json_object_get(v->top, "rewards");
	json_t *list = json_array(), *seen = json_object();
	int rc = -1;
	if (!list || !seen || json_object_set(out, "rewards", list) < 0) {
		spec_nomem(v);
		goto out;
	}
	if (!n) { /* eval: every reward */
		const char *name;
		json_t *val;
		json_object_foreach(defined, name, val)
			json_array_append_new(list, json_string(name));
		rc = 0;
		goto out;
	}
	if (n->type != SNODE_SEQ || (n->n == 0 && kind != SK_EVAL)) {
		spec_fail(v, n, scope, "rewards", "expected a %slist of reward names, got %s",
			kind != SK_EVAL ? "non-empty " : "", spec_got(n, g, sizeof g));
		goto out;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(kp, sizeof kp, "rewards[%zu]", i);
		if (!spec_ref_ok(v, it)) {
			spec_fail(v, it, scope, kp, "expected a reward name, got %s", spec_got(it, g, sizeof g));
			goto out;
		}
		if (!json_object_getn(defined, it->text, it->len)) {
			struct suggest s;
			const char *name;
			json_t *val;
			suggest_init(&s, it->text, it->len);
			json_object_foreach(defined, name, val)
				suggest_add(&s, name);
			spec_fail(v, it, scope, NULL, "%s: no reward named %s%s", kp,
				spec_quote(q, sizeof q, it->text, it->len), suggest_hint(&s, hint, sizeof hint));
			goto out;
		}
		if (json_object_getn(seen, it->text, it->len)) {
			spec_fail(v, it, scope, kp, "%s is listed twice", spec_quote(q, sizeof q, it->text, it->len));
			goto out;
		}
		json_object_setn_new_nocheck(seen, it->text, it->len, json_true());
		json_array_append_new(list, json_stringn(it->text, it->len));
	}
	rc = 0;
out:
	json_decref(list);
	json_decref(seen);
	return rc;
}

/*
 * correct: the reward whose value >= 1 marks an answer right. Given, it names one of
 * the pipeline's rewards (or is null: exact match, or countdown on a countdown
 * dataset); absent from YAML, the first accuracy-type reward (names.h) of the
 * stage's rewards, else null — so the normalised spec says which. Not one of the
 * pipeline's other rewards: a checker the stage does not list may not apply to its
 * data (a `code` reward needs test cases in the record, `countdown` a countdown
 * prompt), and scoring with it would fail the stage. Absent from a normalised spec (one written before the key) it stays absent:
 * the daemon then counts as it did, exact match or countdown.
 */
static int stage_correct(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	char g[80], q[80], hint[80];
	json_t *defined = json_object_get(v->top, "rewards");
	const char *name;
	json_t *val, *r;
	size_t i;
	if (n && n->type == SNODE_NULL)
		return json_object_set_new(out, "correct", json_null()) < 0 ? spec_nomem(v) : 0;
	if (n) {
		if (!spec_ref_ok(v, n))
			return spec_fail(v, n, scope, "correct", "expected a reward name or null, got %s",
				spec_got(n, g, sizeof g));
		if (!json_object_getn(defined, n->text, n->len)) {
			struct suggest s;
			suggest_init(&s, n->text, n->len);
			json_object_foreach(defined, name, val)
				suggest_add(&s, name);
			return spec_fail(v, n, scope, "correct", "no reward named %s%s",
				spec_quote(q, sizeof q, n->text, n->len), suggest_hint(&s, hint, sizeof hint));
		}
		return json_object_set_new(out, "correct", json_stringn(n->text, n->len)) < 0 ?
			spec_nomem(v) : 0;
	}
	if (v->c->json_mode)
		return 0;
	json_array_foreach(json_object_get(out, "rewards"), i, r)
		if (names_reward_correct(json_string_value(json_object_get(json_object_get(defined,
			json_string_value(r)), "fn"))))
			return json_object_set(out, "correct", r) < 0 ? spec_nomem(v) : 0;
	return json_object_set_new(out, "correct", json_null()) < 0 ? spec_nomem(v) : 0;
}

/* An eval's datasets: a non-empty list of distinct dataset names (resolved in
 * spec_graph.c), or `dataset` — exactly one of the two. */
static int stage_datasets(struct v *v, const struct snode *sm, const char *scope, json_t *out)
{
	char g[80], kp[40];
	size_t di = 0, li = 0;
	const struct snode *dk = spec_key_node(sm, "dataset", &di), *n = spec_key_node(sm, "datasets", &li);
	if (dk && n)
		return di < li ? spec_fail(v, n, scope, "datasets", "cannot be combined with 'dataset'") :
			spec_fail(v, dk, scope, "dataset", "cannot be combined with 'datasets'");
	if (!dk && !n)
		return spec_fail(v, sm, scope, NULL, "missing required key 'dataset' (or 'datasets')");
	if (!n)
		return 0;
	n = snode_get(sm, "datasets");
	if (n->type != SNODE_SEQ || n->n == 0)
		return spec_fail(v, n, scope, "datasets", "expected a non-empty list of dataset names, "
			"got %s", spec_got(n, g, sizeof g));
	json_t *list = json_array();
	if (!list || json_object_set_new(out, "datasets", list) < 0)
		return spec_nomem(v);
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(kp, sizeof kp, "datasets[%zu]", i);
		if (!spec_ref_ok(v, it))
			return spec_fail(v, it, scope, kp, "expected a dataset name, got %s",
				spec_got(it, g, sizeof g));
		for (size_t j = 0; j < i; j++)
			if (!strcmp(n->items[j]->text, it->text))
				return spec_fail(v, it, scope, kp, "'%s' is listed twice", it->text);
		if (json_array_append_new(list, json_stringn(it->text, it->len)) < 0)
			return spec_nomem(v);
	}
	return 0;
}

/* An eval's pass_at: distinct integers k, 1 <= k <= samples; absent from YAML,
 * [samples] (none when samples is 0). */
static int stage_pass_at(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	char g[80], kp[40];
	long long samples = spec_jint(out, "samples");
	json_t *list = json_array();
	if (!list || json_object_set_new(out, "pass_at", list) < 0)
		return spec_nomem(v);
	if (!n) {
		if (v->c->json_mode)
			json_object_del(out, "pass_at");
		else if (samples > 0)
			json_array_append_new(list, json_integer(samples));
		return 0;
	}
	if (n->type != SNODE_SEQ)
		return spec_fail(v, n, scope, "pass_at", "expected a list of integers, got %s",
			spec_got(n, g, sizeof g));
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(kp, sizeof kp, "pass_at[%zu]", i);
		if (it->type != SNODE_INT || it->i < 1 || it->i > samples)
			return spec_fail(v, it, scope, kp, "expected an integer in [1, samples = %lld], "
				"got %s", samples, spec_got(it, g, sizeof g));
		for (size_t j = 0; j < i; j++)
			if (n->items[j]->i == it->i)
				return spec_fail(v, it, scope, kp, "%lld is listed twice", it->i);
		if (json_array_append_new(list, json_integer(it->i)) < 0)
			return spec_nomem(v);
	}
	return 0;
}

/* A stage's lora.targets and lora.dropout (the other keys are rows): targets a
 * non-empty list of core/lora.h's projections, each once, default all seven;
 * dropout 0, the only value the adapters implement. */
static int stage_lora(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	static const char *const all[] = { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
		"up_proj", "down_proj" };
	char g[80], kp[40];
	json_t *lo = json_object_get(out, "lora"), *list = json_array();
	if (!list || json_object_set_new(lo, "targets", list) < 0 ||
	    json_object_set_new(lo, "dropout", json_integer(0)) < 0)
		return spec_nomem(v);
	const struct snode *d = snode_get(n, "dropout");
	if (d && !((d->type == SNODE_INT && d->i == 0) || (d->type == SNODE_FLOAT && d->d == 0)))
		return spec_fail(v, d, scope, "lora.dropout", "%s is not supported: the adapters "
			"train without dropout (0 only)", spec_got(d, g, sizeof g));
	const struct snode *t = snode_get(n, "targets");
	if (!t) {
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			if (json_array_append_new(list, json_string(all[i])) < 0)
				return spec_nomem(v);
		return 0;
	}
	if (t->type != SNODE_SEQ || t->n == 0)
		return spec_fail(v, t, scope, "lora.targets", "expected a non-empty list of "
			"projections, got %s", spec_got(t, g, sizeof g));
	for (size_t i = 0; i < t->n; i++) {
		const struct snode *it = t->items[i];
		size_t k = 0;
		snprintf(kp, sizeof kp, "lora.targets[%zu]", i);
		while (k < sizeof all / sizeof all[0] && (it->type != SNODE_STR || strcmp(it->text, all[k])))
			k++;
		if (k == sizeof all / sizeof all[0])
			return spec_fail(v, it, scope, kp, "unknown target %s: expected q_proj, k_proj, "
				"v_proj, o_proj, gate_proj, up_proj or down_proj", spec_got(it, g, sizeof g));
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t->items[j]->text, it->text))
				return spec_fail(v, it, scope, kp, "'%s' is listed twice", it->text);
		if (json_array_append_new(list, json_string(all[k])) < 0)
			return spec_nomem(v);
	}
	return 0;
}

static int stage_inputs(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	char g[80], pre[40], kp[48];
	if (n->type != SNODE_SEQ || n->n == 0)
		return spec_fail(v, n, scope, "inputs", "expected a non-empty list of {dataset, ratio or cap}, got %s",
			spec_got(n, g, sizeof g));
	json_t *list = json_array();
	if (!list || json_object_set_new(out, "inputs", list) < 0)
		return spec_nomem(v);
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(pre, sizeof pre, "inputs[%zu].", i);
		snprintf(kp, sizeof kp, "inputs[%zu]", i);
		if (it->type != SNODE_MAP)
			return spec_fail(v, it, scope, kp, "expected a mapping, got %s", spec_got(it, g, sizeof g));
		json_t *o = json_object();
		if (!o || json_array_append_new(list, o) < 0)
			return spec_nomem(v);
		if (spec_keys_known(v, it, spec_input_keys, 0, scope, pre) < 0 ||
		    spec_fill(v, it, spec_input_keys, 0, scope, pre, o) < 0)
			return -1;
		snprintf(kp, sizeof kp, "inputs[%zu].dataset", i);
		if (ref_value(v, snode_get(it, "dataset"), scope, kp, "dataset", o, "dataset") < 0)
			return -1;
		size_t ri = 0, ci = 0;
		const struct snode *rk = spec_key_node(it, "ratio", &ri), *ck = spec_key_node(it, "cap", &ci);
		if (rk && ck) {
			snprintf(kp, sizeof kp, "inputs[%zu].%s", i, ri < ci ? "cap" : "ratio");
			return spec_fail(v, ri < ci ? ck : rk, scope, kp, "cannot be combined with '%s'",
				ri < ci ? "ratio" : "cap");
		}
		if (!rk && !ck) {
			if (v->c->json_mode)
				return spec_fail(v, it, scope, NULL, "inputs[%zu]: missing 'ratio' or 'cap' "
					"(a normalised spec has one)", i);
			json_object_set_new(o, "ratio", json_real(1.0));
		}
	}
	return 0;
}

static int stage_output(struct v *v, size_t idx, const struct snode *n, const char *scope,
	json_t *out)
{
	char g[80];
	if (!spec_ref_ok(v, n) || !spec_name_ok(n->text, n->len, false))
		return spec_fail(v, n, scope, "output", "expected a name matching [a-z0-9_]{1,32}, got %s",
			spec_got(n, g, sizeof g));
	if (json_object_get(json_object_get(v->top, "datasets"), n->text))
		return spec_fail(v, n, scope, "output", "dataset '%s' is already defined in datasets", n->text);
	json_t *p = json_object_get(v->producers, n->text);
	if (p)
		return spec_fail(v, n, scope, "output", "dataset '%s' is already the output of stage '%s'",
			n->text, v->st[json_integer_value(p)].name);
	if (json_object_set_new(v->producers, n->text, json_integer((json_int_t)idx)) < 0 ||
	    json_object_set_new(out, "output", json_string(n->text)) < 0)
		return spec_nomem(v);
	return 0;
}

/* The keys whose default is another value, and the rules between keys. */
static int stage_rules(struct v *v, const struct snode *sm, unsigned kind, const char *scope,
	json_t *o)
{
	char g[80];
	json_t *j;
	if ((j = json_object_get(o, "template")) && json_is_null(j))
		json_object_set(o, "template", json_object_get(v->top, "template"));
	if ((j = json_object_get(o, "clip_high")) && json_is_null(j))
		json_object_set(o, "clip_high", json_object_get(o, "clip"));
	if ((j = json_object_get(o, "seed")) && json_is_null(j))
		json_object_set(o, "seed", json_object_get(v->top, "seed"));
	if (kind == SK_PRETRAIN || kind == SK_SFT) {
		size_t si = 0, ei = 0;
		const struct snode *sk = spec_key_node(sm, "steps", &si), *ek = spec_key_node(sm, "epochs", &ei);
		if (sk && ek)
			return si < ei ? spec_fail(v, ek, scope, "epochs", "cannot be combined with 'steps'") :
				spec_fail(v, sk, scope, "steps", "cannot be combined with 'epochs'");
		if (!sk && !ek)
			return spec_fail(v, sm, scope, NULL, "missing required key 'steps' (or 'epochs')");
	}
	if (kind == SK_SFT) {
		size_t fi = 0, ti = 0;
		const struct snode *fk = spec_key_node(sm, "chat_format", &fi),
			*tk = spec_key_node(sm, "chat_template", &ti);
		if (fk && tk)
			return fi < ti ? spec_fail(v, tk, scope, "chat_template", "cannot be combined "
				"with 'chat_format'") : spec_fail(v, fk, scope, "chat_format", "cannot be "
				"combined with 'chat_template'");
	}
	if (kind == SK_PROBE && spec_jint(o, "fail") > spec_jint(o, "jobs")) {
		const struct snode *fn = snode_get(sm, "fail");
		return spec_fail(v, fn, scope, "fail", "expected at most jobs (%lld), got %s", spec_jint(o, "jobs"),
			spec_got(fn, g, sizeof g));
	}
	return 0;
}

static int check_stage(struct v *v, size_t idx, const struct snode *sm, json_t *list)
{
	static const struct key name_row = { "name", KT_NAME, 0, 0, 0, 0, 0, NULL, NULL };
	char scope[80], g[80], fa[120], desc[40];
	struct stage_info *si = &v->st[idx];
	snprintf(scope, sizeof scope, "stages[%zu]", idx);
	if (sm->type != SNODE_MAP)
		return spec_fail(v, sm, scope, NULL, "expected a mapping, got %s", spec_got(sm, g, sizeof g));
	si->map = sm;
	const struct snode *nm = snode_get(sm, "name");
	if (nm && spec_ref_ok(v, nm) && spec_name_ok(nm->text, nm->len, false))
		snprintf(scope, sizeof scope, "stage '%s'", nm->text);
	int k = spec_enum_peek(v, sm, spec_stage_keys, "kind");
	if (spec_keys_known(v, sm, spec_stage_keys, k >= 0 ? 1u << k : 0, scope, "") < 0)
		return -1;
	if (!nm)
		return spec_fail(v, sm, scope, NULL, "missing required key 'name'");
	json_t *j = spec_value(v, &name_row, nm, scope, "name");
	if (!j)
		return -1;
	json_decref(j);
	json_t *prev = json_object_get(v->stage_index, nm->text);
	if (prev)
		return spec_fail(v, nm, scope, NULL, "defined twice%s",
			spec_first_at(v->st[json_integer_value(prev)].name_node, nm, fa, sizeof fa));
	si->name_node = nm;
	si->name = nm->text;
	if (json_object_set_new(v->stage_index, nm->text, json_integer((json_int_t)idx)) < 0)
		return spec_nomem(v);
	const struct snode *kn = snode_get(sm, "kind");
	if (!kn)
		return spec_fail(v, sm, scope, NULL, "missing required key 'kind'");
	if (k < 0) {
		json_decref(spec_value(v, spec_row(spec_stage_keys, "kind"), kn, scope, "kind"));
		return -1;
	}
	unsigned kind = si->kind = 1u << k;
	snprintf(desc, sizeof desc, "%s stages", spec_stage_kind_name(kind));
	json_t *o = si->out = json_object();
	if (!o || json_array_append_new(list, o) < 0)
		return spec_nomem(v);
	if (spec_keys_kind(v, sm, spec_stage_keys, kind, desc, scope, "") < 0 ||
	    spec_fill(v, sm, spec_stage_keys, kind, scope, "", o) < 0)
		return -1;
	json_object_set_new(o, "name", json_string(si->name));
	const struct snode *n;
	if (json_object_get(o, "from") && (n = snode_get(sm, "from")) &&
	    (n->type != SNODE_NULL || kind == SK_REJECT) &&
	    ref_value(v, n, scope, "from", "stage", o, "from") < 0)
		return -1;
	if (stage_needs(v, snode_get(sm, "needs"), scope, o) < 0)
		return -1;
	static const char *const refs[] = { "dataset", "prompts" };
	for (int r = 0; r < 2; r++)
		if (json_object_get(o, refs[r]) && ref_value(v, snode_get(sm, refs[r]), scope, refs[r],
			    "dataset", o, refs[r]) < 0)
			return -1;
	if (json_object_get(o, "lora") && stage_lora(v, snode_get(sm, "lora"), scope, o) < 0)
		return -1;
	/* a stale rollout samples from weights the learner no longer holds: for LoRA the
	 * adapters of that step, which are not kept (checkpoints hold merged weights) */
	const json_t *stale = json_object_get(o, "max_staleness");
	if (json_object_get(o, "lora") && json_integer_value(stale) > 0)
		return spec_fail(v, snode_get(sm, "max_staleness"), scope, "max_staleness",
			"must be 0 with lora (overlapped steps would sample from adapters that are "
			"not kept)");
	if (kind == SK_MERGE && stage_inputs(v, snode_get(sm, "inputs"), scope, o) < 0)
		return -1;
	if (json_object_get(o, "output") && stage_output(v, idx, snode_get(sm, "output"), scope, o) < 0)
		return -1;
	if (json_object_get(o, "rewards") &&
	    stage_rewards(v, snode_get(sm, "rewards"), kind, scope, o) < 0)
		return -1;
	if ((kind & (SK_GRPO | SK_REJECT | SK_EVAL)) &&
	    stage_correct(v, snode_get(sm, "correct"), scope, o) < 0)
		return -1;
	if (kind == SK_EVAL && (stage_datasets(v, sm, scope, o) < 0 ||
	    stage_pass_at(v, snode_get(sm, "pass_at"), scope, o) < 0))
		return -1;
	return stage_rules(v, sm, kind, scope, o);
}

int spec_check_stages(struct v *v, const struct snode *n)
{
	char g[80];
	if (n->type != SNODE_SEQ || n->n == 0)
		return spec_fail(v, n, NULL, "stages", "expected a non-empty list, got %s", spec_got(n, g, sizeof g));
	json_t *list = json_array();
	if (!list || json_object_set_new(v->top, "stages", list) < 0)
		return spec_nomem(v);
	if (!(v->st = calloc(n->n, sizeof *v->st)))
		return spec_nomem(v);
	v->n_st = n->n;
	for (size_t i = 0; i < n->n; i++)
		if (check_stage(v, i, n->items[i], list) < 0)
			return -1;
	return 0;
}

