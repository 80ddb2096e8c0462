#include "tokenizer_files.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The ByteLevel alphabet: GPT-2's map from a byte to a printable character. The
 * printable Latin-1 bytes (! to ~, ¡ to ¬, ® to ÿ) stand for themselves; the other
 * 68 take the code points from U+0100 up, in byte order.
 */
static void byte_char(int b, char out[3])
{
	int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
	unsigned cp = (unsigned)b;
	if (!printable) {
		int n = 0;
		for (int x = 0; x < b; x++)
			n += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255));
		cp = 256u + (unsigned)n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = '\0';
	} else { /* every code point here is below U+0800: two bytes */
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		out[2] = '\0';
	}
}

/* The spelling of byte-tokenizer id `id` in the written files into buf, or NULL when
 * the byte tokenizer has no token for it. */
static const char *id_spelling(int id, int vocab, char buf[3])
{
	if (id >= 0 && id < 256 && id < vocab) {
		byte_char(id, buf);
		return buf;
	}
	if (id < vocab)
		return tok_special_name(id);
	return NULL;
}

/* json (consumed) as pretty text plus a newline into *f. */
static int file_from_json(struct tokenizer_file *f, const char *name, json_t *json,
	struct err *err)
{
	f->name = name;
	f->data = NULL;
	f->size = 0;
	char *s = json ? json_dumps(json, JSON_INDENT(2)) : NULL;
	json_decref(json);
	if (!s)
		return err_set(err, ERR_NOMEM, "cannot build '%s': out of memory", name);
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return err_set(err, ERR_NOMEM, "cannot build '%s': out of memory", name);
	}
	memcpy(t + n, "\n", 2);
	f->data = t;
	f->size = n + 1;
	return 0;
}

