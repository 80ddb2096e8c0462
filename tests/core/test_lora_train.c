/*
 * test_lora_train — LoRA adapters (core/lora.h) through the training path: a tiny model's adapters
 * learn a fixed batch while its weights stay frozen.
 *
 *   train_frozen_base    30 AdamW steps on the adapters (all seven targets) lower the
 *                        loss by > 0.3 nats (measured 0.53); the base weights after
 *                        them are bit for bit the weights before and the model's
 *                        gradients stay zero (model_backward computes none with
 *                        adapters attached); 1 and 2 threads end with the same
 *                        adapters, bit for bit
 *   init_as_peft         A uniform within ±1/√in and not all zero, B zero: the adapted
 *                        model starts equal to the base (same logits)
 *   merge                lora_merge == W + (alpha/rank)·B·A computed by hand in
 *                        double, and the merged model's logits equal the adapted ones
 *   generate             decode steps (KV cache) apply the adapters: their logits equal
 *                        the full adapted forward's and differ from the base's
 *   blobs_round_trip     lora_write_mem / lora_read and lora_state_write_mem /
 *                        lora_state_read give back the same numbers; a state of other
 *                        targets is refused naming them; lora_num_params agrees
 */
#include "test.h"

#include <math.h>

#include "generate.h"
#include "lora.h"
#include "loss.h"
#include "optim.h"
#include "pool.h"

enum { B = 3, T = 12, V = 264 }; /* the byte vocabulary: its special ids are in range */

static struct model_config small_config(void)
{
	struct model_config c;
	config_defaults(&c);
	c.vocab = V; c.dim = 32; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.ffn = 48;
	c.max_seq = 32; c.head_dim = 12; /* heads x head_dim 48 != dim: in and out widths differ */
	return c;
}

static void make_batch(int *tokens, int *targets, float *w, int *lengths)
{
	float mask[B * T];
	for (int b = 0; b < B; b++) {
		lengths[b] = T - 2 * b;
		for (int t = 0; t < T; t++) {
			tokens[b * T + t] = (7 * b + 3 * t + 1) % V;
			targets[b * T + t] = (7 * b + 3 * t + 4) % V;
			mask[b * T + t] = t < lengths[b];
		}
	}
	loss_weights(w, mask, B, T, LOSS_AGG_TOKEN_MEAN, 0, 0, 0);
}

static void setup(struct model *m, struct lora *lo, unsigned targets)
{
	struct model_config c = small_config();
	struct err e = { 0 };
	CHECK_MSG(model_init(m, &c, B, T, &e) == 0, "%s", e.msg);
	model_init_weights(m, 11);
	struct lora_config lc = { .rank = 4, .alpha = 8.0f, .targets = targets };
	CHECK_MSG(lora_init(lo, &c, &lc, &e) == 0, "%s", e.msg);
	lora_init_weights(lo, 5);
	CHECK_MSG(lora_attach(lo, m, &e) == 0, "%s", e.msg);
}

static void teardown(struct model *m, struct lora *lo)
{
	m->lora = NULL;
	model_release(m);
	lora_release(lo);
}

/* Train the adapters `steps` steps; the final adapters into out (lo->p.num_params). */
static void train(int threads, int steps, float *out, double *first, double *last)
{
	pool_set_threads(threads);
	struct model m;
	struct lora lo;
	struct err e = { 0 };
	setup(&m, &lo, LORA_ALL_TARGETS);
	CHECK(model_alloc_optimizer(&lo.p, &e) == 0);
	float *base = malloc(m.num_params * sizeof *base);
	CHECK(base);
	memcpy(base, m.params_mem, m.num_params * sizeof *base);
	int tokens[B * T], targets[B * T], lengths[B];
	float w[B * T];
	make_batch(tokens, targets, w, lengths);
	struct model_batch batch = { .B = B, .T = T, .tokens = tokens, .lengths = lengths };
	struct adamw_params ap;
	adamw_defaults(&ap);
	ap.lr = 1e-2f;
	struct loss_stats st;
	for (int s = 0; s < steps; s++) {
		model_zero_grad(&m);
		lora_zero_grad(&lo);
		model_forward(&m, &batch);
		loss_cross_entropy(&m, targets, w, &st);
		model_backward(&m, &batch);
		grad_clip(&lo.p, 1.0);
		adamw_step(&lo.p, &ap, s + 1);
		if (s == 0)
			*first = st.loss;
	}
	*last = st.loss;
	CHECK_MSG(memcmp(base, m.params_mem, m.num_params * sizeof *base) == 0,
		"the base weights changed while the adapters trained");
	for (size_t i = 0; i < m.num_params; i++) /* frozen: no base gradient is computed */
		CHECK_MSG(m.grads_mem[i] == 0.0f, "base gradient %zu is %g with adapters attached", i,
			m.grads_mem[i]);
	memcpy(out, lo.p.params_mem, lo.p.num_params * sizeof *out);
	free(base);
	teardown(&m, &lo);
}

