/*
 * job_grad — the gradient of one shard of sequences (docs/protocol.md "grad", core/loss.h).
 *
 * params
 *   weights, config   the model (jobmodel.h)
 *   loss              "ce" | "grpo"
 *   seqs              non-empty array of
 *                       {tokens: [id...] (2..max_seq ids, each < vocab),
 *                        start: S (1 <= S < len(tokens)), weight: w (finite),
 *                        ce: mask: [len(tokens) - S flags 0 or 1] (optional: all 1),
 *                        grpo: adv: A (finite), old_lp: [len(tokens) - S numbers]}
 *   grpo only         ref_weights: sha256 or null (absent = null), beta >= 0,
 *                     clip_low in [0, 1], clip_high >= 0;
 *                     seqs[i].ref_lp: [len(tokens) - S numbers], the reference's
 *                     log-probs (on every sequence or on none): with them the job
 *                     runs no forward of the reference (ref_weights still says the
 *                     KL term is on);
 *                     return_ref_lp: true to get the reference's log-probs back
 *                     (only when the job computes them: ref_weights set, no ref_lp)
 *
 * The shard's loss is Σ_i Σ_{t >= S_i, mask} w_i · ℓ(i, t), ℓ the loss of predicting
 * tokens[t] from tokens[< t]: CE −log p, or GRPO's clipped surrogate + β·k3 KL
 * (loss.h) with ρ = exp(log p − old_lp[t − S]) and the reference model's log-prob
 * of the same token. The daemon picks w_i so that shard gradients add up. Without
 * a reference there is no KL term (β is ignored and kl_sum is 0).
 *
 * Reference log-probs depend on the micro-batching (a GEMM's bits depend on its
 * shape), so the only place that reproduces them exactly is a job over the same
 * shard: the daemon has the first grad round of an RL step return them
 * (return_ref_lp) and hands them to the later rounds (ref_lp), which then run one
 * forward instead of two. Carried as JSON reals (17 significant digits), the
 * floats come back bit for bit.
 *
 * How. Row i of a batch is tokens[0 .. len−2] (inputs), its targets
 * tokens[1 .. len−1]; position t−1 carries weight w_i when t >= S_i and mask[t − S_i]
 * is 1 (a chat: the loss skips the user turns between the assistant's), else 0. Rows
 * go through the model in micro-batches of sequences of similar length (sorted by
 * (length, index), a quarter of the shard or GRAD_GROUP_MIN per micro-batch, fewer
 * if MEMPLAN_GRAD_ACT_BYTES of activations cannot hold them), each padded to its longest:
 * all a function of the params, so the bytes out depend on the params alone. Gradients
 * accumulate (+=) over micro-batches in that order; stats are summed in (row,
 * position) order from the loss's per-token terms.
 *
 * Result: blob 0 = the gradient, n_params fp32 little-endian in the model's flat
 * parameter layout (model.h); {loss: Σ w·ℓ, tokens: positions with w != 0,
 * nll_sum, entropy_sum (nats), grpo: kl_sum, clip_count} — sums over counted
 * tokens, so shards add up.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobmodel.h"
#include "kinds.h"
#include "loss.h"
#include "memplan.h"

#define GRAD_GROUP_MIN 8                      /* sequences per micro-batch, at least */

struct grad_seq {
	int *tokens;
	int n, start;
	float weight, adv;
	float *old_lp;     /* grpo: n − start values */
	float *ref_lp;     /* grpo: n − start values given or computed, or NULL */
	unsigned char *mask; /* ce: n − start flags, NULL: all trained */
};

struct grad_job {
	struct jobmodel_spec spec;
	int grpo;
	const char *ref;   /* grpo: reference weights, or NULL */
	int given_ref_lp;  /* grpo: every sequence carries ref_lp: no reference forward */
	int return_ref_lp; /* grpo: the result carries the computed ref_lp */
	struct grpo_params gp;
	struct grad_seq *seqs;
	size_t n;
	int T;             /* longest input row: max len − 1 */
};

static void grad_job_release(struct grad_job *g)
{
	for (size_t i = 0; g->seqs && i < g->n; i++) {
		free(g->seqs[i].tokens);
		free(g->seqs[i].old_lp);
		free(g->seqs[i].ref_lp);
		free(g->seqs[i].mask);
	}
	free(g->seqs);
	jobmodel_spec_release(&g->spec);
}

