#include "generate.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "ops.h"
#include "pool.h"
#include "rng.h"
#include "tokenizer.h"

#define GEN_TEXT_PER_TOKEN 10 /* longest token spelling: "</answer>" is 9 bytes */

/*
 * The prefill's attention probabilities (NH x Tp x Tp per sequence) are the one part
 * of its working set that grows with the square of the prompt: it runs over as many
 * sequences at a time as this many floats hold (at least one).
 */
#define GEN_ATT_FLOATS ((size_t)16 << 20)

/* Floats per prompt token of the prefill's working set besides x and its norm: the
 * attention half (qkv, the q/k norm's state, attention output) and the MLP half
 * (gate/up, their product) take turns in one region. */
static size_t gen_prefill_work(const struct model_config *c)
{
	size_t HD = config_head_dim(c), QKV = (c->n_heads + 2 * c->n_kv_heads) * HD;
	size_t QK = c->qk_norm ? (size_t)(c->n_heads + c->n_kv_heads) : 0;
	size_t attn = QKV + QK * HD + QK + (size_t)c->n_heads * HD, mlp = 3 * (size_t)c->ffn;
	return attn > mlp ? attn : mlp;
}

/* Sequences per attention_forward call in a prefill over Tp positions. */
static int gen_att_seqs(const struct model_config *c, int B, int Tp)
{
	size_t per = (size_t)c->n_heads * Tp * Tp, n = GEN_ATT_FLOATS / per;
	return n < 1 ? 1 : n > (size_t)B ? B : (int)n;
}

int gen_init(struct generator *g, struct model *m, int max_B, int max_len, struct err *e)
{
	memset(g, 0, sizeof *g);
	const struct model_config *c = &m->cfg;
	if (max_B < 1 || (m->max_B > 0 && max_B > m->max_B))
		return err_set(e, ERR_INVALID, "cannot generate for %d sequences: the model was sized for 1..%d",
			max_B, m->max_B > 0 ? m->max_B : INT_MAX);
	if (max_len < 2 || max_len > c->max_seq)
		return err_set(e, ERR_INVALID, "cannot generate %d tokens per sequence: need 2..max_seq (%d)",
			max_len, c->max_seq);
	g->m = m;
	g->max_B = max_B;
	g->max_len = max_len;
	g->max_prompt = m->max_T > 0 && m->max_T < max_len - 1 ? m->max_T : max_len - 1;
	size_t B = (size_t)max_B, C = c->dim, V = c->vocab, F = c->ffn, L = c->n_layers;
	size_t HD = config_head_dim(c), KV = c->n_kv_heads * HD, QKV = (c->n_heads + 2 * c->n_kv_heads) * HD;
	size_t cache = L * B * (size_t)max_len * KV;
	g->text_cap = (size_t)max_len * GEN_TEXT_PER_TOKEN + 1;
	size_t A = (size_t)c->n_heads * HD, QK = c->qk_norm ? (size_t)(c->n_heads + c->n_kv_heads) : 0;
	size_t P = (size_t)g->max_prompt, NP = B * P;
	size_t att1 = (size_t)c->n_heads * P * P, patt = B * att1;
	patt = patt < GEN_ATT_FLOATS ? patt : att1 > GEN_ATT_FLOATS ? att1 : GEN_ATT_FLOATS;
	size_t floats = 2 * cache + B * (2 * C + A + QKV + QK * HD + QK + 2 * F + F + V
		+ (size_t)c->n_heads * max_len)
		+ B * V + 2 * B * max_len
		+ NP * (2 * C + 1 + gen_prefill_work(c)) + patt;
	size_t ints = 3 * B + NP + B + B + B * max_len;
	size_t bytes = floats * sizeof(float) + ints * sizeof(int) + B * V * sizeof(struct sampler_rank)
		+ B * g->text_cap + B * sizeof(struct gen_result);
	char *p = g->mem = calloc(1, bytes);
	if (!p)
		return err_set(e, ERR_NOMEM, "cannot allocate the KV cache for %d x %d tokens: %zu MiB",
			max_B, max_len, bytes >> 20);
#define TAKE(ptr, n) do { (ptr) = (void *)p; p += (n) * sizeof(*(ptr)); } while (0)
	TAKE(g->results, B); /* first: the only member that needs pointer alignment */
	TAKE(g->kcache, cache);
	TAKE(g->vcache, cache);
	TAKE(g->x, B * C);
	TAKE(g->xb, B * C);
	TAKE(g->atty, B * A);
	TAKE(g->qkv, B * QKV);
	TAKE(g->qk_raw, B * QK * HD);
	TAKE(g->qk_rstd, B * QK);
	TAKE(g->gu, B * 2 * F);
	TAKE(g->h, B * F);
	TAKE(g->logits, B * V);
	TAKE(g->att, B * (size_t)c->n_heads * max_len);
	TAKE(g->probs, B * V);
	TAKE(g->out_lp, B * max_len);
	TAKE(g->out_slp, B * max_len);
	TAKE(g->px, NP * C);
	TAKE(g->pxb, NP * C);
	TAKE(g->prstd, NP);
	TAKE(g->pwork, NP * gen_prefill_work(c));
	TAKE(g->patt, patt);
	TAKE(g->rows, B);
	TAKE(g->row_tok, B);
	TAKE(g->row_pos, B);
	TAKE(g->prefill, NP);
	TAKE(g->plen, B);
	TAKE(g->text_len, B);
	TAKE(g->out_tokens, B * max_len);
	TAKE(g->ranks, B * V);
	TAKE(g->text, B * g->text_cap);
#undef TAKE
	return 0;
}

