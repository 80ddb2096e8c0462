#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "clock.h"
#include "rewardfiles.h"
#include "spec.h"
#include "spec_keys.h"
#include "test.h"
#include "testdir.h"

static const char *source_root(void)
{
	const char *root = getenv("R1FLOW_SOURCE_ROOT");
	CHECK_MSG(root && *root, "R1FLOW_SOURCE_ROOT is not set (run through meson test)");
	return root;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files in dir ending in `suffix`, sorted; *n of them, each malloc'd. */
static char **list_dir(const char *dir, const char *suffix, size_t *n)
{
	DIR *d = opendir(dir);
	CHECK_MSG(d, "cannot open %s", dir);
	char **names = NULL;
	*n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		names = realloc(names, (*n + 1) * sizeof *names);
		CHECK(names);
		size_t cap = strlen(dir) + l + 2;
		names[*n] = malloc(cap);
		snprintf(names[(*n)++], cap, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(names, *n, sizeof *names, name_cmp);
	return names;
}

static void free_list(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static json_t *load_ok(const char *yaml, const char *const *sets, size_t n_sets)
{
	json_t *spec = NULL;
	struct err e = { 0 };
	CHECK_MSG(spec_load_string(yaml, strlen(yaml), "t.yaml", sets, n_sets, &spec, &e) == 0, "%s", e.msg);
	CHECK(spec);
	return spec;
}

/* Loading fails with exactly `want`. */
static void load_fails(const char *yaml, const char *const *sets, size_t n_sets, const char *want)
{
	json_t *spec = (json_t *)1;
	struct err e = { 0 };
	CHECK(spec_load_string(yaml, strlen(yaml), "t.yaml", sets, n_sets, &spec, &e) == -1);
	CHECK(spec == NULL);
	CHECK_MSG(strcmp(e.msg, want) == 0, "got \"%s\", want \"%s\"", e.msg, want);
}

static json_t *stage(json_t *spec, size_t i)
{
	return json_array_get(json_object_get(spec, "stages"), i);
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	CHECK_MSG(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	CHECK_MSG(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

/* The stage names of a JSON list, joined by spaces. */
static const char *names(json_t *list, char *buf, size_t cap)
{
	size_t i, o = 0;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach(list, i, v)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? " " : "", json_string_value(v));
	return buf;
}

#define HEAD "version: 1\nname: t\nmodel: {config: {dim: 64, heads: 4}}\n"
#define DATA "datasets:\n  train: {generate: arithmetic, count: 100}\n" \
	"rewards:\n  acc: {fn: accuracy}\n  fmt: {fn: think_answer_format, weight: 0.5}\n"

static void test_spec__shipped_pipelines_validate(void)
{
	char dir[1024];
	size_t n;
	snprintf(dir, sizeof dir, "%s/pipelines", source_root());
	char **files = list_dir(dir, ".yaml", &n);
	CHECK(n >= 2);
	for (size_t i = 0; i < n; i++) {
		json_t *spec = NULL;
		struct err e = { 0 };
		CHECK_MSG(spec_load_file(files[i], NULL, 0, &spec, &e) == 0, "%s", e.msg);
		CHECK_MSG(spec_check_json(spec, &e) == 0, "%s: %s", files[i], e.msg);
		/* what the daemon receives: the spec through its JSON text */
		char *text = json_dumps(spec, JSON_COMPACT);
		json_t *back = json_loads(text, 0, NULL);
		CHECK(back && json_equal(back, spec));
		CHECK_MSG(spec_check_json(back, &e) == 0, "%s: %s", files[i], e.msg);
		free(text);
		json_decref(back);
		json_decref(spec);
	}
	free_list(files, n);
}

static void test_spec__defaults_are_filled(void)
{
	json_t *spec = load_ok(HEAD "seed: 9\n" DATA
		"template: \"Q: {prompt}\"\n"
		"stages:\n"
		"  - {name: base, kind: pretrain, dataset: train, steps: 5}\n"
		"  - {name: sft, kind: sft, from: base, dataset: train, epochs: 1}\n"
		"  - {name: zero, kind: grpo, from: sft, prompts: train, rewards: [acc], steps: 3, clip: 0.3}\n"
		"  - {name: ev, kind: eval, from: zero, dataset: train}\n"
		"  - {name: m, kind: merge, inputs: [{dataset: train}], output: mixed}\n", NULL, 0);
	const char *order[] = { "version", "name", "seed", "model", "datasets", "rewards", "template",
		"stages" };
	const char *key;
	json_t *val;
	size_t k = 0;
	json_object_foreach(spec, key, val)
		CHECK_MSG(k < 8 && strcmp(key, order[k++]) == 0, "top-level key %zu is %s", k, key);
	CHECK(k == 8);
	json_t *cfg = json_object_get(json_object_get(spec, "model"), "config");
	CHECK(num(cfg, "kv_heads") == 4 && num(cfg, "layers") == 4 && num(cfg, "ffn") == 336);
	CHECK(num(cfg, "max_seq") == 64 && strcmp(str(cfg, "vocab"), "bytes") == 0);
	CHECK(json_is_false(json_object_get(cfg, "tied")) && num(cfg, "rope_theta") == 10000.0);
	CHECK(strcmp(str(cfg, "architecture"), "llama") == 0 && num(cfg, "head_dim") == 16);
	json_t *train = json_object_get(json_object_get(spec, "datasets"), "train");
	CHECK(num(train, "digits") == 3 && strcmp(str(train, "operators"), "+") == 0);
	CHECK(strcmp(str(train, "style"), "problem") == 0 && !json_object_get(train, "mix"));
	json_t *fmt = json_object_get(json_object_get(spec, "rewards"), "fmt");
	CHECK(num(json_object_get(json_object_get(spec, "rewards"), "acc"), "weight") == 1.0);
	CHECK(num(fmt, "weight") == 0.5);
	json_t *base = stage(spec, 0), *sft = stage(spec, 1), *zero = stage(spec, 2);
	json_t *ev = stage(spec, 3), *m = stage(spec, 4);
	CHECK(json_is_null(json_object_get(base, "from")));
	CHECK(num(base, "lr") == 3e-3 && num(base, "batch") == 32 && num(base, "shard") == 8);
	CHECK(num(base, "beta2") == 0.95 && num(base, "min_lr") == 0.1 && num(base, "save_every") == 100);
	CHECK(json_is_real(json_object_get(base, "lr")) && json_is_integer(json_object_get(base, "steps")));
	CHECK(!json_object_get(base, "epochs") && !json_object_get(sft, "steps"));
	CHECK(num(sft, "lr") == 1e-3 && strcmp(str(sft, "template"), "Q: {prompt}") == 0);
	CHECK(num(zero, "lr") == 1e-4 && num(zero, "shard") == 16 && num(zero, "beta2") == 0.99);
	CHECK(num(zero, "clip_high") == 0.3 && num(zero, "group") == 8);
	CHECK(num(zero, "prompts_per_step") == 16 && strcmp(str(zero, "loss_agg"), "seq_mean") == 0);
	CHECK(!json_object_get(zero, "batch") && !json_object_get(zero, "epochs"));
	char buf[200];
	CHECK(strcmp(names(json_object_get(ev, "rewards"), buf, sizeof buf), "acc fmt") == 0);
	CHECK(num(ev, "samples") == 0 && num(ev, "limit") == 0 && num(ev, "max_new_tokens") == 64);
	CHECK(num(m, "seed") == 9 && !json_object_get(m, "from"));
	CHECK(num(json_array_get(json_object_get(m, "inputs"), 0), "ratio") == 1.0);
	json_decref(spec);

	/* a corpus dataset gets the default mix; a partial mix means the rest is 0 */
	spec = load_ok(HEAD "datasets:\n  c: {generate: arithmetic, count: 10, style: corpus}\n"
		"  d: {generate: countdown, count: 10, style: corpus, mix: {plain: 0.25, worked: 0.75}}\n"
		"stages:\n  - {name: a, kind: probe, jobs: 1}\n", NULL, 0);
	json_t *mix = json_object_get(json_object_get(json_object_get(spec, "datasets"), "c"), "mix");
	CHECK(num(mix, "plain") == 0.35 && num(mix, "tagged") == 0.35 && num(mix, "worked") == 0.3);
	json_t *d = json_object_get(json_object_get(spec, "datasets"), "d");
	mix = json_object_get(d, "mix");
	CHECK(num(mix, "tagged") == 0 && num(mix, "worked") == 0.75);
	CHECK(num(d, "numbers") == 4 && num(d, "max_number") == 100 && !json_object_get(d, "digits"));
	json_decref(spec);
}

static void test_spec__scalars_resolve_like_yaml(void)
{
	json_t *spec = load_ok(HEAD "seed: +12\ntemplate: '{prompt}'\nstages:\n"
		"  - {name: a, kind: probe, jobs: 3, payload: 42}\n"
		"  - {name: '7', kind: probe, jobs: 1, payload: \"x\", needs: [a]}\n", NULL, 0);
	CHECK(num(spec, "seed") == 12);
	CHECK(strcmp(str(stage(spec, 0), "payload"), "42") == 0); /* a plain number as a string */
	CHECK(strcmp(str(stage(spec, 1), "name"), "7") == 0);
	json_decref(spec);
	spec = load_ok(HEAD DATA "stages:\n  - {name: z, kind: grpo, prompts: train, rewards: [acc], "
		"steps: 1, lr: .5, beta: 1e-3, clip: 2.5e-1, top_p: 1, dynamic_sampling: true}\n", NULL, 0);
	CHECK(num(stage(spec, 0), "lr") == 0.5 && num(stage(spec, 0), "beta") == 1e-3);
	CHECK(num(stage(spec, 0), "clip") == 0.25 && num(stage(spec, 0), "top_p") == 1.0);
	CHECK(json_is_true(json_object_get(stage(spec, 0), "dynamic_sampling")));
	json_decref(spec);
	load_fails(HEAD "stages:\n  - {name: a, kind: probe, jobs: \"3\"}\n", NULL, 0,
		"t.yaml:5:34: stage 'a': key 'jobs': expected an integer in [1, 10000000], got '3'");
	load_fails(HEAD "stages:\n  - {name: a, kind: probe, jobs: 3.0}\n", NULL, 0,
		"t.yaml:5:34: stage 'a': key 'jobs': expected an integer in [1, 10000000], got '3.0'");
	load_fails(HEAD "seed: 99999999999999999999\nstages:\n  - {name: a, kind: probe, jobs: 1}\n", NULL, 0,
		"t.yaml:4:7: key 'seed': expected an integer >= 0, got '99999999999999999999'");
	load_fails(HEAD "stages:\n  - {name: a, kind: probe, jobs: ~}\n", NULL, 0,
		"t.yaml:5:34: stage 'a': key 'jobs': expected an integer in [1, 10000000], got '~'");
	load_fails(HEAD "stages:\n  - {name: a, kind: probe, jobs: 1, payload: }\n", NULL, 0,
		"t.yaml:5:46: stage 'a': key 'payload': expected a string, got an empty value");
	load_fails(HEAD DATA "stages:\n  - {name: z, kind: grpo, prompts: train, rewards: [acc], steps: 1, "
		"lr: 1e999}\n", NULL, 0,
		"t.yaml:10:73: stage 'z': key 'lr': expected a number > 0, got '1e999'");
}

static void test_spec__overrides_apply_before_validation(void)
{
	const char *yaml = HEAD DATA "stages:\n"
		"  - {name: base, kind: pretrain, dataset: train, steps: 5}\n"
		"  - {name: zero, kind: grpo, from: base, prompts: train, rewards: [acc], steps: 3}\n";
	const char *sets[] = { "stages.zero.lr=1e-5", "seed=7", "model.config.dim=128",
		"datasets.train.count=50" };
	json_t *spec = load_ok(yaml, sets, 4);
	CHECK(num(stage(spec, 1), "lr") == 1e-5 && num(spec, "seed") == 7);
	CHECK(num(json_object_get(json_object_get(spec, "model"), "config"), "dim") == 128);
	CHECK(num(json_object_get(json_object_get(spec, "datasets"), "train"), "count") == 50);
	json_decref(spec);
	spec = load_ok(yaml, (const char *[]){ "stages.1.steps=30", "stages.base.warmup=10",
		"stages.zero.clip=0.1" }, 3);
	CHECK(num(stage(spec, 1), "steps") == 30 && num(stage(spec, 0), "warmup") == 10);
	CHECK(num(stage(spec, 1), "clip_high") == 0.1);
	json_decref(spec);

	load_fails(yaml, (const char *[]){ "stages.zro.lr=1" }, 1,
		"--set stages.zro.lr=1: no stage named 'zro' (did you mean 'zero'?)");
	load_fails(yaml, (const char *[]){ "datasets.tran.count=1" }, 1,
		"--set datasets.tran.count=1: no dataset named 'tran' (did you mean 'train'?)");
	load_fails(yaml, (const char *[]){ "stages.zero.lrr=1e-4" }, 1,
		"--set stages.zero.lrr: stage 'zero': key 'lrr': unknown key (did you mean 'lr'?)");
	load_fails(yaml, (const char *[]){ "stages.zero.lr=-1" }, 1,
		"--set stages.zero.lr: stage 'zero': key 'lr': expected a number > 0, got '-1'");
	load_fails(yaml, (const char *[]){ "stages.zero.lr" }, 1,
		"--set stages.zero.lr: expected PATH=VALUE");
	load_fails(yaml, (const char *[]){ "name.x=1" }, 1, "--set name.x=1: 'name' is not a mapping");
	load_fails(yaml, (const char *[]){ "seed.x=1" }, 1, /* a missing mapping is made */
		"--set seed.x: key 'seed': expected an integer >= 0, got a mapping");
	load_fails(yaml, (const char *[]){ "stages..lr=1" }, 1, "--set stages..lr=1: empty key in the path");
	load_fails(yaml, (const char *[]){ "model.config.heads=3" }, 1,
		"t.yaml:3:23: key 'model.config.dim': expected a multiple of heads (3), got '64'");
	load_fails(yaml, (const char *[]){ "model.config.dim=60" }, 1,
		"--set model.config.dim: key 'model.config.dim': dim / heads must be even (rope), got 60 / 4");
}

/* A config model's architecture and head width: given, head_dim frees dim from being
 * heads x head_dim; the normalised spec round-trips. */
static void test_spec__config_architecture_and_head_dim(void)
{
	const char *yaml = "version: 1\nname: t\n"
		"model: {config: {architecture: qwen3, dim: 32, heads: 2, kv_heads: 1, head_dim: 24}}\n"
		DATA "stages:\n  - {name: base, kind: pretrain, dataset: train, steps: 1}\n";
	json_t *spec = load_ok(yaml, NULL, 0);
	json_t *cfg = json_object_get(json_object_get(spec, "model"), "config");
	CHECK(strcmp(str(cfg, "architecture"), "qwen3") == 0 && num(cfg, "head_dim") == 24);
	struct err e = { 0 };
	CHECK_MSG(spec_check_json(spec, &e) == 0, "%s", e.msg);
	json_decref(spec);
	load_fails(yaml, (const char *[]){ "model.config.head_dim=25" }, 1,
		"--set model.config.head_dim: key 'model.config.head_dim': expected an even number (rope), got 25");
	load_fails(yaml, (const char *[]){ "model.config.head_dim=65536", "model.config.heads=512",
		"model.config.kv_heads=512" }, 3,
		"--set model.config.head_dim: key 'model.config.head_dim': heads x head_dim must be at most "
		"16777216, got 512 x 65536");
	load_fails(yaml, (const char *[]){ "model.config.architecture=gpt2" }, 1,
		"--set model.config.architecture: key 'model.config.architecture': expected one of 'llama', "
		"'mistral', 'qwen2' or 'qwen3', got 'gpt2'");
}

static void test_spec__deps_union_from_needs_and_producers(void)
{
	json_t *spec = load_ok(HEAD DATA "stages:\n"
		"  - {name: m, kind: merge, inputs: [{dataset: kept, ratio: 0.5}, {dataset: train, cap: 10}], "
		"output: mixed, needs: [ev]}\n"
		"  - {name: base, kind: pretrain, dataset: train, steps: 5}\n"
		"  - {name: rs, kind: rejection_sample, from: base, prompts: train, rewards: [acc], output: kept}\n"
		"  - {name: s2, kind: sft, from: base, dataset: mixed, steps: 2, needs: [rs, base]}\n"
		"  - {name: ev, kind: eval, from: base, dataset: train, needs: [base]}\n", NULL, 0);
	char buf[200];
	CHECK(strcmp(names(json_object_get(stage(spec, 0), "deps"), buf, sizeof buf), "rs ev") == 0);
	CHECK(strcmp(names(json_object_get(stage(spec, 1), "deps"), buf, sizeof buf), "") == 0);
	CHECK(strcmp(names(json_object_get(stage(spec, 2), "deps"), buf, sizeof buf), "base") == 0);
	CHECK(strcmp(names(json_object_get(stage(spec, 3), "deps"), buf, sizeof buf), "m base rs") == 0);
	CHECK(strcmp(names(json_object_get(stage(spec, 4), "deps"), buf, sizeof buf), "base") == 0);
	struct err e = { 0 };
	CHECK_MSG(spec_check_json(spec, &e) == 0, "%s", e.msg);
	json_decref(spec);
	load_fails(HEAD "stages:\n  - {name: a, kind: probe, jobs: 1, needs: [c]}\n"
		"  - {name: b, kind: probe, jobs: 1, needs: [a]}\n"
		"  - {name: c, kind: probe, jobs: 1, needs: [b]}\n", NULL, 0,
		"t.yaml:5:45: stages: cycle: a -> c -> b -> a");
}

static void test_spec__aliases_and_merge_keys_work(void)
{
	json_t *spec = load_ok(HEAD
		"datasets:\n  train: &ds {generate: countdown, count: 100, numbers: 3}\n  test: *ds\n"
		"rewards: {acc: {fn: countdown}}\n"
		"stages:\n"
		"  - {name: base, kind: pretrain, dataset: train, steps: 10, <<: &opt {lr: 1e-2, batch: 8}}\n"
		"  - {<<: *opt, name: sft, kind: sft, from: base, dataset: test, steps: 5, lr: 2e-3}\n"
		"  - {<<: [*opt, {warmup: 7, lr: 9.0}], name: s3, kind: sft, dataset: test, steps: 5}\n"
		"  - {name: ev, kind: eval, dataset: test, rewards: &r [acc]}\n"
		"  - {name: ev2, kind: eval, dataset: test, rewards: *r}\n", NULL, 0);
	json_t *ds = json_object_get(spec, "datasets");
	CHECK(json_equal(json_object_get(ds, "train"), json_object_get(ds, "test")));
	CHECK(num(json_object_get(ds, "test"), "numbers") == 3);
	CHECK(num(stage(spec, 0), "lr") == 1e-2 && num(stage(spec, 0), "batch") == 8);
	CHECK(num(stage(spec, 1), "lr") == 2e-3 && num(stage(spec, 1), "batch") == 8); /* own key wins */
	CHECK(num(stage(spec, 2), "lr") == 1e-2 && num(stage(spec, 2), "warmup") == 7); /* first merge wins */
	CHECK(json_equal(json_object_get(stage(spec, 3), "rewards"), json_object_get(stage(spec, 4), "rewards")));
	json_decref(spec);
	/* an alias is a copy: an override changes one place only */
	spec = load_ok(HEAD "datasets:\n  a: &ds {generate: countdown, count: 100}\n  b: *ds\n"
		"stages:\n  - {name: p, kind: probe, jobs: 1}\n", (const char *[]){ "datasets.b.count=5" }, 1);
	ds = json_object_get(spec, "datasets");
	CHECK(num(json_object_get(ds, "a"), "count") == 100 && num(json_object_get(ds, "b"), "count") == 5);
	json_decref(spec);
	load_fails(HEAD "stages: &s\n  - {name: p, kind: probe, jobs: 1, payload: *s}\n", NULL, 0,
		"t.yaml:5:46: alias 's' names no anchor defined before it");
	load_fails(HEAD "stages:\n  - {name: p, kind: probe, <<: 3}\n", NULL, 0,
		"t.yaml:5:32: merge key '<<' takes a mapping or a list of mappings");
}

static void test_spec__billion_laughs_is_refused_quickly(void)
{
	char yaml[4096];
	size_t o = (size_t)snprintf(yaml, sizeof yaml, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i <= 9; i++) {
		o += (size_t)snprintf(yaml + o, sizeof yaml - o, "l%d: &l%d [", i, i);
		for (int k = 0; k < 9; k++)
			o += (size_t)snprintf(yaml + o, sizeof yaml - o, "%s*l%d", k ? ", " : "", i - 1);
		o += (size_t)snprintf(yaml + o, sizeof yaml - o, "]\n");
	}
	double t0 = clock_mono_s();
	load_fails(yaml, NULL, 0, "t.yaml:6:10: alias expansion exceeds 100000 nodes");
	double s = clock_mono_s() - t0;
	CHECK_MSG(s < 10.0, "took %.3f s", s); /* a sanity bound; it takes milliseconds */

	/* many aliases of a small anchor are fine up to the limit */
	char *big = malloc(600000);
	o = (size_t)snprintf(big, 600000, HEAD "stages:\n  - {name: a, kind: probe, jobs: 1}\n"
		"  - {name: b, kind: probe, jobs: 1, needs: [&n a");
	for (int i = 0; i < 20000; i++)
		o += (size_t)snprintf(big + o, 600000 - o, ", *n");
	snprintf(big + o, 600000 - o, "]}\n");
	json_t *spec = load_ok(big, NULL, 0);
	CHECK(json_array_size(json_object_get(stage(spec, 1), "needs")) == 20001);
	CHECK(json_array_size(json_object_get(stage(spec, 1), "deps")) == 1);
	json_decref(spec);
	free(big);
}

static void test_spec__nesting_deeper_than_32_is_refused(void)
{
	char yaml[256];
	for (int depth = 31; depth <= 32; depth++) { /* the root mapping is level 1 */
		int o = snprintf(yaml, sizeof yaml, "x: ");
		for (int i = 0; i < depth; i++)
			yaml[o++] = '[';
		for (int i = 0; i < depth; i++)
			yaml[o++] = ']';
		yaml[o] = '\0';
		load_fails(yaml, NULL, 0, depth == 31 ? "t.yaml:1:1: key 'x': unknown key" :
			"t.yaml:1:35: nesting deeper than 32 levels");
	}
	/* through an alias */
	load_fails("a: &a [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\nb: [[*a]]\n", NULL, 0,
		"t.yaml:2:6: nesting deeper than 32 levels");
	/* and in JSON */
	json_t *j = json_object(), *at = j;
	for (int i = 0; i < 40; i++) {
		json_object_set_new(at, "k", json_object());
		at = json_object_get(at, "k");
	}
	struct err e = { 0 };
	CHECK(spec_check_json(j, &e) == -1);
	CHECK_MSG(strcmp(e.msg, "spec nests deeper than 32 levels") == 0, "%s", e.msg);
	json_decref(j);
}

static void test_spec__input_over_1_mib_is_refused(void)
{
	const char *body = HEAD "stages:\n  - {name: a, kind: probe, jobs: 1}\n";
	char *yaml = malloc(SPEC_MAX_BYTES + 2);
	memset(yaml, ' ', SPEC_MAX_BYTES + 1);
	memcpy(yaml, body, strlen(body));
	yaml[strlen(body)] = '#';
	yaml[SPEC_MAX_BYTES - 1] = '\n';
	yaml[SPEC_MAX_BYTES] = '\n';
	yaml[SPEC_MAX_BYTES + 1] = '\0';
	json_t *spec = NULL;
	struct err e = { 0 };
	CHECK_MSG(spec_load_string(yaml, SPEC_MAX_BYTES, "t.yaml", NULL, 0, &spec, &e) == 0, "%s", e.msg);
	json_decref(spec);
	CHECK(spec_load_string(yaml, SPEC_MAX_BYTES + 1, "t.yaml", NULL, 0, &spec, &e) == -1);
	CHECK_MSG(strcmp(e.msg, "t.yaml: file too large (more than 1048576 bytes)") == 0, "%s", e.msg);

	char path[1100];
	snprintf(path, sizeof path, "%s/big.yaml", testdir_new("spec"));
	testdir_write(path, yaml, SPEC_MAX_BYTES + 1);
	CHECK(spec_load_file(path, NULL, 0, &spec, &e) == -1 && spec == NULL);
	char want[1200];
	snprintf(want, sizeof want, "%s: file too large (more than 1048576 bytes)", path);
	CHECK_MSG(strcmp(e.msg, want) == 0, "%s", e.msg);
	unlink(path);
	CHECK(spec_load_file(path, NULL, 0, &spec, &e) == -1 && e.code == ERR_NOTFOUND);
	free(yaml);
	testdir_done();
}

static void test_spec__relative_paths_become_absolute(void)
{
	char dir[1100], path[1200], cwd[1024];
	snprintf(dir, sizeof dir, "%s", testdir_new("spec"));
	snprintf(path, sizeof path, "%s/p.yaml", dir);
	const char *yaml = "version: 1\nname: p\nmodel: {checkpoint: ../ckpt/./m}\n"
		"datasets:\n  d: {file: data/../data/x.jsonl}\n  e: {file: /abs/y.jsonl, format: messages}\n"
		"stages:\n  - {name: a, kind: probe, jobs: 1}\n";
	testdir_write(path, yaml, strlen(yaml));
	json_t *spec = NULL;
	struct err e = { 0 };
	CHECK_MSG(spec_load_file(path, NULL, 0, &spec, &e) == 0, "%s", e.msg);
	char real[1024], want[1200];
	CHECK(realpath(dir, real));
	snprintf(want, sizeof want, "%s/data/x.jsonl", real);
	json_t *ds = json_object_get(spec, "datasets");
	CHECK_MSG(strcmp(str(json_object_get(ds, "d"), "file"), want) == 0, "%s",
		str(json_object_get(ds, "d"), "file"));
	CHECK(strcmp(str(json_object_get(ds, "e"), "file"), "/abs/y.jsonl") == 0);
	CHECK(strcmp(str(json_object_get(ds, "d"), "format"), "auto") == 0);
	*strrchr(real, '/') = '\0';
	snprintf(want, sizeof want, "%s/ckpt/m", real);
	CHECK(strcmp(str(json_object_get(spec, "model"), "checkpoint"), want) == 0);
	json_decref(spec);
	testdir_done();

	CHECK(getcwd(cwd, sizeof cwd));
	spec = load_ok(yaml, NULL, 0);
	snprintf(want, sizeof want, "%s/data/x.jsonl", strcmp(cwd, "/") ? cwd : "");
	CHECK(strcmp(str(json_object_get(json_object_get(spec, "datasets"), "d"), "file"), want) == 0);
	json_decref(spec);
}

/* Every tests/spec/broken file fails with the message of its first line. */
static void test_spec__broken_corpus_fails_with_exact_messages(void)
{
	char dir[1024];
	size_t n;
	snprintf(dir, sizeof dir, "%s/tests/spec/broken", source_root());
	char **files = list_dir(dir, ".yaml", &n);
	CHECK_MSG(n >= 35, "only %zu broken specs", n);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "r");
		char line[600], want[1600];
		CHECK(f && fgets(line, sizeof line, f));
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		CHECK_MSG(strncmp(line, "# expect: {file}", 16) == 0, "%s: no '# expect: {file}...' line", files[i]);
		snprintf(want, sizeof want, "%s%s", files[i], line + 16);
		json_t *spec = NULL;
		struct err e = { 0 };
		if (spec_load_file(files[i], NULL, 0, &spec, &e) == 0) {
			fprintf(stderr, "%s: loaded, want: %s\n", files[i], want);
			json_decref(spec);
			bad++;
		} else if (strcmp(e.msg, want) != 0) {
			fprintf(stderr, "%s:\n  got:  %s\n  want: %s\n", files[i], e.msg, want);
			bad++;
		}
	}
	free_list(files, n);
	CHECK(bad == 0);
}

static json_t *normalised(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", source_root(), rel);
	json_t *spec = NULL;
	struct err e = { 0 };
	CHECK_MSG(spec_load_file(path, NULL, 0, &spec, &e) == 0, "%s", e.msg);
	return spec;
}

static void check_json_fails(json_t *spec, const char *want)
{
	struct err e = { 0 };
	CHECK(spec_check_json(spec, &e) == -1);
	CHECK_MSG(strcmp(e.msg, want) == 0, "got \"%s\", want \"%s\"", e.msg, want);
	json_decref(spec);
}

static void test_spec__check_json_rejects_mutated_specs(void)
{
	const char *file = "pipelines/sft-arithmetic.yaml";
	json_t *s = normalised(file);
	json_object_del(stage(s, 0), "lr");
	check_json_fails(s, "stage 'base': key 'lr': missing from a normalised spec");
	s = normalised(file);
	json_object_set_new(stage(s, 1), "lr", json_real(-1));
	check_json_fails(s, "stage 'sft': key 'lr': expected a number > 0, got '-1'");
	s = normalised(file);
	json_object_set_new(stage(s, 1), "steps", json_real(150));
	check_json_fails(s, "stage 'sft': key 'steps': expected an integer > 0, got '150'");
	s = normalised(file);
	json_object_set_new(stage(s, 1), "lrr", json_real(1));
	check_json_fails(s, "stage 'sft': key 'lrr': unknown key (did you mean 'lr'?)");
	s = normalised(file);
	json_array_clear(json_object_get(stage(s, 1), "deps"));
	check_json_fails(s, "stage 'sft': key 'deps': expected [base] (from, needs and the producers of its datasets)");
	s = normalised(file);
	json_object_set_new(stage(s, 2), "from", json_string("bse"));
	check_json_fails(s, "stage 'eval_base': from: no stage named 'bse' (did you mean 'base'?)");
	s = normalised(file);
	json_object_set_new(json_object_get(json_object_get(s, "model"), "config"), "kv_heads", json_integer(3));
	check_json_fails(s, "key 'model.config.kv_heads': expected a divisor of heads (4), got '3'");
	s = normalised(file);
	json_object_set_new(json_object_get(json_object_get(s, "datasets"), "cold"), "file", json_string("x"));
	check_json_fails(s, "dataset 'cold': key 'file': cannot be combined with 'generate'");
	s = normalised(file);
	json_object_set_new(s, "version", json_integer(2));
	check_json_fails(s, "key 'version': unsupported version 2 (this r1flow reads version 1)");
	s = normalised(file);
	json_object_set_new(stage(s, 0), "name", json_integer(5));
	check_json_fails(s, "stages[0]: key 'name': expected a name matching [a-z0-9_]{1,32}, got '5'");
	s = normalised("pipelines/probe.yaml");
	json_object_set_new(s, "model", json_pack("{s:s}", "checkpoint", "relative/dir"));
	check_json_fails(s, "key 'model.checkpoint': expected an absolute path, got 'relative/dir'");
	s = json_array();
	check_json_fails(s, "expected a mapping at the top level, got an empty list");
}

/* An sft stage's chat keys: absent unless given, a template's prefix defaults to "",
 * and the normalised spec passes the JSON check (what the daemon re-reads). */
static void test_spec__chat_keys_normalise(void)
{
	json_t *spec = load_ok(HEAD DATA "stages:\n"
		"  - {name: a, kind: sft, dataset: train, steps: 1}\n"
		"  - {name: b, kind: sft, dataset: train, steps: 1, chat_format: deepseek}\n"
		"  - {name: c, kind: sft, dataset: train, steps: 1, chat_template: {system: 'S{content}',\n"
		"     user: 'U{content}', assistant: 'A{content}</s>'}}\n", NULL, 0);
	CHECK(!json_object_get(stage(spec, 0), "chat_format") &&
		!json_object_get(stage(spec, 0), "chat_template"));
	CHECK(strcmp(str(stage(spec, 1), "chat_format"), "deepseek") == 0);
	json_t *t = json_object_get(stage(spec, 2), "chat_template");
	CHECK(strcmp(str(t, "assistant"), "A{content}</s>") == 0 && strcmp(str(t, "prefix"), "") == 0);
	struct err e = { 0 };
	CHECK_MSG(spec_check_json(spec, &e) == 0, "%s", e.msg);
	json_object_set_new(t, "user", json_string("U"));
	check_json_fails(spec, "stage 'c': key 'chat_template.user': expected a string containing "
		"'{content}' exactly once, got 'U'");
}

/* A sampling stage's `correct`: as given; else the first accuracy-type reward of the
 * stage's rewards (names.h) — not one of the pipeline's the stage does not list; else
 * null. */
static void test_spec__correct_defaults_to_an_accuracy_type_reward(void)
{
	static const char *const head =
		"version: 1\nname: c\nmodel: {config: {dim: 16, heads: 2}}\n"
		"datasets: {d: {generate: countdown, count: 10}}\n";
	char yaml[1600];
	snprintf(yaml, sizeof yaml, "%s"
		"rewards:\n  fmt: {fn: think_answer_format}\n  acc: {fn: accuracy}\n"
		"  lang: {fn: language_consistency}\n  cd: {fn: countdown}\n"
		"stages:\n"
		"  - {name: a, kind: eval, dataset: d, rewards: [lang, cd, acc]}\n"
		"  - {name: b, kind: eval, dataset: d, rewards: [fmt]}\n"
		"  - {name: c, kind: eval, dataset: d}\n"
		"  - {name: g, kind: grpo, prompts: d, rewards: [lang], steps: 1, correct: lang}\n"
		"  - {name: r, kind: rejection_sample, from: g, prompts: d, rewards: [fmt],\n"
		"     output: o, correct: null}\n", head);
	json_t *spec = load_ok(yaml, NULL, 0);
	const char *want[] = { "cd", NULL, "acc", "lang", NULL };
	for (size_t i = 0; i < 5; i++) {
		json_t *c = json_object_get(stage(spec, i), "correct");
		CHECK_MSG(want[i] ? json_is_string(c) && !strcmp(json_string_value(c), want[i]) :
			json_is_null(c), "stage %zu: %s", i, json_is_string(c) ? json_string_value(c) : "null");
	}
	json_decref(spec);
	/* no accuracy-type reward anywhere: null, the daemon's exact match or countdown */
	snprintf(yaml, sizeof yaml, "%srewards: {fmt: {fn: think_answer_format}}\n"
		"stages: [{name: e, kind: eval, dataset: d}]\n", head);
	spec = load_ok(yaml, NULL, 0);
	json_t *e = json_object_get(stage(spec, 0), "correct");
	CHECK(e && json_is_null(e));
	json_decref(spec);
}

static void test_spec__errors_are_one_line(void)
{
	load_fails("version: 1\nname: \"a\\nb\"\n", NULL, 0,
		"t.yaml:2:7: key 'name': expected a name matching [A-Za-z0-9_.-]{1,64}, got 'a?b'");
	load_fails("version: 1\n\"k\\ty\": 1\n", NULL, 0, "t.yaml:2:1: key 'k?y': unknown key");
	char yaml[400];
	snprintf(yaml, sizeof yaml, "version: 1\nname: %0200d\n", 7);
	load_fails(yaml, NULL, 0, "t.yaml:2:7: key 'name': expected a name matching [A-Za-z0-9_.-]{1,64}, "
		"got '000000000000000000000000000000000000000000000000000000000...'");
}

/* The section of `text` from the heading line `heading` to the next "####" or "###". */
static char *section(const char *text, const char *heading)
{
	const char *a = strstr(text, heading);
	if (!a)
		return NULL;
	a += strlen(heading);
	const char *b = strstr(a, "\n###");
	size_t n = b ? (size_t)(b - a) : strlen(a);
	char *out = malloc(n + 1);
	if (out) {
		memcpy(out, a, n);
		out[n] = 0;
	}
	return out;
}

/* Every stage kind has a table in the reference, and it lists every row of
 * spec_stage_keys that applies to that kind (and no row of another kind only). */
static void test_spec__reference_lists_every_key_of_every_kind(void)
{
	char *ref = spec_reference();
	CHECK(ref != NULL);
	const char *kinds = NULL;
	for (const struct key *k = spec_stage_keys; k->name; k++)
		if (!strcmp(k->name, "kind"))
			kinds = k->str;
	CHECK(kinds != NULL);
	unsigned bit = 1;
	for (const char *p = kinds; *p; bit <<= 1) {
		size_t n = strcspn(p, "|");
		char heading[96], row[96];
		snprintf(heading, sizeof heading, "#### `kind: %.*s`\n", (int)n, p);
		char *sec = section(ref, heading);
		CHECK_MSG(sec != NULL, "no table for stage kind %.*s", (int)n, p);
		for (const struct key *k = spec_stage_keys; k->name; k++) {
			if (!strcmp(k->name, "kind"))
				continue;
			int applies = 0; /* some row of this name applies (lr has one per kind group) */
			for (const struct key *o = spec_stage_keys; o->name; o++)
				if (!strcmp(o->name, k->name))
					applies |= !o->kinds || (o->kinds & bit);
			snprintf(row, sizeof row, "| `%s` |", k->name);
			CHECK_MSG((strstr(sec, row) != NULL) == applies, "kind %.*s: key %s %s", (int)n,
				p, k->name, applies ? "missing" : "listed but does not apply");
		}
		free(sec);
		p += n + (p[n] == '|');
	}
	/* the generated defaults and ranges are the table's */
	char *grpo = section(ref, "#### `kind: grpo`\n");
	CHECK(grpo && strstr(grpo, "| `group` | integer | `8` | [2, ∞] |"));
	CHECK(grpo && strstr(grpo, "| `clip` | number | `0.2` | (0, 1) |"));
	CHECK(grpo && strstr(grpo, "| `loss_agg` | one of | `seq_mean` | `seq_mean`, `token_mean`, `constant` |"));
	free(grpo);
	free(ref);
}

/* The math reward's keys: extract (a list of steps) and format_credit (also accuracy's
 * and countdown's), their defaults, refusals, and the normalised spec re-checking. */
static void test_spec__math_reward_keys(void)
{
#define MATH_HEAD HEAD "datasets:\n  train: {generate: arithmetic, count: 10}\nrewards:\n"
#define MATH_TAIL "stages:\n  - {name: ev, kind: eval, dataset: train}\n"
	struct err e = { 0 };
	char buf[128];
	json_t *spec = load_ok(MATH_HEAD "  m: {fn: math}\n  a: {fn: accuracy, format_credit: 0}\n"
		"  b: {fn: math, extract: [boxed, hash], format_credit: 1}\n" MATH_TAIL, NULL, 0);
	json_t *r = json_object_get(spec, "rewards");
	json_t *m = json_object_get(r, "m"), *a = json_object_get(r, "a"), *b = json_object_get(r, "b");
	CHECK(strcmp(names(json_object_get(m, "extract"), buf, sizeof buf),
		"answer_tag boxed hash last_number") == 0);
	CHECK(num(m, "format_credit") == 0.1 && num(a, "format_credit") == 0 &&
		num(b, "format_credit") == 1);
	CHECK(strcmp(names(json_object_get(b, "extract"), buf, sizeof buf), "boxed hash") == 0);
	CHECK(!json_object_get(a, "extract"));
	CHECK_MSG(spec_check_json(spec, &e) == 0, "%s", e.msg);
	json_decref(spec);
	load_fails(MATH_HEAD "  m: {fn: math, format_credit: 1.5}\n" MATH_TAIL, NULL, 0,
		"t.yaml:7:32: reward 'm': key 'format_credit': expected a number in [0, 1], got '1.5'");
	load_fails(MATH_HEAD "  m: {fn: math, extract: []}\n" MATH_TAIL, NULL, 0,
		"t.yaml:7:26: reward 'm': key 'extract': expected a non-empty list of answer_tag, "
		"boxed, hash or last_number, got an empty list");
	load_fails(MATH_HEAD "  m: {fn: math, extract: [boxed, box]}\n" MATH_TAIL, NULL, 0,
		"t.yaml:7:34: reward 'm': key 'extract[1]': expected answer_tag, boxed, hash or "
		"last_number, got 'box'");
	load_fails(MATH_HEAD "  m: {fn: math, extract: [hash, hash]}\n" MATH_TAIL, NULL, 0,
		"t.yaml:7:33: reward 'm': key 'extract[1]': 'hash' is also extract[0]");
	load_fails(MATH_HEAD "  m: {fn: accuracy, extract: [hash]}\n" MATH_TAIL, NULL, 0,
		"t.yaml:7:21: reward 'm': key 'extract': not valid for accuracy rewards");
	load_fails(MATH_HEAD "  m: {fn: length, max_tokens: 9, format_credit: 0.5}\n" MATH_TAIL,
		NULL, 0, "t.yaml:7:34: reward 'm': key 'format_credit': not valid for length rewards");
#undef MATH_HEAD
#undef MATH_TAIL
}

/* Program and code rewards: `program` alone names the function, files become absolute
 * paths, the keys of one kind are refused on the other. */
static void test_spec__reward_programs_and_code(void)
{
	json_t *spec = load_ok(HEAD "rewards:\n"
		"  mine: {program: [python3, reward.py], files: [reward.py, helpers/], timeout_ms: 500}\n"
		"  code: {fn: code, mode: all}\n"
		"datasets:\n  train: {generate: arithmetic, count: 10}\n"
		"stages:\n  - {name: e, kind: eval, dataset: train}\n", NULL, 0);
	json_t *mine = json_object_get(json_object_get(spec, "rewards"), "mine");
	json_t *code = json_object_get(json_object_get(spec, "rewards"), "code");
	CHECK(!strcmp(str(mine, "fn"), "program"));
	json_t *argv = json_object_get(mine, "program"), *files = json_object_get(mine, "files");
	CHECK(json_array_size(argv) == 2 && !strcmp(json_string_value(json_array_get(argv, 1)),
		"reward.py"));
	const char *f0 = json_string_value(json_array_get(files, 0));
	const char *f1 = json_string_value(json_array_get(files, 1));
	CHECK(json_array_size(files) == 2 && f0 && f1 && f0[0] == '/' && f1[0] == '/');
	CHECK(strlen(f0) > 10 && !strcmp(f0 + strlen(f0) - 10, "/reward.py"));
	CHECK(strlen(f1) > 8 && !strcmp(f1 + strlen(f1) - 8, "/helpers"));
	CHECK(num(mine, "timeout_ms") == 500 && num(mine, "start_timeout_ms") == 10000 &&
		num(mine, "memory_mb") == 1024);
	CHECK(!strcmp(str(code, "mode"), "all") && num(code, "timeout_ms") == 2000);
	CHECK(!json_object_get(code, "program") && !json_object_get(mine, "mode"));
	/* the normalised spec loads again as JSON (what the daemon checks at submit) */
	char *text = json_dumps(spec, JSON_COMPACT);
	json_t *again = json_loads(text, 0, NULL);
	struct err e = { 0 };
	CHECK_MSG(again && spec_check_json(again, &e) == 0, "%s", e.msg);
	free(text);
	json_decref(again);
	json_decref(spec);

	static const struct { const char *reward, *says; } bad[] = {
		{ "{program: []}", "key 'program': expected a list of 1 to 64 texts" },
		{ "{program: python3}", "key 'program': expected a list of 1 to 64 texts" },
		{ "{program: [python3, '']}", "key 'program[1]': expected a non-empty text" },
		{ "{program: [python3], files: reward.py}", "key 'files': expected a list of paths" },
		{ "{fn: code, program: [x]}", "key 'program': not valid for code rewards" },
		{ "{fn: accuracy, timeout_ms: 5}", "key 'timeout_ms': not valid for accuracy rewards" },
		{ "{fn: code, mode: some}", "key 'mode'" },
		{ "{program: [x], timeout_ms: 0}", "key 'timeout_ms'" },
		{ "{fn: program}", "missing required key 'program'" },
		{ "{weight: 2}", "missing required key 'fn'" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char yaml[512];
		json_t *out = NULL;
		snprintf(yaml, sizeof yaml, HEAD "rewards:\n  r: %s\n"
			"datasets:\n  train: {generate: arithmetic, count: 10}\n"
			"stages:\n  - {name: e, kind: eval, dataset: train}\n", bad[i].reward);
		e = (struct err){ 0 };
		CHECK_MSG(spec_load_string(yaml, strlen(yaml), "t.yaml", NULL, 0, &out, &e) == -1,
			"%s loaded", bad[i].reward);
		CHECK_MSG(strstr(e.msg, bad[i].says) && strstr(e.msg, "reward 'r'"), "%s: %s",
			bad[i].reward, e.msg);
	}
}

/* rewardfiles_pin: a file under its name, a directory under its name and the paths
 * below it, in name order; two entries giving one name are refused. */
static int pin_put(void *ctx, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	struct err *err)
{
	(void)err;
	(*(int *)ctx)++;
	sha256_buffer(data, size, hex);
	return 0;
}

static void test_spec__reward_files_are_pinned_by_name(void)
{
	const char *dir = testdir_new("rewardfiles");
	char path[1200], a[1200], b[1200], c[1200];
	snprintf(path, sizeof path, "%s/helpers", dir);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof path, "%s/helpers/lib", dir);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(a, sizeof a, "%s/reward.py", dir);
	testdir_write(a, "print(1)\n", 9);
	snprintf(path, sizeof path, "%s/helpers/z.py", dir);
	testdir_write(path, "z", 1);
	snprintf(path, sizeof path, "%s/helpers/lib/b.py", dir);
	testdir_write(path, "b", 1);
	snprintf(b, sizeof b, "%s/helpers", dir);
	json_t *spec = json_pack("{s{s{ss s[ss]} s{ss}}}", "rewards", "mine", "fn", "program",
		"files", a, b, "acc", "fn", "accuracy");
	int puts = 0;
	struct err e = { 0 };
	CHECK_MSG(rewardfiles_pin(spec, pin_put, &puts, &e) == 0, "%s", e.msg);
	json_t *blobs = json_object_get(json_object_get(json_object_get(spec, "rewards"), "mine"),
		REWARDFILES_KEY);
	char *text = json_dumps(blobs, JSON_COMPACT);
	char want[512], hex[SHA256_HEX_SIZE];
	sha256_buffer("print(1)\n", 9, hex);
	snprintf(want, sizeof want, "{\"reward.py\":\"%s\",\"helpers/lib/b.py\":", hex);
	CHECK_MSG(!strncmp(text, want, strlen(want)) && strstr(text, "\"helpers/z.py\":"), "%s", text);
	CHECK(puts == 3 && json_object_size(blobs) == 3);
	CHECK(!json_object_get(json_object_get(json_object_get(spec, "rewards"), "acc"),
		REWARDFILES_KEY));
	free(text);
	json_decref(spec);
	/* reward.py twice: once itself, once from another directory */
	snprintf(path, sizeof path, "%s/other", dir);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(c, sizeof c, "%s/other/reward.py", dir);
	testdir_write(c, "x", 1);
	spec = json_pack("{s{s{ss s[ss]}}}", "rewards", "mine", "fn", "program", "files", a, c);
	CHECK(rewardfiles_pin(spec, pin_put, &puts, &e) == -1);
	CHECK_MSG(!strcmp(e.msg, "reward 'mine': files: two files are named 'reward.py'"), "%s", e.msg);
	json_decref(spec);
	snprintf(c, sizeof c, "%s/absent.py", dir);
	spec = json_pack("{s{s{ss s[s]}}}", "rewards", "mine", "fn", "program", "files", c);
	CHECK(rewardfiles_pin(spec, pin_put, &puts, &e) == -1);
	CHECK_MSG(strstr(e.msg, "reward 'mine': files: cannot open '") && strstr(e.msg, "absent.py"),
		"%s", e.msg);
	json_decref(spec);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_spec__shipped_pipelines_validate),
		TEST(test_spec__defaults_are_filled),
		TEST(test_spec__scalars_resolve_like_yaml),
		TEST(test_spec__overrides_apply_before_validation),
		TEST(test_spec__deps_union_from_needs_and_producers),
		TEST(test_spec__aliases_and_merge_keys_work),
		TEST(test_spec__billion_laughs_is_refused_quickly),
		TEST(test_spec__nesting_deeper_than_32_is_refused),
		TEST(test_spec__input_over_1_mib_is_refused),
		TEST(test_spec__relative_paths_become_absolute),
		TEST(test_spec__broken_corpus_fails_with_exact_messages),
		TEST(test_spec__chat_keys_normalise),
		TEST(test_spec__check_json_rejects_mutated_specs),
		TEST(test_spec__correct_defaults_to_an_accuracy_type_reward),
		TEST(test_spec__errors_are_one_line),
		TEST(test_spec__reference_lists_every_key_of_every_kind),
		TEST(test_spec__math_reward_keys),
		TEST(test_spec__reward_programs_and_code),
		TEST(test_spec__reward_files_are_pinned_by_name),
		TEST(test_spec__config_architecture_and_head_dim),
		{ 0 } });
}
