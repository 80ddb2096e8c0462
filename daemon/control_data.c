/*
 * control_data — the control ops that read what pipelines produced: metrics,
 * checkpoints, the eval report, datasets (control.h lists them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "control.h"
#include "daemon.h"
#include "datasets.h"
#include "file.h"
#include "names.h"
#include "sha256.h"
#include "tokenizers.h"

/* The pipeline `id` of a request (required) and its stages (store_stages_free). */
static int stages_of(struct daemon *d, const struct msg *req, const char *op,
	struct store_stage **st, size_t *n, int64_t *id, struct err *err)
{
	struct store_pipeline p;
	if (!json_object_get(req->header, "id"))
		return err_set(err, ERR_INVALID, "%s: 'id' (a pipeline id) is required", op);
	if (control_get_int(req, op, "id", 0, 1, INT64_MAX, id, err) < 0)
		return -1;
	int rc = store_pipeline_get(d->store, *id, &p, err);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)*id);
	store_pipeline_release(&p);
	return store_stage_list(d->store, *id, st, n, err);
}

/* The stage named by the request's `stage` among st[0..n), or NULL with err. */
static const struct store_stage *named(const struct msg *req, const char *op,
	const struct store_stage *st, size_t n, int64_t id, struct err *err)
{
	const char *name = NULL;
	if (control_get_str(req, op, "stage", &name, err) < 0)
		return NULL;
	if (!name) {
		err_set(err, ERR_INVALID, "%s: 'stage' (a stage name) is required", op);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].name, name))
			return &st[i];
	err_set(err, ERR_NOTFOUND, "pipeline %lld has no stage '%s'", (long long)id, name);
	return NULL;
}

json_t *control_op_metrics(struct daemon *d, const struct msg *req, struct err *err)
{
	struct store_stage *st = NULL;
	size_t n = 0;
	int64_t id;
	const char *only = NULL;
	json_t *times = json_object_get(req->header, "times");
	if (times && !json_is_boolean(times)) {
		err_set(err, ERR_INVALID, "metrics: 'times' must be true or false");
		return NULL;
	}
	if (control_get_str(req, "metrics", "stage", &only, err) < 0 ||
		stages_of(d, req, "metrics", &st, &n, &id, err) < 0)
		return NULL;
	json_t *out = json_array();
	int found = !only;
	for (size_t i = 0; i < n; i++) {
		json_t *m;
		if (only && strcmp(only, st[i].name))
			continue;
		found = 1;
		if (store_metric_list_ts(d->store, st[i].id, json_is_true(times), &m, err) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
		if (json_object_size(m) == 0) {
			json_decref(m);
			continue;
		}
		json_array_append_new(out, json_pack("{ss ss so}", "name", st[i].name, "kind",
			st[i].kind, "metrics", m));
	}
	if (out && !found) {
		err_set(err, ERR_NOTFOUND, "pipeline %lld has no stage '%s'", (long long)id, only);
		json_decref(out);
		out = NULL;
	}
	store_stages_free(st, n);
	return out ? json_pack("{so}", "stages", out) : NULL;
}

/*
 * The tokenizer files pipeline `id` pinned at submit: its spec's model.tokenizer_blobs,
 * {file name: sha256 of the blob holding it}, a new object (empty: the byte tokenizer),
 * or NULL with err when the spec holds something else there.
 */
static json_t *tokenizer_blobs(struct daemon *d, int64_t id, struct err *err)
{
	struct store_pipeline p;
	int rc = store_pipeline_get(d->store, id, &p, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)id);
		return NULL;
	}
	json_error_t jerr;
	json_t *spec = json_loads(p.spec, 0, &jerr), *out = json_object(), *sha;
	json_t *blobs = json_object_get(json_object_get(spec, "model"), TOKENIZERS_KEY);
	const char *name;
	store_pipeline_release(&p);
	if (blobs && !json_is_object(blobs))
		goto bad;
	json_object_foreach(blobs, name, sha) {
		size_t k = 0;
		/* nothing else goes out: the client writes each under its name in a directory */
		while (k < TOKENIZER_NFILES && strcmp(name, tokenizer_file_names[k]))
			k++;
		if (k == TOKENIZER_NFILES || !sha256_hex_valid(json_string_value(sha)))
			goto bad;
		json_object_set(out, name, sha);
	}
	if (json_object_size(out) && !json_object_get(out, TOKENIZER_JSON))
		goto bad;
	json_decref(spec);
	return out;
