#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "file.h"
#include "safetensors.h"
#include "shards.h"

#define CK_CONFIG "config.json"
#define CK_MODEL "model.safetensors"
#define CK_OPTIM "optimizer.safetensors"
#define CK_OPTIM_FORMAT "r1flow-adamw"

static int ck_path(char *buf, const char *dir, const char *name, struct err *e)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_MAX)
		return err_set(e, ERR_INVALID, "path too long: '%s/%s'", dir, name);
	return 0;
}

/* HF checkpoints may carry RoPE's inv_freq as a buffer; we compute it. */
static int ck_ignorable(const char *name)
{
	static const char suffix[] = "rotary_emb.inv_freq";
	size_t n = strlen(name), k = sizeof suffix - 1;
	return n >= k && strcmp(name + n - k, suffix) == 0;
}

static void ck_shape(const struct model_tensor *t, int64_t shape[2])
{
	shape[0] = t->shape[0];
	shape[1] = t->ndim > 1 ? t->shape[1] : 0;
}

/* The set holds exactly the tensors t[0..n) (of a model with `tied` embeddings),
 * each with its shape and a float dtype; HF's rotary buffers may be there too.
 * `path` (the file or the index) names the set in errors. */
static int ck_match(const struct shards *s, const struct model_tensor *t, int n, bool tied,
	const char *path, struct err *e)
{
	for (int i = 0; i < n; i++) {
		const char *name = t[i].name;
		if (shards_find(s, name))
			continue;
		if (strcmp(name, "lm_head.weight") == 0)
			return err_set(e, ERR_NOTFOUND, "cannot read '%s': no tensor '%s' (config has tie_word_embeddings false)",
				path, name);
		return err_set(e, ERR_NOTFOUND, "cannot read '%s': no tensor '%s'", path, name);
	}
	int extra = 0;  /* every t[i] is in the set, once: count before searching */
	for (int i = 0; i < s->n; i++)
		extra += !ck_ignorable(s->tensors[i].name);
	for (int i = 0; extra > n && i < s->n; i++) {
		const char *name = s->tensors[i].name;
		int known = ck_ignorable(name);
		for (int k = 0; !known && k < n; k++)
			known = strcmp(t[k].name, name) == 0;
		if (known)
			continue;
		if (strcmp(name, "lm_head.weight") == 0 && tied)
			return err_set(e, ERR_FORMAT, "cannot read '%s': unexpected tensor '%s' (config has tie_word_embeddings true)",
				path, name);
		return err_set(e, ERR_FORMAT, "cannot read '%s': unexpected tensor '%s'", path, name);
	}
	for (int i = 0; i < n; i++) {
		int64_t shape[2];
		ck_shape(&t[i], shape);
		if (shards_check_f32(s, t[i].name, t[i].ndim, shape, e))
			return -1;
	}
	return 0;
}

/* The set's path in errors: its index, or its one file. */
static const char *ck_set_path(const struct shards *s)
{
	return s->index ? s->index : s->files[0].path;
}

/* Read m's parameters from the set into params (converted to fp32). */
static int ck_read_set(const struct model *m, struct shards *s, float *params, struct err *e)
{
	if (ck_match(s, m->tensors, m->n_tensors, m->cfg.tied, ck_set_path(s), e))
		return -1;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *t = &m->tensors[i];
		int64_t shape[2];
		ck_shape(t, shape);
		if (shards_read_f32(s, t->name, t->ndim, shape, params + t->offset, e))
			return -1;
	}
	return 0;
}

int checkpoint_read_params_file(const struct model *m, const char *path, float *params,
	struct err *e)
{
	struct shards s;
	if (shards_open_file(&s, path, e))
		return -1;
	int rc = ck_read_set(m, &s, params, e);
	shards_close(&s);
	return rc;
}

