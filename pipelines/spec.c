/*
 * spec — reading a pipeline spec: the file, libyaml's events into the node tree of
 * spec_tree.h (positions, plain-scalar types, aliases as bounded copies, `<<`
 * merges), JSON into the same tree, `--set` overrides, and the public entry points.
 * Validation and normalisation are in spec_check.c.
 *
 * Limits are enforced while parsing, before anything grows: the nesting depth when a
 * collection opens, the node count when a node is made; an alias adds its anchor's
 * whole size in one step, so a billion-laughs file fails at its first big alias
 * without copying anything.
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "spec_tree.h"

/* ---- arena ---- */

struct arena_chunk {
	struct arena_chunk *next;
	max_align_t data[];
};

#define ARENA_CHUNK (64 * 1024)

void *stree_alloc(struct stree *t, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (!t->chunks || t->used + size > t->cap) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
		struct arena_chunk *c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->next = t->chunks;
		t->chunks = c;
		t->used = 0;
		t->cap = cap;
	}
	void *p = (char *)t->chunks->data + t->used;
	t->used += size;
	memset(p, 0, size);
	return p;
}

char *stree_strndup(struct stree *t, const char *s, size_t len)
{
	char *p = stree_alloc(t, len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

void stree_release(struct stree *t)
{
	while (t->chunks) {
		struct arena_chunk *next = t->chunks->next;
		free(t->chunks);
		t->chunks = next;
	}
	memset(t, 0, sizeof *t);
}

/* ---- scalars ---- */

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* [-+]? ( digits [. digits?] | . digits ) ( [eE] [-+]? digits )?, with a dot or an exponent. */
static bool is_float_text(const char *s, size_t n)
{
	size_t i = 0, int_digits = 0, frac_digits = 0;
	bool dot = false, exp = false;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, int_digits++;
	if (i < n && s[i] == '.') {
		dot = true;
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, frac_digits++;
	}
	if (int_digits + frac_digits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		exp = true;
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n && (dot || exp);
}

static bool text_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

void snode_resolve_plain(struct snode *n)
{
	const char *s = n->text;
	size_t len = n->len;
	n->type = SNODE_STR;
	if (len == 0 || text_is(s, len, "~") || text_is(s, len, "null") || text_is(s, len, "Null") ||
	    text_is(s, len, "NULL")) {
		n->type = SNODE_NULL;
	} else if (text_is(s, len, "true") || text_is(s, len, "True") || text_is(s, len, "TRUE")) {
		n->type = SNODE_BOOL;
		n->b = true;
	} else if (text_is(s, len, "false") || text_is(s, len, "False") || text_is(s, len, "FALSE")) {
		n->type = SNODE_BOOL;
		n->b = false;
	} else if (all_digits(s + (s[0] == '-' || s[0] == '+'), len - (s[0] == '-' || s[0] == '+'))) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == ERANGE) { /* too big for an integer: keep it a (float) number */
			n->type = SNODE_FLOAT;
			n->d = strtod(s, NULL);
		} else {
			n->type = SNODE_INT;
			n->i = v;
		}
	} else if (is_float_text(s, len)) {
		n->type = SNODE_FLOAT;
		n->d = strtod(s, NULL);
	}
}

struct snode *snode_get(const struct snode *map, const char *key)
{
	if (!map || map->type != SNODE_MAP)
		return NULL;
	size_t klen = strlen(key);
	struct snode *found = NULL;
	for (size_t k = 0; k < map->n; k++) {
		const struct snode *kn = map->items[2 * k];
		if (kn->type != SNODE_SEQ && kn->type != SNODE_MAP && kn->len == klen &&
		    memcmp(kn->text, key, klen) == 0)
			found = map->items[2 * k + 1];
	}
	return found;
}

/* ---- YAML events → tree ---- */

struct frame {
	struct snode *node;     /* the open collection */
	char *anchor;           /* its anchor (malloc'd), or NULL */
	struct snode **kids;    /* children so far (malloc'd) */
	size_t n, cap;
};

struct yload {
	struct stree *t;
	const char *file;
	const char *text;
	size_t len;
	struct err *err;
	struct frame *stack;
	size_t depth, stack_cap;
	json_t *anchors;        /* anchor name → index in anchor_nodes */
	struct snode **anchor_nodes;
	size_t n_anchors, cap_anchors;
};

static int yfail(struct yload *y, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int yfail(struct yload *y, int line, int col, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(y->err, ERR_FORMAT, "%s:%d:%d: %s", y->file, line, col, msg);
}

static int ynomem(struct yload *y)
{
	return err_set(y->err, ERR_NOMEM, "%s: out of memory", y->file);
}

static struct snode *node_new(struct yload *y, enum snode_type type, const yaml_mark_t *m)
{
	if (y->t->nodes >= SPEC_MAX_NODES) {
		yfail(y, (int)m->line + 1, (int)m->column + 1, "too many nodes (more than %d)",
			SPEC_MAX_NODES);
		return NULL;
	}
	struct snode *n = stree_alloc(y->t, sizeof *n);
	if (!n) {
		ynomem(y);
		return NULL;
	}
	y->t->nodes++;
	n->type = type;
	n->pos.line = (int)m->line + 1;
	n->pos.col = (int)m->column + 1;
	n->size = 1;
	return n;
}

static int kid_add(struct yload *y, struct snode *n)
{
	if (y->depth == 0) {
		y->t->root = n;
		return 0;
	}
	struct frame *f = &y->stack[y->depth - 1];
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		struct snode **k = realloc(f->kids, cap * sizeof *k);
		if (!k)
			return ynomem(y);
		f->kids = k;
		f->cap = cap;
	}
	f->kids[f->n++] = n;
	return 0;
}

static int anchor_add(struct yload *y, const char *name, struct snode *n)
{
	if (y->n_anchors == y->cap_anchors) {
		size_t cap = y->cap_anchors ? 2 * y->cap_anchors : 16;
		struct snode **a = realloc(y->anchor_nodes, cap * sizeof *a);
		if (!a)
			return ynomem(y);
		y->anchor_nodes = a;
		y->cap_anchors = cap;
	}
	y->anchor_nodes[y->n_anchors] = n;
	/* a redefined anchor: later aliases see the newest definition */
	if (json_object_setn_new_nocheck(y->anchors, name, strlen(name),
		    json_integer((json_int_t)y->n_anchors)) < 0)
		return ynomem(y);
	y->n_anchors++;
	return 0;
}

static const char *const TAG_PREFIX = "tag:yaml.org,2002:";

/* A tag as written: '!!binary' for the standard prefix. */
static const char *tag_name(char *buf, size_t cap, const char *tag)
{
	size_t pl = strlen(TAG_PREFIX);
	char full[200];
	if (strncmp(tag, TAG_PREFIX, pl) == 0)
		snprintf(full, sizeof full, "!!%s", tag + pl);
	else
		snprintf(full, sizeof full, "%s", tag);
	return spec_quote(buf, cap, full, strlen(full));
}

/* The standard tags are accepted: str forces a string, the others must agree. */
static int scalar_tag(struct yload *y, struct snode *n, const char *tag)
{
	size_t pl = strlen(TAG_PREFIX);
	char q[80];
	if (strcmp(tag, "!") == 0 || strcmp(tag, "tag:yaml.org,2002:str") == 0) {
		n->type = SNODE_STR;
		return 0;
	}
	if (strncmp(tag, TAG_PREFIX, pl) == 0) {
		const char *want = tag + pl;
		enum snode_type t = n->type;
		bool ok = (strcmp(want, "int") == 0 && t == SNODE_INT) ||
			(strcmp(want, "float") == 0 && (t == SNODE_FLOAT || t == SNODE_INT)) ||
			(strcmp(want, "bool") == 0 && t == SNODE_BOOL) ||
			(strcmp(want, "null") == 0 && t == SNODE_NULL);
		if (ok) {
			if (strcmp(want, "float") == 0 && t == SNODE_INT) {
				n->type = SNODE_FLOAT;
				n->d = (double)n->i;
			}
			return 0;
		}
		if (strcmp(want, "int") == 0 || strcmp(want, "float") == 0 ||
		    strcmp(want, "bool") == 0 || strcmp(want, "null") == 0) {
			spec_quote(q, sizeof q, n->text, n->len);
			return yfail(y, n->pos.line, n->pos.col, "value %s does not match its tag '!!%s'", q,
				want);
		}
	}
	return yfail(y, n->pos.line, n->pos.col, "unsupported tag %s", tag_name(q, sizeof q, tag));
}

static int on_scalar(struct yload *y, yaml_event_t *ev)
{
	struct snode *n = node_new(y, SNODE_STR, &ev->start_mark);
	if (!n)
		return -1;
	const char *v = (const char *)ev->data.scalar.value;
	n->len = ev->data.scalar.length;
	n->text = stree_strndup(y->t, v, n->len);
	if (!n->text)
		return ynomem(y);
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (plain) {
		snode_resolve_plain(n);
		n->merge_key = text_is(n->text, n->len, "<<");
	}
	if (ev->data.scalar.tag && scalar_tag(y, n, (const char *)ev->data.scalar.tag) < 0)
		return -1;
	if (ev->data.scalar.anchor && anchor_add(y, (const char *)ev->data.scalar.anchor, n) < 0)
		return -1;
	return kid_add(y, n);
}

static int on_start(struct yload *y, yaml_event_t *ev, enum snode_type type)
{
	const yaml_char_t *tag = type == SNODE_SEQ ? ev->data.sequence_start.tag :
		ev->data.mapping_start.tag;
	const yaml_char_t *anchor = type == SNODE_SEQ ? ev->data.sequence_start.anchor :
		ev->data.mapping_start.anchor;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	if (y->depth + 1 > SPEC_MAX_DEPTH)
		return yfail(y, line, col, "nesting deeper than %d levels", SPEC_MAX_DEPTH);
	if (tag && strcmp((const char *)tag, type == SNODE_SEQ ? "tag:yaml.org,2002:seq" :
		    "tag:yaml.org,2002:map") != 0 && strcmp((const char *)tag, "!") != 0) {
		char q[80];
		return yfail(y, line, col, "unsupported tag %s", tag_name(q, sizeof q, (const char *)tag));
	}
	struct snode *n = node_new(y, type, &ev->start_mark);
	if (!n)
		return -1;
	if (y->depth == y->stack_cap) {
		size_t cap = y->stack_cap ? 2 * y->stack_cap : 8;
		struct frame *s = realloc(y->stack, cap * sizeof *s);
		if (!s)
			return ynomem(y);
		y->stack = s;
		y->stack_cap = cap;
	}
	struct frame *f = &y->stack[y->depth++];
	memset(f, 0, sizeof *f);
	f->node = n;
	if (anchor && !(f->anchor = strdup((const char *)anchor)))
		return ynomem(y);
	return 0;
}

/*
 * `<<: *defaults` (or a list of mappings): the merged mappings' pairs are appended
 * unless the mapping states the key itself or an earlier merge already gave it.
 * Explicit keys keep their order, so repeated explicit keys are still found later.
 */
static int merge_keys(struct yload *y, struct frame *f)
{
	size_t n_merge = 0;
	for (size_t i = 0; i < f->n; i += 2)
		n_merge += f->kids[i]->merge_key;
	if (n_merge == 0)
		return 0;
	json_t *seen = json_object();
	struct snode **out = malloc(f->n * sizeof *out);
	size_t n_out = 0, cap_out = f->n;
	int rc = -1;
	if (!seen || !out) {
		ynomem(y);
		goto out;
	}
	for (size_t i = 0; i < f->n; i += 2) {
		struct snode *k = f->kids[i];
		if (k->merge_key)
			continue;
		out[n_out++] = k;
		out[n_out++] = f->kids[i + 1];
		if (k->type != SNODE_SEQ && k->type != SNODE_MAP)
			json_object_setn_new_nocheck(seen, k->text, k->len, json_true());
	}
	for (size_t i = 0; i < f->n; i += 2) {
		if (!f->kids[i]->merge_key)
			continue;
		struct snode *v = f->kids[i + 1];
		struct snode *const *srcs = &v;
		size_t n_srcs = 1;
		if (v->type == SNODE_SEQ) {
			srcs = v->items;
			n_srcs = v->n;
		}
		for (size_t s = 0; s < n_srcs; s++) {
			const struct snode *m = srcs[s];
			if (m->type != SNODE_MAP) {
				yfail(y, m->pos.line, m->pos.col,
					"merge key '<<' takes a mapping or a list of mappings");
				goto out;
			}
			for (size_t p = 0; p < m->n; p++) {
				struct snode *k = m->items[2 * p];
				bool scalar = k->type != SNODE_SEQ && k->type != SNODE_MAP;
				if (scalar && json_object_getn(seen, k->text, k->len))
					continue;
				if (n_out + 2 > cap_out) {
					cap_out *= 2;
					struct snode **o = realloc(out, cap_out * sizeof *o);
					if (!o) {
						ynomem(y);
						goto out;
					}
					out = o;
				}
				out[n_out++] = k;
				out[n_out++] = m->items[2 * p + 1];
				if (scalar)
					json_object_setn_new_nocheck(seen, k->text, k->len, json_true());
			}
		}
	}
	free(f->kids);
	f->kids = out;
	f->n = f->cap = n_out;
	out = NULL;
	rc = 0;
out:
	free(out);
	json_decref(seen);
	return rc;
}

static int on_end(struct yload *y)
{
	struct frame *f = &y->stack[y->depth - 1];
	struct snode *n = f->node;
	int rc = -1;
	if (n->type == SNODE_MAP && merge_keys(y, f) < 0)
		goto out;
	n->items = stree_alloc(y->t, (f->n ? f->n : 1) * sizeof *n->items);
	if (!n->items) {
		ynomem(y);
		goto out;
	}
	if (f->n)
		memcpy(n->items, f->kids, f->n * sizeof *n->items);
	n->n = n->type == SNODE_MAP ? f->n / 2 : f->n;
	n->size = 1;
	n->height = 1;
	for (size_t i = 0; i < f->n; i++) {
		n->size += f->kids[i]->size;
		if (f->kids[i]->height + 1 > n->height)
			n->height = f->kids[i]->height + 1;
	}
	if (f->anchor && anchor_add(y, f->anchor, n) < 0)
		goto out;
	rc = 0;
out:
	free(f->kids);
	free(f->anchor);
	y->depth--;
	return rc < 0 ? -1 : kid_add(y, n);
}

static struct snode *node_copy(struct stree *t, const struct snode *src)
{
	struct snode *n = stree_alloc(t, sizeof *n);
	if (!n)
		return NULL;
	*n = *src;
	if (src->type == SNODE_SEQ || src->type == SNODE_MAP) {
		size_t k = src->type == SNODE_MAP ? 2 * src->n : src->n;
		n->items = stree_alloc(t, (k ? k : 1) * sizeof *n->items);
		if (!n->items)
			return NULL;
		for (size_t i = 0; i < k; i++)
			if (!(n->items[i] = node_copy(t, src->items[i])))
				return NULL;
	}
	return n;
}

static int on_alias(struct yload *y, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	json_t *idx = json_object_getn(y->anchors, name, strlen(name));
	char q[80];
	if (!idx) {
		spec_quote(q, sizeof q, name, strlen(name));
		return yfail(y, line, col, "alias %s names no anchor defined before it", q);
	}
	const struct snode *src = y->anchor_nodes[json_integer_value(idx)];
	if (y->t->nodes + src->size > SPEC_MAX_NODES)
		return yfail(y, line, col, "alias expansion exceeds %d nodes", SPEC_MAX_NODES);
	if (y->depth + (size_t)src->height > SPEC_MAX_DEPTH)
		return yfail(y, line, col, "nesting deeper than %d levels", SPEC_MAX_DEPTH);
	struct snode *n = node_copy(y->t, src);
	if (!n)
		return ynomem(y);
	y->t->nodes += src->size;
	n->pos.line = line; /* the copy's root is where the alias is; its insides where defined */
	n->pos.col = col;
	n->merge_key = false;
	return kid_add(y, n);
}

/* 1-based line and column of byte `off` (columns count characters, as libyaml's do). */
static void offset_position(const char *text, size_t len, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			++*col;
		}
	}
}

