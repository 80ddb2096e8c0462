#include "datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobs.h"
#include "daemon.h"
#include "file.h"
#include "fit.h"
#include "proto.h"
#include "jsonl.h"
#include "rows.h"
#include "sha256.h"
#include "gen.h"
#include "tokenizers.h"

#define DATASETS_FILE_MAX ((size_t)1 << 30) /* a dataset file larger is refused */

static int generate(struct daemon *d, int64_t dataset, const char *name, const json_t *src,
	int64_t *count, struct err *err)
{
	struct gen g;
	if (gen_parse(src, name, &g, err) < 0)
		return -1;
	struct task_record *r = malloc(sizeof *r);
	if (!r)
		return err_set(err, ERR_NOMEM, "dataset '%s': out of memory", name);
	for (int64_t i = 0; i < g.count; i++) {
		if (gen_record(&g, i, r, err) < 0) {
			free(r);
			return err_wrap(err, "dataset '%s': record %lld", name, (long long)i);
		}
		struct store_record rec = { r->prompt, r->answer, (char *)gen_response(&g, r),
			(char *)gen_text(&g, r), NULL, NULL, NULL };
		if (store_record_add(d->store, dataset, i, &rec, err) < 0) {
			free(r);
			return -1;
		}
	}
	free(r);
	*count = g.count;
	return 0;
}

int datasets_import(struct daemon *d, int64_t pipeline, const char *name,
	const char *text, size_t len, const char *label, const json_t *source,
	int64_t *count, struct err *err)
{
	int64_t id, n = 0;
	char *src = source ? json_dumps(source, JSON_COMPACT) : NULL, where[64];
	int ok = 0, got;
	struct fields f;
	struct rows rows = { 0 };
	struct jsonl_record j;
	long line;
	snprintf(where, sizeof where, "dataset '%s'", name);
	if (fields_parse(source, where, &f, err) < 0) {
		free(src);
		return -1;
	}
	if (store_unit_begin(d->store, err) < 0) {
		free(src);
		fields_release(&f);
		return -1;
	}
	if (store_dataset_add(d->store, pipeline, name, src, d->wall, &id, err) < 0) {
		if (err->code == ERR_INVALID)
			err_set(err, ERR_INVALID, "dataset '%s' exists already", name);
		goto out;
	}
	if (rows_open(&rows, text, len, label, &f, err) < 0)
		goto out;
	while ((got = rows_next(&rows, &j, &line, err)) == 1) {
		struct store_record r = { j.prompt, j.answer, j.response, j.text, j.meta, j.messages,
			j.record };
		got = store_record_add(d->store, id, n++, &r, err);
		jsonl_record_release(&j);
		if (got < 0)
			break;
	}
	if (got < 0)
		goto out;
	if (n == 0) {
		err_set(err, ERR_FORMAT, "%s: no records", label);
		goto out;
	}
	ok = store_dataset_set_count(d->store, id, n, err) == 0;
out:
	rows_close(&rows);
	fields_release(&f);
	free(src);
	if (store_unit_end(d->store, ok, err) < 0 || !ok)
		return -1;
	*count = n;
	return 0;
}

/* Append the file at path (a part of `size` bytes) to buf at *at. */
static int append_part(const char *path, char *buf, size_t size, size_t *at, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "cannot open '%s'", path);
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + *at + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : 0;
			close(fd);
			return e ? err_sys(err, e, "cannot read '%s'", path) :
				err_set(err, ERR_IO, "cannot read '%s': it shrank while being read", path);
		}
		got += (size_t)n;
	}
	close(fd);
	*at += size;
	return 0;
}

int datasets_join_parts(struct daemon *d, const json_t *parts, const char *sha256,
	char **text, size_t *len, struct err *err)
{
	char path[DATADIR_PATH_MAX];
	size_t n = json_array_size(parts), total = 0, at = 0, i;
	const json_t *p;
	struct stat st;
	*text = NULL;
	if (!json_is_array(parts) || n == 0)
		return err_set(err, ERR_INVALID, "'parts' must be a non-empty list of sha256s");
	/* first the sizes, each part hashed against its name: nothing is allocated for a
	 * file that is not all there */
	json_array_foreach(parts, i, p) {
		const char *sha = json_string_value(p);
		if (!sha || !sha256_hex_valid(sha))
			return err_set(err, ERR_INVALID, "parts[%zu] is not a sha256", i);
		if (blobs_path(d, sha, path, sizeof path, err) < 0)
			return err_wrap(err, "part %zu of %zu", i + 1, n);
		if (stat(path, &st) < 0)
			return err_sys(err, errno, "cannot stat '%s'", path);
		total += (size_t)st.st_size;
		if ((long long)total > PROTO_MAX_IMPORT_SIZE)
			return err_set(err, ERR_INVALID, "the file is over %lld GiB, the most one import "
				"takes: split it and import the parts under different names",
				PROTO_MAX_IMPORT_SIZE >> 30);
	}
	char *buf = malloc(total + 1);
	if (!buf)
		return err_set(err, ERR_NOMEM, "cannot join the %zu parts of the file (%zu bytes): "
			"out of memory", n, total);
	/* then the bytes (the whole's sha256 below checks what a part's second read gave) */
	json_array_foreach(parts, i, p) {
		char rel[80];
		snprintf(rel, sizeof rel, "blobs/%s", json_string_value(p));
		if (datadir_path(&d->dir, rel, path, sizeof path, err) < 0 ||
			stat(path, &st) < 0 || (size_t)st.st_size > total - at ||
			append_part(path, buf, (size_t)st.st_size, &at, err) < 0) {
			if (!err->code)
				err_set(err, ERR_IO, "part %zu of %zu changed while being read", i + 1, n);
			free(buf);
			return -1;
		}
	}
	char hex[SHA256_HEX_SIZE];
	if (sha256 && (sha256_buffer(buf, at, hex), strcmp(hex, sha256) != 0)) {
		free(buf);
		return err_set(err, ERR_FORMAT, "the %zu parts (%zu bytes) hash to %s, not to the "
			"file's sha256 %s", n, at, hex, sha256);
	}
	buf[at] = '\0';
	*text = buf;
	*len = at;
	return 0;
}

