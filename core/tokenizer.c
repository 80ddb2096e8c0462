#include "tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const tok_names[] = {
	"<|bos|>", "<|eos|>", "<|pad|>", "<think>", "</think>", "<answer>", "</answer>",
};

const char *tok_special_name(int id)
{
	if (id >= TOK_BOS && id < TOK_NUM_IDS)
		return tok_names[id - TOK_BOS];
	return NULL;
}

/* Id of the special token spelled at text[i..], with its length; -1 if none. */
static int tok_match_special(const char *text, size_t len, size_t i, size_t *n)
{
	if (text[i] != '<')
		return -1;
	for (int id = TOK_BOS; id < TOK_NUM_IDS; id++) {
		const char *s = tok_names[id - TOK_BOS];
		size_t k = strlen(s);
		if (k <= len - i && memcmp(text + i, s, k) == 0) {
			*n = k;
			return id;
		}
	}
	return -1;
}

size_t tok_encode(const char *text, size_t len, int *ids, size_t cap)
{
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		int id = tok_match_special(text, len, i, &n);
		if (id < 0)
			id = (unsigned char)text[i];
		if (out < cap)
			ids[out] = id;
		out++;
		i += n;
	}
	return out;
}

size_t tok_decode(const int *ids, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char byte;
		const char *s;
		size_t k;
		if (ids[i] >= 0 && ids[i] < 256) {
			byte = (char)ids[i];
			s = &byte;
			k = 1;
		} else if ((s = tok_special_name(ids[i]))) {
			k = strlen(s);
		} else {
			continue;
		}
		for (size_t j = 0; j < k; j++, len++)
			if (len + 1 < cap)
				out[len] = s[j];
	}
	if (cap)
		out[len < cap ? len : cap - 1] = '\0';
	return len;
}

/* ---- the handle: the byte tokenizer or a Hugging Face one ------------------------ */

const char *const tokenizer_file_names[TOKENIZER_NFILES] = {
	TOKENIZER_JSON, TOKENIZER_CONFIG, TOKENIZER_GENERATION,
};

static void tokenizer_add_stop(struct tokenizer *t, int32_t id)
{
	if (id < 0)
		return;
	for (int i = 0; i < t->n_stop; i++)
		if (t->stop[i] == id)
			return;
	if (t->n_stop < TOKENIZER_MAX_STOP)
		t->stop[t->n_stop++] = id;
}

void tokenizer_bytes(struct tokenizer *t, const struct model_config *cfg)
{
	*t = (struct tokenizer){ .vocab = cfg->vocab, .bos_id = cfg->bos_id, .eos_id = cfg->eos_id,
		.pad_id = cfg->pad_id, .add_bos = cfg->bos_id >= 0 };
	tokenizer_add_stop(t, cfg->eos_id);
}

/* The JSON object in path (NULL path: none, 0), or -1 with e naming the file. flags:
 * JSON_DECODE_INT_AS_REAL for tokenizer_config.json, whose model_max_length is often
 * 1e30 written as an integer (and whose ids are not read). */
static int tokenizer_json_file(const char *path, size_t flags, json_t **out, struct err *e)
{
	*out = NULL;
	if (!path)
		return 0;
	json_error_t je;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES | flags, &je);
	if (!o) {
		if (je.line < 0 && access(path, R_OK) != 0)
			return err_sys(e, errno, "cannot read '%s'", path);
		return err_set(e, ERR_FORMAT, "malformed JSON in '%s': %s (line %d, column %d)",
			path, je.text, je.line, je.column);
	}
	if (!json_is_object(o)) {
		json_decref(o);
		return err_set(e, ERR_FORMAT, "malformed JSON in '%s': not an object", path);
	}
	*out = o;
	return 0;
}

/* A token named in tokenizer_config.json: "<s>", {"content": "<s>", ...} or null.
 * 1 with *id, 0 when absent or null, -1 when it names no token of the vocabulary. */
static int tokenizer_config_token(const struct tokenizer *t, const json_t *cfg,
	const char *key, const char *path, int32_t *id, struct err *e)
{
	const json_t *v = json_object_get(cfg, key);
	if (json_is_object(v))
		v = json_object_get(v, "content");
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(e, ERR_FORMAT, "'%s': %s is neither a string, an object with "
			"content, nor null", path, key);
	int32_t k = hftok_token_id(t->hf, json_string_value(v));
	if (k < 0)
		return err_set(e, ERR_FORMAT, "'%s': %s '%s' is not a token of the tokenizer",
			path, key, json_string_value(v));
	*id = k;
	return 1;
}

