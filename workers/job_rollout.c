/*
 * job_rollout — G samples for each of a chunk of prompts (docs/protocol.md "rollout").
 *
 * params
 *   weights, config   the model (jobmodel.h)
 *   key               the RNG key of the stage/step: a u64 as a decimal string
 *   prompts           non-empty array of {index: I (>= 0, the prompt's global index),
 *                     tokens: [id...] (1..max_seq−1 ids, each < vocab)}
 *   samples           G, 1..65536
 *   temperature       >= 0; 0 is greedy
 *   top_p             (0, 1], default 1;  top_k >= 0, default 0 (no limit)
 *   max_new_tokens    1..max_seq−1
 *   stop              array of strings, default none
 *   tokenizer         the pipeline's tokenizer files (jobtok.h), default the byte
 *                     tokenizer
 *
 * Sample j of prompt I draws its coins from stream gen_request.index = I·G + j
 * under `key` (generate.h), so its tokens do not depend on which prompts share the
 * job. All P·G sequences go through one gen_run when they fit MEMPLAN_ROLLOUT_BYTES
 * (KV cache, decode scratch and prefill activations, estimated from the config and
 * the params: memplan.h), else through fixed chunks of that many sequences in
 * (prompt, j) order:
 * a function of the params alone. Sequences hold at most max_seq tokens (prompt +
 * generated; reaching it is finish "length").
 *
 * Result: {samples: [{prompt: I, sample: j, tokens: [generated ids, EOS or the
 * stop string's tokens included], text, logprobs: [log π(token) under the
 * untempered softmax, one per token], finish: "stop"|"length"}]} in (params prompt
 * order, j) order. text is the tokenizer's decoding of the tokens but a final stop
 * id (EOS), special tokens spelled out, with each byte of invalid UTF-8, and each
 * NUL, replaced by U+FFFD (utf8_json: JSON strings are UTF-8, and the scores are
 * unchanged).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "jobmodel.h"
#include "jobtok.h"
#include "kinds.h"
#include "memplan.h"
#include "tokenizer.h"
#include "utf8.h"

#define ROLLOUT_MAX_SAMPLES 65536

struct rollout_prompt {
	uint64_t index;
	int *tokens;
	int n;
};

struct rollout_job {
	struct jobmodel_spec spec;
	struct gen_params gp;
	struct rollout_prompt *prompts;
	size_t np;
	int G;
	int longest;          /* longest prompt */
	const char **stop;    /* NULL-terminated, strings borrowed from params */
};

static void rollout_job_release(struct rollout_job *r)
{
	for (size_t i = 0; r->prompts && i < r->np; i++)
		free(r->prompts[i].tokens);
	free(r->prompts);
	free(r->stop);
	jobmodel_spec_release(&r->spec);
}

