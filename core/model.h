/*
 * model — a Llama-family transformer's memory: parameters, gradients, AdamW
 * moments and activations, each one contiguous fp32 buffer carved into named
 * tensors (llm.c style), and the forward/backward passes over a right-padded batch.
 *
 * Parameter layout. The tensor table `model->tensors[]` lists every parameter in
 * buffer order under its Hugging Face Llama name; gradients and AdamW m/v use the
 * same offsets in their own buffers, so one flat index means the same scalar in all
 * four. Within a layer q_proj, k_proj, v_proj are adjacent (one (NH+2NKV)*HD x C
 * matrix for one GEMM), and so are gate_proj and up_proj (one 2F x C matrix).
 * Qwen2's q/k/v biases follow v_proj (one (NH+2NKV)*HD vector), then Qwen3's
 * q_norm and k_norm (HD each), then o_proj; config.h says which a config has.
 *
 * Lifecycle:
 *   model_init(&m, cfg, B, T)     sizes and allocates everything for batches up to
 *                                 B x T (T <= max_seq); parameters are zero.
 *                                 B 0 (T ignored): inference only — parameters and
 *                                 RoPE tables, no gradients or activations (enough
 *                                 for generate.h; model_forward/backward refuse it)
 *   model_init_weights(&m, seed)  N(0, 0.02) matrices, ones for norms (counter RNG)
 *   model_forward(&m, batch)      every layer, then the final norm: act.lnf; no
 *                                 allocation, no logits
 *   loss_*(...)                   (loss.h) the LM head chunk by chunk (head.h): the
 *                                 loss, grads.lm_head += and act.dlnf (a loss adds
 *                                 the head's gradient even when no backward follows)
 *   model_backward(&m, batch)     accumulates (+=) into m.grads from act.dlnf
 *   model_release(&m)
 * model_logits gives the logits of chosen rows of the last forward (tests, scoring,
 * the first token of a generation); loss_token_logprobs the log-probs of all rows.
 *
 * model_forward may run with a smaller B and T than the sizes given to model_init;
 * activations are laid out for the actual (B, T) of each call, so a call invalidates
 * the activations of the previous one. model_backward must follow the forward and a
 * loss of the same batch. Grads accumulate until model_zero_grad.
 *
 * Memory. Activations hold every layer's working set for B x T tokens (the T x T
 * attention probabilities per head included) but never B x T x V logits: the head
 * runs over chunks of m->head_rows rows (head_chunk_rows(V), e.g. 320 rows at a
 * 49152 vocabulary: 60 MiB). With activation checkpointing (model_resize's
 * `checkpoint`) the forward keeps only each layer's input x; every layer shares one
 * working set, and the backward recomputes a layer's activations into it just before
 * that layer's backward: the same kernels on the same inputs, so the gradients are
 * bit for bit those without it, for one more forward's work.
 *
 * Adapters: with m->lora set (lora.h, lora_attach) both passes add the LoRA
 * adapters' products next to the base matmuls and the backward accumulates the
 * adapters' gradients into the lora's own buffers.
 *
 * Threads: kernels split work over the pool (pool.h) so that every value is computed
 * the same way whatever the thread count: results are bit-identical with 1 or N
 * threads (tests/core/test_overfit.c checks it).
 */
#ifndef R1_MODEL_H
#define R1_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

#define MODEL_TENSOR_NAME_MAX 80
#define MODEL_MAX_TENSORS_PER_LAYER 14
#define MODEL_TOK_STATS 5 /* loss scratch per token: w·term, entropy, kl, clipped, nll */

struct model_tensor {
	char name[MODEL_TENSOR_NAME_MAX]; /* HF name, e.g. model.layers.0.self_attn.q_proj.weight */
	size_t offset;                    /* in floats, into params/grads/m/v */
	int ndim;                         /* 1 or 2 */
	int shape[2];                     /* rows, cols (cols unused when ndim == 1) */
	size_t numel;
};

struct layer_params {      /* pointers into one of the four flat buffers */
	float *ln1;        /* (C) input_layernorm */
	float *wqkv;       /* ((NH+2NKV)*HD, C): q_proj rows, then k_proj, then v_proj */
	float *bqkv;       /* ((NH+2NKV)*HD) their biases, or NULL (qkv_bias) */
	float *qknorm;     /* (2*HD) q_norm then k_norm weights, or NULL (qk_norm) */
	float *wo;         /* (C, NH*HD) o_proj */
	float *ln2;        /* (C) post_attention_layernorm */
	float *wgu;        /* (2F, C): gate_proj rows, then up_proj */
	float *wd;         /* (C, F) down_proj */
};

struct model_params {
	float *embed;            /* (V, C) embed_tokens */
	struct layer_params *layers; /* [L] */
	float *norm;             /* (C) final norm */
	float *lm_head;          /* (V, C); == embed when tied */
};

