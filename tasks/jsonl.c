#include "jsonl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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

int jsonl_parse(const char *s, size_t n, const char *label, long line, struct jsonl_record *out,
	struct err *err)
{
	static const char *const keys[] = { "prompt", "answer", "response", "text", "messages",
		"meta" };
	json_error_t jerr;
	json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	struct { char *prompt, *answer, *response, *text; } r = { 0 };
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
	if (json_object_get(o, "meta") && !(meta = json_dumps(json_object_get(o, "meta"),
		JSON_COMPACT | JSON_ENCODE_ANY))) {
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
		goto out;
	}
	*out = (struct jsonl_record){ 0 };
	out->prompt = chat_prompt ? chat_prompt : dup(r.prompt);
	out->response = chat_response ? chat_response : dup(r.response);
	out->answer = dup(r.answer);
	out->text = dup(r.text);
	out->meta = meta;
	chat_prompt = chat_response = meta = NULL;
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
	free(meta);
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
