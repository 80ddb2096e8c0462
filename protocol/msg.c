#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msg_init(struct msg *m, enum proto_cmd cmd)
{
	memset(m, 0, sizeof *m);
	m->cmd = cmd;
}

void msg_release(struct msg *m)
{
	if (m->header)
		json_decref(m->header);
	if (m->blob_free)
		for (size_t i = 0; i < m->nblobs; i++)
			m->blob_free((void *)m->blobs[i].data, m->blob_hint);
	memset(m, 0, sizeof *m);
}

int msg_add_blob(struct msg *m, const void *data, size_t size, struct err *err)
{
	if (m->nblobs >= PROTO_MAX_BLOBS)
		return err_set(err, ERR_INVALID, "cannot add blob to %s: more than %d blobs",
			proto_cmd_name(m->cmd), PROTO_MAX_BLOBS);
	m->blobs[m->nblobs].data = data;
	m->blobs[m->nblobs].size = size;
	m->nblobs++;
	return 0;
}

const char *msg_fault_name(enum msg_fault fault)
{
	static const char *const names[MSG_FAULT_COUNT] = {
		[MSG_OK] = "ok", [MSG_FAULT_PROTOCOL] = "protocol", [MSG_FAULT_VERSION] = "version",
		[MSG_FAULT_FRAMES] = "frames", [MSG_FAULT_COMMAND] = "command",
		[MSG_FAULT_SIZE] = "size", [MSG_FAULT_DEPTH] = "depth", [MSG_FAULT_JSON] = "json",
		[MSG_FAULT_HEADER] = "header", [MSG_FAULT_FIELD] = "field",
	};
	if ((unsigned)fault < MSG_FAULT_COUNT)
		return names[fault];
	return "unknown";
}

/* Printable rendering of wire bytes for messages: at most 32 characters, anything
 * outside printable ASCII (and the quote itself) shown as '?'. */
