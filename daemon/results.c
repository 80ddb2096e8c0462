#include "results.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "config.h"
#include "lora.h"

/* The checks below fail with "<kind> result: <where>: <problem>". */
struct check {
	const char *kind;
	struct err *err;
};

static int bad(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct check *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(c->err, ERR_INVALID, "%s result: %s", c->kind, msg);
}

static int is_finite(const json_t *v)
{
	return json_is_number(v) && isfinite(json_number_value(v));
}

static int count(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* The vocabulary and max_seq of the params' "config" (HF config.json object): 0 and
 * the fields set, -1 if the params carry none that parses (the checks needing it
 * are skipped). */
static int params_config(const json_t *params, struct model_config *cfg)
{
	const json_t *config = json_object_get(params, "config");
	if (!json_is_object(config))
		return -1;
	char *text = json_dumps(config, JSON_COMPACT);
	struct err e = { 0 };
	int rc = text ? hfconfig_parse(text, strlen(text), "config", cfg, &e) : -1;
	free(text);
	return rc;
}

/* No blob frames: the kinds that answer in JSON only. */
static int no_blobs(struct check *c, size_t nblobs)
{
	return nblobs ? bad(c, "%zu unexpected blob frame(s)", nblobs) : 0;
}

static int check_probe(struct check *c, int64_t job, const json_t *params, const json_t *r,
	const struct msg_frame *blobs, size_t nblobs)
{
	const char *payload = json_string_value(json_object_get(params, "payload"));
	const json_t *echo = json_object_get(r, "echo");
	if (!json_is_string(echo))
		return bad(c, "echo: expected a string");
	if (strcmp(json_string_value(echo), payload ? payload : "") != 0)
		return bad(c, "echo: not the job's payload");
	if (!json_is_integer(json_object_get(r, "job")) ||
		json_integer_value(json_object_get(r, "job")) != job)
		return bad(c, "job: expected %lld, the job's id", (long long)job);
	if (!count(json_object_get(r, "pid")))
		return bad(c, "pid: expected an integer >= 0");
	if (json_is_string(json_object_get(params, "blob")) &&
		!count(json_object_get(r, "blob_size")))
		return bad(c, "blob_size: expected an integer >= 0");
	json_int_t want = json_integer_value(json_object_get(params, "result_bytes"));
	if (want <= 0)
		return no_blobs(c, nblobs);
	if (nblobs != 1 || blobs[0].size != (size_t)want)
		return bad(c, "expected one result blob of %lld bytes (result_bytes), got %zu "
			"blob(s) of %zu bytes", (long long)want, nblobs, nblobs ? blobs[0].size : 0);
	return 0;
}

static int check_rollout(struct check *c, const json_t *params, const json_t *r, size_t nblobs)
{
	const json_t *prompts = json_object_get(params, "prompts");
	const json_t *samples = json_object_get(r, "samples");
	json_int_t G = json_integer_value(json_object_get(params, "samples"));
	json_int_t max_new = json_integer_value(json_object_get(params, "max_new_tokens"));
	struct model_config cfg;
	int have_cfg = params_config(params, &cfg) == 0;
	if (!json_is_array(samples))
		return bad(c, "samples: expected an array");
	size_t n = json_array_size(samples);
	if (json_is_array(prompts) && G > 0 &&
		n != json_array_size(prompts) * (size_t)G)
		return bad(c, "samples: %zu samples for %zu prompt(s) × %lld", n,
			json_array_size(prompts), (long long)G);
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(samples, i);
		const json_t *toks = json_object_get(s, "tokens"), *lps = json_object_get(s, "logprobs");
		const char *finish = json_string_value(json_object_get(s, "finish"));
		if (!json_is_object(s))
			return bad(c, "samples[%zu]: expected an object", i);
		if (G > 0 && json_is_array(prompts)) {
			const json_t *p = json_array_get(prompts, i / (size_t)G);
			const json_t *index = json_object_get(p, "index");
			if (!json_is_integer(json_object_get(s, "prompt")) || (json_is_integer(index) &&
				json_integer_value(json_object_get(s, "prompt")) != json_integer_value(index)))
				return bad(c, "samples[%zu].prompt: expected %lld", i,
					(long long)json_integer_value(index));
			if (!json_is_integer(json_object_get(s, "sample")) ||
				json_integer_value(json_object_get(s, "sample")) != (json_int_t)(i % (size_t)G))
				return bad(c, "samples[%zu].sample: expected %zu", i, i % (size_t)G);
			size_t plen = json_array_size(json_object_get(p, "tokens"));
			if (have_cfg && plen + json_array_size(toks) > (size_t)cfg.max_seq)
				return bad(c, "samples[%zu].tokens: %zu prompt and %zu generated tokens "
					"exceed max_seq %d", i, plen, json_array_size(toks), cfg.max_seq);
		}
		if (!json_is_array(toks))
			return bad(c, "samples[%zu].tokens: expected an array of token ids", i);
		size_t m = json_array_size(toks);
		if (max_new > 0 && m > (size_t)max_new)
			return bad(c, "samples[%zu].tokens: %zu tokens, more than max_new_tokens %lld", i,
				m, (long long)max_new);
		for (size_t t = 0; t < m; t++) {
			const json_t *id = json_array_get(toks, t);
			if (!count(id))
				return bad(c, "samples[%zu].tokens[%zu]: expected a token id", i, t);
			if (have_cfg && json_integer_value(id) >= cfg.vocab)
				return bad(c, "samples[%zu].tokens[%zu]: id %lld is not below the vocabulary "
					"size %d", i, t, (long long)json_integer_value(id), cfg.vocab);
		}
		if (!json_is_array(lps) || json_array_size(lps) != m)
			return bad(c, "samples[%zu].logprobs: expected %zu numbers, one per token", i, m);
		for (size_t t = 0; t < m; t++)
			if (!is_finite(json_array_get(lps, t)))
				return bad(c, "samples[%zu].logprobs[%zu]: expected a finite number", i, t);
		if (!json_is_string(json_object_get(s, "text")))
			return bad(c, "samples[%zu].text: expected a string", i);
		if (!finish || (strcmp(finish, "stop") != 0 && strcmp(finish, "length") != 0))
			return bad(c, "samples[%zu].finish: expected \"stop\" or \"length\"", i);
	}
	return no_blobs(c, nblobs);
}

