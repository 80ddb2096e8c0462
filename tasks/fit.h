/*
 * fit — does a pipeline's data fit its model's context? Checked before anything runs
 * (`r1flow validate` over the spec's generated and JSONL datasets, the daemon at submit
 * over the datasets it has just made), so a spec that would overflow max_seq is refused
 * with the stage, the dataset and the record instead of failing — or, before this
 * check existed, corrupting memory — mid-pipeline.
 *
 * What each stage kind packs (packing.h) from the records of its dataset:
 *   eval              `dataset`, the first `limit` records (all when 0): the
 *                     templated prompt + max_new_tokens must fit max_seq
 *   grpo,             `prompts`: the same
 *   rejection_sample
 *   sft               `dataset`: the whole example <bos> template(prompt) response
 *                     <eos> must fit max_seq; with chat_format or chat_template, a
 *                     chat record's whole rendered conversation (pack_chat)
 *   pretrain          nothing: longer documents are cut into windows
 * A dataset the source does not know (made by an earlier stage of the pipeline: a
 * rejection-sampling output, a merge) is skipped here; the stage that reads it checks
 * each record when it packs it (the same rules, failing the stage naming the record).
 *
 * The error names the worst record (the longest templated prompt or example) and how
 * many records do not fit:
 *   stage 'ev': dataset 'test' record 17 (data/test.jsonl:18): the templated prompt is
 *   52 tokens and max_new_tokens 48 needs 100, more than max_seq 64 (3 of 200 records
 *   do not fit): shorten the template or the prompts, lower max_new_tokens or raise
 *   max_seq
 */
#ifndef R1_FIT_H
#define R1_FIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "tokenizer.h"

struct fit_record {
	const char *prompt, *response, *text; /* NULL where absent; borrowed */
	const char *messages;                 /* a chat's messages (JSON text) or NULL */
	const char *answer, *record;          /* for showing (templated.h); fit ignores them */
	char where[256];                      /* "FILE:LINE" or "" (the index says enough) */
};

/* Where the records come from: the caller's datasets. */
struct fit_source {
	void *ctx;
	/* 1 and *n records when dataset `name` is known, 0 when it is not (made later). */
	int (*count)(void *ctx, const char *name, int64_t *n, struct err *err);
	/* Record i of `name` into *r, valid until the next call. */
	int (*get)(void *ctx, const char *name, int64_t i, struct fit_record *r,
		struct err *err);
};

/* The context and the tokenizer of the spec's model (model.tokenizer, else the
 * checkpoint directory's tokenizer.json, else the byte tokenizer): 1 known (release
 * *tok), 0 not known before the pipeline runs (a model from another pipeline's
 * stage), -1 error (a config.json or tokenizer file that cannot be read, naming it). */
int fit_model(const json_t *spec, int *max_seq, struct tokenizer *tok, struct err *err);

/* The files of the spec's tokenizer from the user's paths: model.tokenizer (which
 * must hold a tokenizer.json), else the model.checkpoint directory's. 1 found, 0 the
 * byte tokenizer, -1 with err naming the key and the path. */
int fit_tokenizer_paths(const json_t *spec, struct tokenizer_paths *p, struct err *err);

/* fit_model's first half: the spec's model config (for a config model made for
 * model.tokenizer, vocab and the bos/eos/pad ids are -1: the tokenizer's to give).
 * The daemon takes the tokenizer from its pinned blobs instead of the user's paths. */
int fit_model_config(const json_t *spec, struct model_config *cfg, struct err *err);

/* Check every stage of the normalised spec against max_seq with the model's
 * tokenizer. 0 fits, -1 with err (ERR_INVALID) naming the worst record. */
int fit_check(const json_t *spec, int max_seq, struct tokenizer *tok,
	const struct fit_source *src, struct err *err);

#endif
