/*
 * test_stage_settings — each stage kind's settings decoded from the spec loader's
 * normalised spec (stage_settings.h): every key the loader writes is read, and a
 * missing, misspelt or mistyped key fails naming it.
 */
#include "spec.h"
#include "stage_settings.h"
#include "test.h"

/* Every stage kind, with non-default values where a default would hide a mix-up. */
static const char spec_yaml[] =
	"version: 1\n"
	"name: settings\n"
	"seed: 5\n"
	"model: {config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 64}}\n"
	"datasets:\n"
	"  nums: {generate: arithmetic, count: 8}\n"
	"  cd: {generate: countdown, count: 8}\n"
	"rewards:\n"
	"  acc: {fn: accuracy}\n"
	"stages:\n"
	"  - {name: pr, kind: probe, jobs: 3, fail: 1, sleep_ms: 7, payload: hi}\n"
	"  - {name: base, kind: pretrain, dataset: nums, epochs: 2, batch: 4, shard: 2,\n"
	"     lr: 0.01, warmup: 3, min_lr: 0.2, weight_decay: 0.5, beta1: 0.8, beta2: 0.9,\n"
	"     grad_clip: 2.0, save_every: 7, keep_checkpoints: 3}\n"
	"  - {name: tune, kind: sft, from: base, dataset: nums, steps: 5}\n"
	"  - {name: zero, kind: grpo, from: tune, prompts: cd, rewards: [acc], steps: 4,\n"
	"     shard: 6, group: 4, prompts_per_step: 3, beta: 0.0, clip: 0.3, clip_high: 0.4,\n"
	"     loss_agg: token_mean, scale_rewards: false, mu: 2, ref_refresh: 2,\n"
	"     dynamic_sampling: true, mask_truncated: true, temperature: 0.7, top_p: 0.9,\n"
	"     top_k: 5, max_new_tokens: 20}\n"
	"  - {name: rs, kind: rejection_sample, from: zero, prompts: nums, output: kept,\n"
	"     rewards: [acc], samples: 3, max_new_tokens: 21}\n"
	"  - {name: ev, kind: eval, from: zero, dataset: nums, samples: 2, temperature: 0.5,\n"
	"     max_new_tokens: 22, limit: 6}\n"
	"  - {name: mix, kind: merge, inputs: [{dataset: kept, ratio: 1.0}, {dataset: nums,\n"
	"     cap: 3}], output: both}\n";

/* The normalised spec as the daemon reads it back: JSON text stored at submit. */
static json_t *load(void)
{
	json_t *spec = NULL, *back;
	json_error_t jerr;
	struct err e = { 0 };
	CHECK_MSG(spec_load_string(spec_yaml, sizeof spec_yaml - 1, "settings.yaml", NULL, 0,
		&spec, &e) == 0, "%s", e.msg);
	char *text = json_dumps(spec, JSON_COMPACT);
	CHECK(text);
	back = json_loads(text, 0, &jerr);
	CHECK_MSG(back, "%s", jerr.text);
	free(text);
	json_decref(spec);
	return back;
}

static json_t *stage_of(json_t *spec, const char *name)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(spec, "stages"), i, st)
		if (!strcmp(json_string_value(json_object_get(st, "name")), name))
			return st;
	CHECK_MSG(0, "no stage '%s'", name);
	return NULL;
}

/* The decoder of a stage's kind, into a buffer big enough for any settings struct. */
union any_settings {
	struct probe_settings probe;
	struct train_settings train;
	struct grpo_settings grpo;
	struct reject_settings reject;
	struct eval_settings eval;
	struct merge_settings merge;
};

/* A merge's inputs are the caller's to release when the decoding succeeds. */
static int decode(const json_t *st, union any_settings *s, struct err *e)
{
	const char *kind = json_string_value(json_object_get(st, "kind"));
	if (!strcmp(kind, "probe"))
		return probe_settings_decode(st, &s->probe, e);
	if (!strcmp(kind, "pretrain") || !strcmp(kind, "sft"))
		return train_settings_decode(st, &s->train, e);
	if (!strcmp(kind, "grpo"))
		return grpo_settings_decode(st, &s->grpo, e);
	if (!strcmp(kind, "rejection_sample"))
		return reject_settings_decode(st, &s->reject, e);
	if (!strcmp(kind, "eval"))
		return eval_settings_decode(st, &s->eval, e);
	if (!strcmp(kind, "merge")) {
		int rc = merge_settings_decode(st, &s->merge, e);
		if (rc < 0)
			merge_settings_release(&s->merge);
		return rc;
	}
	CHECK_MSG(0, "no decoder for kind '%s'", kind);
	return -1;
}