static int grad_parse_seq(struct jobparams *p, const struct grad_job *g, const json_t *o,
	struct grad_seq *s)
{
	const struct model_config *c = &g->spec.cfg;
	char max_what[48];
	long long start;
	double w, adv = 0;
	snprintf(max_what, sizeof max_what, "max_seq (%d)", c->max_seq);
	if (jobparams_tokens(p, o, "tokens", c->vocab, c->max_seq, max_what, &s->tokens, &s->n) < 0)
		return -1;
	if (s->n < 2)
		return jobparams_fail(p, "tokens", "%d tokens: need at least 2", s->n);
	if (jobparams_int(p, o, "start", 1, 0, 1, s->n - 1, &start) < 0 ||
		jobparams_num(p, o, "weight", 1, 0, -1e30, 1e30, &w) < 0 ||
		(g->grpo && jobparams_num(p, o, "adv", 1, 0, -1e30, 1e30, &adv) < 0))
		return -1;
	s->start = (int)start;
	s->weight = (float)w;
	s->adv = (float)adv;
	const json_t *a;
	size_t k = (size_t)(s->n - s->start);
	if (!g->grpo) {
		if (!json_object_get(o, "mask"))
			return 0;
		if (jobparams_array(p, o, "mask", "an array of flags (0 or 1)", &a) < 0)
			return -1;
		if (json_array_size(a) != k)
			return jobparams_fail(p, "mask", "%zu flags, expected %zu (one per token from "
				"start)", json_array_size(a), k);
		if (!(s->mask = malloc(k)))
			return err_set(p->err, ERR_NOMEM, "grad: out of memory");
		for (size_t t = 0; t < k; t++) {
			json_int_t f = json_integer_value(json_array_get(a, t));
			if (!json_is_integer(json_array_get(a, t)) || (f != 0 && f != 1))
				return jobparams_fail(p, "mask", "expected an array of flags (0 or 1)");
			s->mask[t] = (unsigned char)f;
		}
		return 0;
	}
	if (json_object_get(o, "mask"))
		return jobparams_fail(p, "mask", "only with loss \"ce\"");
	if (jobparams_array(p, o, "old_lp", "an array of log-probs", &a) < 0)
		return -1;
	if (json_array_size(a) != k)
		return jobparams_fail(p, "old_lp", "%zu values, expected %zu (one per token from start)",
			json_array_size(a), k);
	if (!(s->old_lp = malloc(k * sizeof *s->old_lp)))
		return err_set(p->err, ERR_NOMEM, "grad: out of memory");
	for (size_t t = 0; t < k; t++) {
		const json_t *v = json_array_get(a, t);
		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return jobparams_fail(p, "old_lp", "expected an array of log-probs (finite numbers)");
		s->old_lp[t] = (float)json_number_value(v);
	}
	if (!json_object_get(o, "ref_lp"))
		return 0;
	if (jobparams_array(p, o, "ref_lp", "an array of log-probs", &a) < 0)
		return -1;
	if (json_array_size(a) != k)
		return jobparams_fail(p, "ref_lp", "%zu values, expected %zu (one per token from start)",
			json_array_size(a), k);
	if (!(s->ref_lp = malloc(k * sizeof *s->ref_lp)))
		return err_set(p->err, ERR_NOMEM, "grad: out of memory");
	for (size_t t = 0; t < k; t++) {
		const json_t *v = json_array_get(a, t);
		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return jobparams_fail(p, "ref_lp", "expected an array of log-probs (finite numbers)");
		s->ref_lp[t] = (float)json_number_value(v);
	}
	return 0;
}