static int import_file(struct daemon *d, int64_t pipeline, const char *name, const json_t *src,
	int64_t *count, struct err *err)
{
	const char *path = json_string_value(json_object_get(src, "file"));
	char *buf;
	size_t size;
	if (file_read(path, DATASETS_FILE_MAX, &buf, &size, err) < 0)
		return err_wrap(err, "dataset '%s'", name);
	int rc = datasets_import(d, pipeline, name, buf, size, path, src, count, err);
	free(buf);
	return rc;
}

/* A copy of the shared dataset the spec names, as the pipeline's own `name`: the
 * pipeline keeps its records whatever becomes of the shared one later. */
static int copy_shared(struct daemon *d, int64_t pipeline, const char *name, const json_t *src,
	struct err *err)
{
	const char *shared = json_string_value(json_object_get(src, "shared"));
	int64_t from, to, count = 0;
	int rc = store_dataset_find(d->store, 0, shared, &from, &count, err);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, ERR_NOTFOUND, "dataset '%s': no shared dataset "
			"'%s' (import one with 'r1flow dataset import FILE --name %s'; 'r1flow "
			"datasets' lists them)", name, shared, shared);
	char *text = json_dumps(src, JSON_COMPACT);
	rc = text ? store_dataset_add(d->store, pipeline, name, text, d->wall, &to, err) :
		err_set(err, ERR_NOMEM, "out of memory");
	free(text);
	for (int64_t i = 0; rc == 0 && i < count; i++) {
		struct store_record r;
		int got = store_record_get(d->store, from, i, &r, err);
		if (got == 0)
			err_set(err, ERR_FORMAT, "shared dataset '%s' lacks record %lld of %lld", shared,
				(long long)i, (long long)count);
		rc = got == 1 ? store_record_add(d->store, to, i, &r, err) : -1;
		store_record_release(&r);
	}
	return rc < 0 ? -1 : store_dataset_set_count(d->store, to, count, err);
}

int datasets_materialize(struct daemon *d, int64_t pipeline, const json_t *spec,
	struct err *err)
{
	const char *name;
	json_t *src;
	json_object_foreach(json_object_get(spec, "datasets"), name, src) {
		int64_t id, count = 0;
		if (json_object_get(src, "file")) {
			if (import_file(d, pipeline, name, src, &count, err) < 0)
				return -1;
			continue;
		}
		if (json_object_get(src, "shared")) {
			if (copy_shared(d, pipeline, name, src, err) < 0)
				return -1;
			continue;
		}
		char *text = json_dumps(src, JSON_COMPACT);
		int rc = text ? store_dataset_add(d->store, pipeline, name, text, d->wall, &id, err) :
			err_set(err, ERR_NOMEM, "out of memory");
		free(text);
		if (rc < 0 || generate(d, id, name, src, &count, err) < 0 ||
			store_dataset_set_count(d->store, id, count, err) < 0)
			return -1;
	}
	return 0;
}

/* fit.h's source over the datasets just made: the pipeline's own, then shared ones. */
struct fit_store {
	struct daemon *d;
	int64_t pipeline;
	const json_t *spec;
	const char *name;        /* the dataset fit_store_count found last ... */
	int64_t id;              /* ... and its id: fit_check reads a count, then its records */
	struct store_record r;   /* the record last read (owned) */
};

static int fit_store_count(void *ctx, const char *name, int64_t *n, struct err *err)
{
	struct fit_store *f = ctx;
	int rc = store_dataset_find(f->d->store, f->pipeline, name, &f->id, n, err);
	f->name = rc == 1 ? name : NULL;
	return rc;
}

static int fit_store_get(void *ctx, const char *name, int64_t i, struct fit_record *r,
	struct err *err)
{
	struct fit_store *f = ctx;
	int64_t n;
	const char *file = json_string_value(json_object_get(json_object_get(
		json_object_get(f->spec, "datasets"), name), "file"));
	store_record_release(&f->r);
	if ((!f->name || strcmp(f->name, name) != 0) && fit_store_count(f, name, &n, err) != 1)
		return err->code ? -1 : err_set(err, ERR_NOTFOUND, "no dataset '%s'", name);
	if (store_record_get(f->d->store, f->id, i, &f->r, err) != 1)
		return err->code ? -1 : err_set(err, ERR_NOTFOUND, "dataset '%s' has no record %lld",
			name, (long long)i);
	r->prompt = f->r.prompt;
	r->response = f->r.response;
	r->text = f->r.text;
	r->messages = f->r.messages;
	snprintf(r->where, sizeof r->where, "%s", file ? file : "");
	return 0;
}

int datasets_fit(struct daemon *d, int64_t pipeline, const json_t *spec, struct err *err)
{
	struct model_config cfg;
	int known = fit_model_config(spec, &cfg, err);
	if (known <= 0)
		return known;
	/* the pinned files (tokenizers.h), loaded once for the stages too */
	struct tokenizer *tok = tokenizers_get(d, spec, &cfg, err);
	if (!tok)
		return -1;
	struct fit_store f = { d, pipeline, spec, NULL, 0, { 0 } };
	const struct fit_source src = { &f, fit_store_count, fit_store_get };
	int rc = fit_check(spec, cfg.max_seq, tok, &src, err);
	store_record_release(&f.r);
	return rc;
}
