#include "sampler.h"

#include <math.h>
#include <stdlib.h>

static float logsumexp(const float *z, int V, float scale)
{
	float mx = z[0] * scale;
	for (int i = 1; i < V; i++)
		mx = z[i] * scale > mx ? z[i] * scale : mx;
	double sum = 0.0;
	for (int i = 0; i < V; i++)
		sum += exp((double)(z[i] * scale - mx));
	return mx + (float)log(sum);
}

static int argmax(const float *z, int V)
{
	int best = 0;
	for (int i = 1; i < V; i++)
		if (z[i] > z[best])
			best = i;
	return best;
}

static int rank_cmp(const void *a, const void *b)
{
	const struct sampler_rank *x = a, *y = b;
	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return x->id - y->id;
}

/*
 * Fill s->probs with the filtered, renormalised sampling distribution in id order;
 * returns the number of kept tokens.
 */
static int sampler_filter(const float *logits, int V, const struct sampler_params *p,
	struct sampler_scratch *s)
{
	float inv_t = 1.0f / p->temperature, lse = logsumexp(logits, V, inv_t);
	for (int i = 0; i < V; i++)
		s->probs[i] = (float)exp((double)(logits[i] * inv_t - lse));
	int k = p->top_k > 0 && p->top_k < V ? p->top_k : V;
	float top_p = p->top_p > 0.0f && p->top_p < 1.0f ? p->top_p : 1.0f;
	if (k == V && top_p >= 1.0f)
		return V;
	/* rank by probability, ties by id */
	struct sampler_rank *r = s->ranks;
	for (int i = 0; i < V; i++)
		r[i] = (struct sampler_rank){ s->probs[i], i };
	qsort(r, (size_t)V, sizeof *r, rank_cmp);
	double mass = 0.0;
	int kept = 0;
	while (kept < k) {
		mass += r[kept].p;
		kept++;
		if (mass >= top_p)
			break;
	}
	for (int i = 0; i < V; i++)
		s->probs[i] = 0.0f;
	for (int i = 0; i < kept; i++)
		s->probs[r[i].id] = (float)(r[i].p / mass);
	return kept;
}

void sampler_distribution(const float *logits, int V, const struct sampler_params *p,
	struct sampler_scratch *s, float *probs)
{
	if (p->temperature <= 0.0f) {
		int best = argmax(logits, V);
		for (int i = 0; i < V; i++)
			probs[i] = i == best;
		return;
	}
	sampler_filter(logits, V, p, s);
	for (int i = 0; i < V; i++)
		probs[i] = s->probs[i];
}

void sampler_pick(const float *logits, int V, const struct sampler_params *p, float coin,
	struct sampler_scratch *s, struct sample_out *out)
{
	float lse = logsumexp(logits, V, 1.0f);
	if (p->temperature <= 0.0f) {
		out->token = argmax(logits, V);
		out->logprob = logits[out->token] - lse;
		out->sample_logprob = 0.0f;
		return;
	}
	sampler_filter(logits, V, p, s);
	/* inverse CDF in id order; the last kept token takes any rounding remainder */
	double cdf = 0.0;
	int token = -1;
	for (int i = 0; i < V; i++) {
		if (s->probs[i] <= 0.0f)
			continue;
		token = i;
		cdf += s->probs[i];
		if (coin < cdf)
			break;
	}
	out->token = token;
	out->logprob = logits[token] - lse;
	out->sample_logprob = logf(s->probs[token]);
}
