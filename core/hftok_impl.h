/*
 * hftok_impl — what the hftok files share and nothing else includes: the handle's
 * layout, the component steps (a Sequence is flattened into an array of steps), the
 * growable byte buffer, the UTF-8 helpers in Rust's lossy flavour, and what the encode
 * files pass each other (regex segments, pieces of text).
 *
 * hftok_load.c reads the JSON into this (hftok_json.c the vocabulary and merges,
 * hftok_parts.c the components around the model); hftok_encode.c runs added tokens,
 * normalizers, pre-tokenizers and the post-processor, with hftok_pattern.c for their
 * regexes (the Llama-3/Qwen pattern matched by hand) and hftok_bpe.c for the BPE model
 * on each word (the merge queue, the word cache); hftok_decode.c runs the decoders.
 */
#ifndef R1_HFTOK_IMPL_H
#define R1_HFTOK_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>

#include "hftok.h"

enum hft_kind {
	NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWER, NORM_PREPEND, NORM_REPLACE,
	NORM_STRIP,
	PRE_BYTELEVEL, PRE_SPLIT, PRE_DIGITS, PRE_METASPACE,
	DEC_BYTELEVEL, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_REPLACE, DEC_METASPACE,
};

enum hft_behavior { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_PREVIOUS, SPLIT_NEXT, SPLIT_CONTIGUOUS };

struct hft_step {
	enum hft_kind kind;
	char *str;          /* Prepend/Replace content, Strip/Metaspace character */
	size_t len;
	pcre2_code *re;     /* Split, Replace; ByteLevel's when use_regex */
	int behavior;       /* Split */
	int invert;         /* Split */
	int a, b;           /* ByteLevel add_prefix_space, use_regex; Digits individual;
	                       Strip left/right (normalizer) or start/stop (decoder);
	                       Metaspace decoder: prepend (a); Metaspace pre-tokenizer:
	                       prepend 0 never, 1 first, 2 always (a), split (b) */
};

struct hft_added {
	int32_t id;
	char *raw;          /* as in the file: the spelling decode gives */
	char *content;      /* as matched: the normalized form when normalized */
	size_t len;
	unsigned special : 1, lstrip : 1, rstrip : 1, normalized : 1, single_word : 1;
};

struct hft_cache_ent {
	char *word;         /* NULL: empty slot */
	size_t len;
	int32_t *ids;
	uint32_t nids;
};

struct hftok {
	char *path;
	/* id -> spelling: vocabulary (into arena), then added tokens over it (their raw) */
	char *arena;
	char **tok;
	uint32_t *toklen;
	int32_t nids;
	/* spelling -> id of the model vocabulary: open addressing, (hash << 32) | (id + 1),
	 * 0 empty; the hash spares a string compare on most probes */
	uint64_t *vmap;
	size_t vmask;
	/* (left, right) -> rank, merged id: one 16-byte slot per pair, one cache line */
	struct hft_merge {
		uint64_t key;     /* (uint64)(left + 1) << 32 | right; 0 empty */
		uint32_t rank;
		int32_t new;
	} *merge;
	size_t mmask;
	/* the model */
	int32_t unk;        /* -1: none */
	int byte_fallback, ignore_merges, fuse_unk;
	/* added tokens; is_added[id] for decoding */
	struct hft_added *added;
	size_t nadded;
	unsigned char *is_added; /* 0 no, 1 yes, 2 special */
	/* added tokens by first byte, longest first: aidx[abyte[c] .. abyte[c + 1]) */
	uint32_t *aidx;
	uint32_t abyte[257];
	/* components */
	struct hft_step *norm, *pre, *dec;
	size_t nnorm, npre, ndec;
	int32_t *bos, *eos;  /* the single template's ids before and after $A */
	size_t nbos, neos;
	/* encode state */
	pcre2_match_data *md;
	struct hft_cache_ent *cache;
	size_t cache_mask, cache_used;
};

