/*
 * The memory-saving paths of the model against the plain one:
 *   - the LM head in chunks (head.h): a batch cut into chunks of 7 rows gives the
 *     loss, stats, log-probs and gradients of the head in one chunk, within fp32
 *     rounding (the chunked lm_head gradient sums in another order), and the chunked
 *     run is bit-identical with 1 and 2 threads;
 *   - activation checkpointing (model_resize's checkpoint): the same gradients and
 *     stats bit for bit as without it, with 1 and 2 threads, over two micro-batches
 *     of different shapes, for Llama, Qwen2 (q/k/v biases) and Qwen3 (q/k norms,
 *     head_dim 24) configs; and its activation buffer is smaller.
 */
#include "test.h"

#include <math.h>

#include "head.h"
#include "loss.h"
#include "pool.h"
#include "rng.h"

enum { B = 4, T = 40, V = 300 };

static const int lengths[B] = { 40, 33, 21, 9 };

struct batch {
	int tokens[B * T], targets[B * T];
	float w[B * T], adv[B * T], old_lp[B * T], ref_lp[B * T];
};

struct run {
	struct loss_stats st;
	float lp[B * T];       /* loss_token_logprobs before the loss */
	float *grads;          /* num_params */
	size_t n;
	size_t num_acts;
};

static void model_of(struct model *m, enum model_arch arch)
{
	struct model_config c;
	config_defaults(&c);
	c.vocab = V; c.dim = 64; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.ffn = 128;
	c.max_seq = T; c.bos_id = 1; c.eos_id = 2; c.pad_id = 0;
	c.arch = arch;
	c.qkv_bias = arch == ARCH_QWEN2;
	c.qk_norm = arch == ARCH_QWEN3;
	c.head_dim = arch == ARCH_QWEN3 ? 24 : 0;
	struct err e = { 0 };
	CHECK_MSG(model_init(m, &c, B, T, &e) == 0, "%s", e.msg);
	model_init_weights(m, 5);
	/* larger than init's 0.02, so that logits are far from uniform and biases and
	 * norms are not at their identity values */
	struct rng r;
	rng_init(&r, 6);
	for (size_t i = 0; i < m->num_params; i++)
		m->params_mem[i] += 0.08f * rng_normal(&r);
}

static void batch_fill(struct batch *bt)
{
	struct rng r;
	rng_init(&r, 8);
	float mask[B * T];
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			int n = b * T + t;
			bt->tokens[n] = t < lengths[b] ? 3 + (int)(rng_u32(&r) % (V - 3)) : 0;
			bt->targets[n] = 3 + (int)(rng_u32(&r) % (V - 3));
			mask[n] = t >= 2 && t < lengths[b] - 1; /* a prompt and the padding out */
			bt->adv[n] = b % 2 ? 0.7f : -1.2f;
		}
	loss_weights(bt->w, mask, B, T, LOSS_AGG_SEQ_MEAN, 0, 0, 0);
}

/* zero_grad, forward, log-probs, the loss (GRPO or CE), backward; the result in r. */
static void step(struct model *m, struct batch *bt, int grpo, struct run *r)
{
	struct model_batch mb = { .B = B, .T = T, .tokens = bt->tokens, .lengths = lengths };
	model_zero_grad(m);
	model_forward(m, &mb);
	loss_token_logprobs(m, bt->targets, r->lp);
	if (grpo) {
		for (int n = 0; n < B * T; n++) { /* some ratios past the clip */
			bt->old_lp[n] = r->lp[n] + (float)((n % 3) - 1) * 0.4f;
			bt->ref_lp[n] = r->lp[n] + (float)((n % 4) - 1.5f) * 0.3f;
		}
		struct grpo_params gp = { .eps_low = 0.2f, .eps_high = 0.28f, .beta = 0.1f };
		loss_grpo(m, bt->targets, bt->w, bt->adv, bt->old_lp, bt->ref_lp, &gp, &r->st);
	} else {
		loss_cross_entropy(m, bt->targets, bt->w, &r->st);
	}
	model_backward(m, &mb);
	/* a second micro-batch of another shape, accumulated: re-carved activations */
	struct model_batch small = { .B = 2, .T = 17, .tokens = bt->tokens, .lengths = (int[]){ 17, 12 } };
	model_forward(m, &small);
	struct loss_stats st2;
	loss_cross_entropy(m, bt->targets, bt->w, &st2);
	model_backward(m, &small);
	r->st.loss += st2.loss;
	r->n = m->num_params;
	r->grads = malloc(r->n * sizeof(float));
	CHECK(r->grads);
	memcpy(r->grads, m->grads_mem, r->n * sizeof(float));
	r->num_acts = m->num_acts;
}

