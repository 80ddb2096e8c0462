/*
 * r1flow compare — two or more pipelines side by side: their eval tables (the
 * daemon's `report` op) and the final value of each headline metric of their
 * training stages (the `metrics` op), one column per pipeline.
 *
 * Stages are matched by name: a row is a stage and a metric, in the order the stages
 * first appear (the first pipeline's spec order, then stages only later ones have);
 * a pipeline without that stage or metric shows "-".
 *
 *   eval       the report's columns (greedy pass@1, sampled pass@1, maj@k, format,
 *              reasoning as percentages, answer length in tokens), the pooled row
 *              then one per dataset (STAGE/DATASET) as `report` shows them
 *   training   pretrain and sft: loss; grpo: reward mean, accuracy, format, KL,
 *              entropy, clip fraction, mean length; each at the last step recorded,
 *              after a `step` row saying which step that is (a running stage's
 *              is its latest)
 *
 * Text by default (aligned columns, a stage's name on its first row only), or
 * --markdown: the two tables as GitHub markdown, every row complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "names.h"

#define COMPARE_MAX 16   /* pipelines in one comparison */

enum compare_form {
	FORM_G6,        /* 6 significant digits (the summary of `r1flow metrics`) */
	FORM_PERCENT,   /* a share in [0, 1] as "12.5%" (the report's) */
	FORM_FIXED1,    /* one decimal, "11.2" (the report's lengths) */
};

struct compare_metric {
	const char *key;    /* the metric's name */
	const char *title;  /* the row's label */
	enum compare_form form;
};

/* The report's columns (cmd_report.c), one row each. */
static const struct compare_metric eval_metrics[] = {
	{ "pass1", "greedy pass@1", FORM_PERCENT },
	{ "pass1_sampled", "sampled pass@1", FORM_PERCENT },
	{ "majk", "maj@k", FORM_PERCENT }, { "format", "format", FORM_PERCENT },
	{ "reasoning", "reasoning", FORM_PERCENT }, { "length", "length", FORM_FIXED1 },
	{ NULL, NULL, FORM_G6 },
};

static const struct compare_metric train_loss[] = {
	{ "loss", "loss", FORM_G6 }, { NULL, NULL, FORM_G6 },
};

static const struct compare_metric train_grpo[] = {
	{ "reward_mean", "reward_mean", FORM_G6 }, { "accuracy", "accuracy", FORM_G6 },
	{ "format", "format", FORM_G6 }, { "kl", "kl", FORM_G6 },
	{ "entropy", "entropy", FORM_G6 }, { "clip_frac", "clip_frac", FORM_G6 },
	{ "length_mean", "length_mean", FORM_G6 }, { NULL, NULL, FORM_G6 },
};

/* The headline metrics of a training stage's kind; NULL: not a training stage. */
static const struct compare_metric *train_metrics(const char *kind)
{
	if (!kind)
		return NULL;
	if (!strcmp(kind, NAME_STAGE_PRETRAIN) || !strcmp(kind, NAME_STAGE_SFT))
		return train_loss;
	if (!strcmp(kind, NAME_STAGE_GRPO))
		return train_grpo;
	return NULL;
}

/* What one pipeline said. */
struct compare_run {
	int64_t id;
	json_t *report;   /* the report reply */
	json_t *metrics;  /* the metrics reply */
};

/* A table: rows of [stage, metric, value per pipeline...] as JSON strings. */
static int add_row(json_t *table, const char *stage, const char *metric, char cells[][64],
	size_t n)
{
	json_t *row = json_pack("[ss]", stage, metric);
	for (size_t i = 0; row && i < n; i++)
		if (json_array_append_new(row, json_string(cells[i])) < 0) {
			json_decref(row);
			row = NULL;
		}
	return row ? json_array_append_new(table, row) : -1;
}

