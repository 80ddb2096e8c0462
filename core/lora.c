#include "lora.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "rng.h"
#include "safetensors.h"

static const char *const target_names[LORA_NTARGETS] = {
	"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
};

const char *lora_target_name(enum lora_target t)
{
	assert(t >= 0 && t < LORA_NTARGETS);
	return target_names[t];
}

int lora_target_from_name(const char *name)
{
	for (int t = 0; t < LORA_NTARGETS; t++)
		if (strcmp(name, target_names[t]) == 0)
			return t;
	return -1;
}

/* Where target t sits: its site, its input and output widths and its first column in
 * the site's (possibly fused) output. */
struct lora_geom {
	enum lora_site site;
	int in, out, col;
};

static struct lora_geom geom(const struct model_config *c, int t)
{
	int C = c->dim, F = c->ffn, HD = config_head_dim(c), NH = c->n_heads, NKV = c->n_kv_heads;
	switch (t) {
	case LORA_Q: return (struct lora_geom){ LORA_SITE_QKV, C, NH * HD, 0 };
	case LORA_K: return (struct lora_geom){ LORA_SITE_QKV, C, NKV * HD, NH * HD };
	case LORA_V: return (struct lora_geom){ LORA_SITE_QKV, C, NKV * HD, (NH + NKV) * HD };
	case LORA_O: return (struct lora_geom){ LORA_SITE_O, NH * HD, C, 0 };
	case LORA_GATE: return (struct lora_geom){ LORA_SITE_GU, C, F, 0 };
	case LORA_UP: return (struct lora_geom){ LORA_SITE_GU, C, F, F };
	default: return (struct lora_geom){ LORA_SITE_DOWN, F, C, 0 };
	}
}

/* "self_attn.q_proj" or "mlp.gate_proj" */
static const char *module_of(int t)
{
	static const char *const mods[LORA_NTARGETS] = {
		"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
		"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
	};
	return mods[t];
}

static void add_tensor(struct model *p, size_t *off, const char *name, int rows, int cols)
{
	struct model_tensor *t = &p->tensors[p->n_tensors++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->offset = *off;
	t->ndim = 2;
	t->shape[0] = rows;
	t->shape[1] = cols;
	t->numel = (size_t)rows * (size_t)cols;
	*off += t->numel;
}

size_t lora_num_params(const struct model_config *cfg, const struct lora_config *lcfg)
{
	size_t n = 0;
	for (int t = 0; t < LORA_NTARGETS; t++)
		if (lcfg->targets & (1u << t)) {
			struct lora_geom g = geom(cfg, t);
			n += (size_t)lcfg->rank * (size_t)(g.in + g.out);
		}
	return n * (size_t)cfg->n_layers;
}

int lora_init(struct lora *lo, const struct model_config *cfg, const struct lora_config *lcfg,
	struct err *e)
{
	memset(lo, 0, sizeof *lo);
	if (lcfg->rank < 1 || lcfg->rank > LORA_RANK_MAX)
		return err_set(e, ERR_INVALID, "lora rank %d is out of range 1..%d", lcfg->rank,
			LORA_RANK_MAX);
	if (!(lcfg->targets & LORA_ALL_TARGETS) || (lcfg->targets & ~LORA_ALL_TARGETS))
		return err_set(e, ERR_INVALID, "lora targets: need at least one of q_proj, k_proj, "
			"v_proj, o_proj, gate_proj, up_proj, down_proj");
	if (!isfinite(lcfg->alpha))
		return err_set(e, ERR_INVALID, "lora alpha is not finite");
	lo->cfg = *lcfg;
	lo->model = *cfg;
	lo->scale = lcfg->alpha / (float)lcfg->rank;
	int L = cfg->n_layers, r = lcfg->rank;
	size_t n = (size_t)L * LORA_NTARGETS;
	lo->p.cfg = *cfg;
	lo->p.tensors = calloc(2 * n, sizeof *lo->p.tensors);
	lo->params = calloc(n, sizeof *lo->params);
	lo->grads = calloc(n, sizeof *lo->grads);
	lo->frozen.layers = calloc((size_t)L, sizeof *lo->frozen.layers);
	if (!lo->p.tensors || !lo->params || !lo->grads || !lo->frozen.layers) {
		lora_release(lo);
		return err_set(e, ERR_NOMEM, "cannot allocate the lora tables of %d layers", L);
	}
	size_t off = 0;
	char name[MODEL_TENSOR_NAME_MAX];
	for (int l = 0; l < L; l++)
		for (int t = 0; t < LORA_NTARGETS; t++) {
			if (!(lcfg->targets & (1u << t)))
				continue;
			struct lora_geom g = geom(cfg, t);
			snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_A.weight", l,
				module_of(t));
			add_tensor(&lo->p, &off, name, r, g.in);
			snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_B.weight", l,
				module_of(t));
			add_tensor(&lo->p, &off, name, g.out, r);
		}
	lo->p.num_params = off;
	lo->p.params_mem = calloc(off ? off : 1, sizeof(float));
	lo->p.grads_mem = calloc(off ? off : 1, sizeof(float));
	if (!lo->p.params_mem || !lo->p.grads_mem) {
		lora_release(lo);
		return err_set(e, ERR_NOMEM, "cannot allocate %zu lora parameters", off);
	}
	int k = 0;
	for (int l = 0; l < L; l++)
		for (int t = 0; t < LORA_NTARGETS; t++) {
			if (!(lcfg->targets & (1u << t)))
				continue;
			const struct model_tensor *ta = &lo->p.tensors[k++], *tb = &lo->p.tensors[k++];
			size_t i = (size_t)l * LORA_NTARGETS + (size_t)t;
			lo->params[i] = (struct lora_adapter){ lo->p.params_mem + ta->offset,
				lo->p.params_mem + tb->offset };
			lo->grads[i] = (struct lora_adapter){ lo->p.grads_mem + ta->offset,
				lo->p.grads_mem + tb->offset };
		}
	return 0;
}