static int grad_parse(const json_t *params, struct grad_job *g, struct err *err)
{
	struct jobparams p;
	const char *loss;
	const json_t *seqs;
	jobparams_init(&p, "grad", err);
	if (jobmodel_spec_read(&p, params, &g->spec) < 0 ||
		jobparams_str(&p, params, "loss", 1, &loss, NULL) < 0)
		return -1;
	if (strcmp(loss, "ce") == 0)
		g->grpo = 0;
	else if (strcmp(loss, "grpo") == 0)
		g->grpo = 1;
	else
		return jobparams_fail(&p, "loss", "'%.32s' is not \"ce\" or \"grpo\"", loss);
	if (g->grpo) {
		double beta, lo, hi;
		if (jobparams_sha(&p, params, "ref_weights", 1, &g->ref) < 0 ||
			jobparams_num(&p, params, "beta", 1, 0, 0, 1e30, &beta) < 0 ||
			jobparams_num(&p, params, "clip_low", 1, 0, 0, 1, &lo) < 0 ||
			jobparams_num(&p, params, "clip_high", 1, 0, 0, 1e30, &hi) < 0 ||
			jobparams_bool(&p, params, "return_ref_lp", 0, 0, &g->return_ref_lp) < 0)
			return -1;
		g->gp = (struct grpo_params){ .eps_low = (float)lo, .eps_high = (float)hi,
			.beta = g->ref ? (float)beta : 0.0f };
	}
	if (jobparams_array(&p, params, "seqs", "an array of sequences", &seqs) < 0)
		return -1;
	g->n = json_array_size(seqs);
	if (g->n == 0)
		return jobparams_fail(&p, "seqs", "expected a non-empty array of sequences");
	if (!(g->seqs = calloc(g->n, sizeof *g->seqs)))
		return err_set(err, ERR_NOMEM, "grad: out of memory");
	for (size_t i = 0; i < g->n; i++) {
		const json_t *o = json_array_get(seqs, i);
		char key[32];
		snprintf(key, sizeof key, "seqs[%zu]", i);
		if (!json_is_object(o))
			return jobparams_fail(&p, key, "expected an object");
		jobparams_at(&p, "%s.", key);
		if (grad_parse_seq(&p, g, o, &g->seqs[i]) < 0)
			return -1;
		if (g->seqs[i].n - 1 > g->T)
			g->T = g->seqs[i].n - 1;
		if (g->seqs[i].ref_lp && !g->ref)
			return jobparams_fail(&p, "ref_lp", "given without ref_weights");
		if (i > 0 && !g->seqs[i].ref_lp != !g->seqs[0].ref_lp)
			return jobparams_fail(&p, "ref_lp", "on some sequences only (all or none)");
	}
	g->given_ref_lp = g->grpo && g->seqs[0].ref_lp;
	if (g->return_ref_lp && (!g->ref || g->given_ref_lp))
		g->return_ref_lp = 0; /* nothing computed to return */
	return 0;
}

/* Sequences per micro-batch: as many rows of length T as MEMPLAN_GRAD_ACT_BYTES holds
 * (memplan.h: validate's estimate is this very formula). */
static int grad_rows(const struct model_config *c, int T, size_t n)
{
	return (int)memplan_rows(MEMPLAN_GRAD_ACT_BYTES, memplan_row_bytes(c, T), (double)n);
}

struct grad_bufs {
	int *inputs, *targets, *lengths;  /* (B, T), (B, T), (B) */
	float *w, *adv, *old_lp, *ref_lp; /* (B, T) */
};

/* Fill rows seqs[order[first .. first+B)] padded to T; returns the batch. */
static struct model_batch grad_fill(const struct grad_job *g, struct grad_bufs *b,
	const size_t *order, size_t first, int B, int T)
{
	size_t N = (size_t)B * T;
	memset(b->inputs, 0, N * sizeof(int));
	memset(b->targets, 0, N * sizeof(int));
	memset(b->w, 0, N * sizeof(float));
	memset(b->adv, 0, N * sizeof(float));
	memset(b->old_lp, 0, N * sizeof(float));
	if (g->given_ref_lp)
		memset(b->ref_lp, 0, N * sizeof(float));
	for (int r = 0; r < B; r++) {
		const struct grad_seq *s = &g->seqs[order[first + (size_t)r]];
		b->lengths[r] = s->n - 1;
		for (int t = 0; t < s->n - 1; t++) {
			size_t k = (size_t)r * T + t;
			b->inputs[k] = s->tokens[t];
			b->targets[k] = s->tokens[t + 1];
			if (t + 1 < s->start || (s->mask && !s->mask[t + 1 - s->start]))
				continue;
			b->w[k] = s->weight;
			b->adv[k] = s->adv;
			if (s->old_lp)
				b->old_lp[k] = s->old_lp[t + 1 - s->start];
			if (g->given_ref_lp)
				b->ref_lp[k] = s->ref_lp[t + 1 - s->start];
		}
	}
	return (struct model_batch){ .B = B, .T = T, .tokens = b->inputs, .lengths = b->lengths };
}

