#include "fields.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

const char *const fields_target_names[FIELD_N] = { "prompt", "answer", "response", "text",
	"messages", "meta", "id" };

/* The targets that hold text (a number there is spelled as text). */
static bool is_text(enum field_target t)
{
	return t == FIELD_PROMPT || t == FIELD_ANSWER || t == FIELD_RESPONSE || t == FIELD_TEXT ||
		t == FIELD_ID;
}

const char *fields_key(const struct fields *f, enum field_target t)
{
	return f && f->key[t] ? f->key[t] : fields_target_names[t];
}

static int nomem(struct err *err, const char *where)
{
	return err_set(err, ERR_NOMEM, "%s: out of memory", where);
}

/* A string rule value: a non-empty string, or absent (NULL). */
static int rule_str(const json_t *rule, const char *key, const char *where, char **out,
	struct err *err)
{
	json_t *v = json_object_get(rule, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !json_string_length(v))
		return err_set(err, ERR_INVALID, "%s: answer.%s must be a non-empty string", where,
			key);
	if (!(*out = strdup(json_string_value(v))))
		return nomem(err, where);
	return 0;
}

static int parse_answer(const json_t *rule, const char *where, struct fields *f,
	struct err *err)
{
	const char *key;
	json_t *v;
	char *field = NULL;
	if (!json_is_object(rule))
		return err_set(err, ERR_INVALID, "%s: answer must be a mapping {field, after} or "
			"{field, regex}", where);
	json_object_foreach((json_t *)rule, key, v)
		if (strcmp(key, "field") && strcmp(key, "after") && strcmp(key, "regex"))
			return err_set(err, ERR_INVALID, "%s: answer: unknown key '%.40s' (field, after, "
				"regex)", where, key);
	if (rule_str(rule, "field", where, &field, err) < 0 ||
		rule_str(rule, "after", where, &f->after, err) < 0 ||
		rule_str(rule, "regex", where, &f->regex, err) < 0) {
		free(field);
		return -1;
	}
	if (!f->after == !f->regex) {
		free(field);
		return err_set(err, ERR_INVALID, "%s: answer needs one of 'after' (a mark the answer "
			"follows) or 'regex'", where);
	}
	if (field && f->key[FIELD_ANSWER] && strcmp(field, f->key[FIELD_ANSWER])) {
		err_set(err, ERR_INVALID, "%s: answer.field '%s' differs from fields.answer '%s' "
			"(give one)", where, field, f->key[FIELD_ANSWER]);
		free(field);
		return -1;
	}
	f->answer_key = field ? field : strdup(fields_key(f, FIELD_ANSWER));
	if (!f->answer_key)
		return nomem(err, where);
	if (f->regex) {
		int code;
		PCRE2_SIZE off;
		f->re = pcre2_compile((PCRE2_SPTR)f->regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
			&off, NULL);
		if (!f->re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof msg);
			return err_set(err, ERR_INVALID, "%s: answer.regex '%s': %s at offset %zu", where,
				f->regex, (char *)msg, (size_t)off);
		}
		if (!(f->md = pcre2_match_data_create_from_pattern(f->re, NULL)))
			return nomem(err, where);
	}
	return 0;
}

int fields_parse(const json_t *src, const char *where, struct fields *f, struct err *err)
{
	const json_t *map = json_object_get(src, "fields"), *rule = json_object_get(src, "answer");
	const json_t *csv = json_object_get(src, "csv");
	const char *file = json_string_value(json_object_get(src, "file")), *key;
	json_t *v;
	memset(f, 0, sizeof *f);
	if (csv && !json_is_boolean(csv))
		return err_set(err, ERR_INVALID, "%s: csv must be true or false", where);
	size_t flen = file ? strlen(file) : 0;
	f->csv = csv ? json_is_true(csv) : flen >= 4 && !strcasecmp(file + flen - 4, ".csv");
	if (map && !json_is_object(map))
		return err_set(err, ERR_INVALID, "%s: fields must be a mapping of fields (prompt, "
			"answer, response, text, messages, meta, id) to the file's keys", where);
	json_object_foreach((json_t *)map, key, v) {
		int t = 0;
		while (t < FIELD_N && strcmp(fields_target_names[t], key))
			t++;
		if (t == FIELD_N) {
			err_set(err, ERR_INVALID, "%s: fields: unknown field '%.40s' (prompt, answer, "
				"response, text, messages, meta, id)", where, key);
			goto fail;
		}
		if (!json_is_string(v) || !json_string_length(v)) {
			err_set(err, ERR_INVALID, "%s: fields.%s must be a key of the file (a non-empty "
				"string)", where, key);
			goto fail;
		}
		for (int u = 0; u < FIELD_N; u++)
			if (f->key[u] && !strcmp(f->key[u], json_string_value(v))) {
				err_set(err, ERR_INVALID, "%s: fields.%s and fields.%s both read '%s'", where,
					fields_target_names[u], key, json_string_value(v));
				goto fail;
			}
		if (!(f->key[t] = strdup(json_string_value(v)))) {
			nomem(err, where);
			goto fail;
		}
		f->mapped = true;
	}
	if (rule) {
		f->mapped = true;
		if (parse_answer(rule, where, f, err) < 0)
			goto fail;
	}
	return 0;
fail:
	fields_release(f);
	return -1;
}

