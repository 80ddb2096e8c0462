/*
 * stage_train — the `pretrain` and `sft` stages: masked cross-entropy training
 * through `grad` jobs and the learner (learner.h).
 *
 * Step s (1-based) trains on `batch` records: positions (s-1)·batch ..
 * s·batch-1 of the dataset's units read in a per-epoch order (a Fisher-Yates
 * shuffle keyed by (seed, stage, epoch)), cut into shards of `shard` sequences, one
 * grad job each (job step s, shard k). Sequences are packed by packing.h. sft: a
 * unit is a record, <bos> template(prompt) response <eos> with the loss on the
 * response and <eos> only — or, for a chat record (`messages`) in a stage with a
 * chat_format or chat_template, the conversation rendered by chat.h with the loss on
 * the assistant turns only (a per-token mask in the grad job); an example longer
 * than max_seq fails the stage naming the record (submit refuses datasets it can
 * see; a dataset made by an earlier stage is checked here). pretrain: a unit is a window of a document <bos> text
 * <eos>; a document longer than max_seq is cut into windows, each a unit of its
 * own, so `epochs` counts windows and a long document is learnt whole. Every target
 * token weighs 1/(the batch's target tokens): the shards' gradients add up to the
 * gradient of the batch's token-mean loss (as language-model training usually
 * takes it; a per-sequence mean would weigh a 12-token "a+b=c" as much as a
 * 50-token worked solution), whatever the sharding.
 *
 * When every shard of step s is done the learner steps on its thread (with the
 * checkpoint with moments every `save_every` steps and at the end), while the loop
 * goes on; the turn after it is done commits it: metrics (loss, grad_norm, lr,
 * tokens, tokens_per_s) are recorded for s and step s+1's jobs go out. After a
 * daemon restart the stage resumes from its last saved step: the jobs after it
 * are deleted and recomputed, and determinism makes the result the same.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "checkpoint.h"
#include "daemon.h"
#include "file.h"
#include "imports.h"
#include "learner.h"
#include "memplan.h"
#include "names.h"
#include "packing.h"
#include "retain.h"
#include "rng.h"
#include "shards.h"
#include "stage.h"
#include "stage_grad.h"
#include "stage_settings.h"
#include "tokenizers.h"

static int64_t total_steps(const struct train_settings *set, int64_t n)
{
	return set->epochs > 0 ? (set->epochs * n + set->batch - 1) / set->batch : set->steps;
}

/* The final weights of stage `name` of pipeline `pipeline`: its last checkpoint. */
static int final_weights(struct stage_ctx *c, int64_t pipeline, const char *name,
	struct model_config *cfg, char sha256[SHA256_HEX_SIZE], char **config, struct err *err)
{
	struct store_stage *st = NULL;
	size_t n = 0;
	int64_t id = 0;
	if (store_stage_list(c->d->store, pipeline, &st, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].name, name))
			id = st[i].id;
	store_stages_free(st, n);
	struct store_checkpoint ck;
	int rc = id ? store_checkpoint_last(c->d->store, id, 0, &ck, err) : 0;
	if (rc <= 0)
		return rc < 0 ? -1 : pipeline == c->pipeline->id ?
			err_set(err, ERR_NOTFOUND, "stage '%s' left no checkpoint", name) :
			err_set(err, ERR_NOTFOUND, "stage '%s' of pipeline %lld left no checkpoint",
				name, (long long)pipeline);
	rc = hfconfig_parse(ck.config, strlen(ck.config), name, cfg, err);
	memcpy(sha256, ck.sha256, SHA256_HEX_SIZE);
	if (rc == 0 && config)
		*config = ck.config;
	else
		free(ck.config);
	return rc;
}

/* The config.json text of checkpoint directory `dir`, in *config. One that does not say
 * its torch_dtype (nor dtype) gets the dtype the weights are stored in (the
 * embedding's): the stage's checkpoints keep this config, and export writes the
 * weights back in its torch_dtype, so a BF16 model stays BF16 after training. */
