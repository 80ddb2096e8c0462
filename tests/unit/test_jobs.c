/*
 * test_jobs — the rollout, reward, reject and grad job kinds, called in-process.
 *
 * A job gets its params as the runtime would hand them over and its blobs from a
 * plain directory (job.h: compute NULL, blob_dir set). The weights are a tiny random
 * model (config_defaults shrunk, model_init_weights, matrices rescaled as in
 * test_generate so next-token distributions are far from flat) written with
 * checkpoint_save; its model.safetensors, renamed to its sha256, is the blob. The
 * same model stays in memory for the direct computations the jobs are compared with.
 */
#include "test.h"
#include "testdir.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "generate.h"
#include "jobmodel.h"
#include "kinds.h"
#include "loss.h"
#include "model.h"
#include "pool.h"
#include "sha256.h"
#include "tokenizer.h"

#define MAX_B 8
#define MAX_T 64

struct fixture {
	char tmp[1024], blobs[1100];
	struct model m;            /* the weights of sha, in memory */
	char sha[SHA256_HEX_SIZE];
	json_t *config;            /* its config.json */
};

static struct fixture fx;

/* Write model m (its config and params) as a blob; its sha256 into sha. */
static void blob_write(const struct model *m, const char *name, char sha[SHA256_HEX_SIZE],
	json_t **config)
{
	char dir[1200], path[1300], dst[1300];
	struct err e = { 0 };
	snprintf(dir, sizeof dir, "%s/%s", fx.tmp, name);
	CHECK_MSG(checkpoint_save(m, dir, 0, &e) == 0, "%s", e.msg);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	CHECK_MSG(sha256_file(path, sha, NULL, &e) == 0, "%s", e.msg);
	snprintf(dst, sizeof dst, "%s/%s", fx.blobs, sha);
	CHECK(rename(path, dst) == 0);
	if (config) {
		snprintf(path, sizeof path, "%s/config.json", dir);
		json_error_t je;
		CHECK_MSG((*config = json_load_file(path, 0, &je)), "%s", je.text);
	}
}

static void random_model(struct model *m, uint64_t seed)
{
	struct model_config cfg;
	struct err e = { 0 };
	config_defaults(&cfg);
	cfg.dim = 32;
	cfg.n_layers = 2;
	cfg.n_heads = 4;
	cfg.n_kv_heads = 2;
	cfg.ffn = 64;
	cfg.max_seq = MAX_T;
	CHECK_MSG(model_init(m, &cfg, MAX_B, MAX_T, &e) == 0, "%s", e.msg);
	model_init_weights(m, seed);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		if (t->ndim != 2)
			continue;
		float s = strstr(t->name, "embed") ? 50.0f : 1.0f / (0.02f * sqrtf((float)t->shape[1]));
		float *p = m->params_mem + t->offset;
		for (size_t j = 0; j < t->numel; j++)
			p[j] *= s;
	}
}

static void setup(void)
{
	snprintf(fx.tmp, sizeof fx.tmp, "%s", testdir_new("jobs"));
	snprintf(fx.blobs, sizeof fx.blobs, "%s/blobs", fx.tmp);
	CHECK(mkdir(fx.blobs, 0700) == 0);
	random_model(&fx.m, 5);
	blob_write(&fx.m, "a", fx.sha, &fx.config);
}

static void teardown(void)
{
	jobmodel_clear();
	model_release(&fx.m);
	json_decref(fx.config);
	testdir_done();
}

/* Run kind on params (consumed); 0 or -1 as the job returned, out and err filled. */
static int run(job_run_fn fn, json_t *params, struct job_output *out, struct err *err)
{
	struct job job = { .id = 1, .epoch = 1, .kind = "test", .params = params,
		.blob_dir = fx.blobs };
	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	int rc = fn(&job, out, err);
	json_decref(params);
	return rc;
}

static void output_release(struct job_output *out)
{
	json_decref(out->result);
	json_decref(out->stats);
	for (size_t i = 0; i < out->nblobs; i++)
		free(out->blobs[i]);
	memset(out, 0, sizeof *out);
}

/* Run and check success. */
static void run_ok(job_run_fn fn, json_t *params, struct job_output *out)
{
	struct err e;
	CHECK_MSG(run(fn, params, out, &e) == 0, "%s", e.msg);
	CHECK(out->result);
}

/* Run and check failure with exactly msg and the retryable flag. */
static void run_fails(job_run_fn fn, json_t *params, const char *msg, int retryable)
{
	struct job_output out;
	struct err e;
	CHECK(run(fn, params, &out, &e) == -1);
	CHECK_MSG(strcmp(e.msg, msg) == 0, "error '%s', expected '%s'", e.msg, msg);
	CHECK_MSG(out.retryable == retryable, "retryable %d for '%s'", out.retryable, e.msg);
	output_release(&out);
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	CHECK_MSG(json_is_number(v), "no number '%s'", key);
	return json_number_value(v);
}

/* ---- grad ---------------------------------------------------------------------- */

struct seq {
	int n, start;
	float w, adv;
	int tokens[MAX_T];
	float old_lp[MAX_T];
};

static void make_seqs(struct seq *s, int count, uint64_t salt)
{
	static const int lens[] = { 10, 7, 13, 5, 9, 12 }, starts[] = { 4, 1, 6, 2, 8, 3 };
	for (int i = 0; i < count; i++) {
		memset(&s[i], 0, sizeof s[i]); /* old_lp too: json_real drops a garbage NaN */
		s[i].n = lens[i % 6];
		s[i].start = starts[i % 6];
		s[i].w = 1.0f / (float)(i + 2);
		s[i].adv = (i % 2 ? -0.75f : 1.25f) * (float)(i + 1);
		for (int t = 0; t < s[i].n; t++)
			s[i].tokens[t] = (int)((salt * 131 + (uint64_t)i * 37 + (uint64_t)t * 11) % TOK_NUM_IDS);
	}
}

