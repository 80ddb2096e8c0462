/*
 * r1flow gc, r1flow dataset delete — give the daemon's disk space back.
 *
 * Training stages drop their old checkpoints as they go (the spec's
 * keep_checkpoints, daemon/retain.h); `gc` removes the blob files nothing names
 * any more (daemon/gc.h says what "names" covers), and `dataset delete` a dataset
 * no unfinished pipeline reads.
 *
 * Daemon ops: gc {} -> {files, bytes, kept, kept_bytes}; dataset_delete {name, id?}
 * -> {name, pipeline, count}.
 */
#include <stdio.h>

#include "cli.h"
#include "client.h"

/* "1.2 MB" style: bytes in the largest unit that keeps the number >= 1. */
static void gc_size(char *buf, size_t cap, long long bytes)
{
	static const char *const units[] = { "bytes", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%lld bytes", bytes);
	else
		snprintf(buf, cap, "%.1f %s", v, units[u]);
}

int cmd_gc(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"files\", \"bytes\", \"kept\", \"kept_bytes\"} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "gc", .opts = opts,
		.about = "Remove the daemon's blob files (weights, optimizer moments) that nothing\n"
			 "names any more: no checkpoint, no job still to run, no dataset, no stage's\n"
			 "current weights. Training stages already drop their older checkpoints as\n"
			 "they save (the spec's keep_checkpoints, default 2, plus each stage's final\n"
			 "and a GRPO stage's reference); gc finds what is left over, such as a\n"
			 "checkpoint's files after a crash. Safe while pipelines run.\n\n"
			 "example: r1flow gc\n\n"
			 "exit status: 0 done, 1 no daemon or it failed, 2 usage error",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	json_t *r = client_ask("gc", &addr, json_pack("{ss}", "op", "gc"));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json("gc", r);
	} else {
		long long files = (long long)json_integer_value(json_object_get(r, "files"));
		long long kept = (long long)json_integer_value(json_object_get(r, "kept"));
		char freed[32], used[32];
		gc_size(freed, sizeof freed, (long long)json_integer_value(json_object_get(r, "bytes")));
		gc_size(used, sizeof used,
			(long long)json_integer_value(json_object_get(r, "kept_bytes")));
		printf("removed %lld blob file%s (%s freed); %lld in use (%s)\n", files,
			files == 1 ? "" : "s", freed, kept, used);
	}
	json_decref(r);
	return rc;
}

int cmd_dataset_delete(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	const char *pipeline_arg = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ "pipeline", OPT_STRING, &pipeline_arg, "ID", 0, 0, 0,
		  "delete pipeline ID's own dataset NAME", "the shared one" },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"name\", \"pipeline\", \"count\"} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "dataset delete", .args = "NAME", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Delete dataset NAME and its records: the shared one (imported with 'r1flow\n"
			 "dataset import'), or with --pipeline ID that pipeline's own. Refused while a\n"
			 "pipeline that has not finished (queued, running or paused) reads it; the\n"
			 "message names the pipeline. A failed or cancelled pipeline that read it can\n"
			 "no longer be retried: its stages would find no such dataset.\n\n"
			 "example: r1flow dataset delete general\n\n"
			 "exit status: 0 deleted, 1 no such dataset, still in use or no daemon,\n"
			 "2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	int64_t pipeline = 0;
	if (pipeline_arg && (pipeline = client_parse_id(pipeline_arg)) < 0)
		return cli_usage_error(verb.name, "--pipeline must be a pipeline id (a positive "
			"integer), got '%s'", pipeline_arg);
	const char *name = argv[first];
	json_t *req = json_pack("{ss ss}", "op", "dataset_delete", "name", name);
	if (req && pipeline)
		json_object_set_new(req, "id", json_integer(pipeline));
	json_t *r = client_ask(verb.name, &addr, req);
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json(verb.name, r);
	} else {
		long long n = (long long)json_integer_value(json_object_get(r, "count"));
		if (pipeline)
			printf("deleted dataset '%s' of pipeline %lld (%lld record%s)\n", name,
				(long long)pipeline, n, n == 1 ? "" : "s");
		else
			printf("deleted shared dataset '%s' (%lld record%s)\n", name, n,
				n == 1 ? "" : "s");
	}
	json_decref(r);
	return rc;
}
