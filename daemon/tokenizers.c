/* tokenizers — a pipeline's tokenizer on the daemon; see tokenizers.h. */
#include "tokenizers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "clock.h"
#include "daemon.h"
#include "datadir.h"
#include "file.h"
#include "fit.h"
#include "log.h"
#include "store.h"

#define TOKENIZERS_CACHE 4

/* Loaded tokenizer.json files by sha256, shared by the handles below: a
 * 150k-vocabulary file loads once however many model configs use it. */
static struct tokenizers_file {
	char sha[SHA256_HEX_SIZE]; /* "" empty */
	struct hftok *hf;
	int refs;
} files[TOKENIZERS_CACHE];

/* Handles by (config ids, blob names); a handle holds a reference to its file. */
static struct tokenizers_slot {
	char key[512];             /* "" empty */
	struct tokenizer tok;
	struct tokenizers_file *file; /* NULL: the byte tokenizer */
	uint64_t used;
} cache[TOKENIZERS_CACHE];
static uint64_t cache_clock;

static void tokenizers_file_put(struct tokenizers_file *f)
{
	if (f && --f->refs == 0) {
		hftok_free(f->hf);
		*f = (struct tokenizers_file){ 0 };
	}
}

static void tokenizers_slot_clear(struct tokenizers_slot *slot)
{
	if (*slot->key)
		tokenizer_release(&slot->tok);
	tokenizers_file_put(slot->file);
	*slot = (struct tokenizers_slot){ 0 };
}

/* model.tokenizer_blobs of pipeline `id`'s stored spec (a new reference), NULL if none. */
static int tokenizers_of_pipeline(struct daemon *d, int64_t id, json_t **out, struct err *err)
{
	struct store_pipeline p = { 0 };
	*out = NULL;
	int rc = store_pipeline_get(d->store, id, &p, err);
	if (rc <= 0) {
		store_pipeline_release(&p);
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)id);
	}
	json_t *spec = json_loads(p.spec, 0, NULL);
	store_pipeline_release(&p);
	if (!spec)
		return err_set(err, ERR_FORMAT, "pipeline %lld: its stored spec is not JSON",
			(long long)id);
	json_t *blobs = json_object_get(json_object_get(spec, "model"), TOKENIZERS_KEY);
	if (blobs)
		*out = json_incref(blobs);
	json_decref(spec);
	return 0;
}

int tokenizers_pin(struct daemon *d, json_t *spec, struct err *err)
{
	json_t *model = json_object_get(spec, "model"), *blobs = NULL;
	struct tokenizer_paths p;
	json_object_del(model, TOKENIZERS_KEY); /* only submit sets it */
	const char *pipeline = json_string_value(json_object_get(model, "pipeline"));
	if (pipeline) { /* stage_model_resolve made it an id */
		if (tokenizers_of_pipeline(d, strtoll(pipeline, NULL, 10), &blobs, err) < 0)
			return -1;
	} else {
		int rc = fit_tokenizer_paths(spec, &p, err);
		if (rc <= 0)
			return rc;
		const char *paths[] = { p.json, p.config, p.generation };
		if (!(blobs = json_object()))
			return err_set(err, ERR_NOMEM, "cannot submit: out of memory");
		for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
			char *bytes, hex[SHA256_HEX_SIZE];
			size_t size;
			if (!*paths[i])
				continue;
			if (file_read(paths[i], FILE_READ_ANY, &bytes, &size, err) < 0) {
				json_decref(blobs);
				return -1;
			}
			int rc2 = blobs_put(d, bytes, size, hex, err);
			free(bytes);
			if (rc2 < 0 || json_object_set_new(blobs, tokenizer_file_names[i], json_string(hex)) < 0) {
				json_decref(blobs);
				return rc2 < 0 ? -1 : err_set(err, ERR_NOMEM, "cannot submit: out of memory");
			}
		}
	}
	if (blobs && json_object_set_new(model, TOKENIZERS_KEY, blobs) < 0)
		return err_set(err, ERR_NOMEM, "cannot submit: out of memory");
	return 0;
}

const json_t *tokenizers_blobs(const json_t *spec)
{
	return json_object_get(json_object_get(spec, "model"), TOKENIZERS_KEY);
}

