/*
 * tokenizer — the byte tokenizer of README "The model core": byte b is id b; special tokens follow
 * from 256 up. Text containing a special token's spelling ("<think>") encodes to its
 * id, so templates can be written as plain strings. Decoding is the inverse (ids of
 * special tokens print as their spelling; ids beyond the specials print nothing).
 */
#ifndef R1_TOKENIZER_H
#define R1_TOKENIZER_H

#include <stddef.h>

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

#endif