void gen_release(struct generator *g)
{
	free(g->mem);
	memset(g, 0, sizeof *g);
}

static float *gen_cache_at(const struct generator *g, float *cache, int l, int b, int t)
{
	const struct model_config *c = &g->m->cfg;
	size_t KV = (size_t)c->n_kv_heads * config_head_dim(c);
	return cache + (((size_t)l * g->max_B + b) * g->max_len + t) * KV;
}

/* ---- one decode step over the live rows ---------------------------------------- */

struct step_ctx {
	struct generator *g;
	int l, n;
};

/* Store this step's keys and values, then attend over each row's cache. */
static void decode_attention_part(void *arg, int begin, int end)
{
	const struct step_ctx *s = arg;
	struct generator *g = s->g;
	const struct model_config *c = &g->m->cfg;
	int NH = c->n_heads, NKV = c->n_kv_heads, HD = config_head_dim(c), group = NH / NKV;
	int KV = NKV * HD, QKV = (NH + 2 * NKV) * HD;
	float scale = 1.0f / sqrtf((float)HD);
	for (int r = begin; r < end; r++) {
		int b = g->rows[r], pos = g->row_pos[r];
		const float *q = g->qkv + (size_t)r * QKV;
		memcpy(gen_cache_at(g, g->kcache, s->l, b, pos), q + NH * HD, sizeof(float) * (size_t)KV);
		memcpy(gen_cache_at(g, g->vcache, s->l, b, pos), q + NH * HD + KV, sizeof(float) * (size_t)KV);
		const float *K = gen_cache_at(g, g->kcache, s->l, b, 0);
		const float *Vc = gen_cache_at(g, g->vcache, s->l, b, 0);
		for (int h = 0; h < NH; h++) {
			float *att = g->att + ((size_t)r * NH + h) * g->max_len;
			int kvh = h / group;
			cblas_sgemv(CblasRowMajor, CblasNoTrans, pos + 1, HD, scale, K + kvh * HD, KV,
				q + h * HD, 1, 0.0f, att, 1);
			float mx = att[0], sum = 0.0f;
			for (int j = 1; j <= pos; j++)
				mx = att[j] > mx ? att[j] : mx;
			for (int j = 0; j <= pos; j++) {
				att[j] = expf(att[j] - mx);
				sum += att[j];
			}
			cblas_sgemv(CblasRowMajor, CblasTrans, pos + 1, HD, 1.0f / sum, Vc + kvh * HD, KV,
				att, 1, 0.0f, g->atty + (size_t)r * NH * HD + h * HD, 1);
		}
	}
}

