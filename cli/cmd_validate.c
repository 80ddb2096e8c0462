/*
 * r1flow validate — load a pipeline spec the way submit does, without a daemon:
 * say it is fine (and which stages it has), or print the loader's error line. A
 * model.checkpoint directory is checked as submit checks it (checkpoint_check:
 * config.json, and the headers and tensors of model.safetensors or its shards,
 * without loading them).
 * A program reward's `files` are read as submit reads them (rewardfiles.h), so a
 * missing one is refused here.
 * Then, as submit does, read every JSONL or CSV dataset file through its mapping
 * (rows.h: a bad record, a mapped key missing, an answer rule that finds nothing is
 * an error naming FILE:LINE), and check that the data fits the model's context
 * (fit.h): the spec's generated datasets are generated for it; datasets
 * made by stages or shared in a daemon are checked when they exist.
 *
 * Last, the memory each process needs for the spec (memplan.h: the daemon's learners,
 * a worker's largest job), printed after the ok line, and checked against this
 * machine's MemTotal: a spec whose daemon or worker alone needs more is refused with
 * the figures unless --force (workers and daemons may run on bigger machines).
 * MemTotal, not MemAvailable: the verdict must not depend on what else happens to run
 * (or sit in the page cache) at the moment, and the question is whether this machine
 * can run the spec at all. Nothing is allocated for it: a spec needing terabytes is
 * estimated as fast as a small one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "client.h"
#include "file.h"
#include "fit.h"
#include "spec_data.h"
#include "memplan.h"
#include "rewardfiles.h"
#include "spec.h"

/* Does the spec's data fit its model (fit.h)? *vocab: the tokenizer's size when the
 * model is known, else 0. */
static int validate_fit(const json_t *spec, int *vocab, struct err *err)
{
	int max_seq;
	struct tokenizer tok;
	*vocab = 0;
	int known = fit_model(spec, &max_seq, &tok, err);
	if (known <= 0)
		return known;
	*vocab = tok.vocab;
	struct spec_data f = { .spec = spec };
	const struct fit_source src = { &f, spec_data_count, spec_data_get };
	int rc = fit_check(spec, max_seq, &tok, &src, err);
	spec_data_close(&f);
	tokenizer_release(&tok);
	return rc;
}

/* rewardfiles.h's put for validate: nothing is stored, the files need only be readable. */
static int validate_hash(void *ctx, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	struct err *err)
{
	(void)ctx;
	(void)err;
	sha256_buffer(data, size, hex);
	return 0;
}

/* MemTotal of /proc/meminfo in bytes. */
static int mem_total(double *bytes, struct err *err)
{
	const char *path = "/proc/meminfo";
	FILE *f = fopen(path, "r");
	if (!f)
		return err_sys(err, errno, "cannot open '%s'", path);
	char line[256];
	unsigned long long kib = 0;
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = sscanf(line, "MemTotal: %llu kB", &kib) == 1;
	fclose(f);
	if (!found)
		return err_set(err, ERR_FORMAT, "no MemTotal line in '%s'", path);
	*bytes = 1024.0 * (double)kib;
	return 0;
}

/* The memory the spec needs (memplan.h): its figures written to out (NULL: none),
 * and -1 with them in err when a process needs more than this machine has and
 * !force. */