int checkpoint_check(const char *dir, struct model_config *cfg, struct err *e)
{
	char path[PATH_MAX];
	struct model_config c;
	struct stat st;
	if (stat(dir, &st) != 0)
		return err_set(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open checkpoint "
			"directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_INVALID, "checkpoint '%s' is not a directory (expected one "
			"with config.json and model.safetensors)", dir);
	if (hfconfig_read(dir, &c, e) || ck_path(path, dir, CK_CONFIG, e))
		return -1;
	/* in floating point: the product of sizes config_validate allows overflows int64 */
	double C = c.dim, HD = config_head_dim(&c), F = c.ffn, QKV = (c.n_heads + 2.0 * c.n_kv_heads) * HD;
	double params = (double)c.vocab * C * (c.tied ? 1 : 2) + C + (double)c.n_layers *
		(2 * C + QKV * C + C * c.n_heads * HD + 3 * F * C + (c.qkv_bias ? QKV : 0) +
		(c.qk_norm ? 2 * HD : 0));
	if (params > CHECKPOINT_MAX_PARAMS)
		return err_set(e, ERR_INVALID, "cannot read '%s': the config makes a model of %.3g "
			"parameters, more than the %.3g r1flow can hold", path, params,
			(double)CHECKPOINT_MAX_PARAMS);
	/* the dtype export writes back: one it can write */
	enum st_dtype dtype;
	if (hfconfig_read_dtype(dir, &dtype, e))
		return -1;
	struct shards f;
	if (shards_open(&f, dir, e))
		return -1;
	const char *what = ck_set_path(&f);
	struct model_tensor *t = NULL;
	int n = 0, rc = -1;
	/* the layer count bounds the table; the files' own tensor count is bounded by their
	 * headers, so a config of too many layers fails here, before the table is made */
	long want = (long)model_layer_tensors(&c) * c.n_layers + 2 + (c.tied ? 0 : 1), have = 0;
	for (int i = 0; i < f.n; i++)
		have += !ck_ignorable(f.tensors[i].name);
	if (have < want) {
		err_set(e, ERR_INVALID, "cannot read '%s': it has %ld tensors, the config in "
			"config.json needs %ld", what, have, want);
		goto out;
	}
	if (model_tensor_table(&c, &t, &n, NULL, e) ||
		ck_match(&f, t, n, c.tied, what, e))
		goto out;
	if (cfg)
		*cfg = c;
	rc = 0;
out:
	free(t);
	shards_close(&f);
	return rc;
}

/* Read every parameter of m from DIR's model files (one or sharded); they must hold
 * exactly those. */
static int ck_read_params(struct model *m, const char *dir, struct err *e)
{
	struct shards s;
	if (shards_open(&s, dir, e))
		return -1;
	int rc = ck_read_set(m, &s, m->params_mem, e);
	shards_close(&s);
	return rc;
}

int checkpoint_load(struct model *m, const char *dir, int max_B, int max_T, struct err *e)
{
	struct model_config cfg;
	*m = (struct model){ 0 };
	if (hfconfig_read(dir, &cfg, e))
		return -1;
	if (model_init(m, &cfg, max_B, max_T > 0 ? max_T : cfg.max_seq, e))
		return -1;
	if (ck_read_params(m, dir, e)) {
		model_release(m);
		*m = (struct model){ 0 };
		return -1;
	}
	return 0;
}

int checkpoint_load_params(struct model *m, const char *dir, struct err *e)
{
	struct model_config c;
	if (hfconfig_read(dir, &c, e))
		return -1;
	/* Shapes cannot show every mismatch: heads at a fixed hidden_size, rope_theta, eps. */
	if (c.arch != m->cfg.arch)
		return err_set(e, ERR_INVALID, "cannot load '%s' into this model: model_type is '%s', the model is '%s'",
			dir, config_arch_name(c.arch), config_arch_name(m->cfg.arch));
	if (memcmp(&c.rope, &m->cfg.rope, sizeof c.rope) != 0)
		return err_set(e, ERR_INVALID, "cannot load '%s' into this model: rope_scaling differs", dir);
	const struct model_config *mc = &m->cfg;
	const struct { const char *key; double file, model; } cmp[] = {
		{ "vocab_size", c.vocab, mc->vocab }, { "hidden_size", c.dim, mc->dim },
		{ "intermediate_size", c.ffn, mc->ffn }, { "num_hidden_layers", c.n_layers, mc->n_layers },
		{ "num_attention_heads", c.n_heads, mc->n_heads },
		{ "num_key_value_heads", c.n_kv_heads, mc->n_kv_heads },
		{ "rope_theta", c.rope_theta, mc->rope_theta }, { "rms_norm_eps", c.norm_eps, mc->norm_eps },
		{ "tie_word_embeddings", c.tied, mc->tied },
		{ "head_dim", config_head_dim(&c), config_head_dim(mc) },
	};
	for (unsigned i = 0; i < sizeof cmp / sizeof cmp[0]; i++)
		if (cmp[i].file != cmp[i].model)
			return err_set(e, ERR_INVALID, "cannot load '%s' into this model: %s is %g, the model has %g",
				dir, cmp[i].key, cmp[i].file, cmp[i].model);
	return ck_read_params(m, dir, e);
}

/* "<name>.exp_avg" / "<name>.exp_avg_sq" */
static void ck_moment_name(char *buf, size_t cap, const char *param, int sq)
{
	snprintf(buf, cap, "%s.%s", param, sq ? "exp_avg_sq" : "exp_avg");
}

#define CK_MOMENT_NAME_MAX (MODEL_TENSOR_NAME_MAX + 16)

static int ck_write_optimizer(const struct model *m, const char *dir, long step, struct err *e)
{
	char path[PATH_MAX], stepbuf[32];
	if (ck_path(path, dir, CK_OPTIM, e))
		return -1;
	int n = 2 * m->n_tensors, rc = -1;
	struct st_write_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
	char (*names)[CK_MOMENT_NAME_MAX] = calloc((size_t)(n ? n : 1), sizeof *names);
	if (!t || !names) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const struct model_tensor *p = &m->tensors[i / 2];
		int sq = i % 2;
		ck_moment_name(names[i], sizeof names[i], p->name, sq);
		t[i] = (struct st_write_tensor){ .name = names[i], .dtype = ST_F32, .ndim = p->ndim,
			.shape = { p->shape[0], p->ndim > 1 ? p->shape[1] : 0 },
			.data = (sq ? m->v_mem : m->m_mem) + p->offset };
	}
	snprintf(stepbuf, sizeof stepbuf, "%ld", step);
	const char *const md[] = { "step", stepbuf, "format", CK_OPTIM_FORMAT, NULL };
	rc = st_write(path, t, n, md, e);
out:
	free(names);
	free(t);
	return rc;
}

