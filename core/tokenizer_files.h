/*
 * tokenizer_files — a tokenizer written as the files of a Hugging Face model directory,
 * for `r1flow export`.
 *
 *   tokenizer_files_bytes(cfg, files, err)
 *       the byte tokenizer (tokenizer.h) as tokenizer.json, tokenizer_config.json and
 *       generation_config.json, such that Hugging Face's tokenizer libraries (and
 *       r1flow's own hftok, so tokenizer_open_dir on the directory) give the ids
 *       r1flow's byte tokenizer gives:
 *         model          BPE over the ByteLevel alphabet (GPT-2's byte-to-character
 *                        map), no merges: byte b is the character of b, id b
 *         pre-tokenizer  ByteLevel without its regex and without a prefix space, so
 *                        the text is one word of single-byte tokens
 *         added tokens   the seven specials (<|bos|> ... </answer>) at ids 256..262,
 *                        special, normalized false: cut out of the raw text first,
 *                        as tok_encode matches their spelling anywhere
 *         post-processor TemplateProcessing putting cfg's BOS before the text
 *         decoder        ByteLevel
 *       tokenizer_config.json names bos/eos/pad by their spelling with add_bos_token
 *       true, model_max_length = cfg->max_seq, clean_up_tokenization_spaces false
 *       (transformers would otherwise drop the space in " ."), tokenizer_class
 *       PreTrainedTokenizerFast; generation_config.json gives the three ids.
 *       Specials at or past cfg->vocab are left out (a model that small cannot hold
 *       them). The one difference left: text that is not valid UTF-8 — the byte
 *       tokenizer takes its bytes, the libraries read U+FFFD first (and decode
 *       unfinished characters as U+FFFD), which a Python or JS string cannot hold
 *       anyway.
 *   tokenizer_files_generation(t, file, err)
 *       a generation_config.json for tokenizer t: bos_token_id, eos_token_id (t's stop
 *       ids: one id, or a list when several) and pad_token_id when t has one; for a
 *       model that came without one.
 *   tokenizer_files_free(files, n)
 *
 * Every file is pretty JSON ending in a newline; the caller owns the bytes.
 */
#ifndef R1_TOKENIZER_FILES_H
#define R1_TOKENIZER_FILES_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "tokenizer.h"

struct tokenizer_file {
	const char *name;  /* TOKENIZER_JSON, TOKENIZER_CONFIG or TOKENIZER_GENERATION */
	char *data;        /* malloc'd */
	size_t size;
};

#define TOKENIZER_FILES TOKENIZER_NFILES

/* files[0..3): tokenizer.json, tokenizer_config.json, generation_config.json. */
int tokenizer_files_bytes(const struct model_config *cfg,
	struct tokenizer_file files[TOKENIZER_FILES], struct err *err);

int tokenizer_files_generation(const struct tokenizer *t, struct tokenizer_file *file,
	struct err *err);

void tokenizer_files_free(struct tokenizer_file *files, size_t n);

#endif
