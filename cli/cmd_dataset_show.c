/*
 * r1flow dataset show — records of a dataset: as the daemon stores them (after the
 * import's field mapping, tasks/fields.h), or with --templated as a stage of a spec
 * gives them to the model (tasks/templated.h: the template applied, a chat rendered,
 * decoded from the very ids the stage packs, with their token count), so the data can
 * be checked before a run.
 *
 * Daemon op (control.h): dataset_show {name, id?, offset, limit <= 10000} ->
 * {name, count, records: [{idx, prompt?, answer?, response?, text?, meta?, messages?,
 * record?}]}.
 *
 * With --templated the spec (--spec FILE, loaded as validate loads it) gives the stage
 * (--stage, else the first stage reading the dataset), its template and chat format,
 * and the tokenizer (the spec's model; a model from another pipeline is not known
 * before it runs). The records come from the spec itself when it generates the
 * dataset or reads it from a file (no daemon needed), else from the daemon (a shared
 * dataset, or with --pipeline a pipeline's own).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "file.h"
#include "spec.h"
#include "spec_data.h"
#include "templated.h"
#include "utf8.h"

#define DATASET_PAGE 10000 /* records per dataset_show request (the daemon's max) */

/* The record fields, in the order they are shown. */
static const char *const show_fields[] = { "prompt", "answer", "response", "text", "meta",
	"messages", "record" };
#define SHOW_NFIELDS (sizeof show_fields / sizeof show_fields[0])

/* One field of a shown record: "  prompt    12+34=", later lines indented alike. */
static void show_field(const char *key, const json_t *v)
{
	char *dumped = NULL;
	const char *s;
	if (json_is_string(v)) {
		s = json_string_value(v);
		if (!s[0])
			s = "\"\"";
	} else {
		dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		s = dumped ? dumped : "?";
	}
	printf("  %-8s  ", key);
	for (; *s; s++) {
		putchar(*s);
		if (*s == '\n' && s[1])
			printf("  %-8s  ", "");
	}
	if (s[-1] != '\n')
		putchar('\n');
	free(dumped);
}

/* The daemon's dataset_show reply for records offset.. (limit of them), or NULL. */
static json_t *show_ask(const char *verb, const struct client_addr *addr, const char *name,
	int64_t pipeline, int offset, int limit)
{
	json_t *req = json_pack("{ss so sI sI}", "op", "dataset_show", "name", utf8_jstring(name),
		"offset", (json_int_t)offset, "limit", (json_int_t)limit);
	if (req && pipeline)
		json_object_set_new(req, "id", json_integer(pipeline));
	return client_ask(verb, addr, req);
}

/* The stage of the spec that shows the records: `want`, else the first reading `name`. */
static const json_t *show_stage(const char *verb, const json_t *spec, const char *file,
	const char *want, const char *name)
{
	size_t i;
	json_t *each, *st = NULL;
	json_array_foreach(json_object_get(spec, "stages"), i, each) {
		const char *sn = json_string_value(json_object_get(each, "name"));
		const char *ds = templated_dataset(each);
		if (!st && (want ? !strcmp(sn, want) : ds && !strcmp(ds, name)))
			st = each;
	}
	if (st && templated_dataset(st))
		return st;
	if (st)
		cli_error(verb, "%s: stage '%s' (%s) reads no records", file, want,
			json_string_value(json_object_get(st, "kind")));
	else if (want)
		cli_error(verb, "%s: no stage '%s'", file, want);
	else
		cli_error(verb, "%s: no stage reads dataset '%s': name one with --stage", file, name);
	return NULL;
}

/* Where templated records go: printed for a person, gathered for --json, or written
 * as JSONL lines (dataset export --templated: standard output, or -o's file). */
struct tpl_out {
	enum dataset_templated_mode mode;
	json_t *all;             /* DATASET_TEMPLATED_JSON: the records so far */
	struct file_atomic *fa;  /* DATASET_TEMPLATED_JSONL with -o; else standard output */
};