static void test_stage_settings__every_kind_decodes_its_values(void)
{
	json_t *spec = load();
	union any_settings s;
	struct err e = { 0 };

	CHECK_MSG(decode(stage_of(spec, "pr"), &s, &e) == 0, "%s", e.msg);
	CHECK(s.probe.jobs == 3 && s.probe.fail == 1 && s.probe.sleep_ms == 7);
	CHECK(!strcmp(s.probe.payload, "hi"));

	CHECK_MSG(decode(stage_of(spec, "base"), &s, &e) == 0, "%s", e.msg);
	const struct learner_settings *l = &s.train.learner;
	CHECK(!l->from && l->lr == 0.01 && l->warmup == 3 && l->min_lr == 0.2);
	CHECK(l->weight_decay == 0.5 && l->beta1 == 0.8 && l->beta2 == 0.9);
	CHECK(l->grad_clip == 2.0 && l->save_every == 7 && l->keep_checkpoints == 3);
	CHECK(!strcmp(s.train.dataset, "nums") && s.train.epochs == 2 && s.train.steps == 0);
	CHECK(s.train.batch == 4 && s.train.shard == 2 && !s.train.template);

	CHECK_MSG(decode(stage_of(spec, "tune"), &s, &e) == 0, "%s", e.msg);
	CHECK(!strcmp(s.train.learner.from, "base") && s.train.steps == 5 && !s.train.epochs);
	CHECK(s.train.template && strstr(s.train.template, "{prompt}"));

	CHECK_MSG(decode(stage_of(spec, "zero"), &s, &e) == 0, "%s", e.msg);
	const struct grpo_settings *g = &s.grpo;
	CHECK(!strcmp(g->learner.from, "tune") && !strcmp(g->prompts, "cd"));
	CHECK(json_array_size(g->rewards) == 1 && g->steps == 4 && g->shard == 6);
	CHECK(g->group == 4 && g->prompts_per_step == 3 && g->beta == 0.0);
	CHECK(g->clip == 0.3 && g->clip_high == 0.4 && g->loss_agg == LOSS_AGG_TOKEN_MEAN);
	CHECK(!g->scale_rewards && g->mu == 2 && g->ref_refresh == 2);
	CHECK(g->dynamic_sampling && g->mask_truncated && g->temperature == 0.7);
	CHECK(g->top_p == 0.9 && g->top_k == 5 && g->max_new_tokens == 20);

	CHECK_MSG(decode(stage_of(spec, "rs"), &s, &e) == 0, "%s", e.msg);
	CHECK(!strcmp(s.reject.from, "zero") && !strcmp(s.reject.output, "kept"));
	CHECK(s.reject.samples == 3 && s.reject.max_new_tokens == 21);
	CHECK(json_is_true(json_object_get(s.reject.filters, "correct")));
	CHECK(s.reject.correct && !strcmp(s.reject.correct, "acc"));

	CHECK_MSG(decode(stage_of(spec, "ev"), &s, &e) == 0, "%s", e.msg);
	CHECK(!strcmp(s.eval.from, "zero") && !strcmp(s.eval.dataset, "nums"));
	CHECK(s.eval.samples == 2 && s.eval.temperature == 0.5);
	CHECK(s.eval.max_new_tokens == 22 && s.eval.limit == 6);
	/* the defaults the loader writes: the accuracy-type reward decides, pass@samples */
	CHECK(s.eval.correct && !strcmp(s.eval.correct, "acc") && !s.eval.datasets);
	CHECK(json_array_size(s.eval.pass_at) == 1 &&
		json_integer_value(json_array_get(s.eval.pass_at, 0)) == 2);

	CHECK_MSG(decode(stage_of(spec, "mix"), &s, &e) == 0, "%s", e.msg);
	CHECK(s.merge.ninputs == 2 && !strcmp(s.merge.output, "both"));
	CHECK(!strcmp(s.merge.inputs[0].dataset, "kept") && s.merge.inputs[0].cap == 0);
	CHECK(s.merge.inputs[0].ratio == 1.0);
	CHECK(!strcmp(s.merge.inputs[1].dataset, "nums") && s.merge.inputs[1].cap == 3);
	CHECK(s.merge.seed == 5); /* the pipeline's */
	merge_settings_release(&s.merge);
	json_decref(spec);
}

