/*
 * r1flow samples — what the model wrote at one step of an RL or eval stage, from the
 * daemon's `samples` op:
 *   {stage, step, sampling (eval: "greedy" or "sampled"), samples: [{step, idx,
 *    record, dataset, prompt, answer, text, tokens, rewards: {COMPONENT: value, ...,
 *    total}, correct, advantage (not for eval), finish}]}
 * (samples in idx order; step is the latest one unless asked for; dataset, prompt,
 * answer and correct only where recorded).
 *
 * Human output groups the samples by prompt: each run of samples of the same
 * prompt record (a GRPO group) gets a header line, its prompt and reference answer,
 * then two lines per sample — its numbers and text, then its reward components:
 *
 *   stage 'zero' of pipeline 3, step 3: 16 samples
 *   step 3 · record 41 · dataset train
 *     prompt  4+5
 *     answer  9
 *     #0   reward  1.00  adv  +0.87  right  stop      12 tok  4+5=9</think><answer>9</answer>
 *          accuracy 1
 *
 * Texts are shown on one line: a line break as ⏎, a tab as \t, other control bytes
 * and bytes that are not UTF-8 as \xNN; cut at SAMPLES_TEXT_MAX characters with ….
 * --json prints the reply unchanged.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "utf8.h"

#define SAMPLES_TEXT_MAX 120   /* characters of a sample's text on its line */

/*
 * One character of `s` (n bytes left) as shown: *len the bytes it takes, *width the
 * characters it shows as; `esc` is what to print instead of the bytes ("" for them).
 */
static void samples_char(const unsigned char *s, size_t n, char esc[8], size_t *len,
	size_t *width)
{
	int bad = utf8_decode((const char *)s, n, len) < 0;
	*width = 1;
	esc[0] = '\0';
	if (s[0] == '\n') {
		snprintf(esc, 8, "%s", "\u23ce");
	} else if (s[0] == '\t') {
		snprintf(esc, 8, "\\t");
		*width = 2;
	} else if (bad || s[0] < 0x20 || s[0] == 0x7f) {
		snprintf(esc, 8, "\\x%02x", s[0]);
		*width = 4;
		*len = 1;
	}
}

/* `text` on one line of at most SAMPLES_TEXT_MAX characters (see the header). */
static void samples_print_text(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), total = 0, shown = 0, len, width;
	char esc[8];
	for (size_t i = 0; i < n; i += len) {
		samples_char(s + i, n - i, esc, &len, &width);
		total += width;
	}
	/* cut: room for the … */
	size_t room = total > SAMPLES_TEXT_MAX ? SAMPLES_TEXT_MAX - 1 : SAMPLES_TEXT_MAX;
	for (size_t i = 0; i < n; i += len) {
		samples_char(s + i, n - i, esc, &len, &width);
		if (shown + width > room)
			break;
		if (esc[0])
			fputs(esc, stdout);
		else
			fwrite(s + i, 1, len, stdout);
		shown += width;
	}
	if (total > SAMPLES_TEXT_MAX)
		fputs("\u2026", stdout);
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* A sample's reward components but the total, under its line: "accuracy 1 · fmt 0". */
static void samples_components(const json_t *rewards, int iw)
{
	const char *name;
	const json_t *v;
	int any = 0;
	json_object_foreach((json_t *)rewards, name, v) {
		if (!strcmp(name, "total"))
			continue;
		printf("%s", any ? " \u00b7 " : "");
		if (!any)
			printf("  %*s  ", iw + 1, "");
		any = 1;
		for (const char *c = name; *c; c++) /* a name is [a-z0-9_]: nothing to escape */
			putchar(*c >= 0x20 && *c != 0x7f ? *c : '?');
		if (json_is_number(v))
			printf(" %.4g", json_number_value(v));
		else
			fputs(" -", stdout);
	}
	if (any)
		putchar('\n');
}