bad:
	json_decref(spec);
	json_decref(out);
	err_set(err, ERR_FORMAT, "pipeline %lld: model.tokenizer_blobs is not a map of tokenizer "
		"file names (tokenizer.json and optionally tokenizer_config.json, "
		"generation_config.json) to sha256s", (long long)id);
	return NULL;
}

/* The blob `sha` read whole and attached to the reply; 0, or -1 and err. */
static int reply_with_blob(struct daemon *d, const char *sha, size_t *size, struct err *err)
{
	char path[4200], *bytes;
	if (blobs_path(d, sha, path, sizeof path, err) < 0 ||
		file_read(path, FILE_READ_ANY, &bytes, size, err) < 0)
		return -1;
	control_reply_blob(bytes, *size);
	return 0;
}

json_t *control_op_checkpoint(struct daemon *d, const struct msg *req, struct err *err)
{
	struct store_stage *st = NULL;
	size_t n = 0, size;
	int64_t id;
	const char *file = NULL;
	json_t *out = NULL, *tok = NULL;
	if (control_get_str(req, "checkpoint", "file", &file, err) < 0 ||
		stages_of(d, req, "checkpoint", &st, &n, &id, err) < 0)
		return NULL;
	const struct store_stage *s = named(req, "checkpoint", st, n, id, err);
	if (!s || !(tok = tokenizer_blobs(d, id, err)))
		goto out;
	if (file) { /* one tokenizer file, by name */
		const char *sha = json_string_value(json_object_get(tok, file));
		if (!sha)
			err_set(err, ERR_NOTFOUND, "pipeline %lld has no tokenizer file '%s'%s",
				(long long)id, file, json_object_size(tok) ? "" :
				" (it uses the byte tokenizer)");
		else if (reply_with_blob(d, sha, &size, err) == 0)
			out = json_pack("{ss ss ss sI}", "stage", s->name, "file", file, "sha256", sha,
				"size", (json_int_t)size);
		goto out;
	}
	/* the weights themselves go by blob_read, a page at a time: a 1B model's are 4 GB */
	struct store_checkpoint ck = { 0 };
	int64_t bytes = 0;
	int rc = store_checkpoint_last(d->store, s->id, 0, &ck, err);
	if (rc == 0)
		err_set(err, ERR_NOTFOUND, "stage '%s' of pipeline %lld has no checkpoint (yet)",
			s->name, (long long)id);
	char *rel = NULL;
	if (rc == 1 && (rc = store_blob_get(d->store, ck.sha256, &bytes, &rel, err)) == 0)
		err_set(err, ERR_NOTFOUND, "stage '%s' of pipeline %lld: blob %s of its checkpoint "
			"at step %lld is not in the store", s->name, (long long)id, ck.sha256,
			(long long)ck.step);
	if (rc == 1) {
		json_error_t jerr;
		json_t *config = json_loads(ck.config, 0, &jerr);
		out = json_pack("{ss sI ss sI so}", "stage", s->name, "step", (json_int_t)ck.step,
			"sha256", ck.sha256, "size", (json_int_t)bytes, "config",
			config ? config : json_object());
		if (out && json_object_size(tok))
			json_object_set(out, "tokenizer", tok);
		int64_t obytes = 0;
		char *orel = NULL;
		/* a lora stage's adapters live there (export --adapter) */
		if (out && ck.optimizer[0] &&
			store_blob_get(d->store, ck.optimizer, &obytes, &orel, err) == 1)
			json_object_set_new(out, "optimizer", json_pack("{ss sI}", "sha256", ck.optimizer,
				"size", (json_int_t)obytes));
		free(orel);
	}
	free(rel);
	free(ck.config);
out:
	json_decref(tok);
	store_stages_free(st, n);
	return out;
}