static int checkpoint_config(const char *dir, char **config, struct err *err)
{
	char path[PATH_MAX + sizeof "/config.json"];
	size_t size;
	json_error_t jerr;
	snprintf(path, sizeof path, "%s/config.json", dir);
	if (file_read(path, FILE_READ_ANY, config, &size, err) < 0)
		return -1;
	json_t *root = json_loadb(*config, size, 0, &jerr);
	const json_t *td = json_object_get(root, "torch_dtype");
	if (!td || json_is_null(td))
		td = json_object_get(root, "dtype");
	if (!root || (td && !json_is_null(td))) { /* checkpoint_check parsed it already */
		json_decref(root);
		return 0;
	}
	struct shards s = { 0 };
	const struct shards_tensor *t;
	char *text = NULL;
	int rc = shards_open(&s, dir, err);
	if (rc == 0 && (t = shards_find(&s, "model.embed_tokens.weight")) &&
		(json_object_set_new(root, "torch_dtype",
			json_string(shards_torch_dtype(t->info->dtype))) < 0 ||
		!(text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)))))
		rc = err_set(err, ERR_NOMEM, "cannot read '%s': out of memory", path);
	if (text) {
		free(*config);
		*config = text;
	}
	shards_close(&s);
	json_decref(root);
	return rc;
}

/* The weights a stage starts from: `from`'s final checkpoint, or the pipeline's
 * model. *sha256 empty: fresh weights. */
int stage_initial_weights(struct stage_ctx *c, const char *from, struct model_config *cfg,
	char sha256[SHA256_HEX_SIZE], char **config, struct err *err)
{
	json_t *model = json_object_get(c->pipeline_spec, "model");
	*sha256 = 0;
	if (config)
		*config = NULL;
	if (from)
		return final_weights(c, c->pipeline->id, from, cfg, sha256, config, err);
	if (json_object_get(model, "config"))
		return memplan_model_config(json_object_get(model, "config"), cfg, err) < 0 ? -1 :
			tokenizers_model(c->d, c->pipeline_spec, cfg, err);
	if (json_object_get(model, "checkpoint")) {
		const char *dir = json_string_value(json_object_get(model, "checkpoint"));
		/* submit checked it; checked again, since it may have changed since, so that a
		 * broken file is named by the user's path, not by the blob copied from it */
		if (checkpoint_check(dir, cfg, err) < 0)
			return err_wrap(err, "model.checkpoint");
		int rc = import_blob(c->d, dir, sha256, err) < 0 ? -1 : 0;
		if (rc == 0 && config && checkpoint_config(dir, config, err) < 0)
			return -1;
		return rc;
	}
	/* model: {pipeline, stage}: submit pinned the pipeline to its id */
	const char *pipeline = json_string_value(json_object_get(model, "pipeline"));
	const char *stage = json_string_value(json_object_get(model, "stage"));
	char *end = NULL;
	long long id = pipeline ? strtoll(pipeline, &end, 10) : 0;
	if (!stage || !end || *end || id <= 0)
		return err_set(err, ERR_INVALID, "model.pipeline '%s' is not a pipeline id (submit "
			"resolves it)", pipeline ? pipeline : "");
	return final_weights(c, id, stage, cfg, sha256, config, err);
}

