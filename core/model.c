#include "model.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head.h"
#include "lora.h"
#include "ops.h"
#include "pool.h"
#include "rng.h"

/* ---- parameter table ---------------------------------------------------------- */

static void model_add_tensor(struct model *m, size_t *off, const char *name, int rows, int cols)
{
	struct model_tensor *t = &m->tensors[m->n_tensors++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->offset = *off;
	t->ndim = cols ? 2 : 1;
	t->shape[0] = rows;
	t->shape[1] = cols;
	t->numel = (size_t)rows * (size_t)(cols ? cols : 1);
	*off += t->numel;
}

int model_layer_tensors(const struct model_config *cfg)
{
	return 9 + (cfg->qkv_bias ? 3 : 0) + (cfg->qk_norm ? 2 : 0);
}

/* Fill the table in buffer order; returns the number of floats. */
static size_t model_layout(struct model *m)
{
	const struct model_config *c = &m->cfg;
	int C = c->dim, HD = config_head_dim(c), F = c->ffn, NH = c->n_heads, NKV = c->n_kv_heads;
	size_t off = 0;
	char name[MODEL_TENSOR_NAME_MAX];
	model_add_tensor(m, &off, "model.embed_tokens.weight", c->vocab, C);
	for (int l = 0; l < c->n_layers; l++) {
		/* which: 0 only with qkv_bias, 1 only with qk_norm, 2 always */
		const struct { const char *suffix; int rows, cols, which; } parts[] = {
			{ "input_layernorm.weight", C, 0, 2 }, { "self_attn.q_proj.weight", NH * HD, C, 2 },
			{ "self_attn.k_proj.weight", NKV * HD, C, 2 }, { "self_attn.v_proj.weight", NKV * HD, C, 2 },
			{ "self_attn.q_proj.bias", NH * HD, 0, 0 }, { "self_attn.k_proj.bias", NKV * HD, 0, 0 },
			{ "self_attn.v_proj.bias", NKV * HD, 0, 0 },
			{ "self_attn.q_norm.weight", HD, 0, 1 }, { "self_attn.k_norm.weight", HD, 0, 1 },
			{ "self_attn.o_proj.weight", C, NH * HD, 2 }, { "post_attention_layernorm.weight", C, 0, 2 },
			{ "mlp.gate_proj.weight", F, C, 2 }, { "mlp.up_proj.weight", F, C, 2 },
			{ "mlp.down_proj.weight", C, F, 2 },
		};
		for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			if ((parts[i].which == 0 && !c->qkv_bias) || (parts[i].which == 1 && !c->qk_norm))
				continue;
			snprintf(name, sizeof name, "model.layers.%d.%s", l, parts[i].suffix);
			model_add_tensor(m, &off, name, parts[i].rows, parts[i].cols);
		}
	}
	model_add_tensor(m, &off, "model.norm.weight", C, 0);
	if (!c->tied)
		model_add_tensor(m, &off, "lm_head.weight", c->vocab, C);
	return off;
}

void model_point(const struct model *m, float *base, struct model_params *out)
{
	/* tensors[] order: embed, then model_layer_tensors per layer, then norm, then lm_head */
	const struct model_tensor *t = m->tensors;
	int per = model_layer_tensors(&m->cfg), L = m->cfg.n_layers;
	out->embed = base + t[0].offset;
	for (int l = 0; l < L; l++) {
		const struct model_tensor *lt = t + 1 + per * l;
		struct layer_params *lp = &out->layers[l];
		int i = 4;
		lp->ln1 = base + lt[0].offset;
		lp->wqkv = base + lt[1].offset;
		lp->bqkv = m->cfg.qkv_bias ? base + lt[i].offset : NULL;
		i += m->cfg.qkv_bias ? 3 : 0;
		lp->qknorm = m->cfg.qk_norm ? base + lt[i].offset : NULL;
		i += m->cfg.qk_norm ? 2 : 0;
		lp->wo = base + lt[i].offset;
		lp->ln2 = base + lt[i + 1].offset;
		lp->wgu = base + lt[i + 2].offset;
		lp->wd = base + lt[i + 4].offset;
	}
	out->norm = base + t[1 + per * L].offset;
	out->lm_head = m->cfg.tied ? out->embed : base + t[2 + per * L].offset;
}

/* ---- activations -------------------------------------------------------------- */

