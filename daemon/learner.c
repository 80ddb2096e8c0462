#include "learner.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "blobs.h"
#include "checkpoint.h"
#include "file.h"
#include "daemon.h"
#include "rng.h"
#include "deltas.h"
#include "wdelta.h"

struct learner *learner_find(struct daemon *d, int64_t stage)
{
	for (struct learner *l = d->learners; l; l = l->next)
		if (l->stage == stage)
			return l;
	return NULL;
}

static void work_release(struct learner_work *w)
{
	for (size_t k = 0; k < w->n; k++)
		free(w->paths[k]);
	free(w->paths);
	w->paths = NULL;
	w->n = 0;
}

static void learner_free(struct learner *l)
{
	if (l) {
		if (l->busy) { /* only learner_shutdown frees a busy one: after the thread */
			pthread_join(l->work.thread, NULL);
			work_release(&l->work);
		}
		if (l->live)
			model_release(&l->m);
		if (l->lora) {
			lora_release(l->lora);
			free(l->lora);
		}
		free(l->config);
		free(l->order);
		free(l->units);
		free(l);
	}
}

static struct learner *collect(struct daemon *d, int64_t stage);
static void wake(struct daemon *d);

/* A closed learner's thread that gives its model's memory back: for a 135M-parameter
 * model 2 GB of weights, gradients and moments, whose unmapping held up a turn (and
 * every heartbeat) for over a second on a busy machine. */
static void *release(void *arg)
{
	struct learner *l = arg;
	model_release(&l->m);
	atomic_store(&l->work.done, 1);
	wake(l->d);
	return NULL;
}

/* Put `l` on d->retired, to be freed once its thread ends (learner_reap): a running
 * step is told to stop; otherwise a thread is started that releases its model. If
 * none can be started it is freed here. */
static void retire(struct daemon *d, struct learner *l)
{
	if (l->busy && !atomic_load(&l->work.done)) {
		atomic_store(&l->work.cancel, 1);
	} else {
		if (l->busy) {
			pthread_join(l->work.thread, NULL);
			work_release(&l->work);
			l->busy = 0;
		}
		if (!l->live) {
			learner_free(l);
			return;
		}
		atomic_store(&l->work.done, 0);
		l->live = 0; /* the thread's to release now */
		if (pthread_create(&l->work.thread, NULL, release, l) != 0) {
			l->live = 1;
			learner_free(l);
			return;
		}
		l->busy = 1;
	}
	l->next = d->retired;
	d->retired = l;
}

void learner_reap(struct daemon *d)
{
	for (struct learner **p = &d->retired; *p;) {
		struct learner *l = *p;
		if (!atomic_load(&l->work.done)) {
			p = &l->next;
			continue;
		}
		*p = l->next;
		learner_free(l);
	}
}

/* 1 while a closed learner of `stage` still runs its thread. */
static int retired_running(struct daemon *d, int64_t stage)
{
	learner_reap(d);
	for (struct learner *l = d->retired; l; l = l->next)
		if (l->stage == stage)
			return 1;
	return 0;
}