void lora_release(struct lora *lo)
{
	model_release(&lo->p);
	free(lo->params);
	free(lo->grads);
	free(lo->frozen.layers);
	free(lo->scratch);
	memset(lo, 0, sizeof *lo);
}

void lora_init_weights(struct lora *lo, uint64_t seed)
{
	for (int i = 0; i < lo->p.n_tensors; i++) {
		const struct model_tensor *t = &lo->p.tensors[i];
		float *p = lo->p.params_mem + t->offset;
		if (strstr(t->name, ".lora_B.")) {
			memset(p, 0, t->numel * sizeof *p);
			continue;
		}
		/* kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√fan_in */
		float bound = 1.0f / sqrtf((float)t->shape[1]);
		struct rng r;
		rng_init(&r, rng_key_str(seed, t->name));
		for (size_t j = 0; j < t->numel; j++)
			p[j] = bound * (2.0f * rng_uniform(&r) - 1.0f);
	}
}

void lora_zero_grad(struct lora *lo)
{
	memset(lo->p.grads_mem, 0, lo->p.num_params * sizeof(float));
}

int lora_attach(struct lora *lo, struct model *m, struct err *e)
{
	const struct model_config *a = &lo->model, *b = &m->cfg;
	if (a->dim != b->dim || a->ffn != b->ffn || a->n_layers != b->n_layers ||
		a->n_heads != b->n_heads || a->n_kv_heads != b->n_kv_heads ||
		config_head_dim(a) != config_head_dim(b))
		return err_set(e, ERR_INVALID, "cannot attach lora adapters: they were laid out for "
			"another model shape");
	if (lora_reserve(lo, (size_t)m->max_B * (size_t)m->max_T, e) < 0)
		return -1;
	m->lora = lo;
	return 0;
}