/* generation_config.json's eos_token_id: an id or a list of ids. */
static int tokenizer_generation_stops(struct tokenizer *t, const json_t *gen, const char *path,
	struct err *e)
{
	const json_t *v = json_object_get(gen, "eos_token_id"), *x;
	size_t i;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		tokenizer_add_stop(t, (int32_t)json_integer_value(v));
		return 0;
	}
	if (!json_is_array(v))
		return err_set(e, ERR_FORMAT, "'%s': eos_token_id is neither an id nor a list of ids",
			path);
	json_array_foreach(v, i, x) {
		if (!json_is_integer(x))
			return err_set(e, ERR_FORMAT, "'%s': eos_token_id[%zu] is not an id", path, i);
		tokenizer_add_stop(t, (int32_t)json_integer_value(x));
	}
	return 0;
}

int tokenizer_load(struct tokenizer *t, const char *json, const char *config,
	const char *generation, const struct model_config *cfg, struct err *e)
{
	struct hftok *hf = hftok_load(json, e);
	if (!hf)
		return -1;
	if (tokenizer_load_hf(t, hf, json, config, generation, cfg, e) < 0) {
		hftok_free(hf);
		return -1;
	}
	t->owns_hf = true;
	return 0;
}

int tokenizer_load_hf(struct tokenizer *t, struct hftok *hf, const char *json,
	const char *config, const char *generation, const struct model_config *cfg, struct err *e)
{
	json_t *tc = NULL, *gc = NULL;
	*t = (struct tokenizer){ .hf = hf, .bos_id = -1, .eos_id = -1, .pad_id = -1 };
	t->vocab = hftok_vocab_size(t->hf);
	if (cfg->vocab > 0 && t->vocab > cfg->vocab) {
		err_set(e, ERR_FORMAT, "tokenizer '%s' has %d ids but the model's vocab_size is %d: "
			"a tokenizer may be smaller than the embedding, never larger", json,
			(int)t->vocab, cfg->vocab);
		goto fail;
	}
	if (cfg->vocab > 0)
		t->vocab = cfg->vocab; /* ids up to the embedding are the model's to produce */
	if (tokenizer_json_file(config, JSON_DECODE_INT_AS_REAL, &tc, e) < 0 ||
		tokenizer_json_file(generation, 0, &gc, e) < 0)
		goto fail;
	int32_t tpl = hftok_template_bos(t->hf);
	int has = tokenizer_config_token(t, tc, "bos_token", config, &t->bos_id, e);
	if (has < 0)
		goto fail;
	if (!has)
		t->bos_id = tpl >= 0 ? tpl : cfg->bos_id;
	const json_t *ab = json_object_get(tc, "add_bos_token");
	t->add_bos = json_is_boolean(ab) ? json_is_true(ab) : tpl >= 0;
	if ((has = tokenizer_config_token(t, tc, "eos_token", config, &t->eos_id, e)) < 0)
		goto fail;
	if (!has)
		t->eos_id = cfg->eos_id;
	if ((has = tokenizer_config_token(t, tc, "pad_token", config, &t->pad_id, e)) < 0)
		goto fail;
	if (!has)
		t->pad_id = cfg->pad_id;
	tokenizer_add_stop(t, t->eos_id);
	tokenizer_add_stop(t, cfg->eos_id);
	if (tokenizer_generation_stops(t, gc, generation, e) < 0)
		goto fail;
	if (t->add_bos && t->bos_id < 0) {
		err_set(e, ERR_FORMAT, "tokenizer '%s': sequences start with a BOS token "
			"(add_bos_token) but neither the tokenizer nor config.json names one", json);
		goto fail;
	}
	const struct { const char *what; int32_t id; } ids[] = {
		{ "bos", t->bos_id }, { "eos", t->eos_id }, { "pad", t->pad_id },
	};
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		if (ids[i].id >= t->vocab) {
			err_set(e, ERR_FORMAT, "tokenizer '%s': the %s id %d is not below the model's "
				"vocab_size %d", json, ids[i].what, (int)ids[i].id, (int)t->vocab);
			goto fail;
		}
	for (int i = 0; i < t->n_stop; i++)
		if (t->stop[i] >= t->vocab) {
			err_set(e, ERR_FORMAT, "'%s': the end-of-sequence id %d is not below the "
				"model's vocab_size %d", generation ? generation : json, (int)t->stop[i],
				(int)t->vocab);
			goto fail;
		}
	json_decref(tc);
	json_decref(gc);
	return 0;
fail:
	json_decref(tc);
	json_decref(gc);
	tokenizer_release(t);
	return -1;
}

