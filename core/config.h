/*
 * config — the model's blueprint: sizes and constants of a Llama-family decoder
 * transformer. Nothing here changes while a model lives.
 *
 * Dimensions are named once for all of core/: V vocab, C dim, L layers, NH query
 * heads, NKV key/value heads, HD head dim (C / NH unless the config gives head_dim),
 * F ffn (SwiGLU hidden), B batch, T sequence length.
 *
 * Architectures (Hugging Face model_type): llama, mistral (the same network; r1flow
 * has no sliding window, so a Mistral config must not need one), qwen2 (adds biases
 * to the q/k/v projections), qwen3 (adds a per-head RMSNorm on q and k before RoPE).
 * The differences are flags (qkv_bias, qk_norm) so core/ never switches on `arch`;
 * `arch` only says which HF class a written config.json names. RoPE frequencies
 * may be scaled as HF's "linear" and "llama3" rope_scaling types do.
 *
 * `config_validate` is the one place that says what a usable config is; every
 * loader calls it. JSON (de)serialisation of HF `config.json` lives in hfconfig.c.
 */
#ifndef R1_CONFIG_H
#define R1_CONFIG_H

#include <stdbool.h>

#include "err.h"

enum model_arch { ARCH_LLAMA, ARCH_MISTRAL, ARCH_QWEN2, ARCH_QWEN3 };

enum rope_kind { ROPE_DEFAULT, ROPE_LINEAR, ROPE_LLAMA3 };

struct rope_scaling {
	enum rope_kind kind;    /* ROPE_DEFAULT: the rest is unused */
	float factor;           /* linear, llama3: positions stretched by this */
	float low_freq_factor;  /* llama3 */
	float high_freq_factor; /* llama3 */
	int original_max_pos;   /* llama3: original_max_position_embeddings */
};

struct model_config {
	enum model_arch arch; /* the HF class written to config.json */
	int vocab;        /* V: token ids are 0..V-1 */
	int dim;          /* C: residual width */
	int n_layers;     /* L */
	int n_heads;      /* NH: query heads */
	int n_kv_heads;   /* NKV: key/value heads (GQA); NH % NKV == 0 */
	int ffn;          /* F: SwiGLU hidden width */
	int max_seq;      /* longest sequence (positions 0..max_seq-1) */
	float rope_theta; /* RoPE base */
	float norm_eps;   /* RMSNorm epsilon */
	bool tied;        /* LM head shares the embedding matrix */
	int bos_id;       /* beginning-of-sequence id */
	int eos_id;       /* end-of-sequence id */
	int pad_id;       /* padding id (-1 if none) */
	int head_dim;     /* HD when the config gives it; 0: C / NH */
	bool qkv_bias;    /* q_proj, k_proj, v_proj have biases (qwen2) */
	bool qk_norm;     /* per-head RMSNorm of q and k before RoPE (qwen3) */
	struct rope_scaling rope;
};

/* The byte-vocab defaults: V 264 (256 bytes + specials, rounded), rope 10000, eps 1e-5. */
void config_defaults(struct model_config *c);

/* Check sizes are positive and consistent; -1 with a message naming the field. */
int config_validate(const struct model_config *c, struct err *e);

static inline int config_head_dim(const struct model_config *c)
{
	return c->head_dim ? c->head_dim : c->dim / c->n_heads;
}

/* The HF model_type and architectures[0] of an architecture. */
const char *config_arch_name(enum model_arch a);
const char *config_arch_class(enum model_arch a);

/* Number of fp32 parameters the config implies. */
long config_num_params(const struct model_config *c);

#endif
