/*
 * spec_yaml — libyaml's events into the node tree: positions, plain-scalar types,
 * the standard tags, aliases as bounded copies, `<<` merge keys.
 *
 * Limits are enforced while parsing, before anything grows: the nesting depth when a
 * collection opens, the node count when a node is made. An alias adds its anchor's
 * whole size in one step, so a billion-laughs file fails at its first big alias
 * without copying anything; an anchor is registered when its node is complete, so
 * an alias inside its own anchor is an unknown alias, never a loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "spec.h"
#include "spec_tree.h"

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
		n->merge_key = spec_text_is(n->text, n->len, "<<");
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

int stree_parse_yaml(struct stree *t, const char *text, size_t len, const char *file,
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