static void test_lora__train_frozen_base(void)
{
	struct model_config c = small_config();
	struct lora_config lc = { .rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS };
	size_t n = lora_num_params(&c, &lc);
	float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
	CHECK(a && b);
	double f1, l1, f2, l2;
	train(1, 30, a, &f1, &l1);
	train(2, 30, b, &f2, &l2);
	printf("  loss %.4f -> %.4f over 30 adapter steps\n", f1, l1);
	/* the frozen head (N(0, 0.02)) keeps logits small: a drop of 0.3 nats is learning */
	CHECK_MSG(l1 < f1 - 0.3, "the adapters did not learn: loss %g -> %g", f1, l1);
	CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "1 and 2 threads trained other adapters");
	CHECK(f1 == f2 && l1 == l2);
	free(a);
	free(b);
	pool_set_threads(0);
}

static void test_lora__init_as_peft(void)
{
	struct model m;
	struct lora lo;
	setup(&m, &lo, LORA_ALL_TARGETS);
	int nonzero = 0;
	for (int i = 0; i < lo.p.n_tensors; i++) {
		const struct model_tensor *t = &lo.p.tensors[i];
		const float *p = lo.p.params_mem + t->offset;
		int is_b = strstr(t->name, ".lora_B.") != NULL;
		float bound = 1.0f / sqrtf((float)t->shape[1]);
		for (size_t j = 0; j < t->numel; j++) {
			CHECK_MSG(is_b ? p[j] == 0.0f : fabsf(p[j]) <= bound, "%s[%zu] = %g", t->name, j, p[j]);
			nonzero += p[j] != 0.0f;
		}
	}
	CHECK(nonzero > 0);
	int tokens[B * T], targets[B * T], lengths[B];
	float w[B * T];
	make_batch(tokens, targets, w, lengths);
	struct model_batch batch = { .B = B, .T = T, .tokens = tokens, .lengths = lengths };
	size_t nl = (size_t)B * T * V;
	float *with = malloc(nl * sizeof *with);
	CHECK(with);
	float *without = malloc(nl * sizeof *without);
	CHECK(without);
	model_forward(&m, &batch);
	model_logits(&m, 0, B * T, with);
	m.lora = NULL;
	model_forward(&m, &batch);
	model_logits(&m, 0, B * T, without);
	CHECK_MSG(memcmp(with, without, nl * sizeof *with) == 0,
		"fresh adapters (B = 0) change the logits");
	free(with);
	free(without);
	teardown(&m, &lo);
}

/* Fill B with a fixed pattern: adapters that change the model. */
static void nonzero_b(struct lora *lo)
{
	for (int i = 0; i < lo->p.n_tensors; i++) {
		const struct model_tensor *t = &lo->p.tensors[i];
		if (strstr(t->name, ".lora_B."))
			for (size_t j = 0; j < t->numel; j++)
				lo->p.params_mem[t->offset + j] = 0.05f * (float)((int)((j * 37 + (size_t)i) % 11) - 5);
	}
}