static int check_reward(struct check *c, const json_t *params, const json_t *r, size_t nblobs)
{
	const json_t *want = json_object_get(params, "items"), *items = json_object_get(r, "items");
	const json_t *rewards = json_object_get(params, "rewards");
	if (!json_is_array(items))
		return bad(c, "items: expected an array");
	if (json_is_array(want) && json_array_size(items) != json_array_size(want))
		return bad(c, "items: %zu scores for %zu completions", json_array_size(items),
			json_array_size(want));
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *it = json_array_get(items, i);
		const json_t *comp = json_object_get(it, "components"), *rw;
		size_t k;
		if (!json_is_object(comp))
			return bad(c, "items[%zu].components: expected an object", i);
		json_array_foreach(rewards, k, rw) {
			const char *name = json_string_value(json_object_get(rw, "name"));
			if (name && !is_finite(json_object_get(comp, name)))
				return bad(c, "items[%zu].components.%s: expected a finite number", i, name);
		}
		if (!is_finite(json_object_get(it, "total")))
			return bad(c, "items[%zu].total: expected a finite number", i);
	}
	return no_blobs(c, nblobs);
}

/* job_reject.c's filters, in its order. */
static const char *const reject_filters[] = {
	"correct", "mixed_language", "max_paragraph", "code_blocks", "duplicates", "max_per_prompt",
};

static int check_reject(struct check *c, const json_t *params, const json_t *r, size_t nblobs)
{
	const json_t *kept = json_object_get(r, "kept"), *dropped = json_object_get(r, "dropped");
	const json_t *items = json_object_get(params, "items");
	size_t n = json_array_size(items);
	int know = json_is_array(items);
	if (!json_is_array(kept))
		return bad(c, "kept: expected an array of item indices");
	if (!json_is_object(dropped))
		return bad(c, "dropped: expected an object of counts");
	json_int_t prev = -1;
	for (size_t i = 0; i < json_array_size(kept); i++) {
		const json_t *x = json_array_get(kept, i);
		if (!count(x) || json_integer_value(x) <= prev)
			return bad(c, "kept[%zu]: expected an index above %lld (ascending, distinct)", i,
				(long long)prev);
		prev = json_integer_value(x);
		if (know && (size_t)prev >= n)
			return bad(c, "kept[%zu]: index %lld is not below the %zu items", i,
				(long long)prev, n);
	}
	int64_t total = (int64_t)json_array_size(kept);
	for (size_t f = 0; f < sizeof reject_filters / sizeof *reject_filters; f++) {
		const json_t *x = json_object_get(dropped, reject_filters[f]);
		if (!count(x) || json_integer_value(x) > (json_int_t)INT32_MAX)
			return bad(c, "dropped.%s: expected a count", reject_filters[f]);
		total += json_integer_value(x);
	}
	if (know && total != (int64_t)n)
		return bad(c, "kept and dropped count %lld items, the job has %zu", (long long)total, n);
	return no_blobs(c, nblobs);
}

/* grpo with return_ref_lp: one array of len(tokens) − start finite log-probs per
 * sequence, which the next rounds' jobs take as their ref_lp. */