json_t *control_op_blob_read(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *sha = NULL;
	int64_t offset, want, total = 0;
	void *data;
	size_t n;
	if (control_get_str(req, "blob_read", "sha256", &sha, err) < 0 ||
		control_get_int(req, "blob_read", "offset", 0, 0, INT64_MAX, &offset, err) < 0 ||
		control_get_int(req, "blob_read", "size", CONTROL_BLOB_PAGE, 1, CONTROL_BLOB_PAGE_MAX,
			&want, err) < 0)
		return NULL;
	if (!sha || !sha256_hex_valid(sha)) {
		err_set(err, ERR_INVALID, "blob_read: 'sha256' (64 lowercase hex digits) is required");
		return NULL;
	}
	if (blobs_read(d, sha, offset, want, CONTROL_BLOB_PAGE_MAX, &data, &n, &total, err) < 0)
		return NULL;
	control_reply_blob(data, n);
	return json_pack("{ss sI sI}", "sha256", sha, "offset", (json_int_t)offset, "size",
		(json_int_t)total);
}

json_t *control_op_report(struct daemon *d, const struct msg *req, struct err *err)
{
	struct store_stage *st = NULL;
	size_t n = 0;
	int64_t id;
	struct store_pipeline p;
	if (stages_of(d, req, "report", &st, &n, &id, err) < 0)
		return NULL;
	json_t *rows = json_array();
	for (size_t i = 0; rows && i < n; i++) {
		json_t *m, *flat, *series;
		const char *name;
		if (strcmp(st[i].kind, NAME_STAGE_EVAL))
			continue;
		flat = json_object();
		if (store_metric_list(d->store, st[i].id, &m, err) < 0) {
			json_decref(rows);
			json_decref(flat);
			rows = NULL;
			break;
		}
		json_object_foreach(m, name, series) /* the value at the last step */
			json_object_set(flat, name, json_array_get(json_array_get(series,
				json_array_size(series) - 1), 1));
		json_decref(m);
		json_error_t jerr;
		json_t *spec = json_loads(st[i].spec, 0, &jerr);
		json_array_append_new(rows, json_pack("{ss sO ss so}", "stage", st[i].name, "from",
			json_object_get(spec, "from") ? json_object_get(spec, "from") : json_null(),
			"state", store_stage_state_name(st[i].state), "metrics", flat));
		json_decref(spec);
	}
	store_stages_free(st, n);
	if (!rows || store_pipeline_get(d->store, id, &p, err) != 1) {
		json_decref(rows);
		return NULL;
	}
	json_t *out = json_pack("{s{sI ss ss} so}", "pipeline", "id", (json_int_t)p.id, "name",
		p.name, "state", store_pipeline_state_name(p.state), "rows", rows);
	store_pipeline_release(&p);
	return out;
}

json_t *control_op_datasets(struct daemon *d, const struct msg *req, struct err *err)
{
	int64_t id;
	json_t *list;
	struct store_pipeline p;
	if (control_get_int(req, "datasets", "id", 0, 0, INT64_MAX, &id, err) < 0)
		return NULL;
	if (id > 0) {
		int rc = store_pipeline_get(d->store, id, &p, err);
		if (rc <= 0) {
			if (rc == 0)
				err_set(err, ERR_NOTFOUND, "no pipeline %lld", (long long)id);
			return NULL;
		}
		store_pipeline_release(&p);
	}
	if (store_dataset_list(d->store, id, &list, err) < 0)
		return NULL;
	return json_pack("{so}", "datasets", list);
}

/* Drop the blobs a dataset_import's `parts` named: they were stored for it alone
 * (blobs_drop keeps any that something else names). */
static void drop_parts(struct daemon *d, const json_t *parts)
{
	size_t i;
	const json_t *p;
	json_array_foreach(parts, i, p)
		if (json_is_string(p) && sha256_hex_valid(json_string_value(p)))
			blobs_drop(d, json_string_value(p));
}

