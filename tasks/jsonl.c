#include "jsonl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "fields.h"

/* A copy of s (NULL stays NULL). */
static char *dup(const char *s)
{
	return s ? strdup(s) : NULL;
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

/* Check a chat (chat.h) and flatten it: *prompt the user and system turns joined by
 * newlines, *response the last assistant turn, *compact the messages as compact JSON
 * (all malloc'd). */
static int chat(json_t *messages, char **prompt, char **response, char **compact,
	const char *label, long line, struct err *err)
{
	struct chat c;
	size_t plen = 0;
	char *p = NULL;
	const struct chat_msg *last = NULL;
	int rc = -1;
	if (chat_parse(messages, 1, &c, err) < 0) {
		err_wrap(err, "%s:%ld", label, line);
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct chat_msg *m = &c.msg[i];
		if (m->role == CHAT_ASSISTANT) {
			last = m;
			continue;
		}
		char *q = realloc(p, plen + m->len + 2);
		if (!q)
			goto nomem;
		p = q;
		if (plen)
			p[plen++] = '\n';
		memcpy(p + plen, m->content, m->len);
		plen += m->len;
		p[plen] = 0;
	}
	if (!p) {
		err_set(err, ERR_FORMAT, "%s:%ld: 'messages' needs a user or system turn", label,
			line);
		goto out;
	}
	if (!(*response = strndup(last->content, last->len)) ||
		!(*compact = json_dumps(messages, JSON_COMPACT))) {
		free(*response);
		*response = NULL;
		goto nomem;
	}
	*prompt = p;
	p = NULL;
	rc = 0;
	goto out;
nomem:
	err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
out:
	free(p);
	chat_release(&c);
	return rc;
}

int jsonl_record_from(json_t *src, const struct fields *f, const char *label, long line,
	struct jsonl_record *out, struct err *err)
{
	struct { char *prompt, *answer, *response, *text; } r = { 0 };
	char *chat_prompt = NULL, *chat_response = NULL, *chat_messages = NULL, *meta = NULL;
	char *record = NULL;
	json_t *o = NULL, *rec = NULL;
	int rc = -1;
	if (!json_is_object(src)) {
		err_set(err, ERR_FORMAT, "%s:%ld: expected a JSON object", label, line);
		goto out;
	}
	if (fields_apply(f, src, label, line, &o, &rec, err) < 0)
		goto out;
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
		if (chat(json_object_get(o, "messages"), &chat_prompt, &chat_response, &chat_messages,
			label, line, err) < 0)
			goto out;
		r.prompt = chat_prompt;
		r.response = chat_response;
	}
	if (!r.text && !(r.prompt && (r.answer || r.response))) {
		err_set(err, ERR_FORMAT, "%s:%ld: a record needs prompt and answer, prompt and "
			"response, messages, or text%s", label, line, f && f->mapped ? "" :
			" (map other keys with fields: {prompt: KEY, ...})");
		goto out;
	}
	if (json_object_get(o, "meta") && !(meta = json_dumps(json_object_get(o, "meta"),
		JSON_COMPACT | JSON_ENCODE_ANY))) {
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
		goto out;
	}
	if (rec && !(record = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(17)))) {
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
		goto out;
	}
	*out = (struct jsonl_record){ 0 };
	out->prompt = chat_prompt ? chat_prompt : dup(r.prompt);
	out->response = chat_response ? chat_response : dup(r.response);
	out->answer = dup(r.answer);
	out->text = dup(r.text);
	out->meta = meta;
	out->messages = chat_messages;
	out->record = record;
	chat_prompt = chat_response = chat_messages = meta = record = NULL;
	if ((r.prompt && !out->prompt) || (r.response && !out->response) ||
		(r.answer && !out->answer) || (r.text && !out->text)) {
		jsonl_record_release(out);
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
		goto out;
	}
	rc = 0;
out:
	free(chat_prompt);
	free(chat_response);
	free(chat_messages);
	free(meta);
	free(record);
	json_decref(o);
	json_decref(rec);
	return rc;
}

int jsonl_parse(const char *s, size_t n, const char *label, long line,
	const struct fields *f, struct jsonl_record *out, struct err *err)
{
	json_error_t jerr;
	json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return err_set(err, ERR_FORMAT, "%s:%ld: not JSON: %s (column %d)", label, line,
			jerr.text, jerr.column);
	int rc = jsonl_record_from(o, f, label, line, out, err);
	json_decref(o);
	return rc;
}

void jsonl_record_release(struct jsonl_record *r)
{
	free(r->prompt);
	free(r->answer);
	free(r->response);
	free(r->text);
	free(r->meta);
	free(r->messages);
	free(r->record);
	memset(r, 0, sizeof *r);
}

int jsonl_next(const char *text, size_t len, size_t *at, long *line, const char **line_start,
	size_t *line_len)
{
	/* a UTF-8 byte-order mark (editors on Windows write one) is not part of line 1 */
	if (*at == 0 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		*at = 3;
	while (*at < len) {
		const char *nl = memchr(text + *at, '\n', len - *at);
		size_t end = nl ? (size_t)(nl - text) : len, start = *at, k = start;
		(*line)++;
		*at = end + 1;
		while (k < end && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r'))
			k++;
		if (k < end) {
			*line_start = text + start;
			*line_len = end - start;
			return 1;
		}
	}
	return 0;
}
