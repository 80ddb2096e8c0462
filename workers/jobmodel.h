/*
 * jobmodel — the model behind the rollout and grad job kinds: weights and config
 * read from a job's params, kept across jobs.
 *
 * Params (shared by every model-running kind)
 *   weights   sha256 of a checkpoint blob: the bytes of an HF model.safetensors
 *             (HF tensor names, as checkpoint_save writes it)
 *   config    the HF config.json object, as hfconfig_write writes it
 *   lora      optional {rank, alpha, targets: [projection names], adapter: sha256 of
 *             the adapters' safetensors (lora_write_mem)}: the model runs with
 *             these LoRA adapters attached (core/lora.h); the weights are the
 *             frozen base, fetched once and kept while only the adapters change
 * The blobs come through job_blob_path (fetched and verified when missing).
 *
 * Cache. One model lives in a static slot, keyed by the config's canonical text
 * (compact JSON, sorted keys) and the weights' sha256: consecutive jobs on the same
 * weights reuse it; other weights under the same config reload only the
 * parameters; another config rebuilds it. The model is sized (max_B, max_T) for the
 * job that built it; a job that needs more rows or a longer T or the other checkpointing
 * mode, resizes it to exactly its own needs (model_resize: the parameters stay, nothing is reloaded). Rollouts
 * ask for (0, 0): an inference-only model (weights and RoPE tables), so a grad
 * job's activations and gradients are freed while a generator holds its buffers,
 * and allocated again (zeroed) by the next grad job. A second
 * slot holds one more parameter set of the same config (GRPO's reference model),
 * swapped in with jobmodel_point.
 *
 * Nothing here changes a result: a job's bytes depend on its params and blobs
 * only, never on what the cache held before (forward and backward do not depend on
 * the sizes a model was initialised for; callers zero the gradients).
 *
 * Compute thread only (the cache has no lock), like job_blob_path. A model or
 * parameter pointer returned here is valid until the next jobmodel call.
 */
#ifndef R1_JOBMODEL_H
#define R1_JOBMODEL_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "job.h"
#include "jobparams.h"
#include "lora.h"
#include "model.h"

struct jobmodel_spec {
	const char *weights;        /* sha256, borrowed from the params */
	struct lora_config lora;    /* rank 0: no adapters */
	const char *adapter;        /* with lora: the adapters' sha256, borrowed */
	char *config_text;          /* canonical config JSON, owned */
	struct model_config cfg;    /* parsed and validated */
	bool checkpoint;            /* activation checkpointing (model.h); false unless the
	                               caller sets it (grad's checkpoint_activations) */
};

/* Read and check "weights" and "config" from params; errors name the key. */
int jobmodel_spec_read(struct jobparams *p, const json_t *params, struct jobmodel_spec *s);
void jobmodel_spec_release(struct jobmodel_spec *s);

/*
 * The model of spec with its weights loaded (and its adapters attached as m->lora,
 * or m->lora NULL without) and max_B >= B, max_T >= T (B 0: an inference-only
 * model). Errors
 * start with `kind`; *retryable is set when the blob could not be fetched (another
 * worker may reach the daemon), left alone otherwise (a bad checkpoint stays bad).
 */
struct model *jobmodel_get(const struct job *job, const char *kind,
	const struct jobmodel_spec *s, int B, int T, int *retryable, struct err *err);

/*
 * The flat parameters (num_params floats, the model's layout) of weights `sha256`
 * under the config of the last jobmodel_get: that model's own params_mem when the
 * sha256 is its weights, else the second slot, loaded if it holds other weights.
 * Errors as jobmodel_get.
 */
const float *jobmodel_params(const struct job *job, const char *kind, const char *sha256,
	int *retryable, struct err *err);

/* Point m's tensors at params (from jobmodel_params; read only), or back at its own
 * params_mem when params is NULL. Only the forward pass may run in between. */
void jobmodel_point(struct model *m, const float *params);

/* Free both slots (tests: leak checkers; the worker never needs to). */
void jobmodel_clear(void);

#endif