json_t *control_op_dataset_import(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *name = NULL, *file = NULL, *sha256 = NULL;
	const json_t *parts = json_object_get(req->header, "parts");
	int64_t count = 0;
	if (control_get_str(req, "dataset_import", "name", &name, err) < 0 ||
		control_get_str(req, "dataset_import", "file", &file, err) < 0 ||
		control_get_str(req, "dataset_import", "sha256", &sha256, err) < 0)
		return NULL;
	if (!name || !*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name) ||
		strlen(name) > 32) {
		err_set(err, ERR_INVALID, "dataset_import: 'name' must be 1-32 of [a-z0-9_]");
		return NULL;
	}
	if (sha256 && !sha256_hex_valid(sha256)) {
		err_set(err, ERR_INVALID, "dataset_import: 'sha256' is not 64 lowercase hex digits");
		return NULL;
	}
	if (parts ? req->nblobs != 0 : req->nblobs != 1) {
		err_set(err, ERR_INVALID, "dataset_import: send the file as one blob frame, or "
			"name the blobs it was stored in as 'parts' and no frame");
		return NULL;
	}
	const char *text = req->nblobs ? req->blobs[0].data : NULL;
	size_t len = req->nblobs ? req->blobs[0].size : 0;
	char *joined = NULL, hex[SHA256_HEX_SIZE];
	if (parts) {
		int rc = datasets_join_parts(d, parts, sha256, &joined, &len, err);
		drop_parts(d, parts); /* to try again, a client sends the pieces again */
		if (rc < 0) {
			err_wrap(err, "dataset_import of '%s'", name);
			return NULL;
		}
		text = joined;
	} else if (sha256 && (sha256_buffer(text, len, hex), strcmp(hex, sha256) != 0)) {
		err_set(err, ERR_FORMAT, "dataset_import of '%s': the blob frame hashes to %s, not "
			"to 'sha256' %s", name, hex, sha256);
		return NULL;
	}
	/* the mapping (fields.h) is kept as the dataset's source, as a spec's is */
	json_t *source = json_pack("{ss}", "file", file ? file : "(upload)");
	static const char *const mapping[] = { "fields", "answer", "csv" };
	for (size_t k = 0; source && k < sizeof mapping / sizeof mapping[0]; k++)
		if (json_object_get(req->header, mapping[k]))
			json_object_set(source, mapping[k], json_object_get(req->header, mapping[k]));
	if (!source) {
		free(joined);
		err_set(err, ERR_NOMEM, "dataset_import: out of memory");
		return NULL;
	}
	int rc = datasets_import(d, 0, name, text, len, file ? file : name, source, &count, err);
	json_decref(source);
	free(joined);
	if (rc < 0)
		return NULL;
	log_info("imported dataset '%s': %lld record(s) from '%s'", name, (long long)count,
		file ? file : "(upload)");
	return json_pack("{ss sI}", "name", name, "count", (json_int_t)count);
}

json_t *control_op_dataset_show(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *name = NULL;
	int64_t pipeline, offset, limit, id, count;
	if (control_get_str(req, "dataset_show", "name", &name, err) < 0 ||
		control_get_int(req, "dataset_show", "id", 0, 0, INT64_MAX, &pipeline, err) < 0 ||
		control_get_int(req, "dataset_show", "offset", 0, 0, INT64_MAX, &offset, err) < 0 ||
		control_get_int(req, "dataset_show", "limit", 10, 1, 10000, &limit, err) < 0)
		return NULL;
	if (!name) {
		err_set(err, ERR_INVALID, "dataset_show: 'name' is required");
		return NULL;
	}
	int rc = store_dataset_find(d->store, pipeline, name, &id, &count, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_NOTFOUND, "no dataset '%s'%s", name, pipeline ?
				" in that pipeline or shared" : " (shared; pass the pipeline id for its own)");
		return NULL;
	}
	json_t *records = json_array();
	for (int64_t i = offset; i < count && i < offset + limit; i++) {
		struct store_record r;
		if (store_record_get(d->store, id, i, &r, err) != 1) {
			json_decref(records);
			return NULL;
		}
		json_error_t jerr;
		json_t *meta = r.meta ? json_loads(r.meta, JSON_DECODE_ANY, &jerr) : NULL;
		json_t *o = json_pack("{sI}", "idx", (json_int_t)i);
		if (r.prompt)
			json_object_set_new(o, "prompt", json_string(r.prompt));
		if (r.answer)
			json_object_set_new(o, "answer", json_string(r.answer));
		if (r.response)
			json_object_set_new(o, "response", json_string(r.response));
		if (r.text)
			json_object_set_new(o, "text", json_string(r.text));
		if (meta)
			json_object_set_new(o, "meta", meta);
		if (r.messages)
			json_object_set_new(o, "messages", json_loads(r.messages, 0, &jerr));
		if (r.record)
			json_object_set_new(o, "record", json_loads(r.record, 0, &jerr));
		json_array_append_new(records, o);
		store_record_release(&r);
	}
	return json_pack("{ss sI so}", "name", name, "count", (json_int_t)count, "records", records);
}