/* Carve (or, with mem NULL, just count) the activation buffer for B x T. */
static size_t model_carve_acts(struct model *m, float *mem, int B, int T)
{
	const struct model_config *c = &m->cfg;
	size_t BT = (size_t)B * T, C = c->dim, V = c->vocab, F = c->ffn;
	size_t HD = config_head_dim(c), QKV = (c->n_heads + 2 * c->n_kv_heads) * HD;
	size_t A = (size_t)c->n_heads * HD, QK = c->qk_norm ? (c->n_heads + c->n_kv_heads) : 0;
	size_t att = (size_t)B * c->n_heads * T * T, off = 0, R = (size_t)m->head_cap;
	struct model_acts *a = &m->act;
#define CARVE(ptr, n) do { if (mem) (ptr) = mem + off; off += (n); } while (0)
	/* first, so they stay put when a call re-carves for another (B, T) */
	CARVE(a->rope_cos, (size_t)c->max_seq * HD / 2);
	CARVE(a->rope_sin, (size_t)c->max_seq * HD / 2);
	CARVE(a->head, R * V);
	CARVE(a->head_x, R * C);
	CARVE(a->head_dx, R * C);
	for (int l = 0; l < c->n_layers; l++) {
		struct layer_acts *la = &a->layers[l];
		CARVE(la->x, BT * C);
		if (m->checkpoint && l > 0) { /* layer 0's working set, shared */
			float *x = la->x;
			*la = a->layers[0];
			la->x = x;
			continue;
		}
		CARVE(la->ln1, BT * C);
		CARVE(la->ln1_rstd, BT);
		CARVE(la->qkv, BT * QKV);
		CARVE(la->qk_raw, BT * QK * HD);
		CARVE(la->qk_rstd, BT * QK);
		CARVE(la->att, att);
		CARVE(la->atty, BT * A);
		CARVE(la->x2, BT * C);
		CARVE(la->ln2, BT * C);
		CARVE(la->ln2_rstd, BT);
		CARVE(la->gu, BT * 2 * F);
		CARVE(la->h, BT * F);
	}
	CARVE(a->xf, BT * C);
	CARVE(a->lnf, BT * C);
	CARVE(a->lnf_rstd, BT);
	CARVE(a->dlnf, BT * C);
	CARVE(a->tok_stats, BT * MODEL_TOK_STATS);
	CARVE(a->dx, BT * C);
	CARVE(a->dtmp, BT * (A > C ? A : C));
	CARVE(a->dqkv, BT * QKV);
	CARVE(a->datt, att);
	CARVE(a->dgu, BT * 2 * F);
	CARVE(a->dh, BT * F);
#undef CARVE
	return off;
}

static float *model_alloc_floats(size_t n, const char *what, struct err *e)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	if (!p)
		err_set(e, ERR_NOMEM, "cannot allocate %s: %zu MiB", what, n * sizeof(float) >> 20);
	return p;
}

int model_resize(struct model *m, int max_B, int max_T, bool checkpoint, struct err *e)
{
	const struct model_config *cfg = &m->cfg;
	if (max_B < 0 || (max_B > 0 && (max_T <= 0 || max_T > cfg->max_seq)))
		return err_set(e, ERR_INVALID, "cannot size model for batch %d x %d: need batch >= 1 and 1 <= length <= max_seq %d",
			max_B, max_T, cfg->max_seq);
	if (max_B == 0) /* inference only: parameters and RoPE tables */
		max_T = 0;
	/* the new buffers first: on failure the model is left as it was */
	int rows = head_chunk_rows(cfg->vocab), old_cap = m->head_cap;
	bool old_ck = m->checkpoint;
	m->checkpoint = checkpoint;
	m->head_cap = (long)max_B * max_T < rows ? max_B * max_T : rows;
	size_t n = model_carve_acts(m, NULL, max_B, max_T);
	float *acts = model_alloc_floats(n, "activations", e), *grads = m->grads_mem;
	int *idx = m->head_cap ? calloc((size_t)m->head_cap, sizeof *idx) : NULL;
	if (acts && max_B > 0 && !grads)
		grads = model_alloc_floats(m->num_params, "gradients", e);
	if (!acts || (m->head_cap && !idx) || (max_B > 0 && !grads)) {
		if (acts && m->head_cap && !idx)
			err_set(e, ERR_NOMEM, "cannot allocate the head's row index");
		free(acts);
		free(idx);
		if (grads != m->grads_mem)
			free(grads);
		m->checkpoint = old_ck;
		m->head_cap = old_cap;
		return -1;
	}
	free(m->acts_mem);
	free(m->head_idx);
	if (max_B == 0 && grads) {
		free(grads);
		grads = NULL;
		memset(m->grads.layers, 0, (size_t)cfg->n_layers * sizeof(struct layer_params));
		m->grads.embed = m->grads.norm = m->grads.lm_head = NULL;
	}
	if (grads && !m->grads_mem)
		model_point(m, grads, &m->grads);
	m->grads_mem = grads;
	m->acts_mem = acts;
	m->head_idx = idx;
	m->head_rows = m->head_cap;
	m->num_acts = n;
	model_carve_acts(m, acts, max_B, max_T);
	m->max_B = m->B = max_B;
	m->max_T = m->T = max_T;
	rope_tables(m->act.rope_cos, m->act.rope_sin, cfg->max_seq, config_head_dim(cfg), cfg->rope_theta,
		&cfg->rope);
	return 0;
}

