/*
 * checkpoint — a model directory in the Hugging Face layout:
 *
 *   DIR/config.json          HF config of a LlamaForCausalLM, MistralForCausalLM,
 *                            Qwen2ForCausalLM or Qwen3ForCausalLM, read and
 *                            written by hfconfig.h (which refuses every key r1flow
 *                            does not implement that would change the model)
 *   DIR/model.safetensors    parameters under HF names (written F32; read from
 *                            F32, F16 or BF16), or shards named by
 *                            DIR/model.safetensors.index.json (shards.h); the
 *                            model computes in fp32 whatever the files hold
 *   DIR/optimizer.safetensors  optional AdamW state: "<name>.exp_avg",
 *                            "<name>.exp_avg_sq" per parameter, metadata "step"
 *
 * An exported directory loads with transformers' from_pretrained of its class.
 * Every failure — missing file, malformed JSON or header, missing tensor, wrong
 * shape, truncated data — is an error naming the file and the tensor or key.
 * Writes go to temp files renamed into place.
 */
#ifndef R1_CHECKPOINT_H
#define R1_CHECKPOINT_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "hfconfig.h"
#include "model.h"

/*
 * Read config.json, model_init(m, cfg, max_B, max_T) and load every parameter.
 * max_T <= 0 means cfg.max_seq; max_B 0 an inference-only model (no gradients or
 * activations: generation). On error m is released.
 */
int checkpoint_load(struct model *m, const char *dir, int max_B, int max_T, struct err *e);

/* Load parameters into an initialised model whose config matches the directory's. */
int checkpoint_load_params(struct model *m, const char *dir, struct err *e);

/*
 * Read the parameters in the safetensors file `path` (a model.safetensors: HF names,
 * F32/F16/BF16) into `params`, a buffer in m's layout of m->num_params floats
 * (m->params_mem loads the model itself). The file must hold exactly m's tensors,
 * with m's shapes; whether it was written for m's config is the caller's to know
 * (worker jobs carry the config beside the file's sha256). On error `params` may be
 * partly written.
 */
int checkpoint_read_params_file(const struct model *m, const char *path, float *params,
	struct err *e);

/* Parameters a checkpoint may have: fp32 weights, gradients and moments of a bigger
 * model do not fit a machine r1flow runs on. */
#define CHECKPOINT_MAX_PARAMS (1LL << 33)

/*
 * Check DIR as a model to start from, without loading its weights: the directory
 * exists; config.json parses and is a supported config of at most
 * CHECKPOINT_MAX_PARAMS parameters, with a torch_dtype export can write back;
 * model.safetensors' header (or the index and every shard's, shards.h) parses, every
 * tensor's bytes lie inside its file, and the set holds exactly the config's tensors
 * with their shapes in a float dtype. Errors name DIR's own files. cfg (may be NULL) gets the
 * config. validate and submit run it, so a broken directory fails before a stage.
 */
int checkpoint_check(const char *dir, struct model_config *cfg, struct err *e);

/* Write config.json and model.safetensors, F32, one file (removing the shards and
 * index of an earlier save), and optimizer.safetensors when step > 0 and the model
 * has optimizer buffers. r1flow export writes other dtypes and shards (shards.h). */
int checkpoint_save(const struct model *m, const char *dir, long optimizer_step, struct err *e);

/* Load DIR/optimizer.safetensors into m's moments; sets *step. */
int checkpoint_load_optimizer(struct model *m, const char *dir, long *step, struct err *e);

#endif