static json_t *seqs_json(const struct seq *s, int count, int grpo)
{
	json_t *a = json_array();
	for (int i = 0; i < count; i++) {
		json_t *toks = json_array(), *o;
		for (int t = 0; t < s[i].n; t++)
			json_array_append_new(toks, json_integer(s[i].tokens[t]));
		o = json_pack("{so si sf}", "tokens", toks, "start", s[i].start, "weight", (double)s[i].w);
		if (grpo) {
			json_t *lp = json_array();
			for (int t = s[i].start; t < s[i].n; t++)
				json_array_append_new(lp, json_real(s[i].old_lp[t - s[i].start]));
			json_object_set_new(o, "adv", json_real(s[i].adv));
			json_object_set_new(o, "old_lp", lp);
		}
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *grad_params(const char *weights, const struct seq *s, int count)
{
	return json_pack("{ss sO ss so}", "weights", weights, "config", fx.config, "loss", "ce",
		"seqs", seqs_json(s, count, 0));
}

static json_t *grpo_params(const char *weights, const char *ref, const struct seq *s, int count)
{
	return json_pack("{ss sO ss so so sf sf sf}", "weights", weights, "config", fx.config,
		"loss", "grpo", "seqs", seqs_json(s, count, 1), "ref_weights",
		ref ? json_string(ref) : json_null(), "beta", 0.04, "clip_low", 0.2, "clip_high", 0.28);
}

/* The fp32 little-endian gradient of blob 0, as floats (malloc'd). */
static float *grad_floats(const struct job_output *out, size_t n)
{
	CHECK(out->nblobs == 1);
	CHECK_MSG(out->sizes[0] == 4 * n, "gradient of %zu bytes, expected %zu", out->sizes[0], 4 * n);
	const unsigned char *b = out->blobs[0];
	float *g = malloc(n * sizeof *g);
	for (size_t i = 0; i < n; i++) {
		uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
			(uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
		memcpy(&g[i], &u, 4);
	}
	return g;
}

/* The batch of a job's rows, built here independently of job_grad.c. */
struct direct {
	int B, T, inputs[MAX_B * MAX_T], targets[MAX_B * MAX_T], lengths[MAX_B];
	float w[MAX_B * MAX_T], adv[MAX_B * MAX_T], old_lp[MAX_B * MAX_T];
};

static void direct_batch(struct direct *d, const struct seq *s, int count, float *wscale)
{
	memset(d, 0, sizeof *d);
	d->B = count;
	for (int i = 0; i < count; i++)
		d->T = s[i].n - 1 > d->T ? s[i].n - 1 : d->T;
	for (int i = 0; i < count; i++) {
		d->lengths[i] = s[i].n - 1;
		for (int t = 0; t + 1 < s[i].n; t++) {
			int k = i * d->T + t;
			d->inputs[k] = s[i].tokens[t];
			d->targets[k] = s[i].tokens[t + 1];
			if (t + 1 >= s[i].start) {
				d->w[k] = s[i].w * (wscale ? wscale[i] : 1.0f);
				d->adv[k] = s[i].adv;
				d->old_lp[k] = s[i].old_lp[t + 1 - s[i].start];
			}
		}
	}
}

static struct model_batch direct_forward(struct direct *d)
{
	struct model_batch b = { .B = d->B, .T = d->T, .tokens = d->inputs, .lengths = d->lengths };
	model_forward(&fx.m, &b);
	return b;
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *scale)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - (double)b[i]));
		s = fmax(s, fabs((double)b[i]));
	}
	if (scale)
		*scale = s;
	return d;
}

static void test_jobs__grad_ce_equals_direct_forward_backward(void)
{
	enum { N = 4 };
	struct seq s[N];
	struct direct d;
	struct job_output out;
	struct loss_stats st;
	setup();
	make_seqs(s, N, 1);
	run_ok(job_grad_run, grad_params(fx.sha, s, N), &out);
	float *g = grad_floats(&out, fx.m.num_params);

	direct_batch(&d, s, N, NULL);
	model_zero_grad(&fx.m);
	struct model_batch b = direct_forward(&d);
	loss_cross_entropy(&fx.m, d.targets, d.w, &st);
	model_backward(&fx.m, &b);
	double diff = max_abs_diff(g, fx.m.grads_mem, fx.m.num_params, NULL);
	printf("grad ce vs direct: max abs diff %.3g\n", diff);
	CHECK(diff <= 1e-6);
	long tokens = 0;
	for (int i = 0; i < N; i++)
		tokens += s[i].n - s[i].start;
	CHECK(json_integer_value(json_object_get(out.result, "tokens")) == tokens);
	CHECK(st.tokens == tokens);
	CHECK_NEAR(num(out.result, "loss"), st.loss, 1e-6 * fabs(st.loss));
	CHECK_NEAR(num(out.result, "nll_sum"), st.nll * (double)tokens, 1e-5 * st.nll * tokens);
	CHECK_NEAR(num(out.result, "entropy_sum"), st.entropy * (double)tokens, 1e-5 * st.entropy * tokens);
	CHECK(!json_object_get(out.result, "kl_sum"));
	free(g);
	output_release(&out);
	teardown();
}

