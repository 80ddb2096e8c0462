/*
 * test_generate — batched KV-cache generation against the model's own full forward,
 * batch and thread independence, stopping rules, and bad input.
 *
 * The model is small and random (model_init_weights), with its matrices rescaled to
 * 1/sqrt(fan-in) and a larger embedding so that next-token distributions are far
 * from flat: sampled tokens then depend on the logits, and a wrong cache entry or
 * position changes them.
 *
 * EOS is switched off (eos_id = -1, an id never produced) where a test needs every
 * sequence to run to its limit; the tests of stopping set it explicitly.
 */
#include "test.h"

#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "generate.h"
#include "model.h"
#include "pool.h"
#include "rng.h"
#include "tokenizer.h"

#define MAX_B 8
#define MAX_T 48   /* model activations: prompts, and the full-sequence recompute */
#define MAX_SEQ 64
#define NO_EOS (-1)

static void small_model(struct model *m)
{
	struct model_config cfg;
	config_defaults(&cfg); /* V 264: the byte vocab, so stop strings can be tested */
	cfg.dim = 64;
	cfg.n_layers = 2;
	cfg.n_heads = 4;
	cfg.n_kv_heads = 2; /* GQA */
	cfg.ffn = 128;
	cfg.max_seq = MAX_SEQ;
	struct err e = { 0 };
	CHECK_MSG(model_init(m, &cfg, MAX_B, MAX_T, &e) == 0, "%s", e.msg);
	model_init_weights(m, 11);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		if (t->ndim != 2)
			continue;
		/* init is N(0, 0.02): embedding N(0, 1), matrices N(0, 1/fan_in), head 2x that */
		float s = strstr(t->name, "embed") ? 50.0f : 1.0f / (0.02f * sqrtf((float)t->shape[1]));
		if (strstr(t->name, "lm_head"))
			s *= 2.0f;
		float *p = m->params_mem + t->offset;
		for (size_t j = 0; j < t->numel; j++)
			p[j] *= s;
	}
}

/* Prompt j: length len, tokens a fixed function of (j, t), all byte ids 1..255. */
static void make_prompt(int *out, int j, int len)
{
	for (int t = 0; t < len; t++)
		out[t] = 1 + (int)((uint32_t)(j * 7919 + t * 104729 + t * t * 31) % 255u);
}

/* Whether v is among a[0..n-1]. */
static bool memchr_int(const int *a, int n, int v)
{
	for (int i = 0; i < n; i++)
		if (a[i] == v)
			return true;
	return false;
}

struct run {                  /* a copy of one gen_run's results */
	int B;
	int n[MAX_B];
	enum gen_finish finish[MAX_B];
	int tokens[MAX_B][MAX_SEQ];
	float lp[MAX_B][MAX_SEQ], slp[MAX_B][MAX_SEQ];
};

static void copy_run(struct run *r, struct gen_result **res, int B)
{
	memset(r, 0, sizeof *r);
	r->B = B;
	for (int b = 0; b < B; b++) {
		CHECK(res[b]->n >= 1 && res[b]->n <= MAX_SEQ);
		r->n[b] = res[b]->n;
		r->finish[b] = res[b]->finish;
		memcpy(r->tokens[b], res[b]->tokens, sizeof(int) * (size_t)res[b]->n);
		memcpy(r->lp[b], res[b]->logprobs, sizeof(float) * (size_t)res[b]->n);
		memcpy(r->slp[b], res[b]->sample_logprobs, sizeof(float) * (size_t)res[b]->n);
	}
}

static void generate(struct generator *g, const struct gen_request *reqs, int B,
	const struct gen_params *p, struct run *out)
{
	struct gen_result *res[MAX_B];
	struct err e = { 0 };
	CHECK_MSG(gen_run(g, reqs, B, p, res, &e) == 0, "gen_run: %s", e.msg);
	copy_run(out, res, B);
}

/*
 * Sequence a of run x and sequence b of run y are the same tokens and finish, and
 * log-probs within tol: 0 when only the thread count differs (the pool's blocks do
 * not depend on it), 1e-5 across batch compositions (GEMMs of another shape round
 * differently; the tokens must still agree).
 */
