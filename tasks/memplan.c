/* memplan — the memory a pipeline spec needs, per process: see memplan.h. */
#include "memplan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "head.h"
#include "model.h"

/* Floats per token of the q and k heads' norm (qk_norm): the heads before it and
 * their rstd. */
static double qk_norm_floats(const struct model_config *c)
{
	return c->qk_norm ? (double)(c->n_heads + c->n_kv_heads) * (config_head_dim(c) + 1) : 0;
}

double memplan_train_row_bytes(const struct model_config *c, int T, bool checkpoint)
{
	double C = c->dim, F = c->ffn, L = c->n_layers, NH = c->n_heads, HD = config_head_dim(c);
	double QKV = (double)(c->n_heads + 2 * c->n_kv_heads) * HD, A = NH * HD;
	/* model.c's activations: a layer's working set x ln1 x2 ln2, atty, 2 rstd, qkv,
	 * the raw q/k heads and their rstd (qk_norm), gu h, and its T x T attention per
	 * head — every layer's, or with checkpointing every layer's x and one working
	 * set; then xf lnf dlnf dx, dtmp, rstd, tok_stats, dqkv, dgu dh and datt */
	double layer = 4 * C + A + 2 + QKV + qk_norm_floats(c) + 3 * F;
	double layers = checkpoint ? L * C + layer - C : L * layer;
	double att = (checkpoint ? 2 : L + 1) * NH * (double)T;
	double floats = T * (layers + 4 * C + (A > C ? A : C) + 1 + MODEL_TOK_STATS + QKV + 3 * F + att);
	return 4.0 * floats;
}

double memplan_row_bytes(const struct model_config *c, int T)
{
	return memplan_train_row_bytes(c, T, false);
}

double memplan_head_bytes(const struct model_config *c)
{
	/* head.h's chunk: logits, and the chunk's lnf rows and their gradient */
	return 4.0 * head_chunk_rows(c->vocab) * ((double)c->vocab + 2.0 * c->dim);
}

double memplan_gen_bytes(const struct model_config *c, int max_len)
{
	double C = c->dim, V = c->vocab, F = c->ffn, L = c->n_layers, NH = c->n_heads;
	double HD = config_head_dim(c), KV = c->n_kv_heads * HD;
	double QKV = (c->n_heads + 2 * c->n_kv_heads) * HD;
	/* generate.c's gen_init per sequence: K and V caches of every layer, one
	 * position's x/ln/atty (NH x HD)/qkv/q and k before their norm/gu/h, logits and
	 * probabilities, scores over max_len; the sampler's index buffer (8 V) and the
	 * result's tokens and log-probs */
	return 4.0 * (2 * L * max_len * KV + 2 * C + NH * HD + QKV + qk_norm_floats(c) + 3 * F +
		2 * V + NH * max_len + 2 * max_len) + 8 * V + (double)max_len * 10 + 64;
}

double memplan_prefill_bytes(const struct model_config *c, int P)
{
	double C = c->dim, F = c->ffn, NH = c->n_heads, HD = config_head_dim(c);
	double QKV = (c->n_heads + 2 * c->n_kv_heads) * HD;
	double QK = c->qk_norm ? c->n_heads + c->n_kv_heads : 0;
	/* generate.c's prefill per sequence of P prompt tokens: x and its norm, rstd,
	 * then qkv + the q/k norm's state + attention output or gate/up + their product
	 * (one region), the padded token ids; the attention probabilities NH x P x P
	 * (generate.c runs fewer sequences at once when they exceed 64 MiB) */
	double work = fmax(QKV + QK * HD + QK + NH * HD, 3 * F);
	return 4.0 * (P * (2 * C + 1 + work + 1) + NH * P * (double)P);
}

double memplan_rows(double budget, double per_row, double n)
{
	double rows = floor(budget / per_row);
	if (rows < 1)
		rows = 1;
	return rows < n ? rows : n;
}

/* c's integer (number) key into *out; absent keys keep config_defaults' value. */
static void take_int(const json_t *c, const char *key, int *out)
{
	if (json_is_integer(json_object_get(c, key)))
		*out = (int)json_integer_value(json_object_get(c, key));
}

static void take_float(const json_t *c, const char *key, float *out)
{
	if (json_is_number(json_object_get(c, key)))
		*out = (float)json_number_value(json_object_get(c, key));
}

