#include "datasets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "file.h"
#include "tasks.h"

#define DATASETS_FILE_MAX ((size_t)1 << 30) /* a JSONL file larger is refused */

static int generate(struct daemon *d, int64_t dataset, const char *name, const json_t *src,
	int64_t *count, struct err *err)
{
	struct task_params p;
	enum task_kind kind;
	const char *task = json_string_value(json_object_get(src, "generate"));
	const char *style = json_string_value(json_object_get(src, "style"));
	if (task_parse(task, &kind, err) < 0)
		return err_wrap(err, "dataset '%s'", name);
	task_params_default(kind, &p);
	if (kind == TASK_ARITHMETIC) {
		p.digits = (int)json_integer_value(json_object_get(src, "digits"));
		snprintf(p.operators, sizeof p.operators, "%s",
			json_string_value(json_object_get(src, "operators")));
	} else {
		p.numbers = (int)json_integer_value(json_object_get(src, "numbers"));
		p.max_number = (int)json_integer_value(json_object_get(src, "max_number"));
	}
	enum task_style ts = !strcmp(style, "worked") ? TASK_STYLE_WORKED :
		!strcmp(style, "corpus") ? TASK_STYLE_CORPUS : TASK_STYLE_PROBLEM;
	json_t *mix = json_object_get(src, "mix");
	struct task_mix m = {
		json_number_value(json_object_get(mix, "plain")),
		json_number_value(json_object_get(mix, "tagged")),
		json_number_value(json_object_get(mix, "worked")),
	};
	int64_t n = json_integer_value(json_object_get(src, "count"));
	uint64_t seed = (uint64_t)json_integer_value(json_object_get(src, "seed"));
	if (task_params_check(&p, err) < 0)
		return err_wrap(err, "dataset '%s'", name);
	struct task_record *r = malloc(sizeof *r);
	if (!r)
		return err_set(err, ERR_NOMEM, "dataset '%s': out of memory", name);
	for (int64_t i = 0; i < n; i++) {
		if (task_record(&p, seed, (uint64_t)i, ts, mix ? &m : NULL, r, err) < 0) {
			free(r);
			return err_wrap(err, "dataset '%s': record %lld", name, (long long)i);
		}
		struct store_record rec = { r->prompt, r->answer,
			ts == TASK_STYLE_WORKED ? r->response : NULL,
			ts == TASK_STYLE_CORPUS ? r->text : NULL, NULL };
		if (store_record_add(d->store, dataset, i, &rec, err) < 0) {
			free(r);
			return -1;
		}
	}
	free(r);
	*count = n;
	return 0;
}

/* A string field of a JSONL object, or NULL; -1 if present but not a string. */
static int opt_str(json_t *o, const char *key, char **out, const char *label, long line,
	struct err *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return err_set(err, ERR_FORMAT, "%s:%ld: '%s' must be a string", label, line, key);
	*out = (char *)json_string_value(v);
	return 0;
}

/* Turn a chat into prompt (user turns joined by newlines) and response (the last
 * assistant turn). Fills *prompt, *response (malloc'd). */
static int chat(json_t *messages, char **prompt, char **response, const char *label,
	long line, struct err *err)
{
	size_t i, plen = 0;
	json_t *m;
	char *p = NULL;
	const char *last = NULL;
	if (!json_is_array(messages) || !json_array_size(messages))
		return err_set(err, ERR_FORMAT, "%s:%ld: 'messages' must be a non-empty array",
			label, line);
	json_array_foreach(messages, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		const char *content = json_string_value(json_object_get(m, "content"));
		if (!role || !content) {
			free(p);
			return err_set(err, ERR_FORMAT, "%s:%ld: messages[%zu] needs string 'role' "
				"and 'content'", label, line, i);
		}
		if (!strcmp(role, "assistant")) {
			last = content;
		} else if (!strcmp(role, "user") || !strcmp(role, "system")) {
			size_t n = strlen(content);
			char *q = realloc(p, plen + n + 2);
			if (!q) {
				free(p);
				return err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
			}
			p = q;
			if (plen)
				p[plen++] = '\n';
			memcpy(p + plen, content, n + 1);
			plen += n;
		} else {
			free(p);
			return err_set(err, ERR_FORMAT, "%s:%ld: messages[%zu]: unknown role '%.32s' "
				"(user, system or assistant)", label, line, i, role);
		}
	}
	if (!p || !last) {
		free(p);
		return err_set(err, ERR_FORMAT, "%s:%ld: 'messages' needs a user and an assistant "
			"turn", label, line);
	}
	*prompt = p;
	*response = strdup(last);
	return *response ? 0 : err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
}