void fields_release(struct fields *f)
{
	for (int t = 0; t < FIELD_N; t++)
		free(f->key[t]);
	free(f->answer_key);
	free(f->after);
	free(f->regex);
	pcre2_match_data_free(f->md);
	pcre2_code_free(f->re);
	memset(f, 0, sizeof *f);
}

/* A number as text: integers as they are, reals in the fewest digits that read back
 * the same (4.5, not 4.5000000000000000), integral reals without a fraction. */
static json_t *number_text(const json_t *v)
{
	char buf[64];
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		return json_string(buf);
	}
	double d = json_real_value(v);
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, sizeof buf, "%.0f", d);
		return json_string(buf);
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return json_string(buf);
}

/* Value v of key `key` (for target t) as the standard object holds it: text targets
 * a string (an answer's or an id's number spelled: a numeric prompt or response is
 * more likely a wrong column than meant), the rest as they are; NULL and err for a
 * bad type. */
static json_t *target_value(enum field_target t, const char *key, json_t *v,
	const char *label, long line, struct err *err)
{
	if (!is_text(t))
		return json_incref(v);
	if (json_is_string(v))
		return json_incref(v);
	if (json_is_number(v) && (t == FIELD_ANSWER || t == FIELD_ID)) {
		json_t *s = number_text(v);
		if (!s)
			err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
		return s;
	}
	err_set(err, ERR_FORMAT, "%s:%ld: '%s' must be a string%s", label, line, key,
		t == FIELD_ANSWER || t == FIELD_ID ? " or a number" : "");
	return NULL;
}

/* s[0..n) without leading and trailing white space, as a new JSON string. */
static json_t *trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return json_stringn(s, n);
}

/* The start of text for an error message: one line (line ends as \n), at most about
 * 60 bytes, "..." when cut. */