static void test_jobs__grad_shards_add_up(void)
{
	enum { N = 6 };
	struct seq s[N];
	struct job_output one, a, b;
	setup();
	make_seqs(s, N, 2);
	/* token mean over the whole batch: every shard uses the global normaliser */
	long tokens = 0;
	for (int i = 0; i < N; i++)
		tokens += s[i].n - s[i].start;
	for (int i = 0; i < N; i++)
		s[i].w = 1.0f / (float)tokens;
	/* smaller jobs first: the cached model grows (jobmodel.h) and keeps its weights */
	run_ok(job_grad_run, grad_params(fx.sha, s, 2), &a);
	run_ok(job_grad_run, grad_params(fx.sha, s + 2, N - 2), &b);
	run_ok(job_grad_run, grad_params(fx.sha, s, N), &one);
	size_t n = fx.m.num_params;
	float *g1 = grad_floats(&one, n), *ga = grad_floats(&a, n), *gb = grad_floats(&b, n);
	for (size_t i = 0; i < n; i++)
		ga[i] += gb[i];
	double scale, diff = max_abs_diff(ga, g1, n, &scale);
	printf("grad 2 shards vs 1: max abs diff %.3g (max |g| %.3g)\n", diff, scale);
	CHECK(scale > 0 && diff <= 1e-5 * scale);
	CHECK_NEAR(num(a.result, "loss") + num(b.result, "loss"), num(one.result, "loss"), 1e-6);
	CHECK(json_integer_value(json_object_get(a.result, "tokens")) +
		json_integer_value(json_object_get(b.result, "tokens")) == tokens);
	/* the same shard again, at 1 and 2 threads: the same bytes */
	struct job_output again;
	pool_set_threads(1);
	run_ok(job_grad_run, grad_params(fx.sha, s, N), &again);
	CHECK(memcmp(again.blobs[0], one.blobs[0], 4 * n) == 0);
	output_release(&again);
	pool_set_threads(2);
	run_ok(job_grad_run, grad_params(fx.sha, s, N), &again);
	CHECK(memcmp(again.blobs[0], one.blobs[0], 4 * n) == 0);
	CHECK(json_equal(again.result, one.result));
	free(g1);
	free(ga);
	free(gb);
	output_release(&one);
	output_release(&a);
	output_release(&b);
	output_release(&again);
	teardown();
}

/* Give seqs[i] of params a ce mask: flag t of seq i is (t + i) % 3 != 0, or its
 * complement. */
static void set_masks(json_t *params, const struct seq *s, int count, int complement)
{
	for (int i = 0; i < count; i++) {
		json_t *m = json_array();
		for (int t = s[i].start; t < s[i].n; t++)
			json_array_append_new(m, json_integer(((t + i) % 3 != 0) != complement));
		json_object_set_new(json_array_get(json_object_get(params, "seqs"), (size_t)i),
			"mask", m);
	}
}

/* A chat's loss skips the user turns: a mask and its complement split the loss, the
 * counted tokens and the gradient of the unmasked shard exactly in two. */
static void test_jobs__grad_ce_mask_and_complement_add_up(void)
{
	enum { N = 4 };
	struct seq s[N];
	struct job_output all, a, b;
	setup();
	make_seqs(s, N, 3);
	json_t *pa = grad_params(fx.sha, s, N), *pb = grad_params(fx.sha, s, N);
	set_masks(pa, s, N, 0);
	set_masks(pb, s, N, 1);
	run_ok(job_grad_run, grad_params(fx.sha, s, N), &all);
	run_ok(job_grad_run, pa, &a);
	run_ok(job_grad_run, pb, &b);
	long ta = json_integer_value(json_object_get(a.result, "tokens")),
		tb = json_integer_value(json_object_get(b.result, "tokens")), masked = 0;
	for (int i = 0; i < N; i++)
		for (int t = s[i].start; t < s[i].n; t++)
			masked += (t + i) % 3 != 0;
	CHECK(ta == masked && ta > 0 && tb > 0);
	CHECK(ta + tb == json_integer_value(json_object_get(all.result, "tokens")));
	CHECK_NEAR(num(a.result, "loss") + num(b.result, "loss"), num(all.result, "loss"), 1e-6);
	size_t n = fx.m.num_params;
	float *g = grad_floats(&all, n), *ga = grad_floats(&a, n), *gb = grad_floats(&b, n);
	for (size_t i = 0; i < n; i++)
		ga[i] += gb[i];
	double scale, diff = max_abs_diff(ga, g, n, &scale);
	printf("grad masked halves vs whole: max abs diff %.3g (max |g| %.3g)\n", diff, scale);
	CHECK(scale > 0 && diff <= 1e-5 * scale);
	free(g);
	free(ga);
	free(gb);
	output_release(&all);
	output_release(&a);
	output_release(&b);
	teardown();
}

/* old_lp = the model's own log-probs of each target (direct forward). */
static void own_logprobs(struct seq *s, int count)
{
	struct direct d;
	static float lp[MAX_B * MAX_T];
	direct_batch(&d, s, count, NULL);
	direct_forward(&d);
	loss_token_logprobs(&fx.m, d.targets, lp);
	for (int i = 0; i < count; i++)
		for (int t = s[i].start; t < s[i].n; t++)
			s[i].old_lp[t - s[i].start] = lp[i * d.T + t - 1];
}

