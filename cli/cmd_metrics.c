/*
 * r1flow metrics — the metrics a pipeline's stages recorded (loss, grad norm, LR,
 * tokens/s, pass@1, ...), from the daemon's `metrics` op:
 *   {stages: [{name, kind, metrics: {NAME: [[step, value], ...]}}]}
 * (stages in spec order, only those with metrics; points in step order).
 *
 * The forms: a summary per stage (steps recorded, then per metric its first, last,
 * min and max value); CSV or JSONL with every point (`stage,step,name,value`, rows of
 * a stage by step, then by metric name); --wide CSV or JSONL with one row per step
 * and one column per metric (below); the reply as JSON; or TensorBoard event files
 * (metrics_tensorboard.c).
 *
 * Wide rows: a stage's steps ascending, stages in spec order. The columns are `stage`
 * (left out when --stage names one), `step`, then every metric name of the stages
 * shown, sorted by byte value; a step without a metric has an empty cell (CSV) or no
 * key (JSONL). Values are written as the narrow forms write them, so both read back
 * the same numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "utf8.h"

/* One point of the CSV, sorted by step, then by the metric's name. */
struct metrics_point {
	int64_t step;
	const char *name;   /* borrowed from the reply */
	const json_t *value;
};

static int metrics_point_cmp(const void *a, const void *b)
{
	const struct metrics_point *x = a, *y = b;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * A value as text for CSV: the shortest that reads back as the same float (metrics
 * are float32 numbers: 0.003 rather than 0.00300000003), 17 digits for a double
 * that is no float; empty for a null (NaN).
 */
static void metrics_value(char *buf, size_t cap, const json_t *v)
{
	if (!json_is_number(v)) {
		snprintf(buf, cap, "%s", "");
		return;
	}
	double x = json_number_value(v);
	bool is_float = (double)(float)x == x;
	for (int digits = 6; digits <= 17; digits++) {
		snprintf(buf, cap, "%.*g", digits, x);
		double back = strtod(buf, NULL);
		if (is_float ? (float)back == (float)x : back == x)
			return;
	}
}

/* A value for the summary, 6 significant digits; "-" for a null. */
static void metrics_short(char *buf, size_t cap, const json_t *v)
{
	if (json_is_number(v))
		snprintf(buf, cap, "%.6g", json_number_value(v));
	else
		snprintf(buf, cap, "-");
}

/* A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void metrics_csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* The points of stage `st` sorted by step, then by name (free them); NULL and a
 * printed error when out of memory. */
static struct metrics_point *metrics_points(const json_t *st, size_t *n)
{
	json_t *metrics = json_object_get(st, "metrics");
	size_t total = 0, k = 0;
	const char *name;
	json_t *series;
	json_object_foreach(metrics, name, series)
		total += json_array_size(series);
	struct metrics_point *pts = calloc(total ? total : 1, sizeof *pts);
	if (!pts) {
		cli_error("metrics", "cannot sort %zu points: out of memory", total);
		return NULL;
	}
	json_object_foreach(metrics, name, series) {
		size_t j;
		json_t *pt;
		json_array_foreach(series, j, pt)
			pts[k++] = (struct metrics_point){
				json_integer_value(json_array_get(pt, 0)), name,
				json_array_get(pt, 1) };
	}
	qsort(pts, k, sizeof *pts, metrics_point_cmp);
	*n = k;
	return pts;
}

/* A string as a JSON string (quotes and escapes) on stdout. */
static void metrics_json_string(const char *s)
{
	json_t *j = json_string(s);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	fputs(text ? text : "\"\"", stdout);
	free(text);
	json_decref(j);
}

static int metrics_csv(const json_t *stages, bool jsonl)
{
	if (!jsonl)
		printf("stage,step,name,value\n");
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st) {
		const char *stage = json_string_value(json_object_get(st, "name"));
		size_t k;
		struct metrics_point *pts = metrics_points(st, &k);
		if (!pts)
			return CLI_EXIT_FAIL;
		for (size_t j = 0; j < k; j++) {
			char v[64];
			metrics_value(v, sizeof v, pts[j].value);
			if (jsonl) {
				printf("{\"stage\": ");
				metrics_json_string(stage ? stage : "");
				printf(", \"step\": %lld, \"name\": ", (long long)pts[j].step);
				metrics_json_string(pts[j].name);
				printf(", \"value\": %s}\n", v[0] ? v : "null");
				continue;
			}
			metrics_csv_field(stage ? stage : "");
			printf(",%lld,", (long long)pts[j].step);
			metrics_csv_field(pts[j].name);
			printf(",%s\n", v);
		}
		free(pts);
	}
	return CLI_EXIT_OK;
}