int checkpoint_save(const struct model *m, const char *dir, long optimizer_step, struct err *e)
{
	char path[PATH_MAX];
	if (hfconfig_write(dir, &m->cfg, e) || ck_path(path, dir, CK_MODEL, e))
		return -1;
	struct st_write_tensor *t = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *p = &m->tensors[i];
		t[i] = (struct st_write_tensor){ .name = p->name, .dtype = ST_F32, .ndim = p->ndim,
			.shape = { p->shape[0], p->ndim > 1 ? p->shape[1] : 0 },
			.data = m->params_mem + p->offset };
	}
	/* transformers refuses a safetensors checkpoint whose "format" is not a framework;
	 * one file (a daemon blob is one), replacing the shards of an earlier export */
	const char *const md[] = { "format", "pt", NULL };
	int rc = shards_write(dir, t, m->n_tensors, ST_F32, UINT64_MAX, md, e);
	free(t);
	if (rc)
		return -1;
	if (optimizer_step > 0 && m->m_mem && m->v_mem)
		return ck_write_optimizer(m, dir, optimizer_step, e);
	/* A stale optimizer file would pair old moments with these parameters. */
	if (ck_path(path, dir, CK_OPTIM, e))
		return -1;
	if (unlink(path) != 0 && errno != ENOENT)
		return err_sys(e, errno, "cannot remove '%s'", path);
	return 0;
}

int checkpoint_load_optimizer(struct model *m, const char *dir, long *step, struct err *e)
{
	char path[PATH_MAX], name[CK_MOMENT_NAME_MAX];
	struct st_file f;
	if (ck_path(path, dir, CK_OPTIM, e) || st_open(&f, path, e))
		return -1;
	int rc = -1;
	const char *fmt = st_metadata(&f, "format"), *s = st_metadata(&f, "step");
	if (!fmt || strcmp(fmt, CK_OPTIM_FORMAT) != 0) {
		err_set(e, ERR_FORMAT, "cannot read '%s': metadata 'format' is %s%s%s, expected '%s'", path,
			fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "", CK_OPTIM_FORMAT);
		goto out;
	}
	char *end = NULL;
	errno = 0;
	long st = s ? strtol(s, &end, 10) : -1;
	if (!s || !(s[0] >= '0' && s[0] <= '9') || *end || errno) {
		err_set(e, ERR_FORMAT, "cannot read '%s': metadata 'step' is %s%s%s, expected a non-negative integer",
			path, s ? "'" : "", s ? s : "missing", s ? "'" : "");
		goto out;
	}
	for (int i = 0; i < f.n; i++) {
		const char *tn = f.tensors[i].name;
		const char *dot = strrchr(tn, '.');
		size_t plen = dot ? (size_t)(dot - tn) : 0;
		const struct model_tensor *p = NULL;
		if (dot && plen < sizeof name && (strcmp(dot, ".exp_avg") == 0 || strcmp(dot, ".exp_avg_sq") == 0)) {
			memcpy(name, tn, plen);
			name[plen] = '\0';
			p = model_find_tensor(m, name);
		}
		if (!p) {
			err_set(e, ERR_FORMAT, "cannot read '%s': unexpected tensor '%s'", path, tn);
			goto out;
		}
	}
	if (model_alloc_optimizer(m, e))
		goto out;
	for (int i = 0; i < 2 * m->n_tensors; i++) {
		const struct model_tensor *p = &m->tensors[i / 2];
		int64_t shape[2];
		ck_shape(p, shape);
		ck_moment_name(name, sizeof name, p->name, i % 2);
		if (st_read_f32(&f, name, p->ndim, shape, (i % 2 ? m->v_mem : m->m_mem) + p->offset, e))
			goto out;
	}
	*step = st;
	rc = 0;
out:
	st_close(&f);
	return rc;
}
