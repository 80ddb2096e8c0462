/*
 * r1flow export — a stage's final weights as a Hugging Face model directory:
 *
 *   DIR/config.json             the config the daemon keeps (pretty): the one the
 *                               model came with, or r1flow's for a fresh model
 *   DIR/model.safetensors       the checkpoint's weights in the dtype of the config's
 *                               torch_dtype (float32 when absent; the daemon gives
 *                               a model read from files without one its weights'
 *                               dtype; bfloat16 and float16 are
 *                               rounded to nearest even from the fp32 weights r1flow
 *                               computes with), or, above --max-shard-size bytes
 *                               (5 GB: transformers 4.x's save_pretrained default), shards
 *                               model-0000K-of-0000N.safetensors named by
 *                               model.safetensors.index.json, as save_pretrained
 *                               splits them (shards.h)
 *   DIR/tokenizer.json          the pipeline's tokenizer files, byte for byte, when its
 *   DIR/tokenizer_config.json   model came with them (pinned at submit); else the
 *   DIR/generation_config.json  byte tokenizer's (tokenizer_files.h). A model without
 *                               a generation_config.json gets one from the tokenizer's
 *                               stop ids (transformers' generate stops at them).
 *
 * The daemon's `checkpoint` op sends {stage, step, sha256, size, config, tokenizer?};
 * with `file` it sends one tokenizer file as a blob frame. The weights come with
 * `blob_read`, a page of --page-size bytes per request (however big the model, no
 * message holds all of it, and neither does the CLI's memory): each page goes
 * straight to a temporary file in DIR while it is hashed. Every blob is checked
 * against its sha256 and the config against the model core's parser before
 * anything is renamed into place; the tokenizer is written first and loaded back from DIR as
 * every verb loads it; each file is written to a temporary name in DIR, fsync'd and
 * renamed, then DIR itself is fsync'd, so a crash leaves either the old file or the
 * whole new one. DIR is created (with its parents); an existing non-empty DIR is
 * refused unless --force, which replaces those files (and removes a
 * tokenizer_config.json the model lacks) and leaves the rest of DIR alone.
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
#include "shards.h"
#include "tokenizer.h"
#include "tokenizer_files.h"
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

/*
 * The pipeline's own tokenizer files, named in the checkpoint reply's `tokenizer`
 * ({name: sha256}), each fetched with the checkpoint op's `file` and checked
 * against its sha256 into files[k] (k: its index in tokenizer_file_names).
 */
static int export_fetch_tokenizer(struct client *c, int64_t id, const char *stage,
	const json_t *tok, struct tokenizer_file files[TOKENIZER_FILES], struct err *err)
{
	const char *name;
	const json_t *v;
	if (!json_is_object(tok) || !json_object_get(tok, TOKENIZER_JSON))
		return err_set(err, ERR_FORMAT, "the daemon named the tokenizer files of pipeline "
			"%lld without a tokenizer.json", (long long)id);
	json_object_foreach((json_t *)tok, name, v) {
		size_t k = 0;
		while (k < TOKENIZER_FILES && strcmp(name, tokenizer_file_names[k]))
			k++;
		const char *sha = json_string_value(v);
		if (k == TOKENIZER_FILES || !sha)
			return err_set(err, ERR_FORMAT, "the daemon named a tokenizer file '%s' of "
				"pipeline %lld that is not one of tokenizer.json, tokenizer_config.json, "
				"generation_config.json", name, (long long)id);
		struct client_blob blob = { NULL, 0 };
		json_t *r = client_call_blob(c, json_pack("{ss sI so ss}", "op", "checkpoint", "id",
			(json_int_t)id, "stage", utf8_jstring(stage), "file", name), NULL, 0, &blob, err);
		json_decref(r);
		if (!r)
			return err_wrap(err, "cannot fetch the tokenizer file '%s'", name);
		char hex[SHA256_HEX_SIZE];
		sha256_buffer(blob.data ? blob.data : "", blob.size, hex);
		if (!blob.data || strcmp(hex, sha) != 0) {
			free(blob.data);
			return err_set(err, ERR_FORMAT, "the tokenizer file '%s' of pipeline %lld does "
				"not match its sha256 (got %.12s, expected %.12s): nothing written", name,
				(long long)id, hex, sha);
		}
		files[k] = (struct tokenizer_file){ tokenizer_file_names[k], blob.data, blob.size };
	}
	return 0;
}