static const struct grad_job *sort_job; /* qsort has no context argument */

static int by_length(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int ni = sort_job->seqs[i].n, nj = sort_job->seqs[j].n;
	return ni != nj ? (ni < nj ? -1 : 1) : (i < j ? -1 : i > j);
}

/* Little-endian fp32 bytes of the model's gradient (malloc'd). */
static void *grad_encode(const struct model *m, size_t *size)
{
	size_t n = m->num_params;
	unsigned char *out = malloc(n ? 4 * n : 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &m->grads_mem[i], 4);
		out[4 * i] = (unsigned char)u;
		out[4 * i + 1] = (unsigned char)(u >> 8);
		out[4 * i + 2] = (unsigned char)(u >> 16);
		out[4 * i + 3] = (unsigned char)(u >> 24);
	}
	*size = 4 * n;
	return out;
}

/* Copy the reference's log-probs of the rows of a micro-batch to their sequences. */
static int keep_ref_lp(struct grad_job *g, const struct grad_bufs *b, const size_t *order,
	size_t first, int B, int T, struct err *err)
{
	for (int r = 0; r < B; r++) {
		struct grad_seq *s = &g->seqs[order[first + (size_t)r]];
		size_t k = (size_t)(s->n - s->start);
		if (!(s->ref_lp = malloc(k * sizeof *s->ref_lp)))
			return err_set(err, ERR_NOMEM, "grad: out of memory");
		for (size_t t = 0; t < k; t++)
			s->ref_lp[t] = b->ref_lp[(size_t)r * T + (size_t)s->start - 1 + t];
	}
	return 0;
}

/* [[ref_lp of seqs[i]] ...] in params order; NULL if out of memory or one is not
 * finite (a JSON number cannot say inf; the loss then is not finite either). */
static json_t *ref_lp_json(const struct grad_job *g)
{
	json_t *all = json_array();
	for (size_t i = 0; all && i < g->n; i++) {
		const struct grad_seq *s = &g->seqs[i];
		json_t *a = json_array();
		for (int t = 0; a && t < s->n - s->start; t++)
			if (!isfinite(s->ref_lp[t]) ||
				json_array_append_new(a, json_real(s->ref_lp[t])) < 0) {
				json_decref(a);
				a = NULL;
			}
		if (!a || json_array_append_new(all, a) < 0) {
			json_decref(all);
			all = NULL;
		}
	}
	return all;
}

