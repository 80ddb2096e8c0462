/*
 * bench_sample — generation throughput of the core, for bench/sample.sh.
 *
 *   bench_sample --config tiny|small|smol135m|qwen3_06b --batch B [--threads N] [--prompt N] [--new N]
 *                [--reps N]
 *
 * Generates --new tokens for each of B random prompts of --prompt tokens (Philox,
 * fixed seed) with gen_run — batched prefill, then KV-cache decode steps — sampling
 * at temperature 1 with no top-k/top-p, as a rollout worker does. EOS is set to an
 * id the model cannot produce (-1), so every sequence generates exactly --new tokens
 * (checked) and the work is the same as on the PyTorch side. After one untimed run,
 * --reps runs are timed; it prints one line of key=value fields:
 *
 *   core config=tiny batch=16 threads=1 tok_s=... mean_tok_s=... run_ms=... \
 *        prefill_ms=... decode_ms_per_step=... peak_rss_mb=... mean_logprob=...
 *
 * tok_s counts generated tokens (B · new) over the whole gen_run, prefill included,
 * in the fastest rep (the least disturbed by other processes on a shared machine);
 * mean_tok_s over all reps. run_ms is the fastest rep; prefill_ms the fastest of
 * separate gen_runs with max_new_tokens = 1 (prefill and the first sample);
 * decode_ms_per_step is (run_ms - prefill_ms) / (new - 1).
 * mean_logprob (mean log π of the generated tokens) is a sanity figure: about
 * -log(V) for the near-uniform distributions of a freshly initialised model (-5.58 at
 * the byte vocabulary's 264).
 *
 * The model is inference-only (model_init with max_B 0), as for r1flow sample and the
 * workers' rollouts: weights, the generator's KV cache and its buffers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "generate.h"
#include "log.h"
#include "model.h"
#include "pool.h"
#include "rng.h"

struct bench_config {
	const char *name;
	int C, L, NH, NKV, F, V, tied; /* V 0: the byte vocab of config_defaults (264) */
	int HD, qk_norm;               /* HD 0: C / NH; qk_norm: Qwen3's per-head q/k norms */
};

/* smol135m is SmolLM2-135M's real shape, qwen3_06b Qwen3-0.6B's (as in bench_train.c) */
static const struct bench_config bench_configs[] = {
	{ "tiny",      128,  4,  4, 4,  336,      0, 0,   0, 0 },
	{ "small",     256,  6,  8, 8,  688,      0, 0,   0, 0 },
	{ "smol135m",  576, 30,  9, 3, 1536,  49152, 1,   0, 0 },
	{ "qwen3_06b", 1024, 28, 16, 8, 3072, 151936, 1, 128, 1 },
};

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* One gen_run; seconds, or -1 with a logged error. */
static double timed_run(struct generator *g, const struct gen_request *reqs, int B,
	const struct gen_params *p, struct gen_result **res)
{
	struct err e = { 0 };
	double t0 = clock_mono_s();
	if (gen_run(g, reqs, B, p, res, &e) < 0) {
		log_error("cannot generate: %s", e.msg);
		return -1;
	}
	double dt = clock_mono_s() - t0;
	for (int b = 0; b < B; b++)
		if (res[b]->n != p->max_new_tokens) {
			log_error("sequence %d generated %d tokens, not %d", b, res[b]->n, p->max_new_tokens);
			return -1;
		}
	return dt;
}

