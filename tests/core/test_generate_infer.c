/*
 * test_generate_infer — generation on an inference-only model (model_init with
 * max_B 0): no gradients or activations, the same results as on a model sized for
 * training, a prefill whose keys and values are model_forward's bit for bit, the
 * prompt bound that follows from max_len alone, and model_resize between the two.
 *
 * The model is small and random, its matrices rescaled to 1/sqrt(fan-in) and its
 * embedding enlarged (as in test_generate.c) so that sampled tokens depend on the
 * logits. EOS is switched off (an id never produced).
 */
#include "test.h"

#include <math.h>
#include <string.h>

#include "generate.h"
#include "model.h"
#include "pool.h"

#define MAX_SEQ 64
#define NB 5
#define NEW 12

static void tiny_config(struct model_config *cfg)
{
	config_defaults(cfg); /* V 264, the byte vocabulary */
	cfg->dim = 64;
	cfg->n_layers = 2;
	cfg->n_heads = 4;
	cfg->n_kv_heads = 2;
	cfg->ffn = 128;
	cfg->max_seq = MAX_SEQ;
}

static void sharpen(struct model *m)
{
	m->cfg.eos_id = -1; /* never produced */
	model_init_weights(m, 7);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		if (t->ndim != 2)
			continue;
		float s = strstr(t->name, "embed") ? 50.0f : 1.0f / (0.02f * sqrtf((float)t->shape[1]));
		for (size_t j = 0; j < t->numel; j++)
			m->params_mem[t->offset + j] *= s;
	}
}

/* NB prompts of lengths 3, 9, 1, 17, 6 (so the prefill pads all but one) */
static const int lens[NB] = { 3, 9, 1, 17, 6 };
static int prompts[NB][17];

static void make_requests(struct gen_request *reqs)
{
	for (int b = 0; b < NB; b++) {
		for (int t = 0; t < lens[b]; t++)
			prompts[b][t] = (b * 31 + t * 7 + 5) % 264;
		reqs[b] = (struct gen_request){ prompts[b], lens[b], (uint64_t)(100 + b) };
	}
}

struct run {
	int tokens[NB][NEW], n[NB];
	float lp[NB][NEW], slp[NB][NEW];
	float trace[NB * NEW * 264];
};

static void generate(struct model *m, struct run *out)
{
	struct generator g;
	struct gen_request reqs[NB];
	struct gen_result *res[NB];
	struct err e = { 0 };
	make_requests(reqs);
	memset(out, 0, sizeof *out);
	CHECK_MSG(gen_init(&g, m, NB, 17 + NEW, &e) == 0, "%s", e.msg);
	struct gen_params p = { .sampler = { 1.0f, 0, 1.0f }, .max_new_tokens = NEW, .key = 42,
		.trace_logits = out->trace };
	CHECK_MSG(gen_run(&g, reqs, NB, &p, res, &e) == 0, "%s", e.msg);
	for (int b = 0; b < NB; b++) {
		CHECK(res[b]->n == NEW);
		out->n[b] = res[b]->n;
		memcpy(out->tokens[b], res[b]->tokens, sizeof(int) * NEW);
		memcpy(out->lp[b], res[b]->logprobs, sizeof(float) * NEW);
		memcpy(out->slp[b], res[b]->sample_logprobs, sizeof(float) * NEW);
	}
	gen_release(&g);
}

static void test_generate_infer__inference_only_model_has_no_training_buffers(void)
{
	struct model_config cfg;
	struct model m;
	struct err e = { 0 };
	tiny_config(&cfg);
	CHECK_MSG(model_init(&m, &cfg, 0, 0, &e) == 0, "%s", e.msg);
	CHECK(m.max_B == 0 && m.max_T == 0);
	CHECK(m.grads_mem == NULL && m.m_mem == NULL);
	/* the RoPE tables, cos and sin over max_seq x HD/2, and nothing else */
	CHECK(m.num_acts == (size_t)MAX_SEQ * 16);
	CHECK(m.act.rope_cos[0] == 1.0f && fabsf(m.act.rope_sin[8] - sinf(1.0f)) < 1e-6f); /* positions 0, 1 (HD/2 = 8) */
	model_release(&m);
	/* max_T is ignored at max_B 0 (checkpoint_load passes max_seq) */
	CHECK_MSG(model_init(&m, &cfg, 0, MAX_SEQ, &e) == 0, "%s", e.msg);
	CHECK(m.max_T == 0 && m.grads_mem == NULL);
	model_release(&m);
	CHECK(model_init(&m, &cfg, -1, 4, &e) == -1 && strstr(e.msg, "cannot size model for batch -1"));
}