static void test_jobs__grad_grpo_on_policy_is_minus_weighted_advantage(void)
{
	enum { N = 5 };
	struct seq s[N];
	struct job_output out, ce;
	setup();
	make_seqs(s, N, 3);
	own_logprobs(s, N);
	run_ok(job_grad_run, grpo_params(fx.sha, fx.sha, s, N), &out);
	double expect = 0;
	long tokens = 0;
	for (int i = 0; i < N; i++) {
		expect -= (double)s[i].w * s[i].adv * (s[i].n - s[i].start);
		tokens += s[i].n - s[i].start;
	}
	printf("grpo on-policy: loss %.9g, expected %.9g, kl_sum %.3g\n", num(out.result, "loss"),
		expect, num(out.result, "kl_sum"));
	double first_loss = num(out.result, "loss");
	CHECK_NEAR(first_loss, expect, 1e-5 * fabs(expect));
	CHECK(fabs(num(out.result, "kl_sum")) <= 1e-6);
	CHECK(json_integer_value(json_object_get(out.result, "clip_count")) == 0);
	CHECK(json_integer_value(json_object_get(out.result, "tokens")) == tokens);

	/* ρ = 1 and no KL: the gradient is CE's with weights w·A */
	struct seq sc[N];
	memcpy(sc, s, sizeof sc);
	for (int i = 0; i < N; i++)
		sc[i].w = s[i].w * s[i].adv;
	run_ok(job_grad_run, grad_params(fx.sha, sc, N), &ce);
	size_t n = fx.m.num_params;
	float *gg = grad_floats(&out, n), *gc = grad_floats(&ce, n);
	double scale, diff = max_abs_diff(gg, gc, n, &scale);
	printf("grpo on-policy vs ce with weights w*adv: max abs diff %.3g (max |g| %.3g)\n", diff, scale);
	CHECK(scale > 0 && diff <= 1e-5 * scale);
	free(gg);
	free(gc);
	output_release(&out);
	output_release(&ce);

	/* no reference: no KL at all; another reference: KL > 0 */
	run_ok(job_grad_run, grpo_params(fx.sha, NULL, s, N), &out);
	CHECK(num(out.result, "kl_sum") == 0);
	CHECK_NEAR(num(out.result, "loss"), expect, 1e-5 * fabs(expect));
	output_release(&out);
	struct model other;
	char sha2[SHA256_HEX_SIZE];
	random_model(&other, 6);
	blob_write(&other, "b", sha2, NULL);
	run_ok(job_grad_run, grpo_params(fx.sha, sha2, s, N), &out);
	double kl = num(out.result, "kl_sum");
	printf("grpo with another reference: kl_sum %.6g\n", kl);
	CHECK(kl > 1e-3);
	output_release(&out);
	/* the cache: the policy's weights switched to the other model and back */
	run_ok(job_grad_run, grpo_params(sha2, fx.sha, s, N), &out);
	CHECK(num(out.result, "loss") != first_loss);
	output_release(&out);
	run_ok(job_grad_run, grpo_params(fx.sha, fx.sha, s, N), &out);
	CHECK(num(out.result, "loss") == first_loss);
	output_release(&out);
	model_release(&other);
	teardown();
}

/* ---- rollout ------------------------------------------------------------------- */

/* The bytes of two outputs: their blobs and their result JSON. */
static int same_output(const struct job_output *a, const struct job_output *b)
{
	char *ta = json_dumps(a->result, JSON_COMPACT | JSON_SORT_KEYS);
	char *tb = json_dumps(b->result, JSON_COMPACT | JSON_SORT_KEYS);
	int same = ta && tb && !strcmp(ta, tb) && a->nblobs == b->nblobs;
	for (size_t i = 0; same && i < a->nblobs; i++)
		same = a->sizes[i] == b->sizes[i] && !memcmp(a->blobs[i], b->blobs[i], a->sizes[i]);
	free(ta);
	free(tb);
	return same;
}

static json_t *prompt_json(int index, int len);
static json_t *rollout_params(const int *index, const int *len, int np, int G, double temp,
	int max_new);

/* checkpoint_activations: true changes nothing in a grad job's output, CE or GRPO
 * with a reference, at 1 and 2 threads; a rollout on the model the cache switched
 * to checkpointing and back is the rollout of a fresh one. */
static void test_jobs__grad_checkpointing_same_bytes(void)
{
	enum { N = 6, NP = 2 };
	const int index[NP] = { 1, 4 }, len[NP] = { 3, 6 };
	struct seq s[N];
	struct job_output plain, ckpt, r1, r2;
	struct model other;
	char sha2[SHA256_HEX_SIZE];
	setup();
	random_model(&other, 6);
	blob_write(&other, "b", sha2, NULL);
	make_seqs(s, N, 3);
	own_logprobs(s, N);
	run_ok(job_rollout_run, rollout_params(index, len, NP, 2, 1.0, 12), &r1);
	for (int threads = 1; threads <= 2; threads++) {
		pool_set_threads(threads);
		for (int grpo = 0; grpo <= 1; grpo++) {
			json_t *p = grpo ? grpo_params(fx.sha, sha2, s, N) : grad_params(fx.sha, s, N);
			json_t *q = json_deep_copy(p);
			json_object_set_new(q, "checkpoint_activations", json_true());
			run_ok(job_grad_run, p, &plain);
			run_ok(job_grad_run, q, &ckpt);
			CHECK_MSG(same_output(&plain, &ckpt), "%s, %d thread(s): checkpointing changed "
				"the output", grpo ? "grpo" : "ce", threads);
			output_release(&plain);
			output_release(&ckpt);
		}
	}
	pool_set_threads(1);
	run_ok(job_rollout_run, rollout_params(index, len, NP, 2, 1.0, 12), &r2);
	CHECK_MSG(same_output(&r1, &r2), "a rollout after a checkpointed grad job differs");
	output_release(&r1);
	output_release(&r2);
	model_release(&other);
	teardown();
}

static json_t *prompt_json(int index, int len)
{
	json_t *toks = json_array();
	for (int t = 0; t < len; t++)
		json_array_append_new(toks, json_integer(t == 0 ? TOK_BOS : 'a' + (index * 7 + t * 3) % 26));
	return json_pack("{si so}", "index", index, "tokens", toks);
}

static json_t *rollout_params(const int *index, const int *len, int np, int G, double temp,
	int max_new)
{
	json_t *prompts = json_array();
	for (int i = 0; i < np; i++)
		json_array_append_new(prompts, prompt_json(index[i], len[i]));
	return json_pack("{ss sO ss so si sf sf si si s[s]}", "weights", fx.sha, "config", fx.config,
		"key", "18446744073709551557", "prompts", prompts, "samples", G, "temperature", temp,
		"top_p", 0.95, "top_k", 40, "max_new_tokens", max_new, "stop", "</answer>");
}

static const json_t *sample_at(const json_t *result, size_t i)
{
	const json_t *s = json_array_get(json_object_get(result, "samples"), i);
	CHECK(json_is_object(s));
	return s;
}

