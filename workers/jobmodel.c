#include "jobmodel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "clock.h"
#include "file.h"
#include "sha256.h"

#define JOBMODEL_PATH_MAX 4096

static struct {
	int live;                       /* m is initialised */
	struct model m;
	char *config_text;              /* canonical JSON of m's config, owned */
	char sha[SHA256_HEX_SIZE];      /* weights in m.params_mem; "" when none or torn */
	float *ref;                     /* second parameter set (m's layout), or NULL */
	char ref_sha[SHA256_HEX_SIZE];  /* weights in ref; "" when none or torn */
	int lora_live;                  /* lora is initialised */
	struct lora lora;               /* adapters of the last job that had them */
	char adapter_sha[SHA256_HEX_SIZE]; /* adapters in lora; "" when none or torn */
} jm;

/* The optional "lora" object of params into s. */
static int jobmodel_lora_read(struct jobparams *p, const json_t *params, struct jobmodel_spec *s)
{
	const json_t *o, *targets;
	long long rank;
	double alpha;
	if (jobparams_object(p, params, "lora", 0, &o) < 0)
		return -1;
	if (!o)
		return 0;
	jobparams_at(p, "lora.");
	if (jobparams_int(p, o, "rank", 1, 0, 1, LORA_RANK_MAX, &rank) < 0 ||
		jobparams_num(p, o, "alpha", 1, 0, -1e30, 1e30, &alpha) < 0 ||
		jobparams_sha(p, o, "adapter", 0, &s->adapter) < 0 ||
		jobparams_array(p, o, "targets", "an array of projection names", &targets) < 0)
		return -1;
	s->lora = (struct lora_config){ .rank = (int)rank, .alpha = (float)alpha };
	size_t i;
	const json_t *t;
	json_array_foreach(targets, i, t) {
		int k = json_is_string(t) ? lora_target_from_name(json_string_value(t)) : -1;
		if (k < 0)
			return jobparams_fail(p, "targets", "element %zu is not q_proj, k_proj, v_proj, "
				"o_proj, gate_proj, up_proj or down_proj", i);
		s->lora.targets |= 1u << k;
	}
	if (!s->lora.targets)
		return jobparams_fail(p, "targets", "expected at least one projection");
	jobparams_at(p, "%s", "");
	return 0;
}

int jobmodel_spec_read(struct jobparams *p, const json_t *params, struct jobmodel_spec *s)
{
	const json_t *config;
	memset(s, 0, sizeof *s);
	if (jobparams_sha(p, params, "weights", 0, &s->weights) < 0 ||
		jobparams_object(p, params, "config", 1, &config) < 0 ||
		jobmodel_lora_read(p, params, s) < 0)
		return -1;
	s->config_text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	if (!s->config_text)
		return err_set(p->err, ERR_NOMEM, "%s: config: out of memory", p->kind);
	if (hfconfig_parse(s->config_text, strlen(s->config_text), "config", &s->cfg,
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
	if (jm.lora_live)
		lora_release(&jm.lora);
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
	int64_t t0 = clock_mono_ns();
	if (checkpoint_read_params_file(&jm.m, path, params, err) < 0)
		return err_wrap(err, "%s: weights %.12s", kind, sha256);
	if (job->times)
		job->times->load_ms += (double)(clock_mono_ns() - t0) / 1e6;
	return 0;
}

/* The adapters of s (laid out anew when their config changed, read when their blob
 * did) attached to jm.m. */
static int jobmodel_adapters(const struct job *job, const char *kind,
	const struct jobmodel_spec *s, int *retryable, struct err *err)
{
	char path[JOBMODEL_PATH_MAX];
	const struct lora_config *c = &s->lora;
	if (jm.lora_live && (jm.lora.cfg.rank != c->rank || jm.lora.cfg.alpha != c->alpha ||
		jm.lora.cfg.targets != c->targets)) {
		lora_release(&jm.lora);
		jm.lora_live = 0;
	}
	if (!jm.lora_live) {
		jm.adapter_sha[0] = '\0';
		if (lora_init(&jm.lora, &s->cfg, c, err) < 0)
			return err_wrap(err, "%s", kind);
		jm.lora_live = 1;
	}
	if (strcmp(jm.adapter_sha, s->adapter) != 0) {
		char *bytes;
		size_t size;
		jm.adapter_sha[0] = '\0';
		if (job_blob_path(job, s->adapter, path, sizeof path, err) < 0) {
			*retryable = err_transient(err);
			return err_wrap(err, "%s", kind);
		}
		if (file_read(path, FILE_READ_ANY, &bytes, &size, err) < 0)
			return err_wrap(err, "%s: adapters %.12s", kind, s->adapter);
		int rc = lora_read(&jm.lora, bytes, size, path, err);
		free(bytes);
		if (rc < 0)
			return err_wrap(err, "%s: adapters %.12s", kind, s->adapter);
		memcpy(jm.adapter_sha, s->adapter, SHA256_HEX_SIZE);
	}
	if (lora_attach(&jm.lora, &jm.m, err) < 0)
		return err_wrap(err, "%s", kind);
	return 0;
}

/* The model of cfg with activations for (B, T, checkpoint), keeping the current
 * one's parameters, if any. */
static int jobmodel_resize(const struct model_config *cfg, int B, int T, bool checkpoint,
	struct err *err)
{
	if (jm.live)
		return model_resize(&jm.m, B, T, checkpoint, err);
	/* with checkpointing, B may be far more rows than the full layout could hold */
	if (model_init(&jm.m, cfg, checkpoint ? 1 : B, checkpoint ? 1 : T, err) < 0)
		return -1;
	jm.live = 1;
	return checkpoint ? model_resize(&jm.m, B, T, checkpoint, err) : 0;
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
	if (!jm.live || (B == 0 ? jm.m.max_B != 0 :
		jm.m.max_B < B || jm.m.max_T < T || jm.m.checkpoint != s->checkpoint)) {
		if (jobmodel_resize(&s->cfg, B, T, s->checkpoint, err) < 0) {
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
	jm.m.lora = NULL;
	if (s->lora.rank > 0 && jobmodel_adapters(job, kind, s, retryable, err) < 0)
		return NULL;
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
