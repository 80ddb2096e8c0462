/*
 * hftok_cli — core/hftok driven from the shell, for tests/integration/test_tokenizer_parity.sh
 * and bench/tokenize.sh.
 *
 *   hftok_cli TOKENIZER.JSON [--special] < lines.jsonl
 *       reads JSON lines, each a string, and prints for each one JSON line
 *       {"ids": [...], "text": decode(ids)}, encoded without the post-processor's BOS/EOS
 *       unless --special, decoded without skipping special tokens
 *   hftok_cli TOKENIZER.JSON --time
 *       only loads the file and prints "SECONDS s, N ids"
 *   hftok_cli TOKENIZER.JSON --throughput [MAX_BYTES]
 *       encodes the lines (up to MAX_BYTES of text, all when 0 or absent), prints nothing
 *       per line, and ends with "BYTES bytes, TOKENS tokens, SECONDS s: RATE MB/s" (one
 *       thread; the load and the JSON parsing not counted)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hftok.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: hftok_cli TOKENIZER.JSON [--special | --time | --throughput [MAX_BYTES]] < lines.jsonl\n");
		return 2;
	}
	struct err e = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct hftok *t = hftok_load(argv[1], &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!t) {
		fprintf(stderr, "hftok_cli: %s\n", e.msg);
		return 1;
	}
	int special = argc > 2 && !strcmp(argv[2], "--special");
	int throughput = argc > 2 && !strcmp(argv[2], "--throughput");
	double secs = 0, bytes = 0, max = throughput && argc > 3 ? strtod(argv[3], NULL) : 0;
	size_t ntok = 0;
	if (argc > 2 && !strcmp(argv[2], "--time")) {
		printf("%.3f s, %d ids\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       hftok_vocab_size(t));
		hftok_free(t);
		return 0;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	struct hftok_ids ids = { 0 };
	int rc = 0;
	while ((!max || bytes < max) && (got = getline(&line, &cap, stdin)) > 0) {
		json_error_t je;
		json_t *s = json_loadb(line, (size_t)got, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!json_is_string(s)) {
			fprintf(stderr, "hftok_cli: input line is not a JSON string: %s\n", je.text);
			json_decref(s);
			rc = 1;
			break;
		}
		ids.n = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int erc = hftok_encode(t, json_string_value(s), json_string_length(s), special, &ids, &e);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		bytes += (double)json_string_length(s);
		ntok += ids.n;
		json_decref(s);
		if (erc < 0) {
			fprintf(stderr, "hftok_cli: %s\n", e.msg);
			rc = 1;
			break;
		}
		if (throughput)
			continue;
		size_t tlen = 0;
		char *text = hftok_decode(t, ids.v, ids.n, 0, &tlen, &e);
		if (!text) {
			fprintf(stderr, "hftok_cli: %s\n", e.msg);
			rc = 1;
			break;
		}
		json_t *arr = json_array();
		for (size_t i = 0; i < ids.n; i++)
			json_array_append_new(arr, json_integer(ids.v[i]));
		json_t *o = json_pack("{s:o, s:o}", "ids", arr, "text", json_stringn_nocheck(text, tlen));
		free(text);
		char *out = json_dumps(o, JSON_COMPACT);
		puts(out ? out : "null");
		free(out);
		json_decref(o);
	}
	if (throughput)
		printf("%.0f bytes, %zu tokens, %.3f s: %.2f MB/s\n", bytes, ntok, secs,
		       secs > 0 ? bytes / secs / 1e6 : 0.0);
	free(line);
	free(ids.v);
	hftok_free(t);
	return rc;
}