static void check_same_seq(const struct run *x, int a, const struct run *y, int b, float tol,
	const char *what)
{
	CHECK_MSG(x->n[a] == y->n[b], "%s: %d tokens vs %d", what, x->n[a], y->n[b]);
	CHECK_MSG(x->finish[a] == y->finish[b], "%s: finish differs", what);
	for (int t = 0; t < x->n[a]; t++) {
		CHECK_MSG(x->tokens[a][t] == y->tokens[b][t], "%s: token %d is %d vs %d", what, t,
			x->tokens[a][t], y->tokens[b][t]);
		CHECK_MSG(fabsf(x->lp[a][t] - y->lp[b][t]) <= tol, "%s: logprob %d is %.9g vs %.9g",
			what, t, x->lp[a][t], y->lp[b][t]);
		CHECK_MSG(fabsf(x->slp[a][t] - y->slp[b][t]) <= tol, "%s: sample logprob %d is %.9g vs %.9g",
			what, t, x->slp[a][t], y->slp[b][t]);
	}
}

static double log_softmax_at(const float *z, int V, int i)
{
	double mx = -INFINITY, sum = 0;
	for (int j = 0; j < V; j++)
		mx = fmax(mx, z[j]);
	for (int j = 0; j < V; j++)
		sum += exp((double)z[j] - mx);
	return (double)z[i] - mx - log(sum);
}

/* ---------------------------------------------------------------- KV cache */

/*
 * Every generated token's logits (trace_logits) against model_forward on the whole
 * sequence prompt + generated[0..j-1], at its last position. The third prompt is long
 * enough to run into the generator's max_len, filling its cache to the end.
 */
static void check_kv_against_full_forward(const struct sampler_params *sp, int threads)
{
	enum { B = 5, MAX_NEW = 20, MAX_LEN = 32 };
	const int plen[B] = { 1, 7, 15, 3, 12 };
	struct model m;
	small_model(&m);
	m.cfg.eos_id = NO_EOS;
	pool_set_threads(threads);
	int V = m.cfg.vocab;
	struct generator g;
	struct err e = { 0 };
	CHECK_MSG(gen_init(&g, &m, MAX_B, MAX_LEN, &e) == 0, "%s", e.msg);
	int prompts[B][MAX_LEN];
	struct gen_request reqs[B];
	for (int b = 0; b < B; b++) {
		make_prompt(prompts[b], b, plen[b]);
		reqs[b] = (struct gen_request){ prompts[b], plen[b], (uint64_t)b };
	}
	float *trace = calloc((size_t)B * MAX_NEW * V, sizeof(float));
	CHECK(trace);
	struct gen_params p = { .sampler = *sp, .max_new_tokens = MAX_NEW, .key = 99, .trace_logits = trace };
	struct run r;
	generate(&g, reqs, B, &p, &r);

	/* full sequences, right-padded; the last generated token is never an input */
	int T = 0, lengths[B], *tokens = calloc((size_t)B * MAX_T, sizeof(int));
	CHECK(tokens);
	for (int b = 0; b < B; b++) {
		lengths[b] = plen[b] + r.n[b] - 1;
		CHECK(lengths[b] <= MAX_T);
		T = lengths[b] > T ? lengths[b] : T;
	}
	for (int b = 0; b < B; b++)
		for (int t = 0; t < lengths[b]; t++)
			tokens[b * T + t] = t < plen[b] ? prompts[b][t] : r.tokens[b][t - plen[b]];
	model_forward(&m, &(struct model_batch){ .B = B, .T = T, .tokens = tokens, .lengths = lengths });
	float *logits = malloc(sizeof(float) * (size_t)B * T * V);
	CHECK(logits);
	model_logits(&m, 0, B * T, logits);

	double worst = 0, worst_lp = 0;
	int distinct = 0;
	for (int b = 0; b < B; b++) {
		for (int j = 0; j < r.n[b]; j++) {
			const float *kv = trace + ((size_t)b * MAX_NEW + j) * V;
			const float *full = logits + ((size_t)b * T + plen[b] - 1 + j) * V;
			for (int v = 0; v < V; v++)
				worst = fmax(worst, fabs((double)kv[v] - full[v]));
			worst_lp = fmax(worst_lp, fabs(r.lp[b][j] - log_softmax_at(full, V, r.tokens[b][j])));
			distinct += j > 0 && r.tokens[b][j] != r.tokens[b][j - 1];
		}
	}
	printf("  %s, %d thread(s): KV-cache vs full forward: max |logit diff| %.2e, max |logprob diff| %.2e, "
		"lengths %d %d %d %d %d\n", sp->temperature > 0 ? "sampled T=1" : "greedy", threads, worst,
		worst_lp, r.n[0], r.n[1], r.n[2], r.n[3], r.n[4]);
	CHECK(worst <= 1e-4);
	CHECK(worst_lp <= 1e-4);
	CHECK(distinct > 10); /* the sequences are not one repeated token */
	/* the long prompt stopped at the generator's length, the others at max_new_tokens */
	for (int b = 0; b < B; b++)
		CHECK(r.finish[b] == GEN_FINISH_LENGTH);
	CHECK(r.n[0] == MAX_NEW && r.n[1] == MAX_NEW && r.n[3] == MAX_NEW);
	CHECK(plen[2] + r.n[2] >= MAX_LEN); /* stopped by max_len (test__length_limits checks the count) */
	free(tokens);
	free(logits);
	free(trace);
	gen_release(&g);
	model_release(&m);
}