static void test_lora__merge(void)
{
	struct model m;
	struct lora lo;
	setup(&m, &lo, 1u << LORA_K | 1u << LORA_O | 1u << LORA_UP | 1u << LORA_DOWN);
	nonzero_b(&lo); /* so the merge has something to add */
	int tokens[B * T], targets[B * T], lengths[B];
	float w[B * T];
	make_batch(tokens, targets, w, lengths);
	struct model_batch batch = { .B = B, .T = T, .tokens = tokens, .lengths = lengths };
	size_t nl = (size_t)B * T * V;
	float *adapted = malloc(nl * sizeof *adapted), *merged = malloc(m.num_params * sizeof *merged);
	CHECK(adapted && merged);
	model_forward(&m, &batch);
	model_logits(&m, 0, B * T, adapted);
	memcpy(merged, m.params_mem, m.num_params * sizeof *merged);
	lora_merge(&lo, &m, merged);
	static const char *const mods[] = { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
		"self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" };
	double worst = 0;
	int changed = 0;
	for (int l = 0; l < 2; l++)
		for (int t = 0; t < LORA_NTARGETS; t++) {
			char name[MODEL_TENSOR_NAME_MAX], an[MODEL_TENSOR_NAME_MAX], bn[MODEL_TENSOR_NAME_MAX];
			snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, mods[t]);
			snprintf(an, sizeof an, "base_model.model.model.layers.%d.%s.lora_A.weight", l, mods[t]);
			snprintf(bn, sizeof bn, "base_model.model.model.layers.%d.%s.lora_B.weight", l, mods[t]);
			const struct model_tensor *wt = model_find_tensor(&m, name);
			const struct model_tensor *at = model_find_tensor(&lo.p, an), *bt = model_find_tensor(&lo.p, bn);
			CHECK(wt && !at == !bt && !at == !(lo.cfg.targets & (1u << t)));
			int out = wt->shape[0], in = wt->shape[1];
			for (int o = 0; o < out; o++)
				for (int i = 0; i < in; i++) {
					double want = m.params_mem[wt->offset + (size_t)o * in + i];
					for (int k = 0; at && k < 4; k++)
						want += 2.0 * lo.p.params_mem[bt->offset + (size_t)o * 4 + k] *
							lo.p.params_mem[at->offset + (size_t)k * in + i];
					double got = merged[wt->offset + (size_t)o * in + i];
					worst = fmax(worst, fabs(got - want));
					changed += got != m.params_mem[wt->offset + (size_t)o * in + i];
				}
		}
	printf("  merged weights vs W + s·B·A in double: max abs diff %.2e (%d entries moved)\n",
		worst, changed);
	CHECK(worst < 1e-6 && changed > 0);
	/* the merged weights, no adapters: the adapted model's logits */
	memcpy(m.params_mem, merged, m.num_params * sizeof *merged);
	m.lora = NULL;
	model_forward(&m, &batch);
	float *plain = malloc(nl * sizeof *plain);
	CHECK(plain);
	model_logits(&m, 0, B * T, plain);
	double d = 0;
	for (size_t i = 0; i < nl; i++)
		d = fmax(d, fabs((double)plain[i] - adapted[i]));
	free(plain);
	printf("  logits merged vs adapted: max abs diff %.2e\n", d);
	CHECK(d < 1e-4);
	free(adapted);
	free(merged);
	teardown(&m, &lo);
}

/* The generator's decode steps apply the adapters too: every generated token's logits
 * (KV cache, one row per step) equal the full adapted forward over prompt + generated
 * tokens, and differ from the base model's. */
static void test_lora__generate(void)
{
	enum { NB = 2, PLEN = 3, NEW = 8 };
	struct model m;
	struct lora lo;
	struct err e = { 0 };
	setup(&m, &lo, LORA_ALL_TARGETS);
	nonzero_b(&lo);
	m.cfg.eos_id = -1; /* no early stop: every sequence generates NEW tokens */
	struct generator g;
	CHECK_MSG(gen_init(&g, &m, NB, PLEN + NEW, &e) == 0, "%s", e.msg);
	int prompts[NB][PLEN] = { { 1, 20, 30 }, { 2, 40, 7 } };
	struct gen_request reqs[NB] = { { prompts[0], PLEN, 0 }, { prompts[1], PLEN, 1 } };
	float *trace = calloc((size_t)NB * NEW * V, sizeof(float));
	CHECK(trace);
	struct gen_params p = { .sampler = { .temperature = 0, .top_p = 1 }, .max_new_tokens = NEW,
		.key = 3, .trace_logits = trace };
	struct gen_result *res[NB];
	CHECK_MSG(gen_run(&g, reqs, NB, &p, res, &e) == 0, "%s", e.msg);
	int tokens[NB * T] = { 0 }, lengths[NB];
	for (int b = 0; b < NB; b++) {
		CHECK(res[b]->n == NEW);
		lengths[b] = PLEN + NEW - 1;
		for (int t = 0; t < lengths[b]; t++)
			tokens[b * T + t] = t < PLEN ? prompts[b][t] : res[b]->tokens[t - PLEN];
	}
	struct model_batch batch = { .B = NB, .T = T, .tokens = tokens, .lengths = lengths };
	double worst = 0, moved = 0;
	float *full = malloc((size_t)NB * T * V * sizeof *full);
	CHECK(full);
	for (int pass = 0; pass < 2; pass++) {
		m.lora = pass == 0 ? &lo : NULL;
		model_forward(&m, &batch);
		model_logits(&m, 0, NB * T, full);
		for (int b = 0; b < NB; b++)
			for (int j = 0; j < NEW; j++)
				for (int v = 0; v < V; v++) {
					double d = fabs((double)trace[((size_t)b * NEW + j) * V + v] -
						full[((size_t)b * T + PLEN - 1 + j) * V + v]);
					if (pass == 0)
						worst = fmax(worst, d);
					else
						moved = fmax(moved, d);
				}
	}
	printf("  decode with adapters vs full adapted forward: max |logit diff| %.2e; vs the base %.2e\n",
		worst, moved);
	CHECK(worst <= 1e-4 && moved > 1e-2);
	free(full);
	free(trace);
	gen_release(&g);
	m.lora = &lo;
	teardown(&m, &lo);
}