/* Append record `r` to buf as one JSONL line with the fields dataset import reads. */
static int export_line(const struct store_record *r, char **buf, size_t *len, size_t *cap)
{
	json_error_t jerr;
	json_t *o = json_object();
	if (!o)
		return -1;
	if (r->messages) /* a chat goes back as its messages, not the flattened form */
		json_object_set_new(o, "messages", json_loads(r->messages, 0, &jerr));
	if (r->prompt && !r->messages)
		json_object_set_new(o, "prompt", json_string(r->prompt));
	if (r->answer)
		json_object_set_new(o, "answer", json_string(r->answer));
	if (r->response && !r->messages)
		json_object_set_new(o, "response", json_string(r->response));
	if (r->text)
		json_object_set_new(o, "text", json_string(r->text));
	if (r->meta)
		json_object_set_new(o, "meta", json_loads(r->meta, JSON_DECODE_ANY, &jerr));
	/* the record's other keys (an id, test cases) go along: import keeps them again */
	json_t *rec = r->record ? json_loads(r->record, 0, &jerr) : NULL, *v;
	const char *key;
	json_object_foreach(rec, key, v) {
		static const char *const std[] = { "prompt", "answer", "response", "text",
			"messages", "meta" };
		size_t k = 0;
		while (k < sizeof std / sizeof std[0] && strcmp(std[k], key))
			k++;
		if (k == sizeof std / sizeof std[0])
			json_object_set(o, key, v);
	}
	json_decref(rec);
	char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(o);
	if (!line)
		return -1;
	size_t n = strlen(line);
	if (*len + n + 1 > *cap) {
		size_t ncap = (*len + n + 1) * 2;
		char *nb = realloc(*buf, ncap);
		if (!nb) {
			free(line);
			return -1;
		}
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, line, n);
	(*buf)[*len + n] = '\n';
	*len += n + 1;
	free(line);
	return 0;
}

/*
 * A page of a dataset as JSONL: the records from index `after` on, as many as fit
 * in `max_bytes` (at least one, however long), in a blob frame, so that a dataset
 * of any size leaves in pages bounded by bytes rather than by records.
 */
