/*
 * job_reject — rejection sampling's filters (R1 §2.3.3; filters.h) over scored
 * samples.
 *
 * params
 *   filters            object; each key absent means that filter is off:
 *     correct          bool: drop samples that are not correct
 *     mixed_language   bool: drop reasoning outside `alphabet` (filters_mixed_language)
 *     alphabet         UTF-8 string, default REWARDS_ALPHABET
 *     max_paragraph    N >= 0: drop a reasoning line longer than N bytes (0: off)
 *     code_blocks      bool: drop completions with "```"
 *     duplicates       bool: keep the first of equal filters_hash within a prompt
 *     max_per_prompt   N >= 0: keep the first N per prompt (0: no cap)
 *   correct_threshold  number, default 1: an item is correct when its `correct`
 *                      value (the correctness reward, 0/1) is >= it, or, when the
 *                      item has no `correct`, its `total`
 *   items              array of {prompt_index: I >= 0, completion: text,
 *                      total: number, correct: number or bool} (total and correct
 *                      optional, but the correct filter needs one of them)
 *
 * Filters run in the order above; a dropped item is counted by the first filter
 * that drops it, and duplicates and max_per_prompt only see the items that passed
 * the filters before them ("first" is in item order).
 *
 * Result: {kept: [item indices, ascending], dropped: {correct, mixed_language,
 * max_paragraph, code_blocks, duplicates, max_per_prompt: counts}} (every key,
 * 0 for a filter that is off).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters.h"
#include "jobparams.h"
#include "kinds.h"
#include "rewards.h"

enum reject_filter { F_CORRECT, F_MIXED, F_PARAGRAPH, F_CODE, F_DUPLICATES, F_CAP, F_COUNT };

static const char *const reject_names[F_COUNT] = {
	"correct", "mixed_language", "max_paragraph", "code_blocks", "duplicates", "max_per_prompt",
};

struct reject_item {
	long long prompt;
	const char *completion;
	size_t len;
	int correct;          /* -1: the item says nothing */
	uint64_t hash;
	size_t index;
	int dropped;          /* F_COUNT: kept */
};

struct reject_spec {
	int on[F_COUNT];
	long long max_paragraph, max_per_prompt;
	const char *alphabet;
	double threshold;
};

static int reject_parse_filters(struct jobparams *p, const json_t *params, struct reject_spec *s)
{
	const json_t *f;
	if (jobparams_object(p, params, "filters", 1, &f) < 0)
		return -1;
	jobparams_at(p, "filters.");
	if (jobparams_bool(p, f, "correct", 0, 0, &s->on[F_CORRECT]) < 0 ||
		jobparams_bool(p, f, "mixed_language", 0, 0, &s->on[F_MIXED]) < 0 ||
		jobparams_str(p, f, "alphabet", 0, &s->alphabet, NULL) < 0 ||
		jobparams_int(p, f, "max_paragraph", 0, 0, 0, INT64_MAX, &s->max_paragraph) < 0 ||
		jobparams_bool(p, f, "code_blocks", 0, 0, &s->on[F_CODE]) < 0 ||
		jobparams_bool(p, f, "duplicates", 0, 0, &s->on[F_DUPLICATES]) < 0 ||
		jobparams_int(p, f, "max_per_prompt", 0, 0, 0, INT64_MAX, &s->max_per_prompt) < 0)
		return -1;
	if (!s->alphabet)
		s->alphabet = REWARDS_ALPHABET;
	struct rewards_component probe = { .name = "filters", .kind = REWARDS_LANGUAGE, .weight = 1,
		.params = { .alphabet = s->alphabet } };
	if (rewards_component_check(&probe, NULL) < 0)
		return jobparams_fail(p, "alphabet", "expected non-empty valid UTF-8");
	s->on[F_PARAGRAPH] = s->max_paragraph > 0;
	s->on[F_CAP] = s->max_per_prompt > 0;
	jobparams_at(p, "%s", "");
	return jobparams_num(p, params, "correct_threshold", 0, 1.0, -1e30, 1e30, &s->threshold);
}

static int reject_parse_item(struct jobparams *p, const json_t *o, const struct reject_spec *s,
	struct reject_item *it)
{
	const json_t *c = json_object_get(o, "correct"), *t = json_object_get(o, "total");
	double total;
	if (jobparams_int(p, o, "prompt_index", 1, 0, 0, INT64_MAX, &it->prompt) < 0 ||
		jobparams_str(p, o, "completion", 1, &it->completion, &it->len) < 0 ||
		jobparams_num(p, o, "total", 0, 0, -1e300, 1e300, &total) < 0)
		return -1;
	it->correct = -1;
	if (c && !json_is_null(c)) {
		if (json_is_boolean(c))
			it->correct = json_is_true(c);
		else if (json_is_number(c))
			it->correct = json_number_value(c) >= s->threshold;
		else
			return jobparams_fail(p, "correct", "expected a number or a boolean");
	} else if (t && !json_is_null(t)) {
		it->correct = total >= s->threshold;
	}
	if (s->on[F_CORRECT] && it->correct < 0)
		return jobparams_fail(p, "correct", "missing (and no total): the correct filter needs one");
	return 0;
}