static int metrics_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every metric name of the stages, sorted, without repeats (free the array, not the
 * names: they are the reply's); NULL and a printed error when out of memory. */
static const char **metrics_columns(const json_t *stages, size_t *n)
{
	size_t total = 0, k = 0, i;
	json_t *st, *series;
	const char *name;
	json_array_foreach(stages, i, st)
		total += json_object_size(json_object_get(st, "metrics"));
	const char **cols = calloc(total ? total : 1, sizeof *cols);
	if (!cols) {
		cli_error("metrics", "cannot sort %zu metric names: out of memory", total);
		return NULL;
	}
	json_array_foreach(stages, i, st)
		json_object_foreach(json_object_get(st, "metrics"), name, series)
			cols[k++] = name;
	qsort(cols, k, sizeof *cols, metrics_name_cmp);
	size_t out = 0;
	for (size_t j = 0; j < k; j++)
		if (out == 0 || strcmp(cols[out - 1], cols[j]))
			cols[out++] = cols[j];
	*n = out;
	return cols;
}

/* One wide row: the points pts[0..n) of one step (sorted by name), under cols. */
static void metrics_wide_row(const char *stage, int64_t step, const struct metrics_point *pts,
	size_t n, const char **cols, size_t ncols, bool jsonl)
{
	size_t p = 0;
	if (jsonl) {
		printf("{");
		if (stage) {
			printf("\"stage\": ");
			metrics_json_string(stage);
			printf(", ");
		}
		printf("\"step\": %lld", (long long)step);
	} else {
		if (stage) {
			metrics_csv_field(stage);
			putchar(',');
		}
		printf("%lld", (long long)step);
	}
	for (size_t c = 0; c < ncols; c++) {
		char v[64] = "";
		bool has = p < n && !strcmp(pts[p].name, cols[c]);
		if (has)
			metrics_value(v, sizeof v, pts[p++].value);
		if (!jsonl) {
			printf(",%s", v);
		} else if (has) {
			printf(", ");
			metrics_json_string(cols[c]);
			printf(": %s", v[0] ? v : "null");
		}
	}
	printf(jsonl ? "}\n" : "\n");
}

static int metrics_wide(const json_t *stages, bool one_stage, bool jsonl)
{
	size_t ncols, i;
	json_t *st;
	const char **cols = metrics_columns(stages, &ncols);
	if (!cols)
		return CLI_EXIT_FAIL;
	if (!jsonl) {
		printf(one_stage ? "step" : "stage,step");
		for (size_t c = 0; c < ncols; c++) {
			putchar(',');
			metrics_csv_field(cols[c]);
		}
		putchar('\n');
	}
	json_array_foreach(stages, i, st) {
		const char *stage = json_string_value(json_object_get(st, "name"));
		size_t n;
		struct metrics_point *pts = metrics_points(st, &n);
		if (!pts) {
			free(cols);
			return CLI_EXIT_FAIL;
		}
		for (size_t a = 0, b; a < n; a = b) {
			for (b = a; b < n && pts[b].step == pts[a].step; b++)
				;
			/* JSONL rows always say their stage: each line stands alone */
			metrics_wide_row(one_stage && !jsonl ? NULL : stage ? stage : "",
				pts[a].step, pts + a, b - a, cols, ncols, jsonl);
		}
		free(pts);
	}
	free(cols);
	return CLI_EXIT_OK;
}

/*
 *   base (pretrain): 8 steps, 1..8
 *     METRIC      FIRST       LAST        MIN         MAX
 *     loss        5.5451      2.3012      2.3012      5.5451
 */
static void metrics_summary(const json_t *stages, int64_t id, const char *only)
{
	if (json_array_size(stages) == 0) {
		if (only)
			printf("stage '%s' of pipeline %lld has no metrics yet\n", only, (long long)id);
		else
			printf("pipeline %lld has no metrics yet\n", (long long)id);
		return;
	}
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st) {
		json_t *metrics = json_object_get(st, "metrics");
		const char *name, *kind = json_string_value(json_object_get(st, "kind"));
		json_t *series;
		int width = 6;
		int64_t lo = INT64_MAX, hi = INT64_MIN, steps = 0;
		json_object_foreach(metrics, name, series) {
			if ((int)strlen(name) > width)
				width = (int)strlen(name);
			size_t n = json_array_size(series);
			if ((int64_t)n > steps)
				steps = (int64_t)n;
			for (size_t j = 0; j < n; j++) {
				int64_t s = json_integer_value(json_array_get(json_array_get(series, j), 0));
				lo = s < lo ? s : lo;
				hi = s > hi ? s : hi;
			}
		}
		if (i > 0)
			putchar('\n');
		const char *sname = json_string_value(json_object_get(st, "name"));
		printf("%s (%s): %lld step%s", sname ? sname : "?", kind ? kind : "?", (long long)steps, steps == 1 ? "" : "s");
		if (steps > 0 && lo == hi)
			printf(", step %lld\n", (long long)lo);
		else if (steps > 0)
			printf(", %lld..%lld\n", (long long)lo, (long long)hi);
		else
			putchar('\n');
		if (steps <= 1) {   /* an eval stage: one value each */
			printf("  %-*s  %s\n", width, "METRIC", "VALUE");
			json_object_foreach(metrics, name, series) {
				char v[64];
				metrics_short(v, sizeof v, json_array_get(json_array_get(series, 0), 1));
				printf("  %-*s  %s\n", width, name, v);
			}
			continue;
		}
		printf("  %-*s  %-12s  %-12s  %-12s  %s\n", width, "METRIC", "FIRST", "LAST", "MIN",
			"MAX");
		json_object_foreach(metrics, name, series) {
			size_t n = json_array_size(series);
			double mn = INFINITY, mx = -INFINITY;
			for (size_t j = 0; j < n; j++) {
				json_t *v = json_array_get(json_array_get(series, j), 1);
				if (!json_is_number(v))
					continue;
				mn = fmin(mn, json_number_value(v));
				mx = fmax(mx, json_number_value(v));
			}
			/* the summary is for reading: 6 digits; CSV and JSON keep all of them */
			char first[64], last[64], smin[64] = "-", smax[64] = "-";
			metrics_short(first, sizeof first, json_array_get(json_array_get(series, 0), 1));
			metrics_short(last, sizeof last, json_array_get(json_array_get(series, n - 1), 1));
			if (mn <= mx) {
				snprintf(smin, sizeof smin, "%.6g", mn);
				snprintf(smax, sizeof smax, "%.6g", mx);
			}
			printf("  %-*s  %-12s  %-12s  %-12s  %s\n", width, name, first, last, smin,
				smax);
		}
	}
}

