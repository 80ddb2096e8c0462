/*
 * csv — the rows of a CSV text (RFC 4180), for CSV datasets (rows.h).
 *
 * Fields are separated by commas, rows by CRLF or LF. A field that starts with '"'
 * is quoted: it runs to the next '"' not doubled, may hold commas, CR, LF and
 * doubled quotes ("" is one '"'), and must be followed by a comma or the row's end.
 * A '"' inside an unquoted field, text after a closing quote and a quote left open
 * at the end are errors naming `LABEL:LINE` (the line where the row starts) and what
 * is wrong. A UTF-8 byte-order mark at the start of the text is skipped; a row that
 * is one empty unquoted field (a blank line) is skipped; a last row without its line
 * end is a row. Bytes are kept as they are (no encoding check: the caller's JSON
 * does that), a CR inside quotes too.
 *
 *   csv_next     the next row of text[0..len) at *at: 1 and the row, 0 at the end,
 *                -1 and err
 *   csv_row_release
 */
#ifndef R1_CSV_H
#define R1_CSV_H

#include <stddef.h>

#include "err.h"

struct csv_row {
	char **field;      /* n NUL-terminated fields (malloc'd) */
	size_t *len;       /* their lengths (a field may hold NUL bytes) */
	size_t n;
	long line;         /* the line the row starts on, 1-based */
};

/* Start with *at = 0 and *line = 0; *line counts the line ends consumed so far.
 * *row is filled on 1 (csv_row_release it), left empty otherwise. */
int csv_next(const char *text, size_t len, size_t *at, long *line, const char *label,
	struct csv_row *row, struct err *err);

void csv_row_release(struct csv_row *row);

#endif
