/*
 * stage_train — the `pretrain` and `sft` stages: masked cross-entropy training
 * through `grad` jobs and the learner (learner.h).
 *
 * Step s (1-based) trains on `batch` records: positions (s-1)·batch ..
 * s·batch-1 of the dataset read in a per-epoch order (a Fisher-Yates shuffle keyed
 * by (seed, stage, epoch)), cut into shards of `shard` sequences, one grad job
 * each (job step s, shard k). A sequence is <bos> text <eos> (pretrain: the
 * record's text; sft: the template applied to its prompt, then its response, with
 * the loss on the response and <eos> only), truncated to max_seq. Every target
 * token weighs 1/(the batch's target tokens): the shards' gradients add up to the
 * gradient of the batch's token-mean loss (as language-model training usually
 * takes it; a per-sequence mean would weigh a 12-token "a+b=c" as much as a
 * 50-token worked solution), whatever the sharding.
 *
 * When every shard of step s is done the learner steps; metrics (loss, grad_norm,
 * lr, tokens, tokens_per_s) are recorded for s; the checkpoint with moments is
 * saved every `save_every` steps and at the end; step s+1's jobs go out. After a
 * daemon restart the stage resumes from its last saved step: the jobs after it
 * are deleted and recomputed, and determinism makes the result the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "checkpoint.h"
#include "daemon.h"
#include "file.h"
#include "learner.h"
#include "rng.h"
#include "stage.h"
#include "tokenizer.h"

static int64_t total_steps(struct stage_ctx *c, int64_t n)
{
	int64_t batch = stage_int(c, "batch"), epochs = stage_int(c, "epochs");
	return epochs > 0 ? (epochs * n + batch - 1) / batch : stage_int(c, "steps");
}

/* The weights a stage starts from: `from`'s final checkpoint, or the pipeline's
 * model. *sha256 empty: fresh weights. */
int stage_initial_weights(struct stage_ctx *c, struct model_config *cfg,
	char sha256[SHA256_HEX_SIZE], char **config, struct err *err)
{
	const char *from = json_string_value(json_object_get(c->spec, "from"));
	json_t *model = json_object_get(c->pipeline_spec, "model");
	*sha256 = 0;
	if (config)
		*config = NULL;
	if (from) {
		struct store_stage *st = NULL;
		size_t n = 0;
		int64_t id = 0;
		if (store_stage_list(c->d->store, c->pipeline->id, &st, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(st[i].name, from))
				id = st[i].id;
		store_stages_free(st, n);
		struct store_checkpoint ck;
		int rc = id ? store_checkpoint_last(c->d->store, id, 0, &ck, err) : 0;
		if (rc <= 0)
			return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "stage '%s' left no checkpoint",
				from);
		rc = checkpoint_parse_config(ck.config, strlen(ck.config), from, cfg, err);
		memcpy(sha256, ck.sha256, SHA256_HEX_SIZE);
		if (rc == 0 && config)
			*config = ck.config;
		else
			free(ck.config);
		return rc;
	}
	if (json_object_get(model, "config"))
		return learner_config_from_spec(json_object_get(model, "config"), cfg, err);
	if (json_object_get(model, "checkpoint")) {
		const char *dir = json_string_value(json_object_get(model, "checkpoint"));
		char path[4200], *bytes;
		size_t size;
		if (checkpoint_read_config(dir, cfg, err) < 0)
			return -1;
		snprintf(path, sizeof path, "%s/model.safetensors", dir);
		if (file_read(path, FILE_READ_ANY, &bytes, &size, err) < 0)
			return -1;
		int rc = blobs_put(c->d, bytes, size, sha256, err);
		free(bytes);
		snprintf(path, sizeof path, "%s/config.json", dir);
		if (rc == 0 && config && file_read(path, FILE_READ_ANY, config, &size, err) < 0)
			return -1;
		return rc;
	}
	return err_set(err, ERR_INVALID, "a model from another pipeline's stage is not "
		"supported yet: use its exported directory as model.checkpoint");
}