/* Tokens, log-probs and every logit the same on both models, with 1 and 2 threads. */
static void test_generate_infer__same_results_as_a_model_with_activations(void)
{
	struct model_config cfg;
	struct model train, infer;
	struct err e = { 0 };
	static struct run a, b, c;
	tiny_config(&cfg);
	CHECK_MSG(model_init(&train, &cfg, NB, 32, &e) == 0, "%s", e.msg);
	CHECK_MSG(model_init(&infer, &cfg, 0, 0, &e) == 0, "%s", e.msg);
	sharpen(&train);
	memcpy(infer.params_mem, train.params_mem, train.num_params * sizeof(float));
	pool_set_threads(1);
	generate(&train, &a);
	generate(&infer, &b);
	pool_set_threads(2);
	generate(&infer, &c);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	CHECK(memcmp(&a, &c, sizeof a) == 0);
	/* the tokens depend on the logits: not every sequence repeats one token */
	int varied = 0;
	for (int s = 0; s < NB; s++)
		for (int t = 1; t < NEW; t++)
			varied += a.tokens[s][t] != a.tokens[s][0];
	CHECK(varied > 0);
	model_release(&train);
	model_release(&infer);
}

/*
 * The prefill runs model_forward's kernels on the same right-padded batch: every
 * cached key and value equals the forward's qkv row bit for bit; the first token's
 * logits (the LM head on one row per sequence) match the forward's at the last
 * prompt position up to rounding.
 */
static void test_generate_infer__prefill_cache_is_model_forward(void)
{
	struct model_config cfg;
	struct model m;
	struct generator g;
	struct gen_request reqs[NB];
	struct gen_result *res[NB];
	struct err e = { 0 };
	static float trace[NB * 264];
	static int padded[NB * 17];
	tiny_config(&cfg);
	const int T = 17, max_len = 17 + NEW, V = 264, HD = 16, NH = 4, KV = 2 * HD, QKV = (NH + 4) * HD;
	CHECK_MSG(model_init(&m, &cfg, NB, T, &e) == 0, "%s", e.msg);
	sharpen(&m);
	make_requests(reqs);
	CHECK_MSG(gen_init(&g, &m, NB, max_len, &e) == 0, "%s", e.msg);
	struct gen_params p = { .sampler = { 1.0f, 0, 1.0f }, .max_new_tokens = 1, .key = 3,
		.trace_logits = trace };
	CHECK_MSG(gen_run(&g, reqs, NB, &p, res, &e) == 0, "%s", e.msg);
	for (int b = 0; b < NB; b++)
		for (int t = 0; t < T; t++)
			padded[b * T + t] = t < lens[b] ? prompts[b][t] : prompts[b][0];
	model_forward(&m, &(struct model_batch){ .B = NB, .T = T, .tokens = padded, .lengths = lens });
	int cached = 0;
	for (int l = 0; l < cfg.n_layers; l++)
		for (int b = 0; b < NB; b++)
			for (int t = 0; t < lens[b]; t++) {
				const float *row = m.act.layers[l].qkv + ((size_t)b * T + t) * QKV;
				size_t at = (((size_t)l * NB + b) * max_len + t) * KV;
				CHECK(memcmp(g.kcache + at, row + NH * HD, sizeof(float) * KV) == 0);
				CHECK(memcmp(g.vcache + at, row + NH * HD + KV, sizeof(float) * KV) == 0);
				cached++;
			}
	CHECK(cached == 2 * (3 + 9 + 1 + 17 + 6));
	float worst = 0, *full = malloc(sizeof(float) * V);
	CHECK(full);
	for (int b = 0; b < NB; b++) {
		model_logits(&m, b * T + lens[b] - 1, 1, full);
		for (int v = 0; v < V; v++) {
			float d = fabsf(trace[(size_t)b * V + v] - full[v]) / (1.0f + fabsf(full[v]));
			worst = d > worst ? d : worst;
		}
	}
	free(full);
	CHECK_MSG(worst < 1e-5f, "first-token logits differ from model_forward's by %g", worst);
	gen_release(&g);
	model_release(&m);
}