static int validate_memory(const json_t *spec, int vocab, bool force, FILE *out,
	struct err *err)
{
	struct model_config cfg;
	struct memplan mp;
	char a[32], b[32], c[32];
	int known = memplan_config(spec, vocab, &cfg, err);
	if (known < 0)
		return -1;
	if (known == 0) {
		if (out)
			fprintf(out, "memory: not known before the pipeline runs (the model comes from "
				"another pipeline)\n");
		return 0;
	}
	memplan_spec(spec, &cfg, &mp);
	if (mp.learners == 0 && !mp.job_kind[0])
		return 0; /* no stage runs the model */
	struct err me = { 0 };
	double total = 0;
	int have_total = mem_total(&total, &me) == 0;
	if (out) {
		fprintf(out, "memory (estimate; %.0f parameters, fp32):\n", mp.params);
		if (mp.learners > 0)
			fprintf(out, "  daemon  %s: %d learner%s at once (training stages that can run at "
				"the same time) of %s (weights, gradients, 2 AdamW moments: 16 bytes a "
				"parameter), and %s to read back the optimizer file of a checkpoint\n",
				memplan_fmt(mp.daemon, a, sizeof a), mp.learners, mp.learners == 1 ? "" : "s",
				memplan_fmt(mp.learner, b, sizeof b),
				memplan_fmt(mp.ckpt_buffer, c, sizeof c));
		else
			fprintf(out, "  daemon  no learner (no training stage)\n");
		if (mp.job_kind[0]) {
			fprintf(out, "  worker  %s: its largest job, %s of stage '%s': %s %s",
				memplan_fmt(mp.worker, a, sizeof a), mp.job_kind, mp.job_stage,
				!strcmp(mp.job_kind, "grad") ? "weights and gradients" : "weights",
				memplan_fmt(mp.job_model, b, sizeof b));
			if (mp.job_ref > 0)
				fprintf(out, ", reference weights %s", memplan_fmt(mp.job_ref, b, sizeof b));
			if (mp.job_head > 0)
				fprintf(out, ", LM head chunk %s", memplan_fmt(mp.job_head, b, sizeof b));
			fprintf(out, ", %.0f %s%s x %s (%s)\n", mp.job_rows,
				!strcmp(mp.job_kind, "grad") ? "row" : "sequence", mp.job_rows == 1 ? "" : "s",
				memplan_fmt(mp.job_row_bytes, b, sizeof b),
				!strcmp(mp.job_kind, "grad") ? "activations" :
				"KV cache, generator and its prefill's working set");
		}
		if (have_total)
			fprintf(out, "  machine %s (MemTotal)%s\n", memplan_fmt(total, a, sizeof a),
				mp.daemon + mp.worker > total ? "; the daemon and a worker together need "
				"more: run workers on other machines" : "");
		else
			fprintf(out, "  machine unknown: %s\n", me.msg);
	}
	if (!have_total || force || (mp.daemon <= total && mp.worker <= total))
		return 0;
	return err_set(err, ERR_INVALID, "the spec needs more memory than this machine has "
		"(MemTotal %s): daemon %s, worker %s; --force to accept it for bigger machines",
		memplan_fmt(total, a, sizeof a), memplan_fmt(mp.daemon, b, sizeof b),
		memplan_fmt(mp.worker, c, sizeof c));
}