/* The byte at (line, col), or -1. */
static int char_at(const char *text, size_t len, int line, int col)
{
	size_t i = 0;
	for (int l = 1; l < line; l++) {
		const char *nl = memchr(text + i, '\n', len - i);
		if (!nl)
			return -1;
		i = (size_t)(nl - text) + 1;
	}
	for (int c = 1; c < col && i < len; c++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
	}
	return i < len ? (unsigned char)text[i] : -1;
}

static int yaml_error(struct yload *y, const yaml_parser_t *p)
{
	int line, col;
	if (p->error == YAML_MEMORY_ERROR)
		return ynomem(y);
	if (p->error == YAML_READER_ERROR) {
		offset_position(y->text, y->len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			return yfail(y, line, col, "yaml: %s (byte 0x%02x)", p->problem,
				(unsigned)p->problem_value & 0xffu);
		return yfail(y, line, col, "yaml: %s", p->problem ? p->problem : "cannot read");
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	if (char_at(y->text, y->len, line, col) == '\t')
		return yfail(y, line, col, "yaml: tab character used for indentation (use spaces)");
	if (p->context)
		return yfail(y, line, col, "yaml: %s (%s at line %d)", p->problem ? p->problem : "error",
			p->context, (int)p->context_mark.line + 1);
	return yfail(y, line, col, "yaml: %s", p->problem ? p->problem : "error");
}

static int parse_yaml(struct stree *t, const char *text, size_t len, const char *file,
	struct err *err)
{
	struct yload y = { .t = t, .file = file, .text = text, .len = len, .err = err };
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = -1, docs = 0;
	bool have_parser = false;

	if (!(y.anchors = json_object()) || !yaml_parser_initialize(&p)) {
		ynomem(&y);
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (bool done = false; !done;) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_error(&y, &p);
			goto out;
		}
		int r = 0;
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0)
				r = yfail(&y, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
					"a second document (a spec is one document)");
			break;
		case YAML_SCALAR_EVENT: r = on_scalar(&y, &ev); break;
		case YAML_SEQUENCE_START_EVENT: r = on_start(&y, &ev, SNODE_SEQ); break;
		case YAML_MAPPING_START_EVENT: r = on_start(&y, &ev, SNODE_MAP); break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: r = on_end(&y); break;
		case YAML_ALIAS_EVENT: r = on_alias(&y, &ev); break;
		case YAML_STREAM_END_EVENT: done = true; break;
		default: break;
		}
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
	}
	if (!t->root) {
		yfail(&y, 1, 1, "empty document (expected a mapping with version, name, model and stages)");
		goto out;
	}
	rc = 0;
