#include "rows.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/* Check the CSV header against the mapping: each mapped key is a column. */
static int header_check(struct rows *r, long line, struct err *err)
{
	const struct fields *f = r->f;
	for (int t = 0; t <= FIELD_N; t++) {
		const char *k = t < FIELD_N ? f->key[t] : f->answer_key;
		size_t c = 0;
		if (!k)
			continue;
		while (c < r->ncols && strcmp(r->cols[c], k))
			c++;
		if (c == r->ncols) {
			char cols[200];
			size_t n = 0;
			cols[0] = 0;
			for (c = 0; c < r->ncols && n < sizeof cols; c++)
				n += (size_t)snprintf(cols + n, sizeof cols - n, "%s%s", c ? ", " : "",
					r->cols[c]);
			return err_set(err, ERR_FORMAT, "%s:%ld: no column '%s' (%s%s) in the header: %s",
				r->label, line, k, t < FIELD_N ? "fields." : "answer.field",
				t < FIELD_N ? fields_target_names[t] : "", cols);
		}
	}
	return 0;
}

int rows_open(struct rows *r, const char *text, size_t len, const char *label,
	const struct fields *f, struct err *err)
{
	memset(r, 0, sizeof *r);
	r->text = text;
	r->len = len;
	r->label = label;
	r->f = f;
	if (!f || !f->csv)
		return 0;
	struct csv_row h;
	int got = csv_next(text, len, &r->at, &r->line, label, &h, err);
	if (got <= 0)
		return got < 0 ? -1 : err_set(err, ERR_FORMAT, "%s: no header row", label);
	r->cols = h.field;
	r->ncols = h.n;
	h.field = NULL;
	for (size_t i = 0; i < h.n; i++) {
		json_t *utf8 = json_stringn(r->cols[i], h.len[i]);
		json_decref(utf8);
		int bad = !h.len[i] || strlen(r->cols[i]) != h.len[i] || !utf8;
		if (bad)
			err_set(err, ERR_FORMAT, "%s:%ld: header column %zu is %s", label, h.line, i + 1,
				h.len[i] ? "not UTF-8 text" : "empty (every column needs a name)");
		for (size_t j = 0; j < i && !bad; j++)
			if ((bad = !strcmp(r->cols[i], r->cols[j])))
				err_set(err, ERR_FORMAT, "%s:%ld: header names column '%s' twice", label,
					h.line, r->cols[i]);
		if (bad) {
			free(h.len);
			rows_close(r);
			return -1;
		}
	}
	free(h.len);
	if (header_check(r, h.line, err) < 0) {
		rows_close(r);
		return -1;
	}
	return 0;
}

static int csv_record(struct rows *r, struct jsonl_record *out, long *line, struct err *err)
{
	struct csv_row row;
	int got = csv_next(r->text, r->len, &r->at, &r->line, r->label, &row, err);
	if (got <= 0)
		return got;
	*line = row.line;
	int rc = -1;
	json_t *o = json_object();
	if (row.n != r->ncols) {
		err_set(err, ERR_FORMAT, "%s:%ld: %zu field%s, the header has %zu", r->label, row.line,
			row.n, row.n == 1 ? "" : "s", r->ncols);
		goto out;
	}
	for (size_t i = 0; o && i < row.n; i++) {
		json_t *v = json_stringn(row.field[i], row.len[i]);
		if (!v) {
			err_set(err, ERR_FORMAT, "%s:%ld: column '%s' is not UTF-8 text", r->label,
				row.line, r->cols[i]);
			goto out;
		}
		json_object_set_new(o, r->cols[i], v);
	}
	if (!o) {
		err_set(err, ERR_NOMEM, "%s:%ld: out of memory", r->label, row.line);
		goto out;
	}
	rc = jsonl_record_from(o, r->f, r->label, row.line, out, err) < 0 ? -1 : 1;
out:
	json_decref(o);
	csv_row_release(&row);
	return rc;
}

int rows_next(struct rows *r, struct jsonl_record *out, long *line, struct err *err)
{
	if (r->f && r->f->csv)
		return csv_record(r, out, line, err);
	const char *s;
	size_t n;
	if (!jsonl_next(r->text, r->len, &r->at, &r->line, &s, &n))
		return 0;
	*line = r->line;
	return jsonl_parse(s, n, r->label, r->line, r->f, out, err) < 0 ? -1 : 1;
}

struct rows_pos rows_tell(const struct rows *r)
{
	return (struct rows_pos){ r->at, r->line };
}

void rows_seek(struct rows *r, struct rows_pos p)
{
	r->at = p.at;
	r->line = p.line;
}

void rows_close(struct rows *r)
{
	for (size_t i = 0; i < r->ncols; i++)
		free(r->cols[i]);
	free(r->cols);
	r->cols = NULL;
	r->ncols = 0;
}