/* Keys a decoder does not read: the scheduler's (name, kind, needs, deps). */
static int scheduler_key(const char *key)
{
	return !strcmp(key, "name") || !strcmp(key, "kind") || !strcmp(key, "needs") ||
		!strcmp(key, "deps");
}

/* Every key the spec loader writes is one the decoder reads: without it, or under a
 * misspelt name, the decoding fails and names it. A decoder that forgot a key, or
 * read it under another name, fails here. */
static void test_stage_settings__a_missing_or_misspelt_key_is_named(void)
{
	json_t *spec = load(), *st;
	size_t i, tried = 0;
	json_array_foreach(json_object_get(spec, "stages"), i, st) {
		const char *key;
		json_t *v;
		json_object_foreach(st, key, v) {
			/* absent means "keep every checkpoint", "exact match or countdown", "no
			 * pass@k", "exact steps" (specs from before the key) */
			if (scheduler_key(key) || !strcmp(key, "keep_checkpoints") ||
				!strcmp(key, "correct") || !strcmp(key, "pass_at") ||
				!strcmp(key, "max_staleness"))
				continue;
			for (int misspell = 0; misspell < 2; misspell++) {
				json_t *copy = json_deep_copy(st);
				char other[80], want[120];
				union any_settings s;
				struct err e = { 0 };
				CHECK(json_object_del(copy, key) == 0);
				if (misspell) {
					snprintf(other, sizeof other, "%ss", key);
					json_object_set(copy, other, v);
				}
				/* pretrain/sft: without steps nor epochs, both are named */
				snprintf(want, sizeof want, "key '%s'", key);
				if (!strcmp(key, "epochs") || !strcmp(key, "steps"))
					snprintf(want, sizeof want, "key 'steps' or 'epochs' is missing");
				/* an eval's dataset misspelt is its other key, datasets: not a list */
				if (misspell && !strcmp(key, "dataset") && !strcmp(json_string_value(
					json_object_get(st, "kind")), "eval"))
					snprintf(want, sizeof want, "key 'datasets' is not a list");
				int rc = decode(copy, &s, &e);
				const char *kind = json_string_value(json_object_get(st, "kind"));
				if (!strcmp(kind, "grpo") && !strcmp(key, "steps"))
					snprintf(want, sizeof want, "key 'steps' is missing");
				CHECK_MSG(rc == -1, "%s stage without '%s' decoded", kind, key);
				CHECK_MSG(e.code == ERR_INVALID && strstr(e.msg, want) &&
					strstr(e.msg, json_string_value(json_object_get(st, "name"))),
					"%s without '%s': %s", kind, key, e.msg);
				json_decref(copy);
				tried++;
			}
		}
	}
	printf("keys tried: %zu\n", tried / 2);
	CHECK(tried / 2 >= 60); /* every kind's keys, not a vacuous loop */
	json_decref(spec);
}

static void test_stage_settings__keep_checkpoints_may_be_absent(void)
{
	json_t *spec = load(), *st = json_deep_copy(stage_of(spec, "zero"));
	struct grpo_settings g;
	struct err e = { 0 };
	CHECK(json_object_del(st, "keep_checkpoints") == 0);
	CHECK_MSG(grpo_settings_decode(st, &g, &e) == 0, "%s", e.msg);
	CHECK(g.learner.keep_checkpoints == 0); /* retain.h: keep them all */
	json_decref(st);
	json_decref(spec);
}