int stage_model_resolve(struct daemon *d, json_t *spec, struct err *err)
{
	json_t *model = json_object_get(spec, "model");
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	if (dir)
		return checkpoint_check(dir, NULL, err) < 0 ? err_wrap(err, "model.checkpoint") : 0;
	const char *name = json_string_value(json_object_get(model, "pipeline"));
	const char *stage = json_string_value(json_object_get(model, "stage"));
	if (!name || !stage)
		return 0;
	struct store_pipeline *all = NULL, *p = NULL;
	struct store_stage *st = NULL;
	size_t n = 0, nst = 0;
	int rc = -1;
	char *end;
	long long want = strtoll(name, &end, 10);
	if (store_pipeline_list(d->store, &all, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && !p; i++) /* newest first: a name means its latest run */
		if ((*name && !*end && all[i].id == want) || !strcmp(all[i].name, name))
			p = &all[i];
	if (!p) {
		err_set(err, ERR_NOTFOUND, "model.pipeline: no pipeline '%s' (by id or name)", name);
		goto out;
	}
	if (store_stage_list(d->store, p->id, &st, &nst, err) < 0)
		goto out;
	const struct store_stage *s = NULL;
	for (size_t i = 0; i < nst && !s; i++)
		if (!strcmp(st[i].name, stage))
			s = &st[i];
	if (!s) {
		err_set(err, ERR_NOTFOUND, "model.stage: pipeline %lld '%s' has no stage '%s'",
			(long long)p->id, p->name, stage);
		goto out;
	}
	if (s->state != STAGE_SUCCEEDED) {
		err_set(err, ERR_INVALID, "model.stage: stage '%s' of pipeline %lld '%s' has not "
			"succeeded (it is %s): its final weights do not exist yet", stage,
			(long long)p->id, p->name, store_stage_state_name(s->state));
		goto out;
	}
	struct store_checkpoint ck;
	int found = store_checkpoint_last(d->store, s->id, 0, &ck, err);
	if (found <= 0) {
		if (found == 0)
			err_set(err, ERR_INVALID, "model.stage: stage '%s' of pipeline %lld '%s' trains "
				"no weights (kind %s)", stage, (long long)p->id, p->name, s->kind);
		goto out;
	}
	free(ck.config);
	char id[32];
	snprintf(id, sizeof id, "%lld", (long long)p->id);
	if (json_object_set_new(model, "pipeline", json_string(id)) < 0) {
		err_set(err, ERR_NOMEM, "cannot submit: out of memory");
		goto out;
	}
	rc = 0;
out:
	store_stages_free(st, nst);
	store_pipelines_free(all, n);
	return rc;
}

/* The stage's learner at its latest usable checkpoint with moments: one whose blobs
 * are missing or damaged (blobs_path hashes them) is passed over for the one
 * before, down to the stage's initial weights, and the steps after are recomputed
 * (determinism gives the same bytes, and blobs_put writes the lost files again). */
struct learner *stage_learner(struct stage_ctx *c, const struct learner_settings *set,
	int64_t total, struct err *err)
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
	int64_t before = INT64_MAX;
	char *config = NULL;
	if (stage_initial_weights(c, set->from, &cfg, sha, &config, err) < 0)
		return NULL;
again:
	if (!(l = learner_open(c->d, c->stage->id, &cfg, *sha ? sha : NULL,
		(uint64_t)c->pipeline->seed, err)))
		goto none;
	/* the checkpoints keep the config the model came with, not the learner's own:
	 * its torch_dtype is the dtype export writes the weights back in */
	if (config) {
		char *keep = strdup(config);
		if (!keep) {
			err_set(err, ERR_NOMEM, "stage %lld: out of memory", (long long)c->stage->id);
			goto fail;
		}
		free(l->config);
		l->config = keep;
	}
	l->schedule = (struct lr_schedule){ (float)set->lr, (int)set->warmup, (int)total,
		(float)set->min_lr };
	l->adamw.beta1 = (float)set->beta1;
	l->adamw.beta2 = (float)set->beta2;
	l->adamw.weight_decay = (float)set->weight_decay;
	l->grad_clip = set->grad_clip;
	if (set->lora.rank > 0 && learner_lora(c->d, l, &set->lora,
		rng_key_str((uint64_t)c->pipeline->seed, c->stage->name), err) < 0)
		goto fail;
	struct store_checkpoint ck;
	int rc = store_checkpoint_before(c->d->store, c->stage->id, before, &ck, err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		rc = learner_resume(c->d, l, ck.sha256, ck.optimizer, (long)ck.step, err);
		free(ck.config);
		if (rc < 0 && (err->code == ERR_FORMAT || err->code == ERR_NOTFOUND)) {
			log_error("stage %lld: cannot resume from the checkpoint of step %lld: %s; "
				"recomputing from an earlier one", (long long)c->stage->id,
				(long long)ck.step, err->msg);
			learner_close(c->d, c->stage->id); /* its weights may be half loaded */
			/* the row goes with its damaged file: the learner may be prepared on a
			 * thread (learner_open), so the next try can be a later turn, which must
			 * not find this checkpoint again; the step's save writes it anew */
			*err = (struct err){ 0 };
			if (store_checkpoint_delete(c->d->store, c->stage->id, ck.step, err) < 0)
				goto none;
			blobs_drop(c->d, ck.sha256);
			blobs_drop(c->d, ck.optimizer);
			before = ck.step;
			goto again;
		}
		if (rc < 0)
			goto fail;
	} else if (store_checkpoint_add(c->d->store, c->stage->id, 0, l->lora ? l->base_sha : l->sha256, NULL,
		l->config, c->d->wall, err) < 0) { /* step 0: the weights it started from */
		goto fail;
	}
	/* jobs are numbered in job steps: a grpo step is mu learner steps. With
	 * keep_next_samples the next step's rollouts and rewards stay (their grads go):
	 * they sampled from earlier weights than the learner resumes with */
	int64_t per = set->per_job_step > 0 ? set->per_job_step : 1, at = l->step / per;
	if (store_jobs_delete_after(c->d->store, c->stage->id, at + (set->keep_next_samples ? 1 : 0),
		NULL, err) < 0 || (set->keep_next_samples &&
		store_jobs_delete_after(c->d->store, c->stage->id, at, "grad", err) < 0))
		goto fail;
	if (l->step > 0)
		log_info("stage %lld: learner resumed at saved step %ld", (long long)c->stage->id,
			l->step);
	free(config);
	return l;
fail:
	learner_close(c->d, c->stage->id);
none:
	free(config);
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

/* The units of a pretrain stage's dataset: the windows of every document (packing.h),
 * kept in l->units (NULL when every document fits: a unit is a record); *n the units. */
static int train_units(struct stage_ctx *c, struct learner *l, int64_t dataset, int64_t nrec,
	int64_t *n, struct err *err)
{
	*n = nrec;
	if (strcmp(c->stage->kind, NAME_STAGE_PRETRAIN))
		return 0;
	if (!l->units_ready) {
		int64_t *u = malloc((size_t)(nrec + 1) * sizeof *u);
		int longer = 0;
		if (!u)
			return err_set(err, ERR_NOMEM, "stage '%s': out of memory", c->stage->name);
		u[0] = 0;
		struct tokenizer *tok = tokenizers_get(c->d, c->pipeline_spec, &l->m.cfg, err);
		if (!tok) {
			free(u);
			return -1;
		}
		for (int64_t i = 0; i < nrec; i++) {
			struct store_record r;
			if (store_record_get(c->d->store, dataset, i, &r, err) != 1 || !r.text) {
				store_record_release(&r);
				free(u);
				return err->code ? -1 : err_set(err, ERR_INVALID, "stage '%s': record "
					"%lld has no text (pretrain reads documents: a corpus dataset or "
					"{\"text\"} lines)", c->stage->name, (long long)i);
			}
			int64_t len = pack_document(tok, r.text, NULL, 0, err);
			store_record_release(&r);
			if (len < 0) {
				free(u);
				return -1;
			}
			int64_t w = pack_windows(len, l->m.cfg.max_seq);
			longer |= w > 1;
			u[i + 1] = u[i] + w;
		}
		if (!longer) {
			free(u);
			u = NULL;
		}
		l->units = u;
		l->units_ready = 1;
	}
	if (l->units)
		*n = l->units[nrec];
	return 0;
}

/* The record of unit `unit` and its window (0 unless documents were cut). */
static int64_t unit_record(const struct learner *l, int64_t nrec, int64_t unit, int64_t *window)
{
	*window = 0;
	if (!l->units)
		return unit;
	int64_t lo = 0, hi = nrec - 1; /* the last record whose first unit is <= unit */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo + 1) / 2;
		if (l->units[mid] <= unit)
			lo = mid;
		else
			hi = mid - 1;
	}
	*window = unit - l->units[lo];
	return lo;
}