static void run(enum model_arch arch, int grpo, int head_rows, int checkpoint, int threads,
	struct run *r)
{
	static struct batch bt;
	struct model m;
	pool_set_threads(threads);
	model_of(&m, arch);
	batch_fill(&bt);
	if (checkpoint) {
		struct err e = { 0 };
		CHECK_MSG(model_resize(&m, B, T, true, &e) == 0, "%s", e.msg);
	}
	if (head_rows)
		m.head_rows = head_rows;
	step(&m, &bt, grpo, r);
	model_release(&m);
}

static int same_run(const struct run *a, const struct run *b)
{
	return a->n == b->n && !memcmp(a->grads, b->grads, a->n * sizeof(float)) &&
		!memcmp(a->lp, b->lp, sizeof a->lp) && !memcmp(&a->st, &b->st, sizeof a->st);
}

static double rel_diff(const float *a, const float *b, size_t n)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - b[i]));
		s = fmax(s, fabs((double)b[i]));
	}
	return s > 0 ? d / s : d;
}

static void check_chunks(enum model_arch arch, int grpo)
{
	struct run one, chunked, chunked2;
	run(arch, grpo, 0, 0, 1, &one);
	CHECK(head_chunk_rows(V) >= B * T); /* the default: one chunk for this batch */
	run(arch, grpo, 7, 0, 1, &chunked);
	run(arch, grpo, 7, 0, 2, &chunked2);
	double dg = rel_diff(chunked.grads, one.grads, one.n), dlp = rel_diff(chunked.lp, one.lp, B * T);
	printf("  %s %s: chunks of 7 vs one: loss %.9g vs %.9g, grads %.2e, log-probs %.2e (relative)\n",
		config_arch_name(arch), grpo ? "grpo" : "ce", chunked.st.loss, one.st.loss, dg, dlp);
	CHECK(fabs(chunked.st.loss - one.st.loss) <= 1e-6 * fabs(one.st.loss));
	CHECK(fabs(chunked.st.entropy - one.st.entropy) <= 1e-6 * one.st.entropy);
	CHECK(chunked.st.tokens == one.st.tokens && chunked.st.clip_frac == one.st.clip_frac);
	CHECK(dg <= 1e-5);
	CHECK(dlp <= 1e-6);
	CHECK_MSG(same_run(&chunked, &chunked2), "chunked head: 1 and 2 threads differ");
	free(one.grads);
	free(chunked.grads);
	free(chunked2.grads);
}

static void test_lowmem__head_chunks_match_one_chunk(void)
{
	check_chunks(ARCH_LLAMA, 0);
	check_chunks(ARCH_LLAMA, 1);
	check_chunks(ARCH_QWEN3, 1);
}

static void check_checkpointing(enum model_arch arch)
{
	for (int threads = 1; threads <= 2; threads++) {
		struct run plain, ckpt;
		run(arch, 1, 7, 0, threads, &plain);
		run(arch, 1, 7, 1, threads, &ckpt);
		printf("  %s, %d thread(s): activations %zu floats, %zu with checkpointing\n",
			config_arch_name(arch), threads, plain.num_acts, ckpt.num_acts);
		CHECK(ckpt.num_acts < plain.num_acts);
		CHECK_MSG(same_run(&plain, &ckpt), "%s: checkpointing changed the gradients",
			config_arch_name(arch));
		free(plain.grads);
		free(ckpt.grads);
	}
}

static void test_lowmem__checkpointing_is_exact(void)
{
	check_checkpointing(ARCH_LLAMA);
	check_checkpointing(ARCH_QWEN2);
	check_checkpointing(ARCH_QWEN3);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_lowmem__head_chunks_match_one_chunk),
		TEST(test_lowmem__checkpointing_is_exact),
		{ 0 } });
}