static void test_generate__kv_cache_matches_full_forward_sampled(void)
{
	check_kv_against_full_forward(&(struct sampler_params){ 1.0f, 0, 1.0f }, 1);
}

static void test_generate__kv_cache_matches_full_forward_greedy(void)
{
	check_kv_against_full_forward(&(struct sampler_params){ 0.0f, 0, 1.0f }, 2);
}

/* ---------------------------------------------------------------- independence */

#define ACROSS_BATCHES 1e-5f

static void test_generate__batch_and_thread_independence(void)
{
	enum { B = 7, MAX_NEW = 24, MAX_LEN = 48 };
	const int plen[B] = { 3, 9, 1, 14, 6, 2, 11 };
	/* request 5 repeats request 1's prompt with another index; 6 repeats 1 exactly */
	const int prompt_of[B] = { 0, 1, 2, 3, 4, 1, 1 };
	const uint64_t index[B] = { 0, 5, 17, 3, 1ull << 33 | 4, 6, 5 };
	struct model m;
	small_model(&m);
	m.cfg.eos_id = NO_EOS;
	struct generator g;
	struct err e = { 0 };
	CHECK_MSG(gen_init(&g, &m, MAX_B, MAX_LEN, &e) == 0, "%s", e.msg);
	int prompts[B][MAX_LEN];
	struct gen_request reqs[B];
	for (int b = 0; b < B; b++) {
		int len = plen[prompt_of[b]];
		make_prompt(prompts[b], prompt_of[b], len);
		reqs[b] = (struct gen_request){ prompts[b], len, index[b] };
	}
	struct gen_params p = {
		.sampler = { 1.0f, 40, 0.95f }, .max_new_tokens = MAX_NEW, .key = rng_key_str(7, "test_generate"),
	};
	char what[96];

	pool_set_threads(1);
	struct run ref, r;
	generate(&g, reqs, B, &p, &ref);
	for (int b = 0; b < B; b++) {
		CHECK(ref.n[b] == MAX_NEW);
		/* alone */
		generate(&g, &reqs[b], 1, &p, &r);
		snprintf(what, sizeof what, "request %d alone vs in the batch", b);
		check_same_seq(&ref, b, &r, 0, ACROSS_BATCHES, what);
	}
	/* the batch rotated by 3 and reversed: every request in another slot, 2 threads */
	pool_set_threads(2);
	struct gen_request rot[B];
	for (int s = 0; s < B; s++)
		rot[s] = reqs[(B - 1 - s + 3) % B];
	generate(&g, rot, B, &p, &r);
	for (int s = 0; s < B; s++) {
		snprintf(what, sizeof what, "request %d in slot %d, 2 threads", (B - 1 - s + 3) % B, s);
		check_same_seq(&ref, (B - 1 - s + 3) % B, &r, s, ACROSS_BATCHES, what);
	}
	generate(&g, reqs, B, &p, &r);
	for (int b = 0; b < B; b++) {
		snprintf(what, sizeof what, "request %d, batch at 2 threads vs 1", b);
		check_same_seq(&ref, b, &r, b, 0.0f, what);
	}
	generate(&g, &reqs[3], 1, &p, &r);
	check_same_seq(&ref, 3, &r, 0, ACROSS_BATCHES, "request 3 alone at 2 threads");
	struct run alone1;
	pool_set_threads(1);
	generate(&g, &reqs[3], 1, &p, &alone1);
	check_same_seq(&alone1, 0, &r, 0, 0.0f, "request 3 alone at 2 threads vs 1");
	pool_set_threads(2);
	/* a sub-batch of mixed lengths in another order */
	struct gen_request sub[3] = { reqs[4], reqs[0], reqs[3] };
	generate(&g, sub, 3, &p, &r);
	check_same_seq(&ref, 4, &r, 0, ACROSS_BATCHES, "request 4 in a batch of 3");
	check_same_seq(&ref, 0, &r, 1, ACROSS_BATCHES, "request 0 in a batch of 3");
	check_same_seq(&ref, 3, &r, 2, ACROSS_BATCHES, "request 3 in a batch of 3");

	/* the same (prompt, index) in one batch: same tokens; another index: other tokens */
	check_same_seq(&ref, 1, &ref, 6, ACROSS_BATCHES, "requests 1 and 6 (same prompt and index)");
	CHECK(memcmp(ref.tokens[1], ref.tokens[5], sizeof(int) * MAX_NEW) != 0);
	/* another key: other tokens */
	p.key ^= 1;
	pool_set_threads(1);
	generate(&g, reqs, B, &p, &r);
	int differ = 0;
	for (int b = 0; b < B; b++)
		differ += memcmp(ref.tokens[b], r.tokens[b], sizeof(int) * MAX_NEW) != 0;
	CHECK(differ == B);

	/* with EOS on, sequences retire at different steps and the decode batch shrinks */
	p.key ^= 1;
	m.cfg.eos_id = ref.tokens[2][5];
	struct run eos_ref;
	generate(&g, reqs, B, &p, &eos_ref);
	int stopped = 0;
	for (int b = 0; b < B; b++) {
		stopped += eos_ref.finish[b] == GEN_FINISH_STOP;
		generate(&g, &reqs[b], 1, &p, &r);
		snprintf(what, sizeof what, "request %d alone vs in the batch, EOS on", b);
		check_same_seq(&eos_ref, b, &r, 0, ACROSS_BATCHES, what);
	}
	CHECK(eos_ref.n[2] <= 6 && stopped >= 1 && stopped < B);
	gen_release(&g);
	model_release(&m);
}