struct learner *stage_learner(struct stage_ctx *c, int64_t total, struct err *err)
{
	struct learner *l = learner_find(c->d, c->stage->id);
	if (l)
		return l;
	if (learner_preparing(c->d, c->stage->id)) { /* not again: its weights are read */
		err_set(err, ERR_IO, "the learner of stage %lld is being prepared",
			(long long)c->stage->id);
		if (err)
			err->errnum = EINPROGRESS;
		return NULL;
	}
	struct model_config cfg;
	char sha[SHA256_HEX_SIZE];
	if (stage_initial_weights(c, &cfg, sha, NULL, err) < 0)
		return NULL;
	if (!(l = learner_open(c->d, c->stage->id, &cfg, *sha ? sha : NULL,
		(uint64_t)c->pipeline->seed, err)))
		return NULL;
	l->schedule = (struct lr_schedule){ (float)stage_num(c, "lr"),
		(int)stage_int(c, "warmup"), (int)total, (float)stage_num(c, "min_lr") };
	l->adamw.beta1 = (float)stage_num(c, "beta1");
	l->adamw.beta2 = (float)stage_num(c, "beta2");
	l->adamw.weight_decay = (float)stage_num(c, "weight_decay");
	l->grad_clip = stage_num(c, "grad_clip");
	struct store_checkpoint ck;
	int rc = store_checkpoint_last(c->d->store, c->stage->id, 1, &ck, err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		rc = learner_resume(c->d, l, ck.sha256, ck.optimizer, (long)ck.step, err);
		free(ck.config);
		if (rc < 0)
			goto fail;
	} else if (store_checkpoint_add(c->d->store, c->stage->id, 0, l->sha256, NULL,
		l->config, c->d->wall, err) < 0) { /* step 0: the weights it started from */
		goto fail;
	}
	if (store_jobs_delete_after(c->d->store, c->stage->id, l->step, err) < 0)
		goto fail;
	if (l->step > 0)
		log_info("stage %lld: learner resumed at saved step %ld", (long long)c->stage->id,
			l->step);
	return l;
fail:
	learner_close(c->d, c->stage->id);
	return NULL;
}

int64_t stage_record_at(struct stage_ctx *c, struct learner *l, int64_t n, int64_t pos)
{
	int64_t epoch = pos / n;
	if (!l->order || l->order_epoch != epoch || l->order_n != n) {
		int64_t *o = realloc(l->order, (size_t)n * sizeof *o);
		if (!o)
			return -1;
		l->order = o;
		for (int64_t i = 0; i < n; i++)
			o[i] = i;
		struct rng r;
		rng_init(&r, rng_key_u64(rng_key_str(rng_key_u64((uint64_t)c->pipeline->seed, 0),
			c->stage->name), (uint64_t)epoch));
		for (int64_t i = n - 1; i > 0; i--) {
			uint64_t hi = rng_u32(&r), lo = rng_u32(&r);
			int64_t j = (int64_t)(((hi << 32) | lo) % (uint64_t)(i + 1));
			int64_t t = o[i];
			o[i] = o[j];
			o[j] = t;
		}
		l->order_epoch = epoch;
		l->order_n = n;
	}
	return l->order[pos % n];
}

/* The token sequence of one record: {tokens, start, weight-less} in *seq. */
static int sequence(struct stage_ctx *c, const struct model_config *cfg,
	const struct store_record *r, int64_t idx, int *ids, int *len, int *start,
	struct err *err)
{
	int sft = !strcmp(c->stage->kind, "sft"), cap = cfg->max_seq;
	int n = 0;
	ids[n++] = cfg->bos_id;
	if (!sft) {
		if (!r->text)
			return err_set(err, ERR_INVALID, "record %lld has no text (pretrain reads "
				"documents: a corpus dataset or {\"text\"} lines)", (long long)idx);
		n += (int)tok_encode(r->text, strlen(r->text), ids + n, (size_t)(cap - n));
		*start = 1;
	} else {
		if (!r->prompt || !r->response)
			return err_set(err, ERR_INVALID, "record %lld has no prompt and response (sft "
				"reads worked solutions or {\"prompt\", \"response\"} lines)", (long long)idx);
		const char *tpl = json_string_value(json_object_get(c->spec, "template"));
		const char *at = tpl ? strstr(tpl, "{prompt}") : NULL;
		if (!at)
			return err_set(err, ERR_INVALID, "template has no {prompt}");
		n += (int)tok_encode(tpl, (size_t)(at - tpl), ids + n, (size_t)(cap - n));
		n += (int)tok_encode(r->prompt, strlen(r->prompt), ids + n, (size_t)(cap - n));
		n += (int)tok_encode(at + 8, strlen(at + 8), ids + n, (size_t)(cap - n));
		*start = n;
		n += (int)tok_encode(r->response, strlen(r->response), ids + n, (size_t)(cap - n));
	}
	if (n < cap)
		ids[n++] = cfg->eos_id;
	if (*start >= n)
		return err_set(err, ERR_INVALID, "record %lld leaves no tokens to learn within "
			"max_seq %d", (long long)idx, cap);
	*len = n;
	return 0;
}