/* Logits (n, V) for the rows' tokens at their positions; fills the caches. */
static void decode_step(struct generator *g, int n)
{
	struct model *m = g->m;
	const struct model_config *c = &m->cfg;
	int C = c->dim, F = c->ffn, V = c->vocab, NH = c->n_heads, NKV = c->n_kv_heads;
	int HD = config_head_dim(c), QKV = (NH + 2 * NKV) * HD;
	embedding_forward(g->x, g->row_tok, m->params.embed, n, C);
	for (int l = 0; l < c->n_layers; l++) {
		const struct layer_params *lp = &m->params.layers[l];
		float *rstd = g->probs; /* n floats of scratch, unused until sampling */
		rmsnorm_forward(g->xb, rstd, g->x, lp->ln1, n, C, c->norm_eps);
		matmul_forward(g->qkv, QKV, g->xb, lp->wqkv, n, C, QKV, 0.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_QKV, g->qkv, QKV, g->xb, n);
		if (lp->bqkv)
			bias_forward(g->qkv, lp->bqkv, n, QKV);
		if (lp->qknorm)
			headnorm_forward(g->qkv, g->qk_raw, g->qk_rstd, lp->qknorm, n, NH, NKV, HD, c->norm_eps);
		rope_forward_at(g->qkv, m->act.rope_cos, m->act.rope_sin, g->row_pos, n, NH, NKV, HD);
		struct step_ctx s = { g, l, n };
		pool_for(n, (long)n * NH * g->max_len * HD, decode_attention_part, &s);
		matmul_forward(g->x, C, g->atty, lp->wo, n, NH * HD, C, 1.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_O, g->x, C, g->atty, n);
		rmsnorm_forward(g->xb, rstd, g->x, lp->ln2, n, C, c->norm_eps);
		matmul_forward(g->gu, 2 * F, g->xb, lp->wgu, n, C, 2 * F, 0.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_GU, g->gu, 2 * F, g->xb, n);
		swiglu_forward(g->h, g->gu, n, F);
		matmul_forward(g->x, C, g->h, lp->wd, n, F, C, 1.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_DOWN, g->x, C, g->h, n);
	}
	rmsnorm_forward(g->xb, g->probs, g->x, m->params.norm, n, C, c->norm_eps);
	matmul_forward(g->logits, V, g->xb, m->params.lm_head, n, C, V, 0.0f);
}

/* ---- prefill: the prompts as one right-padded batch, layer by layer ------------ */

/*
 * The same kernels on the same (B x Tp) rows as model_forward, so keys and values
 * are bit for bit the ones a training forward computes, but through one layer's
 * buffers: K and V go to the cache as each layer makes them, and only the last
 * prompt position of each sequence reaches the final norm and the LM head (through
 * the decode step's buffers, as a decode step computes them).
 */
