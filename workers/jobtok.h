/*
 * jobtok — the tokenizer of a job that turns tokens into text (rollout).
 *
 * Params
 *   tokenizer   optional: {"tokenizer.json": sha256, "tokenizer_config.json": sha256,
 *               "generation_config.json": sha256} (the last two optional), the
 *               pipeline's pinned tokenizer files (docs/protocol.md); absent: the
 *               byte tokenizer with the config's ids
 * The blobs come through job_blob_path like weights. One tokenizer is kept, keyed
 * by the blob names and the config's vocab and ids: consecutive jobs of a pipeline
 * load it once (a 150k-vocabulary file takes about 0.3 s).
 *
 * Compute thread only (the cache has no lock). The pointer returned is valid until
 * the next jobtok call.
 */
#ifndef R1_JOBTOK_H
#define R1_JOBTOK_H

#include <jansson.h>

#include "config.h"
#include "job.h"
#include "tokenizer.h"

/* Errors start with `kind`; *retryable as jobmodel_get's. */
const struct tokenizer *jobtok_get(const struct job *job, const char *kind,
	const struct model_config *cfg, int *retryable, struct err *err);

/* Free the cache (tests: leak checkers). */
void jobtok_clear(void);

#endif
