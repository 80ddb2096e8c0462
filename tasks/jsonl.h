/*
 * jsonl — the records of a JSONL dataset file, read the same way by the daemon (which
 * imports them) and by `r1flow validate` (which checks they fit the model).
 *
 * One JSON object per line (blank lines skipped) with
 *   {"prompt", "answer"}                    a problem (RL prompts, eval sets)
 *   {"prompt", "response"[, "answer"]}      an SFT example
 *   {"messages": [{"role", "content"}, ...]} a chat (checked as chat.h says): kept as
 *                                           compact JSON in `messages` for a chat
 *                                           format, and flattened for the rest — the
 *                                           user and system turns joined by newlines
 *                                           are the prompt, the last assistant turn
 *                                           the response
 *   {"text"}                                a pretraining document
 * and optionally "meta" (any JSON, kept as compact text). A number as the answer is
 * taken as its spelling (fields.h). Other keys are kept in the record's
 * `record` (fields.h: the line's keys, renamed by the mapping), which rewards receive.
 * A mapping (fields.h) says which keys hold these fields and how the answer is cut
 * out. Anything else — not an object, a value of the wrong type, no usable
 * combination, a mapped key missing — is an error naming `LABEL:LINE` (LABEL: the
 * file) and what is wrong.
 *
 *   jsonl_next     the next non-blank line of a text: its bytes and 1-based number
 *                  (a UTF-8 byte-order mark at the start of the text is skipped)
 *   jsonl_parse    one line into a record (owned: jsonl_record_release)
 *   jsonl_record_from  the same for a JSON object (a CSV row, rows.h)
 */
#ifndef R1_JSONL_H
#define R1_JSONL_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

struct fields;

struct jsonl_record {
	char *prompt, *answer, *response, *text; /* NULL where absent */
	char *meta;                              /* compact JSON text or NULL */
	char *messages;                          /* a chat's messages, compact JSON, or NULL */
	char *record;                            /* fields.h's record, compact JSON, or NULL */
};

/* The next line of text[0..len) at or after *at that holds more than blanks: 1 with
 * *line_start, *line_len and *line (its number, counted from the start), 0 at the end.
 * Start with *at = 0 and *line = 0. */
int jsonl_next(const char *text, size_t len, size_t *at, long *line, const char **line_start,
	size_t *line_len);

/* f: the mapping (fields.h), NULL for the default. */
int jsonl_parse(const char *s, size_t n, const char *label, long line,
	const struct fields *f, struct jsonl_record *r, struct err *err);
int jsonl_record_from(json_t *o, const struct fields *f, const char *label, long line,
	struct jsonl_record *r, struct err *err);

void jsonl_record_release(struct jsonl_record *r);

#endif
