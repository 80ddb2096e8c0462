/*
 * fields — how the records of a dataset file map onto r1flow's fields: which key
 * (a JSONL key, a CSV column) holds the prompt, the answer, ..., and how the answer
 * is cut out of a longer text. Read the same way by the daemon (import) and by
 * `r1flow validate` and `r1flow dataset show --spec` (rows.h).
 *
 * A mapping is given as JSON, the keys of a spec dataset or an import request:
 *   fields: {TARGET: KEY, ...}  TARGET one of prompt, answer, response, text,
 *                               messages, meta, id; KEY the file's key or column.
 *                               A target not named reads the key of its own name.
 *   answer: {field: KEY, after: MARK}   the answer is what follows the last MARK
 *   answer: {field: KEY, regex: RE}     ... or RE's first capture group (the whole
 *                               match when RE has none), PCRE2 syntax, first match;
 *                               field defaults to fields.answer, else "answer".
 *                               The result is trimmed of white space; empty is an error.
 *   csv: true                   the file is CSV (csv.h; its header row names the
 *                               keys); without it, a file name ending in .csv is
 *                               CSV, anything else JSONL
 *
 * Applying a mapping to one record (a JSON object) gives
 *   the standard object   {prompt, answer, response, text, messages, meta} as jsonl.h
 *                         reads them: a number as the answer (or id) becomes its
 *                         shortest decimal spelling (42, 4.5; 42.0 is 42); prompt,
 *                         response and text must be strings
 *   the record            every key of the record, the mapped ones renamed to their
 *                         targets, values as the file has them (the answer before
 *                         extraction), for rewards and `dataset show`; NULL when the
 *                         dataset has no mapping and the record only standard keys
 * Errors name LABEL:LINE (the file and the record's line) or, for a bad mapping,
 * WHERE (the spec dataset) and the key: a target not known, a key named twice, a
 * record lacking a mapped key, a value of the wrong type, an answer rule that finds
 * nothing, a bad regex.
 */
#ifndef R1_FIELDS_H
#define R1_FIELDS_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

enum field_target {
	FIELD_PROMPT, FIELD_ANSWER, FIELD_RESPONSE, FIELD_TEXT, FIELD_MESSAGES, FIELD_META,
	FIELD_ID, FIELD_N
};

extern const char *const fields_target_names[FIELD_N];

struct fields {
	char *key[FIELD_N];     /* the file's key per target; NULL: not mapped */
	bool mapped;            /* fields or answer given */
	bool csv;
	char *answer_key;       /* the answer rule's field; NULL: no rule */
	char *after;            /* the rule: text after the last `after`, or ... */
	char *regex;            /* ... regex's group 1 or whole match */
	void *re;               /* the compiled regex (pcre2_code) */
	void *md;               /* its match data */
};

/* The mapping of `src` (its fields, answer, csv and file keys; absent: the default);
 * `where` names src in errors ("dataset 'gsm'"). Owned: fields_release. */
int fields_parse(const json_t *src, const char *where, struct fields *f, struct err *err);
void fields_release(struct fields *f);

/* The file's key a target reads: the mapped one or the target's own name. */
const char *fields_key(const struct fields *f, enum field_target t);

/* Apply f (NULL: the default) to record o: *std the standard object, *record the
 * record or NULL (both new references). */
int fields_apply(const struct fields *f, json_t *o, const char *label, long line,
	json_t **std, json_t **record, struct err *err);

#endif