int lora_reserve(struct lora *lo, size_t rows, struct err *e)
{
	if (rows <= lo->scratch_rows)
		return 0;
	float *s = realloc(lo->scratch, 2 * rows * (size_t)lo->cfg.rank * sizeof(float));
	if (!s)
		return err_set(e, ERR_NOMEM, "cannot allocate lora scratch for %zu rows", rows);
	lo->scratch = s;
	lo->scratch_rows = rows;
	return 0;
}

/* u (N, r) = s · inp · Aᵀ */
static void lora_down(const struct lora *lo, float *u, const float *a, const float *inp, int N,
	int in)
{
	int r = lo->cfg.rank;
	matmul_forward(u, r, inp, a, N, in, r, 0.0f);
	for (size_t i = 0; i < (size_t)N * r; i++)
		u[i] *= lo->scale;
}

void lora_forward(struct lora *lo, int layer, enum lora_site site, float *out, int ldo,
	const float *inp, int N)
{
	assert((size_t)N <= lo->scratch_rows);
	for (int t = 0; t < LORA_NTARGETS; t++) {
		const struct lora_adapter *ad = &lo->params[(size_t)layer * LORA_NTARGETS + (size_t)t];
		struct lora_geom g = geom(&lo->model, t);
		if (g.site != site || !ad->a)
			continue;
		lora_down(lo, lo->scratch, ad->a, inp, N, g.in);
		matmul_forward(out + g.col, ldo, lo->scratch, ad->b, N, lo->cfg.rank, g.out, 1.0f);
	}
}

void lora_backward(struct lora *lo, int layer, enum lora_site site, float *dinp,
	const float *dout, int ldo, const float *inp, int N)
{
	assert((size_t)N <= lo->scratch_rows);
	int r = lo->cfg.rank;
	float *u = lo->scratch, *du = lo->scratch + lo->scratch_rows * (size_t)r;
	for (int t = 0; t < LORA_NTARGETS; t++) {
		size_t i = (size_t)layer * LORA_NTARGETS + (size_t)t;
		const struct lora_adapter *ad = &lo->params[i], *gd = &lo->grads[i];
		struct lora_geom g = geom(&lo->model, t);
		if (g.site != site || !ad->a)
			continue;
		const float *d = dout + g.col;
		lora_down(lo, u, ad->a, inp, N, g.in); /* the forward's B input, recomputed */
		pool_sgemm(true, false, g.out, r, N, 1.0f, d, ldo, u, r, 1.0f, gd->b, r);
		pool_sgemm(false, false, N, r, g.out, lo->scale, d, ldo, ad->b, r, 0.0f, du, r);
		pool_sgemm(true, false, r, g.in, N, 1.0f, du, r, inp, g.in, 1.0f, gd->a, g.in);
		pool_sgemm(false, false, N, g.in, r, 1.0f, du, r, ad->a, g.in, 1.0f, dinp, g.in);
	}
}

int lora_write_mem(const struct lora *lo, void **data, size_t *size, struct err *e)
{
	int n = lo->p.n_tensors;
	struct st_write_tensor *w = calloc((size_t)(n ? n : 1), sizeof *w);
	if (!w)
		return err_set(e, ERR_NOMEM, "cannot write lora adapters: out of memory");
	for (int i = 0; i < n; i++) {
		const struct model_tensor *t = &lo->p.tensors[i];
		w[i] = (struct st_write_tensor){ .name = t->name, .dtype = ST_F32, .ndim = 2,
			.shape = { t->shape[0], t->shape[1] }, .data = lo->p.params_mem + t->offset };
	}
	static const char *const meta[] = { "format", "pt", NULL };
	int rc = st_write_mem("lora adapters", w, n, meta, data, size, e);
	free(w);
	return rc;
}