static int import_line(struct daemon *d, int64_t dataset, int64_t idx, const char *s,
	size_t n, const char *label, long line, struct err *err)
{
	static const char *const keys[] = { "prompt", "answer", "response", "text", "messages",
		"meta" };
	json_error_t jerr;
	json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	struct store_record r = { 0 };
	char *chat_prompt = NULL, *chat_response = NULL, *meta = NULL;
	const char *key;
	json_t *v;
	int rc = -1;
	if (!o) {
		err_set(err, ERR_FORMAT, "%s:%ld: not JSON: %s (column %d)", label, line, jerr.text,
			jerr.column);
		goto out;
	}
	if (!json_is_object(o)) {
		err_set(err, ERR_FORMAT, "%s:%ld: expected a JSON object", label, line);
		goto out;
	}
	json_object_foreach(o, key, v) {
		size_t k = 0;
		while (k < sizeof keys / sizeof keys[0] && strcmp(keys[k], key))
			k++;
		if (k == sizeof keys / sizeof keys[0]) {
			err_set(err, ERR_FORMAT, "%s:%ld: unknown key '%.40s' (prompt, answer, response, "
				"text, messages, meta)", label, line, key);
			goto out;
		}
	}
	if (opt_str(o, "prompt", &r.prompt, label, line, err) < 0 ||
		opt_str(o, "answer", &r.answer, label, line, err) < 0 ||
		opt_str(o, "response", &r.response, label, line, err) < 0 ||
		opt_str(o, "text", &r.text, label, line, err) < 0)
		goto out;
	if (json_object_get(o, "messages")) {
		if (r.prompt || r.response || r.text) {
			err_set(err, ERR_FORMAT, "%s:%ld: 'messages' excludes prompt, response and text",
				label, line);
			goto out;
		}
		if (chat(json_object_get(o, "messages"), &chat_prompt, &chat_response, label, line,
			err) < 0)
			goto out;
		r.prompt = chat_prompt;
		r.response = chat_response;
	}
	if (!r.text && !(r.prompt && (r.answer || r.response))) {
		err_set(err, ERR_FORMAT, "%s:%ld: a record needs prompt and answer, prompt and "
			"response, messages, or text", label, line);
		goto out;
	}
	if (json_object_get(o, "meta") && !(r.meta = meta = json_dumps(json_object_get(o, "meta"),
		JSON_COMPACT | JSON_ENCODE_ANY))) {
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
		goto out;
	}
	rc = store_record_add(d->store, dataset, idx, &r, err);
out:
	free(chat_prompt);
	free(chat_response);
	free(meta);
	json_decref(o);
	return rc;
}

int datasets_import_jsonl(struct daemon *d, int64_t pipeline, const char *name,
	const char *text, size_t len, const char *label, const json_t *source,
	int64_t *count, struct err *err)
{
	int64_t id, n = 0;
	char *src = source ? json_dumps(source, JSON_COMPACT) : NULL;
	int ok = 0;
	if (store_unit_begin(d->store, err) < 0) {
		free(src);
		return -1;
	}
	if (store_dataset_add(d->store, pipeline, name, src, d->wall, &id, err) < 0) {
		if (err->code == ERR_INVALID)
			err_set(err, ERR_INVALID, "dataset '%s' exists already", name);
		goto out;
	}
	long line = 0;
	size_t start = 0;
	/* a UTF-8 byte-order mark (editors on Windows write one) is not part of line 1 */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		start = 3;
	for (size_t at = start; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;
		line++;
		size_t k = at;
		while (k < end && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r'))
			k++;
		if (k < end && import_line(d, id, n++, text + at, end - at, label, line, err) < 0)
			goto out;
		at = end + 1;
	}
	if (n == 0) {
		err_set(err, ERR_FORMAT, "%s: no records", label);
		goto out;
	}
	ok = store_dataset_set_count(d->store, id, n, err) == 0;
out:
	free(src);
	if (store_unit_end(d->store, ok, err) < 0 || !ok)
		return -1;
	*count = n;
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
	int rc = datasets_import_jsonl(d, pipeline, name, buf, size, path, src, count,
		err);
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
