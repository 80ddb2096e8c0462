/*
 * r1flow dataset import — a JSONL or CSV file as a shared dataset of the daemon.
 *
 * The file never travels as one frame (a control frame is at most the daemon's
 * --max-control-frame-size, 256 MiB by default): it is read in pieces of --piece-size
 * bytes, each stored on the daemon with blob_put (the daemon's sha256 of the piece
 * must be the one computed here), and then dataset_import names the pieces in order
 * as `parts`, with the whole file's sha256. The daemon joins them, checks the whole,
 * imports it in one unit and drops the pieces. Memory here is one piece, whatever the
 * file's size; stdin ('-') streams the same way.
 *
 * Daemon ops (control.h):
 *   blob_put        one blob frame -> {sha256, size}
 *   dataset_import  {name, file, fields?, answer?, csv?, parts: [sha256...], sha256}
 *                   -> {name, count}; the mapping keys as a spec dataset's (tasks/
 *                   fields.h); a bad line fails the whole import with "FILE:LINE: what
 *                   is wrong". An empty file goes as one empty blob frame instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "client.h"
#include "fields.h"
#include "proto.h"
#include "sha256.h"
#include "utf8.h"

#define DATASET_NAME_MAX 32
#define IMPORT_PIECE (16 << 20) /* default bytes per piece */

/* A dataset name as the daemon accepts it: 1-32 of [a-z0-9_]. */
static bool dataset_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= DATASET_NAME_MAX &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* The mapping options of dataset import as the request's fields, answer and csv keys
 * (fields.h), checked as the daemon will check them; CLI_CONTINUE or a usage error. */
static int dataset_mapping(const char *verb, const struct opt_list *fields,
	const char *answer_field, const char *after, const char *regex, bool csv,
	const char *file, json_t *req)
{
	json_t *map = json_object(), *rule = json_object();
	for (int i = 0; i < fields->n; i++) {
		const char *eq = strchr(fields->v[i], '=');
		if (!eq || eq == fields->v[i] || !eq[1]) {
			json_decref(map);
			json_decref(rule);
			return cli_usage_error(verb, "--field takes FIELD=KEY (e.g. prompt=question), "
				"got '%s'", fields->v[i]);
		}
		char target[64];
		snprintf(target, sizeof target, "%.*s", (int)(eq - fields->v[i]), fields->v[i]);
		if (json_object_get(map, target)) {
			json_decref(map);
			json_decref(rule);
			return cli_usage_error(verb, "--field %s is given twice", target);
		}
		json_object_set_new(map, target, utf8_jstring(eq + 1));
	}
	if (answer_field)
		json_object_set_new(rule, "field", utf8_jstring(answer_field));
	if (after)
		json_object_set_new(rule, "after", utf8_jstring(after));
	if (regex)
		json_object_set_new(rule, "regex", utf8_jstring(regex));
	if (json_object_size(map))
		json_object_set(req, "fields", map);
	if (json_object_size(rule))
		json_object_set(req, "answer", rule);
	json_decref(map);
	json_decref(rule);
	if (csv)
		json_object_set_new(req, "csv", json_true());
	json_object_set_new(req, "file", utf8_jstring(file));
	struct fields f;
	struct err e = { 0 };
	if (fields_parse(req, "mapping", &f, &e) < 0)
		return cli_usage_error(verb, "%s", e.msg);
	fields_release(&f);
	return CLI_CONTINUE;
}