/* The stage's chat format (chat.h) into *f: 1, 0 when it has none, -1 when the
 * settings' format cannot be made (the spec loader checked it: a damaged spec). */
static int chat_format_of(const struct train_settings *set, struct chat_format *f,
	struct err *err)
{
	if (set->chat_format)
		return chat_format_named(set->chat_format, f, err) < 0 ? -1 : 1;
	if (set->chat_template)
		return chat_format_roles(set->chat_template, f, err) < 0 ? -1 : 1;
	return 0;
}

/* A chat record rendered by fmt into ids[max_seq] and mask[max_seq] (1: trained). */
static int chat_sequence(const struct chat_format *fmt, struct tokenizer *tok,
	const struct store_record *r, size_t cap, int *ids, unsigned char *mask, size_t *n,
	size_t *first, struct err *err)
{
	json_error_t jerr;
	json_t *m = json_loads(r->messages, 0, &jerr);
	struct chat c = { 0 };
	int rc = -1;
	if (!m)
		err_set(err, ERR_FORMAT, "its messages are not JSON: %s", jerr.text);
	else if (chat_parse(m, 1, &c, err) == 0) {
		int64_t got = pack_chat(tok, fmt, &c, ids, mask, cap, first, err);
		*n = got < 0 ? 0 : (size_t)got;
		rc = got < 0 ? -1 : 0;
	}
	chat_release(&c);
	json_decref(m);
	return rc;
}

