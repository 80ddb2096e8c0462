/*
 * gen — a spec's generated dataset (`{generate: TASK, count, seed, style, ...}` in the
 * normalised spec's `datasets`) as task parameters, and its records: the daemon
 * materialises them at submit, `r1flow validate` measures them. Record i is
 * task_record(params, seed, i, style, mix) (tasks.h: a pure function).
 */
#ifndef R1_GEN_H
#define R1_GEN_H

#include <jansson.h>
#include <stdint.h>

#include "tasks.h"

struct gen {
	struct task_params p;
	enum task_style style;
	struct task_mix mix;
	int has_mix;              /* corpus style with a `mix` */
	int64_t count;            /* records */
	uint64_t seed;            /* the dataset's key */
};

/* Parse the entry `src` of dataset `name` (errors name it). */
int gen_parse(const json_t *src, const char *name, struct gen *g, struct err *err);

/* Record i into *r. As stored: prompt and answer always; response for the worked
 * style, text for the corpus style (NULL otherwise, via the gen_* accessors). */
int gen_record(const struct gen *g, int64_t i, struct task_record *r, struct err *err);
const char *gen_response(const struct gen *g, const struct task_record *r);
const char *gen_text(const struct gen *g, const struct task_record *r);

#endif
