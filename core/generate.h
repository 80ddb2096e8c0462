/*
 * generate — batched autoregressive generation with a KV cache.
 *
 * B sequences with prompts of different lengths are prefilled together, layer by
 * layer, with the model's kernels (matrix products over right-padded prompts), their
 * keys and values kept in a per-sequence cache; then each decode step feeds one new
 * token per live sequence and attends over that sequence's cache. A sequence stops
 * at a stop id (the tokenizer's EOS ids; the config's eos_id without a tokenizer),
 * when its text contains a stop string (matched on the bytes each token adds,
 * tokenizer_piece, so a stop string may end inside a token), or at
 * max_new_tokens; its finish
 * reason is GEN_FINISH_STOP or GEN_FINISH_LENGTH. Generated tokens include the EOS
 * or the tokens that completed the stop string.
 *
 * Randomness: the coin for sequence i's token at position t (counted from its
 * first generated token) is rng_uniform4(key, index_lo, index_hi, t, 0), where
 * index is the request's `index` (e.g. prompt j · G + sample i). So a sequence's
 * tokens depend on (weights, prompt, key, index) only: the same alone, inside any
 * batch, with any thread count.
 *
 * Memory: gen_init sizes everything once for up to max_B sequences of up to max_len
 * tokens (prompt + generated, <= max_seq); gen_run allocates nothing. The generator
 * needs only the model's parameters (and RoPE tables): an inference-only model
 * (model_init with max_B 0) is enough, and a model's training activations are never
 * touched. It holds, per sequence:
 *   - the K and V cache: 2 · L · max_len · NKV·HD floats;
 *   - the prefill's working set for one layer over the longest prompt P (prompts
 *     run as one right-padded batch, so P is the batch's longest): P · (2C + 1 +
 *     max(QKV + NH·HD (+ the q/k norm's state), 3F)) floats; plus the attention
 *     probabilities, NH · P² floats per sequence, at most GEN_ATT_FLOATS (64 MiB)
 *     for the batch beyond one sequence's share;
 *   - the decode step's rows (x, q/k/v, attention over max_len, gate/up) and the
 *     sampler's V-sized buffers (logits, probabilities, ranks).
 * No (B, T, V) logits exist: the LM head runs on one row per sequence.
 * P is max_len - 1, or the model's max_T when it has training activations and
 * that is smaller (a caller's bound on the prompts). tasks/memplan.c states the
 * same figures for `r1flow validate`.
 *
 * Numerics: the prefill's layers compute what model_forward computes on the same
 * right-padded batch, bit for bit; the first token's logits come from the decode
 * step's LM head over the batch's last prompt rows (matmul_forward on B rows), so
 * they match model_forward's logits up to rounding (OpenBLAS rounds by call shape).
 */
#ifndef R1_GENERATE_H
#define R1_GENERATE_H

#include <stdint.h>

#include "err.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

enum gen_finish { GEN_FINISH_LENGTH, GEN_FINISH_STOP };

struct gen_params {
	struct sampler_params sampler;
	int max_new_tokens;
	uint64_t key;              /* RNG key of this batch's stage/step */
	const char *const *stop;   /* stop strings, NULL-terminated list, or NULL */
	const struct tokenizer *tok; /* stop ids and token bytes; NULL: the byte tokenizer
	                            * with the config's eos_id */
	float *trace_logits;       /* optional (B, max_new_tokens, V): the logits each
	                            * generated token was drawn from (tests, debugging) */
};

struct gen_request {
	const int *prompt;         /* token ids, BOS included if wanted */
	int prompt_len;            /* >= 1 */
	uint64_t index;            /* RNG stream of this sequence */
};

struct gen_result {            /* arrays owned by the generator, valid until the next call */
	int *tokens;               /* generated ids */
	float *logprobs;           /* log π(token) under softmax(logits), untempered */
	float *sample_logprobs;    /* log of the sampling distribution at token */
	int n;                     /* generated tokens */
	enum gen_finish finish;
};

struct generator {
	struct model *m;           /* borrowed: parameters and RoPE tables only */
	int max_B, max_len;
	int max_prompt;            /* longest prompt (P above) */
	void *mem;                 /* one allocation for everything below */
	float *kcache, *vcache;    /* (L, max_B, max_len, NKV*HD) post-RoPE keys, values */
	float *x, *xb, *qkv, *atty, *gu, *h, *logits, *att; /* decode step, one row per live sequence */
	float *qk_raw, *qk_rstd;   /* the q/k norm's saved state (qk_norm configs), unused after */
	float *px, *pxb, *prstd;   /* prefill (max_B, P, C) residual, its norm; (max_B, P) rstd */
	float *pwork;              /* prefill (max_B, P, ...) qkv + q/k norm state + atty, then gu + h */
	float *patt;               /* prefill attention probabilities, a few sequences at a time */
	float *probs;              /* (max_B, V) sampler scratch */
	struct sampler_rank *ranks; /* (max_B, V) */
	int *rows;                 /* (max_B) sequence of each decode row */
	int *row_tok, *row_pos;    /* (max_B) its input token and position */
	int *prefill;              /* (max_B, P) right-padded prompts */
	int *plen;                 /* (max_B) prompt lengths */
	char *text;                /* (max_B, text_cap) generated text, for stop strings */
	int *text_len;
	size_t text_cap;
	int *out_tokens;           /* (max_B, max_len) */
	float *out_lp, *out_slp;   /* (max_B, max_len) */
	struct gen_result *results; /* (max_B) */
};

int gen_init(struct generator *g, struct model *m, int max_B, int max_len, struct err *e);
void gen_release(struct generator *g);

/*
 * Generate for B requests (B <= max_B); results[i] belongs to reqs[i]. Errors: an
 * empty prompt, a prompt longer than max_prompt (prompt_len >= max_len, or > the
 * max_T of a model sized with activations), B out of range — each naming the request.
 */
int gen_run(struct generator *g, const struct gen_request *reqs, int B,
	const struct gen_params *p, struct gen_result **results, struct err *e);

#endif