/* The JSON object of one templated record. */
static json_t *tpl_json(int64_t idx, const struct templated *t, const struct fit_record *r,
	json_t *rec)
{
	json_t *o = json_pack("{sI ss sI}", "idx", (json_int_t)idx, "text", t->text, "tokens",
		(json_int_t)t->tokens);
	if (o && t->trained) {
		json_object_set_new(o, "trained", json_string(t->trained));
		json_object_set_new(o, "trained_tokens", json_integer(t->trained_tokens));
	}
	if (o && r->answer)
		json_object_set_new(o, "answer", json_string(r->answer));
	if (o && rec)
		json_object_set(o, "record", rec);
	return o;
}

static void tpl_print(int64_t idx, const struct templated *t, const struct fit_record *r,
	json_t *rec)
{
	if (t->trained)
		printf("\n#%lld  %lld tokens, %lld trained\n", (long long)idx, (long long)t->tokens,
			(long long)t->trained_tokens);
	else
		printf("\n#%lld  %lld tokens\n", (long long)idx, (long long)t->tokens);
	json_t *v = json_string(t->text);
	show_field("model", v ? v : json_null());
	json_decref(v);
	if (t->trained) {
		v = json_string(t->trained);
		show_field("trained", v ? v : json_null());
		json_decref(v);
	}
	if (r->answer) {
		v = json_string(r->answer);
		show_field("answer", v ? v : json_null());
		json_decref(v);
	}
	if (rec)
		show_field("record", rec);
}

/* One record through the stage, to out. */
static int tpl_one(const json_t *spec, const json_t *st, struct tokenizer *tok, int64_t idx,
	struct fit_record *r, struct tpl_out *out, struct err *err)
{
	struct templated t;
	int rc = 0;
	if (templated_record(spec, st, tok, r, &t, err) < 0)
		return err_wrap(err, "record %lld%s%s%s", (long long)idx, *r->where ? " (" : "",
			r->where, *r->where ? ")" : "");
	json_error_t jerr;
	json_t *rec = r->record ? json_loads(r->record, 0, &jerr) : NULL;
	if (out->mode == DATASET_TEMPLATED_HUMAN) {
		tpl_print(idx, &t, r, rec);
	} else {
		json_t *o = tpl_json(idx, &t, r, rec);
		char *line = o && out->mode == DATASET_TEMPLATED_JSONL ? json_dumps(o, JSON_COMPACT) :
			NULL;
		if (!o || (out->mode == DATASET_TEMPLATED_JSONL && !line))
			rc = err_set(err, ERR_NOMEM, "out of memory");
		else if (out->mode == DATASET_TEMPLATED_JSON)
			json_array_append(out->all, o);
		else if (out->fa)
			rc = file_atomic_write(out->fa, line, strlen(line), err) < 0 ||
				file_atomic_write(out->fa, "\n", 1, err) < 0 ? -1 : 0;
		else if (puts(line) == EOF)
			rc = err_set(err, ERR_IO, "cannot write 'standard output': %s", strerror(errno));
		free(line);
		json_decref(o);
	}
	json_decref(rec);
	templated_release(&t);
	return rc;
}

/* A record of the daemon's reply as fit.h's record (its strings borrowed from o;
 * messages and record dumped into *messages and *record, which the caller frees). */
static void show_record(const json_t *o, struct fit_record *r, char **messages, char **record)
{
	memset(r, 0, sizeof *r);
	r->prompt = json_string_value(json_object_get(o, "prompt"));
	r->response = json_string_value(json_object_get(o, "response"));
	r->text = json_string_value(json_object_get(o, "text"));
	r->answer = json_string_value(json_object_get(o, "answer"));
	*messages = json_object_get(o, "messages") ? json_dumps(json_object_get(o, "messages"),
		JSON_COMPACT) : NULL;
	*record = json_object_get(o, "record") ? json_dumps(json_object_get(o, "record"),
		JSON_COMPACT) : NULL;
	r->messages = *messages;
	r->record = *record;
}

