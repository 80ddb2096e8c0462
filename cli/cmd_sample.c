/*
 * r1flow sample — generate continuations of a prompt with a model directory.
 *
 * The prompt is encoded with the model's tokenizer (tokenizer.h), its BOS in front
 * when it adds one; N samples are
 * generated as one batch (in chunks of at most 64) through the core's KV-cache
 * generator. Sample i draws its coins from the counter RNG keyed by (seed, i), so
 * `--n 8` and `--n 1` agree on sample 0.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "generate.h"
#include "pool.h"
#include "rng.h"
#include "tokenizer.h"
#include "utf8.h"

#define SAMPLE_CHUNK 64

static const char *finish_name(enum gen_finish f)
{
	return f == GEN_FINISH_STOP ? "stop" : "length";
}

static int sample_print_json(const int *prompt, int np, const struct gen_result *r,
	const char *text, size_t len)
{
	json_t *o = json_object(), *pt = json_array(), *tk = json_array(), *lp = json_array();
	int rc = -1;
	char *s = NULL;
	if (!o || !pt || !tk || !lp)
		goto out;
	for (int i = 0; i < np; i++)
		if (json_array_append_new(pt, json_integer(prompt[i])))
			goto out;
	for (int i = 0; i < r->n; i++)
		if (json_array_append_new(tk, json_integer(r->tokens[i])) ||
			json_array_append_new(lp, json_real(r->logprobs[i])))
			goto out;
	if (json_object_set(o, "prompt_tokens", pt) || json_object_set(o, "tokens", tk) ||
		json_object_set(o, "logprobs", lp) ||
		json_object_set_new(o, "text", utf8_json(text, len)) ||
		json_object_set_new(o, "finish", json_string(finish_name(r->finish))))
		goto out;
	s = json_dumps(o, JSON_REAL_PRECISION(9) | JSON_ENSURE_ASCII);
	if (!s)
		goto out;
	printf("%s\n", s);
	rc = 0;
out:
	free(s);
	json_decref(pt);
	json_decref(tk);
	json_decref(lp);
	json_decref(o);
	return rc;
}

int cmd_sample(int argc, char **argv)
{
	const char *dir = NULL, *prompt = NULL, *stop = NULL;
	int n = 1, top_k = 0, max_new = 64, threads = 0;
	float temperature = 1.0f, top_p = 1.0f;
	uint64_t seed = 0;
	bool json = false;
	const struct opt opts[] = {
		{ "model", OPT_STRING, &dir, "DIR", 0, 0, OPT_REQUIRED,
		  "model directory (config.json + model.safetensors or its shards)", NULL },
		{ "prompt", OPT_STRING, &prompt, "TEXT", 0, 0, OPT_REQUIRED,
		  "prompt text; the tokenizer's BOS is put in front when it adds one", NULL },
		{ "n", OPT_INT, &n, "N", 1, 100000, 0, "number of samples", NULL },
		{ "temperature", OPT_FLOAT, &temperature, "T", 0, 100, 0,
		  "sampling temperature; 0 is greedy", NULL },
		{ "top-p", OPT_FLOAT, &top_p, "P", 0.0001, 1, 0,
		  "nucleus: keep the most likely tokens up to mass P", NULL },
		{ "top-k", OPT_INT, &top_k, "K", 0, 1 << 24, 0,
		  "keep the K most likely tokens; 0 keeps all", NULL },
		{ "max-new-tokens", OPT_INT, &max_new, "N", 1, 1 << 20, 0,
		  "stop after N generated tokens", NULL },
		{ "seed", OPT_U64, &seed, "S", 0, 0, 0, "random seed", NULL },
		{ "stop", OPT_STRING, &stop, "STR", 0, 0, 0,
		  "also stop when the generated text contains STR (kept in the output)", "none" },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "one JSON object per sample per line: prompt_tokens, tokens, logprobs, text "
		  "(invalid UTF-8 as U+FFFD), finish", NULL },
		{ "threads", OPT_INT, &threads, "N", 0, 1024, 0,
		  "compute threads", "R1FLOW_THREADS or all CPUs" },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "sample", .opts = opts,
		.about = "Generate N continuations of TEXT with the model in DIR and print them. Each\n"
			 "sample stops at an EOS id of the tokenizer (DIR's tokenizer.json, else the byte\n"
			 "tokenizer), at --stop, or after --max-new-tokens tokens. logprobs\n"
			 "are log-probabilities under the model's untempered distribution.",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!prompt[0])
		return cli_usage_error("sample", "nothing to continue: --prompt is empty");
	if (stop && !stop[0])
		return cli_usage_error("sample", "--stop is empty");
	if (threads > 0)
		pool_set_threads(threads);

	struct err e = { 0 };
	struct model_config cfg;
	struct model m;
	struct generator g;
	bool have_model = false, have_gen = false;
	int *ids = NULL;
	char *text = NULL;
	struct tokenizer tok = { 0 };
	struct hftok_ids pid = { 0 };
	rc = CLI_EXIT_FAIL;
	if (hfconfig_read(dir, &cfg, &e) < 0 || tokenizer_open_dir(&tok, dir, &cfg, &e) < 0) {
		cli_error("sample", "cannot load model '%s': %s", dir, e.msg);
		goto out;
	}
	if (tokenizer_encode_bos(&tok, prompt, strlen(prompt), &pid, &e) < 0) {
		cli_error("sample", "cannot tokenize --prompt: %s", e.msg);
		goto out;
	}
	int np = (int)pid.n;
	if (pid.n + 1 > (size_t)cfg.max_seq) {
		cli_error("sample", "--prompt is %zu tokens; model '%s' takes at most %d with room for one new token (max_seq %d)",
			pid.n, dir, cfg.max_seq - 1, cfg.max_seq);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (!(ids = malloc(sizeof *ids * (size_t)np)))
		goto oom;
	for (int i = 0; i < np; i++)
		ids[i] = pid.v[i];
	int max_len = np + max_new < cfg.max_seq ? np + max_new : cfg.max_seq;
	int chunk = n < SAMPLE_CHUNK ? n : SAMPLE_CHUNK;
	if (checkpoint_load(&m, dir, 0, 0, &e) < 0) {
		cli_error("sample", "cannot load model '%s': %s", dir, e.msg);
		goto out;
	}
	have_model = true;
	if (gen_init(&g, &m, chunk, max_len, &e) < 0) {
		cli_error("sample", "cannot set up generation: %s", e.msg);
		goto out;
	}
	have_gen = true;
	const char *stops[2] = { stop, NULL };
	struct gen_params p = {
		.sampler = { .temperature = temperature, .top_k = top_k, .top_p = top_p },
		.max_new_tokens = max_new, .key = rng_key_str(seed, "sample"),
		.stop = stop ? stops : NULL, .tok = &tok,
	};
	struct gen_request reqs[SAMPLE_CHUNK];
	struct gen_result *res[SAMPLE_CHUNK];
	for (int first = 0; first < n; first += chunk) {
		int b = n - first < chunk ? n - first : chunk;
		for (int i = 0; i < b; i++)
			reqs[i] = (struct gen_request){ .prompt = ids, .prompt_len = np, .index = (uint64_t)(first + i) };
		if (gen_run(&g, reqs, b, &p, res, &e) < 0) {
			cli_error("sample", "generation failed: %s", e.msg);
			goto out;
		}
		for (int i = 0; i < b; i++) {
			size_t len;
			free(text);
			if (!(text = tokenizer_decode(&tok, res[i]->tokens, (size_t)res[i]->n, &len, &e)))
				goto oom;
			if (json) {
				if (sample_print_json(ids, np, res[i], text, len) < 0)
					goto oom;
				continue;
			}
			double total = 0;
			for (int t = 0; t < res[i]->n; t++)
				total += res[i]->logprobs[t];
			/* the model's bytes as they are (a NUL does not end them) */
			printf("--- sample %d: %d tokens, finish %s, log-prob %.3f\n%s", first + i, res[i]->n,
				finish_name(res[i]->finish), total, prompt);
			fwrite(text, 1, len, stdout);
			putchar('\n');
		}
	}
	rc = CLI_EXIT_OK;
	goto out;
oom:
	cli_error("sample", "out of memory");
out:
	if (have_gen)
		gen_release(&g);
	if (have_model)
		model_release(&m);
	free(ids);
	free(text);
	free(pid.v);
	tokenizer_release(&tok);
	return rc;
}
