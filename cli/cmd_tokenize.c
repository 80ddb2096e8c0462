/*
 * r1flow tokenize — the ids a model directory's tokenizer gives a text, and the text
 * of ids: for checking a prompt template or a stop string against the vocabulary.
 *
 * The tokenizer is the one every other verb and the workers use (tokenizer.h):
 * DIR/tokenizer.json with its two optional companions, or the byte tokenizer when DIR
 * has none; DIR/config.json is required (its vocab_size bounds the tokenizer, its
 * bos/eos/pad ids are the fall-backs). The text is tokenized as it is, no BOS or EOS
 * added; --bos puts the BOS id first when the tokenizer starts sequences with one, as
 * packing does for every prompt and document.
 *
 * --json shows each token: {id, token (its vocabulary spelling, when it has one),
 * piece (the text it adds: a string when that is whole UTF-8, else its bytes as
 * "<0xAB>" runs, as a token holding part of a character does)}.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "client.h"
#include "err.h"
#include "tokenizer.h"
#include "utf8.h"

/* The text token `id` adds, for a person: whole UTF-8 as it is, else "<0xAB>" per byte. */
static json_t *tokenize_piece(const struct tokenizer *t, int id)
{
	char small[64], *buf = small;
	size_t n = tokenizer_piece(t, id, small, sizeof small);
	if (n >= sizeof small) {
		if (!(buf = malloc(n + 1)))
			return NULL;
		tokenizer_piece(t, id, buf, n + 1);
	}
	int whole = utf8_clean_size(buf, n) == n && memchr(buf, '\0', n) == NULL;
	json_t *j;
	if (whole) {
		j = json_stringn(buf, n);
	} else {
		char *hex = malloc(n * 6 + 1);
		for (size_t i = 0; hex && i < n; i++) /* n > 0: the empty piece is whole */
			snprintf(hex + i * 6, 7, "<0x%02X>", (unsigned char)buf[i]);
		j = hex ? json_string(hex) : NULL;
		free(hex);
	}
	if (buf != small)
		free(buf);
	return j;
}

/* [{id, token?, piece}, ...] of ids[0..n). */
static json_t *tokenize_tokens(const struct tokenizer *t, const int32_t *ids, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		const char *spelling = t->hf ? hftok_id_token(t->hf, ids[i]) :
			tok_special_name(ids[i]);
		json_t *o = json_pack("{si}", "id", (int)ids[i]), *piece = tokenize_piece(t, ids[i]);
		if (o && spelling)
			json_object_set_new(o, "token", utf8_jstring(spelling));
		int bad = !o || !piece || json_object_set(o, "piece", piece) ||
			json_array_append(list, o);
		json_decref(piece);
		json_decref(o);
		if (bad) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* The ids of the command line's arguments, each an integer in [0, vocab). */
static int tokenize_parse_ids(char **args, int n, const struct tokenizer *t, const char *dir,
	struct hftok_ids *ids)
{
	if (!(ids->v = malloc(sizeof *ids->v * (size_t)(n ? n : 1)))) {
		cli_error("tokenize", "out of memory for %d ids", n);
		return CLI_EXIT_FAIL;
	}
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long v = strtol(args[i], &end, 10);
		if (!args[i][0] || *end || errno)
			return cli_usage_error("tokenize", "'%s' is not a token id", args[i]);
		if (v < 0 || v >= t->vocab) {
			cli_error("tokenize", "token id %ld is outside the vocabulary of model '%s' "
				"(ids 0..%d)", v, dir, (int)t->vocab - 1);
			return CLI_EXIT_FAIL;
		}
		ids->v[ids->n++] = (int32_t)v;
	}
	return CLI_CONTINUE;
}

/* All of FILE's bytes ("-": standard input), read to the end: a pipe has no size. */
static int tokenize_read(const char *path, char **data, size_t *len, struct err *e)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 0, n = 0, got;
	char *buf = NULL;
	if (!f)
		return err_sys(e, errno, "cannot open '%s'", path);
	do {
		if (cap - n < 4096) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!b) {
				err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", path);
				goto fail;
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		err_sys(e, errno ? errno : EIO, "cannot read '%s'", path);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return -1;
}

static int tokenize_print(json_t *doc)
{
	if (!doc) {
		cli_error("tokenize", "cannot build the JSON output: out of memory");
		return CLI_EXIT_FAIL;
	}
	int rc = client_print_json("tokenize", doc);
	json_decref(doc);
	return rc;
}