int memplan_model_config(const json_t *c, struct model_config *cfg, struct err *err)
{
	const char *arch = json_string_value(json_object_get(c, "architecture"));
	config_defaults(cfg);
	for (int a = ARCH_LLAMA; arch && a <= ARCH_QWEN3; a++)
		if (!strcmp(arch, config_arch_name((enum model_arch)a)))
			cfg->arch = (enum model_arch)a;
	if (arch && strcmp(arch, config_arch_name(cfg->arch)))
		return err_set(err, ERR_INVALID, "invalid model config: architecture '%s' is not "
			"supported (supported: llama, mistral, qwen2, qwen3)", arch);
	/* implied by the architecture, as HF's config classes imply them */
	cfg->qkv_bias = cfg->arch == ARCH_QWEN2;
	cfg->qk_norm = cfg->arch == ARCH_QWEN3;
	take_int(c, "dim", &cfg->dim);
	take_int(c, "layers", &cfg->n_layers);
	take_int(c, "heads", &cfg->n_heads);
	cfg->n_kv_heads = cfg->n_heads;
	take_int(c, "kv_heads", &cfg->n_kv_heads);
	take_int(c, "ffn", &cfg->ffn);
	take_int(c, "max_seq", &cfg->max_seq);
	cfg->tied = json_is_true(json_object_get(c, "tied"));
	take_float(c, "rope_theta", &cfg->rope_theta);
	take_float(c, "norm_eps", &cfg->norm_eps);
	/* dim / heads is head_dim 0 (config.h): a Llama config.json stays as it was */
	int hd = 0;
	take_int(c, "head_dim", &hd);
	if (cfg->n_heads > 0 && !(cfg->dim % cfg->n_heads == 0 && hd == cfg->dim / cfg->n_heads))
		cfg->head_dim = hd;
	return config_validate(cfg, err);
}

int memplan_config(const json_t *spec, int vocab, struct model_config *cfg, struct err *err)
{
	const json_t *model = json_object_get(spec, "model");
	const json_t *c = json_object_get(model, "config");
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	config_defaults(cfg);
	if (dir)
		return hfconfig_read(dir, cfg, err) < 0 ? err_wrap(err, "model.checkpoint") : 1;
	if (!c)
		return 0;
	if (memplan_model_config(c, cfg, err) < 0)
		return err_wrap(err, "model.config");
	if (vocab > 0)
		cfg->vocab = vocab;
	return config_validate(cfg, err) < 0 ? err_wrap(err, "model.config") : 1;
}

static int is_training(const char *kind)
{
	return kind && (!strcmp(kind, "pretrain") || !strcmp(kind, "sft") || !strcmp(kind, "grpo"));
}

static double num(const json_t *st, const char *key)
{
	return json_number_value(json_object_get(st, key));
}

/* reach[i * n + j]: stage j depends on stage i, directly or not. NULL when out of
 * memory. */
static unsigned char *reachability(const json_t *stages, size_t n)
{
	unsigned char *r = calloc(n > 0 ? n * n : 1, 1);
	if (!r)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		size_t k;
		const json_t *dep;
		json_array_foreach(json_object_get(json_array_get(stages, j), "deps"), k, dep)
			for (size_t i = 0; i < n; i++)
				if (json_equal(json_object_get(json_array_get(stages, i), "name"), dep))
					r[i * n + j] = 1;
	}
	for (size_t m = 0; m < n; m++) /* Warshall: through stage m */
		for (size_t i = 0; i < n; i++)
			if (r[i * n + m])
				for (size_t j = 0; j < n; j++)
					r[i * n + j] |= r[m * n + j];
	return r;
}

struct matching {
	const unsigned char *reach, *train;
	size_t n;
	long *match;          /* [n]: the stage matched to j on the right, -1 none */
	unsigned char *seen;  /* [n] */
};

/* Kuhn's augmenting path from training stage u to a later training stage. */
static int augment(struct matching *m, size_t u)
{
	for (size_t v = 0; v < m->n; v++) {
		if (!m->train[v] || !m->reach[u * m->n + v] || m->seen[v])
			continue;
		m->seen[v] = 1;
		if (m->match[v] < 0 || augment(m, (size_t)m->match[v])) {
			m->match[v] = (long)u;
			return 1;
		}
	}
	return 0;
}

/* The most training stages that can run at the same time: the largest set of which
 * none depends on another — by Dilworth's theorem, the training stages less a
 * maximum matching of "i runs before j" (the fewest chains covering them). Every
 * training stage when out of memory (an upper bound). */
