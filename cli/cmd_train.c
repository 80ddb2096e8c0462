/*
 * r1flow train — a model trained from scratch on this machine, into a model
 * directory. A thin front over `r1flow run` and `r1flow export` (run.h): it writes a
 * one-stage pipeline spec from its options, runs it as `r1flow run --rm` does (r1flowd
 * and local workers on a fresh data directory, progress shown), and when the stage
 * has succeeded writes its final weights into --out as `r1flow export --force` does
 * (config.json, model.safetensors and the byte tokenizer's files: what `r1flow
 * sample`, `r1flow score`, transformers and a spec's `model: {checkpoint: DIR}` read). The data directory is removed after a
 * success and kept, and named, after a failure.
 *
 * The spec (--print-spec prints it instead of running it: the start of a pipeline
 * that goes further, with sft, grpo or eval stages):
 *
 *   version: 1
 *   name: train
 *   seed: S                                               --seed
 *   model: {config: {dim: C, layers: L, heads: NH, kv_heads: NKV, ffn: F, max_seq: T}}
 *   datasets:
 *     corpus: {generate: arithmetic, style: corpus, count: N, seed: S}
 *   stages:
 *     - {name: pretrain, kind: pretrain, dataset: corpus, steps: N, batch: B, lr: LR,
 *        warmup: W, min_lr: R}
 *
 * The corpus is the pipelines' own pretraining corpus of 3-digit additions (plain,
 * tagged and worked forms; docs/pipelines.md), with steps x batch records (at least
 * 1000). Every option but --workers and --threads is a spec key, and those two change
 * no result: the model is the same bytes as the one `r1flow run` makes of the printed
 * spec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "names.h"
#include "procs.h"
#include "run.h"
#include "shards.h"

#define TRAIN_STAGE "pretrain"
#define TRAIN_MIN_RECORDS 1000
#define TRAIN_MAX_RECORDS 10000000  /* the spec's limit on a dataset's count */

struct train {
	const char *out;
	int steps, batch, warmup, dim, layers, heads, kv_heads, ffn, max_seq;
	float lr, min_lr_ratio;
	uint64_t seed;
};

/* The shortest decimal that reads back as x: what the user typed, not float noise. */
static const char *train_float(char *buf, size_t cap, float x)
{
	for (int prec = 1; prec <= 9; prec++) {
		snprintf(buf, cap, "%.*g", prec, (double)x);
		if (strtof(buf, NULL) == x)
			break;
	}
	return buf;
}

static void train_spec(FILE *f, const struct train *t)
{
	char lr[32], min_lr[32];
	long long count = (long long)t->steps * t->batch;
	if (count < TRAIN_MIN_RECORDS)
		count = TRAIN_MIN_RECORDS;
	if (count > TRAIN_MAX_RECORDS)
		count = TRAIN_MAX_RECORDS;
	fprintf(f, "version: 1\nname: train\nseed: %llu\n", (unsigned long long)t->seed);
	fprintf(f, "model:\n  config: {dim: %d, layers: %d, heads: %d, ", t->dim, t->layers,
		t->heads);
	if (t->kv_heads > 0)
		fprintf(f, "kv_heads: %d, ", t->kv_heads);
	fprintf(f, "ffn: %d, max_seq: %d}\n", t->ffn, t->max_seq);
	fprintf(f, "datasets:\n  corpus: {generate: %s, style: %s, count: %lld, seed: %llu}\n",
		NAME_TASK_ARITHMETIC, NAME_STYLE_CORPUS, count, (unsigned long long)t->seed);
	fprintf(f, "stages:\n  - {name: %s, kind: %s, dataset: corpus, steps: %d, batch: %d, "
		"lr: %s,\n     warmup: %d, min_lr: %s}\n", TRAIN_STAGE, NAME_STAGE_PRETRAIN,
		t->steps, t->batch, train_float(lr, sizeof lr, t->lr),
		t->warmup >= 0 ? t->warmup : t->steps / 10,
		train_float(min_lr, sizeof min_lr, t->min_lr_ratio));
}

/* run.h's done: the stage's weights into --out. */
static int train_export(struct client *c, int64_t id, void *arg, struct err *err)
{
	const struct train *t = arg;
	struct export_info info;
	if (export_stage(c, id, TRAIN_STAGE, t->out, SHARDS_MAX_SIZE, 0, &info, err) < 0)
		return -1;
	printf("model saved to %s (step %lld, sha256 %.12s)\n", t->out, (long long)info.step,
		info.sha256[0] ? info.sha256 : "-");
	return 0;
}