/* With checkpointing every layer's pointers but x are the same one working set. */
struct layer_acts {
	float *x;          /* (B, T, C) layer input (residual stream) */
	float *ln1;        /* (B, T, C) */
	float *ln1_rstd;   /* (B, T) */
	float *qkv;        /* (B, T, (NH+2NKV)*HD) after RoPE on q and k */
	float *qk_raw;     /* (B, T, (NH+NKV)*HD) q and k before their norm (qk_norm only) */
	float *qk_rstd;    /* (B, T, NH+NKV) per-head rstd of that norm (qk_norm only) */
	float *att;        /* (B, NH, T, T) softmax probabilities (row t valid up to t) */
	float *atty;       /* (B, T, NH*HD) attention output before o_proj */
	float *x2;         /* (B, T, C) residual after attention */
	float *ln2;        /* (B, T, C) */
	float *ln2_rstd;   /* (B, T) */
	float *gu;         /* (B, T, 2F) gate and up pre-activations */
	float *h;          /* (B, T, F) silu(gate) * up */
};

struct model_acts {
	struct layer_acts *layers; /* [L] */
	float *xf;         /* (B, T, C) last layer output */
	float *lnf;        /* (B, T, C) */
	float *lnf_rstd;   /* (B, T) */
	float *head;       /* (head_cap, V) one chunk's logits, then d(loss)/d(logits) (head.h) */
	float *head_x;     /* (head_cap, C) the chunk's lnf rows */
	float *head_dx;    /* (head_cap, C) their gradient */
	float *dlnf;       /* (B, T, C) d(loss)/d(lnf): written by a loss, consumed by backward */
	float *tok_stats;  /* (B, T, MODEL_TOK_STATS) a loss's per-token terms, summed in row order */
	/* backward scratch */
	float *dx;         /* (B, T, C) gradient of the residual stream */
	float *dtmp;       /* (B, T, max(C, NH*HD)) */
	float *dqkv;       /* (B, T, (NH+2NKV)*HD) */
	float *datt;       /* (B, NH, T, T) */
	float *dgu;        /* (B, T, 2F) */
	float *dh;         /* (B, T, F) */
	float *rope_cos;   /* (max_seq, HD/2) with the config's rope scaling */
	float *rope_sin;   /* (max_seq, HD/2) */
};

/* A right-padded batch: sequence b has lengths[b] real tokens, padding after. */
struct model_batch {
	int B, T;
	const int *tokens;   /* (B, T) input ids; padding positions may hold anything valid */
	const int *lengths;  /* [B] real tokens per row, 1..T; NULL means all T */
};

struct lora; /* lora.h */

struct model {
	struct model_config cfg;
	int max_B, max_T;            /* activation sizes; 0 x 0: inference only */
	int B, T;                    /* of the last forward */
	size_t num_params;           /* floats in each of params/grads/m/v */
	int n_tensors;
	struct model_tensor *tensors;
	float *params_mem, *grads_mem, *m_mem, *v_mem; /* m/v allocated on first optimizer use;
	                                * grads NULL for an inference-only model */
	struct model_params params, grads;
	size_t num_acts;
	float *acts_mem;
	struct model_acts act;
	bool checkpoint;             /* activation checkpointing (model_resize) */
	int head_cap;                /* rows of the head's chunk buffers */
	int head_rows;               /* rows a head chunk: min(head_chunk_rows(V), head_cap);
	                              * tests may lower it to cut a batch into many chunks */
	int *head_idx;               /* [head_cap] rows of the current chunk */
	struct lora *lora;           /* adapters the passes apply (lora.h), or NULL */
};

int model_init(struct model *m, const struct model_config *cfg, int max_B, int max_T, struct err *e);
void model_release(struct model *m);

/* Size the activations (and gradients) for batches up to max_B x max_T, with or
 * without activation checkpointing, keeping the parameters, gradients and moments:
 * max_B 0 frees activations and gradients (inference only); growing from 0 allocates
 * zeroed gradients. On error the model is unchanged. */
int model_resize(struct model *m, int max_B, int max_T, bool checkpoint, struct err *e);

/* The parameter table a model of `cfg` has, without allocating the model (to check a
 * file against it): *tensors (free() it) of *n rows, *num_params (may be NULL) the
 * floats they hold. The config must pass config_validate. */
int model_tensor_table(const struct model_config *cfg, struct model_tensor **tensors, int *n,
	size_t *num_params, struct err *e);

/* Parameter tensors per layer: 9, + 3 with q/k/v biases, + 2 with q/k norms. */
int model_layer_tensors(const struct model_config *cfg);

/* Ensure AdamW moment buffers exist (zeroed). */
int model_alloc_optimizer(struct model *m, struct err *e);

/* N(0, 0.02) matrices, ones for norms, zeros for biases. */
void model_init_weights(struct model *m, uint64_t seed);
void model_zero_grad(struct model *m);

/* Point `out` at the tensors of `base` (params_mem, grads_mem, m_mem or v_mem). */
void model_point(const struct model *m, float *base, struct model_params *out);

const struct model_tensor *model_find_tensor(const struct model *m, const char *name);

/* Run the model on the batch up to the final norm: m->act.lnf (B, T, C). */
void model_forward(struct model *m, const struct model_batch *batch);

/* The logits of rows [row0, row0 + n) of the last forward (row = b·T + t) into out
 * (n, V); computed by head.c. */
void model_logits(struct model *m, int row0, int n, float *out);

/* Accumulate parameter gradients from m->act.dlnf (a loss of loss.h fills it and
 * has already added the head's own gradient). */
void model_backward(struct model *m, const struct model_batch *batch);

#endif
