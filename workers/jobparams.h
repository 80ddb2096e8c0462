/*
 * jobparams — reading a job's params (JSON from the daemon) with errors that name
 * the key, for the job kinds' parsers.
 *
 * Every error reads "<kind>: <where><key>: <problem>", e.g.
 *   grad: seqs[3].tokens: expected an array of token ids
 *   rollout: temperature: missing
 * where `where` is the prefix of the object being read ("" at the top, "seqs[3]."
 * inside an array element; set it with jobparams_at). All errors are ERR_INVALID: bad
 * params never succeed on a retry, so the caller leaves out->retryable at 0.
 *
 * Getters take `required`: an absent key (or a JSON null) is then an error, else the
 * default is stored. Numbers must be finite and inside [lo, hi]. Integers must be
 * JSON integers; reals accept integers too. Strings are borrowed from the params.
 */
#ifndef R1_JOBPARAMS_H
#define R1_JOBPARAMS_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

struct jobparams {
	const char *kind;      /* "grad", ... */
	char where[96];        /* key prefix: "" or "seqs[3]." */
	struct err *err;
};

void jobparams_init(struct jobparams *p, const char *kind, struct err *err);

/* Set the prefix to printf(fmt, ...) (e.g. "seqs[%zu]."); "" for the top level. */
void jobparams_at(struct jobparams *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "<kind>: <where><key>: <message>"; returns -1. */
int jobparams_fail(struct jobparams *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int jobparams_int(struct jobparams *p, const json_t *obj, const char *key, int required,
	long long def, long long lo, long long hi, long long *out);
int jobparams_num(struct jobparams *p, const json_t *obj, const char *key, int required,
	double def, double lo, double hi, double *out);
int jobparams_bool(struct jobparams *p, const json_t *obj, const char *key, int required,
	int def, int *out);

/* A string (may hold NULs: *len is its length); optional and absent: *out = NULL. */
int jobparams_str(struct jobparams *p, const json_t *obj, const char *key, int required,
	const char **out, size_t *len);

/* A sha256 (64 lowercase hex digits); nullable: null or absent gives *out = NULL. */
int jobparams_sha(struct jobparams *p, const json_t *obj, const char *key, int nullable,
	const char **out);

/* An array, `what` describing it in the error ("an array of token ids"). */
int jobparams_array(struct jobparams *p, const json_t *obj, const char *key,
	const char *what, const json_t **out);

/* An object; optional and absent: *out = NULL. */
int jobparams_object(struct jobparams *p, const json_t *obj, const char *key, int required,
	const json_t **out);

/*
 * An array of token ids, each in [0, vocab), into a malloc'd array (*ids, caller
 * frees; NULL when empty) of *n ids. At most max_len ids (0: no limit); the error
 * then names max_what ("max_seq (256)").
 */
int jobparams_tokens(struct jobparams *p, const json_t *obj, const char *key, int vocab,
	int max_len, const char *max_what, int **ids, int *n);

#endif
