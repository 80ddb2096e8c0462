/*
 * spec_tree — the node tree's arena, plain-scalar resolution, lookups, and JSON into
 * the tree (spec_check_json's way in). See spec_tree.h.
 */
#include "spec_tree.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

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

void snode_resolve_plain(struct snode *n)
{
	const char *s = n->text;
	size_t len = n->len;
	n->type = SNODE_STR;
	if (len == 0 || spec_text_is(s, len, "~") || spec_text_is(s, len, "null") || spec_text_is(s, len, "Null") ||
	    spec_text_is(s, len, "NULL")) {
		n->type = SNODE_NULL;
	} else if (spec_text_is(s, len, "true") || spec_text_is(s, len, "True") || spec_text_is(s, len, "TRUE")) {
		n->type = SNODE_BOOL;
		n->b = true;
	} else if (spec_text_is(s, len, "false") || spec_text_is(s, len, "False") || spec_text_is(s, len, "FALSE")) {
		n->type = SNODE_BOOL;
		n->b = false;
	} else if (spec_all_digits(s + (s[0] == '-' || s[0] == '+'), len - (s[0] == '-' || s[0] == '+'))) {
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