int cmd_tokenize(int argc, char **argv)
{
	const char *dir = NULL, *text = NULL, *file = NULL;
	bool json = false, decode = false, bos = false;
	const struct opt opts[] = {
		{ "model", OPT_STRING, &dir, "DIR", 0, 0, OPT_REQUIRED | OPT_NONEMPTY,
		  "model directory (config.json; tokenizer.json when it has one)", NULL },
		{ "text", OPT_STRING, &text, "TEXT", 0, 0, 0, "the text to tokenize", NULL },
		{ "file", OPT_STRING, &file, "FILE", 0, 0, OPT_NONEMPTY,
		  "tokenize FILE's bytes, all of them (a final newline too; -: stdin)", NULL },
		{ "bos", OPT_FLAG, &bos, NULL, 0, 0, 0,
		  "put BOS first if the tokenizer adds one (as packing does)", NULL },
		{ "decode", OPT_FLAG, &decode, NULL, 0, 0, 0,
		  "print the text of the ids given as arguments", NULL },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {ids, tokens: [{id, token, piece}]} (with --decode {text, tokens})",
		  NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "tokenize", .args = "[ID...]", .min_args = 0, .max_args = 1 << 20,
		.opts = opts,
		.about = "Print the token ids of TEXT (or of FILE) under the tokenizer of the model\n"
			 "in DIR, separated by spaces on one line; with --decode, print the text\n"
			 "of the ids given as arguments. The tokenizer is DIR/tokenizer.json (with\n"
			 "tokenizer_config.json and generation_config.json when present) or, without\n"
			 "one, r1flow's byte tokenizer; it is the one training and sampling use, so\n"
			 "special-token text such as <|im_start|> or <think> shows as its id when the\n"
			 "vocabulary has it. No BOS or EOS is added unless --bos (what packing puts\n"
			 "before a prompt). --json shows each token's vocabulary spelling and the\n"
			 "text it adds (bytes of a partial character as <0xAB>).\n\n"
			 "example: r1flow tokenize --model models/qwen --text '<|im_start|>user'\n"
			 "         r1flow tokenize --model models/qwen --decode 151644 872\n\n"
			 "exit status: 0 printed, 1 DIR, its config.json or its tokenizer unusable, a\n"
			 "FILE unreadable or an id outside the vocabulary, 2 usage error",
	};
	int first = 0;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	int nargs = argc - first;
	if (decode) {
		if (text || file || bos)
			return cli_usage_error("tokenize", "--decode takes ids, not %s",
				text ? "--text" : file ? "--file" : "--bos");
		if (nargs == 0)
			return cli_usage_error("tokenize", "--decode needs the ids to decode");
	} else {
		if (nargs > 0)
			return cli_usage_error("tokenize", "unexpected argument '%s' (ids go with "
				"--decode)", argv[first]);
		if (!text == !file)
			return cli_usage_error("tokenize", "give the text with --text or --file "
				"(one of them)");
	}

	struct err e = { 0 };
	struct model_config cfg;
	struct tokenizer t = { 0 };
	struct hftok_ids ids = { 0 };
	char *data = NULL, *out = NULL;
	size_t len = 0;
	rc = CLI_EXIT_FAIL;
	if (hfconfig_read(dir, &cfg, &e) < 0) {
		cli_error("tokenize", "cannot load model '%s': %s", dir, e.msg);
		return CLI_EXIT_FAIL;
	}
	if (tokenizer_open_dir(&t, dir, &cfg, &e) < 0) {
		cli_error("tokenize", "cannot load the tokenizer of model '%s': %s", dir, e.msg);
		return CLI_EXIT_FAIL;
	}
	if (decode) {
		rc = tokenize_parse_ids(argv + first, nargs, &t, dir, &ids);
		if (rc != CLI_CONTINUE)
			goto out;
		rc = CLI_EXIT_FAIL;
		if (!(out = tokenizer_decode(&t, ids.v, ids.n, &len, &e))) {
			cli_error("tokenize", "%s", e.msg);
			goto out;
		}
		if (json) {
			rc = tokenize_print(json_pack("{so so}", "text", utf8_json(out, len),
				"tokens", tokenize_tokens(&t, ids.v, ids.n)));
		} else {
			fwrite(out, 1, len, stdout);
			putchar('\n');
			rc = CLI_EXIT_OK;
		}
		goto out;
	}
	if (file) {
		if (tokenize_read(file, &data, &len, &e) < 0) {
			cli_error("tokenize", "%s", e.msg);
			goto out;
		}
		text = data;
	} else {
		len = strlen(text);
	}
	if ((bos ? tokenizer_encode_bos(&t, text, len, &ids, &e) :
		tokenizer_encode(&t, text, len, &ids, &e)) < 0) {
		cli_error("tokenize", "cannot tokenize %s: %s", file ? "--file" : "--text", e.msg);
		goto out;
	}
	if (json) {
		json_t *list = json_array();
		for (size_t i = 0; list && i < ids.n; i++)
			if (json_array_append_new(list, json_integer(ids.v[i]))) {
				json_decref(list);
				list = NULL;
			}
		rc = tokenize_print(json_pack("{so so}", "ids", list, "tokens",
			tokenize_tokens(&t, ids.v, ids.n)));
	} else {
		for (size_t i = 0; i < ids.n; i++)
			printf(i ? " %d" : "%d", (int)ids.v[i]);
		putchar('\n');
		rc = CLI_EXIT_OK;
	}
out:
	free(ids.v);
	free(data);
	free(out);
	tokenizer_release(&t);
	return rc;
}
