/*
 * Finite-difference gradient checks: each kernel's backward against central
 * differences of a random linear functional of its forward, then the whole model
 * for the cross-entropy and the GRPO losses (tied and untied heads, GQA, padding),
 * and the GRPO loss of Qwen2 (q/k/v biases) and Qwen3 (q/k norms, head_dim 6 so
 * heads x head_dim is not the width, llama3 rope scaling) configs; the model's LM
 * head runs in chunks of 3 rows (head.h), so the chunked gradient is what is checked.
 * Float32 differences are noisy, so tolerances are relative to the gradient's scale.
 */
#include "test.h"

#include <stdint.h>

#include "loss.h"
#include "model.h"
#include "ops.h"
#include "pool.h"
#include "rng.h"

static void fill_normal(float *x, size_t n, float std, uint64_t key)
{
	struct rng r;
	rng_init(&r, key);
	for (size_t i = 0; i < n; i++)
		x[i] = std * rng_normal(&r);
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* Compare analytic vs numeric gradient arrays; returns max |diff| / scale. */
static double grad_error(const char *what, const float *ana, const double *num, size_t n)
{
	double scale = 1e-3, worst = 0;
	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(num[i]));
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(ana[i] - num[i]) / scale);
	printf("  %-28s max |diff| / max |grad| = %.2e (n=%zu)\n", what, worst, n);
	return worst;
}

/* ---- kernels: y = f(x); L = Σ r·y; check dL/dx and dL/dw ------------------------ */

enum { N_ = 6, C_ = 8 };

static void test_gradcheck__rmsnorm(void)
{
	float x[N_ * C_], w[C_], r[N_ * C_], y[N_ * C_], rstd[N_], dx[N_ * C_] = { 0 }, dw[C_] = { 0 };
	double nx[N_ * C_], nw[C_];
	fill_normal(x, N_ * C_, 1.0f, 1);
	fill_normal(w, C_, 1.0f, 2);
	fill_normal(r, N_ * C_, 1.0f, 3);
	rmsnorm_forward(y, rstd, x, w, N_, C_, 1e-5f);
	rmsnorm_backward(dx, dw, r, x, w, rstd, N_, C_);
	const float h = 1e-2f;
	for (int i = 0; i < N_ * C_; i++) {
		float s = x[i];
		x[i] = s + h; rmsnorm_forward(y, rstd, x, w, N_, C_, 1e-5f); double lp = dot(r, y, N_ * C_);
		x[i] = s - h; rmsnorm_forward(y, rstd, x, w, N_, C_, 1e-5f); double lm = dot(r, y, N_ * C_);
		x[i] = s;
		nx[i] = (lp - lm) / (2 * h);
	}
	for (int i = 0; i < C_; i++) {
		float s = w[i];
		w[i] = s + h; rmsnorm_forward(y, rstd, x, w, N_, C_, 1e-5f); double lp = dot(r, y, N_ * C_);
		w[i] = s - h; rmsnorm_forward(y, rstd, x, w, N_, C_, 1e-5f); double lm = dot(r, y, N_ * C_);
		w[i] = s;
		nw[i] = (lp - lm) / (2 * h);
	}
	CHECK(grad_error("rmsnorm dx", dx, nx, N_ * C_) < 1e-3);
	CHECK(grad_error("rmsnorm dw", dw, nw, C_) < 1e-3);
}

static void test_gradcheck__swiglu(void)
{
	enum { F = 5 };
	float gu[N_ * 2 * F], hh[N_ * F], r[N_ * F], dgu[N_ * 2 * F];
	double ngu[N_ * 2 * F];
	fill_normal(gu, N_ * 2 * F, 2.0f, 4);
	fill_normal(r, N_ * F, 1.0f, 5);
	swiglu_backward(dgu, r, gu, N_, F);
	const float h = 1e-2f;
	for (int i = 0; i < N_ * 2 * F; i++) {
		float s = gu[i];
		gu[i] = s + h; swiglu_forward(hh, gu, N_, F); double lp = dot(r, hh, N_ * F);
		gu[i] = s - h; swiglu_forward(hh, gu, N_, F); double lm = dot(r, hh, N_ * F);
		gu[i] = s;
		ngu[i] = (lp - lm) / (2 * h);
	}
	CHECK(grad_error("swiglu dgu", dgu, ngu, N_ * 2 * F) < 1e-3);
}