static int concurrent_learners(const json_t *stages, size_t n)
{
	int count = 0;
	unsigned char *reach = reachability(stages, n), *train = calloc(n + 1, 1);
	struct matching m = { reach, train, n, calloc(n + 1, sizeof(long)), calloc(n + 1, 1) };
	for (size_t i = 0; i < n; i++) {
		int t = is_training(json_string_value(json_object_get(json_array_get(stages, i),
			"kind")));
		count += t;
		if (train)
			train[i] = (unsigned char)t;
	}
	if (reach && train && m.match && m.seen) {
		for (size_t v = 0; v < n; v++)
			m.match[v] = -1;
		for (size_t u = 0; u < n; u++) {
			if (!train[u])
				continue;
			memset(m.seen, 0, n);
			count -= augment(&m, u);
		}
	}
	free(reach);
	free(train);
	free(m.match);
	free(m.seen);
	return count;
}

/* A job of stage `st` on the worker: keep it when it is the largest so far. */
static void worker_job(struct memplan *mp, const char *kind, const json_t *st, double model,
	double ref, double head, double rows, double row_bytes)
{
	double total = model + ref + head + rows * row_bytes;
	if (total <= mp->worker)
		return;
	mp->worker = total;
	snprintf(mp->job_kind, sizeof mp->job_kind, "%s", kind);
	snprintf(mp->job_stage, sizeof mp->job_stage, "%s",
		json_string_value(json_object_get(st, "name")));
	mp->job_model = model;
	mp->job_ref = ref;
	mp->job_head = head;
	mp->job_rows = rows;
	mp->job_row_bytes = row_bytes;
}

void memplan_spec(const json_t *spec, const struct model_config *cfg, struct memplan *mp)
{
	memset(mp, 0, sizeof *mp);
	const json_t *stages = json_object_get(spec, "stages");
	size_t n = json_array_size(stages);
	double P = (double)config_num_params(cfg), S = cfg->max_seq;
	/* model_init's rope tables: max_seq x HD/2, cos and sin */
	double rope = 4.0 * S * config_head_dim(cfg);
	mp->params = P;
	/* the learner's model is sized for one row: its head chunk is one row too */
	mp->learner = 16 * P + memplan_row_bytes(cfg, 1) + 4.0 * (cfg->vocab + 2.0 * cfg->dim) + rope;
	double model = 8 * P + rope; /* a grad job's weights + gradients */
	double head = memplan_head_bytes(cfg);

	mp->learners = concurrent_learners(stages, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *st = json_array_get(stages, i);
		const char *kind = json_string_value(json_object_get(st, "kind"));
		if (is_training(kind)) {
			int T = cfg->max_seq > 1 ? cfg->max_seq - 1 : 1;
			/* rows as without checkpointing (job_grad.c), each smaller with it */
			bool ckpt = json_is_true(json_object_get(st, "checkpoint_activations"));
			double rows = memplan_rows(MEMPLAN_GRAD_ACT_BYTES - head, memplan_row_bytes(cfg, T),
				num(st, "shard"));
			double ref = !strcmp(kind, "grpo") && num(st, "beta") > 0 ? 4 * P : 0;
			worker_job(mp, "grad", st, model, ref, head, rows, memplan_train_row_bytes(cfg, T, ckpt));
		}
		double seqs = 0;
		if (kind && !strcmp(kind, "grpo")) {
			double g = num(st, "group");
			seqs = (double)memplan_grpo_prompts((long long)g) * g;
		} else if (kind && !strcmp(kind, "eval")) {
			seqs = MEMPLAN_EVAL_PROMPTS * fmax(1, num(st, "samples"));
		} else if (kind && !strcmp(kind, "rejection_sample")) {
			seqs = MEMPLAN_REJECT_PROMPTS * num(st, "samples");
		}
		if (seqs > 0) {
			int new = (int)num(st, "max_new_tokens");
			int longest = cfg->max_seq - new > 1 ? cfg->max_seq - new : 1;
			double row = memplan_gen_bytes(cfg, cfg->max_seq) + memplan_prefill_bytes(cfg, longest);
			/* a GRPO worker keeps the reference weights between its grad jobs */
			double ref = !strcmp(kind, "grpo") && num(st, "beta") > 0 ? 4 * P : 0;
			/* generation runs on an inference-only model: weights alone, no head chunk */
			worker_job(mp, "rollout", st, 4 * P + rope, ref, 0,
				memplan_rows(MEMPLAN_ROLLOUT_BYTES, row, seqs), row);
		}
	}
	if (mp->learners > 0) {
		mp->ckpt_buffer = 8 * P;
		mp->daemon = mp->learners * mp->learner + mp->ckpt_buffer;
	}
}

const char *memplan_fmt(double bytes, char *buf, size_t size)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = 0;
	while (bytes >= 1024 && u < 5)
		bytes /= 1024, u++;
	if (u == 0)
		snprintf(buf, size, "%.0f B", bytes);
	else
		snprintf(buf, size, bytes < 10 ? "%.2f %s" : "%.1f %s", bytes, unit[u]);
	return buf;
}
