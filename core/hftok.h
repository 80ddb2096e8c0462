/*
 * hftok — a Hugging Face `tokenizer.json` (model type BPE) read and run exactly as the
 * `tokenizers` library runs it, for the byte-level BPE family (GPT-2 style: Llama-3,
 * Qwen2/2.5/3, DeepSeek-V3, SmolLM2) and SentencePiece-converted BPE with byte
 * fallback (Llama-2, Mistral, Gemma). bench/tokenizer_parity.sh compares the ids and
 * decoded text with a reference implementation on the real Llama-3, Qwen3,
 * DeepSeek-V3, Llama-2 and Gemma-3 files.
 *
 *   hftok_load(path, err)      parse the file; NULL with err filled on any problem:
 *                              unreadable or malformed JSON, a model type other than
 *                              BPE (WordPiece and Unigram are refused by name), an
 *                              unknown normalizer/pre-tokenizer/decoder/post-processor
 *                              type, a merge naming a token not in the vocabulary,
 *                              BPE dropout (random, so no fixed ids). Every message
 *                              names the file.
 *   hftok_free(t)
 *   hftok_encode(t, text, n, add_special, &ids, err)
 *                              text (n bytes) into ids appended to `ids` (a caller-owned
 *                              growable array: reuse it across calls, free(ids.v) at the
 *                              end). Bytes that are not valid UTF-8 are read as U+FFFD,
 *                              as a Rust String::from_utf8_lossy would. add_special
 *                              applies the post-processor (BOS/EOS of the template).
 *   hftok_decode(t, ids, n, skip_special, &len, err)
 *                              a new string (caller frees) of len bytes plus a NUL: the
 *                              decoders' output, which may hold NUL bytes itself (a
 *                              text with U+0000 round-trips); always valid UTF-8 — ids
 *                              ending in the middle of a character decode to U+FFFD;
 *                              ids not in the vocabulary are skipped (as the reference
 *                              does). len may be NULL.
 *   hftok_vocab_size(t)        one past the largest id (model vocabulary and added tokens)
 *   hftok_token_id(t, s)       the id spelled s (added token or vocabulary), -1 if none
 *   hftok_id_token(t, id)      the spelling of id (NUL-terminated, owned by t), or NULL
 *   hftok_is_special(t, id)    1 when id is an added token marked special
 *   hftok_template_bos(t)      the first id the post-processor puts before the text,
 *                              -1 when it puts none
 *   hftok_piece(t, id, out, cap)
 *                              the bytes id adds to a decoded text (ByteLevel: its
 *                              raw bytes, even half a character; byte fallback
 *                              <0xAB>: that byte; SentencePiece's ▁: a space; an
 *                              added token: its spelling), snprintf-like; Strip
 *                              decoders are not applied (they depend on position)
 *
 * The pipeline is the library's: added tokens are cut out first (those with
 * normalized=false on the raw text, then the text between them is normalized and those
 * with normalized=true are cut out of it, leftmost-longest, honouring lstrip, rstrip and
 * single_word); each remaining piece goes through the pre-tokenizers, then the BPE
 * model (merges by rank, ignore_merges, byte_fallback, unk_token), then the
 * post-processor. Supported components:
 *   normalizers     NFC NFD NFKC NFKD (utf8proc), Lowercase, Prepend, Replace, Strip,
 *                   Sequence
 *   pre-tokenizers  ByteLevel (add_prefix_space, use_regex), Split (String or Regex
 *                   pattern; behaviour Isolated, Removed, MergedWithPrevious,
 *                   MergedWithNext, Contiguous; invert), Digits, Metaspace
 *                   (prepend_scheme always/first/never, split), Sequence
 *   decoders        ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence
 *   post-processors TemplateProcessing (its `single` template), ByteLevel, Sequence
 * Regexes run in PCRE2 with UTF and UCP, which reads the files' Oniguruma patterns
 * (\p{L}, lookahead, (?i:...)) the same way. Known difference: Lowercase uses
 * utf8proc's simple case mapping, not Rust's full one (a final sigma, U+0130).
 *
 * Memory: hftok_load sizes its tables once from the file; hftok_encode allocates its
 * working lists per call and frees them before returning, and keeps at most one cache
 * entry per slot (16384 slots, words up to 256 bytes); hftok_decode allocates only its
 * result and its working lists.
 *
 * Ownership and threads: the handle owns everything it returns. hftok_encode keeps a
 * per-word cache and regex match data in the handle, so one handle serves one thread
 * at a time; hftok_decode, hftok_token_id and hftok_id_token only read.
 */
#ifndef R1_HFTOK_H
#define R1_HFTOK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct hftok;

struct hftok_ids {
	int32_t *v;
	size_t n, cap;
};

struct hftok *hftok_load(const char *path, struct err *err);
void hftok_free(struct hftok *t);

int hftok_encode(struct hftok *t, const char *text, size_t n, int add_special,
		 struct hftok_ids *ids, struct err *err);
char *hftok_decode(const struct hftok *t, const int32_t *ids, size_t n, int skip_special,
		   size_t *len, struct err *err);

int32_t hftok_vocab_size(const struct hftok *t);
int32_t hftok_token_id(const struct hftok *t, const char *s);
const char *hftok_id_token(const struct hftok *t, int32_t id);
int hftok_is_special(const struct hftok *t, int32_t id);
int32_t hftok_template_bos(const struct hftok *t);
size_t hftok_piece(const struct hftok *t, int32_t id, char *out, size_t cap);

#endif