int lora_read(struct lora *lo, const void *data, size_t size, const char *what, struct err *e)
{
	struct st_file f;
	if (st_open_mem(&f, what, data, size, e) < 0)
		return -1;
	int rc = 0;
	if (f.n != lo->p.n_tensors)
		rc = err_set(e, ERR_FORMAT, "'%s' holds %d tensors, the adapters of rank %d have %d",
			what, f.n, lo->cfg.rank, lo->p.n_tensors);
	for (int i = 0; rc == 0 && i < lo->p.n_tensors; i++) {
		const struct model_tensor *t = &lo->p.tensors[i];
		int64_t shape[2] = { t->shape[0], t->shape[1] };
		rc = st_read_f32(&f, t->name, 2, shape, lo->p.params_mem + t->offset, e);
	}
	st_close(&f);
	return rc;
}

void lora_merge(const struct lora *lo, const struct model *m, float *params)
{
	char name[MODEL_TENSOR_NAME_MAX];
	for (int l = 0; l < lo->model.n_layers; l++)
		for (int t = 0; t < LORA_NTARGETS; t++) {
			const struct lora_adapter *ad = &lo->params[(size_t)l * LORA_NTARGETS + (size_t)t];
			if (!ad->a)
				continue;
			struct lora_geom g = geom(&lo->model, t);
			snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, module_of(t));
			const struct model_tensor *w = model_find_tensor(m, name);
			assert(w && w->shape[0] == g.out && w->shape[1] == g.in);
			pool_sgemm(false, false, g.out, g.in, lo->cfg.rank, lo->scale, ad->b,
				lo->cfg.rank, ad->a, g.in, 1.0f, params + w->offset, g.in);
		}
}

#define LORA_STATE_FORMAT "r1flow-lora-state"

int lora_state_write_mem(const struct lora *lo, long step, void **data, size_t *size,
	struct err *e)
{
	int n = lo->p.n_tensors, rc = -1;
	size_t names = (size_t)n * 2 * (MODEL_TENSOR_NAME_MAX + 16);
	struct st_write_tensor *w = calloc((size_t)(3 * n + 1), sizeof *w);
	char *nm = malloc(names);
	float *zero = calloc(lo->p.m_mem ? 1 : lo->p.num_params + 1, sizeof(float));
	if (!w || !nm || !zero) {
		err_set(e, ERR_NOMEM, "cannot write the lora state: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const struct model_tensor *t = &lo->p.tensors[i];
		char *a = nm + (size_t)i * 2 * (MODEL_TENSOR_NAME_MAX + 16), *b = a + MODEL_TENSOR_NAME_MAX + 16;
		snprintf(a, MODEL_TENSOR_NAME_MAX + 16, "%s.exp_avg", t->name);
		snprintf(b, MODEL_TENSOR_NAME_MAX + 16, "%s.exp_avg_sq", t->name);
		struct st_write_tensor base = { .dtype = ST_F32, .ndim = 2,
			.shape = { t->shape[0], t->shape[1] } };
		w[3 * i] = base;
		w[3 * i].name = t->name;
		w[3 * i].data = lo->p.params_mem + t->offset;
		w[3 * i + 1] = base;
		w[3 * i + 1].name = a;
		w[3 * i + 1].data = lo->p.m_mem ? lo->p.m_mem + t->offset : zero;
		w[3 * i + 2] = base;
		w[3 * i + 2].name = b;
		w[3 * i + 2].data = lo->p.v_mem ? lo->p.v_mem + t->offset : zero;
	}
	char st[32], rank[16], alpha[32], targets[128] = "";
	snprintf(st, sizeof st, "%ld", step);
	snprintf(rank, sizeof rank, "%d", lo->cfg.rank);
	snprintf(alpha, sizeof alpha, "%.9g", lo->cfg.alpha);
	for (int t = 0; t < LORA_NTARGETS; t++)
		if (lo->cfg.targets & (1u << t))
			snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s",
				*targets ? "," : "", target_names[t]);
	const char *const meta[] = { "format", LORA_STATE_FORMAT, "step", st, "rank", rank,
		"alpha", alpha, "targets", targets, NULL };
	rc = st_write_mem("lora state", w, 3 * n, meta, data, size, e);
out:
	free(w);
	free(nm);
	free(zero);
	return rc;
}