/* Enqueue the grad jobs of step `step` (1-based) unless they exist. */
static int enqueue_step(struct stage_ctx *c, struct learner *l, int64_t step, struct err *err)
{
	l->step_started = c->d->wall;
	int had = stage_requeue(c, step, "grad", err);
	if (had != 0) /* resumed or retried: the jobs exist */
		return had < 0 ? -1 : 0;
	int64_t dataset, n, batch = stage_int(c, "batch"), shard = stage_int(c, "shard");
	struct model_config cfg = l->m.cfg;
	if (stage_dataset(c, "dataset", &dataset, &n, err) < 0)
		return -1;
	int64_t nshards = (batch + shard - 1) / shard;
	json_t **params = calloc((size_t)nshards, sizeof *params);
	int *ids = malloc((size_t)cfg.max_seq * sizeof *ids);
	json_error_t jerr;
	json_t *config = json_loads(l->config, 0, &jerr);
	json_t *batch_seqs = json_array();
	int rc = -1;
	if (!params || !ids || !config || !batch_seqs) {
		err_set(err, ERR_NOMEM, "cannot build step %lld: out of memory", (long long)step);
		goto out;
	}
	/* the batch first: the token-mean weight needs every sequence's length */
	double targets = 0;
	for (int64_t b = 0; b < batch; b++) {
		int64_t idx = stage_record_at(c, l, n, (step - 1) * batch + b);
		struct store_record r;
		int len = 0, start = 0;
		if (idx < 0 || store_record_get(c->d->store, dataset, idx, &r, err) != 1) {
			if (!err->code)
				err_set(err, ERR_NOTFOUND, "record %lld is missing", (long long)idx);
			goto out;
		}
		int src = sequence(c, &cfg, &r, idx, ids, &len, &start, err);
		store_record_release(&r);
		if (src < 0)
			goto out;
		json_t *toks = json_array();
		for (int t = 0; t < len; t++)
			json_array_append_new(toks, json_integer(ids[t]));
		json_array_append_new(batch_seqs, json_pack("{so si}", "tokens", toks, "start", start));
		targets += len - start;
	}
	for (int64_t k = 0; k < nshards; k++) {
		json_t *seqs = json_array();
		for (int64_t b = k * shard; b < batch && b < (k + 1) * shard; b++) {
			json_t *seq = json_array_get(batch_seqs, (size_t)b);
			json_object_set_new(seq, "weight", json_real(1.0 / targets));
			json_array_append(seqs, seq);
		}
		params[k] = json_pack("{ss sO ss so}", "weights", l->sha256, "config", config,
			"loss", "ce", "seqs", seqs);
	}
	rc = stage_enqueue(c, "grad", step, 0, params, (size_t)nshards, err);
out:
	free(params);
	free(ids);
	json_decref(config);
	json_decref(batch_seqs);
	return rc;
}

static int train_start(struct stage_ctx *c, struct err *err)
{
	int64_t dataset, n;
	if (stage_dataset(c, "dataset", &dataset, &n, err) < 0)
		return -1;
	int64_t total = total_steps(c, n);
	struct learner *l = stage_learner(c, total, err);
	if (!l || store_stage_set_progress(c->d->store, c->stage->id, l->step, total, err) < 0)
		return -1;
	return enqueue_step(c, l, l->step + 1, err);
}

