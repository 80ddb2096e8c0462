/*
 * loss — per-token objectives over the LM head's logits after model_forward. A loss
 * runs the head chunk by chunk over the tokens that count (head.h: logits of a few
 * hundred rows at a time, never B x T x V), turns each chunk's logits into
 * d(loss)/d(logits) in place and back-propagates it through the head: it adds the
 * head's gradient to grads.lm_head and writes m->act.dlnf, from which model_backward
 * continues. Its per-token terms land in m->act.tok_stats (rows with w != 0).
 *
 * Both losses are weighted sums over tokens, Σ_{b,t} w[b,t] · term[b,t]: the weight
 * carries the mask (w == 0: the token does not count, its logits are not even
 * computed) and the normalisation, so a batch split into shards on different workers
 * sums to the loss of the whole batch when each shard's weights use the global
 * normaliser.
 * `loss_weights` builds w from a 0/1 mask for each aggregation mode.
 *
 *   cross-entropy (pretrain, SFT):  term = -log softmax(z)[target]
 *   GRPO (DeepSeekMath / DeepSeek-R1), per token with ρ = exp(logπ − old), x = ref − logπ:
 *     term = −min(ρ·A, clip(ρ, 1−ε_low, 1+ε_high)·A) + β·(eˣ − x − 1)
 *
 * targets[b,t] is the id that position t predicts (the input token at t+1).
 * Stats are over tokens with w != 0, unweighted: mean KL (k3), the share of tokens
 * whose clipped term was taken and was not equal to the unclipped one (clip
 * fraction), mean entropy of softmax(z), and the count of such tokens.
 */
#ifndef R1_LOSS_H
#define R1_LOSS_H

#include "model.h"

enum loss_agg {
	LOSS_AGG_SEQ_MEAN,   /* GRPO: mean over each sequence's tokens, then over sequences */
	LOSS_AGG_TOKEN_MEAN, /* DAPO: mean over all tokens of the batch */
	LOSS_AGG_CONSTANT,   /* Dr. GRPO: sum / (sequences · constant) */
};

struct loss_stats {
	double loss;       /* Σ w·term */
	double kl;         /* mean k3 KL over counted tokens (GRPO; 0 for CE) */
	double clip_frac;  /* share of counted tokens where the clip was active (GRPO) */
	double entropy;    /* mean entropy over counted tokens, nats */
	double nll;        /* mean -log p(target) over counted tokens */
	long tokens;       /* counted tokens (w != 0) */
};

struct grpo_params {
	float eps_low, eps_high; /* clip range [1 - eps_low, 1 + eps_high] */
	float beta;              /* KL coefficient */
};

/*
 * Per-token weights from a 0/1 mask (B, T) for the aggregation mode. The global
 * counts make shard weights add up: n_seqs is the number of sequences of the whole
 * batch (rows with at least one masked-in token), n_tokens its masked-in tokens;
 * pass <= 0 to take them from this mask. `constant` is Dr. GRPO's normaliser
 * (tokens per sequence, e.g. max_new_tokens).
 */
void loss_weights(float *w, const float *mask, int B, int T, enum loss_agg agg,
	long n_seqs, long n_tokens, float constant);

/* Masked cross-entropy; grads.lm_head += and act.dlnf for model_backward. */
void loss_cross_entropy(struct model *m, const int *targets, const float *w,
	struct loss_stats *st);

/* GRPO clipped objective with k3 KL. adv, old_lp, ref_lp are (B, T); ref_lp NULL
 * when the reference is the policy itself (x = 0: no KL, no KL gradient).
 * Gradients as loss_cross_entropy. */
void loss_grpo(struct model *m, const int *targets, const float *w, const float *adv,
	const float *old_lp, const float *ref_lp, const struct grpo_params *p,
	struct loss_stats *st);

/* log p(targets[b,t]) under softmax(logits) for the last forward; (B, T) out. Runs
 * the head (chunk by chunk, no gradient), so it needs the model's scratch. */
void loss_token_logprobs(struct model *m, const int *targets, float *out);

#endif
