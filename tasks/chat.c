#include "chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char *const role_names[CHAT_NROLES] = { "system", "user", "assistant" };

/* The named formats' fixed texts, per role where they depend on it. */
static const char *const chatml_head[CHAT_NROLES] = {
	"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n" };
static const char *const llama3_head[CHAT_NROLES] = {
	"<|start_header_id|>system<|end_header_id|>\n\n",
	"<|start_header_id|>user<|end_header_id|>\n\n",
	"<|start_header_id|>assistant<|end_header_id|>\n\n" };
/* U+FF5C FULLWIDTH VERTICAL LINE around the names, U+2581 LOWER ONE EIGHTH BLOCK
 * between words, as DeepSeek-V3's tokenizer spells its special tokens. */
#define DS_USER "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"
#define DS_ASSISTANT "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>"
#define DS_EOS "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"

#define CONTENT "{content}"

const char *chat_role_name(enum chat_role r)
{
	return r >= 0 && r < CHAT_NROLES ? role_names[r] : "?";
}

int chat_parse(const json_t *messages, int need_assistant, struct chat *c, struct err *err)
{
	size_t i, assistants = 0;
	json_t *m;
	*c = (struct chat){ 0 };
	if (!json_is_array(messages))
		return err_set(err, ERR_FORMAT, "messages: not an array");
	if (!json_array_size(messages))
		return err_set(err, ERR_FORMAT, "messages: empty");
	c->msg = calloc(json_array_size(messages), sizeof *c->msg);
	if (!c->msg)
		return err_set(err, ERR_NOMEM, "messages: out of memory");
	json_array_foreach(messages, i, m) {
		if (!json_is_object(m))
			return err_set(err, ERR_FORMAT, "messages[%zu]: not an object", i);
		json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
		if (!role)
			return err_set(err, ERR_FORMAT, "messages[%zu]: no 'role'", i);
		if (!json_is_string(role))
			return err_set(err, ERR_FORMAT, "messages[%zu]: 'role' is not a string", i);
		const char *name = json_string_value(role);
		int r = 0;
		while (r < CHAT_NROLES && strcmp(name, role_names[r]))
			r++;
		if (r == CHAT_NROLES)
			return err_set(err, ERR_FORMAT, "messages[%zu]: role '%.40s' is not one of "
				"system, user, assistant", i, name);
		if (json_object_get(m, "tool_calls"))
			return err_set(err, ERR_FORMAT, "messages[%zu]: 'tool_calls' cannot be "
				"rendered: only text turns are", i);
		if (json_object_get(m, "reasoning_content"))
			return err_set(err, ERR_FORMAT, "messages[%zu]: 'reasoning_content' is not "
				"read: put the reasoning in 'content' as <think>...</think>", i);
		if (!content)
			return err_set(err, ERR_FORMAT, "messages[%zu]: no 'content'", i);
		if (!json_is_string(content))
			return err_set(err, ERR_FORMAT, "messages[%zu]: 'content' is not a string", i);
		c->msg[i] = (struct chat_msg){ (enum chat_role)r, json_string_value(content),
			json_string_length(content) };
		c->n = i + 1;
		assistants += r == CHAT_ASSISTANT;
	}
	if (need_assistant && !assistants)
		return err_set(err, ERR_FORMAT, "messages: no assistant turn to train on");
	return 0;
}

void chat_release(struct chat *c)
{
	free(c->msg);
	*c = (struct chat){ 0 };
}

int chat_format_named(const char *name, struct chat_format *f, struct err *err)
{
	static const struct { const char *name; enum chat_style style; } named[] = {
		{ "chatml", CHAT_CHATML }, { "llama3", CHAT_LLAMA3 }, { "deepseek", CHAT_DEEPSEEK } };
	*f = (struct chat_format){ 0 };
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (name && !strcmp(name, named[i].name)) {
			f->style = named[i].style;
			return 0;
		}
	return err_set(err, ERR_INVALID, "unknown chat format '%.40s' (chatml, llama3, deepseek)",
		name ? name : "");
}

int chat_format_roles(const json_t *obj, struct chat_format *f, struct err *err)
{
	const char *key;
	json_t *v;
	*f = (struct chat_format){ .style = CHAT_ROLES, .prefix = "" };
	if (!json_is_object(obj))
		return err_set(err, ERR_INVALID, "chat template: not an object of role templates");
	json_object_foreach((json_t *)obj, key, v) {
		int r = 0;
		while (r < CHAT_NROLES && strcmp(key, role_names[r]))
			r++;
		if (r == CHAT_NROLES && strcmp(key, "prefix"))
			return err_set(err, ERR_INVALID, "chat template: unknown key '%.40s' (system, "
				"user, assistant, prefix)", key);
		if (!json_is_string(v))
			return err_set(err, ERR_INVALID, "chat template: '%s' is not a string", key);
		const char *s = json_string_value(v);
		if (r == CHAT_NROLES) {
			f->prefix = s;
			continue;
		}
		const char *at = strstr(s, CONTENT);
		if (!at || strstr(at + 1, CONTENT))
			return err_set(err, ERR_INVALID, "chat template: '%s' must contain "
				CONTENT " exactly once, it has it %s", key, at ? "more than once" : "nowhere");
		f->role[r] = s;
	}
	for (int r = 0; r < CHAT_NROLES; r++)
		if (!f->role[r])
			return err_set(err, ERR_INVALID, "chat template: no '%s' template", role_names[r]);
	return 0;
}

int chat_format_stage(const json_t *stage, struct chat_format *f, struct err *err)
{
	const char *name = json_string_value(json_object_get(stage, "chat_format"));
	const json_t *roles = json_object_get(stage, "chat_template");
	if (name)
		return chat_format_named(name, f, err) < 0 ? -1 : 1;
	if (roles)
		return chat_format_roles(roles, f, err) < 0 ? -1 : 1;
	return 0;
}

