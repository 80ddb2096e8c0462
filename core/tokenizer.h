/*
 * tokenizer — the one way text becomes token ids and ids become text, everywhere in
 * r1flow (packing prompts and SFT examples, rollouts, stop strings, rewards,
 * `r1flow score|sample|tokenize`). A tokenizer is one of:
 *
 *   the byte tokenizer   byte b is id b; seven special tokens follow from 256
 *                        (enum tok_special). Text containing a special's spelling
 *                        ("<think>") encodes to its id, so templates are plain
 *                        strings; decoding prints specials as their spelling and
 *                        skips ids past them. A model directory without a
 *                        tokenizer.json uses it, with config.json's bos/eos/pad.
 *   a Hugging Face one   tokenizer.json (hftok.h: ids identical to the `tokenizers`
 *                        library), with the optional tokenizer_config.json and
 *                        generation_config.json beside it.
 *
 * The ids around the text (struct tokenizer's fields), for a Hugging Face tokenizer:
 *   bos_id    tokenizer_config.json's bos_token, else the first id the file's
 *             post-processor puts before the text, else config.json's bos_token_id
 *   add_bos   tokenizer_config.json's add_bos_token when present, else whether the
 *             post-processor puts a token before the text (Llama-3: yes; Qwen: no)
 *   eos_id    tokenizer_config.json's eos_token, else config.json's eos_token_id:
 *             ends SFT examples and pretraining documents
 *   pad_id    tokenizer_config.json's pad_token, else config.json's, else -1
 *   stop ids  generation ends at any of: eos_id, config.json's eos_token_id, and
 *             generation_config.json's eos_token_id (an id or a list)
 * and for the byte tokenizer bos/eos/pad are config.json's, add_bos is bos_id >= 0 and
 * eos_id is the one stop id. Every id is checked to be < vocab.
 *
 * The vocabulary check: a tokenizer may be smaller than the model's embedding (rows
 * past it are never produced), never larger: tokenizer_load refuses a tokenizer.json
 * whose largest id is >= config.json's vocab_size, naming both files and sizes.
 *
 * Text the model wrote (tokenizer_decode) always has the special tokens spelled out;
 * the Hugging Face path returns valid UTF-8 (a sequence ending inside a character
 * ends in U+FFFD), the byte path the bytes themselves (utf8.h makes them JSON-safe).
 * tokenizer_piece gives the bytes one token adds to the text, for stop strings that
 * end inside a token (generate.c matches on bytes; Metaspace's leading space of the
 * first token is kept there, which only matters for a stop string at position 0).
 *
 * Ownership and threads: the handle owns its hftok when tokenizer_load made it, and
 * borrows it from tokenizer_load_hf's caller otherwise (a cache loads a 150k-id file
 * once for several model configs); hftok.h: one thread at a time encodes, decoding
 * and lookups only read.
 */
#ifndef R1_TOKENIZER_H
#define R1_TOKENIZER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "hftok.h"

enum tok_special {
	TOK_BOS = 256,     /* <|bos|> */
	TOK_EOS,           /* <|eos|> */
	TOK_PAD,           /* <|pad|> */
	TOK_THINK,         /* <think> */
	TOK_THINK_END,     /* </think> */
	TOK_ANSWER,        /* <answer> */
	TOK_ANSWER_END,    /* </answer> */
	TOK_NUM_IDS,       /* 263: first id past the specials */
};

/* The byte tokenizer's functions. */

/* Spelling of a special id, or NULL. */
const char *tok_special_name(int id);

/*
 * Encode text (len bytes) into ids; returns the number of ids, which is at most len.
 * Writes at most cap ids (the return value may exceed cap: call again with room).
 */
size_t tok_encode(const char *text, size_t len, int *ids, size_t cap);

/*
 * Decode ids into out (NUL-terminated, at most cap bytes including the NUL); returns
 * the length the full text needs, excluding the NUL (snprintf-like).
 */
size_t tok_decode(const int *ids, size_t n, char *out, size_t cap);

/* The files of a Hugging Face tokenizer, by name in a model directory. */
#define TOKENIZER_JSON "tokenizer.json"
#define TOKENIZER_CONFIG "tokenizer_config.json"
#define TOKENIZER_GENERATION "generation_config.json"

