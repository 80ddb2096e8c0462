/* spec_data — see spec_data.h. */
#include "spec_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

void spec_data_close(struct spec_data *f)
{
	if (f->name[0] && !f->generated) {
		rows_close(&f->rows);
		fields_release(&f->f);
	}
	free(f->text);
	free(f->pos);
	jsonl_record_release(&f->j);
	f->text = NULL;
	f->pos = NULL;
	f->name[0] = 0;
}

/* Read every record of a file dataset once, through its mapping: a bad record or
 * mapping is an error here, whatever a stage later reads of it. */
static int spec_data_read(struct spec_data *f, const char *name, const json_t *src,
	const char *file, struct err *err)
{
	char where[300];
	size_t cap = 0;
	long line;
	int got;
	snprintf(where, sizeof where, "dataset '%s'", name);
	if (file_read(file, FILE_READ_ANY, &f->text, &f->len, err) < 0)
		return err_wrap(err, "dataset '%s'", name);
	if (fields_parse(src, where, &f->f, err) < 0)
		return -1;
	if (rows_open(&f->rows, f->text, f->len, file, &f->f, err) < 0) {
		fields_release(&f->f);
		return -1;
	}
	snprintf(f->name, sizeof f->name, "%s", name); /* spec_data_close releases from here */
	f->n = 0;
	for (;;) {
		struct rows_pos at = rows_tell(&f->rows);
		jsonl_record_release(&f->j);
		if ((got = rows_next(&f->rows, &f->j, &line, err)) <= 0)
			break;
		if ((size_t)f->n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct rows_pos *p = realloc(f->pos, cap * sizeof *p);
			if (!p)
				return err_set(err, ERR_NOMEM, "dataset '%s': out of memory", name);
			f->pos = p;
		}
		f->pos[f->n++] = at;
	}
	return got < 0 ? -1 : 0;
}

static int spec_data_open(struct spec_data *f, const char *name, struct err *err)
{
	if (!strcmp(f->name, name))
		return 1;
	spec_data_close(f);
	const json_t *src = json_object_get(json_object_get(f->spec, "datasets"), name);
	const char *file = json_string_value(json_object_get(src, "file"));
	if (!src || json_object_get(src, "shared"))
		return 0; /* made by a stage, or shared in the daemon: checked at submit */
	f->generated = !file;
	if (f->generated) {
		if (gen_parse(src, name, &f->g, err) < 0)
			return -1;
		f->n = f->g.count;
	} else if (spec_data_read(f, name, src, file, err) < 0) {
		spec_data_close(f);
		return -1;
	}
	snprintf(f->name, sizeof f->name, "%s", name);
	return 1;
}

int spec_data_count(void *ctx, const char *name, int64_t *n, struct err *err)
{
	struct spec_data *f = ctx;
	int rc = spec_data_open(f, name, err);
	*n = rc == 1 ? f->n : 0;
	return rc;
}

int spec_data_get(void *ctx, const char *name, int64_t i, struct fit_record *r,
	struct err *err)
{
	struct spec_data *f = ctx;
	long line;
	if (spec_data_open(f, name, err) != 1)
		return err->code ? -1 : err_set(err, ERR_NOTFOUND, "no dataset '%s'", name);
	if (f->generated) {
		if (gen_record(&f->g, i, &f->rec, err) < 0)
			return err_wrap(err, "dataset '%s': record %lld", name, (long long)i);
		r->prompt = f->rec.prompt;
		r->response = gen_response(&f->g, &f->rec);
		r->text = gen_text(&f->g, &f->rec);
		r->answer = f->rec.answer;
		r->where[0] = 0;
		return 0;
	}
	jsonl_record_release(&f->j);
	rows_seek(&f->rows, f->pos[i]);
	if (rows_next(&f->rows, &f->j, &line, err) != 1)
		return err->code ? -1 : err_set(err, ERR_NOTFOUND, "dataset '%s' has no record %lld",
			name, (long long)i);
	r->prompt = f->j.prompt;
	r->response = f->j.response;
	r->text = f->j.text;
	r->messages = f->j.messages;
	r->answer = f->j.answer;
	r->record = f->j.record;
	snprintf(r->where, sizeof r->where, "%s:%ld", f->rows.label, line);
	return 0;
}

/* Read every file dataset of the spec through its mapping (fit_check reads only those
 * a stage uses, and only when the model is known). */
int spec_data_check_files(const json_t *spec, struct err *err)
{
	const char *name;
	json_t *src;
	json_object_foreach(json_object_get(spec, "datasets"), name, src) {
		if (!json_object_get(src, "file"))
			continue;
		struct spec_data f = { .spec = spec };
		int64_t n;
		int rc = spec_data_count(&f, name, &n, err);
		spec_data_close(&f);
		if (rc < 0)
			return -1;
	}
	return 0;
}