/* ---------------------------------------------------------------- stopping */

/*
 * How many of run r's tokens of sequence b a generator must emit before the decoded
 * text (generated part only) contains one of `stop`; 0 if it never does.
 */
static int ref_stop_at(const struct run *r, int b, const char *const *stop)
{
	char text[MAX_SEQ * 16];
	size_t len = 0;
	for (int t = 0; t < r->n[b]; t++) {
		len += tok_decode(&r->tokens[b][t], 1, text + len, sizeof text - len);
		for (const char *const *s = stop; *s; s++)
			for (size_t i = 0, k = strlen(*s); i + k <= len; i++)
				if (memcmp(text + i, *s, k) == 0)
					return t + 1;
	}
	return 0;
}

static void check_prefix(const struct run *full, const struct run *r, int b, int n)
{
	CHECK_MSG(r->n[b] == n, "sequence %d: %d tokens, expected %d", b, r->n[b], n);
	CHECK(memcmp(full->tokens[b], r->tokens[b], sizeof(int) * (size_t)n) == 0);
}

struct stop_fixture {
	struct model m;
	struct generator g;
	int prompts[3][16];
	struct gen_request reqs[3];
	struct gen_params p;
	struct run full; /* no stops, EOS off */
};

static void stop_fixture_init(struct stop_fixture *f, float temperature)
{
	struct err e = { 0 };
	small_model(&f->m);
	f->m.cfg.eos_id = NO_EOS;
	CHECK_MSG(gen_init(&f->g, &f->m, MAX_B, 48, &e) == 0, "%s", e.msg);
	const int plen[3] = { 5, 2, 9 };
	for (int b = 0; b < 3; b++) {
		make_prompt(f->prompts[b], b + 10, plen[b]);
		f->reqs[b] = (struct gen_request){ f->prompts[b], plen[b], (uint64_t)(100 + b) };
	}
	f->p = (struct gen_params){ .sampler = { temperature, 0, 1.0f }, .max_new_tokens = 30, .key = 5 };
	generate(&f->g, f->reqs, 3, &f->p, &f->full);
	for (int b = 0; b < 3; b++)
		CHECK(f->full.n[b] == 30 && f->full.finish[b] == GEN_FINISH_LENGTH);
}

static void stop_fixture_release(struct stop_fixture *f)
{
	gen_release(&f->g);
	model_release(&f->m);
}