int job_grad_run(const struct job *job, struct job_output *out, struct err *err)
{
	struct grad_job g;
	struct grad_bufs b = { 0 };
	double sum[MODEL_TOK_STATS] = { 0 };
	long tokens = 0;
	int rc = -1;
	size_t *order = NULL;
	memset(&g, 0, sizeof g);
	if (grad_parse(job->params, &g, err) < 0)
		goto out;
	/* micro-batches of similar lengths: sequences by (length, index), in groups of
	 * a quarter of the shard (at least GRAD_GROUP_MIN), each padded to its own
	 * longest — a function of the params, so the bytes out are too */
	int MB = grad_rows(&g.spec.cfg, g.T, g.n), T = g.T;
	int group = (int)((g.n + 3) / 4) > GRAD_GROUP_MIN ? (int)((g.n + 3) / 4) : GRAD_GROUP_MIN;
	MB = group < MB ? group : MB;
	order = malloc(g.n * sizeof *order);
	if (!order) {
		err_set(err, ERR_NOMEM, "grad: out of memory");
		goto out;
	}
	for (size_t i = 0; i < g.n; i++)
		order[i] = i;
	sort_job = &g;
	qsort(order, g.n, sizeof *order, by_length);
	struct model *m = jobmodel_get(job, "grad", &g.spec, MB, T, &out->retryable, err);
	if (!m)
		goto out;
	const float *ref = NULL;
	if (g.grpo && g.ref && !g.given_ref_lp &&
		!(ref = jobmodel_params(job, "grad", g.ref, &out->retryable, err)))
		goto out;
	/* jobmodel_params may have loaded other weights beside m; m is still current */
	size_t N = (size_t)MB * T;
	b.inputs = malloc(N * sizeof(int));
	b.targets = malloc(N * sizeof(int));
	b.lengths = malloc((size_t)MB * sizeof(int));
	b.w = malloc(N * sizeof(float));
	b.adv = malloc(N * sizeof(float));
	b.old_lp = malloc(N * sizeof(float));
	b.ref_lp = malloc(N * sizeof(float));
	if (!b.inputs || !b.targets || !b.lengths || !b.w || !b.adv || !b.old_lp || !b.ref_lp) {
		err_set(err, ERR_NOMEM, "grad: out of memory for %d x %d tokens", MB, T);
		goto out;
	}
	model_zero_grad(m);
	for (size_t first = 0; first < g.n; first += (size_t)MB) {
		int B = g.n - first < (size_t)MB ? (int)(g.n - first) : MB, Tb = 1;
		for (int r = 0; r < B; r++)
			Tb = g.seqs[order[first + (size_t)r]].n - 1 > Tb ?
				g.seqs[order[first + (size_t)r]].n - 1 : Tb;
		struct model_batch batch = grad_fill(&g, &b, order, first, B, Tb);
		struct loss_stats st;
		if (g.grpo && ref && ref != m->params_mem) {
			jobmodel_point(m, ref);
			model_forward(m, &batch);
			loss_token_logprobs(m, b.targets, b.ref_lp);
			jobmodel_point(m, NULL);
		}
		model_forward(m, &batch);
		if (g.grpo) {
			/* the same weights (or no reference: KL ignored) give the same log-probs */
			if (!g.given_ref_lp && (!ref || ref == m->params_mem))
				loss_token_logprobs(m, b.targets, b.ref_lp);
			if (g.return_ref_lp && keep_ref_lp(&g, &b, order, first, B, Tb, err) < 0)
				goto out;
			loss_grpo(m, b.targets, b.w, b.adv, b.old_lp, b.ref_lp, &g.gp, &st);
		} else {
			loss_cross_entropy(m, b.targets, b.w, &st);
		}
		for (size_t k = 0; k < (size_t)B * Tb; k++) {
			if (b.w[k] == 0.0f)
				continue;
			const float *ts = m->act.tok_stats + k * MODEL_TOK_STATS;
			for (int j = 0; j < MODEL_TOK_STATS; j++)
				sum[j] += ts[j];
			tokens++;
		}
		model_backward(m, &batch);
	}
	if (!g.grpo || !g.ref)
		sum[2] = 0;
	if (!isfinite(sum[0]) || !isfinite(sum[1]) || !isfinite(sum[2]) || !isfinite(sum[4])) {
		err_set(err, ERR_INVALID, "grad: the loss is not finite (%g)", sum[0]);
		goto out;
	}
	size_t size;
	void *blob = grad_encode(m, &size);
	if (!blob || job_output_add_blob(out, blob, size, err) < 0) {
		if (!blob)
			err_set(err, ERR_NOMEM, "grad: out of memory for the gradient");
		goto out;
	}
	out->result = json_pack("{sf sI sf sf}", "loss", sum[0], "tokens", (json_int_t)tokens,
		"nll_sum", sum[4], "entropy_sum", sum[1]);
	if (out->result && g.grpo &&
		(json_object_set_new(out->result, "kl_sum", json_real(sum[2])) ||
		 json_object_set_new(out->result, "clip_count", json_integer((json_int_t)llround(sum[3])))))
		err_set(err, ERR_NOMEM, "grad: out of memory");
	else if (out->result && g.return_ref_lp &&
		json_object_set_new(out->result, "ref_lp", ref_lp_json(&g)))
		err_set(err, ERR_NOMEM, "grad: out of memory");
	else if (out->result)
		rc = 0;
	else
		err_set(err, ERR_NOMEM, "grad: out of memory");
out:
	free(order);
	free(b.inputs);
	free(b.targets);
	free(b.lengths);
	free(b.w);
	free(b.adv);
	free(b.old_lp);
	free(b.ref_lp);
	grad_job_release(&g);
	return rc;
}