int tokenizer_find(const char *path, struct tokenizer_paths *p, struct err *e)
{
	struct stat st;
	*p = (struct tokenizer_paths){ 0 };
	if (stat(path, &st) != 0)
		return err_sys(e, errno, "cannot read tokenizer '%s'", path);
	const char *slash = strrchr(path, '/');
	int dir = S_ISDIR(st.st_mode);
	int n = dir ? (int)strlen(path) : slash ? (int)(slash - path) : 1;
	const char *base = dir || slash ? path : ".";
	if (snprintf(p->json, sizeof p->json, "%s", dir ? "" : path) >= (int)sizeof p->json ||
		(dir && snprintf(p->json, sizeof p->json, "%.*s/" TOKENIZER_JSON, n, base) >=
			(int)sizeof p->json) ||
		snprintf(p->config, sizeof p->config, "%.*s/" TOKENIZER_CONFIG, n, base) >=
			(int)sizeof p->config ||
		snprintf(p->generation, sizeof p->generation, "%.*s/" TOKENIZER_GENERATION, n,
			base) >= (int)sizeof p->generation)
		return err_set(e, ERR_INVALID, "path too long: '%s'", path);
	char *all[] = { p->json, p->config, p->generation };
	for (size_t i = 0; i < 3; i++)
		if (access(all[i], F_OK) != 0) {
			if (errno != ENOENT)
				return err_sys(e, errno, "cannot read '%s'", all[i]);
			*all[i] = '\0';
		}
	return *p->json ? 1 : 0;
}

int tokenizer_open_dir(struct tokenizer *t, const char *dir, const struct model_config *cfg,
	struct err *e)
{
	struct tokenizer_paths p;
	int rc = tokenizer_find(dir, &p, e);
	if (rc <= 0) {
		if (rc == 0)
			tokenizer_bytes(t, cfg);
		return rc;
	}
	if (tokenizer_load(t, p.json, *p.config ? p.config : NULL,
		*p.generation ? p.generation : NULL, cfg, e) < 0)
		return -1;
	return 1;
}

void tokenizer_release(struct tokenizer *t)
{
	if (t->hf && t->owns_hf)
		hftok_free(t->hf);
	t->hf = NULL;
	t->owns_hf = false;
}

/* Room for `more` ids after ids->n. */
static int tokenizer_room(struct hftok_ids *ids, size_t more, struct err *e)
{
	size_t need = ids->n + more;
	if (need <= ids->cap)
		return 0;
	size_t cap = ids->cap ? ids->cap : 64;
	while (cap < need)
		cap *= 2;
	int32_t *v = realloc(ids->v, cap * sizeof *v);
	if (!v)
		return err_set(e, ERR_NOMEM, "cannot hold %zu token ids: out of memory", need);
	ids->v = v;
	ids->cap = cap;
	return 0;
}

int tokenizer_encode(struct tokenizer *t, const char *text, size_t len, struct hftok_ids *ids,
	struct err *e)
{
	if (t->hf)
		return hftok_encode(t->hf, text, len, 0, ids, e);
	if (tokenizer_room(ids, len, e) < 0) /* the byte tokenizer: at most one id per byte */
		return -1;
	ids->n += tok_encode(text, len, ids->v + ids->n, ids->cap - ids->n);
	return 0;
}

/* Append one id to *ids (-1 only when out of memory). */
static int tokenizer_push(struct hftok_ids *ids, int32_t id, struct err *e)
{
	if (tokenizer_room(ids, 1, e) < 0)
		return -1;
	ids->v[ids->n++] = id;
	return 0;
}

int tokenizer_encode_bos(struct tokenizer *t, const char *text, size_t len,
	struct hftok_ids *ids, struct err *e)
{
	if (t->add_bos && tokenizer_push(ids, t->bos_id, e) < 0)
		return -1;
	return tokenizer_encode(t, text, len, ids, e);
}

char *tokenizer_decode(const struct tokenizer *t, const int *ids, size_t n, size_t *len,
	struct err *e)
{
	size_t k = 0;
	char *s;
	if (t->hf) {
		s = hftok_decode(t->hf, ids, n, 0, &k, e);
	} else {
		k = tok_decode(ids, n, NULL, 0);
		if ((s = malloc(k + 1)))
			tok_decode(ids, n, s, k + 1);
		else
			err_set(e, ERR_NOMEM, "cannot decode %zu ids: out of memory", n);
	}
	if (len)
		*len = s ? k : 0;
	return s;
}

size_t tokenizer_piece(const struct tokenizer *t, int id, char *out, size_t cap)
{
	if (t->hf)
		return hftok_piece(t->hf, id, out, cap);
	return tok_decode(&id, 1, out, cap);
}

int tokenizer_is_stop(const struct tokenizer *t, int id)
{
	for (int i = 0; i < t->n_stop; i++)
		if (t->stop[i] == id)
			return 1;
	return 0;
}

int tokenizer_token_id(const struct tokenizer *t, const char *s)
{
	if (t->hf)
		return hftok_token_id(t->hf, s);
	for (int id = TOK_BOS; id < TOK_NUM_IDS; id++)
		if (!strcmp(tok_names[id - TOK_BOS], s))
			return id;
	return -1;
}