static void check_same_sample(const json_t *a, const json_t *b, const char *what)
{
	CHECK_MSG(json_equal(json_object_get(a, "tokens"), json_object_get(b, "tokens")),
		"%s: tokens differ", what);
	CHECK_MSG(json_equal(json_object_get(a, "text"), json_object_get(b, "text")), "%s", what);
	CHECK_MSG(json_equal(json_object_get(a, "finish"), json_object_get(b, "finish")), "%s", what);
	CHECK(json_equal(json_object_get(a, "prompt"), json_object_get(b, "prompt")));
	CHECK(json_equal(json_object_get(a, "sample"), json_object_get(b, "sample")));
	const json_t *la = json_object_get(a, "logprobs"), *lb = json_object_get(b, "logprobs");
	CHECK(json_array_size(la) == json_array_size(lb));
	for (size_t t = 0; t < json_array_size(la); t++)
		CHECK_NEAR(json_real_value(json_array_get(la, t)), json_real_value(json_array_get(lb, t)), 1e-5);
}

static void test_jobs__rollout_is_deterministic_and_split_independent(void)
{
	enum { NP = 4, G = 3 };
	const int index[NP] = { 0, 5, 2, 9 }, len[NP] = { 3, 8, 1, 5 };
	struct job_output a, b, c;
	setup();
	pool_set_threads(1);
	run_ok(job_rollout_run, rollout_params(index, len, NP, G, 1.0, 20), &a);
	pool_set_threads(2);
	run_ok(job_rollout_run, rollout_params(index, len, NP, G, 1.0, 20), &b);
	char *ta = json_dumps(a.result, JSON_COMPACT), *tb = json_dumps(b.result, JSON_COMPACT);
	CHECK_MSG(strcmp(ta, tb) == 0, "1 thread vs 2: results differ");
	CHECK(json_array_size(json_object_get(a.result, "samples")) == NP * G);
	/* (prompt order, j) order; the generated text is the decoded tokens */
	for (int p = 0; p < NP; p++)
		for (int j = 0; j < G; j++) {
			const json_t *s = sample_at(a.result, (size_t)(p * G + j));
			CHECK(json_integer_value(json_object_get(s, "prompt")) == index[p]);
			CHECK(json_integer_value(json_object_get(s, "sample")) == j);
			const json_t *toks = json_object_get(s, "tokens");
			size_t n = json_array_size(toks);
			CHECK(n >= 1 && n <= 20 && json_array_size(json_object_get(s, "logprobs")) == n);
			const char *fin = json_string_value(json_object_get(s, "finish"));
			CHECK(fin && (strcmp(fin, "stop") == 0 || (strcmp(fin, "length") == 0 && n == 20)));
		}
	/* prompt 5 alone, and prompts 9, 5 in another job */
	const int i1[1] = { 5 }, l1[1] = { 8 }, i2[2] = { 9, 5 }, l2[2] = { 5, 8 };
	run_ok(job_rollout_run, rollout_params(i1, l1, 1, G, 1.0, 20), &c);
	for (int j = 0; j < G; j++)
		check_same_sample(sample_at(c.result, (size_t)j), sample_at(a.result, (size_t)(G + j)),
			"prompt 5 alone");
	output_release(&c);
	run_ok(job_rollout_run, rollout_params(i2, l2, 2, G, 1.0, 20), &c);
	for (int j = 0; j < G; j++) {
		check_same_sample(sample_at(c.result, (size_t)j), sample_at(a.result, (size_t)(3 * G + j)),
			"prompt 9 in another job");
		check_same_sample(sample_at(c.result, (size_t)(G + j)), sample_at(a.result, (size_t)(G + j)),
			"prompt 5 in another job");
	}
	/* samples of one prompt differ (their coins do) */
	CHECK(!json_equal(json_object_get(sample_at(a.result, 0), "tokens"),
		json_object_get(sample_at(a.result, 1), "tokens")));
	free(ta);
	free(tb);
	output_release(&a);
	output_release(&b);
	output_release(&c);
	teardown();
}

static void test_jobs__rollout_greedy_equals_gen_run(void)
{
	enum { NP = 3, MAX_NEW = 16 };
	const int index[NP] = { 4, 1, 7 }, len[NP] = { 6, 2, 9 };
	struct job_output out;
	setup();
	run_ok(job_rollout_run, rollout_params(index, len, NP, 1, 0.0, MAX_NEW), &out);
	/* the same prompts through gen_run directly */
	int prompts[NP][MAX_T];
	struct gen_request reqs[NP];
	struct gen_result *res[NP];
	for (int p = 0; p < NP; p++) {
		json_t *pj = prompt_json(index[p], len[p]);
		for (int t = 0; t < len[p]; t++)
			prompts[p][t] = (int)json_integer_value(
				json_array_get(json_object_get(pj, "tokens"), (size_t)t));
		json_decref(pj);
		reqs[p] = (struct gen_request){ prompts[p], len[p], (uint64_t)index[p] };
	}
	const char *stop[] = { "</answer>", NULL };
	struct gen_params gp = { .sampler = { 0.0f, 40, 0.95f }, .max_new_tokens = MAX_NEW,
		.key = 18446744073709551557ull, .stop = stop };
	struct generator g;
	struct err e = { 0 };
	CHECK_MSG(gen_init(&g, &fx.m, NP, 9 + MAX_NEW, &e) == 0, "%s", e.msg);
	CHECK_MSG(gen_run(&g, reqs, NP, &gp, res, &e) == 0, "%s", e.msg);
	for (int p = 0; p < NP; p++) {
		const json_t *s = sample_at(out.result, (size_t)p);
		const json_t *toks = json_object_get(s, "tokens"), *lps = json_object_get(s, "logprobs");
		CHECK_MSG(json_array_size(toks) == (size_t)res[p]->n, "prompt %d: %zu tokens vs %d", p,
			json_array_size(toks), res[p]->n);
		for (int t = 0; t < res[p]->n; t++) {
			CHECK(json_integer_value(json_array_get(toks, (size_t)t)) == res[p]->tokens[t]);
			CHECK_NEAR(json_real_value(json_array_get(lps, (size_t)t)), res[p]->logprobs[t], 1e-5);
		}
		CHECK(strcmp(json_string_value(json_object_get(s, "finish")),
			res[p]->finish == GEN_FINISH_STOP ? "stop" : "length") == 0);
		char text[MAX_T * 10];
		tok_decode(res[p]->tokens, (size_t)res[p]->n, text, sizeof text);
		/* valid UTF-8 comes through as is */
		int ascii = 1;
		for (const char *c = text; *c; c++)
			ascii &= (unsigned char)*c < 0x80;
		if (ascii)
			CHECK(strcmp(json_string_value(json_object_get(s, "text")), text) == 0);
	}
	gen_release(&g);
	output_release(&out);
	teardown();
}