/* Apply step l->step + 1 from its done jobs. */
static int apply_step(struct stage_ctx *c, struct learner *l, struct store_job *jobs,
	size_t n, struct err *err)
{
	char (*names)[BLOBS_RESULT_NAME] = calloc(n, sizeof *names);
	char (*paths)[4200] = calloc(n, sizeof *paths);
	const char **p = calloc(n, sizeof *p);
	double loss = 0, tokens = 0;
	char prev[SHA256_HEX_SIZE];
	int rc = -1;
	if (!names || !paths || !p) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		json_error_t jerr;
		json_t *r = json_loads(jobs[k].result, 0, &jerr);
		const char *name = json_string_value(json_array_get(json_object_get(r, "files"), 0));
		if (!name) {
			json_decref(r);
			err_set(err, ERR_FORMAT, "grad job %lld returned no gradient",
				(long long)jobs[k].id);
			goto out;
		}
		snprintf(names[k], sizeof names[k], "%s", name);
		loss += json_number_value(json_object_get(r, "loss"));
		tokens += json_number_value(json_object_get(r, "tokens"));
		json_decref(r);
		if (blobs_result_path(c->d, names[k], paths[k], sizeof paths[k], err) < 0)
			goto out;
		p[k] = paths[k];
	}
	memcpy(prev, l->sha256, SHA256_HEX_SIZE);
	if (learner_step(c->d, l, p, n, err) < 0)
		goto out;
	for (size_t k = 0; k < n; k++)
		blobs_result_drop(c->d, names[k]);
	blobs_drop(c->d, prev); /* kept if a checkpoint names it */
	double secs = (double)(c->d->wall - l->step_started) / 1000.0;
	struct { const char *name; double v; } m[] = {
		{ "loss", loss }, { "grad_norm", l->last_norm }, { "lr", l->last_lr },
		{ "tokens", tokens }, { "tokens_per_s", secs > 0 ? tokens / secs : 0 },
	};
	rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof m / sizeof m[0]; i++)
		rc = store_metric_add(c->d->store, c->stage->id, l->step, m[i].name, m[i].v,
			c->d->wall, err);
out:
	free(names);
	free(paths);
	free(p);
	return rc;
}

static int train_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	*state = STAGE_RUNNING;
	struct learner *l = learner_find(c->d, c->stage->id);
	if (!l) /* the daemon restarted: rebuild, then carry on */
		return train_start(c, err);
	int64_t total = c->stage->total;
	for (int guard = 0; guard < 64; guard++) { /* steps whose jobs are all done */
		struct store_job *jobs = NULL;
		size_t n = 0, done = 0;
		if (store_step_jobs(c->d->store, c->stage->id, l->step + 1, "grad", &jobs, &n,
			err) < 0)
			return -1;
		for (size_t k = 0; k < n; k++) {
			if (jobs[k].state == JOB_STATE_FAILED) {
				err_set(err, ERR_INVALID, "grad job %lld (step %ld, shard %lld) failed: %s",
					(long long)jobs[k].id, l->step + 1, (long long)jobs[k].shard,
					jobs[k].error ? jobs[k].error : "no error recorded");
				store_jobs_free(jobs, n);
				*state = STAGE_FAILED;
				learner_close(c->d, c->stage->id);
				return 0;
			}
			done += jobs[k].state == JOB_STATE_DONE;
		}
		if (n == 0 || done < n) {
			store_jobs_free(jobs, n);
			return n == 0 ? enqueue_step(c, l, l->step + 1, err) : 0;
		}
		int rc = apply_step(c, l, jobs, n, err);
		store_jobs_free(jobs, n);
		if (rc < 0 || store_stage_set_progress(c->d->store, c->stage->id, l->step, total,
			err) < 0)
			return -1;
		int64_t every = stage_int(c, "save_every");
		if ((l->step % every == 0 || l->step >= total) && learner_save(c->d, l, 1, err) < 0)
			return -1;
		if (l->step >= total) {
			log_info("stage %lld '%s': %ld steps done, weights %s", (long long)c->stage->id,
				c->stage->name, l->step, l->sha256);
			learner_close(c->d, c->stage->id);
			*state = STAGE_SUCCEEDED;
			return 0;
		}
		if (enqueue_step(c, l, l->step + 1, err) < 0)
			return -1;
	}
	return 0;
}

const struct stage_driver stage_pretrain = {
	.kind = "pretrain", .unit = "steps", .start = train_start, .advance = train_advance,
};

const struct stage_driver stage_sft = {
	.kind = "sft", .unit = "steps", .start = train_start, .advance = train_advance,
};