/* DIR/NAME removed if present (a file of an earlier export that this one lacks). */
static int export_remove(const char *dir, const char *name, struct err *err)
{
	char path[EXPORT_PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return err_set(err, ERR_INVALID, "path too long: '%.64s...'", dir);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_sys(err, errno, "cannot remove '%s'", path);
	return 0;
}

/*
 * The tokenizer files into DIR: files[] (tokenizer.json and those present), an older
 * tokenizer_config.json or generation_config.json that files[] lacks removed; then
 * the directory's tokenizer loaded as every verb will load it (so a file that does
 * not load is an export error, not a later surprise), and a generation_config.json
 * written from its stop ids when files[] had none.
 */
static int export_tokenizer(const char *dir, const struct model_config *mc,
	struct tokenizer_file files[TOKENIZER_FILES], struct err *err)
{
	struct tokenizer t;
	struct tokenizer_file gen = { 0 };
	for (size_t k = 0; k < TOKENIZER_FILES; k++)
		if (files[k].data ? export_write(dir, files[k].name, files[k].data, files[k].size,
			err) < 0 : export_remove(dir, tokenizer_file_names[k], err) < 0)
			return -1;
	int rc = tokenizer_open_dir(&t, dir, mc, err);
	if (rc <= 0)
		return rc < 0 ? err_wrap(err, "the exported tokenizer does not load") :
			err_set(err, ERR_IO, "'%s/" TOKENIZER_JSON "' vanished while exporting", dir);
	rc = 0;
	if (!files[2].data)
		rc = tokenizer_files_generation(&t, &gen, err) < 0 ||
			export_write(dir, gen.name, gen.data, gen.size, err) < 0 ? -1 : 0;
	tokenizer_files_free(&gen, 1);
	tokenizer_release(&t);
	return rc;
}

/* The dtype the config says the model came in (transformers >= 4.56 writes "dtype"). */
static int export_dtype(const json_t *cfg, enum st_dtype *dtype, struct err *err)
{
	const json_t *v = json_object_get(cfg, "torch_dtype");
	if (!v)
		v = json_object_get(cfg, "dtype");
	if (v && !json_is_null(v) && !json_is_string(v))
		return err_set(err, ERR_FORMAT, "cannot read 'config': torch_dtype is not a string");
	return shards_dtype_of_torch(json_string_value(v), "config", dtype, err);
}

/* Blob `sha` (`size` bytes) into the temporary file of `f`, a blob_read page of
 * `page` bytes at a time, hashed as it comes: 0 if the bytes are those `sha` names. */
static int export_fetch_blob(struct client *c, const char *stage, const char *sha,
	int64_t size, int64_t page, struct file_atomic *f, struct err *err)
{
	struct sha256 h;
	int64_t offset = 0;
	sha256_init(&h);
	while (offset < size) {
		struct client_blob blob = { NULL, 0 };
		json_t *req = json_pack("{ss ss sI}", "op", "blob_read", "sha256", sha, "offset",
			(json_int_t)offset);
		if (req && page > 0) /* else the daemon's default */
			json_object_set_new(req, "size", json_integer(page));
		json_t *r = client_call_blob(c, req, NULL, 0, &blob, err);
		int64_t total = r ? json_integer_value(json_object_get(r, "size")) : -1;
		json_decref(r);
		if (!r)
			return err_wrap(err, "cannot fetch the weights of stage '%s' at byte %lld", stage,
				(long long)offset);
		if (total != size || !blob.data || blob.size == 0 ||
			(int64_t)blob.size > size - offset) {
			free(blob.data);
			return err_set(err, ERR_FORMAT, "the daemon sent a bad page of the weights of stage "
				"'%s' at byte %lld (%zu bytes of a blob of %lld, expected %lld)", stage,
				(long long)offset, blob.size, (long long)total, (long long)size);
		}
		sha256_update(&h, blob.data, blob.size);
		int rc = file_atomic_write(f, blob.data, blob.size, err);
		free(blob.data);
		if (rc < 0)
			return -1;
		offset += (int64_t)blob.size;
	}
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];
	sha256_final(&h, digest);
	sha256_hex(digest, hex);
	if (strcmp(hex, sha) != 0)
		return err_set(err, ERR_FORMAT, "the weights of stage '%s' do not match their sha256 "
			"(got %.12s, expected %.12s): nothing written", stage, hex, sha);
	return 0;
}