/* The token sequence of window `window` of record `idx` into ids[max_seq]; with a chat
 * format and a chat record, *masked = 1 and mask[max_seq] says which ids are trained. */
static int sequence(const struct train_settings *set, const struct chat_format *fmt,
	const struct model_config *cfg, struct tokenizer *tok, const struct store_record *r,
	int64_t idx, int64_t window, int *ids, unsigned char *mask, int *masked, int *len,
	int *start, struct err *err)
{
	size_t cap = (size_t)cfg->max_seq, n, first = 1;
	int64_t got;
	*masked = 0;
	if (set->template && fmt && r->messages) {
		if (chat_sequence(fmt, tok, r, cap, ids, mask, &n, &first, err) < 0)
			return err_wrap(err, "record %lld", (long long)idx);
		if (n > cap)
			return err_set(err, ERR_INVALID, "record %lld: the SFT chat is %zu tokens "
				"(%zu before the first answer), more than max_seq %d: shorten it or raise "
				"max_seq", (long long)idx, n, first, cfg->max_seq);
		if (first >= n)
			return err_set(err, ERR_INVALID, "record %lld has no answer tokens to train on",
				(long long)idx);
		*masked = 1;
	} else if (!set->template) { /* pretrain */
		if (!r->text)
			return err_set(err, ERR_INVALID, "record %lld has no text (pretrain reads "
				"documents: a corpus dataset or {\"text\"} lines)", (long long)idx);
		if ((got = pack_document(tok, r->text, ids, cap, err)) < 0)
			return -1;
		n = (size_t)got;
		if (n > cap) { /* a window of a longer document */
			int64_t at = pack_window_start(window, cfg->max_seq);
			int *all = malloc(n * sizeof *all);
			if (!all)
				return err_set(err, ERR_NOMEM, "record %lld: out of memory",
					(long long)idx);
			if (pack_document(tok, r->text, all, n, err) < 0 || at < 0 ||
				(size_t)at + 1 >= n) {
				free(all);
				return err->code ? -1 : err_set(err, ERR_INVALID, "record %lld has no "
					"window %lld", (long long)idx, (long long)window);
			}
			n = n - (size_t)at < cap ? n - (size_t)at : cap;
			memcpy(ids, all + at, n * sizeof *ids);
			free(all);
		}
	} else {
		if (!r->prompt || !r->response)
			return err_set(err, ERR_INVALID, "record %lld has no prompt and response (sft "
				"reads worked solutions or {\"prompt\", \"response\"} lines)", (long long)idx);
		if ((got = pack_example(tok, set->template, r->prompt, r->response, ids, cap, &first,
			err)) < 0)
			return -1;
		n = (size_t)got;
		if (n > cap)
			return err_set(err, ERR_INVALID, "record %lld: the SFT example is %zu tokens "
				"(%zu before the response), more than max_seq %d: shorten it or raise "
				"max_seq", (long long)idx, n, first, cfg->max_seq);
		if (first >= n)
			return err_set(err, ERR_INVALID, "record %lld has no response tokens",
				(long long)idx);
	}
	*start = (int)first;
	*len = (int)n;
	return 0;
}