static void test_jobs__rollout_text_replaces_invalid_utf8(void)
{
	/* random byte tokens at a high temperature: some texts are not UTF-8 */
	enum { NP = 6, G = 4 };
	const int index[NP] = { 0, 1, 2, 3, 4, 5 }, len[NP] = { 2, 3, 4, 5, 6, 7 };
	struct job_output out;
	setup();
	run_ok(job_rollout_run, rollout_params(index, len, NP, G, 2.0, 24), &out);
	int invalid = 0;
	for (size_t i = 0; i < NP * G; i++) {
		const json_t *s = sample_at(out.result, i), *toks = json_object_get(s, "tokens");
		int ids[64];
		size_t n = json_array_size(toks);
		for (size_t t = 0; t < n; t++)
			ids[t] = (int)json_integer_value(json_array_get(toks, t));
		if (n && ids[n - 1] == TOK_EOS) /* the text ends before a final EOS */
			n--;
		char raw[64 * 10];
		size_t rl = tok_decode(ids, n, raw, sizeof raw);
		const char *text = json_string_value(json_object_get(s, "text"));
		CHECK(text);
		json_t *as_is = json_stringn(raw, rl); /* NULL: not UTF-8 */
		if (as_is) {
			CHECK(json_equal(as_is, json_object_get(s, "text")));
			json_decref(as_is);
			continue;
		}
		invalid++;
		CHECK(strstr(text, "\xEF\xBF\xBD"));
		CHECK(json_string_length(json_object_get(s, "text")) > rl);
	}
	printf("rollout text: %d of %d samples were not UTF-8\n", invalid, NP * G);
	CHECK(invalid > 0);
	output_release(&out);
	teardown();
}

/* ---- reward -------------------------------------------------------------------- */

static void test_jobs__reward_totals_are_weighted_sums(void)
{
	struct job_output out;
	json_t *params = json_pack("{s[{ss ss sf} {ss ss sf} {ss ss sf si si}]"
		" s[{ss ss ss si} {ss ss ss si} {ss ss ss si}]}",
		"rewards",
		"name", "acc", "fn", "accuracy", "weight", 2.0,
		"name", "fmt", "fn", "think_answer_format", "weight", 0.5,
		"name", "len", "fn", "length", "weight", 1.0, "max_tokens", 10, "buffer", 5,
		"items",
		"prompt", "467+189", "completion", "7+9+0=16</think><answer>656</answer><|eos|>",
		"answer", "656", "tokens", 5,
		"prompt", "467+189", "completion", "7+9=16</think><answer>655</answer>", "answer", "656",
		"tokens", 8,
		"prompt", "1+1", "completion", "no tags at all", "answer", "2", "tokens", 12);
	setup();
	run_ok(job_reward_run, params, &out);
	const json_t *items = json_object_get(out.result, "items");
	CHECK(json_array_size(items) == 3);
	const double want[3][3] = { { 1, 1, 0 }, { 0.1, 1, -0.6 }, { 0, 0, -1 } };
	const double w[3] = { 2.0, 0.5, 1.0 };
	const char *names[3] = { "acc", "fmt", "len" };
	for (size_t i = 0; i < 3; i++) {
		const json_t *it = json_array_get(items, i), *comp = json_object_get(it, "components");
		CHECK(json_object_size(comp) == 3);
		double sum = 0;
		for (int k = 0; k < 3; k++) {
			double v = num(comp, names[k]);
			CHECK_NEAR(v, want[i][k], 1e-12);
			sum += w[k] * v;
		}
		CHECK_NEAR(num(it, "total"), sum, 1e-12);
	}
	output_release(&out);
	teardown();
}

/* The math reward from a job's params: extract and format_credit as the spec gives them. */
static void test_jobs__reward_math_reads_its_params(void)
{
	struct job_output out;
	json_t *params = json_pack("{s[{ss ss} {ss ss sf s[s]}] s[{ss ss ss si} {ss ss ss si}]}",
		"rewards",
		"name", "dflt", "fn", "math",
		"name", "boxed", "fn", "math", "format_credit", 0.5, "extract", "boxed",
		"items",
		"prompt", "q", "completion", "x</think><answer>$1,000</answer>", "answer",
		"Ten hundreds.\n#### 1000", "tokens", 5,
		"prompt", "q", "completion", "so \\boxed{999} dollars", "answer", "#### 1000",
		"tokens", 5);
	setup();
	run_ok(job_reward_run, params, &out);
	const json_t *items = json_object_get(out.result, "items");
	const json_t *c0 = json_object_get(json_array_get(items, 0), "components");
	const json_t *c1 = json_object_get(json_array_get(items, 1), "components");
	CHECK(num(c0, "dflt") == 1 && num(c0, "boxed") == 0);
	CHECK(num(c1, "dflt") == 0.1 && num(c1, "boxed") == 0.5);
	output_release(&out);
	teardown();
}