static int check_ref_lp(struct check *c, const json_t *params, const json_t *r)
{
	const json_t *seqs = json_object_get(params, "seqs"), *all = json_object_get(r, "ref_lp");
	if (!json_is_true(json_object_get(params, "return_ref_lp")) ||
		!json_is_string(json_object_get(params, "ref_weights")) ||
		json_object_get(json_array_get(seqs, 0), "ref_lp"))
		return 0;
	if (!json_is_array(all) || json_array_size(all) != json_array_size(seqs))
		return bad(c, "ref_lp: expected an array of %zu arrays (one per sequence)",
			json_array_size(seqs));
	for (size_t i = 0; i < json_array_size(seqs); i++) {
		const json_t *s = json_array_get(seqs, i), *a = json_array_get(all, i);
		int64_t k = (int64_t)json_array_size(json_object_get(s, "tokens")) -
			json_integer_value(json_object_get(s, "start"));
		if (!json_is_array(a) || (int64_t)json_array_size(a) != k)
			return bad(c, "ref_lp[%zu]: expected %lld log-probs", i, (long long)k);
		for (size_t t = 0; t < json_array_size(a); t++)
			if (!is_finite(json_array_get(a, t)))
				return bad(c, "ref_lp[%zu][%zu]: expected a finite number", i, t);
	}
	return 0;
}

static int check_grad(struct check *c, const json_t *params, const json_t *r,
	const struct msg_frame *blobs, size_t nblobs, const int64_t *nonfinite)
{
	static const char *const sums[] = { "loss", "nll_sum", "entropy_sum" };
	for (size_t i = 0; i < sizeof sums / sizeof *sums; i++)
		if (!is_finite(json_object_get(r, sums[i])))
			return bad(c, "%s: expected a finite number", sums[i]);
	const json_t *tokens = json_object_get(r, "tokens"), *seqs = json_object_get(params, "seqs"), *s;
	if (!count(tokens))
		return bad(c, "tokens: expected an integer >= 0");
	if (json_is_array(seqs)) {
		int64_t positions = 0;
		size_t i;
		json_array_foreach(seqs, i, s)
			positions += (int64_t)json_array_size(json_object_get(s, "tokens")) -
				json_integer_value(json_object_get(s, "start"));
		if (json_integer_value(tokens) > positions)
			return bad(c, "tokens: %lld, more than the %lld positions of the shard",
				(long long)json_integer_value(tokens), (long long)positions);
	}
	const char *loss = json_string_value(json_object_get(params, "loss"));
	if (loss && strcmp(loss, "grpo") == 0) {
		if (!is_finite(json_object_get(r, "kl_sum")))
			return bad(c, "kl_sum: expected a finite number");
		if (!count(json_object_get(r, "clip_count")))
			return bad(c, "clip_count: expected an integer >= 0");
		if (check_ref_lp(c, params, r) < 0)
			return -1;
	}
	if (nblobs != 1)
		return bad(c, "%zu blob frames, expected 1 (the gradient)", nblobs);
	struct model_config cfg;
	if (params_config(params, &cfg) == 0) {
		long n = config_num_params(&cfg);
		const json_t *lo = json_object_get(params, "lora"), *t;
		if (lo) { /* adapters: their gradient alone */
			struct lora_config lc = { .rank = (int)json_integer_value(json_object_get(lo, "rank")) };
			size_t i;
			json_array_foreach(json_object_get(lo, "targets"), i, t) {
				int k = lora_target_from_name(json_string_value(t) ? json_string_value(t) : "");
				lc.targets |= k >= 0 ? 1u << k : 0;
			}
			n = (long)lora_num_params(&cfg, &lc);
		}
		if (n <= 0 || blobs[0].size != 4 * (size_t)n)
			return bad(c, "the gradient has %zu bytes, expected %zu (%ld fp32 parameters)",
				blobs[0].size, 4 * (size_t)(n > 0 ? n : 0), n);
	} else if (blobs[0].size % 4) {
		return bad(c, "the gradient has %zu bytes, not a whole number of fp32 values",
			blobs[0].size);
	}
	if (nonfinite) { /* uploaded: scanned piece by piece as it came (uploads.h) */
		if (nonfinite[0] >= 0)
			return bad(c, "gradient value %lld is not finite", (long long)nonfinite[0]);
		return 0;
	}
	const unsigned char *p = blobs[0].data;
	for (size_t i = 0; i < blobs[0].size / 4; i++) {
		uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
			(uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
		if ((u & 0x7f800000u) == 0x7f800000u) /* exponent all ones: inf or NaN */
			return bad(c, "gradient value %zu is not finite", i);
	}
	return 0;
}

int results_check(const char *kind, int64_t job, const json_t *params, const json_t *result,
	const struct msg_frame *blobs, size_t nblobs, const int64_t *nonfinite, struct err *err)
{
	struct check c = { kind ? kind : "?", err };
	if (!json_is_object(result))
		return bad(&c, "missing (a RESULT must carry a result object)");
	if (!kind)
		return 0;
	if (strcmp(kind, "probe") == 0)
		return check_probe(&c, job, params, result, blobs, nblobs);
	if (strcmp(kind, "rollout") == 0)
		return check_rollout(&c, params, result, nblobs);
	if (strcmp(kind, "reward") == 0)
		return check_reward(&c, params, result, nblobs);
	if (strcmp(kind, "reject") == 0)
		return check_reject(&c, params, result, nblobs);
	if (strcmp(kind, "grad") == 0)
		return check_grad(&c, params, result, blobs, nblobs, nonfinite);
	return 0;
}
