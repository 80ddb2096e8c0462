/*
 * hfconfig — a Hugging Face config.json as a model_config (config.h), both ways.
 *
 * Reads the config of a LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM or
 * Qwen3ForCausalLM: the architecture from model_type and/or architectures (both
 * absent: llama, as r1flow's first configs were written), the sizes, token ids,
 * RoPE (rope_scaling null, "linear" or "llama3", or transformers 5's
 * rope_parameters), head_dim (Qwen3Config's default 128 when absent). Every key
 * r1flow does not implement that would change the model (another rope type, a
 * sliding window, dropout, biases it has no place for, another activation,
 * partial rotary) is refused naming key and file, rather than ignored: ignoring it
 * would train another model than the file describes. The result passes
 * config_validate. Absent optional keys take config_defaults' values.
 *
 * Writes config.json as transformers' config class of the architecture writes it
 * (the fixed keys: architectures, model_type, hidden_act, torch_dtype float32, the
 * architecture's bias/window/head_dim keys), so the directory loads with
 * from_pretrained. Writes go to a temp file renamed into place.
 *
 * Errors name the file (or the `what` of a text) and the key.
 */
#ifndef R1_HFCONFIG_H
#define R1_HFCONFIG_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "safetensors.h"

/* Parse DIR/config.json into cfg (defaults for absent optional keys). */
int hfconfig_read(const char *dir, struct model_config *cfg, struct err *e);

/*
 * Parse the text of a config.json (len bytes) into cfg, as hfconfig_read does;
 * `what` names the text in errors where a path would be (e.g. "config").
 */
int hfconfig_parse(const char *text, size_t len, const char *what,
	struct model_config *cfg, struct err *e);

/* Write DIR/config.json for cfg (creates DIR if needed). */
int hfconfig_write(const char *dir, const struct model_config *cfg, struct err *e);

/* DIR/config.json's torch_dtype (or "dtype", as transformers >= 4.56 names it; absent:
 * F32) as a dtype r1flow can write; -1 naming the file for any other. */
int hfconfig_read_dtype(const char *dir, enum st_dtype *dtype, struct err *e);

#endif