json_t *control_op_dataset_export(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *op = "dataset_export", *name = NULL;
	int64_t pipeline, after, max_bytes, id, count;
	if (control_get_str(req, op, "name", &name, err) < 0 ||
		control_get_int(req, op, "id", 0, 0, INT64_MAX, &pipeline, err) < 0 ||
		control_get_int(req, op, "after", 0, 0, INT64_MAX, &after, err) < 0 ||
		control_get_int(req, op, "max_bytes", CONTROL_EXPORT_PAGE, 1, CONTROL_EXPORT_PAGE_MAX,
			&max_bytes, err) < 0)
		return NULL;
	if (!name) {
		err_set(err, ERR_INVALID, "%s: 'name' is required", op);
		return NULL;
	}
	int rc = store_dataset_find(d->store, pipeline, name, &id, &count, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_NOTFOUND, "no dataset '%s'%s", name, pipeline ?
				" in that pipeline or shared" : " (shared; pass the pipeline id for its own)");
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int64_t next = after;
	while (next < count) {
		struct store_record r;
		size_t before = len;
		if (store_record_get(d->store, id, next, &r, err) != 1) {
			if (!err->msg[0])
				err_set(err, ERR_FORMAT, "dataset '%s' lacks record %lld", name,
					(long long)next);
			free(buf);
			return NULL;
		}
		rc = export_line(&r, &buf, &len, &cap);
		store_record_release(&r);
		if (rc < 0) {
			err_set(err, ERR_NOMEM, "%s: out of memory at record %lld", op, (long long)next);
			free(buf);
			return NULL;
		}
		if (len > (size_t)max_bytes && next > after) {
			len = before;  /* it goes first in the next page */
			break;
		}
		next++;
	}
	json_t *out = json_pack("{ss sI sI sI}", "name", name, "count", (json_int_t)count, "next",
		(json_int_t)next, "records", (json_int_t)(next - after < 0 ? 0 : next - after));
	if (!out) {
		free(buf);
		err_set(err, ERR_NOMEM, "%s: out of memory", op);
		return NULL;
	}
	control_reply_blob(buf ? buf : malloc(1), len);
	return out;
}

/*
 * Each sample's prompt and reference answer, from its record in its dataset (samples
 * written before the dataset was recorded have neither); an eval's samples have no
 * advantage, and the reply says whether its step is the greedy or the sampled one.
 */
static int samples_records(struct daemon *d, const struct store_stage *s, json_t *reply,
	struct err *err)
{
	json_t *list = json_object_get(reply, "samples"), *x;
	const char *cached = NULL;
	int64_t ds = 0, count;
	size_t i;
	int eval = !strcmp(s->kind, NAME_STAGE_EVAL);
	if (eval && json_array_size(list))
		json_object_set_new(reply, "sampling", json_string(json_integer_value(
			json_object_get(reply, "step")) ? "sampled" : "greedy"));
	json_array_foreach(list, i, x) {
		const char *name = json_string_value(json_object_get(x, "dataset"));
		struct store_record r;
		if (eval)
			json_object_del(x, "advantage");
		if (!name)
			continue;
		if (!cached || strcmp(cached, name)) {
			int rc = store_dataset_find(d->store, s->pipeline, name, &ds, &count, err);
			if (rc < 0)
				return -1;
			cached = name;
			if (rc == 0)
				ds = 0;
		}
		if (ds == 0)
			continue;
		int rc = store_record_get(d->store, ds, json_integer_value(json_object_get(x,
			"record")), &r, err);
		if (rc < 0)
			return -1;
		if (rc == 1 && r.prompt)
			json_object_set_new(x, "prompt", json_string(r.prompt));
		if (rc == 1 && r.answer)
			json_object_set_new(x, "answer", json_string(r.answer));
		if (rc == 1)
			store_record_release(&r);
	}
	return 0;
}

json_t *control_op_samples(struct daemon *d, const struct msg *req, struct err *err)
{
	struct store_stage *st = NULL;
	size_t n = 0;
	int64_t id, step, limit, offset;
	json_t *list = NULL, *out = NULL;
	if (control_get_int(req, "samples", "step", -1, -1, INT64_MAX, &step, err) < 0 ||
		control_get_int(req, "samples", "limit", 1000, 1, 100000, &limit, err) < 0 ||
		control_get_int(req, "samples", "offset", 0, 0, INT64_MAX, &offset, err) < 0 ||
		stages_of(d, req, "samples", &st, &n, &id, err) < 0)
		return NULL;
	const struct store_stage *s = named(req, "samples", st, n, id, err);
	if (s && store_sample_list(d->store, s->id, step, offset, limit, &list, err) == 0)
		out = json_pack("{ss sI so}", "stage", s->name, "step", (json_int_t)(json_array_size(
			list) ? json_integer_value(json_object_get(json_array_get(list, 0), "step")) :
			step), "samples", list);
	if (out && samples_records(d, s, out, err) < 0) {
		json_decref(out);
		out = NULL;
	}
	store_stages_free(st, n);
	return out;
}
