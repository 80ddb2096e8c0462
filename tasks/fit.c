#include "fit.h"

#include <string.h>

#include "checkpoint.h"
#include "config.h"
#include "names.h"
#include "chat.h"
#include "packing.h"
#include "tokenizer.h"

/* The dataset key of a stage kind and whether it packs whole examples (sft). */
static const char *stage_key(const char *kind, int *example)
{
	*example = !strcmp(kind, NAME_STAGE_SFT);
	if (*example || !strcmp(kind, NAME_STAGE_EVAL))
		return "dataset";
	if (!strcmp(kind, NAME_STAGE_GRPO) || !strcmp(kind, NAME_STAGE_REJECT))
		return "prompts";
	return NULL;
}

/* The SFT chat of a record (its messages, JSON text) packed by f: its length and the
 * first trained position. */
static int64_t chat_length(struct tokenizer *tok, const struct chat_format *f,
	const char *messages, size_t *start, struct err *err)
{
	json_error_t jerr;
	json_t *m = json_loads(messages, 0, &jerr);
	struct chat c = { 0 };
	int64_t got = -1;
	if (!m)
		err_set(err, ERR_FORMAT, "messages are not JSON: %s", jerr.text);
	else if (chat_parse(m, 1, &c, err) == 0)
		got = pack_chat(tok, f, &c, NULL, NULL, 0, start, err);
	chat_release(&c);
	json_decref(m);
	return got;
}

/* The records of dataset `ds` as stage `st` reads them. */
static int check_dataset(const json_t *spec, const json_t *st, const char *ds, int example,
	int max_seq, struct tokenizer *tok, const struct fit_source *src, struct err *err)
{
	const char *sname = json_string_value(json_object_get(st, "name"));
	const char *tpl = json_string_value(json_object_get(example ? st : spec, "template"));
	int64_t max_new = example ? 0 : json_integer_value(json_object_get(st, "max_new_tokens"));
	int64_t limit = json_integer_value(json_object_get(st, "limit")), n = 0;
	int known = src->count(src->ctx, ds, &n, err);
	if (known <= 0)
		return known;
	if (limit > 0 && limit < n)
		n = limit;
	struct chat_format fmt;
	int chat = example ? chat_format_stage(st, &fmt, err) : 0;
	if (chat < 0)
		return err_wrap(err, "stage '%s'", sname);
	int64_t bad = 0, worst = -1;
	size_t worst_len = 0, worst_start = 0;
	int worst_chat = 0;
	char where[sizeof ((struct fit_record *)0)->where] = "";
	for (int64_t i = 0; i < n; i++) {
		struct fit_record r = { 0 };
		if (src->get(src->ctx, ds, i, &r, err) < 0)
			return -1;
		size_t len, start = 0;
		int64_t got;
		int fits;
		if (example && chat && r.messages) {
			got = chat_length(tok, &fmt, r.messages, &start, err);
			if (got < 0)
				return err_wrap(err, "stage '%s': dataset '%s' record %lld%s%s%s", sname, ds,
					(long long)i, *r.where ? " (" : "", r.where, *r.where ? ")" : "");
			fits = got <= max_seq;
		} else if (example) {
			if (!r.prompt || !r.response)
				continue; /* the stage says what is missing */
			got = pack_example(tok, tpl, r.prompt, r.response, NULL, 0, &start, err);
			fits = got >= 0 && got <= max_seq;
		} else {
			if (!r.prompt)
				continue;
			got = pack_prompt(tok, tpl, r.prompt, NULL, 0, err);
			fits = got >= 0 && pack_prompt_fits((size_t)got, max_new, max_seq);
		}
		if (got < 0)
			return -1;
		len = (size_t)got;
		if (fits)
			continue;
		bad++;
		if (worst < 0 || len > worst_len) {
			worst = i;
			worst_len = len;
			worst_start = start;
			worst_chat = example && chat && r.messages;
			memcpy(where, r.where, sizeof where);
		}
	}
	if (!bad)
		return 0;
	char at[sizeof where + 4] = "";
	if (*where)
		snprintf(at, sizeof at, " (%s)", where);
	if (example)
		return err_set(err, ERR_INVALID, "stage '%s': dataset '%s' record %lld%s: the SFT "
			"%s is %zu tokens (%zu before the %s), more than max_seq %d (%lld of %lld "
			"records do not fit): shorten the examples or raise max_seq", sname, ds,
			(long long)worst, at, worst_chat ? "chat" : "example", worst_len, worst_start,
			worst_chat ? "first answer" : "response", max_seq, (long long)bad, (long long)n);
	return err_set(err, ERR_INVALID, "stage '%s': dataset '%s' record %lld%s: the templated "
		"prompt is %zu tokens and max_new_tokens %lld needs %lld, more than max_seq %d "
		"(%lld of %lld records do not fit): shorten the template or the prompts, lower "
		"max_new_tokens or raise max_seq", sname, ds, (long long)worst, at, worst_len,
		(long long)max_new, (long long)worst_len + (long long)max_new, max_seq,
		(long long)bad, (long long)n);
}