out:
	while (y.depth > 0) {
		free(y.stack[y.depth - 1].kids);
		free(y.stack[y.depth - 1].anchor);
		y.depth--;
	}
	free(y.stack);
	free(y.anchor_nodes);
	json_decref(y.anchors);
	if (have_parser)
		yaml_parser_delete(&p);
	return rc;
}

/* ---- JSON → tree ---- */

static struct snode *json_node(struct stree *t, const json_t *j, int depth, struct err *err)
{
	if (t->nodes >= SPEC_MAX_NODES) {
		err_set(err, ERR_INVALID, "spec has too many nodes (more than %d)", SPEC_MAX_NODES);
		return NULL;
	}
	bool coll = json_is_object(j) || json_is_array(j);
	if (coll && depth + 1 > SPEC_MAX_DEPTH) {
		err_set(err, ERR_INVALID, "spec nests deeper than %d levels", SPEC_MAX_DEPTH);
		return NULL;
	}
	struct snode *n = stree_alloc(t, sizeof *n);
	if (!n)
		goto nomem;
	t->nodes++;
	n->size = 1;
	char buf[40];
	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY: {
		n->type = json_is_object(j) ? SNODE_MAP : SNODE_SEQ;
		n->n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
		size_t k = json_is_object(j) ? 2 * n->n : n->n;
		if (!(n->items = stree_alloc(t, (k ? k : 1) * sizeof *n->items)))
			goto nomem;
		n->height = 1;
		size_t at = 0;
		const char *key;
		size_t key_len;
		json_t *v;
		if (json_is_object(j)) {
			json_object_keylen_foreach((json_t *)j, key, key_len, v) {
				struct snode *kn = stree_alloc(t, sizeof *kn);
				if (!kn || !(kn->text = stree_strndup(t, key, key_len)))
					goto nomem;
				kn->type = SNODE_STR;
				kn->len = key_len;
				kn->size = 1;
				n->items[at++] = kn;
				if (!(n->items[at++] = json_node(t, v, depth + 1, err)))
					return NULL;
			}
		} else {
			size_t i;
			json_array_foreach((json_t *)j, i, v)
				if (!(n->items[at++] = json_node(t, v, depth + 1, err)))
					return NULL;
		}
		for (size_t i = 0; i < k; i++) {
			n->size += n->items[i]->size;
			if (n->items[i]->height + 1 > n->height)
				n->height = n->items[i]->height + 1;
		}
		return n;
	}
	case JSON_STRING:
		n->type = SNODE_STR;
		n->len = json_string_length(j);
		n->text = stree_strndup(t, json_string_value(j), n->len);
		break;
	case JSON_INTEGER:
		n->type = SNODE_INT;
		n->i = json_integer_value(j);
		snprintf(buf, sizeof buf, "%lld", n->i);
		break;
	case JSON_REAL:
		n->type = SNODE_FLOAT;
		n->d = json_real_value(j);
		for (int prec = 15; prec <= 17; prec++) { /* shortest text that reads back */
			snprintf(buf, sizeof buf, "%.*g", prec, n->d);
			if (strtod(buf, NULL) == n->d)
				break;
		}
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		n->type = SNODE_BOOL;
		n->b = json_is_true(j);
		snprintf(buf, sizeof buf, "%s", n->b ? "true" : "false");
		break;
	default:
		n->type = SNODE_NULL;
		snprintf(buf, sizeof buf, "null");
		break;
	}
	if (n->type != SNODE_STR) {
		n->len = strlen(buf);
		n->text = stree_strndup(t, buf, n->len);
	}
	if (!n->text)
		goto nomem;
	return n;