static void prefill(struct generator *g, int B, int Tp)
{
	struct model *m = g->m;
	const struct model_config *c = &m->cfg;
	int C = c->dim, F = c->ffn, V = c->vocab, NH = c->n_heads, NKV = c->n_kv_heads;
	int HD = config_head_dim(c), QKV = (NH + 2 * NKV) * HD, KV = NKV * HD, A = NH * HD;
	int QK = c->qk_norm ? NH + NKV : 0, N = B * Tp, chunk = gen_att_seqs(c, B, Tp);
	float *x = g->px, *xb = g->pxb, *rstd = g->prstd;
	float *qkv = g->pwork, *qk_raw = qkv + (size_t)N * QKV, *qk_rstd = qk_raw + (size_t)N * QK * HD;
	float *atty = qk_rstd + (size_t)N * QK;
	float *gu = g->pwork, *h = gu + (size_t)N * 2 * F; /* after attention: qkv is in the cache */
	embedding_forward(x, g->prefill, m->params.embed, N, C);
	for (int l = 0; l < c->n_layers; l++) {
		const struct layer_params *lp = &m->params.layers[l];
		rmsnorm_forward(xb, rstd, x, lp->ln1, N, C, c->norm_eps);
		matmul_forward(qkv, QKV, xb, lp->wqkv, N, C, QKV, 0.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_QKV, qkv, QKV, xb, N);
		if (lp->bqkv)
			bias_forward(qkv, lp->bqkv, N, QKV);
		if (lp->qknorm)
			headnorm_forward(qkv, qk_raw, qk_rstd, lp->qknorm, N, NH, NKV, HD, c->norm_eps);
		rope_forward(qkv, m->act.rope_cos, m->act.rope_sin, B, Tp, NH, NKV, HD);
		for (int b = 0; b < B; b++)
			for (int t = 0; t < g->plen[b]; t++) {
				const float *row = qkv + ((size_t)b * Tp + t) * QKV;
				memcpy(gen_cache_at(g, g->kcache, l, b, t), row + A, sizeof(float) * (size_t)KV);
				memcpy(gen_cache_at(g, g->vcache, l, b, t), row + A + KV, sizeof(float) * (size_t)KV);
			}
		for (int b0 = 0; b0 < B; b0 += chunk) {
			int nb = B - b0 < chunk ? B - b0 : chunk;
			attention_forward(atty + (size_t)b0 * Tp * A, g->patt, qkv + (size_t)b0 * Tp * QKV,
				g->plen + b0, nb, Tp, NH, NKV, HD);
		}
		/* the residual adds in place: x + atty·Woᵀ is what model_forward's copy gets */
		matmul_forward(x, C, atty, lp->wo, N, A, C, 1.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_O, x, C, atty, N);
		rmsnorm_forward(xb, rstd, x, lp->ln2, N, C, c->norm_eps);
		matmul_forward(gu, 2 * F, xb, lp->wgu, N, C, 2 * F, 0.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_GU, gu, 2 * F, xb, N);
		swiglu_forward(h, gu, N, F);
		matmul_forward(x, C, h, lp->wd, N, F, C, 1.0f);
		if (m->lora)
			lora_forward(m->lora, l, LORA_SITE_DOWN, x, C, h, N);
	}
	for (int b = 0; b < B; b++)
		memcpy(g->x + (size_t)b * C, x + ((size_t)b * Tp + g->plen[b] - 1) * C, sizeof(float) * (size_t)C);
	rmsnorm_forward(g->xb, g->probs, g->x, m->params.norm, B, C, c->norm_eps);
	matmul_forward(g->logits, V, g->xb, m->params.lm_head, B, C, V, 0.0f);
}

/* ---- sampling and stopping ---------------------------------------------------- */

struct pick_ctx {
	struct generator *g;
	const struct gen_params *p;
	const struct gen_request *reqs;
	const float *logits;  /* (n, V) */
	int ld;               /* row stride of logits */
	const int *seq;       /* sequence of each logits row */
};

static void pick_part(void *arg, int begin, int end)
{
	const struct pick_ctx *k = arg;
	struct generator *g = k->g;
	int V = g->m->cfg.vocab;
	for (int r = begin; r < end; r++) {
		int b = k->seq[r];
		struct gen_result *res = &g->results[b];
		uint64_t idx = k->reqs[b].index;
		float coin = rng_uniform4(k->p->key, (uint32_t)idx, (uint32_t)(idx >> 32), (uint32_t)res->n, 0);
		struct sampler_scratch s = { g->probs + (size_t)r * V, g->ranks + (size_t)r * V };
		struct sample_out o;
		const float *z = k->logits + (size_t)r * k->ld;
		sampler_pick(z, V, &k->p->sampler, coin, &s, &o);
		if (k->p->trace_logits)
			memcpy(k->p->trace_logits + ((size_t)b * k->p->max_new_tokens + res->n) * V, z,
				sizeof(float) * (size_t)V);
		res->tokens[res->n] = o.token;
		res->logprobs[res->n] = o.logprob;
		res->sample_logprobs[res->n] = o.sample_logprob;
		res->n++;
	}
}

/* Append the token's text; true if the sequence is now finished by a stop id (the
 * tokenizer's, else the config's EOS) or a stop string. */
static bool gen_stopped(struct generator *g, int b, const struct gen_params *p)
{
	struct gen_result *res = &g->results[b];
	int tok = res->tokens[res->n - 1];
	if (p->tok ? tokenizer_is_stop(p->tok, tok) : tok == g->m->cfg.eos_id)
		return true;
	if (!p->stop)
		return false;
	char *text = g->text + (size_t)b * g->text_cap;
	size_t old = (size_t)g->text_len[b];
	size_t add = p->tok ? tokenizer_piece(p->tok, tok, text + old, g->text_cap - old) :
		tok_decode(&tok, 1, text + old, g->text_cap - old);
	size_t now = old + add < g->text_cap - 1 ? old + add : g->text_cap - 1;
	g->text_len[b] = (int)now;
	for (const char *const *s = p->stop; *s; s++) {
		size_t k = strlen(*s);
		if (!k || k > now)
			continue;
		/* only matches that end inside the new text can be new */
		size_t from = old + 1 > k ? old + 1 - k : 0;
		for (size_t i = from; i + k <= now; i++)
			if (memcmp(text + i, *s, k) == 0)
				return true;
	}
	return false;
}