static int bench_sample(const struct bench_config *bc, int B, int threads, int prompt, int new,
	int reps)
{
	struct model_config cfg;
	config_defaults(&cfg);
	cfg.dim = bc->C;
	cfg.n_layers = bc->L;
	cfg.n_heads = bc->NH;
	cfg.n_kv_heads = bc->NKV;
	cfg.ffn = bc->F;
	cfg.max_seq = prompt + new;
	cfg.tied = bc->tied;
	cfg.head_dim = bc->HD;
	if (bc->qk_norm) {
		cfg.arch = ARCH_QWEN3;
		cfg.qk_norm = true;
	}
	if (bc->V)
		cfg.vocab = bc->V;
	const int V = cfg.vocab;

	struct err e = { 0 };
	struct model m;
	struct generator g = { 0 };
	int rc = 1;
	int *prompts = malloc(sizeof(int) * (size_t)B * prompt);
	struct gen_request *reqs = malloc(sizeof *reqs * (size_t)B);
	struct gen_result **res = malloc(sizeof *res * (size_t)B);
	if (!prompts || !reqs || !res) {
		log_error("cannot allocate the prompts: out of memory");
		goto out_batch;
	}
	if (config_validate(&cfg, &e) < 0 || model_init(&m, &cfg, 0, 0, &e) < 0) {
		log_error("cannot set up model '%s': %s", bc->name, e.msg);
		goto out_batch;
	}
	model_init_weights(&m, 1234);
	m.cfg.eos_id = -1; /* never produced: every sequence runs to --new tokens */
	if (gen_init(&g, &m, B, prompt + new, &e) < 0) {
		log_error("cannot set up the generator: %s", e.msg);
		goto out;
	}

	struct rng r;
	rng_init(&r, rng_key_str(42, "bench_sample"));
	for (int b = 0; b < B; b++) {
		for (int t = 0; t < prompt; t++)
			prompts[b * prompt + t] = (int)(rng_u32(&r) % (unsigned)V);
		reqs[b] = (struct gen_request){ prompts + (size_t)b * prompt, prompt, (uint64_t)b };
	}
	pool_set_threads(threads);
	struct gen_params p = {
		.sampler = { 1.0f, 0, 1.0f }, .max_new_tokens = new, .key = rng_key_str(42, "rollout"),
	};
	struct gen_params p1 = p;
	p1.max_new_tokens = 1;

	double total = 0, best = 1e30, prefill = 1e30;
	if (timed_run(&g, reqs, B, &p, res) < 0) /* warm-up */
		goto out;
	for (int i = 0; i < reps; i++) { /* the full run last: res holds its tokens */
		double dp = timed_run(&g, reqs, B, &p1, res), dt;
		if (dp < 0 || (dt = timed_run(&g, reqs, B, &p, res)) < 0)
			goto out;
		total += dt;
		best = dt < best ? dt : best;
		prefill = dp < prefill ? dp : prefill;
	}
	double lp = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < new; t++)
			lp += res[b]->logprobs[t];
	double run_ms = best * 1e3, prefill_ms = prefill * 1e3;
	printf("core config=%s batch=%d threads=%d tok_s=%.0f mean_tok_s=%.0f run_ms=%.2f prefill_ms=%.2f "
		"decode_ms_per_step=%.3f peak_rss_mb=%.1f mean_logprob=%.3f\n",
		bc->name, B, threads, (double)B * new / best, (double)B * new * reps / total, run_ms,
		prefill_ms, new > 1 ? (run_ms - prefill_ms) / (new - 1) : 0.0, peak_rss_mb(),
		lp / ((double)B * new));
	rc = 0;
out:
	gen_release(&g);
	model_release(&m);
out_batch:
	free(prompts), free(reqs), free(res);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_sample --config tiny|small|smol135m|qwen3_06b --batch B [--threads N] [--prompt N] "
		"[--new N] [--reps N]\n");
	exit(2);
}

static int parse_int(const char *opt, const char *s, int min)
{
	char *end;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || *end || v < min || v > 1000000) {
		log_error("invalid value '%s' for %s: expected an integer >= %d", s ? s : "", opt, min);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	log_init("bench_sample", LOG_INFO);
	const struct bench_config *bc = NULL;
	int B = 16, threads = 1, prompt = 32, new = 96, reps = 5;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--config")) {
			for (size_t k = 0; k < sizeof bench_configs / sizeof bench_configs[0]; k++)
				if (v && !strcmp(v, bench_configs[k].name))
					bc = &bench_configs[k];
			if (!bc) {
				log_error("unknown config '%s': expected tiny, small, smol135m or qwen3_06b", v ? v : "");
				return 2;
			}
		} else if (!strcmp(a, "--batch")) {
			B = parse_int(a, v, 1);
		} else if (!strcmp(a, "--threads")) {
			threads = parse_int(a, v, 1);
		} else if (!strcmp(a, "--prompt")) {
			prompt = parse_int(a, v, 1);
		} else if (!strcmp(a, "--new")) {
			new = parse_int(a, v, 1);
		} else if (!strcmp(a, "--reps")) {
			reps = parse_int(a, v, 1);
		} else {
			usage();
		}
		i++;
	}
	if (!bc)
		usage();
	return bench_sample(bc, B, threads, prompt, new, reps);
}