nomem:
	err_set(err, ERR_NOMEM, "out of memory");
	return NULL;
}

int stree_from_json(struct stree *t, const json_t *j, struct err *err)
{
	t->root = json_node(t, j, 0, err);
	return t->root ? 0 : -1;
}

/* ---- --set PATH=VALUE ---- */

static struct snode *label_node(struct stree *t, enum snode_type type, const char *label)
{
	struct snode *n = stree_alloc(t, sizeof *n);
	if (n) {
		n->type = type;
		n->pos.label = label;
		n->size = 1;
	}
	return n;
}

/* Append the pair (key, value) to mapping m. */
static int map_append(struct stree *t, struct snode *m, struct snode *k, struct snode *v)
{
	struct snode **items = stree_alloc(t, (2 * m->n + 2) * sizeof *items);
	if (!items)
		return -1;
	if (m->n)
		memcpy(items, m->items, 2 * m->n * sizeof *items);
	items[2 * m->n] = k;
	items[2 * m->n + 1] = v;
	m->items = items;
	m->n++;
	return 0;
}

static struct snode **map_slot(struct snode *m, const char *key, size_t len)
{
	struct snode **found = NULL;
	for (size_t k = 0; k < m->n; k++) {
		const struct snode *kn = m->items[2 * k];
		if (kn->type != SNODE_SEQ && kn->type != SNODE_MAP && kn->len == len &&
		    memcmp(kn->text, key, len) == 0)
			found = &m->items[2 * k + 1];
	}
	return found;
}