int cmd_metrics(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	const char *stage = NULL, *tb_dir = NULL;
	bool json = false, csv = false, jsonl = false, wide = false, force = false;
	const struct opt opts[] = {
		{ "stage", OPT_STRING, &stage, "S", 0, 0, 0,
		  "only stage S", "every stage with metrics" },
		{ "csv", OPT_FLAG, &csv, NULL, 0, 0, 0,
		  "print every point as CSV: stage,step,name,value", NULL },
		{ "jsonl", OPT_FLAG, &jsonl, NULL, 0, 0, 0,
		  "print every point as a JSON line: {stage, step, name, value}", NULL },
		{ "wide", OPT_FLAG, &wide, NULL, 0, 0, 0,
		  "with --csv or --jsonl: one row per step, one column per metric", NULL },
		{ "tensorboard", OPT_STRING, &tb_dir, "DIR", 0, 0, OPT_NONEMPTY,
		  "write TensorBoard event files into DIR/ID-NAME/ (tensorboard --logdir DIR)",
		  NULL },
		{ "force", OPT_FLAG, &force, NULL, 0, 0, 0,
		  "with --tensorboard: replace the pipeline's earlier event file", NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"stages\": [{name, kind, metrics: {NAME: [[step, "
		  "value], ...]}}]} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "metrics", .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Show the metrics the stages of pipeline ID recorded: training stages log\n"
			 "loss, grad norm, LR and tokens/s per step; GRPO stages reward, accuracy, KL,\n"
			 "entropy, clip fraction and lengths; eval stages pass@1, maj@k, format rate,\n"
			 "reasoning rate and answer length. By default a summary per stage: how many\n"
			 "steps, and per metric its first, last, min and max value.\n\n"
			 "--csv prints every point (a header, then stage,step,name,value rows), --jsonl\n"
			 "the same as one JSON object per line. With --wide either prints one row per\n"
			 "step instead: columns stage (not with --stage), step, then every metric name\n"
			 "sorted; a metric the step lacks is an empty cell (a missing key in JSONL,\n"
			 "where every line also says its stage). Rows go by stage in spec order, then\n"
			 "by step.\n\n"
			 "--tensorboard DIR writes the scalars as a TensorBoard event file,\n"
			 "DIR/ID-NAME/events.out.tfevents.CREATED.HOST.r1flow-ID (a directory per\n"
			 "pipeline: TensorBoard shows each as a run, so several can be overlaid);\n"
			 "tags are STAGE/METRIC, the step is the stage's step (the RL or optimizer\n"
			 "step; 0 for eval metrics), the wall time when the daemon recorded the point.\n"
			 "An earlier export of the same pipeline there is an error unless --force.\n\n"
			 "example: r1flow metrics 3 --stage base --csv > loss.csv\n"
			 "example: r1flow metrics 3 --stage zero --wide --csv > zero.csv\n"
			 "example: r1flow metrics 3 --tensorboard runs && tensorboard --logdir runs\n\n"
			 "exit status: 0 shown or written (also when nothing is recorded yet), 1 no\n"
			 "such pipeline or stage, no daemon, or the event file exists or cannot be\n"
			 "written, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((int)csv + (int)jsonl + (int)json + (tb_dir != NULL) > 1)
		return cli_usage_error("metrics", "--csv, --jsonl, --json and --tensorboard do not "
			"go together");
	if (wide && !csv && !jsonl)
		return cli_usage_error("metrics", "--wide needs --csv or --jsonl");
	if (force && !tb_dir)
		return cli_usage_error("metrics", "--force goes with --tensorboard");
	if (tb_dir)
		return metrics_tensorboard(&addr, id, stage, tb_dir, force);
	json_t *req = json_pack("{ss sI}", "op", "metrics", "id", (json_int_t)id);
	if (req && stage && json_object_set_new(req, "stage", utf8_jstring(stage)) < 0) {
		json_decref(req);
		req = NULL; /* client_ask says: out of memory */
	}
	json_t *r = client_ask("metrics", &addr, req);
	if (!r)
		return CLI_EXIT_FAIL;
	json_t *stages = json_object_get(r, "stages");
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("metrics", r);
	else if (wide)
		rc = metrics_wide(stages, stage != NULL, jsonl);
	else if (csv || jsonl)
		rc = metrics_csv(stages, jsonl);
	else
		metrics_summary(stages, id, stage);
	json_decref(r);
	return rc;
}