int cmd_train(int argc, char **argv)
{
	struct train t = { .out = NULL, .steps = 1500, .batch = 32, .warmup = -1, .dim = 128,
		.layers = 4, .heads = 4, .kv_heads = 0, .ffn = 336, .max_seq = 64, .lr = 3e-3f,
		.min_lr_ratio = 0.1f, .seed = 1 };
	int workers = 0, threads = 0;
	bool print_spec = false;
	const struct cli_opt opts[] = {
		{ "out", CLI_OPT_STRING, &t.out, "DIR", 0, 0, false,
		  "where to save the model, created if needed (its config.json and "
		  "model.safetensors are replaced); required to train", NULL },
		{ "steps", CLI_OPT_INT, &t.steps, "N", 1, 10000000, false, "optimizer steps", NULL },
		{ "batch", CLI_OPT_INT, &t.batch, "B", 1, 4096, false, "documents per step", NULL },
		{ "lr", CLI_OPT_FLOAT, &t.lr, "LR", 1e-7, 1, false, "peak learning rate", NULL },
		{ "warmup", CLI_OPT_INT, &t.warmup, "N", 0, 10000000, false,
		  "steps of linear warmup", "steps/10" },
		{ "min-lr-ratio", CLI_OPT_FLOAT, &t.min_lr_ratio, "R", 0, 1, false,
		  "cosine decays to lr*R at the last step (the spec's min_lr)", NULL },
		{ "seed", CLI_OPT_U64, &t.seed, "S", 0, 0, false,
		  "seed of the pipeline (weights) and of the corpus", NULL },
		{ "dim", CLI_OPT_INT, &t.dim, "C", 2, 65536, false, "model width", NULL },
		{ "layers", CLI_OPT_INT, &t.layers, "L", 1, 1024, false, "transformer layers", NULL },
		{ "heads", CLI_OPT_INT, &t.heads, "NH", 1, 1024, false, "attention heads", NULL },
		{ "kv-heads", CLI_OPT_INT, &t.kv_heads, "NKV", 0, 1024, false,
		  "key/value heads (grouped-query attention)", "--heads" },
		{ "ffn", CLI_OPT_INT, &t.ffn, "F", 1, 65536, false, "SwiGLU hidden width", NULL },
		{ "max-seq", CLI_OPT_INT, &t.max_seq, "T", 2, 8192, false, "context length", NULL },
		{ "workers", CLI_OPT_INT, &workers, "N", 1, PROCS_MAX - 1, false,
		  "local worker processes", "picked for the model's size, as 'r1flow run' does" },
		{ "threads", CLI_OPT_INT, &threads, "N", 1, 1024, false,
		  "compute threads per worker", "the CPUs shared out among the workers" },
		{ "print-spec", CLI_OPT_FLAG, &print_spec, NULL, 0, 0, false,
		  "print the pipeline spec and exit (run it with 'r1flow run FILE')", NULL },
		{ NULL, 0, NULL, NULL, 0, 0, false, NULL, NULL },
	};
	const struct cli_verb verb = {
		.name = "train", .opts = opts,
		.about = "Train a Llama-style model from scratch on the pipelines' generated corpus\n"
			 "of 3-digit additions (plain \"123+456=579\", with the answer tags, and with a\n"
			 "worked solution in <think>) and save it into DIR as a Hugging Face model\n"
			 "directory. A one-stage pretrain pipeline, run as 'r1flow run' runs one (a\n"
			 "daemon and local workers on a fresh data directory, removed afterwards\n"
			 "unless the run fails) and exported as 'r1flow export' does; --print-spec\n"
			 "shows it.\n\n"
			 "example: r1flow train --out models/base --steps 300 && r1flow sample "
			 "--model models/base --prompt '12+34='\n\n"
			 "exit status: 0 trained and saved, 1 the run or the export failed, 2 usage\n"
			 "error, 130 interrupted",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	if (print_spec) {
		train_spec(stdout, &t);
		return CLI_EXIT_OK;
	}
	if (!t.out || !t.out[0])
		return cli_usage_error("train", "--out DIR is required");

	/* a DIR that cannot take the model fails now, not after the training */
	struct err e = { 0 };
	if (export_dir_used(t.out, &e) < 0) {
		cli_error("train", "%s", e.msg);
		return CLI_EXIT_FAIL;
	}
	const char *tmp = getenv("TMPDIR");
	char file[4096];
	if (!tmp || !tmp[0])
		tmp = "/tmp";
	if (snprintf(file, sizeof file, "%s/r1flow-train.XXXXXX.yaml", tmp) >= (int)sizeof file) {
		cli_error("train", "cannot create a file in '%s': path too long", tmp);
		return CLI_EXIT_FAIL;
	}
	int fd = mkstemps(file, 5);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		cli_error("train", "cannot create a file in '%s': %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(file);
		}
		return CLI_EXIT_FAIL;
	}
	train_spec(f, &t);
	if (fclose(f) != 0) {
		cli_error("train", "cannot write '%s': %s", file, strerror(errno));
		unlink(file);
		return CLI_EXIT_FAIL;
	}
	const struct cli_list sets = { .n = 0 };
	const struct run_args a = { .verb = "train", .file = file, .sets = &sets,
		.workers = workers, .threads = threads, .rm = true, .plain = false,
		.done = train_export, .arg = &t };
	rc = run_pipeline(&a);
	unlink(file);
	return rc;
}