int model_init(struct model *m, const struct model_config *cfg, int max_B, int max_T, struct err *e)
{
	memset(m, 0, sizeof *m);
	if (config_validate(cfg, e) < 0)
		return -1;
	if (max_B < 0 || (max_B > 0 && (max_T <= 0 || max_T > cfg->max_seq)))
		return err_set(e, ERR_INVALID, "cannot size model for batch %d x %d: need batch >= 1 and 1 <= length <= max_seq %d",
			max_B, max_T, cfg->max_seq);
	if (max_B == 0) /* inference only: parameters and RoPE tables */
		max_T = 0;
	m->cfg = *cfg;
	int L = cfg->n_layers;
	m->tensors = calloc((size_t)model_layer_tensors(cfg) * L + 3, sizeof *m->tensors);
	m->params.layers = calloc((size_t)L, sizeof(struct layer_params));
	m->grads.layers = calloc((size_t)L, sizeof(struct layer_params));
	m->act.layers = calloc((size_t)L, sizeof(struct layer_acts));
	if (!m->tensors || !m->params.layers || !m->grads.layers || !m->act.layers) {
		model_release(m);
		return err_set(e, ERR_NOMEM, "cannot allocate model tables");
	}
	m->num_params = model_layout(m);
	if (!(m->params_mem = model_alloc_floats(m->num_params, "parameters", e)) ||
		model_resize(m, max_B, max_T, false, e) < 0) {
		model_release(m);
		return -1;
	}
	model_point(m, m->params_mem, &m->params);
	return 0;
}

int model_tensor_table(const struct model_config *cfg, struct model_tensor **tensors, int *n,
	size_t *num_params, struct err *e)
{
	struct model m = { .cfg = *cfg };
	if (config_validate(cfg, e) < 0)
		return -1;
	m.tensors = calloc((size_t)model_layer_tensors(cfg) * cfg->n_layers + 3, sizeof *m.tensors);
	if (!m.tensors)
		return err_set(e, ERR_NOMEM, "cannot allocate the tensor table of %d layers", cfg->n_layers);
	size_t np = model_layout(&m);
	*tensors = m.tensors;
	*n = m.n_tensors;
	if (num_params)
		*num_params = np;
	return 0;
}

void model_release(struct model *m)
{
	free(m->tensors);
	free(m->params.layers);
	free(m->grads.layers);
	free(m->act.layers);
	free(m->params_mem);
	free(m->grads_mem);
	free(m->m_mem);
	free(m->v_mem);
	free(m->acts_mem);
	free(m->head_idx);
	memset(m, 0, sizeof *m);
}

int model_alloc_optimizer(struct model *m, struct err *e)
{
	if (m->m_mem)
		return 0;
	m->m_mem = model_alloc_floats(m->num_params, "AdamW moments", e);
	m->v_mem = m->m_mem ? model_alloc_floats(m->num_params, "AdamW moments", e) : NULL;
	if (!m->v_mem) {
		free(m->m_mem);
		m->m_mem = NULL;
		return -1;
	}
	return 0;
}

void model_init_weights(struct model *m, uint64_t seed)
{
	/* One stream per tensor keyed by its name: init does not depend on layout order. */
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		float *p = m->params_mem + t->offset;
		if (t->ndim == 1) { /* norms start at 1, biases (".bias") at 0 */
			size_t n = strlen(t->name);
			float v = n > 5 && strcmp(t->name + n - 5, ".bias") == 0 ? 0.0f : 1.0f;
			for (size_t j = 0; j < t->numel; j++)
				p[j] = v;
			continue;
		}
		struct rng r;
		rng_init(&r, rng_key_str(seed, t->name));
		for (size_t j = 0; j < t->numel; j++)
			p[j] = 0.02f * rng_normal(&r);
	}
}