static void test_gradcheck__matmul(void)
{
	enum { IC = 7, OC = 5 };
	float x[N_ * IC], w[OC * IC], y[N_ * OC], r[N_ * OC], dx[N_ * IC], dw[OC * IC] = { 0 };
	double nx[N_ * IC], nw[OC * IC];
	fill_normal(x, N_ * IC, 1.0f, 6);
	fill_normal(w, OC * IC, 1.0f, 7);
	fill_normal(r, N_ * OC, 1.0f, 8);
	matmul_backward(dx, dw, r, x, w, N_, IC, OC, 0.0f);
	const float h = 1e-2f;
	for (int i = 0; i < N_ * IC; i++) {
		float s = x[i];
		x[i] = s + h; matmul_forward(y, OC, x, w, N_, IC, OC, 0.0f); double lp = dot(r, y, N_ * OC);
		x[i] = s - h; matmul_forward(y, OC, x, w, N_, IC, OC, 0.0f); double lm = dot(r, y, N_ * OC);
		x[i] = s;
		nx[i] = (lp - lm) / (2 * h);
	}
	for (int i = 0; i < OC * IC; i++) {
		float s = w[i];
		w[i] = s + h; matmul_forward(y, OC, x, w, N_, IC, OC, 0.0f); double lp = dot(r, y, N_ * OC);
		w[i] = s - h; matmul_forward(y, OC, x, w, N_, IC, OC, 0.0f); double lm = dot(r, y, N_ * OC);
		w[i] = s;
		nw[i] = (lp - lm) / (2 * h);
	}
	CHECK(grad_error("matmul dx", dx, nx, N_ * IC) < 1e-3);
	CHECK(grad_error("matmul dw", dw, nw, OC * IC) < 1e-3);
}

/* RoPE then attention, as the model chains them: B 2, T 5, NH 4, NKV 2, HD 4. */
enum { AB = 2, AT = 5, ANH = 4, ANKV = 2, AHD = 4, AQKV = (ANH + 2 * ANKV) * AHD, AC = ANH * AHD };

static void rope_attention(float *out, float *att, const float *qkv_in, float *qkv,
	const float *cs, const float *sn, const int *len)
{
	memcpy(qkv, qkv_in, sizeof(float) * AB * AT * AQKV);
	rope_forward(qkv, cs, sn, AB, AT, ANH, ANKV, AHD);
	attention_forward(out, att, qkv, len, AB, AT, ANH, ANKV, AHD);
}

static void test_gradcheck__rope_attention(void)
{
	static float x[AB * AT * AQKV], qkv[AB * AT * AQKV], out[AB * AT * AC], r[AB * AT * AC];
	static float att[AB * ANH * AT * AT], datt[AB * ANH * AT * AT], dqkv[AB * AT * AQKV];
	static float cs[AT * AHD / 2], sn[AT * AHD / 2];
	static double nq[AB * AT * AQKV];
	int len[AB] = { AT, 3 };
	rope_tables(cs, sn, AT, AHD, 10000.0f, NULL);
	fill_normal(x, AB * AT * AQKV, 1.0f, 9);
	fill_normal(r, AB * AT * AC, 1.0f, 10);
	rope_attention(out, att, x, qkv, cs, sn, len);
	attention_backward(dqkv, datt, r, att, qkv, len, AB, AT, ANH, ANKV, AHD);
	rope_backward(dqkv, cs, sn, AB, AT, ANH, ANKV, AHD);
	for (int t = 3; t < AT; t++) /* padding rows: zero output, zero gradient */
		for (int i = 0; i < AC; i++)
			CHECK(out[(AT + t) * AC + i] == 0.0f);
	const float h = 1e-2f;
	for (int i = 0; i < AB * AT * AQKV; i++) {
		float s = x[i];
		x[i] = s + h; rope_attention(out, att, x, qkv, cs, sn, len); double lp = dot(r, out, AB * AT * AC);
		x[i] = s - h; rope_attention(out, att, x, qkv, cs, sn, len); double lm = dot(r, out, AB * AT * AC);
		x[i] = s;
		nq[i] = (lp - lm) / (2 * h);
	}
	CHECK(grad_error("rope+attention dqkv", dqkv, nq, AB * AT * AQKV) < 2e-3);
}