/* The stage named `name` (or, failing that, at a decimal index) in the stages list. */
static struct snode **stage_slot(struct snode *seq, const char *name, size_t len)
{
	for (size_t i = 0; i < seq->n; i++) {
		const struct snode *nm = snode_get(seq->items[i], "name");
		if (nm && nm->type != SNODE_SEQ && nm->type != SNODE_MAP && nm->len == len &&
		    memcmp(nm->text, name, len) == 0)
			return &seq->items[i];
	}
	if (all_digits(name, len) && len < 10 && strtoul(name, NULL, 10) < seq->n)
		return &seq->items[strtoul(name, NULL, 10)];
	return NULL;
}

static int set_missing(struct err *err, const char *arg, const char *what,
	const struct snode *coll, const char *name, size_t len)
{
	struct suggest s;
	char q[80], hint[120] = "";
	suggest_init(&s, name, len);
	if (coll && coll->type == SNODE_SEQ) {
		for (size_t i = 0; i < coll->n; i++) {
			const struct snode *nm = snode_get(coll->items[i], "name");
			if (nm && nm->type != SNODE_SEQ && nm->type != SNODE_MAP)
				suggest_add(&s, nm->text);
		}
	} else if (coll && coll->type == SNODE_MAP) {
		for (size_t k = 0; k < coll->n; k++)
			if (coll->items[2 * k]->type != SNODE_SEQ && coll->items[2 * k]->type != SNODE_MAP)
				suggest_add(&s, coll->items[2 * k]->text);
	}
	if (s.best)
		snprintf(hint, sizeof hint, " (did you mean '%.40s'?)", s.best);
	spec_quote(q, sizeof q, name, len);
	return err_set(err, ERR_NOTFOUND, "--set %s: no %s named %s%s", arg, what, q, hint);
}

