/*
 * r1flow metrics — the metrics a pipeline's stages recorded (loss, grad norm, LR,
 * tokens/s, pass@1, ...), from the daemon's `metrics` op:
 *   {stages: [{name, kind, metrics: {NAME: [[step, value], ...]}}]}
 * (stages in spec order, only those with metrics; points in step order).
 *
 * Three forms: a summary per stage (steps recorded, then per metric its first, last,
 * min and max value), CSV with every point (`stage,step,name,value`, rows of a stage
 * by step, then by metric name), or the reply as JSON.
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

static int metrics_csv(const json_t *stages)
{
	printf("stage,step,name,value\n");
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st) {
		const char *stage = json_string_value(json_object_get(st, "name"));
		json_t *metrics = json_object_get(st, "metrics");
		size_t n = 0, k = 0;
		const char *name;
		json_t *series;
		json_object_foreach(metrics, name, series)
			n += json_array_size(series);
		struct metrics_point *pts = calloc(n ? n : 1, sizeof *pts);
		if (!pts) {
			cli_error("metrics", "cannot sort %zu points: out of memory", n);
			return CLI_EXIT_FAIL;
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
		for (size_t j = 0; j < k; j++) {
			char v[64];
			metrics_value(v, sizeof v, pts[j].value);
			metrics_csv_field(stage ? stage : "");
			printf(",%lld,", (long long)pts[j].step);
			metrics_csv_field(pts[j].name);
			printf(",%s\n", v);
		}
		free(pts);
	}
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
	const char *stage = NULL;
	bool json = false, csv = false;
	const struct opt opts[] = {
		{ "stage", OPT_STRING, &stage, "S", 0, 0, 0,
		  "only stage S", "every stage with metrics" },
		{ "csv", OPT_FLAG, &csv, NULL, 0, 0, 0,
		  "print every point as CSV: stage,step,name,value", NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"stages\": [{name, kind, metrics: {NAME: [[step, "
		  "value], ...]}}]} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "metrics", .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Show the metrics the stages of pipeline ID recorded: training stages log\n"
			 "loss, grad norm, LR and tokens/s per step; eval stages pass@1, maj@k, format\n"
			 "rate, reasoning rate and answer length. By default a summary per stage: how\n"
			 "many steps, and per metric its first, last, min and max value. --csv prints\n"
			 "every point (a header, then stage,step,name,value rows) for a plot.\n\n"
			 "example: r1flow metrics 3 --stage base --csv > loss.csv\n\n"
			 "exit status: 0 shown (also when nothing is recorded yet), 1 no such pipeline\n"
			 "or stage, or no daemon, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	if (csv && json)
		return cli_usage_error("metrics", "--csv and --json do not go together");
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
	else if (csv)
		rc = metrics_csv(stages);
	else
		metrics_summary(stages, id, stage);
	json_decref(r);
	return rc;
}