static void test_generate__stops_at_eos(void)
{
	struct stop_fixture f;
	stop_fixture_init(&f, 1.0f);
	struct run r;
	/* EOS := sequence 0's 7th token, first occurring there */
	int k = 6;
	while (k < 30 && memchr_int(f.full.tokens[0], k, f.full.tokens[0][k]))
		k++;
	CHECK(k < 30);
	f.m.cfg.eos_id = f.full.tokens[0][k];
	generate(&f.g, f.reqs, 3, &f.p, &r);
	check_prefix(&f.full, &r, 0, k + 1);
	CHECK(r.finish[0] == GEN_FINISH_STOP && r.tokens[0][k] == f.m.cfg.eos_id);
	for (int b = 1; b < 3; b++) { /* the others stop at their own first EOS, if any */
		int at = 0;
		while (at < 30 && f.full.tokens[b][at] != f.m.cfg.eos_id)
			at++;
		check_prefix(&f.full, &r, b, at < 30 ? at + 1 : 30);
		CHECK(r.finish[b] == (at < 30 ? GEN_FINISH_STOP : GEN_FINISH_LENGTH));
	}
	/* EOS as the very first token */
	f.m.cfg.eos_id = f.full.tokens[1][0];
	generate(&f.g, &f.reqs[1], 1, &f.p, &r);
	CHECK(r.n[0] == 1 && r.finish[0] == GEN_FINISH_STOP);
	stop_fixture_release(&f);
}

static void test_generate__stops_at_stop_strings(void)
{
	struct stop_fixture f;
	stop_fixture_init(&f, 1.0f);
	struct run r;
	/* two bytes from sequence 2's tokens 10 and 11: a stop string spanning two tokens */
	int j = 10;
	while (j < 28 && !(f.full.tokens[2][j] > 0 && f.full.tokens[2][j] < 256 &&
		f.full.tokens[2][j + 1] > 0 && f.full.tokens[2][j + 1] < 256))
		j++;
	CHECK(j < 28);
	char span[3] = { (char)f.full.tokens[2][j], (char)f.full.tokens[2][j + 1], 0 };
	/* a byte sequence 1 produces late, and one no sequence produces */
	int k = 20;
	while (k < 30 && !(f.full.tokens[1][k] > 0 && f.full.tokens[1][k] < 256))
		k++;
	CHECK(k < 30);
	char late[2] = { (char)f.full.tokens[1][k], 0 };
	/* the prompt's own text never stops a sequence: only generated text counts */
	char in_prompt[4] = { (char)f.prompts[0][1], (char)f.prompts[0][2], (char)f.prompts[0][3], 0 };
	const char *const lists[][4] = {
		{ span, NULL },
		{ late, span, NULL },
		{ "\x01\x02\x03 never", NULL },
		{ in_prompt, NULL },
	};
	for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
		f.p.stop = lists[l];
		generate(&f.g, f.reqs, 3, &f.p, &r);
		for (int b = 0; b < 3; b++) {
			int at = ref_stop_at(&f.full, b, lists[l]);
			check_prefix(&f.full, &r, b, at ? at : 30);
			CHECK_MSG(r.finish[b] == (at ? GEN_FINISH_STOP : GEN_FINISH_LENGTH),
				"stop list %zu, sequence %d", l, b);
		}
	}
	/* the spanning string really stops sequence 2 no later than token j + 1 */
	f.p.stop = lists[0];
	generate(&f.g, f.reqs, 3, &f.p, &r);
	CHECK(r.n[2] <= j + 2 && r.finish[2] == GEN_FINISH_STOP);
	stop_fixture_release(&f);
}

/*
 * A stop string completed by the multi-byte special token "</answer>". Greedy
 * decoding picks the argmax, so swapping two rows of the (untied) LM head swaps
 * those two tokens' logits: after swapping token a's row with </answer>'s, the
 * model emits </answer> exactly where it used to emit a for the first time.
 */