void model_zero_grad(struct model *m)
{
	assert(m->grads_mem); /* not an inference-only model */
	memset(m->grads_mem, 0, m->num_params * sizeof(float));
}

const struct model_tensor *model_find_tensor(const struct model *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

/* ---- forward / backward ------------------------------------------------------- */

/* Re-carve the activation buffer for this call's (B, T) so tensors are dense. */
static void model_set_shape(struct model *m, int B, int T)
{
	assert(B >= 1 && B <= m->max_B && T >= 1 && T <= m->max_T);
	if (B == m->B && T == m->T)
		return;
	model_carve_acts(m, m->acts_mem, B, T);
	m->B = B;
	m->T = T;
}

static void copy_part(void *p, int begin, int end)
{
	float **io = p; /* {dst, src}, unit = 1024 floats */
	memcpy(io[0] + (size_t)begin * 1024, io[1] + (size_t)begin * 1024, (size_t)(end - begin) * 1024 * sizeof(float));
}

static void copy_floats(float *dst, const float *src, size_t n)
{
	size_t units = n / 1024;
	float *io[2] = { dst, (float *)src };
	pool_for((int)units, (long)n, copy_part, io);
	memcpy(dst + units * 1024, src + units * 1024, (n - units * 1024) * sizeof(float));
}

/*
 * Layer l's forward from la->x: ln1, q/k/v (bias, head norms, RoPE), attention,
 * o_proj into the residual x2, ln2, gate/up, SwiGLU, down_proj into `next` (the next
 * layer's x). next NULL: stop before it (a checkpointed backward recomputes the
 * activations, not the output, which the next layer's x already holds).
 */
static void layer_forward(struct model *m, int l, const struct model_batch *batch, float *next)
{
	const struct model_config *c = &m->cfg;
	int B = m->B, T = m->T, N = B * T, C = c->dim, F = c->ffn;
	int NH = c->n_heads, NKV = c->n_kv_heads, HD = config_head_dim(c), QKV = (NH + 2 * NKV) * HD;
	struct model_acts *a = &m->act;
	struct layer_acts *la = &a->layers[l];
	const struct layer_params *lp = &m->params.layers[l];
	rmsnorm_forward(la->ln1, la->ln1_rstd, la->x, lp->ln1, N, C, c->norm_eps);
	matmul_forward(la->qkv, QKV, la->ln1, lp->wqkv, N, C, QKV, 0.0f);
	if (m->lora)
		lora_forward(m->lora, l, LORA_SITE_QKV, la->qkv, QKV, la->ln1, N);
	if (lp->bqkv)
		bias_forward(la->qkv, lp->bqkv, N, QKV);
	if (lp->qknorm)
		headnorm_forward(la->qkv, la->qk_raw, la->qk_rstd, lp->qknorm, N, NH, NKV, HD, c->norm_eps);
	rope_forward(la->qkv, a->rope_cos, a->rope_sin, B, T, NH, NKV, HD);
	attention_forward(la->atty, la->att, la->qkv, batch->lengths, B, T, NH, NKV, HD);
	copy_floats(la->x2, la->x, (size_t)N * C);
	matmul_forward(la->x2, C, la->atty, lp->wo, N, NH * HD, C, 1.0f);
	if (m->lora)
		lora_forward(m->lora, l, LORA_SITE_O, la->x2, C, la->atty, N);
	rmsnorm_forward(la->ln2, la->ln2_rstd, la->x2, lp->ln2, N, C, c->norm_eps);
	matmul_forward(la->gu, 2 * F, la->ln2, lp->wgu, N, C, 2 * F, 0.0f);
	if (m->lora)
		lora_forward(m->lora, l, LORA_SITE_GU, la->gu, 2 * F, la->ln2, N);
	swiglu_forward(la->h, la->gu, N, F);
	if (!next)
		return;
	copy_floats(next, la->x2, (size_t)N * C);
	matmul_forward(next, C, la->h, lp->wd, N, F, C, 1.0f);
	if (m->lora)
		lora_forward(m->lora, l, LORA_SITE_DOWN, next, C, la->h, N);
}

/* Layer l's backward: a->dx holds d(loss)/d(output) in, d(loss)/d(la->x) out. */
static void layer_backward(struct model *m, int l, const struct model_batch *batch)
{
	const struct model_config *c = &m->cfg;
	int B = m->B, T = m->T, N = B * T, C = c->dim, F = c->ffn;
	int NH = c->n_heads, NKV = c->n_kv_heads, HD = config_head_dim(c), QKV = (NH + 2 * NKV) * HD;
	struct model_acts *a = &m->act;
	struct layer_acts *la = &a->layers[l];
	const struct layer_params *lp = &m->params.layers[l];
	/* with adapters the weights are frozen: their gradients are not computed */
	struct layer_params *lg = m->lora ? &m->lora->frozen.layers[l] : &m->grads.layers[l];
	/* next = x2 + h·Wdᵀ: dx flows to x2 unchanged */
	matmul_backward(a->dh, lg->wd, a->dx, la->h, lp->wd, N, F, C, 0.0f);
	if (m->lora)
		lora_backward(m->lora, l, LORA_SITE_DOWN, a->dh, a->dx, C, la->h, N);
	swiglu_backward(a->dgu, a->dh, la->gu, N, F);
	matmul_backward(a->dtmp, lg->wgu, a->dgu, la->ln2, lp->wgu, N, C, 2 * F, 0.0f);
	if (m->lora)
		lora_backward(m->lora, l, LORA_SITE_GU, a->dtmp, a->dgu, 2 * F, la->ln2, N);
	rmsnorm_backward(a->dx, lg->ln2, a->dtmp, la->x2, lp->ln2, la->ln2_rstd, N, C);
	/* x2 = x + atty·Woᵀ */
	matmul_backward(a->dtmp, lg->wo, a->dx, la->atty, lp->wo, N, NH * HD, C, 0.0f);
	if (m->lora)
		lora_backward(m->lora, l, LORA_SITE_O, a->dtmp, a->dx, C, la->atty, N);
	attention_backward(a->dqkv, a->datt, a->dtmp, la->att, la->qkv, batch->lengths, B, T, NH, NKV, HD);
	rope_backward(a->dqkv, a->rope_cos, a->rope_sin, B, T, NH, NKV, HD);
	if (lp->qknorm)
		headnorm_backward(a->dqkv, lg->qknorm, la->qk_raw, la->qk_rstd, lp->qknorm, N, NH, NKV, HD);
	if (lp->bqkv)
		bias_backward(lg->bqkv, a->dqkv, N, QKV);
	matmul_backward(a->dtmp, lg->wqkv, a->dqkv, la->ln1, lp->wqkv, N, C, QKV, 0.0f);
	if (m->lora)
		lora_backward(m->lora, l, LORA_SITE_QKV, a->dtmp, a->dqkv, QKV, la->ln1, N);
	rmsnorm_backward(a->dx, lg->ln1, a->dtmp, la->x, lp->ln1, la->ln1_rstd, N, C);
}

void model_forward(struct model *m, const struct model_batch *batch)
{
	const struct model_config *c = &m->cfg;
	model_set_shape(m, batch->B, batch->T);
	int N = batch->B * batch->T, C = c->dim, V = c->vocab;
	struct model_acts *a = &m->act;
	for (int i = 0; i < N; i++)
		assert(batch->tokens[i] >= 0 && batch->tokens[i] < V);

	embedding_forward(a->layers[0].x, batch->tokens, m->params.embed, N, C);
	for (int l = 0; l < c->n_layers; l++)
		layer_forward(m, l, batch, l + 1 < c->n_layers ? a->layers[l + 1].x : a->xf);
	rmsnorm_forward(a->lnf, a->lnf_rstd, a->xf, m->params.norm, N, C, c->norm_eps);
}

void model_backward(struct model *m, const struct model_batch *batch)
{
	const struct model_config *c = &m->cfg;
	assert(batch->B == m->B && batch->T == m->T);
	int N = m->B * m->T, C = c->dim;
	struct model_acts *a = &m->act;
	/* with adapters the weights are frozen: their gradients are not computed */
	struct model_params *g = m->lora ? &m->lora->frozen : &m->grads;

	/* the loss has run the head: lm_head's gradient is in, dlnf holds the rest */
	memset(a->dx, 0, (size_t)N * C * sizeof(float));
	rmsnorm_backward(a->dx, g->norm, a->dlnf, a->xf, m->params.norm, a->lnf_rstd, N, C);
	for (int l = c->n_layers - 1; l >= 0; l--) {
		/* the shared working set holds the last layer's activations: recompute the others */
		if (m->checkpoint && l < c->n_layers - 1)
			layer_forward(m, l, batch, NULL);
		layer_backward(m, l, batch);
	}
	embedding_backward(g->embed, a->dx, batch->tokens, N, C);
}