/* The three, in that order: the only names a tokenizer file is stored, sent or
 * written under (a name becomes a path in an export directory). */
#define TOKENIZER_NFILES 3
extern const char *const tokenizer_file_names[TOKENIZER_NFILES];

#define TOKENIZER_MAX_STOP 16

struct tokenizer {
	struct hftok *hf;        /* NULL: the byte tokenizer */
	bool owns_hf;            /* tokenizer_release frees hf */
	int32_t vocab;           /* every id it produces is < vocab */
	int32_t bos_id, eos_id, pad_id; /* -1: none */
	bool add_bos;            /* sequences start with bos_id */
	int32_t stop[TOKENIZER_MAX_STOP]; /* generation ends at any of these */
	int n_stop;
};

/* The byte tokenizer with cfg's ids (vocab = cfg->vocab). */
void tokenizer_bytes(struct tokenizer *t, const struct model_config *cfg);

/*
 * A Hugging Face tokenizer from its files: json (tokenizer.json, required), config
 * (tokenizer_config.json) and generation (generation_config.json), either may be
 * NULL. cfg is the model's config (its vocab_size bounds the tokenizer, its
 * bos/eos/pad ids are the fall-backs); cfg->vocab <= 0 makes vocab the tokenizer's
 * own size (a model made for it). Errors name the file.
 */
int tokenizer_load(struct tokenizer *t, const char *json, const char *config,
	const char *generation, const struct model_config *cfg, struct err *e);

/* tokenizer_load around an hftok already loaded from `json` (borrowed: it must
 * outlive t; tokenizer_release leaves it). */
int tokenizer_load_hf(struct tokenizer *t, struct hftok *hf, const char *json,
	const char *config, const char *generation, const struct model_config *cfg,
	struct err *e);

/* The files of a Hugging Face tokenizer; "" where absent. */
struct tokenizer_paths {
	char json[PATH_MAX], config[PATH_MAX], generation[PATH_MAX];
};

/*
 * The tokenizer files at path: a directory (its tokenizer.json and the two optional
 * files) or a tokenizer.json file (the optional files looked for beside it). 1 when
 * there is a tokenizer.json, 0 for a directory without one, -1 when path cannot be
 * read.
 */
int tokenizer_find(const char *path, struct tokenizer_paths *p, struct err *e);

/*
 * The tokenizer of model directory `dir`: its tokenizer.json (with the two optional
 * files beside it) when there is one, else the byte tokenizer. cfg as above.
 * Returns 1 for a Hugging Face tokenizer, 0 for the byte tokenizer, -1 on error.
 */
int tokenizer_open_dir(struct tokenizer *t, const char *dir, const struct model_config *cfg,
	struct err *e);

void tokenizer_release(struct tokenizer *t);

/* Append the ids of text (len bytes, no BOS/EOS added) to *ids. */
int tokenizer_encode(struct tokenizer *t, const char *text, size_t len, struct hftok_ids *ids,
	struct err *e);

/* Append the tokenizer's BOS when it adds one, then the ids of text: a sequence as
 * packing starts it (score, sample, tokenize --bos). */
int tokenizer_encode_bos(struct tokenizer *t, const char *text, size_t len,
	struct hftok_ids *ids, struct err *e);

/*
 * The text of ids (a new NUL-terminated string of *len bytes; the caller frees it),
 * special tokens spelled out. NULL only when out of memory (e says so).
 */
char *tokenizer_decode(const struct tokenizer *t, const int *ids, size_t n, size_t *len,
	struct err *e);

/* The bytes token id adds to a text, snprintf-like into out (cap bytes, NUL-terminated
 * when cap > 0); returns their number. */
size_t tokenizer_piece(const struct tokenizer *t, int id, char *out, size_t cap);

/* 1 when generation ends at id. */
int tokenizer_is_stop(const struct tokenizer *t, int id);

/* The id spelled s (a special or added token, or a vocabulary entry), -1 if none. */
int tokenizer_token_id(const struct tokenizer *t, const char *s);

#endif