static void test_generate__stop_string_completed_by_special_token(void)
{
	struct stop_fixture f;
	stop_fixture_init(&f, 0.0f);
	int b = -1, k = 0;
	for (int s = 0; s < 3 && b < 0; s++) /* a sequence whose token k >= 2 is new */
		for (k = 2; k < 20; k++) {
			const int *t = f.full.tokens[s];
			if (!memchr_int(t, k, t[k]) && !memchr_int(t, k + 1, TOK_ANSWER_END) &&
				t[k - 1] > 0 && t[k - 1] < 256) {
				b = s;
				break;
			}
		}
	CHECK_MSG(b >= 0, "no greedy sequence emits a new token after a byte");
	int a = f.full.tokens[b][k], C = f.m.cfg.dim;
	float *head = f.m.params.lm_head, tmp[256];
	CHECK(C <= 256 && !f.m.cfg.tied);
	memcpy(tmp, head + (size_t)a * C, sizeof(float) * C);
	memcpy(head + (size_t)a * C, head + (size_t)TOK_ANSWER_END * C, sizeof(float) * C);
	memcpy(head + (size_t)TOK_ANSWER_END * C, tmp, sizeof(float) * C);

	struct run r;
	f.p.stop = NULL;
	generate(&f.g, f.reqs, 3, &f.p, &r);
	CHECK(r.n[b] == 30 && r.tokens[b][k] == TOK_ANSWER_END);
	CHECK(memcmp(r.tokens[b], f.full.tokens[b], sizeof(int) * (size_t)k) == 0);
	struct run swapped = r;

	char span[16];
	snprintf(span, sizeof span, "%c</ans", (char)f.full.tokens[b][k - 1]);
	const char *const lists[][3] = {
		{ "</answer>", NULL },   /* the whole spelling, one token */
		{ "swer>", NULL },       /* inside the spelling */
		{ span, NULL },          /* a byte token, then part of the special */
		{ "<answer>", NULL },    /* not a substring of "</answer>" */
	};
	for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
		f.p.stop = lists[l];
		generate(&f.g, f.reqs, 3, &f.p, &r);
		for (int s = 0; s < 3; s++) {
			int at = ref_stop_at(&swapped, s, lists[l]);
			check_prefix(&swapped, &r, s, at ? at : 30);
			CHECK(r.finish[s] == (at ? GEN_FINISH_STOP : GEN_FINISH_LENGTH));
		}
		if (l < 3)
			CHECK_MSG(r.n[b] == k + 1 && r.finish[b] == GEN_FINISH_STOP, "stop '%s': %d tokens, want %d",
				lists[l][0], r.n[b], k + 1);
	}
	stop_fixture_release(&f);
}

static void test_generate__length_limits(void)
{
	struct model m;
	small_model(&m);
	m.cfg.eos_id = NO_EOS;
	struct generator g;
	struct err e = { 0 };
	enum { MAX_LEN = 24 };
	CHECK_MSG(gen_init(&g, &m, MAX_B, MAX_LEN, &e) == 0, "%s", e.msg);
	int prompts[4][MAX_LEN];
	const int plen[4] = { 4, 20, MAX_LEN - 1, 10 };
	struct gen_request reqs[4];
	for (int b = 0; b < 4; b++) {
		make_prompt(prompts[b], b, plen[b]);
		reqs[b] = (struct gen_request){ prompts[b], plen[b], (uint64_t)b };
	}
	struct gen_params p = { .sampler = { 1.0f, 0, 1.0f }, .max_new_tokens = 12, .key = 3 };
	struct run r;
	generate(&g, reqs, 4, &p, &r);
	/* max_new_tokens binds for 0 and 3; max_len (prompt + generated) for 1 and 2 */
	const int want[4] = { 12, MAX_LEN - 20, 1, 12 };
	for (int b = 0; b < 4; b++) {
		CHECK_MSG(r.n[b] == want[b], "prompt of %d, max_len %d, max_new_tokens 12: %d tokens, want %d",
			plen[b], MAX_LEN, r.n[b], want[b]);
		CHECK(r.finish[b] == GEN_FINISH_LENGTH);
		CHECK(plen[b] + r.n[b] <= MAX_LEN);
	}
	p.max_new_tokens = 1;
	generate(&g, reqs, 4, &p, &r);
	for (int b = 0; b < 4; b++)
		CHECK(r.n[b] == 1 && r.finish[b] == GEN_FINISH_LENGTH);
	gen_release(&g);
	model_release(&m);
}

/* ---------------------------------------------------------------- bad input */

static void expect_error(int rc, const struct err *e, const char *needle)
{
	CHECK_MSG(rc == -1, "expected an error containing '%s', got rc %d", needle, rc);
	CHECK_MSG(e->code == ERR_INVALID || e->code == ERR_IO || e->code == ERR_NOTFOUND,
		"error code %d for '%s'", e->code, e->msg);
	CHECK_MSG(strstr(e->msg, needle), "message '%s' does not contain '%s'", e->msg, needle);
	printf("  error: %s\n", e->msg);
}

