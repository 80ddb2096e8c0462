/*
 * sampler — pick the next token from a row of logits (llama2.c style: the coin is an
 * argument, so sampling is a pure function and testable).
 *
 * The sampling distribution is softmax(logits / temperature), restricted to the
 * top_k most likely tokens (0: no limit), then to the smallest set of most likely
 * tokens whose mass reaches top_p (1: no limit), renormalised. Temperature 0 is
 * greedy (argmax; the lowest id wins ties). Ties in the ranking are broken by id,
 * so the result never depends on sort stability.
 *
 * Besides the token, the sampler reports its log-probability under the model's
 * untempered distribution softmax(logits) — GRPO's log π_old — and under the
 * sampling distribution (0 for greedy).
 */
#ifndef R1_SAMPLER_H
#define R1_SAMPLER_H

struct sampler_params {
	float temperature; /* 0: greedy */
	int top_k;         /* 0: all tokens */
	float top_p;       /* (0, 1]; 1: no nucleus cut */
};

struct sampler_rank { float p; int id; };

struct sampler_scratch {   /* caller-owned, V entries each; reused across calls */
	float *probs;
	struct sampler_rank *ranks;
};

struct sample_out {
	int token;
	float logprob;         /* log softmax(logits)[token] */
	float sample_logprob;  /* log of the sampling distribution at token */
};

/* coin is uniform in [0, 1). */
void sampler_pick(const float *logits, int V, const struct sampler_params *p, float coin,
	struct sampler_scratch *s, struct sample_out *out);

/*
 * The full sampling distribution into probs (V), for tests: what sampler_pick draws
 * from. Greedy gives a one-hot.
 */
void sampler_distribution(const float *logits, int V, const struct sampler_params *p,
	struct sampler_scratch *s, float *probs);

#endif