int cmd_validate(int argc, char **argv)
{
	struct opt_list sets = { .n = 0 };
	bool json = false, reference = false, force = false;
	const struct opt opts[] = {
		CLIENT_SET_OPT(&sets),
		{ "force", OPT_FLAG, &force, NULL, 0, 0, 0,
		  "accept a spec that needs more memory than this machine has (for bigger "
		  "daemon or worker machines)", NULL },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the normalised spec (defaults filled in) as JSON", NULL },
		{ "reference", OPT_FLAG, &reference, NULL, 0, 0, 0,
		  "print the spec reference (every key, type, default, range) as Markdown; "
		  "no FILE", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "validate", .args = "FILE", .min_args = 0, .max_args = 1, .opts = opts,
		.about = "Check the pipeline spec in FILE (YAML) with the --set overrides applied,\n"
			 "exactly as 'r1flow submit' would, without a daemon: a model.checkpoint\n"
			 "directory must hold a supported config.json and a model.safetensors, or\n"
			 "shards named by model.safetensors.index.json, with its tensors (a model\n"
			 "from another pipeline is checked at submit). Then\n"
			 "checks that every prompt, with the template and max_new_tokens, and every\n"
			 "SFT example fits the model's max_seq, generating the spec's datasets and\n"
			 "reading its JSONL files (an error names the stage, the dataset and the\n"
			 "record, FILE:LINE for JSONL). Prints 'FILE: ok (N stages: a, b)' or the\n"
			 "first error as FILE:LINE:COL: ....\n"
			 "Then prints the memory the daemon (its learners: 16 bytes a parameter\n"
			 "each) and a worker (its largest job) need, and refuses the spec when\n"
			 "either needs more than this machine's MemTotal, unless --force.\n"
			 "With --reference, prints instead the reference of every spec key (the\n"
			 "tables of docs/pipelines.md), generated from the loader's own schema.\n\n"
			 "example: r1flow validate pipelines/probe.yaml --set stages.b.jobs=10\n"
			 "         r1flow validate --reference\n\n"
			 "exit status: 0 valid, 1 invalid (or unreadable), 2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	if (reference) {
		if (first < argc)
			return cli_usage_error("validate", "--reference takes no FILE");
		char *text = spec_reference();
		if (!text) {
			cli_error("validate", "cannot write the spec reference: out of memory");
			return CLI_EXIT_FAIL;
		}
		fputs(text, stdout);
		free(text);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	if (first >= argc)
		return cli_usage_error("validate", "missing FILE");
	const char *file = argv[first];
	json_t *spec = NULL;
	struct err e = { 0 };
	if (spec_load_file(file, sets.v, (size_t)sets.n, &spec, &e) < 0) {
		cli_error("validate", "%s", e.msg);
		return CLI_EXIT_FAIL;
	}
	const char *dir = json_string_value(json_object_get(json_object_get(spec, "model"),
		"checkpoint"));
	if (dir && checkpoint_check(dir, NULL, &e) < 0) {
		cli_error("validate", "%s: model.checkpoint: %s", file, e.msg);
		json_decref(spec);
		return CLI_EXIT_FAIL;
	}
	json_t *pinned = json_deep_copy(spec); /* the reward programs' files, read as submit reads them */
	int prc = pinned ? rewardfiles_pin(pinned, validate_hash, NULL, &e) : -1;
	json_decref(pinned);
	if (prc < 0) {
		cli_error("validate", "%s: %s", file, pinned ? e.msg : "out of memory");
		json_decref(spec);
		return CLI_EXIT_FAIL;
	}
	int vocab;
	if (spec_data_check_files(spec, &e) < 0 || validate_fit(spec, &vocab, &e) < 0) {
		cli_error("validate", "%s: %s", file, e.msg);
		json_decref(spec);
		return CLI_EXIT_FAIL;
	}
	rc = CLI_EXIT_OK;
	/* the figures go after the ok line, or before the refusal */
	char *mem = NULL;
	size_t mem_len = 0;
	FILE *out = json ? NULL : open_memstream(&mem, &mem_len);
	int mrc = validate_memory(spec, vocab, force, out, &e);
	if (out && fclose(out) != 0) {
		free(mem);
		mem = NULL;
	}
	if (mrc < 0) {
		if (mem)
			fputs(mem, stdout);
		fflush(stdout);
		cli_error("validate", "%s: %s", file, e.msg);
		rc = CLI_EXIT_FAIL;
	} else if (json) {
		rc = client_print_json("validate", spec);
	} else {
		json_t *stages = json_object_get(spec, "stages");
		printf("%s: ok (%zu stage%s", file, json_array_size(stages),
			json_array_size(stages) == 1 ? "" : "s");
		size_t i;
		json_t *st;
		json_array_foreach(stages, i, st)
			{
			const char *name = json_string_value(json_object_get(st, "name"));
			printf("%s%s", i ? ", " : ": ", name ? name : "?");
		}
		printf(")\n");
		if (mem)
			fputs(mem, stdout);
	}
	free(mem);
	json_decref(spec);
	return rc;
}