/* ---- reject -------------------------------------------------------------------- */

static void test_jobs__reject_counts_each_filter(void)
{
	struct job_output out;
	const char *good = "1+1=2</think><answer>2</answer>";
	json_t *items = json_array();
	struct { int prompt; const char *completion; int correct; } in[] = {
		{ 0, good, 1 },                                              /* 0 kept */
		{ 0, "1+1=3</think><answer>3</answer>", 0 },                 /* 1 correct */
		{ 0, "un plus un</think><answer>2</answer>", 1 },            /* 2 mixed_language */
		{ 0, "  1+1=2</think><answer>2</answer><|eos|> ", 1 },       /* 3 duplicates of 0 */
		{ 0, "1+1+1+1+1+1+1=7,7-5=2</think><answer>2</answer>", 1 }, /* 4 max_paragraph */
		{ 0, "2=2</think><answer>```2```</answer>", 1 },             /* 5 code_blocks */
		{ 1, good, 1 },                                              /* 6 kept (another prompt) */
		{ 1, "2-1+1=2</think><answer>2</answer>", 1 },               /* 7 kept */
		{ 1, "0+2=2</think><answer>2</answer>", 1 },                 /* 8 max_per_prompt */
		{ 0, "2*1=2</think><answer>2</answer>", 1 },                 /* 9 kept (2nd of prompt 0) */
		{ 2, "", 1 },                                                /* 10 mixed (empty) */
	};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		json_array_append_new(items, json_pack("{si ss sf si}", "prompt_index", in[i].prompt,
			"completion", in[i].completion, "total", in[i].correct ? 2.0 : 0.1, "correct",
			in[i].correct));
	/* no `correct`: the total against the threshold */
	json_array_append_new(items, json_pack("{si ss sf}", "prompt_index", 3, "completion", good,
		"total", 0.5));                                                  /* 11 correct */
	json_array_append_new(items, json_pack("{si ss sf}", "prompt_index", 3, "completion",
		"3=3</think><answer>3</answer>", "total", 1.0));                 /* 12 kept */
	json_t *params = json_pack("{s{sb sb si sb sb si} sf so}", "filters", "correct", 1,
		"mixed_language", 1, "max_paragraph", 16, "code_blocks", 1, "duplicates", 1,
		"max_per_prompt", 2, "correct_threshold", 1.0, "items", items);
	setup();
	run_ok(job_reject_run, params, &out);
	char *kept = json_dumps(json_object_get(out.result, "kept"), JSON_COMPACT);
	char *dropped = json_dumps(json_object_get(out.result, "dropped"), JSON_COMPACT | JSON_SORT_KEYS);
	printf("kept %s dropped %s\n", kept, dropped);
	CHECK(strcmp(kept, "[0,6,7,9,12]") == 0);
	CHECK(strcmp(dropped, "{\"code_blocks\":1,\"correct\":2,\"duplicates\":1,"
		"\"max_paragraph\":1,\"max_per_prompt\":1,\"mixed_language\":2}") == 0);
	free(kept);
	free(dropped);
	output_release(&out);

	/* every filter off: everything is kept */
	run_ok(job_reject_run, json_pack("{s{} s[{si ss}]}", "filters", "items", "prompt_index", 0,
		"completion", "x"), &out);
	CHECK(json_array_size(json_object_get(out.result, "kept")) == 1);
	output_release(&out);
	teardown();
}

/* ---- bad params ---------------------------------------------------------------- */