static void cell_value(char *buf, size_t cap, const json_t *v, enum compare_form form)
{
	if (!json_is_number(v))
		snprintf(buf, cap, "-");
	else if (form == FORM_PERCENT)
		snprintf(buf, cap, "%.1f%%", 100.0 * json_number_value(v));
	else if (form == FORM_FIXED1)
		snprintf(buf, cap, "%.1f", json_number_value(v));
	else
		snprintf(buf, cap, "%.6g", json_number_value(v));
}

/* Append `name` to the array of names unless it is there. */
static int add_name(json_t *names, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(names, i, x)
		if (!strcmp(json_string_value(x), name))
			return 0;
	return json_array_append_new(names, json_string(name));
}

static bool str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && !strcmp(json_string_value(v), s);
}

/* The eval row of stage `stage` in a report, or NULL. */
static const json_t *report_row(const json_t *report, const char *stage)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(report, "rows"), i, row)
		if (str_is(json_object_get(row, "stage"), stage))
			return row;
	return NULL;
}

/* The eval table: per eval stage (and per dataset of it) a row per report column. */
static int eval_table(json_t *table, const struct compare_run *runs, size_t n)
{
	json_t *stages = json_array();
	size_t i, j;
	json_t *row;
	int rc = stages ? 0 : -1;
	for (size_t r = 0; rc == 0 && r < n; r++)
		json_array_foreach(json_object_get(runs[r].report, "rows"), i, row)
			if (json_is_string(json_object_get(row, "stage")) &&
				add_name(stages, json_string_value(json_object_get(row, "stage"))) < 0)
				rc = -1;
	json_t *st;
	json_array_foreach(stages, j, st) {
		const char *stage = json_string_value(st);
		/* the datasets: the suffixes of pass1/DATASET in any pipeline's row */
		json_t *groups = json_pack("[s]", "");
		for (size_t r = 0; groups && r < n; r++) {
			const char *key;
			json_t *v;
			json_object_foreach(json_object_get(report_row(runs[r].report, stage),
				"metrics"), key, v)
				if (!strncmp(key, "pass1/", 6) && add_name(groups, key + 5) < 0)
					rc = -1;
		}
		if (!groups)
			rc = -1;
		json_t *g;
		json_array_foreach(groups, i, g) {
			const char *sfx = json_string_value(g); /* "" or "/DATASET" */
			char label[256];
			snprintf(label, sizeof label, "%s%s", stage, sfx);
			for (const struct compare_metric *m = eval_metrics; rc == 0 && m->key; m++) {
				char cells[COMPARE_MAX][64], key[256];
				snprintf(key, sizeof key, "%s%s", m->key, sfx);
				for (size_t r = 0; r < n; r++)
					cell_value(cells[r], sizeof cells[r], json_object_get(json_object_get(
						report_row(runs[r].report, stage), "metrics"), key), m->form);
				rc = add_row(table, label, m->title, cells, n);
			}
		}
		json_decref(groups);
	}
	json_decref(stages);
	return rc;
}

/* The stage `stage` of a metrics reply, or NULL. */
static const json_t *metrics_stage(const json_t *metrics, const char *stage)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(metrics, "stages"), i, st)
		if (str_is(json_object_get(st, "name"), stage))
			return st;
	return NULL;
}

/* The last point of a series: [step, value], or NULL. */
static const json_t *last_point(const json_t *st, const char *metric)
{
	const json_t *series = json_object_get(json_object_get(st, "metrics"), metric);
	return json_array_get(series, json_array_size(series) - 1);
}

