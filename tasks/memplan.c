/* memplan — the memory a pipeline spec needs, per process: see memplan.h. */
#include "memplan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "model.h"

double memplan_row_bytes(const struct model_config *c, int T)
{
	double C = c->dim, V = c->vocab, F = c->ffn, L = c->n_layers, NH = c->n_heads;
	double QKV = (double)(c->n_heads + 2 * c->n_kv_heads) * config_head_dim(c);
	/* model.c's activations, per layer: x ln1 atty x2 ln2, 2 rstd, qkv, gu h; then
	 * xf lnf, rstd, logits dlogits, tok_stats, dx dtmp, dqkv, dgu dh; att and datt
	 * are T x T per head (every layer's att, one datt) */
	double floats = T * (L * (5 * C + 2 + QKV + 3 * F) + 4 * C + 1 + 2 * V + MODEL_TOK_STATS +
		QKV + 3 * F) + (L + 1) * NH * T * (double)T;
	return 4.0 * floats;
}

double memplan_gen_bytes(const struct model_config *c, int max_len)
{
	double C = c->dim, V = c->vocab, F = c->ffn, L = c->n_layers, NH = c->n_heads;
	double HD = config_head_dim(c), KV = c->n_kv_heads * HD;
	double QKV = (c->n_heads + 2 * c->n_kv_heads) * HD;
	/* generate.c's gen_init per sequence: K and V caches of every layer, one
	 * position's x/ln/qkv/gu/h, logits and probabilities, scores over max_len; the
	 * sampler's index buffer (8 V) and the result's tokens and log-probs */
	return 4.0 * (2 * L * max_len * KV + 3 * C + QKV + 3 * F + 2 * V + NH * max_len +
		2 * max_len) + 8 * V + (double)max_len * 10 + 64;
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

int memplan_config(const json_t *spec, int vocab, struct model_config *cfg, struct err *err)
{
	const json_t *model = json_object_get(spec, "model");
	const json_t *c = json_object_get(model, "config");
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	config_defaults(cfg);
	if (dir)
		return checkpoint_read_config(dir, cfg, err) < 0 ? err_wrap(err, "model.checkpoint") : 1;
	if (!c)
		return 0;
	cfg->dim = (int)json_integer_value(json_object_get(c, "dim"));
	cfg->n_layers = (int)json_integer_value(json_object_get(c, "layers"));
	cfg->n_heads = (int)json_integer_value(json_object_get(c, "heads"));
	cfg->n_kv_heads = (int)json_integer_value(json_object_get(c, "kv_heads"));
	cfg->ffn = (int)json_integer_value(json_object_get(c, "ffn"));
	cfg->max_seq = (int)json_integer_value(json_object_get(c, "max_seq"));
	cfg->tied = json_is_true(json_object_get(c, "tied"));
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
	double ref, double rows, double row_bytes)
{
	double total = model + ref + rows * row_bytes;
	if (total <= mp->worker)
		return;
	mp->worker = total;
	snprintf(mp->job_kind, sizeof mp->job_kind, "%s", kind);
	snprintf(mp->job_stage, sizeof mp->job_stage, "%s",
		json_string_value(json_object_get(st, "name")));
	mp->job_model = model;
	mp->job_ref = ref;
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
	mp->learner = 16 * P + memplan_row_bytes(cfg, 1) + rope;
	double model = 8 * P + rope; /* a grad job's weights + gradients */

	mp->learners = concurrent_learners(stages, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *st = json_array_get(stages, i);
		const char *kind = json_string_value(json_object_get(st, "kind"));
		if (is_training(kind)) {
			int T = cfg->max_seq > 1 ? cfg->max_seq - 1 : 1;
			double row = memplan_row_bytes(cfg, T);
			double ref = !strcmp(kind, "grpo") && num(st, "beta") > 0 ? 4 * P : 0;
			worker_job(mp, "grad", st, model, ref,
				memplan_rows(MEMPLAN_GRAD_ACT_BYTES, row, num(st, "shard")), row);
		}
		double seqs = 0;
		if (kind && !strcmp(kind, "grpo")) {
			double g = num(st, "group"), per = floor(MEMPLAN_GRPO_SEQS / g);
			seqs = (per > 0 ? per : 1) * g;
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
			/* generation runs on an inference-only model: weights alone */
			worker_job(mp, "rollout", st, 4 * P + rope, ref,
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