static void test_jobs__bad_params_name_the_key(void)
{
	struct seq s[4];
	setup();
	make_seqs(s, 4, 4);
	json_t *p = grad_params(fx.sha, s, 4);
	json_object_set_new(json_array_get(json_object_get(p, "seqs"), 3), "tokens", json_string("abc"));
	run_fails(job_grad_run, p, "grad: seqs[3].tokens: expected an array of token ids", 0);

	p = grad_params(fx.sha, s, 4);
	json_array_set_new(json_object_get(json_array_get(json_object_get(p, "seqs"), 1), "tokens"), 2,
		json_integer(264));
	run_fails(job_grad_run, p, "grad: seqs[1].tokens: token 264 at 2 is outside the vocabulary (0..263)", 0);

	p = grad_params(fx.sha, s, 4);
	json_t *longest = json_array();
	for (int t = 0; t < MAX_T + 1; t++)
		json_array_append_new(longest, json_integer(1));
	json_object_set_new(json_array_get(json_object_get(p, "seqs"), 0), "tokens", longest);
	run_fails(job_grad_run, p, "grad: seqs[0].tokens: 65 tokens, more than max_seq (64)", 0);

	p = grad_params(fx.sha, s, 4);
	json_object_set_new(json_array_get(json_object_get(p, "seqs"), 2), "start", json_integer(0));
	run_fails(job_grad_run, p, "grad: seqs[2].start: 0 is out of range (1..12)", 0);

	p = grad_params(fx.sha, s, 4);
	json_object_set_new(p, "checkpoint_activations", json_string("yes"));
	run_fails(job_grad_run, p, "grad: checkpoint_activations: expected a boolean", 0);

	p = grad_params(fx.sha, s, 4);
	json_object_set_new(p, "loss", json_string("mse"));
	run_fails(job_grad_run, p, "grad: loss: 'mse' is not \"ce\" or \"grpo\"", 0);

	p = grpo_params(fx.sha, fx.sha, s, 4);
	json_array_remove(json_object_get(json_array_get(json_object_get(p, "seqs"), 1), "old_lp"), 0);
	run_fails(job_grad_run, p, "grad: seqs[1].old_lp: 5 values, expected 6 (one per token from start)", 0);

	p = grad_params(fx.sha, s, 4);
	set_masks(p, s, 4, 0);
	json_array_remove(json_object_get(json_array_get(json_object_get(p, "seqs"), 2), "mask"), 0);
	run_fails(job_grad_run, p, "grad: seqs[2].mask: 6 flags, expected 7 (one per token from start)", 0);

	p = grad_params(fx.sha, s, 4);
	set_masks(p, s, 4, 0);
	json_array_set_new(json_object_get(json_array_get(json_object_get(p, "seqs"), 0), "mask"), 1,
		json_integer(2));
	run_fails(job_grad_run, p, "grad: seqs[0].mask: expected an array of flags (0 or 1)", 0);

	p = grpo_params(fx.sha, fx.sha, s, 4);
	set_masks(p, s, 4, 0);
	run_fails(job_grad_run, p, "grad: seqs[0].mask: only with loss \"ce\"", 0);

	p = grad_params(fx.sha, s, 4);
	json_object_del(p, "weights");
	run_fails(job_grad_run, p, "grad: weights: missing", 0);

	p = grad_params(fx.sha, s, 4);
	json_object_set_new(p, "weights", json_string("0123"));
	run_fails(job_grad_run, p, "grad: weights: expected a sha256 (64 hex digits)", 0);

	/* a blob that is missing: no retry finds it (a lost connection would be retryable) */
	char missing[SHA256_HEX_SIZE];
	memset(missing, 'a', 64);
	missing[64] = '\0';
	char msg[1300];
	snprintf(msg, sizeof msg, "grad: cannot fetch blob %s: not in '%s'", missing, fx.blobs);
	run_fails(job_grad_run, grad_params(missing, s, 4), msg, 0);

	p = grad_params(fx.sha, s, 4);
	json_object_set_new(p, "config", json_deep_copy(fx.config));
	json_object_set_new(json_object_get(p, "config"), "hidden_size", json_string("32"));
	run_fails(job_grad_run, p, "grad: cannot read 'config': key 'hidden_size' is a string, expected an integer", 0);

	const int index[1] = { 0 }, len[1] = { 3 };
	p = rollout_params(index, len, 1, 2, 1.0, 8);
	json_object_del(p, "temperature");
	run_fails(job_rollout_run, p, "rollout: temperature: missing", 0);
	p = rollout_params(index, len, 1, 2, 1.0, 8);
	json_object_set_new(p, "key", json_string("-1"));
	run_fails(job_rollout_run, p, "rollout: key: expected a u64 as a decimal string", 0);
	p = rollout_params(index, len, 1, 2, 1.0, 8);
	json_object_set_new(json_array_get(json_object_get(p, "prompts"), 0), "tokens", json_array());
	run_fails(job_rollout_run, p, "rollout: prompts[0].tokens: empty: a prompt needs at least one token", 0);
	p = rollout_params(index, len, 1, 2, 1.0, 8);
	json_object_set_new(p, "max_new_tokens", json_integer(64));
	run_fails(job_rollout_run, p, "rollout: max_new_tokens: 64 is out of range (1..63)", 0);

	run_fails(job_reward_run, json_pack("{s[{ss ss}] s[{ss ss si}]}", "rewards", "name", "acc",
		"fn", "accuracy", "items", "prompt", "1+1", "completion", "x", "tokens", 1),
		"reward: items[0]: reward 'acc': accuracy needs a reference answer", 0);
	run_fails(job_reward_run, json_pack("{s[{ss ss}] s[]}", "rewards", "name", "acc",
		"fn", "accurate", "items"),
		"reward: rewards[0].fn: unknown reward function 'accurate': expected "
		"accuracy, countdown, think_answer_format, language_consistency, length, math, program or code", 0);
	run_fails(job_reward_run, json_pack("{s[{ss ss s[s]}] s[]}", "rewards", "name", "m",
		"fn", "math", "extract", "boxd", "items"),
		"reward: rewards[0].extract: item 0: expected a step name", 0);
	run_fails(job_reward_run, json_pack("{s[{ss ss sf}] s[]}", "rewards", "name", "m",
		"fn", "math", "format_credit", 2.0, "items"),
		"reward: rewards[0]: reward 'm': format_credit 2: must be in [0, 1]", 0);
	run_fails(job_reward_run, json_pack("{s[{ss ss}] s[{ss si}]}", "rewards", "name", "f",
		"fn", "think_answer_format", "items", "prompt", "1+1", "tokens", 1),
		"reward: items[0].completion: missing", 0);
	run_fails(job_reward_run, json_pack("{s[{ss ss}] s[]}", "rewards", "name", "l",
		"fn", "length", "items"),
		"reward: rewards[0]: reward 'l': max_tokens 0: must be >= 1", 0);

	run_fails(job_reject_run, json_pack("{s[]}", "items"), "reject: filters: missing", 0);
	run_fails(job_reject_run, json_pack("{s{sb} s[{si ss}]}", "filters", "correct", 1, "items",
		"prompt_index", 0, "completion", "x"),
		"reject: items[0].correct: missing (and no total): the correct filter needs one", 0);
	run_fails(job_reject_run, json_pack("{s{si} s[]}", "filters", "code_blocks", 1, "items"),
		"reject: filters.code_blocks: expected a boolean", 0);
	teardown();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_jobs__grad_ce_equals_direct_forward_backward),
		TEST(test_jobs__grad_shards_add_up),
		TEST(test_jobs__grad_ce_mask_and_complement_add_up),
		TEST(test_jobs__grad_grpo_on_policy_is_minus_weighted_advantage),
		TEST(test_jobs__grad_checkpointing_same_bytes),
		TEST(test_jobs__rollout_is_deterministic_and_split_independent),
		TEST(test_jobs__rollout_greedy_equals_gen_run),
		TEST(test_jobs__rollout_text_replaces_invalid_utf8),
		TEST(test_jobs__reward_totals_are_weighted_sums),
		TEST(test_jobs__reward_math_reads_its_params),
		TEST(test_jobs__reject_counts_each_filter),
		TEST(test_jobs__bad_params_name_the_key),
		{ 0 } });
}