/* The training table: per training stage its last step and headline metrics. */
static int train_table(json_t *table, const struct compare_run *runs, size_t n)
{
	json_t *stages = json_array();
	size_t i, j;
	json_t *st;
	int rc = stages ? 0 : -1;
	for (size_t r = 0; rc == 0 && r < n; r++)
		json_array_foreach(json_object_get(runs[r].metrics, "stages"), i, st)
			if (train_metrics(json_string_value(json_object_get(st, "kind"))) &&
				add_name(stages, json_string_value(json_object_get(st, "name"))) < 0)
				rc = -1;
	json_t *name;
	json_array_foreach(stages, j, name) {
		const char *stage = json_string_value(name);
		const struct compare_metric *ms = NULL;
		char cells[COMPARE_MAX][64];
		for (size_t r = 0; r < n; r++) { /* the step: the last any headline metric has */
			const json_t *s = metrics_stage(runs[r].metrics, stage);
			const struct compare_metric *k = s ? train_metrics(json_string_value(
				json_object_get(s, "kind"))) : NULL;
			long long last = -1;
			for (; k && k->key; k++) {
				const json_t *pt = last_point(s, k->key);
				if (pt && json_integer_value(json_array_get(pt, 0)) > last)
					last = json_integer_value(json_array_get(pt, 0));
			}
			if (!ms && s)
				ms = train_metrics(json_string_value(json_object_get(s, "kind")));
			if (last >= 0)
				snprintf(cells[r], sizeof cells[r], "%lld", last);
			else
				snprintf(cells[r], sizeof cells[r], "-");
		}
		if (rc == 0)
			rc = add_row(table, stage, "step", cells, n);
		/* the rows of the first pipeline's kind; another kind of the same name shows
		 * what it has of them */
		for (const struct compare_metric *m = ms; rc == 0 && m && m->key; m++) {
			for (size_t r = 0; r < n; r++) {
				const json_t *pt = last_point(metrics_stage(runs[r].metrics, stage),
					m->key);
				cell_value(cells[r], sizeof cells[r], json_array_get(pt, 1), m->form);
			}
			rc = add_row(table, stage, m->title, cells, n);
		}
	}
	json_decref(stages);
	return rc;
}

/* Column titles: "stage", "metric", then "#ID NAME" per pipeline. */
static json_t *titles(const struct compare_run *runs, size_t n)
{
	json_t *t = json_pack("[ss]", "stage", "metric");
	for (size_t r = 0; t && r < n; r++) {
		const char *name = json_string_value(json_object_get(json_object_get(
			runs[r].report, "pipeline"), "name"));
		char title[128];
		snprintf(title, sizeof title, "#%lld %s", (long long)runs[r].id, name ? name : "?");
		json_array_append_new(t, json_string(title));
	}
	return t;
}

static void print_markdown(const json_t *head, const json_t *table)
{
	size_t i, c;
	json_t *row, *cell;
	json_array_foreach(head, c, cell)
		printf("| %s ", json_string_value(cell));
	printf("|\n");
	for (c = 0; c < json_array_size(head); c++)
		printf("|%s", c < 2 ? ":---" : "---:");
	printf("|\n");
	json_array_foreach(table, i, row) {
		json_array_foreach(row, c, cell)
			printf("| %s ", json_string_value(cell));
		printf("|\n");
	}
}

/* Aligned text: names left, values right, a stage's name on its first row only. */
static void print_text(const json_t *head, const json_t *table)
{
	size_t ncol = json_array_size(head), i, c;
	int width[COMPARE_MAX + 2] = { 0 };
	json_t *row, *cell;
	for (c = 0; c < ncol; c++)
		width[c] = (int)strlen(json_string_value(json_array_get(head, c)));
	json_array_foreach(table, i, row)
		json_array_foreach(row, c, cell)
			if ((int)strlen(json_string_value(cell)) > width[c])
				width[c] = (int)strlen(json_string_value(cell));
	for (i = 0; i <= json_array_size(table); i++) {
		row = i == 0 ? (json_t *)head : json_array_get(table, i - 1);
		const char *prev = i > 1 ? json_string_value(json_array_get(json_array_get(table,
			i - 2), 0)) : NULL;
		json_array_foreach(row, c, cell) {
			const char *text = json_string_value(cell);
			if (c == 0 && prev && !strcmp(prev, text))
				text = "";
			if (c < 2)
				printf("%-*s  ", width[c], text);
			else
				printf("%*s%s", width[c], text, c + 1 < ncol ? "  " : "\n");
		}
	}
}

