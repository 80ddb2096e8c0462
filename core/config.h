/*
 * config — the model's blueprint: sizes and constants of a Llama-architecture
 * transformer. Nothing here changes while a model lives.
 *
 * Dimensions are named once for all of core/: V vocab, C dim, L layers, NH query
 * heads, NKV key/value heads, HD = C / NH head dim, F ffn (SwiGLU hidden), B batch,
 * T sequence length.
 *
 * `config_validate` is the one place that says what a usable config is; every
 * loader calls it. JSON (de)serialisation of HF `config.json` lives in checkpoint.c.
 */
#ifndef R1_CONFIG_H
#define R1_CONFIG_H

#include <stdbool.h>

#include "err.h"

struct model_config {
	int vocab;        /* V: token ids are 0..V-1 */
	int dim;          /* C: residual width */
	int n_layers;     /* L */
	int n_heads;      /* NH: query heads; HD = C / NH */
	int n_kv_heads;   /* NKV: key/value heads (GQA); NH % NKV == 0 */
	int ffn;          /* F: SwiGLU hidden width */
	int max_seq;      /* longest sequence (positions 0..max_seq-1) */
	float rope_theta; /* RoPE base */
	float norm_eps;   /* RMSNorm epsilon */
	bool tied;        /* LM head shares the embedding matrix */
	int bos_id;       /* beginning-of-sequence id */
	int eos_id;       /* end-of-sequence id */
	int pad_id;       /* padding id (-1 if none) */
};

/* The byte-vocab defaults: V 264 (256 bytes + specials, rounded), rope 10000, eps 1e-5. */
void config_defaults(struct model_config *c);

/* Check sizes are positive and consistent; -1 with a message naming the field. */
int config_validate(const struct model_config *c, struct err *e);

static inline int config_head_dim(const struct model_config *c) { return c->dim / c->n_heads; }

/* Number of fp32 parameters the config implies. */
long config_num_params(const struct model_config *c);

#endif
