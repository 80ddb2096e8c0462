/*
 * r1flow score — the log-probability of a text under a model directory.
 *
 * The text is encoded with the model's tokenizer (its tokenizer.json, else the byte
 * tokenizer; special spellings such as <think> become their ids), its BOS put in
 * front when the tokenizer adds one, and one forward pass gives
 * log p(tokens[i+1] | tokens[0..i]) for every position: len(tokens)-1 numbers.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "err.h"
#include "loss.h"
#include "model.h"
#include "pool.h"
#include "tokenizer.h"

static int score_print_json(const int *tokens, const float *lp, int n)
{
	json_t *root = json_object(), *jt = json_array(), *jl = json_array();
	int rc = -1;
	char *s = NULL;
	if (!root || !jt || !jl)
		goto out;
	for (int i = 0; i < n; i++)
		if (json_array_append_new(jt, json_integer(tokens[i])))
			goto out;
	for (int i = 0; i + 1 < n; i++)
		if (json_array_append_new(jl, json_real(lp[i])))
			goto out;
	if (json_object_set(root, "tokens", jt) || json_object_set(root, "logprobs", jl))
		goto out;
	/* 9 significant digits give back the same float32 */
	s = json_dumps(root, JSON_REAL_PRECISION(9));
	if (!s)
		goto out;
	printf("%s\n", s);
	rc = 0;
out:
	free(s);
	json_decref(jt);
	json_decref(jl);
	json_decref(root);
	return rc;
}

int cmd_score(int argc, char **argv)
{
	const char *dir = NULL, *text = NULL;
	bool json = false;
	int threads = 0;
	const struct opt opts[] = {
		{ "model", OPT_STRING, &dir, "DIR", 0, 0, OPT_REQUIRED,
		  "model directory (config.json + model.safetensors or its shards)", NULL },
		{ "text", OPT_STRING, &text, "TEXT", 0, 0, OPT_REQUIRED,
		  "text to score; the tokenizer's BOS is put in front when it adds one", NULL },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {\"tokens\": [...], \"logprobs\": [...]} on one line", NULL },
		{ "threads", OPT_INT, &threads, "N", 0, 1024, 0,
		  "compute threads", "R1FLOW_THREADS or all CPUs" },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "score", .opts = opts,
		.about = "Print the log-probability of TEXT under the model in DIR: the total, the\n"
			 "token count, the mean per token and the perplexity. The text is tokenized\n"
			 "with DIR's tokenizer.json when it has one, else with the byte tokenizer.\n"
			 "With --json, print the token ids (BOS first when the tokenizer adds one)\n"
			 "and log p of each token after the first.",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!text[0])
		return cli_usage_error("score", "nothing to score: --text is empty");
	if (threads > 0)
		pool_set_threads(threads);

	struct err e = { 0 };
	struct model_config cfg;
	struct model m;
	bool have_model = false;
	int *tokens = NULL, *targets = NULL;
	float *lp = NULL;
	struct tokenizer tok = { 0 };
	struct hftok_ids ids = { 0 };
	rc = CLI_EXIT_FAIL;

	if (hfconfig_read(dir, &cfg, &e) < 0 || tokenizer_open_dir(&tok, dir, &cfg, &e) < 0) {
		cli_error("score", "cannot load model '%s': %s", dir, e.msg);
		goto out;
	}
	if (tokenizer_encode_bos(&tok, text, strlen(text), &ids, &e) < 0) {
		cli_error("score", "cannot tokenize --text: %s", e.msg);
		goto out;
	}
	if (ids.n > (size_t)cfg.max_seq || ids.n < 2) {
		cli_error("score", "--text is %zu tokens with the BOS; model '%s' takes 2 to %d "
			"(max_seq)", ids.n, dir, cfg.max_seq);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	int T = (int)ids.n;
	tokens = malloc(sizeof *tokens * (size_t)T);
	targets = malloc(sizeof *targets * (size_t)T);
	lp = malloc(sizeof *lp * (size_t)T);
	if (!tokens || !targets || !lp) {
		cli_error("score", "out of memory for %d tokens", T);
		goto out;
	}
	for (int i = 0; i < T; i++)
		tokens[i] = ids.v[i];
	for (int i = 0; i < T; i++) {
		if (tokens[i] >= cfg.vocab) {
			cli_error("score", "token %d of --text (id %d) is outside the vocabulary of model '%s' (%d ids)",
				i, tokens[i], dir, cfg.vocab);
			goto out;
		}
	}

	if (checkpoint_load(&m, dir, 1, T, &e) < 0) {
		cli_error("score", "cannot load model '%s': %s", dir, e.msg);
		goto out;
	}
	have_model = true;
	const struct model_batch batch = { .B = 1, .T = T, .tokens = tokens, .lengths = NULL };
	model_forward(&m, &batch);
	for (int i = 0; i + 1 < T; i++)
		targets[i] = tokens[i + 1];
	targets[T - 1] = 0; /* the last position predicts nothing we score */
	loss_token_logprobs(&m, targets, lp);

	if (json) {
		if (score_print_json(tokens, lp, T) < 0) {
			cli_error("score", "cannot build the JSON output: out of memory");
			goto out;
		}
	} else {
		double total = 0;
		for (int i = 0; i + 1 < T; i++)
			total += lp[i];
		int n = T - 1;
		printf("model       %s\n", dir);
		printf("tokens      %d scored (+1 for the first)\n", n);
		printf("log-prob    %.4f nats\n", total);
		printf("per token   %.4f nats\n", total / n);
		printf("perplexity  %.4g\n", exp(-total / n));
	}
	rc = CLI_EXIT_OK;
out:
	if (have_model)
		model_release(&m);
	free(tokens);
	free(targets);
	free(lp);
	free(ids.v);
	tokenizer_release(&tok);
	return rc;
}
