/*
 * packing — texts into token sequences that fit a model's context (max_seq), the one
 * place that decides what a stage feeds the model:
 *
 *   pack_prompt    a sampling prompt (eval, grpo, rejection_sample):
 *                  <bos> + the template with {prompt} replaced by the prompt, one
 *                  text tokenized whole (as a rendered chat template is).
 *                  Generation then adds up to max_new_tokens, so a prompt fits when
 *                  its length + max_new_tokens <= max_seq (pack_prompt_fits).
 *   pack_example   an SFT example: <bos> template(prompt) response <eos>, the loss on
 *                  the response and <eos> (from *start). It fits when its whole length
 *                  is <= max_seq; an example that does not fit is refused (naming the
 *                  record), never truncated: a cut response would teach the model to
 *                  stop mid-answer, and a cut prompt to answer another question.
 *   pack_chat      an SFT chat (chat.h): <bos> and the conversation in a chat format;
 *                  mask[i] is 1 where ids[i] is trained — the assistant turns' text
 *                  and end-of-turn token — and *start is the first such position. No
 *                  <eos> follows: the format's end-of-turn token ends each answer, and
 *                  the model stops at it (a stop id of the tokenizer or a stop string).
 *                  The rendered text is tokenized in runs: segments with the same loss
 *                  flag as one text, a new run where the flag changes, so a header and
 *                  the content after it are tokenized apart, as pack_example does the
 *                  prompt and the response (the ids differ from tokenizing the whole
 *                  text only where a merge would cross that boundary: a content that
 *                  starts with a newline after chatml's "assistant\n"). It fits, and
 *                  is refused, as pack_example.
 *   pack_document  a pretraining document: <bos> text <eos>. A document longer than
 *                  max_seq is cut into windows (pack_windows): window w holds ids
 *                  [w·(max_seq−1), w·(max_seq−1) + max_seq) of the document, so
 *                  consecutive windows share one id and every id after <bos> is a
 *                  target exactly once. The last window may be shorter.
 *
 * <bos> is written when the tokenizer adds one (tokenizer.h add_bos: the byte
 * tokenizer and Llama do, Qwen does not); <eos> is the tokenizer's eos_id.
 *
 * Every function returns the number of ids the whole sequence needs, which may exceed
 * `cap`: only the first `cap` ids are written (snprintf-like), so a caller can never
 * write past its buffer, and compares the result with the limit it enforces; -1 with
 * e set only when out of memory. A template without "{prompt}" is used as a prefix
 * (the spec loader refuses such templates; this keeps the functions total).
 *
 * Functions over core/tokenizer: no I/O; they allocate only scratch, freed before
 * returning.
 */
#ifndef R1_PACKING_H
#define R1_PACKING_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "err.h"
#include "tokenizer.h"

int64_t pack_prompt(struct tokenizer *tok, const char *tpl, const char *prompt, int *ids,
	size_t cap, struct err *e);

/* 1 when a prompt of `len` ids leaves room for max_new generated ids in max_seq. */
int pack_prompt_fits(size_t len, int64_t max_new, int max_seq);

/* *start: the position of the response's first id (even when it is past cap). */
int64_t pack_example(struct tokenizer *tok, const char *tpl, const char *prompt,
	const char *response, int *ids, size_t cap, size_t *start, struct err *e);

/* mask may be NULL; else it has cap flags, written as ids are. *start as above (the
 * whole length when nothing is trained: an empty answer of role templates without an
 * end token). */
int64_t pack_chat(struct tokenizer *tok, const struct chat_format *f, const struct chat *c,
	int *ids, unsigned char *mask, size_t cap, size_t *start, struct err *e);

int64_t pack_document(struct tokenizer *tok, const char *text, int *ids, size_t cap,
	struct err *e);

/* The windows a sequence of n ids is cut into for max_seq (>= 2): 1 when n <= max_seq. */
int64_t pack_windows(int64_t n, int max_seq);

/* The first id of window w. */
int64_t pack_window_start(int64_t w, int max_seq);

#endif