/* By prompt, then hash, then index. */
static int reject_cmp_hash(const void *a, const void *b)
{
	const struct reject_item *x = *(const struct reject_item *const *)a;
	const struct reject_item *y = *(const struct reject_item *const *)b;
	if (x->prompt != y->prompt)
		return x->prompt < y->prompt ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* By prompt, then index. */
static int reject_cmp_prompt(const void *a, const void *b)
{
	const struct reject_item *x = *(const struct reject_item *const *)a;
	const struct reject_item *y = *(const struct reject_item *const *)b;
	if (x->prompt != y->prompt)
		return x->prompt < y->prompt ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The items still kept, as pointers, sorted by cmp. */
static size_t reject_survivors(struct reject_item *items, size_t n, struct reject_item **out,
	int (*cmp)(const void *, const void *))
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (items[i].dropped == F_COUNT)
			out[k++] = &items[i];
	qsort(out, k, sizeof *out, cmp);
	return k;
}

static void reject_apply(const struct reject_spec *s, struct reject_item *items, size_t n,
	struct reject_item **tmp)
{
	for (size_t i = 0; i < n; i++) {
		struct reject_item *it = &items[i];
		it->dropped = F_COUNT;
		if (s->on[F_CORRECT] && it->correct != 1)
			it->dropped = F_CORRECT;
		else if (s->on[F_MIXED] && filters_mixed_language(it->completion, it->len, s->alphabet))
			it->dropped = F_MIXED;
		else if (s->on[F_PARAGRAPH] &&
				filters_overlong_line(it->completion, it->len, (size_t)s->max_paragraph))
			it->dropped = F_PARAGRAPH;
		else if (s->on[F_CODE] && filters_code_block(it->completion, it->len))
			it->dropped = F_CODE;
	}
	if (s->on[F_DUPLICATES]) {
		for (size_t i = 0; i < n; i++)
			items[i].hash = filters_hash(items[i].completion, items[i].len);
		size_t k = reject_survivors(items, n, tmp, reject_cmp_hash);
		for (size_t i = 1; i < k; i++)
			if (tmp[i]->prompt == tmp[i - 1]->prompt && tmp[i]->hash == tmp[i - 1]->hash)
				tmp[i]->dropped = F_DUPLICATES;
	}
	if (s->on[F_CAP]) {
		size_t k = reject_survivors(items, n, tmp, reject_cmp_prompt);
		long long run = 0;
		for (size_t i = 0; i < k; i++) {
			run = i > 0 && tmp[i]->prompt == tmp[i - 1]->prompt ? run + 1 : 0;
			if (run >= s->max_per_prompt)
				tmp[i]->dropped = F_CAP;
		}
	}
}

int job_reject_run(const struct job *job, struct job_output *out, struct err *err)
{
	struct jobparams p;
	struct reject_spec s;
	struct reject_item *items = NULL, **tmp = NULL;
	const json_t *arr;
	json_t *kept = NULL, *dropped = NULL;
	long long count[F_COUNT] = { 0 };
	int rc = -1;
	memset(&s, 0, sizeof s);
	jobparams_init(&p, "reject", err);
	if (reject_parse_filters(&p, job->params, &s) < 0 ||
		jobparams_array(&p, job->params, "items", "an array of items", &arr) < 0)
		goto out;
	size_t n = json_array_size(arr);
	items = calloc(n ? n : 1, sizeof *items);
	tmp = calloc(n ? n : 1, sizeof *tmp);
	if (!items || !tmp) {
		err_set(err, ERR_NOMEM, "reject: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(arr, i);
		char key[32];
		snprintf(key, sizeof key, "items[%zu]", i);
		jobparams_at(&p, "%s", "");
		if (!json_is_object(o)) {
			jobparams_fail(&p, key, "expected an object");
			goto out;
		}
		jobparams_at(&p, "%s.", key);
		items[i].index = i;
		if (reject_parse_item(&p, o, &s, &items[i]) < 0)
			goto out;
	}
	reject_apply(&s, items, n, tmp);
	kept = json_array();
	dropped = json_object();
	int bad = !kept || !dropped;
	for (size_t i = 0; !bad && i < n; i++) {
		if (items[i].dropped == F_COUNT)
			bad = json_array_append_new(kept, json_integer((json_int_t)i));
		else
			count[items[i].dropped]++;
	}
	for (int f = 0; !bad && f < F_COUNT; f++)
		bad = json_object_set_new(dropped, reject_names[f], json_integer(count[f]));
	if (!bad) {
		out->result = json_object();
		int b1 = json_object_set_new(out->result, "kept", kept);
		int b2 = json_object_set_new(out->result, "dropped", dropped);
		kept = dropped = NULL; /* stolen, even on failure */
		bad = b1 || b2;
	}
	if (bad) {
		err_set(err, ERR_NOMEM, "reject: out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(kept);
	json_decref(dropped);
	free(items);
	free(tmp);
	return rc;
}