static const char *show(char out[40], const void *data, size_t size)
{
	const unsigned char *p = data;
	size_t n = size < 32 ? size : 32, i;
	for (i = 0; i < n; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' ? (char)p[i] : '?';
	if (size > n) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* Whether JSON text nests deeper than `max`, by counting brackets outside strings.
 * Runs before the parser so a hostile header cannot drive its recursion; text that
 * is not JSON is the parser's to reject. */
static int text_too_deep(const char *s, size_t n, int max)
{
	int depth = 0, in_string = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return 1;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

/* Depth of a JSON value: scalars 0, {} and [] 1. Stops descending once the depth
 * is known to exceed `max` (so a cycle or a huge tree costs no more than max levels). */
static int value_depth(const json_t *v, int max)
{
	int deepest = 0;
	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (max <= 0)
		return 1;
	if (json_is_object(v)) {
		const char *key;
		json_t *child;
		json_object_foreach((json_t *)v, key, child) {
			int d = value_depth(child, max - 1);
			if (d > deepest)
				deepest = d;
			if (deepest >= max)
				break;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child) {
			int d = value_depth(child, max - 1);
			if (d > deepest)
				deepest = d;
			if (deepest >= max)
				break;
		}
	}
	return deepest + 1;
}

static int is_uint(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int type_ok(const json_t *v, enum proto_type type)
{
	size_t i;
	json_t *item;
	switch (type) {
	case PROTO_T_UINT:
		return is_uint(v);
	case PROTO_T_STR:
		return json_is_string(v);
	case PROTO_T_BOOL:
		return json_is_boolean(v);
	case PROTO_T_OBJ:
		return json_is_object(v);
	case PROTO_T_STRS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, item)
			if (!json_is_string(item))
				return 0;
		return 1;
	case PROTO_T_UINTS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, item)
			if (!is_uint(item))
				return 0;
		return 1;
	case PROTO_T_HEX64: {
		if (!json_is_string(v) || json_string_length(v) != 64)
			return 0;
		const char *s = json_string_value(v);
		for (i = 0; i < 64; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
				return 0;
		return 1;
	}
	}
	return 0;
}

static const char *type_name(enum proto_type type)
{
	switch (type) {
	case PROTO_T_UINT: return "an unsigned integer";
	case PROTO_T_STR: return "a string";
	case PROTO_T_BOOL: return "a boolean";
	case PROTO_T_OBJ: return "an object";
	case PROTO_T_STRS: return "an array of strings";
	case PROTO_T_UINTS: return "an array of unsigned integers";
	case PROTO_T_HEX64: return "64 lowercase hex digits";
	}
	return "?";
}

/* NULL if every listed field of `header` is well typed and every required one is
 * present; else the offending field, with *missing telling which problem. */
static const struct proto_field *bad_field(const struct proto_cmd_info *info,
	const json_t *header, int *missing)
{
	for (const struct proto_field *f = info->fields; f->name; f++) {
		json_t *v = json_object_get(header, f->name);
		if (!v && f->required) {
			*missing = 1;
			return f;
		}
		if (v && !type_ok(v, f->type)) {
			*missing = 0;
			return f;
		}
	}
	return NULL;
}

static const char *version_of(const struct proto_cmd_info *info)
{
	return info->dirs & ((1u << PROTO_W2D) | (1u << PROTO_D2W)) ? PROTO_WORKER : PROTO_CONTROL;
}

int msg_encode(struct msg_wire *w, const struct msg *m, struct err *err)
{
	memset(w, 0, sizeof *w);
	const struct proto_cmd_info *info = proto_cmd_info(m->cmd);
	if (!info)
		return err_set(err, ERR_INVALID, "cannot encode message: unknown command %d",
			(int)m->cmd);
	const char *cmd = info->name;
	if (m->nblobs < (size_t)info->min_blobs || m->nblobs > (size_t)info->max_blobs)
		return err_set(err, ERR_INVALID, "cannot encode %s: %zu blobs (allowed %d to %d)",
			cmd, m->nblobs, info->min_blobs, info->max_blobs);
	for (size_t i = 0; i < m->nblobs; i++)
		if (m->blobs[i].size > (size_t)PROTO_MAX_FRAME_SIZE)
			return err_set(err, ERR_INVALID, "cannot encode %s: blob %zu is %zu bytes "
				"(limit %lld)", cmd, i, m->blobs[i].size, PROTO_MAX_FRAME_SIZE);
	json_t *empty = NULL;
	const json_t *header = m->header;
	if (!header) {
		header = empty = json_object();
		if (!empty)
			return err_set(err, ERR_NOMEM, "cannot encode %s: out of memory", cmd);
	}
	int rc = -1, missing = 0;
	const struct proto_field *f;
	if (!json_is_object(header)) {
		err_set(err, ERR_INVALID, "cannot encode %s: header is not an object", cmd);
		goto out;
	}
	if ((f = bad_field(info, header, &missing))) {
		err_set(err, ERR_INVALID, "cannot encode %s: field '%s' %s", cmd, f->name,
			missing ? "is missing" : "has the wrong type");
		goto out;
	}
	if (value_depth(header, PROTO_MAX_DEPTH) > PROTO_MAX_DEPTH) {
		err_set(err, ERR_INVALID, "cannot encode %s: header nests deeper than %d", cmd,
			PROTO_MAX_DEPTH);
		goto out;
	}
	w->text = json_dumps(header, JSON_COMPACT);
	if (!w->text) {
		err_set(err, ERR_INVALID, "cannot encode %s: header cannot be serialised", cmd);
		goto out;
	}
	size_t len = strlen(w->text);
	if (len > PROTO_MAX_HEADER_SIZE) {
		err_set(err, ERR_INVALID, "cannot encode %s: header is %zu bytes (limit %d)", cmd,
			len, PROTO_MAX_HEADER_SIZE);
		free(w->text);
		w->text = NULL;
		goto out;
	}
	const char *version = version_of(info);
	w->frames[0] = (struct msg_frame){ version, strlen(version) };
	w->frames[1] = (struct msg_frame){ cmd, strlen(cmd) };
	w->frames[2] = (struct msg_frame){ w->text, len };
	for (size_t i = 0; i < m->nblobs; i++)
		w->frames[3 + i] = m->blobs[i];
	w->nframes = 3 + m->nblobs;
	rc = 0;
out:
	if (empty)
		json_decref(empty);
	return rc;
}

void msg_wire_release(struct msg_wire *w)
{
	free(w->text);
	memset(w, 0, sizeof *w);
}

static int fault(struct msg *m, enum msg_fault why)
{
	m->fault = why;
	return -1;
}

int msg_decode(struct msg *m, const struct msg_frame *frames, size_t n, enum proto_dir dir,
	struct err *err)
{
	char shown[40];
	const char *from = proto_dir_sender(dir), *want = proto_dir_version(dir);
	memset(m, 0, sizeof *m);

	if (n == 0) {
		err_set(err, ERR_FORMAT, "malformed message from %s: no frames", from);
		return fault(m, MSG_FAULT_PROTOCOL);
	}
	const struct msg_frame *v = &frames[0];
	size_t family = strlen(PROTO_FAMILY);
	if (v->size != strlen(want) || memcmp(v->data, want, v->size) != 0) {
		if (v->size >= family && v->size <= 16 && memcmp(v->data, PROTO_FAMILY, family) == 0) {
			err_set(err, ERR_INVALID, "unsupported protocol version '%s' (expected '%s')",
				show(shown, v->data, v->size), want);
			return fault(m, MSG_FAULT_VERSION);
		}
		err_set(err, ERR_FORMAT, "malformed message from %s: first frame '%s' is not "
			"an r1flow version", from, show(shown, v->data, v->size));
		return fault(m, MSG_FAULT_PROTOCOL);
	}
	if (n < 3) {
		err_set(err, ERR_FORMAT, "malformed message from %s: %zu frames (need at least 3)",
			from, n);
		return fault(m, MSG_FAULT_FRAMES);
	}
	enum proto_cmd cmd = proto_cmd_parse(frames[1].data, frames[1].size);
	if (cmd == PROTO_NONE) {
		err_set(err, ERR_FORMAT, "malformed message from %s: unknown command '%s'", from,
			show(shown, frames[1].data, frames[1].size));
		return fault(m, MSG_FAULT_COMMAND);
	}
	const char *name = proto_cmd_name(cmd);
	if (!proto_cmd_allowed(cmd, dir)) {
		err_set(err, ERR_FORMAT, "malformed message from %s: command '%s' is not valid "
			"from a %s", from, name, from);
		return fault(m, MSG_FAULT_COMMAND);
	}
	const struct proto_cmd_info *info = proto_cmd_info(cmd);
	if (n > PROTO_MAX_FRAMES || n - 3 < (size_t)info->min_blobs ||
		n - 3 > (size_t)info->max_blobs) {
		err_set(err, ERR_FORMAT, "malformed %s from %s: %zu blob frames (allowed %d to %d)",
			name, from, n - 3, info->min_blobs, info->max_blobs);
		return fault(m, MSG_FAULT_FRAMES);
	}
	for (size_t i = 3; i < n; i++)
		if (frames[i].size > (size_t)PROTO_MAX_FRAME_SIZE) {
			err_set(err, ERR_FORMAT, "malformed %s from %s: blob %zu is %zu bytes "
				"(limit %lld)", name, from, i - 3, frames[i].size, PROTO_MAX_FRAME_SIZE);
			return fault(m, MSG_FAULT_SIZE);
		}
	const struct msg_frame *h = &frames[2];
	if (h->size > PROTO_MAX_HEADER_SIZE) {
		err_set(err, ERR_FORMAT, "malformed %s from %s: header is %zu bytes (limit %d)",
			name, from, h->size, PROTO_MAX_HEADER_SIZE);
		return fault(m, MSG_FAULT_SIZE);
	}
	if (h->size && text_too_deep(h->data, h->size, PROTO_MAX_DEPTH)) {
		err_set(err, ERR_FORMAT, "malformed %s from %s: header nests deeper than %d",
			name, from, PROTO_MAX_DEPTH);
		return fault(m, MSG_FAULT_DEPTH);
	}
	json_error_t jerr;
	json_t *header = json_loadb(h->size ? h->data : "", h->size,
		JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!header) {
		err_set(err, ERR_FORMAT, "malformed %s from %s: header is not JSON: %s at byte %d",
			name, from, jerr.text, jerr.position);
		return fault(m, MSG_FAULT_JSON);
	}
	if (!json_is_object(header)) {
		json_decref(header);
		err_set(err, ERR_FORMAT, "malformed %s from %s: header is not a JSON object", name,
			from);
		return fault(m, MSG_FAULT_HEADER);
	}
	int missing = 0;
	const struct proto_field *f = bad_field(info, header, &missing);
	if (f) {
		json_decref(header);
		if (missing)
			err_set(err, ERR_FORMAT, "malformed %s from %s: field '%s' is missing", name,
				from, f->name);
		else
			err_set(err, ERR_FORMAT, "malformed %s from %s: field '%s' must be %s", name,
				from, f->name, type_name(f->type));
		return fault(m, MSG_FAULT_FIELD);
	}
	m->cmd = cmd;
	m->header = header;
	m->nblobs = n - 3;
	for (size_t i = 3; i < n; i++)
		m->blobs[i - 3] = frames[i];
	return 0;
}

int64_t msg_uint(const struct msg *m, const char *key)
{
	json_t *v = m->header ? json_object_get(m->header, key) : NULL;
	return is_uint(v) ? (int64_t)json_integer_value(v) : -1;
}

const char *msg_str(const struct msg *m, const char *key)
{
	json_t *v = m->header ? json_object_get(m->header, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int msg_bool(const struct msg *m, const char *key, int dflt)
{
	json_t *v = m->header ? json_object_get(m->header, key) : NULL;
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

json_t *msg_obj(const struct msg *m, const char *key)
{
	json_t *v = m->header ? json_object_get(m->header, key) : NULL;
	return json_is_object(v) ? v : NULL;
}
