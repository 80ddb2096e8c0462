/*
 * spec_tree — the loader's private document tree (spec.c builds it, spec_check.c
 * validates it; nothing outside pipelines/ sees it).
 *
 * A node is a typed scalar, a list or a mapping, with the position it came from:
 * a 1-based line and column in the file, or a label ("--set stages.a.lr") when an
 * override made it, or neither when it came from JSON. All nodes and strings live in
 * the tree's arena and go with spec_tree_release; nodes are never shared (an alias
 * is a copy), so an override changes exactly one place.
 */
#ifndef R1_SPEC_TREE_H
#define R1_SPEC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "err.h"

enum snode_type { SNODE_NULL, SNODE_BOOL, SNODE_INT, SNODE_FLOAT, SNODE_STR, SNODE_SEQ, SNODE_MAP };

struct spos {
	int line, col;     /* 1-based; 0 when the node has no place in a file */
	const char *label; /* "--set PATH" for override nodes, else NULL */
};

struct snode {
	enum snode_type type;
	struct spos pos;
	const char *text;     /* scalars: the source text (for SNODE_STR the value); NUL-terminated */
	size_t len;           /* bytes of text (a string may hold NUL) */
	long long i;          /* SNODE_INT */
	double d;             /* SNODE_FLOAT */
	bool b;               /* SNODE_BOOL */
	bool merge_key;       /* an unquoted "<<" key */
	struct snode **items; /* SEQ: n items; MAP: n pairs, key items[2k], value items[2k+1] */
	size_t n;
	size_t size;          /* nodes in this subtree, itself included */
	int height;           /* collection levels in this subtree: 0 for a scalar */
};

struct arena_chunk;

struct stree {
	struct arena_chunk *chunks; /* arena: every node and string */
	size_t used, cap;           /* bytes of the newest chunk */
	struct snode *root;         /* NULL for an empty document */
	size_t nodes;               /* nodes made so far (limit SPEC_MAX_NODES) */
};

static inline bool spec_text_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static inline bool spec_all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

void *stree_alloc(struct stree *t, size_t size); /* zeroed; NULL when out of memory */
char *stree_strndup(struct stree *t, const char *s, size_t len);
void stree_release(struct stree *t);

/* Resolve `text` as a plain YAML scalar into n's type and value (n->text is set). */
void snode_resolve_plain(struct snode *n);

/* The value of key `key` in mapping `map` (the last one if repeated), or NULL. */
struct snode *snode_get(const struct snode *map, const char *key);

/*
 * Nearest-name suggestions: the candidate within Levenshtein distance 2 (the
 * nearest, the first on ties), else the first that is a prefix of the word or has it
 * as a prefix (two characters at least), else none.
 */
struct suggest {
	const char *word;
	size_t len;
	const char *best; /* NULL: nothing near */
	int dist;         /* best's distance; 3 for a prefix match */
};
void suggest_init(struct suggest *s, const char *word, size_t len);
void suggest_add(struct suggest *s, const char *cand);
/* " (did you mean 'x'?)" or "" into buf; returns buf. */
const char *suggest_hint(const struct suggest *s, char *buf, size_t cap);

/* User text made safe for a one-line message: control bytes become '?', long text is
 * cut with "...". spec_quote adds single quotes around it. Both return buf. */
char *spec_clean(char *buf, size_t cap, const char *s, size_t len);
char *spec_quote(char *buf, size_t cap, const char *s, size_t len);

/* Parse `len` bytes of YAML into t->root; errors are "FILE:LINE:COL: ...". */
int stree_parse_yaml(struct stree *t, const char *text, size_t len, const char *file,
	struct err *err);

/* Build t->root from JSON; err text has no position. */
int stree_from_json(struct stree *t, const json_t *j, struct err *err);

/*
 * Validate the tree and build the normalised spec. `file` prefixes positioned
 * errors; `basedir` is the directory relative paths are resolved against. In
 * `json_mode` (spec_check_json) the input must already be normalised.
 */
struct spec_check {
	const char *file;
	const char *basedir;
	bool json_mode;
};
int spec_check_tree(const struct stree *t, const struct spec_check *c, json_t **out, struct err *err);

#endif
