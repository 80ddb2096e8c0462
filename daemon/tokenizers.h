/*
 * tokenizers — a pipeline's tokenizer on the daemon (core/tokenizer.h).
 *
 * A pipeline's tokenizer is fixed at submit: tokenizers_pin reads the files of
 * model.tokenizer (a directory or a tokenizer.json), else of the model.checkpoint
 * directory when it holds a tokenizer.json, stores each as a blob and records them in
 * the stored spec as model.tokenizer_blobs = {"tokenizer.json": sha256,
 * "tokenizer_config.json": sha256, "generation_config.json": sha256} (the optional
 * two only when present). A model taken from another pipeline's stage takes that
 * pipeline's tokenizer_blobs. No tokenizer_blobs: the byte tokenizer. So a run never
 * depends on the user's files after submit (they may change or go), a restart loads
 * the same bytes, and workers fetch them like any blob (rollout jobs carry the object
 * as their `tokenizer` param). gc keeps blobs a pipeline's spec names.
 *
 *   tokenizers_pin     at submit, after stage_model_resolve; drops any
 *                      tokenizer_blobs the submitted spec carried
 *   tokenizers_get     the tokenizer of a stored spec for a model config (its
 *                      vocab_size and ids; cfg->vocab <= 0 for a model made for the
 *                      tokenizer), loaded once and kept (a few at a time, least
 *                      recently used goes); valid until the next tokenizers_get
 *   tokenizers_model   a model.config model made for the spec's tokenizer: its
 *                      vocab_size and bos/eos/pad ids become the tokenizer's (no
 *                      change for the byte tokenizer)
 *   tokenizers_blobs   the spec's tokenizer_blobs object (borrowed) or NULL
 *   tokenizers_clear   free the cache (tests, leak checkers)
 *
 * Event loop only.
 */
#ifndef R1_TOKENIZERS_H
#define R1_TOKENIZERS_H

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "tokenizer.h"

#define TOKENIZERS_KEY "tokenizer_blobs"

struct daemon;

int tokenizers_pin(struct daemon *d, json_t *spec, struct err *err);
struct tokenizer *tokenizers_get(struct daemon *d, const json_t *spec,
	const struct model_config *cfg, struct err *err);
int tokenizers_model(struct daemon *d, const json_t *spec, struct model_config *cfg,
	struct err *err);
const json_t *tokenizers_blobs(const json_t *spec);
void tokenizers_clear(void);

#endif