static void test_generate__bad_input_is_an_error(void)
{
	struct model m;
	small_model(&m);
	struct generator g;
	struct err e = { 0 };
	/* generator sizes */
	expect_error(gen_init(&g, &m, MAX_B + 1, 32, &e), &e, "cannot generate for 9 sequences");
	expect_error(gen_init(&g, &m, 0, 32, &e), &e, "cannot generate for 0 sequences");
	expect_error(gen_init(&g, &m, 2, MAX_SEQ + 1, &e), &e, "max_seq (64)");
	expect_error(gen_init(&g, &m, 2, 1, &e), &e, "cannot generate 1 tokens");
	CHECK_MSG(gen_init(&g, &m, 4, MAX_SEQ, &e) == 0, "%s", e.msg);

	int ok_prompt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, bad_tok[3] = { 5, 264, 6 }, neg_tok[2] = { -1, 3 };
	static int long_prompt[MAX_SEQ];
	make_prompt(long_prompt, 0, MAX_SEQ);
	struct gen_params p = { .sampler = { 1.0f, 0, 1.0f }, .max_new_tokens = 4, .key = 1 };
	struct gen_result *res[8];
	struct gen_request reqs[8];
	for (int b = 0; b < 8; b++)
		reqs[b] = (struct gen_request){ ok_prompt, 8, (uint64_t)b };

	struct gen_request r1 = { NULL, 0, 0 };
	expect_error(gen_run(&g, &r1, 1, &p, res, &e), &e, "prompt 0 is empty");
	reqs[2] = (struct gen_request){ ok_prompt, 0, 2 };
	expect_error(gen_run(&g, reqs, 3, &p, res, &e), &e, "prompt 2 is empty");
	/* longer than the model's activations (max_T 48) */
	reqs[2] = (struct gen_request){ long_prompt, MAX_T + 1, 2 };
	expect_error(gen_run(&g, reqs, 3, &p, res, &e), &e, "prompt 2 has 49 tokens: at most 48 fit");
	/* longer than max_seq */
	reqs[2] = (struct gen_request){ long_prompt, MAX_SEQ, 2 };
	expect_error(gen_run(&g, reqs, 3, &p, res, &e), &e, "prompt 2 has 64 tokens");
	reqs[2] = (struct gen_request){ ok_prompt, 8, 2 };
	reqs[1] = (struct gen_request){ bad_tok, 3, 1 };
	expect_error(gen_run(&g, reqs, 3, &p, res, &e), &e,
		"prompt 1: token 264 at position 1 is outside the vocabulary (0..263)");
	reqs[1] = (struct gen_request){ neg_tok, 2, 1 };
	expect_error(gen_run(&g, reqs, 3, &p, res, &e), &e, "token -1 at position 0 is outside the vocabulary");
	reqs[1] = (struct gen_request){ ok_prompt, 8, 1 };
	expect_error(gen_run(&g, reqs, 5, &p, res, &e), &e, "cannot generate for 5 sequences: the generator holds 1..4");
	expect_error(gen_run(&g, reqs, 0, &p, res, &e), &e, "cannot generate for 0 sequences");
	p.max_new_tokens = 0;
	expect_error(gen_run(&g, reqs, 2, &p, res, &e), &e, "max_new_tokens");
	p.max_new_tokens = 4;
	/* a generator that refused bad input still works */
	e = (struct err){ 0 };
	CHECK_MSG(gen_run(&g, reqs, 4, &p, res, &e) == 0, "%s", e.msg);
	for (int b = 0; b < 4; b++)
		CHECK(res[b]->n >= 1 && res[b]->n <= 4);
	gen_release(&g);
	model_release(&m);

	/* an unknown model directory */
	expect_error(checkpoint_load(&m, "/nonexistent/r1flow-model", 1, 0, &e), &e, "/nonexistent/r1flow-model");
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_generate__kv_cache_matches_full_forward_sampled),
		TEST(test_generate__kv_cache_matches_full_forward_greedy),
		TEST(test_generate__batch_and_thread_independence),
		TEST(test_generate__stops_at_eos),
		TEST(test_generate__stops_at_stop_strings),
		TEST(test_generate__stop_string_completed_by_special_token),
		TEST(test_generate__length_limits),
		TEST(test_generate__bad_input_is_an_error),
		{ 0 },
	});
}