/* The samples grouped by prompt record; see the header. */
static void samples_list(const json_t *r, int64_t id)
{
	const char *stage = json_string_value(json_object_get(r, "stage"));
	const json_t *list = json_object_get(r, "samples");
	size_t n = json_array_size(list);
	if (n == 0) {
		json_int_t step = json_integer_value(json_object_get(r, "step"));
		if (step >= 0)
			printf("stage '%s' of pipeline %lld has no samples at step %lld\n",
				stage ? stage : "?", (long long)id, (long long)step);
		else
			printf("stage '%s' of pipeline %lld has no samples yet\n", stage ? stage : "?",
				(long long)id);
		return;
	}
	const char *sampling = json_string_value(json_object_get(r, "sampling"));
	printf("stage '%s' of pipeline %lld, step %lld%s%s%s: %zu sample%s\n", stage ? stage : "?",
		(long long)id, (long long)json_integer_value(json_object_get(r, "step")),
		sampling ? " (" : "", sampling ? sampling : "", sampling ? ")" : "", n,
		n == 1 ? "" : "s");
	int iw = 1;
	for (size_t k = json_integer_value(json_object_get(json_array_get(list, n - 1), "idx"));
		k >= 10; k /= 10)
		iw++;
	json_int_t prev_step = -1, prev_record = -1;
	const char *prev_dataset = NULL;
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		json_int_t step = json_integer_value(json_object_get(x, "step"));
		json_int_t record = json_integer_value(json_object_get(x, "record"));
		const char *dataset = json_string_value(json_object_get(x, "dataset"));
		const char *prompt = json_string_value(json_object_get(x, "prompt"));
		const char *answer = json_string_value(json_object_get(x, "answer"));
		if (i == 0 || step != prev_step || record != prev_record ||
			!same(dataset, prev_dataset)) {
			printf("step %lld \u00b7 record %lld", (long long)step, (long long)record);
			if (dataset)
				printf(" \u00b7 dataset %s", dataset);
			putchar('\n');
			if (prompt) {
				fputs("  prompt  ", stdout);
				samples_print_text(prompt);
				putchar('\n');
			}
			if (answer) {
				fputs("  answer  ", stdout);
				samples_print_text(answer);
				putchar('\n');
			}
		}
		prev_dataset = dataset;
		prev_step = step;
		prev_record = record;
		const json_t *total = json_object_get(json_object_get(x, "rewards"), "total");
		const json_t *adv = json_object_get(x, "advantage");
		const char *finish = json_string_value(json_object_get(x, "finish"));
		const char *text = json_string_value(json_object_get(x, "text"));
		char rw[32] = "-", av[32] = "-";
		if (json_is_number(total))
			snprintf(rw, sizeof rw, "%.2f", json_number_value(total));
		if (json_is_number(adv)) {
			double a = round(json_number_value(adv) * 100.0) / 100.0;
			snprintf(av, sizeof av, "%+.2f", a == 0 ? 0.0 : a);   /* no -0.00 */
		}
		const json_t *right = json_object_get(x, "correct");
		printf("  #%-*lld  reward %5s  adv %6s  %-5s  %-6s  %4lld tok  ", iw,
			(long long)json_integer_value(json_object_get(x, "idx")), rw, av,
			json_is_boolean(right) ? json_is_true(right) ? "right" : "wrong" : "-",
			finish ? finish : "-", (long long)json_integer_value(json_object_get(x, "tokens")));
		samples_print_text(text ? text : "");
		putchar('\n');
		samples_components(json_object_get(x, "rewards"), iw);
	}
}

int cmd_samples(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	int step = -1, limit = 1000;
	bool json = false;
	const struct opt opts[] = {
		{ "step", OPT_INT, &step, "N", 0, 2147483647, 0,
		  "the samples of step N", "the latest step" },
		{ "limit", OPT_INT, &limit, "N", 1, 100000, 0,
		  "at most N samples (the first ones, by index)", NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"stage\", \"step\", \"samples\": [{step, idx, record, dataset, "
		  "prompt, answer, text, tokens, rewards, correct, advantage, finish}]} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "samples", .args = "ID STAGE", .min_args = 2, .max_args = 2, .opts = opts,
		.about = "Show what the model wrote at one step of stage STAGE (grpo or eval) of pipeline\n"
			 "ID, grouped by prompt: a 'step S \u00b7 record R \u00b7 dataset D' line per group\n"
			 "with the prompt and the reference answer under it, then per sample a line with\n"
			 "its total reward, its advantage (grpo), right or wrong (the stage's `correct`\n"
			 "reward), why it ended (stop or length), its length in tokens and its text (line\n"
			 "breaks as \u23ce, cut at 120 characters with \u2026), and a line with its reward\n"
			 "components. An eval's step 0 is its greedy answers, step 1 its sampled ones.\n"
			 "--json has the whole texts.\n\n"
			 "example: r1flow samples 3 zero --step 1 --limit 16\n"
			 "         r1flow samples 3 eval_base --step 0\n\n"
			 "exit status: 0 shown (also when the stage has no samples yet), 1 no such\n"
			 "pipeline or stage, or no daemon, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *stage = argv[first + 1];
	if (!*stage)
		return cli_usage_error("samples", "STAGE must be a stage name, got ''");
	json_t *req = json_pack("{ss sI so sI}", "op", "samples", "id", (json_int_t)id, "stage",
		utf8_jstring(stage), "limit", (json_int_t)limit);
	if (req && step >= 0)
		json_object_set_new(req, "step", json_integer(step));
	json_t *r = client_ask("samples", &addr, req);
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("samples", r);
	else
		samples_list(r, id);
	json_decref(r);
	return rc;
}
