/*
 * r1flow report — the eval table of a pipeline: one row per eval stage (base vs
 * R1-Zero vs R1 when the spec has those), from the daemon's `report` op:
 *   {pipeline: {id, name, state}, rows: [{stage, from, state, metrics: {pass1,
 *    pass1_sampled, majk, format, reasoning, length, reward, ...}}]}
 *
 * An eval over several datasets has a row for all of them, then one per dataset
 * (STAGE/DATASET, from its metrics NAME/DATASET).
 *
 * Columns: stage, from (the stage whose weights were evaluated), greedy pass@1,
 * sampled pass@1, maj@k, format rate, reasoning rate (shares, shown as percentages
 * with one decimal) and mean answer length in tokens. A metric the row lacks (no
 * sampled answers, a stage not run yet) shows as "-". --markdown prints the same
 * table as GitHub markdown, for a README.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "view.h"

#define REPORT_COLS 8

struct report_col {
	const char *title;  /* column header */
	const char *key;    /* metric name; NULL: stage or from */
	bool percent;       /* a share in [0, 1], shown as "12.5%" */
};

static const struct report_col report_cols[REPORT_COLS] = {
	{ "stage", NULL, false },
	{ "from", NULL, false },
	{ "greedy pass@1", "pass1", true },
	{ "sampled pass@1", "pass1_sampled", true },
	{ "maj@k", "majk", true },
	{ "format", "format", true },
	{ "reasoning", "reasoning", true },
	{ "length", "length", false },
};

/* Cell `col` of `row` as text. */
static void report_cell(char *buf, size_t cap, const json_t *row, int col)
{
	if (col == 0) {
		const char *stage = json_string_value(json_object_get(row, "stage"));
		const char *state = json_string_value(json_object_get(row, "state"));
		if (state && strcmp(state, "succeeded") != 0)
			snprintf(buf, cap, "%s (%s)", stage ? stage : "?", state);
		else
			snprintf(buf, cap, "%s", stage ? stage : "?");
		return;
	}
	if (col == 1) {
		const char *from = json_string_value(json_object_get(row, "from"));
		snprintf(buf, cap, "%s", from ? from : "-");
		return;
	}
	const json_t *v = json_object_get(json_object_get(row, "metrics"), report_cols[col].key);
	if (!json_is_number(v))
		snprintf(buf, cap, "-");
	else if (report_cols[col].percent)
		snprintf(buf, cap, "%.1f%%", 100.0 * json_number_value(v));
	else
		snprintf(buf, cap, "%.1f", json_number_value(v));
}

/*
 * The rows as shown: an eval over several datasets is followed by a row per dataset,
 * "STAGE/DATASET", from its metrics NAME/DATASET (metric name order). A new array.
 */
static json_t *report_rows(const json_t *rows)
{
	json_t *out = json_array(), *row;
	size_t i;
	json_array_foreach(rows, i, row) {
		const json_t *m = json_object_get(row, "metrics");
		const char *key;
		json_t *v;
		json_array_append(out, row);
		json_object_foreach((json_t *)m, key, v) {
			if (strncmp(key, "pass1/", 6) != 0)
				continue;
			const char *ds = key + 6, *k;
			json_t *sub = json_object(), *x;
			char name[256];
			json_object_foreach((json_t *)m, k, x) {
				const char *slash = strchr(k, '/');
				if (slash && !strcmp(slash + 1, ds))
					json_object_setn(sub, k, (size_t)(slash - k), x);
			}
			snprintf(name, sizeof name, "%s/%s", json_string_value(json_object_get(row,
				"stage")), ds);
			json_array_append_new(out, json_pack("{ss sO* sO* so}", "stage", name, "from",
				json_object_get(row, "from"), "state", json_object_get(row, "state"),
				"metrics", sub));
		}
	}
	return out;
}

