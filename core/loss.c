#include "loss.h"

#include <math.h>
#include <string.h>

#include "head.h"
#include "pool.h"

void loss_weights(float *w, const float *mask, int B, int T, enum loss_agg agg,
	long n_seqs, long n_tokens, float constant)
{
	long seqs = 0, toks = 0;
	for (int b = 0; b < B; b++) {
		long k = 0;
		for (int t = 0; t < T; t++)
			k += mask[b * T + t] != 0.0f;
		seqs += k > 0;
		toks += k;
	}
	if (n_seqs <= 0)
		n_seqs = seqs;
	if (n_tokens <= 0)
		n_tokens = toks;
	for (int b = 0; b < B; b++) {
		long k = 0;
		for (int t = 0; t < T; t++)
			k += mask[b * T + t] != 0.0f;
		float v = 0.0f;
		switch (agg) {
		case LOSS_AGG_SEQ_MEAN: v = k ? 1.0f / ((float)k * (float)n_seqs) : 0.0f; break;
		case LOSS_AGG_TOKEN_MEAN: v = n_tokens ? 1.0f / (float)n_tokens : 0.0f; break;
		case LOSS_AGG_CONSTANT: v = 1.0f / ((float)n_seqs * constant); break;
		}
		for (int t = 0; t < T; t++)
			w[b * T + t] = mask[b * T + t] != 0.0f ? v : 0.0f;
	}
}

struct loss_ctx {
	struct model *m;
	const int *targets;
	const float *w, *adv, *old_lp, *ref_lp;
	const struct grpo_params *p; /* NULL: cross-entropy */
	float *lp_out;               /* loss_token_logprobs */
	const int *rows;             /* the chunk's rows (head.h) */
	float *z;                    /* (n, V) their logits */
};

/*
 * Per row, in place: z becomes softmax(z); *lp = log p(target), *entropy = H(p).
 * The entropy's Σ p·z is summed before z is overwritten, as Σ e^(z−max)·z / Σ e^(z−max).
 */
static void row_softmax(float *z, int V, int target, float *lp, float *entropy)
{
	float mx = z[0], zt = z[target];
	for (int i = 1; i < V; i++)
		mx = z[i] > mx ? z[i] : mx;
	double sum = 0.0, ez = 0.0;
	for (int i = 0; i < V; i++) {
		float e = expf(z[i] - mx);
		ez += (double)e * z[i];
		sum += e;
		z[i] = e;
	}
	float inv = (float)(1.0 / sum), lse = mx + (float)log(sum);
	for (int i = 0; i < V; i++)
		z[i] *= inv;
	*lp = zt - lse;
	*entropy = (float)(lse - ez / sum);
}

static void loss_part(void *arg, int begin, int end)
{
	const struct loss_ctx *c = arg;
	struct model *m = c->m;
	int V = m->cfg.vocab;
	for (int i = begin; i < end; i++) {
		int n = c->rows[i];
		float *dz = c->z + (size_t)i * V;
		float *st = m->act.tok_stats + (size_t)n * MODEL_TOK_STATS;
		float w = c->w[n];
		int y = c->targets[n];
		float lp, ent;
		row_softmax(dz, V, y, &lp, &ent);
		float term, dterm; /* the token's loss term and d(term)/d(log p) */
		float kl = 0.0f, clipped = 0.0f;
		if (!c->p) {
			term = -lp;
			dterm = -1.0f;
		} else {
			const struct grpo_params *p = c->p;
			float A = c->adv[n], rho = expf(lp - c->old_lp[n]);
			float lo = 1.0f - p->eps_low, hi = 1.0f + p->eps_high;
			float rc = rho < lo ? lo : rho > hi ? hi : rho;
			float s1 = rho * A, s2 = rc * A;
			if (s1 <= s2) {
				term = -s1;
				dterm = -s1; /* d(ρA)/d log p = ρA */
			} else {
				term = -s2; /* clipped and binding: no gradient through ρ */
				dterm = 0.0f;
				clipped = 1.0f;
			}
			/* no ref_lp: the reference is the policy itself, x = 0 */
			float x = c->ref_lp ? c->ref_lp[n] - lp : 0.0f, ex = expf(x);
			kl = ex - x - 1.0f;
			term += p->beta * kl;
			dterm += p->beta * (1.0f - ex);
		}
		/* d term / d z = dterm · (onehot − p) */
		float g = -w * dterm;
		for (int k = 0; k < V; k++)
			dz[k] *= g;
		dz[y] -= g;
		st[0] = w * term;
		st[1] = ent;
		st[2] = kl;
		st[3] = clipped;
		st[4] = -lp;
	}
}

static void loss_chunk(void *arg, const int *rows, int n, float *z)
{
	struct loss_ctx *c = arg;
	c->rows = rows;
	c->z = z;
	pool_for(n, (long)n * c->m->cfg.vocab * 8, loss_part, c);
}

static void loss_run(struct loss_ctx *c, struct loss_stats *st)
{
	struct model *m = c->m;
	int N = m->B * m->T;
	head_run(m, c->w, true, loss_chunk, c);
	/* sums in row order, whatever the thread count */
	double sum[MODEL_TOK_STATS] = { 0 };
	long count = 0;
	for (int n = 0; n < N; n++) {
		if (c->w[n] == 0.0f)
			continue;
		const float *s = m->act.tok_stats + (size_t)n * MODEL_TOK_STATS;
		for (int k = 0; k < MODEL_TOK_STATS; k++)
			sum[k] += s[k];
		count++;
	}
	memset(st, 0, sizeof *st);
	st->loss = sum[0];
	st->tokens = count;
	if (count) {
		st->entropy = sum[1] / (double)count;
		st->kl = sum[2] / (double)count;
		st->clip_frac = sum[3] / (double)count;
		st->nll = sum[4] / (double)count;
	}
}

void loss_cross_entropy(struct model *m, const int *targets, const float *w, struct loss_stats *st)
{
	struct loss_ctx c = { .m = m, .targets = targets, .w = w };
	loss_run(&c, st);
}

void loss_grpo(struct model *m, const int *targets, const float *w, const float *adv,
	const float *old_lp, const float *ref_lp, const struct grpo_params *p, struct loss_stats *st)
{
	struct loss_ctx c = { .m = m, .targets = targets, .w = w, .adv = adv, .old_lp = old_lp,
		.ref_lp = ref_lp, .p = p };
	loss_run(&c, st);
}

static void logprob_part(void *arg, int begin, int end)
{
	const struct loss_ctx *c = arg;
	int V = c->m->cfg.vocab;
	for (int i = begin; i < end; i++) {
		int n = c->rows[i];
		const float *z = c->z + (size_t)i * V;
		float mx = z[0];
		for (int k = 1; k < V; k++)
			mx = z[k] > mx ? z[k] : mx;
		double sum = 0.0;
		for (int k = 0; k < V; k++)
			sum += expf(z[k] - mx);
		c->lp_out[n] = z[c->targets[n]] - mx - (float)log(sum);
	}
}

static void logprob_chunk(void *arg, const int *rows, int n, float *z)
{
	struct loss_ctx *c = arg;
	c->rows = rows;
	c->z = z;
	pool_for(n, (long)n * c->m->cfg.vocab * 4, logprob_part, c);
}

void loss_token_logprobs(struct model *m, const int *targets, float *out)
{
	struct loss_ctx c = { .m = m, .targets = targets, .lp_out = out };
	head_run(m, NULL, false, logprob_chunk, &c);
}
