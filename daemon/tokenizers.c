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
#include "log.h"
#include "store.h"

#define TOKENIZERS_CACHE 4

static struct tokenizers_slot {
	char key[512];           /* blob names and the config's ids; "" empty */
	struct tokenizer tok;
	uint64_t used;
} cache[TOKENIZERS_CACHE];
static uint64_t cache_clock;

static const char *const pinned_files[] = {
	TOKENIZER_JSON, TOKENIZER_CONFIG, TOKENIZER_GENERATION,
};

/* The files of the model's tokenizer, from the user's paths: 1 found, 0 none. */
static int tokenizers_find(const json_t *model, struct tokenizer_paths *p, struct err *err)
{
	const char *path = json_string_value(json_object_get(model, "tokenizer"));
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	if (!path && !dir)
		return 0;
	int rc = tokenizer_find(path ? path : dir, p, err);
	if (rc < 0)
		return err_wrap(err, path ? "model.tokenizer" : "model.checkpoint");
	if (rc == 0 && path)
		return err_set(err, ERR_NOTFOUND, "model.tokenizer: '%s' holds no " TOKENIZER_JSON,
			path);
	return rc;
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
		int rc = tokenizers_find(model, &p, err);
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
			if (rc2 < 0 || json_object_set_new(blobs, pinned_files[i], json_string(hex)) < 0) {
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

/* Load the pinned files into t. */
static int tokenizers_load(struct daemon *d, const json_t *blobs, const struct model_config *cfg,
	struct tokenizer *t, struct err *err)
{
	char path[3][DATADIR_PATH_MAX];
	const char *use[3] = { NULL, NULL, NULL };
	for (size_t i = 0; i < 3; i++) {
		const char *sha = json_string_value(json_object_get(blobs, pinned_files[i]));
		if (!sha)
			continue;
		if (blobs_path(d, sha, path[i], sizeof path[i], err) < 0)
			return err_wrap(err, "the pipeline's %s", pinned_files[i]);
		use[i] = path[i];
	}
	if (!use[0])
		return err_set(err, ERR_FORMAT, "the pipeline's tokenizer files name no "
			TOKENIZER_JSON);
	return tokenizer_load(t, use[0], use[1], use[2], cfg, err);
}

struct tokenizer *tokenizers_get(struct daemon *d, const json_t *spec,
	const struct model_config *cfg, struct err *err)
{
	const json_t *blobs = tokenizers_blobs(spec);
	char key[sizeof cache[0].key];
	int n = snprintf(key, sizeof key, "%d %d %d %d", cfg->vocab, cfg->bos_id, cfg->eos_id,
		cfg->pad_id);
	for (size_t i = 0; blobs && i < 3 && n > 0 && (size_t)n < sizeof key; i++) {
		const char *sha = json_string_value(json_object_get(blobs, pinned_files[i]));
		n += snprintf(key + n, sizeof key - (size_t)n, " %s", sha ? sha : "-");
	}
	struct tokenizers_slot *slot = &cache[0];
	for (size_t i = 0; i < TOKENIZERS_CACHE; i++) {
		if (!strcmp(cache[i].key, key)) {
			cache[i].used = ++cache_clock;
			return &cache[i].tok;
		}
		if (cache[i].used < slot->used)
			slot = &cache[i];
	}
	if (*slot->key)
		tokenizer_release(&slot->tok);
	*slot->key = '\0';
	if (!blobs) {
		tokenizer_bytes(&slot->tok, cfg);
	} else {
		int64_t t0 = clock_mono_ms();
		if (tokenizers_load(d, blobs, cfg, &slot->tok, err) < 0)
			return NULL;
		log_info("tokenizer loaded: %d ids in %lld ms", (int)hftok_vocab_size(slot->tok.hf),
			(long long)(clock_mono_ms() - t0));
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
	for (size_t i = 0; i < TOKENIZERS_CACHE; i++) {
		if (*cache[i].key)
			tokenizer_release(&cache[i].tok);
		cache[i] = (struct tokenizers_slot){ 0 };
	}
}
