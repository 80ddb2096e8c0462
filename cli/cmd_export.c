/*
 * r1flow export — a stage's final weights as a Hugging Face model directory:
 *
 *   DIR/config.json          the LlamaForCausalLM config the daemon keeps (pretty)
 *   DIR/model.safetensors    the checkpoint blob, byte for byte
 *
 * The daemon's `checkpoint` op sends {stage, step, sha256, config} and the blob as
 * one frame. The blob is checked against its sha256 and the config against the
 * model core's parser before anything is written; each file is written to a
 * temporary name in DIR, fsync'd and renamed, then DIR itself is fsync'd, so a
 * crash leaves either the old file or the whole new one. DIR is created (with its
 * parents); an existing non-empty DIR is refused unless --force, which replaces the
 * two files and leaves the rest of DIR alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "client.h"
#include "file.h"
#include "run.h"
#include "sha256.h"
#include "utf8.h"

#define EXPORT_PATH_MAX 4096

int export_dir_used(const char *dir, struct err *err)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, ERR_IO, "cannot use '%s': %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(err, ERR_INVALID, "'%s' exists and is not a directory", dir);
	DIR *d = opendir(dir);
	if (!d)
		return err_set(err, ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
	int used = 0;
	struct dirent *e;
	while (!used && (e = readdir(d)))
		used = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return used;
}

/* mkdir -p. */
static int export_mkdirs(const char *dir, struct err *err)
{
	char path[EXPORT_PATH_MAX];
	if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
		return err_set(err, ERR_INVALID, "directory path too long: '%.64s...'", dir);
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			return err_set(err, ERR_IO, "cannot create directory '%s': %s", path,
				strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, ERR_INVALID, "'%s' exists and is not a directory", dir);
	return 0;
}

/* DIR/NAME <- data, atomically and durably; readable by others, like cp's 0666 & ~umask
 * (an exported model is for others to read). */
static int export_write(const char *dir, const char *name, const void *data, size_t size,
	struct err *err)
{
	char path[EXPORT_PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return err_set(err, ERR_INVALID, "path too long: '%.64s...'", dir);
	return file_write_atomic(path, data, size, 0666, err);
}

int export_stage(struct client *c, int64_t id, const char *stage, const char *dir,
	struct export_info *out, struct err *err)
{
	struct client_blob blob = { NULL, 0 };
	char *config = NULL;
	json_t *r;
	int rc = -1;
	r = client_call_blob(c, json_pack("{ss sI so}", "op", "checkpoint", "id", (json_int_t)id,
		"stage", utf8_jstring(stage)), NULL, 0, &blob, err);
	if (!r)
		goto out;

	const char *sha = json_string_value(json_object_get(r, "sha256"));
	json_t *cfg = json_object_get(r, "config");
	if (!blob.data || blob.size == 0) {
		err_set(err, ERR_FORMAT, "the daemon sent no weights for stage '%s'", stage);
		goto out;
	}
	if (sha) {
		char hex[SHA256_HEX_SIZE];
		sha256_buffer(blob.data, blob.size, hex);
		if (strcmp(hex, sha) != 0) {
			err_set(err, ERR_FORMAT, "the weights of stage '%s' do not match their sha256 "
				"(got %.12s, expected %.12s): nothing written", stage, hex, sha);
			goto out;
		}
	}
	config = json_is_object(cfg) ? json_dumps(cfg, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) :
		NULL;
	struct model_config mc;
	if (!config) {
		err_set(err, ERR_FORMAT, "the daemon sent no model config for stage '%s'", stage);
		goto out;
	}
	if (checkpoint_parse_config(config, strlen(config), "config", &mc, err) < 0) {
		err_wrap(err, "stage '%s' has an unusable config", stage);
		goto out;
	}
	size_t len = strlen(config);
	char *text = realloc(config, len + 2);
	if (!text) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	config = text;
	memcpy(config + len, "\n", 2);

	/* the weights first: a directory with a config.json looks like a model */
	if (export_mkdirs(dir, err) < 0 ||
		export_write(dir, "model.safetensors", blob.data, blob.size, err) < 0 ||
		export_write(dir, "config.json", config, len + 1, err) < 0 ||
		file_sync_dir(dir, err) < 0)
		goto out;

	memset(out, 0, sizeof *out);
	out->step = json_integer_value(json_object_get(r, "step"));
	if (sha)
		snprintf(out->sha256, sizeof out->sha256, "%s", sha);
	out->bytes = blob.size;
	rc = 0;
out:
	free(config);
	free(blob.data);
	json_decref(r);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false, force = false;
	const struct opt opts[] = {
		{ "force", OPT_FLAG, &force, NULL, 0, 0, 0,
		  "export into a non-empty DIR: replace its config.json and model.safetensors",
		  NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {id, stage, step, sha256, dir, bytes} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "export", .args = "ID STAGE DIR", .min_args = 3, .max_args = 3, .opts = opts,
		.about = "Write the final weights of stage STAGE of pipeline ID as a Hugging Face\n"
			 "model directory: DIR/config.json (LlamaForCausalLM) and DIR/model.safetensors\n"
			 "(HF Llama tensor names), as 'r1flow sample' and 'r1flow score' read them.\n"
			 "DIR is created; a non-empty DIR is refused unless --force. The weights are checked against their sha256 before writing, and\n"
			 "each file is written under a temporary name and renamed into place.\n\n"
			 "example: r1flow export 3 sft models/sft && r1flow score --model models/sft "
			 "--text \"1+2=3\"\n\n"
			 "exit status: 0 written, 1 no such pipeline or stage, no checkpoint yet, DIR\n"
			 "not empty or not writable, or no daemon, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *stage = argv[first + 1], *dir = argv[first + 2];
	if (!dir[0])
		return cli_usage_error("export", "DIR must not be empty");

	struct client c = { 0 };
	struct export_info info;
	struct err e = { 0 };
	rc = CLI_EXIT_FAIL;
	int used = export_dir_used(dir, &e);
	if (used < 0)
		goto fail;
	if (used && !force) {
		cli_error("export", "'%s' is not empty: export into a new or empty directory, or "
			"pass --force to replace its config.json and model.safetensors", dir);
		return CLI_EXIT_FAIL;
	}
	if (client_open(&c, &addr, &e) < 0)
		goto fail;
	if (export_stage(&c, id, stage, dir, &info, &e) < 0)
		goto fail;

	const char *sha = info.sha256[0] ? info.sha256 : NULL;
	if (json) {
		json_t *doc = json_pack("{sI so sI ss? so sI}", "id", (json_int_t)id, "stage",
			utf8_jstring(stage), "step", (json_int_t)info.step, "sha256", sha, "dir",
			utf8_jstring(dir), "bytes", (json_int_t)info.bytes);
		if (!doc)
			cli_error("export", "cannot format the output as JSON: out of memory");
		rc = doc ? client_print_json("export", doc) : CLI_EXIT_FAIL;
		json_decref(doc);
	} else {
		printf("exported stage '%s' of pipeline %lld (step %lld, sha256 %.12s) to %s\n",
			stage, (long long)id, (long long)info.step, sha ? sha : "-", dir);
		rc = CLI_EXIT_OK;
	}
	goto out;
fail:
	cli_error("export", "%s", e.msg);
out:
	client_close(&c);
	return rc;
}
