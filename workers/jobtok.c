/* jobtok — the tokenizer of a job; see jobtok.h. */
#include "jobtok.h"

#include <stdio.h>
#include <string.h>

#define JOBTOK_PATH_MAX 4096

static struct {
	char key[320];   /* "" empty */
	struct tokenizer tok;
} jt;

void jobtok_clear(void)
{
	if (*jt.key)
		tokenizer_release(&jt.tok);
	memset(&jt, 0, sizeof jt);
}

const struct tokenizer *jobtok_get(const struct job *job, const char *kind,
	const struct model_config *cfg, int *retryable, struct err *err)
{
	const json_t *blobs = json_object_get(job->params, "tokenizer");
	const char *sha[TOKENIZER_NFILES] = { NULL, NULL, NULL };
	char key[sizeof jt.key];
	if (blobs && !json_is_object(blobs)) {
		err_set(err, ERR_INVALID, "%s: params.tokenizer: expected an object of blob names",
			kind);
		return NULL;
	}
	for (size_t i = 0; blobs && i < TOKENIZER_NFILES; i++) {
		const json_t *v = json_object_get(blobs, tokenizer_file_names[i]);
		if (v && (!json_is_string(v) || json_string_length(v) != 64)) {
			err_set(err, ERR_INVALID, "%s: params.tokenizer.%s: expected a sha256", kind,
				tokenizer_file_names[i]);
			return NULL;
		}
		sha[i] = json_string_value(v);
	}
	if (blobs && !sha[0]) {
		err_set(err, ERR_INVALID, "%s: params.tokenizer: no " TOKENIZER_JSON, kind);
		return NULL;
	}
	snprintf(key, sizeof key, "%d %d %d %d %s %s %s", cfg->vocab, cfg->bos_id, cfg->eos_id,
		cfg->pad_id, sha[0] ? sha[0] : "-", sha[1] ? sha[1] : "-", sha[2] ? sha[2] : "-");
	if (*jt.key && !strcmp(jt.key, key))
		return &jt.tok;
	jobtok_clear();
	if (!blobs) {
		tokenizer_bytes(&jt.tok, cfg);
	} else {
		char path[TOKENIZER_NFILES][JOBTOK_PATH_MAX];
		for (size_t i = 0; i < TOKENIZER_NFILES; i++)
			if (sha[i] && job_blob_path(job, sha[i], path[i], sizeof path[i], err) < 0) {
				*retryable = err_transient(err);
				err_wrap(err, "%s: %s", kind, tokenizer_file_names[i]);
				return NULL;
			}
		if (tokenizer_load(&jt.tok, path[0], sha[1] ? path[1] : NULL, sha[2] ? path[2] : NULL,
			cfg, err) < 0) {
			err_wrap(err, "%s", kind);
			return NULL;
		}
	}
	snprintf(jt.key, sizeof jt.key, "%s", key);
	return &jt.tok;
}