size_t chat_max_segs(const struct chat *c)
{
	return 4 * c->n + 2; /* at most 4 a message (chatml), the prefix, the generation header */
}

/* Segments being written: the first cap kept, all counted. */
struct out {
	struct chat_seg *seg;
	size_t cap, n;
};

static void emit(struct out *o, const char *text, size_t len, int loss)
{
	if (!len)
		return;
	if (o->n < o->cap)
		o->seg[o->n] = (struct chat_seg){ text, len, loss };
	o->n++;
}

static void emit_str(struct out *o, const char *s, int loss)
{
	emit(o, s, strlen(s), loss);
}

/* Python's str.isspace(), which Jinja2's `trim` (str.strip) removes: the code points of
 * bidirectional class WS, B or S and of category Zs. */
static int py_space(int32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
		c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
		c == 0x202F || c == 0x205F || c == 0x3000;
}

/* s[0..*len) less leading and trailing white space (the code points above). */
static const char *trim(const char *s, size_t *len)
{
	size_t a = 0, b = *len, l;
	while (a < b) {
		int32_t c = utf8_decode(s + a, b - a, &l);
		if (c < 0 || !py_space(c))
			break;
		a += l;
	}
	while (b > a) {
		/* the start of the last character: back over continuation bytes */
		size_t k = b - 1;
		while (k > a && b - k < 4 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		int32_t c = utf8_decode(s + k, b - k, &l);
		if (c < 0 || k + l != b || !py_space(c))
			break;
		b = k;
	}
	*len = b - a;
	return s + a;
}

/* The role template's text before and after {content}. */
static void tpl_split(const char *tpl, const char **after, size_t *before_len)
{
	const char *at = strstr(tpl, CONTENT);
	*before_len = (size_t)(at - tpl);
	*after = at + strlen(CONTENT);
}

/* The assistant header: what the model continues from when it answers. */
static void emit_gen_header(struct out *o, const struct chat_format *f)
{
	size_t before;
	const char *after;
	switch (f->style) {
	case CHAT_CHATML:
		emit_str(o, chatml_head[CHAT_ASSISTANT], 0);
		break;
	case CHAT_LLAMA3:
		emit_str(o, llama3_head[CHAT_ASSISTANT], 0);
		break;
	case CHAT_DEEPSEEK:
		emit_str(o, DS_ASSISTANT, 0);
		break;
	case CHAT_ROLES:
		tpl_split(f->role[CHAT_ASSISTANT], &after, &before);
		emit(o, f->role[CHAT_ASSISTANT], before, 0);
		break;
	}
}

/* Messages [0, n) of c; `train`: the assistant turns are trained. */
static void emit_messages(struct out *o, const struct chat_format *f, const struct chat *c,
	size_t n, int train)
{
	if (f->style == CHAT_ROLES)
		emit_str(o, f->prefix, 0);
	if (f->style == CHAT_DEEPSEEK) { /* the system prompt first, wherever it stands */
		int first = 1;
		for (size_t i = 0; i < n; i++)
			if (c->msg[i].role == CHAT_SYSTEM) {
				if (!first)
					emit_str(o, "\n\n", 0);
				emit(o, c->msg[i].content, c->msg[i].len, 0);
				first = 0;
			}
	}
	for (size_t i = 0; i < n; i++) {
		const struct chat_msg *m = &c->msg[i];
		int loss = train && m->role == CHAT_ASSISTANT;
		const char *text = m->content;
		size_t len = m->len, before;
		const char *after;
		switch (f->style) {
		case CHAT_CHATML:
			emit_str(o, chatml_head[m->role], 0);
			emit(o, text, len, loss);
			emit_str(o, "<|im_end|>", loss);
			emit_str(o, "\n", 0);
			break;
		case CHAT_LLAMA3:
			text = trim(text, &len);
			emit_str(o, llama3_head[m->role], 0);
			emit(o, text, len, loss);
			emit_str(o, "<|eot_id|>", loss);
			break;
		case CHAT_DEEPSEEK:
			if (m->role == CHAT_USER) {
				emit_str(o, DS_USER, 0);
				emit(o, text, len, 0);
			} else if (m->role == CHAT_ASSISTANT) {
				emit_str(o, DS_ASSISTANT, 0);
				emit(o, text, len, loss);
				emit_str(o, DS_EOS, loss);
			}
			break;
		case CHAT_ROLES:
			tpl_split(f->role[m->role], &after, &before);
			emit(o, f->role[m->role], before, 0);
			emit(o, text, len, loss);
			emit_str(o, after, loss);
			break;
		}
	}
}

size_t chat_render(const struct chat_format *f, const struct chat *c, struct chat_seg *seg,
	size_t cap)
{
	struct out o = { seg, cap, 0 };
	emit_messages(&o, f, c, c->n, 1);
	return o.n;
}

size_t chat_render_prompt(const struct chat_format *f, const struct chat *c,
	struct chat_seg *seg, size_t cap)
{
	struct out o = { seg, cap, 0 };
	size_t n = c->n;
	if (n && c->msg[n - 1].role == CHAT_ASSISTANT)
		n--;
	emit_messages(&o, f, c, n, 0);
	emit_gen_header(&o, f);
	return o.n;
}

char *chat_join(const struct chat_seg *seg, size_t n, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += seg[i].len;
	char *s = malloc(total + 1);
	if (!s)
		return NULL;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(s + at, seg[i].text, seg[i].len);
		at += seg[i].len;
	}
	s[at] = 0;
	if (len)
		*len = at;
	return s;
}