static void test_lora__blobs_round_trip(void)
{
	struct model m;
	struct lora lo, back;
	struct err e = { 0 };
	unsigned targets = 1u << LORA_Q | 1u << LORA_V | 1u << LORA_GATE;
	setup(&m, &lo, targets);
	struct model_config c = small_config();
	CHECK(lora_num_params(&c, &lo.cfg) == lo.p.num_params);
	CHECK(model_alloc_optimizer(&lo.p, &e) == 0);
	for (size_t i = 0; i < lo.p.num_params; i++) {
		lo.p.m_mem[i] = (float)i * 1e-3f;
		lo.p.v_mem[i] = (float)i * 1e-4f;
	}
	void *bytes;
	size_t size;
	CHECK_MSG(lora_write_mem(&lo, &bytes, &size, &e) == 0, "%s", e.msg);
	CHECK(lora_init(&back, &c, &lo.cfg, &e) == 0);
	CHECK_MSG(lora_read(&back, bytes, size, "adapters", &e) == 0, "%s", e.msg);
	CHECK(memcmp(back.p.params_mem, lo.p.params_mem, lo.p.num_params * sizeof(float)) == 0);
	free(bytes);
	lora_release(&back);

	long step = 0;
	CHECK_MSG(lora_state_write_mem(&lo, 17, &bytes, &size, &e) == 0, "%s", e.msg);
	struct lora_config sc;
	CHECK(lora_state_config(bytes, size, "state", &sc, &e) == 0);
	CHECK(sc.rank == 4 && sc.alpha == 8.0f && sc.targets == targets);
	CHECK(lora_init(&back, &c, &lo.cfg, &e) == 0);
	CHECK_MSG(lora_state_read(&back, bytes, size, "state", &step, &e) == 0, "%s", e.msg);
	CHECK(step == 17);
	CHECK(memcmp(back.p.params_mem, lo.p.params_mem, lo.p.num_params * sizeof(float)) == 0);
	CHECK(memcmp(back.p.m_mem, lo.p.m_mem, lo.p.num_params * sizeof(float)) == 0);
	CHECK(memcmp(back.p.v_mem, lo.p.v_mem, lo.p.num_params * sizeof(float)) == 0);
	lora_release(&back);
	/* a state of other targets is another layout: refused */
	struct lora_config other = { .rank = 4, .alpha = 8.0f, .targets = targets | 1u << LORA_O };
	CHECK(lora_init(&back, &c, &other, &e) == 0);
	e = (struct err){ 0 };
	CHECK(lora_state_read(&back, bytes, size, "state", &step, &e) < 0);
	CHECK_MSG(strstr(e.msg, "other targets") != NULL, "%s", e.msg);
	/* adapters bytes are not a state */
	lora_release(&back);
	free(bytes);
	CHECK(lora_write_mem(&lo, &bytes, &size, &e) == 0);
	e = (struct err){ 0 };
	CHECK(lora_state_config(bytes, size, "adapters", &sc, &e) < 0);
	CHECK_MSG(strstr(e.msg, "is not a lora state") != NULL, "%s", e.msg);
	free(bytes);
	teardown(&m, &lo);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_lora__train_frozen_base),
		TEST(test_lora__init_as_peft),
		TEST(test_lora__merge),
		TEST(test_lora__generate),
		TEST(test_lora__blobs_round_trip),
		{ 0 },
	});
}