int export_stage(struct client *c, int64_t id, const char *stage, const char *dir,
	uint64_t max_shard, int64_t page, struct export_info *out, struct err *err)
{
	struct shards weights = { 0 };
	struct st_write_tensor *tensors = NULL;
	enum st_dtype dtype;
	struct tokenizer_file files[TOKENIZER_FILES] = { { 0 } };
	struct file_atomic blob = { .fd = -1 };
	char *config = NULL, path[EXPORT_PATH_MAX];
	json_t *r;
	int rc = -1;
	r = client_call(c, json_pack("{ss sI so}", "op", "checkpoint", "id", (json_int_t)id,
		"stage", utf8_jstring(stage)), err);
	if (!r)
		goto out;

	const char *sha = json_string_value(json_object_get(r, "sha256"));
	json_t *cfg = json_object_get(r, "config"), *tok = json_object_get(r, "tokenizer");
	int64_t size = json_integer_value(json_object_get(r, "size"));
	if (!sha || !sha256_hex_valid(sha) || size <= 0) {
		err_set(err, ERR_FORMAT, "the daemon sent no weights for stage '%s'", stage);
		goto out;
	}
	config = json_is_object(cfg) ? json_dumps(cfg, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) :
		NULL;
	struct model_config mc;
	if (!config) {
		err_set(err, ERR_FORMAT, "the daemon sent no model config for stage '%s'", stage);
		goto out;
	}
	if (hfconfig_parse(config, strlen(config), "config", &mc, err) < 0 ||
		export_dtype(cfg, &dtype, err) < 0) {
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
	/* every file in hand and checked before the first is written (the fetched weights
	 * wait in a temporary file in DIR, which is removed, never renamed) */
	if (tok ? export_fetch_tokenizer(c, id, stage, tok, files, err) < 0 :
		tokenizer_files_bytes(&mc, files, err) < 0)
		goto out;
	if (snprintf(path, sizeof path, "%s/model.safetensors", dir) >= (int)sizeof path) {
		err_set(err, ERR_INVALID, "path too long: '%.64s...'", dir);
		goto out;
	}
	if (export_mkdirs(dir, err) < 0 || file_atomic_open(&blob, path, NULL, 0666, err) < 0 ||
		export_fetch_blob(c, stage, sha, size, page, &blob, err) < 0)
		goto out;
	/* the blob (one safetensors file, F32 or the dtype the model came in) read from its
	 * temporary file into the layout and dtype the model came in */
	if (shards_open_file(&weights, blob.tmp, err) < 0 ||
		shards_sources(&weights, dtype, &tensors, err) < 0) {
		err_wrap(err, "the weights of stage '%s'", stage);
		goto out;
	}

	/* the tokenizer and weights first: a directory with a config.json looks like a
	 * model; transformers refuses safetensors whose "format" is not a framework; the
	 * fetched blob is read from its temporary file and never renamed into place */
	const char *const md[] = { "format", "pt", NULL };
	if (export_tokenizer(dir, &mc, files, err) < 0 ||
		shards_write(dir, tensors, weights.n, dtype, max_shard, md, err) < 0 ||
		export_write(dir, "config.json", config, len + 1, err) < 0 ||
		file_sync_dir(dir, err) < 0)
		goto out;

	memset(out, 0, sizeof *out);
	out->step = json_integer_value(json_object_get(r, "step"));
	if (sha)
		snprintf(out->sha256, sizeof out->sha256, "%s", sha);
	out->bytes = size;
	out->own_tokenizer = tok != NULL;
	rc = 0;
out:
	shards_close(&weights); /* before the temporary file it reads goes */
	if (blob.fd >= 0)
		file_atomic_abort(&blob);
	tokenizer_files_free(files, TOKENIZER_FILES);
	free(tensors);
	free(config);
	json_decref(r);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false, force = false;
	uint64_t max_shard = SHARDS_MAX_SIZE;
	int page = 4 << 20;
	const struct opt opts[] = {
		{ "max-shard-size", OPT_U64, &max_shard, "BYTES", 0, 0, 0,
		  "write the weights as shards of at most BYTES of tensor data each (a bigger "
		  "tensor gets a shard of its own) when they do not fit one file", "5000000000" },
		{ "page-size", OPT_INT, &page, "BYTES", 4096, 64 << 20, 0,
		  "fetch the weights BYTES at a time (default 4 MiB)", NULL },
		{ "force", OPT_FLAG, &force, NULL, 0, 0, 0,
		  "export into a non-empty DIR: replace its model and tokenizer files", NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {id, stage, step, sha256, dir, bytes, tokenizer} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "export", .args = "ID STAGE DIR", .min_args = 3, .max_args = 3, .opts = opts,
		.about = "Write the final weights of stage STAGE of pipeline ID as a Hugging Face\n"
			 "model directory: DIR/config.json (the model's own, or r1flow's for a fresh\n"
			 "model), DIR/model.safetensors (HF tensor names; in the config's torch_dtype,\n"
			 "float32 when absent, bfloat16/float16 rounded to nearest even from r1flow's\n"
			 "fp32 weights), or above --max-shard-size shards named by\n"
			 "DIR/model.safetensors.index.json as transformers' save_pretrained writes\n"
			 "them; and the tokenizer: the model's own tokenizer.json,\n"
			 "tokenizer_config.json and generation_config.json byte for byte when it came\n"
			 "with them, else files that make Hugging Face's tokenizers give r1flow's byte\n"
			 "tokenizer's ids; a generation_config.json with the EOS ids in any case.\n"
			 "'r1flow sample', 'r1flow score' and transformers read the directory.\n"
			 "DIR is created; a non-empty DIR is refused unless --force. Every file is\n"
			 "written under a temporary name, checked against its sha256 and renamed;\n"
			 "the tokenizer is loaded back from DIR. The weights come --page-size bytes\n"
			 "per request, so a model of any size exports in bounded memory.\n"
			 "('tokenizer' in --json: \"model\" or \"bytes\".)\n\n"
			 "example: r1flow export 3 sft models/sft && r1flow score --model models/sft "
			 "--text \"1+2=3\"\n\n"
			 "exit status: 0 written, 1 no such pipeline or stage, no checkpoint yet, a\n"
			 "file not matching its sha256, a tokenizer that does not load, DIR not empty\n"
			 "or not writable, or no daemon, 2 usage error",
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
			"pass --force to replace its model and tokenizer files", dir);
		return CLI_EXIT_FAIL;
	}
	if (client_open(&c, &addr, &e) < 0)
		goto fail;
	if (export_stage(&c, id, stage, dir, max_shard, page, &info, &e) < 0)
		goto fail;

	const char *sha = info.sha256[0] ? info.sha256 : NULL;
	if (json) {
		json_t *doc = json_pack("{sI so sI ss? so sI ss}", "id", (json_int_t)id, "stage",
			utf8_jstring(stage), "step", (json_int_t)info.step, "sha256", sha, "dir",
			utf8_jstring(dir), "bytes", (json_int_t)info.bytes, "tokenizer",
			info.own_tokenizer ? "model" : "bytes");
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
