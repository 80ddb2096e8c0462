/*
 * spec_check — the validator's state and helpers shared by spec_check.c (levels and
 * keys) and spec_graph.c (references between stages, deps, cycles). Private to
 * pipelines/.
 */
#ifndef R1_SPEC_CHECK_H
#define R1_SPEC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "spec_keys.h"
#include "spec_tree.h"

struct edge {
	size_t to;                /* index of the stage depended on */
	const struct snode *at;   /* the reference that made the edge (for messages) */
};

struct stage_info {
	const struct snode *map;       /* the stage's mapping */
	const struct snode *name_node; /* its name value */
	const char *name;              /* a valid name */
	unsigned kind;                 /* one SK_* bit */
	json_t *out;                   /* borrowed: its object in the normalised spec */
	struct edge *edges;            /* malloc'd; filled by spec_check_graph */
	size_t n_edges, cap_edges;
};

struct v {
	const struct spec_check *c;
	struct err *err;
	json_t *top;          /* the normalised spec being built */
	json_t *stage_index;  /* stage name → index in st */
	json_t *producers;    /* dataset name → index of the stage whose output it is */
	struct stage_info *st;
	size_t n_st;
};

/* ---- messages (spec_msg.c) ---- */

/*
 * Fill err with "[POS: ][SCOPE: ][key 'KEY': ]MESSAGE" and return -1. POS is
 * FILE:LINE:COL of `at`, or its --set label, or nothing (JSON, or at == NULL).
 */
int spec_fail(struct v *v, const struct snode *at, const char *scope, const char *key,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int spec_nomem(struct v *v); /* "out of memory"; returns -1 */

/* How a value is shown after "got": 'text', a mapping, an empty list, ... */
const char *spec_got(const struct snode *n, char *buf, size_t cap);

/* Where `first` was, for a message about `again`: " (first at line N)" (with the
 * column when both are on one line), " (first at --set X)" or "" (no position). */
const char *spec_first_at(const struct snode *first, const struct snode *again, char *buf,
	size_t cap);

/* prefix + key, made printable ("filters." + "correct"). */
const char *spec_keypath(char *buf, size_t cap, const char *prefix, const char *key, size_t len);

/* "pretrain" for SK_PRETRAIN, ... */
const char *spec_stage_kind_name(unsigned kind);

bool snode_is_scalar(const struct snode *n);

/* A scalar usable as a name or string: a string in JSON; any non-null scalar in YAML. */
bool spec_ref_ok(const struct v *v, const struct snode *n);

/* json_stringn, or NULL with "out of memory" set. */
json_t *spec_jstr(struct v *v, const char *s, size_t len);

/* ---- the engine (spec_check.c) ---- */

bool spec_name_ok(const char *s, size_t len, bool pipeline); /* [a-z0-9_]{1,32} or the pipeline form */

/* The row named `name` regardless of kind; the key must exist. */
const struct key *spec_row(const struct key *tab, const char *name);

/* Check one value against its row: a new reference, or NULL with the error set. */
json_t *spec_value(struct v *v, const struct key *r, const struct snode *n, const char *scope,
	const char *kp);

/* Keys are scalars and unique; with `what` ("dataset"), a repeat reads "dataset 'x': defined twice". */
int spec_dup_check(struct v *v, const struct snode *map, const char *scope, const char *prefix,
	const char *what);

/* Duplicates, then unknown keys with a suggestion from the rows of `kind` (0: all). */
int spec_keys_known(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix);

/* Keys of the table that are not for this kind: "not valid for <kind_desc>". */
int spec_keys_kind(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *kind_desc, const char *scope, const char *prefix);

/*
 * Every row of `kind` in table order into `out`: the checked value, the default,
 * or null for KT_CUSTOM and K_DYN rows (the caller fills those). A missing K_REQ key
 * is an error; in JSON mode so is any missing key but K_OPT ones. `map` may be NULL
 * (an absent nested mapping: all defaults).
 */
int spec_fill(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix, json_t *out);

/* The key node of `name` in map (the last one) and its pair index in *at, or NULL. */
const struct snode *spec_key_node(const struct snode *map, const char *name, size_t *at);

/* Index of the valid choice of enum key `name` in map, or -1 (absent or invalid). */
int spec_enum_peek(const struct v *v, const struct snode *map, const struct key *tab,
	const char *name);

long long spec_jint(const json_t *o, const char *key); /* an integer member of o */

/* ---- levels ---- */

int spec_check_stages(struct v *v, const struct snode *stages); /* spec_stage.c */

/* Resolve from / needs / dataset references, compute every stage's deps, refuse cycles. */
int spec_check_graph(struct v *v); /* spec_graph.c */

#endif
