/*
 * r1flow datasets, r1flow dataset import|export|show|delete — the datasets the daemon
 * keeps: those a pipeline's spec generated or read (a pipeline's own), and shared
 * ones imported from JSONL or CSV (any pipeline's spec can name them).
 *
 * Daemon ops (control.h):
 *   datasets        {id?} -> {datasets: [{id, pipeline, pipeline_name, name, source,
 *                   count, created_at}]}
 *   dataset_import  (cmd_dataset_import.c, which sends the file in pieces)
 *   dataset_show    (cmd_dataset_show.c, which also shows records --templated)
 *   dataset_export  {name, id?, after, max_bytes} -> {name, count, next, records} and
 *                   records after..next-1 as JSONL in a blob frame of about max_bytes
 *                   (at least one record, however long)
 *
 * `dataset export` pages through dataset_export DATASET_PAGE_BYTES at a time, so a
 * dataset of any size leaves in bounded replies, and writes the daemon's lines as
 * they are: one JSON object per line with the fields import reads (prompt, answer,
 * response, text, meta; a chat as its messages; the other keys of the record its file
 * gave it, such as an id), as mapped at import, so an exported file imports back as
 * the same records and exports again byte for byte. A shared dataset is named from a spec by
 * `datasets: {NAME: {shared: SHARED_NAME}}`: submit copies its records into the
 * pipeline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "file.h"
#include "utf8.h"

#define DATASET_PAGE_BYTES (4 << 20) /* JSONL bytes per dataset_export request, about */

/* The --pipeline option's value as a request field: 0 (none) or a pipeline id. */
static int dataset_pipeline(const char *verb, const char *arg, int64_t *id)
{
	*id = 0;
	if (!arg)
		return CLI_CONTINUE;
	*id = client_parse_id(arg);
	if (*id < 0)
		return cli_usage_error(verb, "--pipeline must be a pipeline id (a positive "
			"integer), got '%s'", arg);
	return CLI_CONTINUE;
}

/* A source value: strings bare, the rest as compact JSON. */
static void dataset_source_value(char *buf, size_t cap, const json_t *v)
{
	if (json_is_string(v)) {
		snprintf(buf, cap, "%s", json_string_value(v));
		return;
	}
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
	snprintf(buf, cap, "%s", t ? t : "?");
	free(t);
}

/* How a dataset was made, in a few words: "generate arithmetic style=corpus seed=0"
 * or "file data/general.jsonl"; the count has its own column. */
static void dataset_source(char *buf, size_t cap, const json_t *src)
{
	size_t len = 0;
	buf[0] = '\0';
	const char *lead = json_object_get(src, "generate") ? "generate" :
		json_object_get(src, "file") ? "file" : NULL;
	char v[512];
	if (lead) {
		dataset_source_value(v, sizeof v, json_object_get(src, lead));
		len += (size_t)snprintf(buf, cap, "%s %s", lead, v);
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)src, key, val) {
		if ((lead && strcmp(key, lead) == 0) || strcmp(key, "count") == 0 || len >= cap)
			continue;
		dataset_source_value(v, sizeof v, val);
		len += (size_t)snprintf(buf + len, cap - len, "%s%s=%s", len ? " " : "", key, v);
	}
	if (!buf[0])
		snprintf(buf, cap, "-");
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

/*
 *   NAME    PIPELINE      RECORDS  SOURCE
 *   corpus  3 (tiny)          500  generate arithmetic style=corpus seed=0
 *   mine    - (shared)          3  file mine.jsonl
 */
static void datasets_print(const json_t *list, int64_t pipeline)
{
	if (json_array_size(list) == 0) {
		if (pipeline)
			printf("pipeline %lld has no datasets\n", (long long)pipeline);
		else
			printf("no datasets: import one with 'r1flow dataset import FILE --name NAME', "
				"or submit a pipeline whose spec has datasets\n");
		return;
	}
	int wn = 4, wp = 8, wc = 7;
	size_t i;
	json_t *d;
	char owner[160], count[32];
	json_array_foreach(list, i, d) {
		json_t *p = json_object_get(d, "pipeline");
		if (json_is_integer(p))
			snprintf(owner, sizeof owner, "%lld (%.128s)", (long long)json_integer_value(p),
				str_or(d, "pipeline_name", "?"));
		else
			snprintf(owner, sizeof owner, "- (shared)");
		snprintf(count, sizeof count, "%lld",
			(long long)json_integer_value(json_object_get(d, "count")));
		int a = (int)strlen(str_or(d, "name", "?")), b = (int)strlen(owner),
			c = (int)strlen(count);
		wn = a > wn ? a : wn;
		wp = b > wp ? b : wp;
		wc = c > wc ? c : wc;
	}
	printf("%-*s  %-*s  %*s  %s\n", wn, "NAME", wp, "PIPELINE", wc, "RECORDS", "SOURCE");
	json_array_foreach(list, i, d) {
		json_t *p = json_object_get(d, "pipeline");
		if (json_is_integer(p))
			snprintf(owner, sizeof owner, "%lld (%.128s)", (long long)json_integer_value(p),
				str_or(d, "pipeline_name", "?"));
		else
			snprintf(owner, sizeof owner, "- (shared)");
		char source[1024];
		dataset_source(source, sizeof source, json_object_get(d, "source"));
		printf("%-*s  %-*s  %*lld  %s\n", wn, str_or(d, "name", "?"), wp, owner, wc,
			(long long)json_integer_value(json_object_get(d, "count")), source);
	}
}