/* Load the pinned files into slot: the tokenizer.json from the file cache. */
static int tokenizers_load(struct daemon *d, const json_t *blobs, const struct model_config *cfg,
	struct tokenizers_slot *slot, struct err *err)
{
	char path[TOKENIZER_NFILES][DATADIR_PATH_MAX];
	const char *use[TOKENIZER_NFILES] = { NULL, NULL, NULL }, *sha[TOKENIZER_NFILES];
	for (size_t i = 0; i < TOKENIZER_NFILES; i++) {
		sha[i] = json_string_value(json_object_get(blobs, tokenizer_file_names[i]));
		if (!sha[i])
			continue;
		if (blobs_path(d, sha[i], path[i], sizeof path[i], err) < 0)
			return err_wrap(err, "the pipeline's %s", tokenizer_file_names[i]);
		use[i] = path[i];
	}
	if (!use[0])
		return err_set(err, ERR_FORMAT, "the pipeline's tokenizer files name no "
			TOKENIZER_JSON);
	struct tokenizers_file *f = NULL, *empty = NULL;
	for (size_t i = 0; i < TOKENIZERS_CACHE && !f; i++) {
		if (!strcmp(files[i].sha, sha[0]))
			f = &files[i];
		else if (!*files[i].sha && !empty)
			empty = &files[i];
	}
	if (!f && !empty) /* not reached: each handle holds one file, the caller cleared one */
		return err_set(err, ERR_NOMEM, "no room to load a tokenizer");
	if (!f) {
		int64_t t0 = clock_mono_ms();
		struct hftok *hf = hftok_load(use[0], err);
		if (!hf)
			return -1;
		log_info("tokenizer %.12s loaded: %d ids in %lld ms", sha[0],
			(int)hftok_vocab_size(hf), (long long)(clock_mono_ms() - t0));
		f = empty;
		snprintf(f->sha, sizeof f->sha, "%s", sha[0]);
		f->hf = hf;
	}
	f->refs++;
	slot->file = f;
	return tokenizer_load_hf(&slot->tok, f->hf, use[0], use[1], use[2], cfg, err);
}

struct tokenizer *tokenizers_get(struct daemon *d, const json_t *spec,
	const struct model_config *cfg, struct err *err)
{
	const json_t *blobs = tokenizers_blobs(spec);
	char key[sizeof cache[0].key];
	int n = snprintf(key, sizeof key, "%d %d %d %d", cfg->vocab, cfg->bos_id, cfg->eos_id,
		cfg->pad_id);
	for (size_t i = 0; blobs && i < TOKENIZER_NFILES && n > 0 && (size_t)n < sizeof key; i++) {
		const char *sha = json_string_value(json_object_get(blobs, tokenizer_file_names[i]));
		n += snprintf(key + n, sizeof key - (size_t)n, " %s", sha ? sha : "-");
	}
	struct tokenizers_slot *slot = &cache[0];
	for (size_t i = 0; i < TOKENIZERS_CACHE; i++) {
		if (*cache[i].key && !strcmp(cache[i].key, key)) {
			cache[i].used = ++cache_clock;
			return &cache[i].tok;
		}
		if (cache[i].used < slot->used)
			slot = &cache[i];
	}
	tokenizers_slot_clear(slot);
	if (!blobs) {
		tokenizer_bytes(&slot->tok, cfg);
	} else if (tokenizers_load(d, blobs, cfg, slot, err) < 0) {
		tokenizers_file_put(slot->file);
		*slot = (struct tokenizers_slot){ 0 };
		return NULL;
	}
	snprintf(slot->key, sizeof slot->key, "%s", key);
	slot->used = ++cache_clock;
	return &slot->tok;
}

int tokenizers_model(struct daemon *d, const json_t *spec, struct model_config *cfg,
	struct err *err)
{
	if (!tokenizers_blobs(spec))
		return 0;
	struct model_config made = *cfg;
	made.vocab = made.bos_id = made.eos_id = made.pad_id = -1;
	const struct tokenizer *t = tokenizers_get(d, spec, &made, err);
	if (!t)
		return -1;
	cfg->vocab = t->vocab;
	cfg->bos_id = t->bos_id;
	cfg->eos_id = t->eos_id;
	cfg->pad_id = t->pad_id;
	return config_validate(cfg, err);
}

void tokenizers_clear(void)
{
	for (size_t i = 0; i < TOKENIZERS_CACHE; i++)
		tokenizers_slot_clear(&cache[i]);
}
