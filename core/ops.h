/*
 * ops — the transformer's kernels as free functions (llm.c style).
 *
 * Arguments run outputs → saved state → inputs → weights → dims. Gradients are
 * d-prefixed; parameter gradients always accumulate (+=), activation gradients say
 * in their comment whether they are written or accumulated. A NULL parameter
 * gradient is not computed (frozen weights: lora.h); the others are unchanged. Kernels split work over
 * the pool (pool.h) so that each output element is computed by exactly one thread
 * in an order that does not depend on the thread count.
 *
 * Shapes: N = B·T rows, C channels, QKV = (NH + 2·NKV)·HD.
 */
#ifndef R1_OPS_H
#define R1_OPS_H

#include "config.h"

/* out (N, C) = embed[tokens] */
void embedding_forward(float *out, const int *tokens, const float *embed, int N, int C);
/* dembed (V, C) += scatter of dout by token */
void embedding_backward(float *dembed, const float *dout, const int *tokens, int N, int C);

/* out = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps) per row */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C, float eps);
/* dx += ..., dw += ... */
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
	const float *rstd, int N, int C);

/*
 * out (N, OC) = inp (N, IC) · W (OC, IC)ᵀ + beta · out; ldo is out's row stride.
 * beta 1 adds the product to what `out` holds (a fused residual add).
 */
void matmul_forward(float *out, int ldo, const float *inp, const float *w, int N, int IC, int OC, float beta);
/* dinp (N, IC) = dout · W (+ beta · dinp); dw (OC, IC) += doutᵀ · inp */
void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
	int N, int IC, int OC, float beta_dinp);

/*
 * cos/sin tables (T, HD/2) for positions 0..T-1: angle = t · inv_freq[i], inv_freq[i]
 * = theta^(-2i/HD) in fp32 as HF computes it, then scaled as HF's rope_scaling type
 * does: linear divides every frequency by factor; llama3 divides the low
 * frequencies (wavelength > original_max_pos / low_freq_factor) by factor, keeps the
 * high ones (wavelength < original_max_pos / high_freq_factor) and blends between.
 */
void rope_tables(float *cos_t, float *sin_t, int T, int HD, float theta, const struct rope_scaling *rs);
/* rotate q and k heads of qkv (B, T, QKV) in place, HF rotate_half convention */
void rope_forward(float *qkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HD);
/* rotate n rows of qkv (n, QKV), row i at position pos[i] (decode steps) */
void rope_forward_at(float *qkv, const float *cos_t, const float *sin_t, const int *pos, int n,
	int NH, int NKV, int HD);
/* the inverse rotation, applied to dq and dk in place */
void rope_backward(float *dqkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HD);

/*
 * Causal grouped-query attention over right-padded rows: sequence b sees its first
 * lengths[b] positions; rows past the length get zero output.
 * out (B, T, NH·HD), att (B, NH, T, T) softmax probabilities, qkv (B, T, QKV).
 */
void attention_forward(float *out, float *att, const float *qkv, const int *lengths,
	int B, int T, int NH, int NKV, int HD);
/* dqkv (B, T, QKV) written; datt scratch (B, NH, T, T) */
void attention_backward(float *dqkv, float *datt, const float *dout, const float *att,
	const float *qkv, const int *lengths, int B, int T, int NH, int NKV, int HD);

/* x (N, D) += b per row (the q/k/v biases) */
void bias_forward(float *x, const float *b, int N, int D);
/* db (D) += column sums of dx (N, D), rows in order */
void bias_backward(float *db, const float *dx, int N, int D);

/*
 * Per-head RMSNorm of q and k in qkv (N, QKV), in place (Qwen3's q_norm, k_norm):
 * each of the NH q heads is normed with w[0..HD), each of the NKV k heads with
 * w[HD..2HD); v is untouched. raw (N, (NH+NKV)·HD) keeps the inputs and rstd
 * (N, NH+NKV) the per-head factors for the backward.
 */
void headnorm_forward(float *qkv, float *raw, float *rstd, const float *w, int N, int NH, int NKV,
	int HD, float eps);
/* dqkv's q and k parts: gradient of the normed heads in, of the raw heads out
 * (written); dw (2·HD) += */
void headnorm_backward(float *dqkv, float *dw, const float *raw, const float *rstd, const float *w,
	int N, int NH, int NKV, int HD);

/* h (N, F) = silu(gu[:, :F]) · gu[:, F:] */
void swiglu_forward(float *h, const float *gu, int N, int F);
/* dgu (N, 2F) written */
void swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int F);

#endif