/* Enqueue the grad jobs of step `step` (1-based) unless they exist. */
static int enqueue_step(struct stage_ctx *c, const struct train_settings *set,
	struct learner *l, int64_t step, struct err *err)
{
	l->step_started = c->d->wall;
	int had = stage_requeue(c, step, "grad", err);
	if (had != 0) /* resumed or retried: the jobs exist */
		return had < 0 ? -1 : 0;
	int64_t dataset, nrec, n, batch = set->batch, shard = set->shard;
	struct model_config cfg = l->m.cfg;
	if (stage_dataset(c, set->dataset, &dataset, &nrec, err) < 0 ||
		train_units(c, l, dataset, nrec, &n, err) < 0)
		return -1;
	int64_t nshards = (batch + shard - 1) / shard;
	struct chat_format fmt;
	int chat = chat_format_of(set, &fmt, err);
	if (chat < 0)
		return err_wrap(err, "stage '%s'", c->stage->name);
	json_t **params = calloc((size_t)nshards, sizeof *params);
	int *ids = malloc((size_t)cfg.max_seq * sizeof *ids);
	unsigned char *mask = malloc((size_t)cfg.max_seq);
	json_error_t jerr;
	json_t *config = json_loads(l->config, 0, &jerr);
	json_t *batch_seqs = json_array();
	struct tokenizer *tok;
	int rc = -1;
	if (!params || !ids || !mask || !config || !batch_seqs) {
		err_set(err, ERR_NOMEM, "cannot build step %lld: out of memory", (long long)step);
		goto out;
	}
	if (!(tok = tokenizers_get(c->d, c->pipeline_spec, &cfg, err)))
		goto out;
	/* the batch first: the token-mean weight needs every sequence's length */
	double targets = 0;
	for (int64_t b = 0; b < batch; b++) {
		int64_t unit = stage_record_at(c, l, n, (step - 1) * batch + b), window = 0;
		int64_t idx = unit < 0 ? -1 : unit_record(l, nrec, unit, &window);
		struct store_record r;
		int len = 0, start = 0, masked = 0;
		if (idx < 0 || store_record_get(c->d->store, dataset, idx, &r, err) != 1) {
			if (!err->code)
				err_set(err, ERR_NOTFOUND, "record %lld is missing", (long long)idx);
			goto out;
		}
		int src = sequence(set, chat ? &fmt : NULL, &cfg, tok, &r, idx, window, ids, mask,
			&masked, &len, &start, err);
		store_record_release(&r);
		if (src < 0)
			goto out;
		json_t *toks = json_array(), *seq;
		for (int t = 0; t < len; t++)
			json_array_append_new(toks, json_integer(ids[t]));
		seq = json_pack("{so si}", "tokens", toks, "start", start);
		json_array_append_new(batch_seqs, seq);
		if (!masked) {
			targets += len - start;
			continue;
		}
		/* a chat: the flags from start on; only trained positions count */
		json_t *flags = json_array();
		for (int t = start; t < len; t++) {
			json_array_append_new(flags, json_integer(mask[t]));
			targets += mask[t];
		}
		json_object_set_new(seq, "mask", flags);
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
		if (params[k] && set->learner.checkpoint_activations) /* absent: off */
			json_object_set_new(params[k], "checkpoint_activations", json_true());
		if (params[k] && learner_job_weights(l, params[k]) < 0) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = stage_enqueue(c, "grad", step, 0, params, (size_t)nshards, err);
out:
	free(params);
	free(ids);
	free(mask);
	json_decref(config);
	json_decref(batch_seqs);
	return rc;
}

static int train_start(struct stage_ctx *c, struct err *err)
{
	int64_t dataset, nrec, n;
	struct train_settings set;
	if (train_settings_decode(c->spec, &set, err) < 0 ||
		stage_dataset(c, set.dataset, &dataset, &nrec, err) < 0)
		return -1;
	struct learner *l = stage_learner(c, &set.learner, total_steps(&set, nrec), err);
	if (!l || train_units(c, l, dataset, nrec, &n, err) < 0)
		return -1;
	int64_t total = total_steps(&set, n); /* in units: windows of long documents count */
	l->schedule.total_steps = (int)total;
	if (store_stage_set_progress(c->d->store, c->stage->id, l->step, total, err) < 0)
		return -1;
	return enqueue_step(c, &set, l, l->step + 1, err);
}

/* The metrics of step l->step, just committed, from its done jobs. */
static int step_metrics(struct stage_ctx *c, struct learner *l, struct store_job *jobs,
	size_t n, struct err *err)
{
	struct grad_sums sum;
	grad_sums(jobs, n, &sum);
	double secs = (double)(c->d->wall - l->step_started) / 1000.0;
	struct { const char *name; double v; } m[] = {
		{ "loss", sum.loss }, { "grad_norm", l->last_norm }, { "lr", l->last_lr },
		{ "tokens", sum.tokens }, { "tokens_per_s", secs > 0 ? sum.tokens / secs : 0 },
	};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof m / sizeof m[0]; i++)
		rc = store_metric_add(c->d->store, c->stage->id, l->step, m[i].name, m[i].v,
			c->d->wall, err);
	return rc;
}

