/*
 * lora — low-rank adapters on a model's projections (Hu et al., "LoRA: Low-Rank
 * Adaptation of Large Language Models", 2021), with PEFT's semantics and names.
 *
 * A target projection y = W x (W out x in, frozen) becomes
 *     y = W x + s · B (A x),   s = alpha / rank,
 * A (rank x in) and B (out x rank) the trained parameters. As PEFT does, A starts
 * kaiming-uniform (a = √5: uniform in ±1/√in), drawn here from the counter RNG
 * (rng.h) with one stream per tensor keyed by its name, and B starts at zero, so the
 * adapted model starts equal to the base. Dropout is not implemented (the spec
 * refuses any other value than 0).
 *
 * Targets are the seven projections of a Llama layer: q_proj, k_proj, v_proj,
 * o_proj, gate_proj, up_proj, down_proj. The model fuses q/k/v into one matrix and
 * gate/up into another (model.h); each target still has its own A and B, its B·A
 * adding to its own rows of the fused output, so adapters are exactly PEFT's.
 *
 * Parameters. `lo->p` is a parameter container in struct model's shape (tensor
 * table and flat params/grads/m/v buffers, no layers or activations), so optim.h's
 * AdamW, clipping and norm run on adapters unchanged. Its tensors are named as PEFT
 * names them in adapter_model.safetensors, in (layer, target, A then B) order:
 *     base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight  (rank, in)
 *     base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight  (out, rank)
 * lora_write_mem / lora_read turn the parameters into those bytes and back (F32).
 *
 * Hooks. model.h's `struct model` has a `lora` pointer (NULL: none); model_forward,
 * model_backward and the generator's decode step call lora_forward / lora_backward
 * next to each base matmul, at one of four sites (the fused q/k/v product, o_proj,
 * the fused gate/up product, down_proj). The forward adds s·B(Ax) into the base
 * product's output rows (any row stride); the backward recomputes Ax from the
 * saved input (the same layer input the base backward reads, so nothing is stored
 * per layer), accumulates dA and dB (+=) and adds the input gradient into dinp.
 * With adapters attached model_backward computes no gradient of the base weights
 * (it passes `frozen`'s NULL pointers, which the kernels skip): m->grads_mem is left
 * as it was, and the backward does the input-gradient half of its products only.
 *
 * Products go through matmul_forward and pool_sgemm, so results are bit-identical
 * for any thread count, and a decode row's adapter output does not depend on the
 * rows beside it (matmul_forward's few-rows path).
 *
 * Lifecycle:
 *   lora_init(&lo, cfg, lcfg)   tensor table and parameter/gradient buffers (zero)
 *   lora_init_weights(&lo, seed)
 *   lora_attach(&lo, m)         scratch for m's max_B x max_T rows; m->lora = &lo
 *   ... model_forward / model_backward; lora_zero_grad ...
 *   lora_release(&lo)           (detach first: m->lora = NULL)
 */
#ifndef R1_LORA_H
#define R1_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "model.h"

enum lora_target { LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_NTARGETS };

/* The base matmuls adapters attach to. */
enum lora_site { LORA_SITE_QKV, LORA_SITE_O, LORA_SITE_GU, LORA_SITE_DOWN };

#define LORA_ALL_TARGETS ((1u << LORA_NTARGETS) - 1)
#define LORA_RANK_MAX 4096

struct lora_config {
	int rank;         /* >= 1; 0 means no adapters */
	float alpha;      /* scale = alpha / rank */
	unsigned targets; /* bit (1 << enum lora_target) per adapted projection */
};

struct lora_adapter {   /* pointers into one flat buffer; NULL when not a target */
	float *a;       /* (rank, in) */
	float *b;       /* (out, rank) */
};

struct lora {
	struct lora_config cfg;
	struct model_config model;  /* the config the adapters were laid out for */
	float scale;
	struct model p;             /* tensors, params_mem, grads_mem, m_mem, v_mem only */
	struct lora_adapter *params, *grads; /* [n_layers * LORA_NTARGETS] */
	struct model_params frozen; /* every pointer NULL: the model's gradients while the
	                               adapters are attached (ops.h skips NULL ones) */
	float *scratch;             /* 2 x rows x rank: A·x and its gradient */
	size_t scratch_rows;
};

/* "q_proj", ..., "down_proj" */
const char *lora_target_name(enum lora_target t);
/* The target named `name`, or -1. */
int lora_target_from_name(const char *name);

/* Parameters the adapters of lcfg have on a model of cfg (the floats of lo->p). */
size_t lora_num_params(const struct model_config *cfg, const struct lora_config *lcfg);

/* Lay out adapters of lcfg for a model of cfg; parameters and gradients zero. */
int lora_init(struct lora *lo, const struct model_config *cfg, const struct lora_config *lcfg,
	struct err *e);
void lora_release(struct lora *lo);

/* A kaiming-uniform (PEFT's), B zero; one RNG stream per tensor, keyed by its name. */
void lora_init_weights(struct lora *lo, uint64_t seed);
void lora_zero_grad(struct lora *lo);

/* Size the scratch for m's max_B x max_T rows and set m->lora (the model's config
 * must be the adapters'). */
int lora_attach(struct lora *lo, struct model *m, struct err *e);

/* Grow the scratch to `rows` rows (a generator's prefill and decode batches, which an
 * inference-only model's max_B x max_T does not cover). */
int lora_reserve(struct lora *lo, size_t rows, struct err *e);

/* out (N rows, stride ldo, the base product of `site`) += s·B(A·inp) for each target
 * of the site; inp (N, in) is the base product's input. */
void lora_forward(struct lora *lo, int layer, enum lora_site site, float *out, int ldo,
	const float *inp, int N);
/* dA, dB += ...; dinp (N, in) += the adapters' input gradient. dout (N, stride ldo)
 * is the gradient of the site's output, inp its input as in the forward. */
void lora_backward(struct lora *lo, int layer, enum lora_site site, float *dinp,
	const float *dout, int ldo, const float *inp, int N);

/* The adapter parameters as safetensors bytes (F32, PEFT names; malloc'd). */
int lora_write_mem(const struct lora *lo, void **data, size_t *size, struct err *e);
/* Read adapter parameters from safetensors bytes (`what` names them in errors): every
 * tensor of lo's layout must be there with its shape. */
int lora_read(struct lora *lo, const void *data, size_t size, const char *what, struct err *e);

/*
 * The adapters' training state (a checkpoint's): every adapter tensor, its AdamW
 * moments as "<name>.exp_avg" and "<name>.exp_avg_sq" (zeros without optimizer
 * buffers), metadata format "r1flow-lora-state", step, rank, alpha (%.9g) and
 * targets (comma-separated names). Bytes malloc'd.
 */
int lora_state_write_mem(const struct lora *lo, long step, void **data, size_t *size,
	struct err *e);
/* The rank, alpha and targets a state's metadata records. */
int lora_state_config(const void *data, size_t size, const char *what, struct lora_config *c,
	struct err *e);
/* Read a state into lo (whose config must be the state's; moments allocated); *step
 * gets its step. */
int lora_state_read(struct lora *lo, const void *data, size_t size, const char *what,
	long *step, struct err *e);

/* W += s·B·A for every target: params is a buffer in m's layout (m->params_mem or a
 * copy of it); m gives the layout and must have lo's config. */
void lora_merge(const struct lora *lo, const struct model *m, float *params);

#endif