/* A u64 in decimal: digits only, no sign, no overflow. */
static int rollout_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s || strlen(s) > 20)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int rollout_parse(const json_t *params, struct rollout_job *r, struct err *err)
{
	struct jobparams p;
	const char *key;
	const json_t *prompts, *stop = NULL;
	long long G, top_k, max_new;
	double temp, top_p;
	jobparams_init(&p, "rollout", err);
	if (jobmodel_spec_read(&p, params, &r->spec) < 0)
		return -1;
	const struct model_config *c = &r->spec.cfg;
	if (jobparams_str(&p, params, "key", 1, &key, NULL) < 0)
		return -1;
	if (rollout_parse_u64(key, &r->gp.key) < 0)
		return jobparams_fail(&p, "key", "expected a u64 as a decimal string");
	if (jobparams_int(&p, params, "samples", 1, 0, 1, ROLLOUT_MAX_SAMPLES, &G) < 0 ||
		jobparams_num(&p, params, "temperature", 1, 0, 0, 1e6, &temp) < 0 ||
		jobparams_num(&p, params, "top_p", 0, 1, 0, 1, &top_p) < 0 ||
		jobparams_int(&p, params, "top_k", 0, 0, 0, INT32_MAX, &top_k) < 0 ||
		jobparams_int(&p, params, "max_new_tokens", 1, 0, 1, c->max_seq - 1, &max_new) < 0)
		return -1;
	if (top_p <= 0)
		return jobparams_fail(&p, "top_p", "%g is out of range (0 excluded..1)", top_p);
	r->G = (int)G;
	r->gp.sampler = (struct sampler_params){ (float)temp, (int)top_k, (float)top_p };
	r->gp.max_new_tokens = (int)max_new;
	if (json_object_get(params, "stop") && !json_is_null(json_object_get(params, "stop")) &&
		jobparams_array(&p, params, "stop", "an array of strings", &stop) < 0)
		return -1;
	size_t ns = stop ? json_array_size(stop) : 0;
	if (!(r->stop = calloc(ns + 1, sizeof *r->stop)))
		return err_set(err, ERR_NOMEM, "rollout: out of memory");
	for (size_t i = 0; i < ns; i++) {
		if (!json_is_string(json_array_get(stop, i)))
			return jobparams_fail(&p, "stop", "expected an array of strings");
		r->stop[i] = json_string_value(json_array_get(stop, i));
	}
	r->gp.stop = r->stop;

	if (jobparams_array(&p, params, "prompts", "an array of prompts", &prompts) < 0)
		return -1;
	r->np = json_array_size(prompts);
	if (r->np == 0)
		return jobparams_fail(&p, "prompts", "expected a non-empty array of prompts");
	if (r->np > (size_t)INT32_MAX / (size_t)r->G)
		return jobparams_fail(&p, "prompts", "%zu prompts x %d samples: too many", r->np, r->G);
	if (!(r->prompts = calloc(r->np, sizeof *r->prompts)))
		return err_set(err, ERR_NOMEM, "rollout: out of memory");
	char max_what[64];
	snprintf(max_what, sizeof max_what, "max_seq - 1 (%d)", c->max_seq - 1);
	for (size_t i = 0; i < r->np; i++) {
		const json_t *o = json_array_get(prompts, i);
		struct rollout_prompt *rp = &r->prompts[i];
		char k[32];
		long long index;
		snprintf(k, sizeof k, "prompts[%zu]", i);
		if (!json_is_object(o))
			return jobparams_fail(&p, k, "expected an object");
		jobparams_at(&p, "%s.", k);
		if (jobparams_int(&p, o, "index", 1, 0, 0, INT64_MAX, &index) < 0 ||
			jobparams_tokens(&p, o, "tokens", c->vocab, c->max_seq - 1, max_what, &rp->tokens,
				&rp->n) < 0)
			return -1;
		if (rp->n < 1)
			return jobparams_fail(&p, "tokens", "empty: a prompt needs at least one token");
		if ((uint64_t)index > (UINT64_MAX - (uint64_t)(r->G - 1)) / (uint64_t)r->G)
			return jobparams_fail(&p, "index", "%lld x %d samples overflows the RNG index", index, r->G);
		rp->index = (uint64_t)index;
		r->longest = rp->n > r->longest ? rp->n : r->longest;
	}
	return 0;
}

/* Sequences per gen_run: as many as MEMPLAN_ROLLOUT_BYTES holds (generate.c's gen_init:
 * KV cache, decode buffers and the prefill's one-layer working set, estimated). */
static int rollout_rows(const struct model_config *c, int max_len, int longest, size_t n)
{
	return (int)memplan_rows(MEMPLAN_ROLLOUT_BYTES, memplan_gen_bytes(c, max_len) +
		memplan_prefill_bytes(c, longest), (double)n);
}

/* The decoded text of the tokens but a final stop id as a JSON string (utf8.h:
 * invalid bytes and NUL → U+FFFD). */
static json_t *rollout_text(const struct tokenizer *tok, const int *tokens, int n)
{
	size_t len;
	if (n > 0 && tokenizer_is_stop(tok, tokens[n - 1]))
		n--;
	char *raw = tokenizer_decode(tok, tokens, (size_t)n, &len, NULL);
	json_t *s = raw ? utf8_json(raw, len) : NULL;
	free(raw);
	return s;
}