int cmd_datasets(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	const char *pipeline_arg = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ "pipeline", OPT_STRING, &pipeline_arg, "ID", 0, 0, 0,
		  "only the datasets of pipeline ID", "all" },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"datasets\": [{id, pipeline, pipeline_name, name, source, "
		  "count, created_at}]} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "datasets", .opts = opts,
		.about = "List the daemon's datasets: shared ones first (imported with 'r1flow\n"
			 "dataset import', usable from any spec), then each pipeline's own (generated\n"
			 "or read as its spec says): name, pipeline, records and how it was made.\n\n"
			 "example: r1flow datasets --pipeline 3\n\n"
			 "exit status: 0 listed, 1 no daemon or it refused, 2 usage error",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	int64_t pipeline;
	if ((rc = dataset_pipeline("datasets", pipeline_arg, &pipeline)) != CLI_CONTINUE)
		return rc;
	json_t *req = json_pack("{ss}", "op", "datasets");
	if (req && pipeline)
		json_object_set_new(req, "id", json_integer(pipeline));
	json_t *r = client_ask("datasets", &addr, req);
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("datasets", r);
	else
		datasets_print(json_object_get(r, "datasets"), pipeline);
	json_decref(r);
	return rc;
}

static int dataset_export(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	const char *pipeline_arg = NULL, *path = NULL, *spec_file = NULL, *stage = NULL;
	bool templated = false;
	const struct opt opts[] = {
		{ "pipeline", OPT_STRING, &pipeline_arg, "ID", 0, 0, 0,
		  "look in pipeline ID's own datasets first (then the shared ones)", "shared only" },
		{ "o", OPT_STRING, &path, "FILE", 0, 0, 0,
		  "write to FILE (replaced only once the export is complete)", "standard output" },
		{ "templated", OPT_FLAG, &templated, NULL, 0, 0, 0,
		  "write what a stage of --spec gives the model, one JSON object per record: "
		  "{idx, text, tokens, trained?, trained_tokens?, answer?, record?}", NULL },
		{ "spec", OPT_STRING, &spec_file, "FILE", 0, 0, OPT_NONEMPTY,
		  "the pipeline spec whose stage, template and tokenizer --templated uses", NULL },
		{ "stage", OPT_STRING, &stage, "NAME", 0, 0, OPT_NONEMPTY,
		  "the stage of --spec", "the first stage reading the dataset" },
		CLIENT_OPTS(&addr),
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "dataset export", .args = "NAME", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Write every record of dataset NAME as JSONL, one object per line with the\n"
			 "fields 'r1flow dataset import' reads (prompt, answer, response, text, meta;\n"
			 "a chat as its messages): an exported file imports back as the same records.\n"
			 "A pipeline's own datasets need --pipeline. With -o the file appears only\n"
			 "when the export is complete. With --templated --spec FILE, each line is\n"
			 "what a stage of that spec gives the model instead (as 'r1flow dataset show\n"
			 "--templated' shows it): the exact text, its tokens, the trained part.\n\n"
			 "example: r1flow dataset export test --pipeline 3 -o test.jsonl\n"
			 "example: r1flow dataset export gsm --templated --spec gsm.yaml -o seen.jsonl\n\n"
			 "exit status: 0 written, 1 no such dataset, a write error or no daemon,\n"
			 "2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	int64_t pipeline;
	if ((rc = dataset_pipeline(verb.name, pipeline_arg, &pipeline)) != CLI_CONTINUE)
		return rc;
	const char *name = argv[first];
	if (path && (!path[0] || strcmp(path, "-") == 0))
		path = NULL;
	if (templated && !spec_file)
		return cli_usage_error(verb.name, "--templated needs --spec FILE: the pipeline spec "
			"whose stage, template and tokenizer make the text");
	if (!templated && (spec_file || stage))
		return cli_usage_error(verb.name, "--%s goes with --templated", spec_file ? "spec" :
			"stage");
	if (templated)
		return dataset_templated(verb.name, &addr, name, spec_file, stage, pipeline, 0,
			INT64_MAX, DATASET_TEMPLATED_JSONL, path);

	struct client c = { 0 };
	struct err e = { 0 };
	struct file_atomic out = { .fd = -1 }; /* with -o: opened at the first page */
	json_t *r = NULL;
	int64_t next = 0, count = -1;
	rc = CLI_EXIT_FAIL;
	if (client_open(&c, &addr, &e) < 0)
		goto fail;
	while (count < 0 || next < count) {
		struct client_blob page = { NULL, 0 };
		json_t *req = json_pack("{ss so sI sI}", "op", "dataset_export", "name", utf8_jstring(name),
			"after", (json_int_t)next, "max_bytes", (json_int_t)DATASET_PAGE_BYTES);
		if (req && pipeline)
			json_object_set_new(req, "id", json_integer(pipeline));
		r = client_call_blob(&c, req, NULL, 0, &page, &e);
		if (!r)
			goto fail;
		count = json_integer_value(json_object_get(r, "count"));
		int64_t to = json_integer_value(json_object_get(r, "next"));
		if (to <= next && next < count) {
			free(page.data);
			err_set(&e, ERR_FORMAT, "the daemon sent no records after %lld of %lld",
				(long long)next, (long long)count);
			goto fail;
		}
		/* the file is opened once the dataset is known to exist */
		if (path && out.fd < 0 && file_atomic_open(&out, path, NULL, 0666, &e) < 0) {
			free(page.data);
			goto fail;
		}
		/* the page is JSONL already, one import line per record */
		int failed = 0;
		if (path)
			failed = page.size && file_atomic_write(&out, page.data, page.size, &e) < 0;
		else if (page.size && fwrite(page.data, 1, page.size, stdout) != page.size)
			failed = err_set(&e, ERR_IO, "cannot write 'standard output': %s",
				strerror(errno));
		free(page.data);
		if (failed)
			goto fail;
		next = to > next ? to : next;
		json_decref(r);
		r = NULL;
	}
	if (path) {
		if (file_atomic_commit(&out, true, &e) < 0)
			goto fail;
		printf("exported %lld record%s of dataset '%s' to %s\n", (long long)next,
			next == 1 ? "" : "s", name, path);
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error(verb.name, "%s", e.msg);
out:
	file_atomic_abort(&out);
	json_decref(r);
	client_close(&c);
	return rc;
}

struct dataset_sub {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;  /* arguments, for `r1flow dataset --help` */
	const char *help;
};

static const struct dataset_sub dataset_subs[] = {
	{ "import", cmd_dataset_import, "FILE --name NAME", "import a JSONL or CSV file as a shared "
	  "dataset" },
	{ "export", dataset_export, "NAME [-o FILE]", "write a dataset's records (or what a stage "
	  "makes of them) as JSONL" },
	{ "show", cmd_dataset_show, "NAME [--templated --spec FILE]", "show some of a dataset's "
	  "records, or what a stage makes of them" },
	{ "delete", cmd_dataset_delete, "NAME [--pipeline ID]", "delete a dataset no running "
	  "pipeline reads" },
};
#define DATASET_NSUBS (sizeof dataset_subs / sizeof dataset_subs[0])

int cmd_dataset(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("dataset", "missing a subcommand: import, export, show or delete");
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		printf("usage: r1flow dataset import|export|show|delete [options] ARGS\n\n"
		       "Move datasets in and out of the daemon: import a JSONL or CSV file as a\n"
		       "shared dataset any spec can name ({shared: NAME}), export a dataset\n"
		       "(shared, or a pipeline's own with --pipeline ID) as JSONL, show some of its\n"
		       "records (--templated: as a stage gives them to the model), delete one no\n"
		       "running pipeline reads. 'r1flow datasets' lists them; 'r1flow dataset\n"
		       "SUBCOMMAND --help' tells more (docs/data.md: bringing your own data).\n\n"
		       "subcommands:\n");
		for (size_t i = 0; i < DATASET_NSUBS; i++)
			printf("  %-6s  %-30s  %s\n", dataset_subs[i].name, dataset_subs[i].usage,
				dataset_subs[i].help);
		printf("\nexample: r1flow dataset import data/general.jsonl --name general\n\n"
		       "exit status: 0 done, 1 failure (a bad line, no such dataset, no daemon),\n"
		       "2 usage error\n");
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < DATASET_NSUBS; i++)
		if (strcmp(sub, dataset_subs[i].name) == 0)
			return dataset_subs[i].fn(argc - 1, argv + 1);
	if (sub[0] == '-')
		return cli_usage_error("dataset", "unknown option '%s' (give a subcommand first: "
			"import, export, show or delete)", sub);
	return cli_usage_error("dataset", "'%s' is not a subcommand: import, export, show or delete", sub);
}
