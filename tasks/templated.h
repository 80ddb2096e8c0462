/*
 * templated — what a stage gives the model for one record, as text: the ids the
 * stage's packing (packing.h, the functions the stages call) makes of the record,
 * decoded with special tokens spelled out, so `r1flow dataset show --templated`
 * shows exactly what the model reads, and how many tokens it is.
 *
 * By stage kind (a normalised spec's stage):
 *   eval, grpo,          the sampling prompt: pack_prompt with the pipeline's
 *   rejection_sample     template; the model writes what follows
 *   sft                  the example: pack_example with the stage's template, or a
 *                        chat record (messages) rendered by the stage's chat_format
 *                        or chat_template (pack_chat); `trained` is the part the
 *                        loss covers (the response and <eos>, the assistant turns)
 *   pretrain             the document: pack_document (a longer one is cut into
 *                        windows by the stage; shown whole here)
 * Other kinds read no records. A record lacking what its stage reads is an error
 * saying what is missing, as the stage would fail.
 *
 *   templated_dataset   the dataset a stage reads (NULL: none)
 *   templated_record    one record through a stage (owned: templated_release)
 */
#ifndef R1_TEMPLATED_H
#define R1_TEMPLATED_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "fit.h"
#include "tokenizer.h"

struct templated {
	char *text;             /* the whole sequence (malloc'd) */
	char *trained;          /* sft: the trained ids, one run per line; else NULL */
	int64_t tokens;         /* ids of the sequence */
	int64_t trained_tokens; /* sft: how many of them are trained */
};

const char *templated_dataset(const json_t *stage);

int templated_record(const json_t *spec, const json_t *stage, struct tokenizer *tok,
	const struct fit_record *r, struct templated *out, struct err *err);

void templated_release(struct templated *t);

#endif