/* The open file `path` ("-": stdin) for reading; NULL and err. */
static FILE *import_open(const char *path, struct err *err)
{
	bool in = strcmp(path, "-") == 0;
	FILE *f = in ? stdin : fopen(path, "rb");
	struct stat st;
	if (!f) {
		err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (!in && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		err_set(err, ERR_INVALID, "'%s' is a directory, not a JSONL file", path);
		return NULL;
	}
	if (!in && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
		st.st_size > PROTO_MAX_IMPORT_SIZE) {
		fclose(f);
		err_set(err, ERR_INVALID, "'%s' is over %lld GiB, the most one import takes: split "
			"it and import the parts under different names", path,
			PROTO_MAX_IMPORT_SIZE >> 30);
		return NULL;
	}
	return f;
}

/*
 * Store the file's pieces on the daemon (blob_put, `piece` bytes each): their
 * sha256s appended to `parts`, the whole file's into `whole`. An empty file stores
 * nothing. -1 and err on a read error, a file over PROTO_MAX_IMPORT_SIZE or a
 * failed or wrong blob_put.
 */
static int import_pieces(struct client *c, FILE *f, const char *label, size_t piece,
	json_t *parts, char whole[SHA256_HEX_SIZE], struct err *err)
{
	char *buf = malloc(piece), hex[SHA256_HEX_SIZE];
	struct sha256 h;
	uint8_t digest[SHA256_DIGEST_SIZE];
	long long total = 0;
	int rc = -1;
	if (!buf)
		return err_set(err, ERR_NOMEM, "cannot read '%s': out of memory", label);
	sha256_init(&h);
	for (;;) {
		size_t n = 0, got;
		while (n < piece && (got = fread(buf + n, 1, piece - n, f)) > 0)
			n += got;
		if (ferror(f)) {
			err_set(err, ERR_IO, "cannot read '%s': %s", label, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (long long)n;
		if (total > PROTO_MAX_IMPORT_SIZE) {
			err_set(err, ERR_INVALID, "'%s' is over %lld GiB, the most one import takes: "
				"split it and import the parts under different names", label,
				PROTO_MAX_IMPORT_SIZE >> 30);
			goto out;
		}
		sha256_update(&h, buf, n);
		sha256_buffer(buf, n, hex);
		json_t *r = client_call_blob(c, json_pack("{ss}", "op", "blob_put"), buf, n, NULL, err);
		if (!r) {
			if (err->errnum == ECONNRESET) /* what libzmq does with a frame over the limit */
				err_set(err, ERR_IO, "the daemon closed the connection on piece %zu of '%s' "
					"(%zu bytes): --piece-size must be less than its "
					"--max-control-frame-size (or it died: see its log)",
					json_array_size(parts) + 1, label, n);
			else
				err_wrap(err, "cannot send piece %zu of '%s'", json_array_size(parts) + 1, label);
			goto out;
		}
		const char *got_sha = json_string_value(json_object_get(r, "sha256"));
		int ok = got_sha && strcmp(got_sha, hex) == 0 &&
			json_integer_value(json_object_get(r, "size")) == (json_int_t)n;
		if (ok)
			json_array_append(parts, json_object_get(r, "sha256"));
		json_decref(r);
		if (!ok) {
			err_set(err, ERR_FORMAT, "piece %zu of '%s' (%zu bytes, sha256 %s) arrived as "
				"something else: the daemon stored %s", json_array_size(parts) + 1, label,
				n, hex, got_sha ? got_sha : "nothing it named");
			goto out;
		}
		if (n < piece)
			break;
	}
	sha256_final(&h, digest);
	sha256_hex(digest, whole);
	rc = 0;
out:
	free(buf);
	return rc;
}

int cmd_dataset_import(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	const char *name = NULL, *answer_field = NULL, *after = NULL, *regex = NULL;
	struct opt_list fields = { .n = 0 };
	bool json = false, csv = false;
	int piece = IMPORT_PIECE;
	const struct opt opts[] = {
		{ "name", OPT_STRING, &name, "NAME", 0, 0, OPT_REQUIRED,
		  "the dataset's name: 1-32 of a-z, 0-9 and _", NULL },
		{ "field", OPT_LIST, &fields, "FIELD=KEY", 0, 0, 0,
		  "read FIELD (prompt, answer, response, text, messages, meta, id) from the "
		  "file's KEY (a CSV column); repeat for more fields", "the fields' own names" },
		{ "answer-field", OPT_STRING, &answer_field, "KEY", 0, 0, OPT_NONEMPTY,
		  "cut the answer out of KEY (with --answer-after or --answer-regex)",
		  "--field answer's key, else answer" },
		{ "answer-after", OPT_STRING, &after, "MARK", 0, 0, OPT_NONEMPTY,
		  "the answer is what follows the last MARK (GSM8K: '####'), trimmed", NULL },
		{ "answer-regex", OPT_STRING, &regex, "RE", 0, 0, OPT_NONEMPTY,
		  "the answer is RE's first group (or whole match), PCRE2 syntax", NULL },
		{ "csv", OPT_FLAG, &csv, NULL, 0, 0, 0,
		  "the file is CSV (RFC 4180, a header row naming the keys)",
		  "when FILE ends in .csv" },
		{ "piece-size", OPT_INT, &piece, "BYTES", 4096, 64 << 20, 0,
		  "send the file in pieces of BYTES (each a message of its own; the daemon's "
		  "--max-control-frame-size must be larger)", "16777216" },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"name\", \"count\"} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "dataset import", .args = "FILE", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Import the JSONL or CSV file FILE ('-': standard input) as the shared\n"
			 "dataset NAME, which any pipeline's spec can then name: 'datasets: {train:\n"
			 "{shared: NAME}}' copies its records into the pipeline at submit as its\n"
			 "dataset 'train'. JSONL: one JSON object per line (blank lines and a UTF-8\n"
			 "byte-order mark are skipped), each one of\n"
			 "  {\"prompt\": ..., \"answer\": ...}                  a problem (RL, eval)\n"
			 "  {\"prompt\": ..., \"response\": ...[, \"answer\"]}    an SFT example\n"
			 "  {\"messages\": [{\"role\": ..., \"content\": ...}]}  a chat (roles system, user,\n"
			 "                                                assistant): rendered whole by\n"
			 "                                                an sft stage's chat_format or\n"
			 "                                                chat_template, else its user\n"
			 "                                                and system turns are the\n"
			 "                                                prompt, the last assistant\n"
			 "                                                turn the response\n"
			 "  {\"text\": ...}                                   a pretraining document\n"
			 "with an optional \"meta\" (any JSON); a numeric answer is taken as text (42).\n"
			 "Other keys are kept with the record and passed to rewards as its 'record'.\n"
			 "A CSV file's header row names the keys. --field maps other key names onto\n"
			 "these fields; --answer-after or --answer-regex cut the answer out of a\n"
			 "longer text (docs/data.md). A bad line, a mapped key a record lacks, an\n"
			 "answer rule that finds nothing fails the whole import with FILE:LINE and\n"
			 "what is wrong; nothing of the file is kept. The file goes to the daemon in\n"
			 "pieces of --piece-size bytes (at most 4 GiB in all), checked by sha256.\n\n"
			 "example: r1flow dataset import data/general.jsonl --name general\n"
			 "example: r1flow dataset import gsm8k.jsonl --name gsm --field prompt=question\n"
			 "         --answer-after '####'\n\n"
			 "exit status: 0 imported, 1 a bad line, a taken name, an unreadable file or\n"
			 "no daemon, 2 usage error (a bad mapping too)",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!dataset_name_ok(name))
		return cli_usage_error(verb.name, "--name must be 1-%d of a-z, 0-9 and _, got '%s'",
			DATASET_NAME_MAX, name);
	const char *file = argv[first];
	const char *label = strcmp(file, "-") == 0 ? "stdin" : file;
	json_t *req = json_pack("{ss ss}", "op", "dataset_import", "name", name);
	if (!req)
		return CLI_EXIT_FAIL;
	if ((rc = dataset_mapping(verb.name, &fields, answer_field, after, regex, csv, label,
		req)) != CLI_CONTINUE) {
		json_decref(req);
		return rc;
	}
	struct err e = { 0 };
	struct client c = { 0 };
	json_t *r = NULL, *parts = json_array();
	char whole[SHA256_HEX_SIZE];
	FILE *f = import_open(file, &e);
	rc = CLI_EXIT_FAIL;
	if (!parts)
		err_set(&e, ERR_NOMEM, "out of memory");
	if (!f || !parts || client_open(&c, &addr, &e) < 0 ||
		import_pieces(&c, f, label, (size_t)piece, parts, whole, &e) < 0)
		goto fail;
	/* an empty file goes as one empty frame (the daemon says "no records") */
	bool pieces = json_array_size(parts) > 0;
	if (pieces && (json_object_set(req, "parts", parts) < 0 ||
		json_object_set_new(req, "sha256", json_string(whole)) < 0)) {
		err_set(&e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	r = client_call_blob(&c, req, pieces ? NULL : "", 0, NULL, &e);
	req = NULL;
	if (!r)
		goto fail;
	if (json) {
		rc = client_print_json(verb.name, r);
	} else {
		long long n = (long long)json_integer_value(json_object_get(r, "count"));
		printf("imported %lld record%s from %s as dataset '%s'\n", n, n == 1 ? "" : "s",
			label, name);
		rc = CLI_EXIT_OK;
	}
	goto out;
fail:
	cli_error(verb.name, "%s", e.msg);
out:
	if (f && f != stdin)
		fclose(f);
	json_decref(parts);
	json_decref(req);
	json_decref(r);
	client_close(&c);
	return rc;
}