int gen_run(struct generator *g, const struct gen_request *reqs, int B,
	const struct gen_params *p, struct gen_result **results, struct err *e)
{
	struct model *m = g->m;
	const struct model_config *c = &m->cfg;
	int V = c->vocab;
	if (B < 1 || B > g->max_B)
		return err_set(e, ERR_INVALID, "cannot generate for %d sequences: the generator holds 1..%d", B, g->max_B);
	if (p->max_new_tokens < 1)
		return err_set(e, ERR_INVALID, "max_new_tokens must be >= 1, not %d", p->max_new_tokens);
	int Tp = 0;
	for (int b = 0; b < B; b++) {
		int len = reqs[b].prompt_len;
		if (len < 1)
			return err_set(e, ERR_INVALID, "prompt %d is empty: a prompt needs at least one token", b);
		if (len > g->max_prompt)
			return err_set(e, ERR_INVALID, "prompt %d has %d tokens: at most %d fit before generation (max_seq %d)",
				b, len, g->max_prompt, c->max_seq);
		for (int t = 0; t < len; t++)
			if (reqs[b].prompt[t] < 0 || reqs[b].prompt[t] >= V)
				return err_set(e, ERR_INVALID, "prompt %d: token %d at position %d is outside the vocabulary (0..%d)",
					b, reqs[b].prompt[t], t, V - 1);
		Tp = len > Tp ? len : Tp;
	}

	/* prefill: the prompts as one right-padded batch */
	for (int b = 0; b < B; b++) {
		int len = reqs[b].prompt_len;
		g->plen[b] = len;
		for (int t = 0; t < Tp; t++)
			g->prefill[b * Tp + t] = t < len ? reqs[b].prompt[t] : reqs[b].prompt[0];
		struct gen_result *res = &g->results[b];
		*res = (struct gen_result){
			.tokens = g->out_tokens + (size_t)b * g->max_len,
			.logprobs = g->out_lp + (size_t)b * g->max_len,
			.sample_logprobs = g->out_slp + (size_t)b * g->max_len,
			.finish = GEN_FINISH_LENGTH,
		};
		g->text_len[b] = 0;
		g->text[(size_t)b * g->text_cap] = '\0';
	}
	/* adapters run on the prefill's rows and the decode steps' */
	if (g->m->lora && lora_reserve(g->m->lora, (size_t)B * Tp > (size_t)g->max_B ?
		(size_t)B * Tp : (size_t)g->max_B, e) < 0)
		return -1;
	prefill(g, B, Tp);
	/* first token of each sequence from the logits at its last prompt position */
	int n = 0;
	for (int b = 0; b < B; b++)
		g->rows[n++] = b;
	struct pick_ctx k = { g, p, reqs, g->logits, V, g->rows };
	pool_for(n, (long)n * V * 8, pick_part, &k);

	for (;;) {
		/* retire finished sequences; the rest feed their last token */
		int live = 0;
		for (int r = 0; r < n; r++) {
			int b = g->rows[r];
			struct gen_result *res = &g->results[b];
			if (gen_stopped(g, b, p)) {
				res->finish = GEN_FINISH_STOP;
				continue;
			}
			/* prompt + generated never exceeds max_len (GEN_FINISH_LENGTH) */
			if (res->n >= p->max_new_tokens || g->plen[b] + res->n >= g->max_len)
				continue;
			int pos = g->plen[b] + res->n - 1; /* position of the token to feed */
			g->rows[live] = b;
			g->row_tok[live] = res->tokens[res->n - 1];
			g->row_pos[live] = pos;
			live++;
		}
		n = live;
		if (!n)
			break;
		decode_step(g, n);
		k.logits = g->logits;
		pool_for(n, (long)n * V * 8, pick_part, &k);
	}
	for (int b = 0; b < B; b++)
		results[b] = &g->results[b];
	return 0;
}
