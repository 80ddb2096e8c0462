/*
 * checkpoint — a model directory in the Hugging Face layout:
 *
 *   DIR/config.json          LlamaForCausalLM config (HF keys)
 *   DIR/model.safetensors    parameters under HF Llama names (written F32;
 *                            read from F32, F16 or BF16)
 *   DIR/optimizer.safetensors  optional AdamW state: "<name>.exp_avg",
 *                            "<name>.exp_avg_sq" per parameter, metadata "step"
 *
 * An exported directory loads with transformers' LlamaForCausalLM.from_pretrained.
 * Every failure — missing file, malformed JSON or header, missing tensor, wrong
 * shape, truncated data — is an error naming the file and the tensor or key.
 * Writes go to temp files renamed into place.
 */
#ifndef R1_CHECKPOINT_H
#define R1_CHECKPOINT_H

#include "config.h"
#include "err.h"
#include "model.h"

/* Parse DIR/config.json into cfg (defaults for absent optional keys). */
int checkpoint_read_config(const char *dir, struct model_config *cfg, struct err *e);

/* Write DIR/config.json for cfg (creates DIR if needed). */
int checkpoint_write_config(const char *dir, const struct model_config *cfg, struct err *e);

/*
 * Read config.json, model_init(m, cfg, max_B, max_T) and load every parameter.
 * max_T <= 0 means cfg.max_seq. On error m is released.
 */
int checkpoint_load(struct model *m, const char *dir, int max_B, int max_T, struct err *e);

/* Load parameters into an initialised model whose config matches the directory's. */
int checkpoint_load_params(struct model *m, const char *dir, struct err *e);

/* Write config.json and model.safetensors (and optimizer.safetensors when step > 0
 * and the model has optimizer buffers). */
int checkpoint_save(const struct model *m, const char *dir, long optimizer_step, struct err *e);

/* Load DIR/optimizer.safetensors into m's moments; sets *step. */
int checkpoint_load_optimizer(struct model *m, const char *dir, long *step, struct err *e);

#endif