/* Each dataset the stage reads (an eval's `datasets`, one by one). */
static int check_stage(const json_t *spec, const json_t *st, int max_seq,
	struct tokenizer *tok, const struct fit_source *src, struct err *err)
{
	const char *kind = json_string_value(json_object_get(st, "kind"));
	int example = 0;
	const char *key = kind ? stage_key(kind, &example) : NULL;
	const char *ds = key ? json_string_value(json_object_get(st, key)) : NULL;
	const json_t *list = key ? json_object_get(st, "datasets") : NULL, *x;
	size_t i;
	if (ds)
		return check_dataset(spec, st, ds, example, max_seq, tok, src, err);
	json_array_foreach(list, i, x)
		if (check_dataset(spec, st, json_string_value(x), example, max_seq, tok, src, err) < 0)
			return -1;
	return 0;
}

int fit_check(const json_t *spec, int max_seq, struct tokenizer *tok,
	const struct fit_source *src, struct err *err)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(spec, "stages"), i, st)
		if (check_stage(spec, st, max_seq, tok, src, err) < 0)
			return -1;
	return 0;
}

int fit_model_config(const json_t *spec, struct model_config *cfg, struct err *err)
{
	const json_t *model = json_object_get(spec, "model");
	const json_t *config = json_object_get(model, "config");
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	config_defaults(cfg);
	if (config) {
		cfg->max_seq = (int)json_integer_value(json_object_get(config, "max_seq"));
		if (json_object_get(model, "tokenizer")) /* a model made for the tokenizer */
			cfg->vocab = cfg->bos_id = cfg->eos_id = cfg->pad_id = -1;
		return 1;
	}
	if (!dir)
		return 0;
	return hfconfig_read(dir, cfg, err) < 0 ? -1 : 1;
}

int fit_tokenizer_paths(const json_t *spec, struct tokenizer_paths *p, struct err *err)
{
	const json_t *model = json_object_get(spec, "model");
	const char *path = json_string_value(json_object_get(model, "tokenizer"));
	const char *dir = json_string_value(json_object_get(model, "checkpoint"));
	const char *key = path ? "model.tokenizer" : "model.checkpoint";
	if (!path && !dir)
		return 0;
	int rc = tokenizer_find(path ? path : dir, p, err);
	if (rc < 0)
		return err_wrap(err, "%s", key);
	if (rc == 0 && path)
		return err_set(err, ERR_NOTFOUND, "model.tokenizer: '%s' holds no " TOKENIZER_JSON,
			path);
	return rc;
}

int fit_model(const json_t *spec, int *max_seq, struct tokenizer *tok, struct err *err)
{
	const json_t *model = json_object_get(spec, "model");
	const char *key = json_object_get(model, "tokenizer") ? "model.tokenizer" :
		"model.checkpoint";
	struct model_config cfg;
	struct tokenizer_paths p;
	int known = fit_model_config(spec, &cfg, err);
	if (known <= 0)
		return known;
	*max_seq = cfg.max_seq;
	int rc = fit_tokenizer_paths(spec, &p, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		tokenizer_bytes(tok, &cfg);
		return 1;
	}
	if (tokenizer_load(tok, p.json, *p.config ? p.config : NULL,
		*p.generation ? p.generation : NULL, &cfg, err) < 0)
		return err_wrap(err, "%s", key);
	return 1;
}
