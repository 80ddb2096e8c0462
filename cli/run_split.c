/*
 * run_split — how `r1flow run` and `r1flow train` share the machine's CPUs among
 * local workers when --workers is not given (run.h).
 *
 * A worker runs one job at a time on its thread pool; two workers run two jobs at
 * once. For a small model a job's matrix products are too small to keep two threads
 * busy (the pool's hand-offs cost more than they save), while two jobs in two
 * processes share nothing but the daemon; so below RUN_SPLIT_PARAMS parameters,
 * one worker per CPU with one thread each. Above it one job's products are large
 * enough for every core, and each worker holds its own copy of the model, its
 * activations and its optimizer-free gradients: one worker with every CPU. The
 * threshold is measured (bench/scale.sh: the demo's 0.85M-parameter model runs its
 * GRPO stage faster as 2 workers x 1 thread than 1 x 2 on 2 cores; bench/train.sh:
 * a 135M model's products use both threads of one worker well).
 *
 * The parameter count comes from the spec's model: `config` (fresh weights; with the
 * byte vocabulary: a `tokenizer`'s larger one is not counted) or a `checkpoint`
 * directory's config.json; a model named by another pipeline's stage is not known
 * before the daemon runs, and gets one worker with every CPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "config.h"
#include "file.h"
#include "run.h"

#define RUN_SPLIT_PARAMS 20000000L /* parameters: below, a worker per CPU */

/* The parameter count of the spec's model, or -1 when it cannot be known here. */
static long model_params(const json_t *spec)
{
	const json_t *model = json_object_get(spec, "model");
	const json_t *c = json_object_get(model, "config");
	struct model_config cfg;
	struct err err = { 0 };
	if (json_is_object(c)) {
		config_defaults(&cfg);
		cfg.dim = (int)json_integer_value(json_object_get(c, "dim"));
		cfg.n_layers = (int)json_integer_value(json_object_get(c, "layers"));
		cfg.n_heads = (int)json_integer_value(json_object_get(c, "heads"));
		cfg.n_kv_heads = (int)json_integer_value(json_object_get(c, "kv_heads"));
		if (cfg.n_kv_heads <= 0)
			cfg.n_kv_heads = cfg.n_heads;
		cfg.ffn = (int)json_integer_value(json_object_get(c, "ffn"));
		cfg.max_seq = (int)json_integer_value(json_object_get(c, "max_seq"));
		cfg.tied = json_is_true(json_object_get(c, "tied"));
		return config_validate(&cfg, &err) < 0 ? -1 : config_num_params(&cfg);
	}
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	char path[4200], *text = NULL;
	size_t size;
	if (!dir || snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path ||
		file_read(path, 1 << 20, &text, &size, &err) < 0)
		return -1;
	long n = hfconfig_parse(text, size, path, &cfg, &err) < 0 ? -1 :
		config_num_params(&cfg);
	free(text);
	return n;
}

void run_split(const json_t *spec, long cpus, int *workers, int *threads, char *why,
	size_t size)
{
	long params = model_params(spec);
	if (cpus < 1)
		cpus = 1;
	if (cpus > RUN_SPLIT_MAX_WORKERS)
		cpus = RUN_SPLIT_MAX_WORKERS;
	if (params >= 0 && params < RUN_SPLIT_PARAMS) {
		*workers = (int)cpus;
		*threads = 1;
		snprintf(why, size, "%ld worker%s x 1 thread: a %.2gM-parameter model runs faster "
			"as a job per CPU", cpus, cpus == 1 ? "" : "s", (double)params / 1e6);
	} else {
		*workers = 1;
		*threads = (int)cpus;
		if (params >= 0)
			snprintf(why, size, "1 worker x %ld thread%s: a %.3gM-parameter model's jobs "
				"use every CPU", cpus, cpus == 1 ? "" : "s", (double)params / 1e6);
		else
			snprintf(why, size, "1 worker x %ld thread%s: the model's size is not known "
				"before it runs", cpus, cpus == 1 ? "" : "s");
	}
}