int cmd_compare(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool markdown = false;
	const struct opt opts[] = {
		{ "markdown", OPT_FLAG, &markdown, NULL, 0, 0, 0,
		  "print the tables as GitHub markdown", NULL },
		CLIENT_OPTS(&addr),
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "compare", .args = "ID ID...", .min_args = 2, .max_args = COMPARE_MAX,
		.opts = opts,
		.about = "Compare pipelines side by side, one column per pipeline (at most 16):\n"
			 "  eval      each eval stage's row of 'r1flow report' (greedy and sampled\n"
			 "            pass@1, maj@k, format and reasoning rates, answer length), the\n"
			 "            pooled row, then one per dataset (STAGE/DATASET)\n"
			 "  training  each pretrain, sft and grpo stage's last step and the value there\n"
			 "            of its headline metrics: loss; or reward_mean, accuracy, format,\n"
			 "            kl, entropy, clip_frac, length_mean\n"
			 "Stages are matched by name; a pipeline without the stage or the metric\n"
			 "shows '-'. A running pipeline shows what it has so far. The full curves are\n"
			 "in 'r1flow metrics ID --wide --csv' and 'r1flow metrics ID --tensorboard'.\n\n"
			 "example: r1flow compare 3 5 --markdown >> RESULTS.md\n\n"
			 "exit status: 0 shown, 1 no such pipeline or no daemon, 2 usage error",
	};
	int first = 0;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	struct compare_run runs[COMPARE_MAX] = { 0 };
	size_t n = (size_t)(argc - first);
	for (size_t r = 0; r < n; r++) {
		runs[r].id = client_parse_id(argv[first + (int)r]);
		if (runs[r].id < 0)
			return cli_usage_error("compare", "'%s' is not a pipeline id",
				argv[first + (int)r]);
	}
	struct client c;
	struct err err = { 0 };
	json_t *head = NULL, *evals = json_array(), *train = json_array();
	rc = CLI_EXIT_FAIL;
	if (client_open(&c, &addr, &err) < 0)
		goto out;
	for (size_t r = 0; r < n; r++) {
		runs[r].report = client_call(&c, json_pack("{ss sI}", "op", "report", "id",
			(json_int_t)runs[r].id), &err);
		if (!runs[r].report || !(runs[r].metrics = client_call(&c, json_pack("{ss sI}", "op",
			"metrics", "id", (json_int_t)runs[r].id), &err)))
			goto out;
	}
	if (!evals || !train || !(head = titles(runs, n)) || eval_table(evals, runs, n) < 0 ||
		train_table(train, runs, n) < 0) {
		err_set(&err, ERR_NOMEM, "cannot build the tables: out of memory");
		goto out;
	}
	if (markdown) {
		printf("### Eval\n\n");
		if (json_array_size(evals))
			print_markdown(head, evals);
		else
			printf("No eval stages.\n");
		printf("\n### Training: final values\n\n");
		if (json_array_size(train))
			print_markdown(head, train);
		else
			printf("No training stages with metrics.\n");
	} else {
		for (size_t r = 0; r < n; r++) {
			const json_t *p = json_object_get(runs[r].report, "pipeline");
			const char *name = json_string_value(json_object_get(p, "name"));
			const char *state = json_string_value(json_object_get(p, "state"));
			printf("#%lld %s: %s\n", (long long)runs[r].id, name ? name : "?",
				state ? state : "?");
		}
		printf("\neval\n");
		if (json_array_size(evals))
			print_text(head, evals);
		else
			printf("no eval stages\n");
		printf("\ntraining: final values\n");
		if (json_array_size(train))
			print_text(head, train);
		else
			printf("no training stages with metrics\n");
	}
	rc = CLI_EXIT_OK;
out:
	if (rc != CLI_EXIT_OK)
		cli_error("compare", "%s", err.msg);
	client_close(&c);
	for (size_t r = 0; r < n; r++) {
		json_decref(runs[r].report);
		json_decref(runs[r].metrics);
	}
	json_decref(head);
	json_decref(evals);
	json_decref(train);
	return rc;
}
