/*
 * datasets — making a pipeline's datasets: generated from a task (tasks/gen.h and
 * tasks.h, the same code the workers verify with) or imported from JSONL.
 *
 * JSONL and CSV files are read by rows.h through the dataset's field mapping
 * (fields.h: the keys it accepts, its errors as `FILE:LINE: ...`; a UTF-8 byte-order
 * mark at the start is skipped); nothing of a file with a bad line is kept: the
 * import runs in one store unit.
 */
#ifndef R1_DATASETS_H
#define R1_DATASETS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct daemon;

/* Create every dataset of the normalised spec's `datasets` for `pipeline`: generated,
 * read from a file, or copied from the shared dataset a `shared: NAME` names (an
 * error naming it when there is none). */
int datasets_materialize(struct daemon *d, int64_t pipeline, const json_t *spec,
	struct err *err);

/* Import the text of a JSONL or CSV file as dataset `name` (pipeline 0: shared),
 * mapped as `source` says (fields.h: its fields, answer, csv and file keys; stored
 * as the dataset's source); `label` names it in errors (the file). *count the
 * records. */
int datasets_import(struct daemon *d, int64_t pipeline, const char *name,
	const char *text, size_t len, const char *label, const json_t *source,
	int64_t *count, struct err *err);

/*
 * A file sent in pieces (r1flow dataset import: each piece stored with blob_put, so
 * no frame carries the whole file): the blobs `parts` names (a JSON array of
 * sha256s), each hashed as it is read (blobs_path), joined in order into *text
 * (malloc'd, *len bytes, at most PROTO_MAX_IMPORT_SIZE: the daemon holds the file in
 * memory while it imports it). With `sha256` (may be NULL) the whole must hash to it.
 * Errors name the part or the mismatch.
 */
int datasets_join_parts(struct daemon *d, const json_t *parts, const char *sha256,
	char **text, size_t *len, struct err *err);

/* Refuse a spec whose data does not fit its model's context (fit.h), over the
 * datasets `pipeline` has now (datasets_materialize first). */
int datasets_fit(struct daemon *d, int64_t pipeline, const json_t *spec, struct err *err);

#endif