/* Whether step `step` ends with a checkpoint (with moments). */
static int saves(const struct train_settings *set, int64_t step, int64_t total)
{
	return step % set->learner.save_every == 0 || step >= total;
}

/* The step on the learner's thread is done: commit it (the checkpoint too, if it
 * saves), record its metrics and progress, then the next step's jobs or the end of
 * the stage. 0 while it runs. */
static int step_done(struct stage_ctx *c, const struct train_settings *set, struct learner *l,
	enum stage_state *state, struct err *err)
{
	struct store_job *jobs = NULL;
	size_t n = 0;
	int64_t total = c->stage->total;
	if (store_step_jobs(c->d->store, c->stage->id, l->step + 1, "grad", &jobs, &n, err) < 0)
		return -1;
	int rc = grad_finish(c->d, l, jobs, n, NULL, err);
	if (rc > 0)
		rc = step_metrics(c, l, jobs, n, err) < 0 ? -1 : 1;
	store_jobs_free(jobs, n);
	if (rc <= 0)
		return rc;
	if (store_stage_set_progress(c->d->store, c->stage->id, l->step, total, err) < 0 ||
		(saves(set, l->step, total) &&
		retain_stage(c, set->learner.keep_checkpoints, NULL, 0, err) < 0))
		return -1;
	if (l->step >= total) {
		log_info("stage %lld '%s': %ld steps done, weights %s", (long long)c->stage->id,
			c->stage->name, l->step, l->sha256);
		learner_close(c->d, c->stage->id);
		*state = STAGE_SUCCEEDED;
		return 0;
	}
	return enqueue_step(c, set, l, l->step + 1, err) < 0 ? -1 : 1;
}

static int train_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	struct train_settings set;
	*state = STAGE_RUNNING;
	if (train_settings_decode(c->spec, &set, err) < 0)
		return -1;
	struct learner *l = learner_find(c->d, c->stage->id);
	if (!l) /* the daemon restarted: rebuild, then carry on */
		return train_start(c, err);
	if (l->busy) {
		int rc = step_done(c, &set, l, state, err);
		if (rc <= 0)
			return rc;
	}
	/* the next step: started on the learner's thread once its jobs are all done */
	struct store_job *jobs = NULL;
	size_t n = 0, done = 0;
	if (store_step_jobs(c->d->store, c->stage->id, l->step + 1, "grad", &jobs, &n, err) < 0)
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
	int rc = n == 0 ? enqueue_step(c, &set, l, l->step + 1, err) : done < n ? 0 :
		grad_start(c->d, l, jobs, n, saves(&set, l->step + 1, c->stage->total), err);
	store_jobs_free(jobs, n);
	return rc;
}

const struct stage_driver stage_pretrain = {
	.kind = NAME_STAGE_PRETRAIN, .unit = "steps", .start = train_start, .advance = train_advance,
};

const struct stage_driver stage_sft = {
	.kind = NAME_STAGE_SFT, .unit = "steps", .start = train_start, .advance = train_advance,
};
