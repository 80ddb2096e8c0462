/*
 * rows — the records of a dataset file, JSONL (jsonl.h) or CSV (csv.h), read
 * through a mapping (fields.h): the one reader of the daemon's import, `r1flow
 * validate` and `r1flow dataset show --spec`.
 *
 * A CSV file's first row is its header: the keys of the rows after it (unique,
 * non-empty); every row has as many fields as the header, each a string value.
 * A mapped key (fields, answer.field) the header lacks is an error naming the
 * header's line. Errors otherwise as jsonl.h: LABEL:LINE and what is wrong.
 *
 *   rows_open    start reading text[0..len) (borrowed until rows_close)
 *   rows_next    the next record: 1, 0 at the end, -1 and err; *line its line
 *   rows_tell    where the next record starts, for rows_seek to come back to
 *   rows_close
 */
#ifndef R1_ROWS_H
#define R1_ROWS_H

#include <stddef.h>

#include "err.h"
#include "fields.h"
#include "jsonl.h"

struct rows {
	const char *text, *label;
	size_t len, at;
	long line;
	const struct fields *f;
	char **cols;           /* CSV: the header's keys */
	size_t ncols;
};

struct rows_pos {
	size_t at;
	long line;
};

/* f: the mapping (NULL: JSONL, the default); it must outlive r. */
int rows_open(struct rows *r, const char *text, size_t len, const char *label,
	const struct fields *f, struct err *err);
int rows_next(struct rows *r, struct jsonl_record *out, long *line, struct err *err);
struct rows_pos rows_tell(const struct rows *r);
void rows_seek(struct rows *r, struct rows_pos p);
void rows_close(struct rows *r);

#endif