static int apply_set(struct stree *t, const char *arg_raw, struct err *err)
{
	char argq[160], path[160];
	spec_clean(argq, sizeof argq, arg_raw, strlen(arg_raw));
	const char *eq = strchr(arg_raw, '=');
	if (!eq || eq == arg_raw)
		return err_set(err, ERR_INVALID, "--set %s: expected PATH=VALUE", argq);
	spec_clean(path, sizeof path, arg_raw, (size_t)(eq - arg_raw));
	char *label = stree_alloc(t, strlen(path) + 7);
	if (!label)
		return err_set(err, ERR_NOMEM, "out of memory");
	snprintf(label, strlen(path) + 7, "--set %s", path);

	struct snode *val = label_node(t, SNODE_STR, label);
	if (!val || !(val->text = stree_strndup(t, eq + 1, strlen(eq + 1))))
		return err_set(err, ERR_NOMEM, "out of memory");
	val->len = strlen(eq + 1);
	snode_resolve_plain(val);

	if (!t->root || t->root->type != SNODE_MAP)
		return err_set(err, ERR_INVALID, "--set %s: the spec is not a mapping", argq);
	struct snode **slot = &t->root;
	const char *comp = arg_raw, *first = arg_raw;
	size_t first_len = 0;
	for (int depth = 0;; depth++) {
		const char *dot = memchr(comp, '.', (size_t)(eq - comp));
		size_t len = dot ? (size_t)(dot - comp) : (size_t)(eq - comp);
		if (len == 0)
			return err_set(err, ERR_INVALID, "--set %s: empty key in the path", argq);
		if (depth == 0)
			first_len = len;
		bool last = !dot;
		struct snode *cur = *slot;
		bool named = depth == 1 && (text_is(first, first_len, "stages") ||
			text_is(first, first_len, "datasets") || text_is(first, first_len, "rewards"));
		struct snode **next = NULL;
		if (named && text_is(first, first_len, "stages")) {
			if (cur->type == SNODE_SEQ)
				next = stage_slot(cur, comp, len);
			if (!next)
				return set_missing(err, argq, "stage", cur, comp, len);
		} else if (cur->type == SNODE_MAP) {
			next = map_slot(cur, comp, len);
			if (!next && named)
				return set_missing(err, argq, text_is(first, first_len, "datasets") ?
					"dataset" : "reward", cur, comp, len);
			if (!next) {
				struct snode *k = label_node(t, SNODE_STR, label);
				struct snode *v = last ? val : label_node(t, SNODE_MAP, label);
				if (!k || !v || !(k->text = stree_strndup(t, comp, len)) ||
				    map_append(t, cur, k, v) < 0)
					return err_set(err, ERR_NOMEM, "out of memory");
				k->len = len;
				next = &cur->items[2 * cur->n - 1];
			}
		} else if (cur->type == SNODE_SEQ && all_digits(comp, len) && len < 10 &&
			   strtoul(comp, NULL, 10) < cur->n) {
			next = &cur->items[strtoul(comp, NULL, 10)];
		} else {
			char at[160];
			spec_quote(at, sizeof at, arg_raw, (size_t)(comp - arg_raw - 1));
			return err_set(err, ERR_INVALID, "--set %s: %s is not a mapping", argq, at);
		}
		if (last) {
			*next = val;
			return 0;
		}
		slot = next;
		comp = dot + 1;
	}
}

