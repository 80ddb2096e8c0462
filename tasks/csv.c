#include "csv.h"

#include <stdlib.h>
#include <string.h>

/* Append field buf[0..n) to row; -1 when out of memory. */
static int push(struct csv_row *row, const char *buf, size_t n)
{
	char **f = realloc(row->field, (row->n + 1) * sizeof *f);
	if (!f)
		return -1;
	row->field = f;
	size_t *l = realloc(row->len, (row->n + 1) * sizeof *l);
	if (!l)
		return -1;
	row->len = l;
	char *s = malloc(n + 1);
	if (!s)
		return -1;
	memcpy(s, buf, n);
	s[n] = 0;
	row->field[row->n] = s;
	row->len[row->n++] = n;
	return 0;
}

/* Grow *buf to hold *n + 1 more bytes and append c. */
static int put(char **buf, size_t *n, size_t *cap, char c)
{
	if (*n + 1 > *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		char *b = realloc(*buf, ncap);
		if (!b)
			return -1;
		*buf = b;
		*cap = ncap;
	}
	(*buf)[(*n)++] = c;
	return 0;
}

int csv_next(const char *text, size_t len, size_t *at, long *line, const char *label,
	struct csv_row *row, struct err *err)
{
	char *buf = NULL;
	size_t n = 0, cap = 0, i = *at;
	long ln = *line;
	memset(row, 0, sizeof *row);
	if (i == 0 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	for (;;) {
		if (i >= len) {
			*at = i;
			*line = ln;
			free(buf);
			return 0;
		}
		/* a blank line (LF or CRLF alone) is no row */
		if (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
			i += text[i] == '\r' ? 2 : 1;
			ln++;
			continue;
		}
		break;
	}
	row->line = ln + 1;
	for (;;) { /* one field per turn, i at its first byte */
		n = 0;
		int quoted = i < len && text[i] == '"';
		if (quoted) {
			long opened = ln + 1;
			i++;
			for (;;) {
				if (i >= len) {
					err_set(err, ERR_FORMAT, "%s:%ld: a quoted field opened here is not "
						"closed", label, opened);
					goto fail;
				}
				if (text[i] == '"') {
					if (i + 1 < len && text[i + 1] == '"') {
						if (put(&buf, &n, &cap, '"') < 0)
							goto nomem;
						i += 2;
						continue;
					}
					i++;
					break;
				}
				if (text[i] == '\n')
					ln++;
				if (put(&buf, &n, &cap, text[i++]) < 0)
					goto nomem;
			}
		} else {
			while (i < len && text[i] != ',' && text[i] != '\n' &&
				!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
				if (text[i] == '"') {
					err_set(err, ERR_FORMAT, "%s:%ld: a '\"' inside an unquoted field "
						"(quote the whole field and double the quote)", label, ln + 1);
					goto fail;
				}
				if (put(&buf, &n, &cap, text[i++]) < 0)
					goto nomem;
			}
		}
		if (push(row, buf ? buf : "", n) < 0)
			goto nomem;
		if (i >= len)
			break;
		if (text[i] == ',') {
			i++;
			continue;
		}
		if (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
			i += text[i] == '\r' ? 2 : 1;
			ln++;
			break;
		}
		err_set(err, ERR_FORMAT, "%s:%ld: text after a closing quote (a quoted field must "
			"end at a comma or the line's end)", label, ln + 1);
		goto fail;
	}
	free(buf);
	*at = i;
	*line = ln;
	return 1;
nomem:
	err_set(err, ERR_NOMEM, "%s:%ld: out of memory", label, ln + 1);
fail:
	free(buf);
	csv_row_release(row);
	return -1;
}

void csv_row_release(struct csv_row *row)
{
	for (size_t i = 0; i < row->n; i++)
		free(row->field[i]);
	free(row->field);
	free(row->len);
	memset(row, 0, sizeof *row);
}