/* Longer than one 64-row attention block, so the causal block skipping is covered. */
static void test_gradcheck__attention_blocks(void)
{
	enum { B = 1, T = 150, NH = 2, NKV = 1, HD = 4, QKV = (NH + 2 * NKV) * HD, C = NH * HD };
	static float x[B * T * QKV], out[B * T * C], r[B * T * C], att[B * NH * T * T];
	static float datt[B * NH * T * T], dx[B * T * QKV];
	static double num[B * T * QKV];
	int len[B] = { 141 };
	fill_normal(x, B * T * QKV, 1.0f, 15);
	fill_normal(r, B * T * C, 1.0f, 16);
	attention_forward(out, att, x, len, B, T, NH, NKV, HD);
	/* forward against the textbook formula, row by row */
	double worst = 0;
	for (int hh = 0; hh < NH; hh++)
		for (int t = 0; t < len[0]; t++) {
			const float *q = x + t * QKV + hh * HD;
			double w[T], mx = -1e30, sum = 0;
			for (int j = 0; j <= t; j++) {
				w[j] = 0;
				for (int d = 0; d < HD; d++)
					w[j] += (double)q[d] * x[j * QKV + C + d];
				w[j] /= sqrt((double)HD);
				mx = fmax(mx, w[j]);
			}
			for (int j = 0; j <= t; j++)
				sum += (w[j] = exp(w[j] - mx));
			for (int d = 0; d < HD; d++) {
				double y = 0;
				for (int j = 0; j <= t; j++)
					y += w[j] / sum * x[j * QKV + C + NKV * HD + d];
				worst = fmax(worst, fabs(y - out[t * C + hh * HD + d]));
			}
		}
	printf("  attention forward, T 150: max |diff| %.2e\n", worst);
	CHECK(worst < 1e-5);
	attention_backward(dx, datt, r, att, x, len, B, T, NH, NKV, HD);
	const float h = 1e-2f;
	for (int i = 0; i < B * T * QKV; i++) {
		float s = x[i];
		x[i] = s + h; attention_forward(out, att, x, len, B, T, NH, NKV, HD); double lp = dot(r, out, B * T * C);
		x[i] = s - h; attention_forward(out, att, x, len, B, T, NH, NKV, HD); double lm = dot(r, out, B * T * C);
		x[i] = s;
		num[i] = (lp - lm) / (2 * h);
	}
	CHECK(grad_error("attention dqkv, T 150", dx, num, B * T * QKV) < 2e-3);
}

static void test_gradcheck__embedding(void)
{
	enum { V = 5 };
	int tok[N_] = { 1, 3, 1, 0, 4, 1 };
	float e[V * C_], y[N_ * C_], r[N_ * C_], de[V * C_] = { 0 };
	fill_normal(e, V * C_, 1.0f, 11);
	fill_normal(r, N_ * C_, 1.0f, 12);
	embedding_backward(de, r, tok, N_, C_);
	/* L is linear in e: dL/de[v] = Σ_{n: tok n = v} r[n] exactly */
	for (int v = 0; v < V; v++)
		for (int i = 0; i < C_; i++) {
			float want = 0;
			for (int n = 0; n < N_; n++)
				if (tok[n] == v)
					want += r[n * C_ + i];
			CHECK_NEAR(de[v * C_ + i], want, 1e-6);
		}
	embedding_forward(y, tok, e, N_, C_);
	CHECK(memcmp(y + 2 * C_, e + 1 * C_, sizeof(float) * C_) == 0);
}

/* ---- whole model -------------------------------------------------------------- */

enum { MB = 2, MT = 6 };

struct model_case {
	struct model m;
	int tokens[MB * MT], targets[MB * MT], lengths[MB];
	float mask[MB * MT], w[MB * MT], adv[MB * MT], old_lp[MB * MT], ref_lp[MB * MT];
	struct model_batch batch;
	struct grpo_params gp;
	int grpo;
};

static void model_case_init(struct model_case *k, int tied, int grpo, enum model_arch arch)
{
	struct model_config c;
	config_defaults(&c);
	c.vocab = 11; c.dim = 16; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.ffn = 12;
	c.max_seq = 8; c.tied = tied; c.bos_id = 1; c.eos_id = 2; c.pad_id = 0;
	c.arch = arch;
	c.qkv_bias = arch == ARCH_QWEN2;
	c.qk_norm = arch == ARCH_QWEN3;
	if (arch == ARCH_QWEN3) {
		c.head_dim = 6;
		c.rope = (struct rope_scaling){ ROPE_LLAMA3, 4.0f, 1.0f, 4.0f, 8 };
	}
	struct err e = { 0 };
	CHECK_MSG(model_init(&k->m, &c, MB, MT, &e) == 0, "%s", e.msg);
	k->m.head_rows = 3; /* the LM head in several chunks of the counted tokens */
	fill_normal(k->m.params_mem, k->m.num_params, 0.4f, 13);
	for (int i = 0; i < k->m.n_tensors; i++) /* norm gains near 1 */
		if (k->m.tensors[i].ndim == 1)
			for (size_t j = 0; j < k->m.tensors[i].numel; j++)
				k->m.params_mem[k->m.tensors[i].offset + j] += 1.0f;
	k->lengths[0] = MT;
	k->lengths[1] = 4;
	struct rng r;
	rng_init(&r, 14);
	for (int b = 0; b < MB; b++)
		for (int t = 0; t < MT; t++) {
			int n = b * MT + t;
			k->tokens[n] = t < k->lengths[b] ? (int)(rng_u32(&r) % 11) : 0;
			k->targets[n] = (int)(rng_u32(&r) % 11);
			k->mask[n] = t >= 1 && t < k->lengths[b] - 1; /* a prompt token and padding masked out */
			k->adv[n] = b == 0 ? 0.8f : -1.1f;
		}
	k->batch = (struct model_batch){ .B = MB, .T = MT, .tokens = k->tokens, .lengths = k->lengths };
	k->grpo = grpo;
	k->gp = (struct grpo_params){ .eps_low = 0.2f, .eps_high = 0.28f, .beta = 0.1f };
	loss_weights(k->w, k->mask, MB, MT, grpo ? LOSS_AGG_SEQ_MEAN : LOSS_AGG_TOKEN_MEAN, 0, 0, 0);
	if (grpo) { /* old and reference log-probs: the model's own, shifted, some past the clip */
		model_forward(&k->m, &k->batch);
		float lp[MB * MT];
		loss_token_logprobs(&k->m, k->targets, lp);
		for (int n = 0; n < MB * MT; n++) {
			k->old_lp[n] = lp[n] + ((n % 3) - 1) * 0.5f;
			k->ref_lp[n] = lp[n] + ((n % 4) - 1.5f) * 0.3f;
		}
	}
}