/* An added-token entry (the tokenizer.json form; the config's omits the id). */
static json_t *added_token(int id, const char *content, int with_id)
{
	json_t *o = with_id ? json_pack("{si}", "id", id) : json_object();
	if (o && json_object_update_new(o, json_pack("{ss sb sb sb sb sb}", "content", content,
		"single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* json_t for a token spelling, or null when there is none. */
static json_t *spelling_or_null(int id, int vocab)
{
	char buf[3];
	const char *s = id_spelling(id, vocab, buf);
	return s ? json_string(s) : json_null();
}

static json_t *bytes_tokenizer_json(const struct model_config *cfg, const char *bos)
{
	json_t *vocab = json_object(), *added = json_array(), *post = json_null();
	if (!vocab || !added)
		goto fail;
	for (int b = 0; b < 256 && b < cfg->vocab; b++) {
		char c[3];
		byte_char(b, c);
		if (json_object_set_new(vocab, c, json_integer(b)))
			goto fail;
	}
	for (int id = TOK_BOS; id < TOK_NUM_IDS && id < cfg->vocab; id++)
		if (json_array_append_new(added, added_token(id, tok_special_name(id), 1)))
			goto fail;
	/* Rust's tokenizers put the fields in this order; readers do not care */
	post = json_pack("{ss s[{s{sssi}} {s{sssi}}] s[{s{sssi}} {s{sssi}} {s{sssi}} {s{sssi}}] "
		"s{s{ss s[i] s[s]}}}",
		"type", "TemplateProcessing",
		"single", "SpecialToken", "id", bos, "type_id", 0, "Sequence", "id", "A", "type_id", 0,
		"pair", "SpecialToken", "id", bos, "type_id", 0, "Sequence", "id", "A", "type_id", 0,
		"SpecialToken", "id", bos, "type_id", 1, "Sequence", "id", "B", "type_id", 1,
		"special_tokens", bos, "id", bos, "ids", cfg->bos_id, "tokens", bos);
	if (!post)
		goto fail;
	return json_pack("{ss so so so so s{ss sb sb sb} so s{ss sb sb sb} "
		"s{ss sn sn sn sn sb sb sb so s[]}}",
		"version", "1.0", "truncation", json_null(), "padding", json_null(),
		"added_tokens", added, "normalizer", json_null(),
		"pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
		"use_regex", 0,
		"post_processor", post,
		"decoder", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
		"use_regex", 0,
		"model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
		"end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0,
		"vocab", vocab, "merges");
fail:
	json_decref(vocab);
	json_decref(added);
	json_decref(post);
	return NULL;
}

static json_t *bytes_config_json(const struct model_config *cfg)
{
	json_t *dec = json_object();
	for (int id = TOK_BOS; dec && id < TOK_NUM_IDS && id < cfg->vocab; id++) {
		char key[16];
		snprintf(key, sizeof key, "%d", id);
		if (json_object_set_new(dec, key, added_token(id, tok_special_name(id), 0))) {
			json_decref(dec);
			dec = NULL;
		}
	}
	if (!dec)
		return NULL;
	return json_pack("{sb sb so so so so sb si ss}",
		"add_bos_token", 1, "add_eos_token", 0, "added_tokens_decoder", dec,
		"bos_token", spelling_or_null(cfg->bos_id, cfg->vocab),
		"eos_token", spelling_or_null(cfg->eos_id, cfg->vocab),
		"pad_token", spelling_or_null(cfg->pad_id, cfg->vocab),
		"clean_up_tokenization_spaces", 0, "model_max_length", cfg->max_seq,
		"tokenizer_class", "PreTrainedTokenizerFast");
}

int tokenizer_files_bytes(const struct model_config *cfg,
	struct tokenizer_file files[TOKENIZER_FILES], struct err *err)
{
	char bos_buf[3], eos_buf[3];
	const char *bos = id_spelling(cfg->bos_id, cfg->vocab, bos_buf);
	const char *eos = id_spelling(cfg->eos_id, cfg->vocab, eos_buf);
	memset(files, 0, sizeof *files * TOKENIZER_FILES);
	/* the ids past the specials are no token of the byte tokenizer: a file naming
	 * them would make the libraries disagree with it */
	if (!bos || !eos)
		return err_set(err, ERR_INVALID, "the byte tokenizer has no token for the model's "
			"%s id %d (vocab_size %d): cannot write it as tokenizer files",
			bos ? "eos" : "bos", bos ? cfg->eos_id : cfg->bos_id, cfg->vocab);
	if (cfg->pad_id >= 0 && !id_spelling(cfg->pad_id, cfg->vocab, eos_buf))
		return err_set(err, ERR_INVALID, "the byte tokenizer has no token for the model's "
			"pad id %d (vocab_size %d): cannot write it as tokenizer files",
			cfg->pad_id, cfg->vocab);
	json_t *gen = json_pack("{si si}", "bos_token_id", cfg->bos_id, "eos_token_id", cfg->eos_id);
	if (gen && cfg->pad_id >= 0)
		json_object_set_new(gen, "pad_token_id", json_integer(cfg->pad_id));
	if (file_from_json(&files[0], TOKENIZER_JSON, bytes_tokenizer_json(cfg, bos), err) < 0 ||
		file_from_json(&files[1], TOKENIZER_CONFIG, bytes_config_json(cfg), err) < 0 ||
		file_from_json(&files[2], TOKENIZER_GENERATION, gen, err) < 0) {
		if (!files[2].name)
			json_decref(gen);
		tokenizer_files_free(files, TOKENIZER_FILES);
		return -1;
	}
	return 0;
}

int tokenizer_files_generation(const struct tokenizer *t, struct tokenizer_file *file,
	struct err *err)
{
	json_t *o = json_object(), *eos;
	if (!o)
		return file_from_json(file, TOKENIZER_GENERATION, NULL, err);
	if (t->bos_id >= 0)
		json_object_set_new(o, "bos_token_id", json_integer(t->bos_id));
	if (t->n_stop == 1) {
		eos = json_integer(t->stop[0]);
	} else {
		eos = json_array();
		for (int i = 0; eos && i < t->n_stop; i++)
			json_array_append_new(eos, json_integer(t->stop[i]));
	}
	json_object_set_new(o, "eos_token_id", eos ? eos : json_null());
	if (t->pad_id >= 0)
		json_object_set_new(o, "pad_token_id", json_integer(t->pad_id));
	return file_from_json(file, TOKENIZER_GENERATION, o, err);
}

void tokenizer_files_free(struct tokenizer_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].data);
		files[i].data = NULL;
		files[i].size = 0;
	}
}
