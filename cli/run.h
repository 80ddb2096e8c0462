/*
 * run — a pipeline run on this machine, start to finish (cmd_run.c), and a stage's
 * weights written as a model directory (cmd_export.c): the machinery of `r1flow
 * run` and `r1flow export`, shared with `r1flow train`, which is the two in a row
 * on a spec it writes itself.
 */
#ifndef R1_CLI_RUN_H
#define R1_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client.h"

struct run_args {
	const char *verb;              /* the verb whose errors these are ("run") */
	const char *file;              /* the spec */
	const struct cli_list *sets;   /* --set overrides */
	const char *data;              /* data directory (kept); NULL: a fresh temporary one */
	int workers;                   /* local workers; 0: run_split picks (and threads) */
	int threads;                   /* compute threads per worker; 0: the CPUs shared out */
	bool rm;                       /* remove the fresh directory after a success */
	bool json, plain;              /* run's --json and --plain */
	const char *http;              /* r1flowd --http ADDR:PORT; NULL: none */
	const char *http_token_file;   /* r1flowd --http-token-file; NULL: none */
	/* After the pipeline succeeded, with the daemon still serving it: 0, or -1 and
	 * err (the run fails, the data directory is kept). NULL: nothing. */
	int (*done)(struct client *c, int64_t id, void *arg, struct err *err);
	void *arg;
};

/*
 * The workers x threads of a run when --workers is not given (run_split.c): by the
 * spec's model size, at most RUN_SPLIT_MAX_WORKERS workers; `why` says it for
 * stderr. `spec` is the loaded spec (the submit request's "spec").
 */
#define RUN_SPLIT_MAX_WORKERS 255 /* procs.h: PROCS_MAX - 1 (the daemon is one) */
void run_split(const json_t *spec, long cpus, int *workers, int *threads, char *why,
	size_t size);

/*
 * Validate a->file, start r1flowd and the workers on the data directory, submit,
 * follow, print the final status and report, call a->done, stop everything (see
 * cmd_run.c). Returns the exit status (CLI_EXIT_OK only if the pipeline succeeded
 * and done did not fail; 130 when interrupted); errors are printed.
 */
int run_pipeline(const struct run_args *a);

struct export_info {
	int64_t step;                  /* the checkpoint's step */
	char sha256[65];               /* its hex sha256; "" if the daemon sent none */
	size_t bytes;                  /* the checkpoint blob's size (the weights as the
	                                  daemon keeps them, one safetensors file) */
	bool own_tokenizer;            /* the model's tokenizer files (false: the byte
	                                  tokenizer's, made by tokenizer_files.h) */
};

/* 1 DIR has entries besides . and .., 0 it is empty or absent, -1 and err otherwise. */
int export_dir_used(const char *dir, struct err *err);

/*
 * The final weights of stage `stage` of pipeline id, from the daemon on c, into DIR
 * (created with its parents) as config.json, model.safetensors (in the config's
 * torch_dtype; shards and an index above max_shard bytes: shards.h) and the tokenizer
 * files (tokenizer.json, tokenizer_config.json, generation_config.json: the
 * pipeline's own, byte for byte, or the byte tokenizer's; generation_config.json
 * written from the tokenizer's stop ids when the model came without one), replacing
 * those files if present: checked against their sha256 and the model core's config
 * parser before anything is written, the tokenizer reloaded from DIR before the
 * weights go in; each file written to a temporary name, fsync'd and renamed, then
 * DIR fsync'd. The weights come `page` bytes per request (blob_read; 0: the
 * daemon's default) straight into their temporary file. 0 and *out, or -1 and err.
 */
int export_stage(struct client *c, int64_t id, const char *stage, const char *dir,
	uint64_t max_shard, int64_t page, struct export_info *out, struct err *err);

/* mkdir -p DIR. */
int export_mkdirs(const char *dir, struct err *err);
/* DIR/name written atomically (temporary file, fsync, rename). */
int export_write(const char *dir, const char *name, const void *data, size_t size,
	struct err *err);
/* Blob `sha` (`size` bytes) fetched `page` bytes per blob_read into the temporary file
 * of f, checked against its sha256 (errors name the stage's weights). */
struct file_atomic;
int export_fetch_blob(struct client *c, const char *stage, const char *sha, int64_t size,
	int64_t page, struct file_atomic *f, struct err *err);

/*
 * The LoRA adapters of stage `stage` (a stage with `lora:`) as a PEFT adapter
 * directory (cmd_export_adapter.c): DIR/adapter_config.json and
 * DIR/adapter_model.safetensors, from the adapters' state blob of the stage's last
 * checkpoint. base: adapter_config.json's base_model_name_or_path (NULL: null).
 */
int export_adapter(struct client *c, int64_t id, const char *stage, const char *dir,
	const char *base, int64_t page, struct export_info *out, struct err *err);

#endif