static double model_case_loss(struct model_case *k)
{
	struct loss_stats st;
	model_forward(&k->m, &k->batch);
	if (k->grpo)
		loss_grpo(&k->m, k->targets, k->w, k->adv, k->old_lp, k->ref_lp, &k->gp, &st);
	else
		loss_cross_entropy(&k->m, k->targets, k->w, &st);
	return st.loss;
}

static void check_model_arch(int tied, int grpo, enum model_arch arch)
{
	static struct model_case k;
	pool_set_threads(1); /* thousands of tiny forwards: thread hand-offs would dominate */
	model_case_init(&k, tied, grpo, arch);
	model_zero_grad(&k.m);
	model_case_loss(&k);
	model_backward(&k.m, &k.batch);
	size_t n = k.m.num_params;
	/* the analytic gradient, kept: every loss call below runs the head's backward too */
	float *ana = malloc(n * sizeof *ana);
	CHECK(ana);
	memcpy(ana, k.m.grads_mem, n * sizeof *ana);
	double *num = calloc(n, sizeof *num);
	const float h = 3e-3f; /* small enough for O(h²) truncation, large for fp32 noise */
	for (size_t i = 0; i < n; i++) {
		float s = k.m.params_mem[i];
		k.m.params_mem[i] = s + h; double lp = model_case_loss(&k);
		k.m.params_mem[i] = s - h; double lm = model_case_loss(&k);
		k.m.params_mem[i] = s;
		num[i] = (lp - lm) / (2 * h);
	}
	double worst = 0;
	for (int t = 0; t < k.m.n_tensors; t++) {
		const struct model_tensor *tt = &k.m.tensors[t];
		worst = fmax(worst, grad_error(tt->name, ana + tt->offset, num + tt->offset, tt->numel));
	}
	printf("  worst %.2e\n", worst);
	CHECK(worst < 5e-3);
	free(ana);
	free(num);
	model_release(&k.m);
}

static void check_model(int tied, int grpo)
{
	check_model_arch(tied, grpo, ARCH_LLAMA);
}

static void test_gradcheck__model_ce_untied(void) { check_model(0, 0); }
static void test_gradcheck__model_ce_tied(void) { check_model(1, 0); }
static void test_gradcheck__model_grpo_untied(void) { check_model(0, 1); }
static void test_gradcheck__model_grpo_tied(void) { check_model(1, 1); }
static void test_gradcheck__model_grpo_qwen2(void) { check_model_arch(0, 1, ARCH_QWEN2); }
static void test_gradcheck__model_grpo_qwen3(void) { check_model_arch(1, 1, ARCH_QWEN3); }

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_gradcheck__rmsnorm),
		TEST(test_gradcheck__swiglu),
		TEST(test_gradcheck__matmul),
		TEST(test_gradcheck__rope_attention),
		TEST(test_gradcheck__attention_blocks),
		TEST(test_gradcheck__embedding),
		TEST(test_gradcheck__model_ce_untied),
		TEST(test_gradcheck__model_ce_tied),
		TEST(test_gradcheck__model_grpo_untied),
		TEST(test_gradcheck__model_grpo_tied),
		TEST(test_gradcheck__model_grpo_qwen2),
		TEST(test_gradcheck__model_grpo_qwen3),
		{ 0 } });
}
