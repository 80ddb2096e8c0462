#include "learner.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "blobs.h"
#include "checkpoint.h"
#include "file.h"
#include "daemon.h"
#include "deltas.h"

struct learner *learner_find(struct daemon *d, int64_t stage)
{
	for (struct learner *l = d->learners; l; l = l->next)
		if (l->stage == stage)
			return l;
	return NULL;
}

static void learner_free(struct learner *l)
{
	if (l) {
		if (l->live)
			model_release(&l->m);
		free(l->config);
		free(l->order);
		free(l->units);
		free(l);
	}
}

static struct learner *collect(struct daemon *d, int64_t stage);

void learner_close(struct daemon *d, int64_t stage)
{
	deltas_forget(d, stage);
	learner_free(collect(d, stage)); /* a preparation waits to end: seconds at worst */
	for (struct learner **p = &d->learners; *p; p = &(*p)->next) {
		if ((*p)->stage == stage) {
			struct learner *l = *p;
			*p = l->next;
			learner_free(l);
			return;
		}
	}
}

void learner_close_all(struct daemon *d)
{
	while (d->learners)
		learner_close(d, d->learners->stage);
	while (d->opening)
		learner_close(d, d->opening->stage);
}

/* DIR/blobs/tmp/learner-<stage>: the scratch directory checkpoint_save writes to. */
static int scratch_dir(struct daemon *d, const struct learner *l, char *dir, size_t size,
	struct err *err)
{
	char rel[64];
	snprintf(rel, sizeof rel, "blobs/tmp/learner-%lld", (long long)l->stage);
	if (datadir_path(&d->dir, rel, dir, size, err) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_sys(err, errno, "cannot create '%s'", dir);
	return 0;
}

/* Write the weights (and with `opt_step` > 0 the moments) as blobs: durable when
 * `sync`, scratch otherwise (recomputable). */
static int write_blobs(struct daemon *d, struct learner *l, long opt_step, int sync,
	char opt_sha[SHA256_HEX_SIZE], struct err *err)
{
	char dir[DATADIR_PATH_MAX], path[DATADIR_PATH_MAX + 32];
	size_t size;
	char *bytes;
	if (scratch_dir(d, l, dir, sizeof dir, err) < 0 ||
		checkpoint_save(&l->m, dir, opt_step, err) < 0)
		return -1;
	if (!l->config) {
		snprintf(path, sizeof path, "%s/config.json", dir);
		if (file_read(path, FILE_READ_ANY, &l->config, &size, err) < 0)
			return -1;
	}
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if (file_read(path, FILE_READ_ANY, &bytes, &size, err) < 0)
		return -1;
	char prev[SHA256_HEX_SIZE];
	memcpy(prev, l->sha256, SHA256_HEX_SIZE);
	int rc = (sync ? blobs_put : blobs_put_scratch)(d, bytes, size, l->sha256, err);
	if (rc == 0 && !sync) /* a step's new weights: the delta workers fetch (deltas.h) */
		deltas_note(d, l->stage, prev, l->sha256, bytes, size);
	free(bytes);
	if (rc < 0 || opt_step <= 0)
		return rc;
	snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
	if (file_read(path, FILE_READ_ANY, &bytes, &size, err) < 0)
		return -1;
	rc = blobs_put(d, bytes, size, opt_sha, err);
	free(bytes);
	return rc;
}

/* The heavy half of learner_open, on a thread of its own: memory, weights (read or
 * drawn), their checkpoint and blob file. Touches no store and no daemon state but
 * the data directory's paths. */
static void *prepare(void *arg)
{
	struct learner *l = arg;
	struct err *err = &l->prep_err;
	char path[DATADIR_PATH_MAX], dir[DATADIR_PATH_MAX], file[DATADIR_PATH_MAX + 32];
	size_t size;
	char *bytes = NULL;
	if (model_init(&l->m, &l->prep_cfg, 1, 1, err) < 0)
		goto out;
	l->live = 1;
	if (model_alloc_optimizer(&l->m, err) < 0)
		goto out;
	if (l->prep_sha[0]) {
		if (blobs_path(l->d, l->prep_sha, path, sizeof path, err) < 0 ||
			checkpoint_read_params_file(&l->m, path, l->m.params_mem, err) < 0)
			goto out;
	} else {
		model_init_weights(&l->m, l->prep_seed);
	}
	if (scratch_dir(l->d, l, dir, sizeof dir, err) < 0 ||
		checkpoint_save(&l->m, dir, 0, err) < 0)
		goto out;
	snprintf(file, sizeof file, "%s/config.json", dir);
	if (file_read(file, FILE_READ_ANY, &l->config, &size, err) < 0)
		goto out;
	snprintf(file, sizeof file, "%s/model.safetensors", dir);
	if (file_read(file, FILE_READ_ANY, &bytes, &l->prep_size, err) < 0)
		goto out;
	blobs_put_file(l->d, bytes, l->prep_size, l->sha256, err);
out:
	free(bytes);
	atomic_store(&l->prep_done, 1);
	return NULL;
}

static struct learner *preparing(struct daemon *d, int64_t stage, struct learner ***at)
{
	for (struct learner **p = &d->opening; *p; p = &(*p)->next)
		if ((*p)->stage == stage) {
			if (at)
				*at = p;
			return *p;
		}
	return NULL;
}

int learner_preparing(struct daemon *d, int64_t stage)
{
	struct learner *l = preparing(d, stage, NULL);
	return l && !atomic_load(&l->prep_done);
}

/* Wait for the preparation of `stage` (if any) and take it off the list. */
static struct learner *collect(struct daemon *d, int64_t stage)
{
	struct learner **at, *l = preparing(d, stage, &at);
	if (!l)
		return NULL;
	if (!l->joined)
		pthread_join(l->thread, NULL);
	*at = l->next;
	l->next = NULL;
	return l;
}

static int in_progress(struct err *err, int64_t stage)
{
	err_set(err, ERR_IO, "the learner of stage %lld is being prepared", (long long)stage);
	if (err)
		err->errnum = EINPROGRESS;
	return -1;
}

struct learner *learner_open(struct daemon *d, int64_t stage, const struct model_config *cfg,
	const char *sha256, uint64_t seed, struct err *err)
{
	struct learner *l = preparing(d, stage, NULL);
	if (l && !atomic_load(&l->prep_done)) {
		in_progress(err, stage);
		return NULL;
	}
	if (l) { /* ready: the loop's half */
		l = collect(d, stage);
		if (l->prep_err.code) {
			if (err)
				*err = l->prep_err;
			learner_free(l);
			return NULL;
		}
		if (blobs_index(d, l->sha256, l->prep_size, err) < 0) {
			learner_free(l);
			return NULL;
		}
		learner_close(d, stage);
		l->next = d->learners;
		d->learners = l;
		return l;
	}
	l = calloc(1, sizeof *l);
	if (!l) {
		err_set(err, ERR_NOMEM, "cannot start the learner of stage %lld: out of memory",
			(long long)stage);
		return NULL;
	}
	l->stage = stage;
	l->d = d;
	adamw_defaults(&l->adamw);
	l->prep_cfg = *cfg;
	l->prep_seed = seed;
	if (sha256)
		snprintf(l->prep_sha, sizeof l->prep_sha, "%s", sha256);
	int rc = pthread_create(&l->thread, NULL, prepare, l);
	if (rc != 0) {
		free(l);
		err_sys(err, rc, "cannot start the learner of stage %lld: cannot create a thread",
			(long long)stage);
		return NULL;
	}
	l->next = d->opening;
	d->opening = l;
	in_progress(err, stage);
	return NULL;
}

struct learner *learner_open_wait(struct daemon *d, int64_t stage,
	const struct model_config *cfg, const char *sha256, uint64_t seed, struct err *err)
{
	struct learner *l = learner_open(d, stage, cfg, sha256, seed, err);
	if (l || !err || err->errnum != EINPROGRESS)
		return l;
	struct learner *p = preparing(d, stage, NULL);
	pthread_join(p->thread, NULL);
	p->joined = 1;
	return learner_open(d, stage, cfg, sha256, seed, err);
}

int learner_resume(struct daemon *d, struct learner *l, const char *sha256, const char *opt,
	long step, struct err *err)
{
	char path[DATADIR_PATH_MAX], dir[DATADIR_PATH_MAX], link[DATADIR_PATH_MAX + 32];
	long saved = 0;
	if (blobs_path(d, sha256, path, sizeof path, err) < 0 ||
		checkpoint_read_params_file(&l->m, path, l->m.params_mem, err) < 0 ||
		blobs_path(d, opt, path, sizeof path, err) < 0 ||
		scratch_dir(d, l, dir, sizeof dir, err) < 0)
		return -1;
	snprintf(link, sizeof link, "%s/optimizer.safetensors", dir);
	unlink(link);
	if (symlink(path, link) < 0)
		return err_sys(err, errno, "cannot link '%s'", link);
	int rc = checkpoint_load_optimizer(&l->m, dir, &saved, err);
	unlink(link);
	if (rc < 0)
		return -1;
	if (saved != step)
		return err_set(err, ERR_FORMAT, "checkpoint of step %ld holds the moments of step %ld",
			step, saved);
	l->step = step;
	memcpy(l->sha256, sha256, SHA256_HEX_SIZE);
	return 0;
}

int learner_step(struct daemon *d, struct learner *l, const char *const *paths, size_t n,
	struct err *err)
{
	size_t want = l->m.num_params * sizeof(float);
	float *g = l->m.grads_mem;
	model_zero_grad(&l->m);
	for (size_t k = 0; k < n; k++) {
		size_t size;
		char *bytes;
		if (file_read(paths[k], FILE_READ_ANY, &bytes, &size, err) < 0)
			return err_wrap(err, "learner of stage %lld, shard %zu", (long long)l->stage, k);
		if (size != want) {
			free(bytes);
			return err_set(err, ERR_FORMAT, "learner of stage %lld: gradient of shard %zu "
				"has %zu bytes, the model %zu", (long long)l->stage, k, size, want);
		}
		const float *add = (const float *)(void *)bytes;
		for (size_t i = 0; i < l->m.num_params; i++)
			g[i] += add[i];
		free(bytes);
	}
	l->last_norm = l->grad_clip > 0 ? grad_clip(&l->m, l->grad_clip) :
		grad_global_norm(&l->m);
	l->last_lr = lr_at(&l->schedule, l->step);
	l->adamw.lr = (float)l->last_lr;
	adamw_step(&l->m, &l->adamw, l->step + 1);
	l->step++;
	return write_blobs(d, l, 0, 0, NULL, err);
}

int learner_save(struct daemon *d, struct learner *l, int moments, struct err *err)
{
	char opt[SHA256_HEX_SIZE] = "";
	if (write_blobs(d, l, moments ? (l->step > 0 ? l->step : 1) : 0, 1, opt, err) < 0)
		return -1;
	return store_checkpoint_add(d->store, l->stage, l->step, l->sha256, opt, l->config,
		d->wall, err);
}

int learner_config_from_spec(const void *spec_config, struct model_config *cfg,
	struct err *err)
{
	const json_t *c = spec_config;
	config_defaults(cfg);
	cfg->dim = (int)json_integer_value(json_object_get(c, "dim"));
	cfg->n_layers = (int)json_integer_value(json_object_get(c, "layers"));
	cfg->n_heads = (int)json_integer_value(json_object_get(c, "heads"));
	cfg->n_kv_heads = (int)json_integer_value(json_object_get(c, "kv_heads"));
	cfg->ffn = (int)json_integer_value(json_object_get(c, "ffn"));
	cfg->max_seq = (int)json_integer_value(json_object_get(c, "max_seq"));
	cfg->tied = json_is_true(json_object_get(c, "tied"));
	cfg->rope_theta = (float)json_number_value(json_object_get(c, "rope_theta"));
	cfg->norm_eps = (float)json_number_value(json_object_get(c, "norm_eps"));
	return config_validate(cfg, err);
}