/* growable bytes */
struct hft_buf {
	char *p;
	size_t n, cap;
};
int hft_buf_add(struct hft_buf *b, const void *s, size_t n);

/* room for n more bytes and a NUL (capacity doubles); -1 out of memory */
static inline int hft_buf_reserve(struct hft_buf *b, size_t n)
{
	if (b->n + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->n + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Rust's char boundaries: the code point at s (n > 0) and its length; an invalid
 * sequence (the longest prefix of a valid one, at least one byte) gives -1 */
int32_t hft_utf8_next(const char *s, size_t n, size_t *len);
/* s[0..n) as Rust's String::from_utf8_lossy: each invalid sequence becomes U+FFFD */
int hft_lossy(struct hft_buf *out, const char *s, size_t n);
size_t hft_utf8_put(char *dst, int32_t cp);
int hft_is_space(int32_t cp);

uint32_t hft_hash(const char *s, size_t n);
int32_t hft_vocab_get(const struct hftok *t, const char *s, size_t n);

/* the ByteLevel alphabet: byte -> its character's UTF-8 (1-2 bytes), and back */
extern char hft_byte_chars[256][3];
int hft_char_byte(int32_t cp);

const char *hft_json_ws(const char *p, const char *end);
int hft_json_string(const char **pp, const char *end, struct hft_buf *out);
char *hft_json_split(const char *doc, size_t n, size_t *restn, const char **vocab, size_t *nv,
		     const char **merges, size_t *nm);

/* hftok_parts.c; the json_t * are jansson's */
struct json_t;
int hft_load_parts(struct hftok *t, struct json_t *root, struct err *e);
void hft_free_steps(struct hft_step *s, size_t n);
const char *hft_type_of(struct json_t *o);
int hft_jbool(struct json_t *o, const char *k, int dflt);
char *hft_jdup(struct json_t *v, size_t *len); /* a string value, malloc'd; NULL if none */
/* err_set(ERR_FORMAT, "cannot load tokenizer 'path': " fmt) with one %s */
int hft_fail(struct err *e, const char *path, const char *fmt, const char *a);

int hft_normalize(const struct hftok *t, const char *s, size_t n, struct hft_buf *out);

/* hftok_pattern.c: a regex's matches (m 1) and the gaps between them (m 0), s[a..b) */
struct hft_seg {
	size_t a, b;
	int m;
};

struct hft_segs {
	struct hft_seg *v;
	size_t n, cap;
};

/* inline: it is called once per match */
static inline int hft_push_seg(struct hft_segs *s, size_t a, size_t b, int m)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct hft_seg *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct hft_seg){ a, b, m };
	return 0;
}

/* how many digits a number match takes (3 or 1) when re is the Llama-3/Qwen pattern,
 * else 0; hft_re_segs's `known` */
int hft_known_pattern(const pcre2_code *re);
/* Matches and the gaps between them, covering s; empty matches are skipped. With
 * `known` (hft_known_pattern's digits) a match is found by hand when it can be. */
int hft_re_segs(pcre2_code *re, pcre2_match_data *md, int known, const char *s, size_t n,
		struct hft_segs *out);

/* hftok_encode.c's text on its way to ids: s[off..off+len) of a buffer, or a token */
struct hft_piece {
	size_t off, len;
	int32_t id;  /* >= 0: a decided token */
	int first;   /* starts at offset 0 of the input (Metaspace's prepend_scheme "first") */
};

/* inline: it is called once per token */
static inline int hft_ids_push(struct hftok_ids *o, int32_t id)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		int32_t *v = realloc(o->v, cap * sizeof *v);
		if (!v)
			return -1;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = id;
	return 0;
}

/* hftok_bpe.c */
/* the ids of v[0..n) appended to out: a decided piece's token, the BPE of the others
 * (their text in text[]); the handle's word cache is updated */
int hft_bpe(struct hftok *t, const char *text, const struct hft_piece *v, size_t n,
	    struct hftok_ids *out);

#endif
