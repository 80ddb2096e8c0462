#include "jobmodel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "sha256.h"

#define JOBMODEL_PATH_MAX 4096

static struct {
	int live;                       /* m is initialised */
	struct model m;
	char *config_text;              /* canonical JSON of m's config, owned */
	char sha[SHA256_HEX_SIZE];      /* weights in m.params_mem; "" when none or torn */
	float *ref;                     /* second parameter set (m's layout), or NULL */
	char ref_sha[SHA256_HEX_SIZE];  /* weights in ref; "" when none or torn */
} jm;

int jobmodel_spec_read(struct jobparams *p, const json_t *params, struct jobmodel_spec *s)
{
	const json_t *config;
	memset(s, 0, sizeof *s);
	if (jobparams_sha(p, params, "weights", 0, &s->weights) < 0 ||
		jobparams_object(p, params, "config", 1, &config) < 0)
		return -1;
	s->config_text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	if (!s->config_text)
		return err_set(p->err, ERR_NOMEM, "%s: config: out of memory", p->kind);
	if (checkpoint_parse_config(s->config_text, strlen(s->config_text), "config", &s->cfg,
			p->err) < 0) {
		jobmodel_spec_release(s);
		return err_wrap(p->err, "%s", p->kind);
	}
	return 0;
}

void jobmodel_spec_release(struct jobmodel_spec *s)
{
	free(s->config_text);
	s->config_text = NULL;
}

void jobmodel_clear(void)
{
	if (jm.live)
		model_release(&jm.m);
	free(jm.config_text);
	free(jm.ref);
	memset(&jm, 0, sizeof jm);
}

/* Load blob `sha256` (a model.safetensors) into params, a buffer in jm.m's layout. */
static int jobmodel_load(const struct job *job, const char *kind, const char *sha256,
	float *params, int *retryable, struct err *err)
{
	char path[JOBMODEL_PATH_MAX];
	if (job_blob_path(job, sha256, path, sizeof path, err) < 0) {
		*retryable = err_transient(err); /* a lost connection, not a missing blob */
		return err_wrap(err, "%s", kind);
	}
	if (checkpoint_read_params_file(&jm.m, path, params, err) < 0)
		return err_wrap(err, "%s: weights %.12s", kind, sha256);
	return 0;
}

/* A model for (cfg, B, T) holding the parameters of the current one, if any: the
 * current one resized in place (its parameters stay put), else a new one. */
static int jobmodel_resize(const struct model_config *cfg, int B, int T, struct err *err)
{
	if (jm.live)
		return model_resize(&jm.m, B, T, err);
	if (model_init(&jm.m, cfg, B, T, err) < 0)
		return -1;
	jm.live = 1;
	return 0;
}

struct model *jobmodel_get(const struct job *job, const char *kind,
	const struct jobmodel_spec *s, int B, int T, int *retryable, struct err *err)
{
	if (!jm.live || strcmp(jm.config_text, s->config_text) != 0) {
		jobmodel_clear();
		if (!(jm.config_text = strdup(s->config_text))) {
			err_set(err, ERR_NOMEM, "%s: out of memory", kind);
			return NULL;
		}
	}
	/* a rollout drops a grad job's activations and gradients for its generator */
	if (!jm.live || (B == 0 ? jm.m.max_B != 0 : jm.m.max_B < B || jm.m.max_T < T)) {
		if (jobmodel_resize(&s->cfg, B, T, err) < 0) {
			err_wrap(err, "%s", kind);
			return NULL;
		}
	}
	if (strcmp(jm.sha, s->weights) != 0) {
		jm.sha[0] = '\0';
		if (jobmodel_load(job, kind, s->weights, jm.m.params_mem, retryable, err) < 0)
			return NULL;
		memcpy(jm.sha, s->weights, SHA256_HEX_SIZE);
	}
	return &jm.m;
}

const float *jobmodel_params(const struct job *job, const char *kind, const char *sha256,
	int *retryable, struct err *err)
{
	if (!jm.live) {
		err_set(err, ERR_INVALID, "%s: no model loaded", kind);
		return NULL;
	}
	if (strcmp(jm.sha, sha256) == 0)
		return jm.m.params_mem;
	if (strcmp(jm.ref_sha, sha256) == 0)
		return jm.ref;
	if (!jm.ref && !(jm.ref = malloc(jm.m.num_params * sizeof(float)))) {
		err_set(err, ERR_NOMEM, "%s: cannot allocate reference parameters", kind);
		return NULL;
	}
	jm.ref_sha[0] = '\0';
	if (jobmodel_load(job, kind, sha256, jm.ref, retryable, err) < 0)
		return NULL;
	memcpy(jm.ref_sha, sha256, SHA256_HEX_SIZE);
	return jm.ref;
}

void jobmodel_point(struct model *m, const float *params)
{
	/* model_point takes a writable base; the forward pass only reads it */
	model_point(m, params ? (float *)(uintptr_t)params : m->params_mem, &m->params);
}