static json_t *rollout_sample(const struct tokenizer *tok, uint64_t prompt, int j,
	const struct gen_result *res)
{
	json_t *o = json_object(), *toks = json_array(), *lps = json_array();
	int bad = !o || !toks || !lps;
	for (int t = 0; !bad && t < res->n; t++)
		bad = json_array_append_new(toks, json_integer(res->tokens[t])) ||
			json_array_append_new(lps, json_real(res->logprobs[t]));
	if (!bad)
		bad = json_object_set_new(o, "prompt", json_integer((json_int_t)prompt)) ||
			json_object_set_new(o, "sample", json_integer(j)) ||
			json_object_set_new(o, "tokens", toks) ||
			json_object_set_new(o, "text", rollout_text(tok, res->tokens, res->n)) ||
			json_object_set_new(o, "logprobs", lps) ||
			json_object_set_new(o, "finish", json_string(res->finish == GEN_FINISH_STOP ?
				"stop" : "length"));
	else {
		json_decref(toks);
		json_decref(lps);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int job_rollout_run(const struct job *job, struct job_output *out, struct err *err)
{
	struct rollout_job r;
	struct generator g;
	struct gen_request *reqs = NULL;
	json_t *samples = NULL;
	int rc = -1, have_gen = 0;
	memset(&r, 0, sizeof r);
	if (rollout_parse(job->params, &r, err) < 0)
		goto out;
	const struct model_config *c = &r.spec.cfg;
	size_t total = r.np * (size_t)r.G;
	int max_len = r.longest + r.gp.max_new_tokens;
	max_len = max_len < c->max_seq ? max_len : c->max_seq;
	int CH = rollout_rows(c, max_len, r.longest, total);
	/* generation needs no activations: an inference-only model */
	struct model *m = jobmodel_get(job, "rollout", &r.spec, 0, 0, &out->retryable, err);
	if (!m || !(r.gp.tok = jobtok_get(job, "rollout", c, &out->retryable, err)))
		goto out;
	if (gen_init(&g, m, CH, max_len, err) < 0) {
		err_wrap(err, "rollout");
		goto out;
	}
	have_gen = 1;
	if (!(reqs = calloc((size_t)CH, sizeof *reqs)) || !(samples = json_array())) {
		err_set(err, ERR_NOMEM, "rollout: out of memory");
		goto out;
	}
	for (size_t first = 0; first < total; first += (size_t)CH) {
		int B = total - first < (size_t)CH ? (int)(total - first) : CH;
		for (int b = 0; b < B; b++) {
			size_t s = first + (size_t)b;
			const struct rollout_prompt *rp = &r.prompts[s / (size_t)r.G];
			int j = (int)(s % (size_t)r.G);
			reqs[b] = (struct gen_request){ rp->tokens, rp->n, rp->index * (uint64_t)r.G + (uint64_t)j };
		}
		struct gen_result **res = (struct gen_result **)calloc((size_t)B, sizeof *res);
		if (!res) {
			err_set(err, ERR_NOMEM, "rollout: out of memory");
			goto out;
		}
		if (gen_run(&g, reqs, B, &r.gp, res, err) < 0) {
			free(res);
			err_wrap(err, "rollout");
			goto out;
		}
		for (int b = 0; b < B; b++) {
			size_t s = first + (size_t)b;
			json_t *o = rollout_sample(r.gp.tok, r.prompts[s / (size_t)r.G].index,
				(int)(s % (size_t)r.G), res[b]);
			if (!o || json_array_append_new(samples, o)) {
				free(res);
				err_set(err, ERR_NOMEM, "rollout: out of memory");
				goto out;
			}
		}
		free(res);
	}
	out->result = json_object();
	json_t *all = samples;
	samples = NULL;
	if (json_object_set_new(out->result, "samples", all) < 0) { /* frees all if no result */
		err_set(err, ERR_NOMEM, "rollout: out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(samples);
	free(reqs);
	if (have_gen)
		gen_release(&g);
	rollout_job_release(&r);
	return rc;
}