static void report_markdown(const json_t *reply_rows)
{
	json_t *rows = report_rows(reply_rows);
	for (int c = 0; c < REPORT_COLS; c++)
		printf("| %s ", report_cols[c].title);
	printf("|\n");
	for (int c = 0; c < REPORT_COLS; c++)
		printf("|%s", c < 2 ? ":---" : "---:");
	printf("|\n");
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		for (int c = 0; c < REPORT_COLS; c++) {
			char cell[256];
			report_cell(cell, sizeof cell, row, c);
			printf("| %s ", cell);
		}
		printf("|\n");
	}
	json_decref(rows);
}

/* Cell text in column c of the plain table: names left-aligned, numbers right. */
static void report_pad(const char *text, int width, int c)
{
	if (c < 2)
		printf("%-*s  ", width, text);
	else
		printf("%*s%s", width, text, c + 1 < REPORT_COLS ? "  " : "\n");
}

/*
 *   pipeline 3 'sft-arithmetic' (succeeded)
 *   STAGE      FROM  GREEDY PASS@1  SAMPLED PASS@1  MAJ@K  FORMAT  REASONING  LENGTH
 *   eval_base  base          12.0%            9.5%  14.0%    0.0%       0.0%    11.2
 */
void report_table(const json_t *reply)
{
	const json_t *p = json_object_get(reply, "pipeline");
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *state = json_string_value(json_object_get(p, "state"));
	long long id = (long long)json_integer_value(json_object_get(p, "id"));
	printf("pipeline %lld '%s' (%s)\n", id, name ? name : "?", state ? state : "?");
	if (json_array_size(json_object_get(reply, "rows")) == 0) {
		printf("no eval stages: add a stage of kind eval to the spec to get a report\n");
		return;
	}
	json_t *rows = report_rows(json_object_get(reply, "rows"));
	int width[REPORT_COLS];
	char title[64];
	for (int c = 0; c < REPORT_COLS; c++)
		width[c] = (int)strlen(report_cols[c].title);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		for (int c = 0; c < REPORT_COLS; c++) {
			char cell[256];
			report_cell(cell, sizeof cell, row, c);
			if ((int)strlen(cell) > width[c])
				width[c] = (int)strlen(cell);
		}
	}
	for (int c = 0; c < REPORT_COLS; c++) {
		size_t k;
		for (k = 0; report_cols[c].title[k] && k + 1 < sizeof title; k++) {
			char ch = report_cols[c].title[k];
			title[k] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
		}
		title[k] = '\0';
		report_pad(title, width[c], c);
	}
	json_array_foreach(rows, i, row) {
		for (int c = 0; c < REPORT_COLS; c++) {
			char cell[256];
			report_cell(cell, sizeof cell, row, c);
			report_pad(cell, width[c], c);
		}
	}
	json_decref(rows);
}

int cmd_report(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false, markdown = false;
	const struct opt opts[] = {
		{ "markdown", OPT_FLAG, &markdown, NULL, 0, 0, 0,
		  "print the table as GitHub markdown", NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"pipeline\", \"rows\": [{stage, from, state, metrics}]} "
		  "as JSON (every metric, all digits)", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "report", .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Print the eval table of pipeline ID: one row per eval stage with the\n"
			 "stage it evaluated (from), greedy pass@1, sampled pass@1, maj@k, format rate,\n"
			 "reasoning rate (answers whose <think> part is not blank) and mean answer\n"
			 "length in tokens. An eval over several datasets has a row over all of them,\n"
			 "then one per dataset (STAGE/DATASET). Shares are percentages; '-' marks a\n"
			 "metric the stage did not measure (no samples) or has not measured yet.\n\n"
			 "example: r1flow report 3 --markdown >> README.md\n\n"
			 "exit status: 0 printed (also with no eval stages), 1 no such pipeline or no\n"
			 "daemon, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	if (json && markdown)
		return cli_usage_error("report", "--json and --markdown do not go together");
	json_t *r = client_ask("report", &addr, json_pack("{ss sI}", "op", "report", "id",
		(json_int_t)id));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("report", r);
	else if (markdown)
		report_markdown(json_object_get(r, "rows"));
	else
		report_table(r);
	json_decref(r);
	return rc;
}