/* ---- entry points ---- */

static int load(const char *text, size_t len, const char *name, const char *basedir,
	const char *const *sets, size_t n_sets, json_t **out, struct err *err)
{
	struct stree t = { 0 };
	int rc = -1;
	if (len > SPEC_MAX_BYTES) {
		err_set(err, ERR_INVALID, "%s: file too large (more than %u bytes)", name, SPEC_MAX_BYTES);
		goto out;
	}
	if (parse_yaml(&t, text, len, name, err) < 0)
		goto out;
	for (size_t i = 0; i < n_sets; i++)
		if (apply_set(&t, sets[i], err) < 0)
			goto out;
	struct spec_check c = { .file = name, .basedir = basedir, .json_mode = false };
	rc = spec_check_tree(&t, &c, out, err);
out:
	stree_release(&t);
	return rc;
}

int spec_load_string(const char *text, size_t len, const char *name, const char *const *sets,
	size_t n_sets, json_t **out, struct err *err)
{
	*out = NULL;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return err_set(err, ERR_IO, "%s: cannot get the working directory: %s", name,
			strerror(errno));
	return load(text, len, name, cwd, sets, n_sets, out, err);
}

int spec_load_file(const char *path, const char *const *sets, size_t n_sets, json_t **out,
	struct err *err)
{
	*out = NULL;
	char *buf = NULL, dir[PATH_MAX], real[PATH_MAX];
	size_t len = 0;
	int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open '%s': %s", path,
			strerror(errno));
		goto out;
	}
	if (!(buf = malloc(SPEC_MAX_BYTES + 1))) {
		err_set(err, ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len <= SPEC_MAX_BYTES) {
		ssize_t r = read(fd, buf + len, SPEC_MAX_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	/* relative paths in the spec are relative to its directory */
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (!realpath(dir, real)) {
		err_set(err, ERR_IO, "cannot resolve '%s': %s", dir, strerror(errno));
		goto out;
	}
	rc = load(buf, len, path, real, sets, n_sets, out, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int spec_check_json(json_t *spec, struct err *err)
{
	struct stree t = { 0 };
	json_t *out = NULL;
	struct spec_check c = { .file = "", .basedir = NULL, .json_mode = true };
	int rc = stree_from_json(&t, spec, err);
	if (rc == 0)
		rc = spec_check_tree(&t, &c, &out, err);
	json_decref(out);
	stree_release(&t);
	return rc;
}
