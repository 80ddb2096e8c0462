/*
 * ops — the transformer's kernels as free functions (llm.c style).
 *
 * Arguments run outputs → saved state → inputs → weights → dims. Gradients are
 * d-prefixed; parameter gradients always accumulate (+=), activation gradients say
 * in their comment whether they are written or accumulated. Kernels split work over
 * the pool (pool.h) so that each output element is computed by exactly one thread
 * in an order that does not depend on the thread count.
 *
 * Shapes: N = B·T rows, C channels, QKV = (NH + 2·NKV)·HD.
 */
#ifndef R1_OPS_H
#define R1_OPS_H

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

/* cos/sin tables (T, HD/2) for positions 0..T-1: angle = t · theta^(-2i/HD) */
void rope_tables(float *cos_t, float *sin_t, int T, int HD, float theta);
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

/* h (N, F) = silu(gu[:, :F]) · gu[:, F:] */
void swiglu_forward(float *h, const float *gu, int N, int F);
/* dgu (N, 2F) written */
void swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int F);

#endif