void learner_close(struct daemon *d, int64_t stage)
{
	deltas_forget(d, stage);
	learner_free(collect(d, stage)); /* a preparation waits to end: seconds at worst */
	for (struct learner **p = &d->learners; *p; p = &(*p)->next) {
		if ((*p)->stage == stage) {
			struct learner *l = *p;
			*p = l->next;
			retire(d, l);
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

void learner_shutdown(struct daemon *d)
{
	learner_close_all(d);
	while (d->retired) {
		struct learner *l = d->retired;
		d->retired = l->next;
		learner_free(l); /* joins: the thread was told to stop */
	}
	if (d->learner_wake_ready) {
		close(d->learner_wake[0]);
		close(d->learner_wake[1]);
		d->learner_wake_ready = 0;
	}
}

int learner_wake_fd(struct daemon *d)
{
	if (d->learner_wake_ready)
		return d->learner_wake[0];
	int p[2], made = pipe(p) == 0, ok = made;
	for (int i = 0; ok && i < 2; i++)
		ok = fcntl(p[i], F_SETFL, O_NONBLOCK) == 0 && fcntl(p[i], F_SETFD, FD_CLOEXEC) == 0;
	if (!ok) {
		log_warn("cannot make the learners' wake pipe: %s (steps are noticed by the "
			"scheduler's period instead)", strerror(errno));
		if (made) {
			close(p[0]);
			close(p[1]);
		}
		return -1;
	}
	d->learner_wake[0] = p[0];
	d->learner_wake[1] = p[1];
	d->learner_wake_ready = 1;
	return p[0];
}

/* A thread's last act: wake the loop (a full pipe already will). */
static void wake(struct daemon *d)
{
	if (d->learner_wake_ready) {
		ssize_t rc = write(d->learner_wake[1], "", 1);
		(void)rc;
	}
}

void learner_wake(struct daemon *d)
{
	wake(d);
}

void learner_thread_priority(void)
{
	/* per thread on Linux (the tid names it), inherited by the threads it creates:
	 * the daemon's compute pool starts on a learner's first large pool_for */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), LEARNER_NICE) < 0)
		log_debug("cannot lower a learner thread's priority: %s", strerror(errno));
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

/* The heavy half of learner_open, on a thread of its own: memory, weights (read or
 * drawn), their checkpoint and blob file. Touches no store and no daemon state but
 * the data directory's paths. */
static void *prepare(void *arg)
{
	struct learner *l = arg;
	learner_thread_priority();
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
	wake(l->d);
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
	return (l && !atomic_load(&l->prep_done)) || retired_running(d, stage);
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
	struct learner *l = preparing(d, stage, NULL), *old = learner_find(d, stage);
	/* one thread per stage at a time: they share the stage's scratch directory */
	if ((l && !atomic_load(&l->prep_done)) || retired_running(d, stage) ||
		(!l && old && old->busy)) {
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
	while (retired_running(d, stage)) /* told to stop: its current phase at most */
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	struct learner *l = learner_open(d, stage, cfg, sha256, seed, err);
	if (l || !err || err->errnum != EINPROGRESS)
		return l;
	struct learner *p = preparing(d, stage, NULL);
	if (!p)
		return NULL; /* the stage's learner is busy: a caller's bug */
	pthread_join(p->thread, NULL);
	p->joined = 1;
	return learner_open(d, stage, cfg, sha256, seed, err);
}

/* ---- adapters ---------------------------------------------------------------- */

/* The adapters as the learner's current blob (scratch: a step recomputes it). */
static int lora_blob(struct daemon *d, struct learner *l, struct err *err)
{
	void *bytes;
	size_t size;
	if (lora_write_mem(l->lora, &bytes, &size, err) < 0)
		return err_wrap(err, "learner of stage %lld", (long long)l->stage);
	int rc = blobs_put_scratch(d, bytes, size, l->sha256, err);
	free(bytes);
	return rc;
}

/* A checkpoint of adapters: the merged weights W + s·B·A as blob ck (what later
 * stages, eval and export read, like any checkpoint's weights), the adapters' state
 * as blob opt. The merge runs on the learner's weights and a copy of the base is put
 * back after, so the frozen weights stay bit for bit the same. */
static int lora_save(struct daemon *d, struct learner *l, char ck[SHA256_HEX_SIZE],
	char opt[SHA256_HEX_SIZE], struct err *err)
{
	char dir[DATADIR_PATH_MAX], path[DATADIR_PATH_MAX + 32];
	size_t n = l->m.num_params, size;
	void *state;
	char *bytes = NULL;
	float *base = malloc(n * sizeof *base);
	if (!base)
		return err_set(err, ERR_NOMEM, "cannot save the learner of stage %lld: out of "
			"memory for a copy of its weights", (long long)l->stage);
	memcpy(base, l->m.params_mem, n * sizeof *base);
	lora_merge(l->lora, &l->m, l->m.params_mem);
	int rc = scratch_dir(d, l, dir, sizeof dir, err) < 0 ||
		checkpoint_save(&l->m, dir, 0, err) < 0 ? -1 : 0;
	memcpy(l->m.params_mem, base, n * sizeof *base);
	free(base);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if (rc < 0 || file_read(path, FILE_READ_ANY, &bytes, &size, err) < 0 ||
		blobs_put(d, bytes, size, ck, err) < 0) {
		free(bytes);
		return -1;
	}
	free(bytes);
	if (lora_state_write_mem(l->lora, l->step, &state, &size, err) < 0)
		return -1;
	rc = blobs_put(d, state, size, opt, err);
	free(state);
	return rc;
}

/* learner_finish with adapters: the thread stepped them; their blob, and with `save`
 * the checkpoint (merged weights, adapter state), are made here, in the loop. */
static int lora_finish(struct daemon *d, struct learner *l, int save,
	char prev[SHA256_HEX_SIZE], struct err *err)
{
	struct learner_work *w = &l->work;
	char ck[SHA256_HEX_SIZE], opt[SHA256_HEX_SIZE];
	if (w->flags & LEARNER_STEP) {
		l->last_norm = w->norm;
		l->last_lr = w->lr;
		l->step++;
	}
	memcpy(prev, l->sha256, SHA256_HEX_SIZE);
	if (lora_blob(d, l, err) < 0)
		return -1;
	if (!save)
		return 1;
	if (lora_save(d, l, ck, opt, err) < 0 ||
		store_checkpoint_add(d->store, l->stage, l->step, ck, opt, l->config, d->wall, err) < 0)
		return -1;
	return 1;
}

/* Resume adapters from the state blob `opt` of the checkpoint of `step`; the
 * weights stay the base the learner was opened with. */
static int lora_resume(struct daemon *d, struct learner *l, const char *opt, long step,
	struct err *err)
{
	char path[DATADIR_PATH_MAX];
	char *bytes;
	size_t size;
	long saved = -1;
	if (blobs_path(d, opt, path, sizeof path, err) < 0 ||
		file_read(path, FILE_READ_ANY, &bytes, &size, err) < 0)
		return -1;
	int rc = lora_state_read(l->lora, bytes, size, path, &saved, err);
	free(bytes);
	if (rc < 0)
		return -1;
	if (saved != step)
		return err_set(err, ERR_FORMAT, "checkpoint of step %ld holds the adapters of step %ld",
			step, saved);
	l->step = step;
	return lora_blob(d, l, err);
}

int learner_lora(struct daemon *d, struct learner *l, const struct lora_config *c,
	uint64_t seed, struct err *err)
{
	if (l->lora)
		return 0;
	struct lora *lo = calloc(1, sizeof *lo);
	if (!lo)
		return err_set(err, ERR_NOMEM, "cannot start the adapters of stage %lld: out of memory",
			(long long)l->stage);
	if (lora_init(lo, &l->m.cfg, c, err) < 0 || model_alloc_optimizer(&lo->p, err) < 0) {
		lora_release(lo);
		free(lo);
		return err_wrap(err, "stage %lld", (long long)l->stage);
	}
	lora_init_weights(lo, rng_key_str(seed, "lora"));
	/* the frozen weights have no gradients or moments: 12 bytes a parameter back (the
	 * model's grads pointers dangle; nothing in the learner reads them with adapters) */
	free(l->m.grads_mem);
	free(l->m.m_mem);
	free(l->m.v_mem);
	l->m.grads_mem = l->m.m_mem = l->m.v_mem = NULL;
	memcpy(l->base_sha, l->sha256, SHA256_HEX_SIZE);
	l->lora = lo;
	return lora_blob(d, l, err);
}

int learner_job_weights(const struct learner *l, json_t *params)
{
	if (!l->lora)
		return json_object_set_new(params, "weights", json_string(l->sha256));
	const struct lora *lo = l->lora;
	json_t *targets = json_array();
	for (int t = 0; t < LORA_NTARGETS; t++)
		if (lo->cfg.targets & (1u << t))
			json_array_append_new(targets, json_string(lora_target_name(t)));
	json_t *o = json_pack("{si sf so ss}", "rank", lo->cfg.rank, "alpha", (double)lo->cfg.alpha,
		"targets", targets, "adapter", l->sha256);
	if (!o || json_object_set_new(params, "lora", o) < 0)
		return -1;
	return json_object_set_new(params, "weights", json_string(l->base_sha));
}

int learner_resume(struct daemon *d, struct learner *l, const char *sha256, const char *opt,
	long step, struct err *err)
{
	char path[DATADIR_PATH_MAX], dir[DATADIR_PATH_MAX], link[DATADIR_PATH_MAX + 32];
	long saved = 0;
	if (l->lora)
		return lora_resume(d, l, opt, step, err);
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

/* The test knob's file: -1 if there is none or it holds another stage than `stage`,
 * else the step it lets go up to (0 when it names none). */
static long hold_upto(const char *path, int64_t stage)
{
	long upto = 0, only;
	FILE *f = path && *path ? fopen(path, "r") : NULL;
	if (!f)
		return -1;
	int n = fscanf(f, "%ld %ld", &upto, &only);
	fclose(f);
	if (n < 1)
		return 0;
	return n == 2 && only != stage ? -1 : upto;
}

/* The test knob (learner.h): wait while `path` holds this step, saying so in
 * PATH.held. */
static void hold(struct learner *l, const char *path)
{
	char held[DATADIR_PATH_MAX + 8];
	long step = l->step + 1, upto;
	int waited = 0;
	while (!atomic_load(&l->work.cancel) && (upto = hold_upto(path, l->stage)) >= 0 && step > upto) {
		if (!waited) {
			snprintf(held, sizeof held, "%s.held", path);
			FILE *f = fopen(held, "w");
			if (f) {
				fprintf(f, "%lld %ld\n", (long long)l->stage, step);
				fclose(f);
			}
			waited = 1;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	if (waited)
		unlink(held);
}

static int cancelled(struct learner *l, struct err *err)
{
	if (!atomic_load(&l->work.cancel))
		return 0;
	return err_set(err, ERR_IO, "learner of stage %lld: closed", (long long)l->stage);
}

/* The step: the gradients summed in shard order into the model's, clipped, AdamW. */
static int step(struct learner *l, struct err *err)
{
	struct learner_work *w = &l->work;
	/* with adapters, they are the parameters stepped (the model's own stay frozen) */
	struct model *pm = l->lora ? &l->lora->p : &l->m;
	size_t want = pm->num_params * sizeof(float);
	float *g = pm->grads_mem;
	if (w->n == 0) { /* no update: the weights stay (learner_start) */
		w->norm = l->last_norm;
		w->lr = l->last_lr;
		return 0;
	}
	memset(g, 0, want);
	for (size_t k = 0; k < w->n; k++) {
		size_t size;
		char *bytes;
		if (cancelled(l, err) < 0)
			return -1;
		if (file_read(w->paths[k], FILE_READ_ANY, &bytes, &size, err) < 0)
			return err_wrap(err, "learner of stage %lld, shard %zu", (long long)l->stage, k);
		if (size != want) {
			free(bytes);
			return err_set(err, ERR_FORMAT, "learner of stage %lld: gradient of shard %zu "
				"has %zu bytes, the model %zu", (long long)l->stage, k, size, want);
		}
		const float *add = (const float *)(void *)bytes;
		for (size_t i = 0; i < pm->num_params; i++)
			g[i] += add[i];
		free(bytes);
	}
	if (cancelled(l, err) < 0)
		return -1;
	w->norm = l->grad_clip > 0 ? grad_clip(pm, l->grad_clip) : grad_global_norm(pm);
	w->lr = lr_at(&l->schedule, l->step);
	l->adamw.lr = (float)w->lr;
	adamw_step(pm, &l->adamw, l->step + 1);
	return 0;
}

/* Hash the file `name` of the scratch directory `dir`, made private like a blob. */
static int hash_file(const char *dir, const char *name, char hex[SHA256_HEX_SIZE],
	int64_t *size, struct err *err)
{
	char path[DATADIR_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (chmod(path, 0600) < 0)
		return err_sys(err, errno, "cannot make '%s' private", path);
	return sha256_file(path, hex, size, err);
}

/* The step's new weights, model.safetensors of `dir`: read, hashed (the blob's name)
 * and, unless the weights did not move, kept in *bytes for the delta. */
static int hash_weights(struct learner *l, const char *dir, char **bytes, struct err *err)
{
	struct learner_work *w = &l->work;
	char path[DATADIR_PATH_MAX + 32];
	size_t size;
	*bytes = NULL;
	if (!(w->flags & LEARNER_STEP) || w->n == 0) /* no delta: the hash alone */
		return hash_file(dir, "model.safetensors", w->sha256, &w->size, err);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if (chmod(path, 0600) < 0)
		return err_sys(err, errno, "cannot make '%s' private", path);
	if (file_read(path, FILE_READ_ANY, bytes, &size, err) < 0)
		return -1;
	sha256_buffer(*bytes, size, w->sha256);
	w->size = (int64_t)size;
	return 0;
}

/* The exact delta (core/wdelta.h) from the weights before the step, blob l->sha256
 * (the learner's current weights: held, blobs_held, so the loop drops it not while
 * the step runs), to the new ones `target`: encoded, hashed and written as the file
 * `delta` of `dir` for learner_finish to adopt (deltas_note). On the thread, because
 * reading two weights files and compressing their XOR takes seconds for a 135M
 * model. A failure costs only the bytes the delta would have saved: w->delta stays
 * "" and w->delta_err says why. */
static void make_delta(struct learner *l, const char *dir, const char *target)
{
	struct learner_work *w = &l->work;
	struct err *err = &w->delta_err;
	char rel[80], path[DATADIR_PATH_MAX], file[DATADIR_PATH_MAX + 32];
	size_t size = (size_t)w->size, n = 0;
	void *delta = NULL, *base = MAP_FAILED;
	struct stat st;
	int fd = -1;
	if (!sha256_hex_valid(l->sha256) || strcmp(l->sha256, w->sha256) == 0)
		return;
	snprintf(rel, sizeof rel, "blobs/%s", l->sha256);
	if (datadir_path(&l->d->dir, rel, path, sizeof path, err) < 0)
		goto out;
	/* stored (and hashed) by this learner a step ago, or checked when the learner read
	 * it: trusted here; a damaged base gives a delta that fails the worker's check of
	 * the target's sha256, and the worker fetches the whole blob */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		err_sys(err, errno, "cannot read '%s'", path);
		goto out;
	}
	if ((size_t)st.st_size != size) /* another layout (a resumed checkpoint's dtype) */
		goto out;
	if (size && (base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		err_sys(err, errno, "cannot read '%s'", path);
		goto out;
	}
	if (wdelta_encode(size ? base : "", target, size, l->sha256, w->sha256, &delta, &n,
		err) < 0)
		goto out;
	if (n >= size) /* nothing gained: workers fetch the whole blob */
		goto out;
	/* not fsynced: a scratch blob (blobs_put_scratch), recomputable */
	struct file_atomic f;
	snprintf(file, sizeof file, "%s/delta", dir);
	if (file_atomic_open(&f, file, NULL, 0600, err) < 0 ||
		file_atomic_write(&f, delta, n, err) < 0 || file_atomic_commit(&f, false, err) < 0)
		goto out;
	sha256_buffer(delta, n, w->delta);
	w->delta_size = (int64_t)n;
out:
	if (base != MAP_FAILED)
		munmap(base, size);
	if (fd >= 0)
		close(fd);
	free(delta);
}

/* learner_start's thread: the step and/or the checkpoint's files, hashed, in the
 * scratch directory; nothing outside it. */
static void *work(void *arg)
{
	struct learner *l = arg;
	learner_thread_priority();
	struct learner_work *w = &l->work;
	struct err *err = &w->err;
	char dir[DATADIR_PATH_MAX], *bytes = NULL;
	long steps = l->step + ((w->flags & LEARNER_STEP) != 0);
	long opt_step = w->flags & LEARNER_SAVE ? (steps > 0 ? steps : 1) : 0;
	hold(l, getenv("R1FLOW_TEST_LEARNER_HOLD"));
	/* adapters: their blob is small and a save merges the weights, both done by
	 * learner_finish (lora_finish) */
	if (((w->flags & LEARNER_STEP) && step(l, err) < 0) || cancelled(l, err) < 0 || l->lora ||
		scratch_dir(l->d, l, dir, sizeof dir, err) < 0 ||
		checkpoint_save(&l->m, dir, opt_step, err) < 0 ||
		hash_weights(l, dir, &bytes, err) < 0)
		goto out;
	if (bytes && !cancelled(l, err))
		make_delta(l, dir, bytes);
	free(bytes);
	bytes = NULL;
	if (opt_step > 0 && !err->code)
		hash_file(dir, "optimizer.safetensors", w->opt, &w->opt_size, err);
out:
	free(bytes);
	atomic_store(&w->done, 1);
	wake(l->d);
	return NULL;
}

int learner_start(struct daemon *d, struct learner *l, const char *const *paths, size_t n,
	int flags, struct err *err)
{
	struct learner_work *w = &l->work;
	assert(!l->busy && l->live && flags);
	memset(w, 0, sizeof *w);
	w->flags = flags;
	if (n && !(w->paths = calloc(n, sizeof *w->paths)))
		goto nomem;
	for (; w->n < n; w->n++)
		if (!(w->paths[w->n] = strdup(paths[w->n])))
			goto nomem;
	learner_wake_fd(d);
	int rc = pthread_create(&w->thread, NULL, work, l);
	if (rc != 0) {
		work_release(w);
		return err_sys(err, rc, "cannot run the learner of stage %lld: cannot create a "
			"thread", (long long)l->stage);
	}
	l->busy = 1;
	return 0;
nomem:
	work_release(w);
	return err_set(err, ERR_NOMEM, "cannot run the learner of stage %lld: out of memory",
		(long long)l->stage);
}

/* A step's delta from `prev`, made on the thread (make_delta): adopted as the stage's
 * delta blob, or, if none was made, the reason logged. */
static void note_delta(struct daemon *d, struct learner *l, const char *dir, const char *prev)
{
	struct learner_work *w = &l->work;
	char path[DATADIR_PATH_MAX + 32];
	if (w->delta_err.code)
		log_warn("stage %lld: no weights delta to %.12s (workers fetch it whole): %s",
			(long long)l->stage, l->sha256, w->delta_err.msg);
	if (!w->delta[0])
		return;
	snprintf(path, sizeof path, "%s/delta", dir);
	deltas_note(d, l->stage, prev, l->sha256, (size_t)w->size, path, w->delta,
		(size_t)w->delta_size);
}

int learner_finish(struct daemon *d, struct learner *l, char prev[SHA256_HEX_SIZE],
	struct err *err)
{
	struct learner_work *w = &l->work;
	char dir[DATADIR_PATH_MAX], path[DATADIR_PATH_MAX + 32];
	assert(l->busy);
	if (!atomic_load(&w->done))
		return 0;
	pthread_join(w->thread, NULL);
	work_release(w);
	l->busy = 0;
	if (w->err.code) {
		if (err)
			*err = w->err;
		return -1;
	}
	int save = (w->flags & LEARNER_SAVE) != 0;
	if (l->lora)
		return lora_finish(d, l, save, prev, err);
	if (scratch_dir(d, l, dir, sizeof dir, err) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if (blobs_adopt(d, path, w->sha256, w->size, save, err) < 0)
		return -1;
	memcpy(prev, l->sha256, SHA256_HEX_SIZE);
	memcpy(l->sha256, w->sha256, SHA256_HEX_SIZE);
	if (w->flags & LEARNER_STEP) {
		note_delta(d, l, dir, prev); /* a step without gradients keeps the sha: no delta */
		l->last_norm = w->norm;
		l->last_lr = w->lr;
		l->step++;
	}
	if (!save)
		return 1;
	snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
	if (blobs_adopt(d, path, w->opt, w->opt_size, 1, err) < 0 ||
		store_checkpoint_add(d->store, l->stage, l->step, l->sha256, w->opt, l->config,
			d->wall, err) < 0)
		return -1;
	return 1;
}
