/*
 * spec_data — the records of a spec's own datasets, read without a daemon: generated
 * (gen.h) or a JSONL or CSV file read through its mapping (rows.h, fields.h). A fit.h
 * source (spec_data_count, spec_data_get) for `r1flow validate`, and the records
 * `r1flow dataset show --spec` shows. One dataset is open at a time; a file is read
 * whole when opened, so a bad record anywhere in it is an error naming FILE:LINE.
 * Datasets shared in a daemon or made by a stage are not known here (count: 0).
 */
#ifndef R1_CLI_SPEC_DATA_H
#define R1_CLI_SPEC_DATA_H

#include <jansson.h>
#include <stdint.h>

#include "fields.h"
#include "fit.h"
#include "gen.h"
#include "jsonl.h"
#include "rows.h"

struct spec_data {
	const json_t *spec;      /* the normalised spec (borrowed) */
	char name[256];          /* the open dataset; "" none */
	int generated;
	struct gen g;
	struct task_record rec;
	char *text;              /* a dataset file's bytes */
	size_t len;
	struct fields f;         /* its mapping */
	struct rows rows;
	struct rows_pos *pos;    /* where each record starts */
	int64_t n;
	struct jsonl_record j;   /* the record last parsed */
};

/* 1 and *n records of dataset `name`, 0 when the spec does not make it, -1 and err. */
int spec_data_count(void *ctx, const char *name, int64_t *n, struct err *err);
/* Record i of `name` (with answer and record), valid until the next call. */
int spec_data_get(void *ctx, const char *name, int64_t i, struct fit_record *r,
	struct err *err);
void spec_data_close(struct spec_data *f);

/* Read every file dataset of the spec through its mapping. */
int spec_data_check_files(const json_t *spec, struct err *err);

#endif