/* An sft stage's chat_format and chat_template are optional: NULL when absent. */
static void test_stage_settings__chat_keys_are_optional(void)
{
	json_t *spec = load(), *st = json_deep_copy(stage_of(spec, "tune"));
	struct train_settings t;
	struct err e = { 0 };
	CHECK_MSG(train_settings_decode(st, &t, &e) == 0, "%s", e.msg);
	CHECK(!t.chat_format && !t.chat_template);
	json_object_set_new(st, "chat_format", json_string("llama3"));
	CHECK_MSG(train_settings_decode(st, &t, &e) == 0, "%s", e.msg);
	CHECK(t.chat_format && !strcmp(t.chat_format, "llama3") && !t.chat_template);
	json_object_del(st, "chat_format");
	json_t *roles = json_pack("{ss ss ss ss}", "system", "{content}", "user", "U: {content}",
		"assistant", "A: {content}", "prefix", "");
	json_object_set_new(st, "chat_template", roles);
	CHECK_MSG(train_settings_decode(st, &t, &e) == 0, "%s", e.msg);
	CHECK(!t.chat_format && t.chat_template == roles);
	json_decref(st);
	json_decref(spec);
}

static void test_stage_settings__a_mistyped_value_is_named(void)
{
	static const struct { const char *stage, *key, *json, *want; } cases[] = {
		{ "zero", "mu", "\"2\"", "key 'mu' is not an integer" },
		{ "zero", "mu", "2.0", "key 'mu' is not an integer" },
		{ "zero", "beta", "\"0.1\"", "key 'beta' is not a number" },
		{ "zero", "scale_rewards", "1", "key 'scale_rewards' is not true or false" },
		{ "zero", "loss_agg", "\"sum\"", "key 'loss_agg' is 'sum'" },
		{ "zero", "rewards", "\"acc\"", "key 'rewards' is not a list" },
		{ "zero", "from", "3", "key 'from' is neither a string nor null" },
		{ "rs", "from", "null", "key 'from' is not a string" },
		{ "rs", "filters", "[]", "key 'filters' is not a mapping" },
		{ "base", "dataset", "null", "key 'dataset' is not a string" },
		{ "tune", "chat_format", "1", "key 'chat_format' is not a string" },
		{ "tune", "chat_template", "\"{content}\"", "key 'chat_template' is not a mapping" },
	};
	json_t *spec = load();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *st = json_deep_copy(stage_of(spec, cases[i].stage));
		json_error_t jerr;
		union any_settings s;
		struct err e = { 0 };
		json_object_set_new(st, cases[i].key, json_loads(cases[i].json, JSON_DECODE_ANY,
			&jerr));
		CHECK_MSG(decode(st, &s, &e) == -1, "%s = %s decoded", cases[i].key, cases[i].json);
		CHECK_MSG(e.code == ERR_INVALID && strstr(e.msg, cases[i].want), "%s = %s: %s",
			cases[i].key, cases[i].json, e.msg);
		json_decref(st);
	}
	json_decref(spec);
}

/* A merge's inputs are read too: each needs a dataset, and a cap or a ratio. */
static void test_stage_settings__a_merge_input_key_is_named(void)
{
	static const struct { size_t input; const char *key, *want; } cases[] = {
		{ 1, "dataset", "key 'inputs[1].dataset' is missing" },
		{ 0, "ratio", "key 'inputs[0].ratio' is missing" },
		{ 1, "cap", "key 'inputs[1].ratio' is missing" },
	};
	json_t *spec = load();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *st = json_deep_copy(stage_of(spec, "mix"));
		struct merge_settings m;
		struct err e = { 0 };
		CHECK(json_object_del(json_array_get(json_object_get(st, "inputs"), cases[i].input),
			cases[i].key) == 0);
		CHECK_MSG(merge_settings_decode(st, &m, &e) == -1, "without %s", cases[i].key);
		CHECK_MSG(e.code == ERR_INVALID && strstr(e.msg, cases[i].want) &&
			strstr(e.msg, "merge stage 'mix'"), "%s", e.msg);
		merge_settings_release(&m);
		json_decref(st);
	}
	json_decref(spec);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_stage_settings__every_kind_decodes_its_values),
		TEST(test_stage_settings__a_missing_or_misspelt_key_is_named),
		TEST(test_stage_settings__keep_checkpoints_may_be_absent),
		TEST(test_stage_settings__chat_keys_are_optional),
		TEST(test_stage_settings__a_mistyped_value_is_named),
		TEST(test_stage_settings__a_merge_input_key_is_named),
		{ 0 } });
}