static int state_config(const struct st_file *f, const char *what, struct lora_config *c,
	long *step, struct err *e)
{
	const char *fmt = st_metadata(f, "format"), *st = st_metadata(f, "step");
	const char *rank = st_metadata(f, "rank"), *alpha = st_metadata(f, "alpha");
	const char *targets = st_metadata(f, "targets");
	if (!fmt || strcmp(fmt, LORA_STATE_FORMAT) != 0 || !st || !rank || !alpha || !targets)
		return err_set(e, ERR_FORMAT, "'%s' is not a lora state: its metadata lacks format '%s', "
			"step, rank, alpha or targets", what, LORA_STATE_FORMAT);
	char *end;
	*c = (struct lora_config){ .rank = (int)strtol(rank, &end, 10) };
	if (*end || c->rank < 1 || c->rank > LORA_RANK_MAX)
		return err_set(e, ERR_FORMAT, "'%s': metadata 'rank' is '%s', expected 1..%d", what,
			rank, LORA_RANK_MAX);
	c->alpha = strtof(alpha, &end);
	if (*end || !isfinite(c->alpha))
		return err_set(e, ERR_FORMAT, "'%s': metadata 'alpha' is '%s', expected a number", what,
			alpha);
	if (step && ((*step = strtol(st, &end, 10)) < 0 || *end))
		return err_set(e, ERR_FORMAT, "'%s': metadata 'step' is '%s', expected a step", what, st);
	char list[128];
	snprintf(list, sizeof list, "%s", targets);
	for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = lora_target_from_name(t);
		if (k < 0)
			return err_set(e, ERR_FORMAT, "'%s': metadata 'targets' names '%s', not a projection",
				what, t);
		c->targets |= 1u << k;
	}
	if (!c->targets)
		return err_set(e, ERR_FORMAT, "'%s': metadata 'targets' is empty", what);
	return 0;
}

int lora_state_config(const void *data, size_t size, const char *what, struct lora_config *c,
	struct err *e)
{
	struct st_file f;
	if (st_open_mem(&f, what, data, size, e) < 0)
		return -1;
	int rc = state_config(&f, what, c, NULL, e);
	st_close(&f);
	return rc;
}

int lora_state_read(struct lora *lo, const void *data, size_t size, const char *what,
	long *step, struct err *e)
{
	struct st_file f;
	struct lora_config c;
	char name[MODEL_TENSOR_NAME_MAX + 16];
	if (st_open_mem(&f, what, data, size, e) < 0)
		return -1;
	int rc = state_config(&f, what, &c, step, e);
	if (rc == 0 && (c.rank != lo->cfg.rank || c.alpha != lo->cfg.alpha ||
		c.targets != lo->cfg.targets))
		rc = err_set(e, ERR_FORMAT, "'%s' holds adapters of rank %d, alpha %g on other "
			"targets or another shape than the stage's (rank %d, alpha %g)", what, c.rank,
			c.alpha, lo->cfg.rank, lo->cfg.alpha);
	if (rc == 0 && f.n != 3 * lo->p.n_tensors)
		rc = err_set(e, ERR_FORMAT, "'%s' holds %d tensors, expected %d", what, f.n,
			3 * lo->p.n_tensors);
	if (rc == 0)
		rc = model_alloc_optimizer(&lo->p, e);
	for (int i = 0; rc == 0 && i < lo->p.n_tensors; i++) {
		const struct model_tensor *t = &lo->p.tensors[i];
		int64_t shape[2] = { t->shape[0], t->shape[1] };
		rc = st_read_f32(&f, t->name, 2, shape, lo->p.params_mem + t->offset, e);
		snprintf(name, sizeof name, "%s.exp_avg", t->name);
		if (rc == 0)
			rc = st_read_f32(&f, name, 2, shape, lo->p.m_mem + t->offset, e);
		snprintf(name, sizeof name, "%s.exp_avg_sq", t->name);
		if (rc == 0)
			rc = st_read_f32(&f, name, 2, shape, lo->p.v_mem + t->offset, e);
	}
	st_close(&f);
	return rc;
}
