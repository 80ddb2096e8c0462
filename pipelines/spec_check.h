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

/*
 * Fill err with "[POS: ][SCOPE: ][key 'KEY': ]MESSAGE" and return -1. POS is
 * FILE:LINE:COL of `at`, or its --set label, or nothing (JSON, or at == NULL).
 */
int vfail(struct v *v, const struct snode *at, const char *scope, const char *key,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* How a value is shown after "got": 'text', a mapping, an empty list, ... */
const char *got(const struct snode *n, char *buf, size_t cap);

/* " (first at line N)", " (first at --set X)" or "" (no position). */
const char *first_at(const struct snode *n, char *buf, size_t cap);

bool snode_is_scalar(const struct snode *n);

/* A scalar usable as a name or string: a string in JSON; any non-null scalar in YAML. */
bool ref_ok(const struct v *v, const struct snode *n);

/* "pretrain" for SK_PRETRAIN, ... */
const char *stage_kind_name(unsigned kind);

/* Resolve from / needs / dataset references, compute every stage's deps, refuse cycles. */
int spec_check_graph(struct v *v);

#endif