static const char *excerpt(char *buf, size_t cap, const char *text)
{
	size_t n = 0, i = 0;
	assert(cap >= 80);
	for (; text[i] && n < 60; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n' || c == '\r' || c == '\t') {
			buf[n++] = '\\';
			buf[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else {
			buf[n++] = c < 0x20 ? '?' : (char)c;
		}
	}
	while (text[i] && i > 0 && ((unsigned char)text[i] & 0xC0) == 0x80) /* not mid-character */
		n--, i--;
	snprintf(buf + n, cap - n, "%s", text[i] ? "..." : "");
	return buf;
}

/* The answer the rule cuts out of `text` (field key); NULL and err when it finds none. */
static json_t *extract(const struct fields *f, const char *text, const char *label,
	long line, struct err *err)
{
	const char *key = f->answer_key, *s = NULL;
	size_t n = 0, len = strlen(text);
	char ex[96];
	if (f->after) {
		size_t m = strlen(f->after);
		for (const char *p = text; (p = strstr(p, f->after)); p++)
			s = p + m;
		if (!s) {
			err_set(err, ERR_FORMAT, "%s:%ld: no '%s' in '%s' (answer.after): \"%s\"",
				label, line, f->after, key, excerpt(ex, sizeof ex, text));
			return NULL;
		}
		n = len - (size_t)(s - text);
	} else {
		int rc = pcre2_match(f->re, (PCRE2_SPTR)text, len, 0, 0, f->md, NULL);
		if (rc < 0) {
			if (rc == PCRE2_ERROR_NOMATCH)
				err_set(err, ERR_FORMAT, "%s:%ld: answer.regex '%s' does not match '%s': "
					"\"%s\"", label, line, f->regex, key, excerpt(ex, sizeof ex, text));
			else {
				PCRE2_UCHAR msg[256];
				pcre2_get_error_message(rc, msg, sizeof msg);
				err_set(err, ERR_FORMAT, "%s:%ld: answer.regex '%s' on '%s': %s", label, line,
					f->regex, key, (char *)msg);
			}
			return NULL;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(f->md);
		uint32_t groups = 0;
		pcre2_pattern_info(f->re, PCRE2_INFO_CAPTURECOUNT, &groups);
		int g = groups >= 1 && rc >= 2 && ov[2] != PCRE2_UNSET ? 1 : 0;
		s = text + ov[2 * g];
		n = ov[2 * g + 1] - ov[2 * g];
	}
	json_t *out = trimmed(s, n);
	if (out && !json_string_length(out)) {
		json_decref(out);
		err_set(err, ERR_FORMAT, "%s:%ld: the answer cut from '%s' by answer.%s is empty",
			label, line, key, f->after ? "after" : "regex");
		return NULL;
	}
	if (!out)
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
	return out;
}

int fields_apply(const struct fields *f, json_t *o, const char *label, long line,
	json_t **std, json_t **record, struct err *err)
{
	json_t *s = json_object(), *rec = NULL, *v;
	const char *key;
	bool extra = false;
	*std = *record = NULL;
	if (!s)
		goto nomem;
	/* a key that is a target's own name but not what the target reads would be lost
	 * (or shadow the target in the record) */
	for (int t = 0; f && t < FIELD_N; t++)
		if (f->key[t] && json_object_get(o, fields_target_names[t])) {
			bool read = false;
			for (int u = 0; u < FIELD_N; u++)
				read |= f->key[u] && !strcmp(f->key[u], fields_target_names[t]);
			if (!read) {
				err_set(err, ERR_FORMAT, "%s:%ld: key '%s' clashes with fields.%s ('%s'): map "
					"it to another field or rename it", label, line, fields_target_names[t],
					fields_target_names[t], f->key[t]);
				goto fail;
			}
		}
	for (int t = 0; t < FIELD_N; t++) {
		const char *k = fields_key(f, t);
		json_t *got = json_object_get(o, k), *val;
		if (!got || json_is_null(got)) {
			if (f && f->key[t]) {
				err_set(err, ERR_FORMAT, "%s:%ld: no '%s' (fields.%s)%s", label, line, k,
					fields_target_names[t], got ? ": it is null" : "");
				goto fail;
			}
			continue;
		}
		if (!(val = target_value(t, k, got, label, line, err)))
			goto fail;
		if (t == FIELD_ID) { /* the id lives in the record only */
			json_decref(val);
			continue;
		}
		if (json_object_set_new(s, fields_target_names[t], val) < 0)
			goto nomem;
	}
	if (f && f->answer_key) {
		json_t *raw = json_object_get(o, f->answer_key), *text, *ans;
		if (!raw || json_is_null(raw)) {
			err_set(err, ERR_FORMAT, "%s:%ld: no '%s' (answer.field)", label, line,
				f->answer_key);
			goto fail;
		}
		if (!(text = target_value(FIELD_ANSWER, f->answer_key, raw, label, line, err)))
			goto fail;
		ans = extract(f, json_string_value(text), label, line, err);
		json_decref(text);
		if (!ans || json_object_set_new(s, "answer", ans) < 0)
			goto fail;
	}
	/* the record: every key, renamed to its target where mapped */
	json_object_foreach(o, key, v) {
		int t = 0;
		while (t < FIELD_N && strcmp(key, fields_key(f, t)))
			t++;
		extra |= t >= FIELD_ID; /* id and keys of no target */
	}
	if (extra || (f && (f->mapped || f->csv))) {
		if (!(rec = json_object()))
			goto nomem;
		json_object_foreach(o, key, v) {
			const char *name = key;
			for (int t = 0; t < FIELD_N; t++)
				if (f && f->key[t] && !strcmp(f->key[t], key))
					name = fields_target_names[t];
			if (json_object_set(rec, name, v) < 0)
				goto nomem;
		}
	}
	*std = s;
	*record = rec;
	return 0;
nomem:
	err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, line);
fail:
	json_decref(s);
	json_decref(rec);
	return -1;
}