int dataset_templated(const char *verb, const struct client_addr *addr, const char *name,
	const char *spec_file, const char *stage, int64_t pipeline, int64_t offset,
	int64_t limit, enum dataset_templated_mode mode, const char *path)
{
	json_t *spec = NULL, *reply = NULL;
	const json_t *st = NULL;
	struct err e = { 0 };
	struct tokenizer tok;
	struct spec_data sd = { 0 };
	struct file_atomic fa = { .fd = -1 };
	struct tpl_out out = { mode, mode == DATASET_TEMPLATED_JSON ? json_array() : NULL, NULL };
	int max_seq, have_tok = 0, rc = CLI_EXIT_FAIL, known;
	int64_t count = 0, page_at = 0, i;
	if (spec_load_file(spec_file, NULL, 0, &spec, &e) < 0)
		goto fail;
	if (!(st = show_stage(verb, spec, spec_file, stage, name)))
		goto out;
	int got = fit_model(spec, &max_seq, &tok, &e);
	if (got < 0)
		goto fail;
	if (got == 0) {
		err_set(&e, ERR_INVALID, "%s: the model comes from another pipeline: its tokenizer "
			"is not known before that pipeline runs", spec_file);
		goto fail;
	}
	have_tok = 1;
	sd.spec = spec;
	if ((known = spec_data_count(&sd, name, &count, &e)) < 0)
		goto fail;
	if (!known) { /* the first page tells the count */
		page_at = offset;
		if (!(reply = show_ask(verb, addr, name, pipeline, offset,
			(int)(limit < DATASET_PAGE ? limit : DATASET_PAGE))))
			goto out;
		count = json_integer_value(json_object_get(reply, "count"));
	}
	int64_t last = limit < count - offset ? offset + limit : count;
	if (path && file_atomic_open(&fa, path, NULL, 0666, &e) < 0)
		goto fail;
	out.fa = path ? &fa : NULL;
	if (mode == DATASET_TEMPLATED_HUMAN) {
		const char *sn = json_string_value(json_object_get(st, "name"));
		const char *kind = json_string_value(json_object_get(st, "kind"));
		if (last <= offset)
			printf("dataset '%s' has %lld record%s: none at offset %lld\n", name,
				(long long)count, count == 1 ? "" : "s", (long long)offset);
		else
			printf("dataset '%s' through stage '%s' (%s): records %lld..%lld of %lld\n", name,
				sn, kind, (long long)offset, (long long)last - 1, (long long)count);
	}
	for (i = offset; i < last; i++) {
		struct fit_record r = { 0 };
		char *messages = NULL, *record = NULL;
		int bad;
		if (reply && i - page_at >= (int64_t)json_array_size(json_object_get(reply,
			"records"))) { /* the next page */
			json_decref(reply);
			page_at = i;
			if (!(reply = show_ask(verb, addr, name, pipeline, (int)i,
				(int)(last - i < DATASET_PAGE ? last - i : DATASET_PAGE))))
				goto out;
			if (!json_array_size(json_object_get(reply, "records"))) {
				err_set(&e, ERR_FORMAT, "the daemon sent no records after %lld of %lld",
					(long long)i, (long long)count);
				goto fail;
			}
		}
		if (reply)
			show_record(json_array_get(json_object_get(reply, "records"),
				(size_t)(i - page_at)), &r, &messages, &record);
		else if (spec_data_get(&sd, name, i, &r, &e) < 0)
			goto fail;
		bad = tpl_one(spec, st, &tok, i, &r, &out, &e) < 0;
		free(messages);
		free(record);
		if (bad)
			goto fail;
	}
	if (mode == DATASET_TEMPLATED_JSON) {
		json_t *o = json_pack("{ss ss sI sO}", "name", name, "stage",
			json_string_value(json_object_get(st, "name")), "count", (json_int_t)count,
			"records", out.all);
		rc = o ? client_print_json(verb, o) : CLI_EXIT_FAIL;
		json_decref(o);
		goto out;
	}
	if (path) {
		if (file_atomic_commit(&fa, true, &e) < 0)
			goto fail;
		printf("exported %lld record%s of dataset '%s' through stage '%s' to %s\n",
			(long long)(last - offset), last - offset == 1 ? "" : "s", name,
			json_string_value(json_object_get(st, "name")), path);
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error(verb, "%s", e.msg);
out:
	file_atomic_abort(&fa);
	spec_data_close(&sd);
	if (have_tok)
		tokenizer_release(&tok);
	json_decref(out.all);
	json_decref(reply);
	json_decref(spec);
	return rc;
}

int cmd_dataset_show(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	const char *pipeline_arg = NULL, *spec_file = NULL, *stage = NULL;
	int offset = 0, limit = 10;
	bool json = false, templated = false;
	const struct opt opts[] = {
		{ "pipeline", OPT_STRING, &pipeline_arg, "ID", 0, 0, 0,
		  "look in pipeline ID's own datasets first (then the shared ones)", "shared only" },
		{ "offset", OPT_INT, &offset, "N", 0, 2147483647, 0,
		  "first record to show (0-based)", NULL },
		{ "limit", OPT_INT, &limit, "N", 1, DATASET_PAGE, 0,
		  "records to show", NULL },
		{ "templated", OPT_FLAG, &templated, NULL, 0, 0, 0,
		  "show what a stage of --spec gives the model: the text and its tokens", NULL },
		{ "spec", OPT_STRING, &spec_file, "FILE", 0, 0, OPT_NONEMPTY,
		  "the pipeline spec whose stage, template and tokenizer --templated uses", NULL },
		{ "stage", OPT_STRING, &stage, "NAME", 0, 0, OPT_NONEMPTY,
		  "the stage of --spec to show the records through",
		  "the first stage reading the dataset" },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"name\", \"count\", \"records\": [{idx, prompt, answer, "
		  "response, text, meta, messages, record}]} as JSON; with --templated {name, "
		  "stage, count, records: [{idx, text, tokens, trained?, trained_tokens?, "
		  "answer?, record?}]}", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "dataset show", .args = "NAME", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Show records of dataset NAME, one block per record: its index, then the\n"
			 "fields it has (prompt, answer, response, text, meta, a chat's messages, and\n"
			 "the record: the keys its file gave it, which rewards receive). A pipeline's\n"
			 "own datasets (the ones its spec generated or read) need --pipeline.\n\n"
			 "With --templated --spec FILE, show each record as a stage of that spec gives\n"
			 "it to the model: 'model' is the exact text (the template applied, a chat\n"
			 "rendered in the stage's chat format, <bos> and <eos> where the tokenizer\n"
			 "puts them), with its token count; an sft stage's 'trained' is the part the\n"
			 "loss covers. The stage is --stage, else the first one reading NAME. A\n"
			 "dataset the spec generates or reads from a file is read here, through its\n"
			 "mapping (no daemon needed); any other comes from the daemon.\n\n"
			 "example: r1flow dataset show test --pipeline 3 --offset 10 --limit 5\n"
			 "example: r1flow dataset show gsm --templated --spec gsm.yaml --limit 2\n\n"
			 "exit status: 0 shown, 1 no such dataset or stage, a record the stage cannot\n"
			 "read, or no daemon, 2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	int64_t pipeline = 0;
	if (pipeline_arg && (pipeline = client_parse_id(pipeline_arg)) < 0)
		return cli_usage_error(verb.name, "--pipeline must be a pipeline id (a positive "
			"integer), got '%s'", pipeline_arg);
	if (templated && !spec_file)
		return cli_usage_error(verb.name, "--templated needs --spec FILE: the pipeline spec "
			"whose stage, template and tokenizer make the text");
	if (!templated && (spec_file || stage))
		return cli_usage_error(verb.name, "--%s goes with --templated", spec_file ? "spec" :
			"stage");
	const char *name = argv[first];
	if (templated)
		return dataset_templated(verb.name, &addr, name, spec_file, stage, pipeline, offset,
			limit, json ? DATASET_TEMPLATED_JSON : DATASET_TEMPLATED_HUMAN, NULL);
	json_t *r = show_ask(verb.name, &addr, name, pipeline, offset, limit);
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json(verb.name, r);
		json_decref(r);
		return rc;
	}
	json_t *records = json_object_get(r, "records");
	long long count = (long long)json_integer_value(json_object_get(r, "count"));
	size_t n = json_array_size(records);
	if (n == 0)
		printf("dataset '%s' has %lld record%s: none at offset %d\n", name, count,
			count == 1 ? "" : "s", offset);
	else
		printf("dataset '%s': records %d..%lld of %lld\n", name, offset,
			(long long)offset + (long long)n - 1, count);
	size_t i;
	json_t *rec;
	json_array_foreach(records, i, rec) {
		printf("\n#%lld\n", (long long)json_integer_value(json_object_get(rec, "idx")));
		for (size_t k = 0; k < SHOW_NFIELDS; k++) {
			json_t *v = json_object_get(rec, show_fields[k]);
			if (v)
				show_field(show_fields[k], v);
		}
	}
	json_decref(r);
	return rc;
}