/* Without activations, the prompt bound is max_len - 1: no model max_T caps it. */
static void test_generate_infer__prompts_up_to_max_len(void)
{
	struct model_config cfg;
	struct model m;
	struct generator g;
	struct gen_result *res[1];
	struct err e = { 0 };
	static int prompt[MAX_SEQ];
	tiny_config(&cfg);
	CHECK_MSG(model_init(&m, &cfg, 0, 0, &e) == 0, "%s", e.msg);
	sharpen(&m);
	CHECK_MSG(gen_init(&g, &m, 2, MAX_SEQ, &e) == 0, "%s", e.msg);
	CHECK(g.max_prompt == MAX_SEQ - 1);
	for (int t = 0; t < MAX_SEQ; t++)
		prompt[t] = (t * 13) % 264;
	struct gen_params p = { .sampler = { 1.0f, 0, 1.0f }, .max_new_tokens = 4, .key = 1 };
	struct gen_request r = { prompt, MAX_SEQ - 1, 0 };
	CHECK_MSG(gen_run(&g, &r, 1, &p, res, &e) == 0, "%s", e.msg);
	CHECK(res[0]->n == 1 && res[0]->finish == GEN_FINISH_LENGTH);
	r.prompt_len = MAX_SEQ;
	CHECK(gen_run(&g, &r, 1, &p, res, &e) == -1);
	CHECK_MSG(strstr(e.msg, "prompt 0 has 64 tokens: at most 63 fit"), "%s", e.msg);
	gen_release(&g);
	model_release(&m);
}

/* model_resize keeps the parameters: grown, its forward is a fresh model's; shrunk
 * back, it generates as before and holds no gradients. */
static void test_generate_infer__resize_keeps_the_parameters(void)
{
	struct model_config cfg;
	struct model m, fresh;
	struct err e = { 0 };
	static struct run before, after;
	static int tokens[2 * 8];
	tiny_config(&cfg);
	CHECK_MSG(model_init(&m, &cfg, 0, 0, &e) == 0, "%s", e.msg);
	sharpen(&m);
	generate(&m, &before);
	CHECK(model_resize(&m, 2, MAX_SEQ + 1, false, &e) == -1 && strstr(e.msg, "max_seq 64"));
	CHECK(m.max_B == 0 && m.grads_mem == NULL); /* unchanged */
	CHECK_MSG(model_resize(&m, 2, 8, false, &e) == 0, "%s", e.msg);
	CHECK(m.max_B == 2 && m.max_T == 8 && m.grads_mem);
	for (size_t i = 0; i < m.num_params; i++)
		CHECK(m.grads_mem[i] == 0.0f);
	CHECK_MSG(model_init(&fresh, &cfg, 2, 8, &e) == 0, "%s", e.msg);
	memcpy(fresh.params_mem, m.params_mem, m.num_params * sizeof(float));
	for (int i = 0; i < 16; i++)
		tokens[i] = (i * 29 + 3) % 264;
	struct model_batch batch = { .B = 2, .T = 8, .tokens = tokens };
	model_forward(&m, &batch);
	model_forward(&fresh, &batch);
	static float la[2 * 8 * 264], lb[2 * 8 * 264];
	model_logits(&m, 0, 16, la);
	model_logits(&fresh, 0, 16, lb);
	CHECK(memcmp(la, lb, sizeof la) == 0);
	CHECK(m.grads.layers[1].wd == m.grads_mem + (m.params.layers[1].wd - m.params_mem));
	CHECK_MSG(model_resize(&m, 0, 0, false, &e) == 0, "%s", e.msg);
	CHECK(m.max_B == 0 && m.grads_mem == NULL && m.num_acts == (size_t)MAX_SEQ * 16);
	generate(&m, &after);
	CHECK(memcmp(&before, &after, sizeof before) == 0);
	model_release(&fresh);
	model_release(&m);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_generate_infer__inference_only_model_has_no_training_buffers),
		TEST(test_generate_infer__same_results_as_a_model_with_activations),
		TEST(test_generate_infer__prefill_cache_is_model_forward),
		TEST(test_generate_infer__prompts_up_to_max_len),
		TEST(test_generate_infer__resize_keeps_the_parameters),
		{ 0 },
	});
}
