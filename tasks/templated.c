#include "templated.h"

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "names.h"
#include "packing.h"

const char *templated_dataset(const json_t *stage)
{
	const char *kind = json_string_value(json_object_get(stage, "kind"));
	if (!kind)
		return NULL;
	if (!strcmp(kind, NAME_STAGE_GRPO) || !strcmp(kind, NAME_STAGE_REJECT))
		return json_string_value(json_object_get(stage, "prompts"));
	if (!strcmp(kind, NAME_STAGE_EVAL) || !strcmp(kind, NAME_STAGE_SFT) ||
		!strcmp(kind, NAME_STAGE_PRETRAIN))
		return json_string_value(json_object_get(stage, "dataset"));
	return NULL;
}

/* ids[from..to) with mask[i] == want (mask NULL: all) decoded, runs on lines of their
 * own; *count the ids taken. */
static char *decode_runs(struct tokenizer *tok, const int *ids, const unsigned char *mask,
	size_t from, size_t to, int64_t *count, struct err *err)
{
	char *out = NULL;
	size_t len = 0;
	*count = 0;
	for (size_t i = from; i < to;) {
		size_t j = i;
		if (mask && !mask[i]) {
			i++;
			continue;
		}
		while (j < to && (!mask || mask[j]))
			j++;
		size_t n;
		char *run = tokenizer_decode(tok, ids + i, j - i, &n, err);
		char *grown = run ? realloc(out, len + n + 2) : NULL;
		if (!grown) {
			free(run);
			free(out);
			if (!err->code)
				err_set(err, ERR_NOMEM, "out of memory");
			return NULL;
		}
		out = grown;
		if (len)
			out[len++] = '\n';
		memcpy(out + len, run, n);
		len += n;
		out[len] = 0;
		free(run);
		*count += (int64_t)(j - i);
		i = j;
	}
	return out ? out : strdup("");
}

/* The ids of r through the stage into a new *ids; *n their number, *start the first
 * trained id (sft), mask (sft chats, else NULL) which ids are trained. */
static int pack(const json_t *spec, const json_t *st, struct tokenizer *tok,
	const struct fit_record *r, int **ids, unsigned char **mask, size_t *n, size_t *start,
	struct err *err)
{
	const char *kind = json_string_value(json_object_get(st, "kind"));
	const char *sname = json_string_value(json_object_get(st, "name"));
	int sft = !strcmp(kind, NAME_STAGE_SFT), pre = !strcmp(kind, NAME_STAGE_PRETRAIN);
	const char *tpl = json_string_value(json_object_get(sft ? st : spec, "template"));
	struct chat_format fmt;
	struct chat c = { 0 };
	json_t *m = NULL;
	int chat = sft ? chat_format_stage(st, &fmt, err) : 0;
	int64_t got = -1;
	*ids = NULL;
	*mask = NULL;
	*start = 0;
	if (chat < 0)
		return -1;
	if (chat && r->messages) {
		json_error_t jerr;
		if (!(m = json_loads(r->messages, 0, &jerr)))
			return err_set(err, ERR_FORMAT, "its messages are not JSON: %s", jerr.text);
		if (chat_parse(m, 1, &c, err) == 0)
			got = pack_chat(tok, &fmt, &c, NULL, NULL, 0, start, err);
	} else if (pre) {
		if (!r->text)
			return err_set(err, ERR_INVALID, "it has no text (stage '%s' pretrains on "
				"documents)", sname);
		got = pack_document(tok, r->text, NULL, 0, err);
	} else if (sft) {
		if (!r->prompt || !r->response)
			return err_set(err, ERR_INVALID, "it has no prompt and response (stage '%s' "
				"trains on examples)", sname);
		got = pack_example(tok, tpl, r->prompt, r->response, NULL, 0, start, err);
	} else {
		if (!r->prompt)
			return err_set(err, ERR_INVALID, "it has no prompt (stage '%s' samples from "
				"prompts)", sname);
		got = pack_prompt(tok, tpl, r->prompt, NULL, 0, err);
	}
	if (got >= 0) { /* the same call again, now with room for every id */
		size_t cap = (size_t)got ? (size_t)got : 1;
		*ids = malloc(cap * sizeof **ids);
		*mask = chat && r->messages ? malloc(cap) : NULL;
		if (!*ids || (chat && r->messages && !*mask))
			got = err_set(err, ERR_NOMEM, "out of memory");
		else if (chat && r->messages)
			got = pack_chat(tok, &fmt, &c, *ids, *mask, cap, start, err);
		else if (pre)
			got = pack_document(tok, r->text, *ids, cap, err);
		else if (sft)
			got = pack_example(tok, tpl, r->prompt, r->response, *ids, cap, start, err);
		else
			got = pack_prompt(tok, tpl, r->prompt, *ids, cap, err);
	}
	chat_release(&c);
	json_decref(m);
	if (got < 0) {
		free(*ids);
		free(*mask);
		*ids = NULL;
		*mask = NULL;
		return -1;
	}
	*n = (size_t)got;
	if (!sft)
		*start = *n;
	return 0;
}

int templated_record(const json_t *spec, const json_t *st, struct tokenizer *tok,
	const struct fit_record *r, struct templated *out, struct err *err)
{
	int *ids;
	unsigned char *mask;
	size_t n = 0, start = 0;
	int64_t all;
	memset(out, 0, sizeof *out);
	if (!templated_dataset(st))
		return err_set(err, ERR_INVALID, "stage '%s' (%s) reads no records",
			json_string_value(json_object_get(st, "name")),
			json_string_value(json_object_get(st, "kind")));
	if (pack(spec, st, tok, r, &ids, &mask, &n, &start, err) < 0)
		return -1;
	int sft = !strcmp(json_string_value(json_object_get(st, "kind")), NAME_STAGE_SFT);
	out->tokens = (int64_t)n;
	out->text = decode_runs(tok, ids, NULL, 0, n, &all, err);
	if (out->text && sft)
		out->trained = decode_runs(tok, ids, mask, mask ? 0 : start, n, &out->trained_tokens,
			err);
	free(ids);
	free(mask);
	if (!out->text || (sft && !out->trained)) {
		templated_release(out);
		return -1;
	}
	return 0;
}

void templated_release(struct templated *t)
{
	free(t->text);
	free(t->trained);
	memset(t, 0, sizeof *t);
}
