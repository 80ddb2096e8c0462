/*
 * bench_train — training throughput of the core, for bench/train.sh.
 *
 *   bench_train --config tiny|small|smol135m|qwen3_06b [--threads N] [--steps N] [--warmup N]
 *               [--batch B] [--checkpoint]
 *   bench_train --sgemm [--threads N]
 *
 * The first form trains the bench config on random tokens (Philox, fixed seed) with
 * the full step of a real run — zero_grad, forward, token-mean cross-entropy over an
 * all-ones mask, backward, grad_clip(1.0), AdamW — and times the --steps steps that
 * follow --warmup untimed ones (--batch overrides the config's rows a step, e.g.
 * smol135m --batch 16: 2048 tokens, for peak RSS at a real batch; --checkpoint turns
 * activation checkpointing on, model.h). It prints one line of key=value fields:
 *
 *   core config=tiny threads=1 tok_s=... step_ms=... gflops=... peak_rss_mb=... \
 *        cpu_ms=... fwd_ms=... loss_ms=... bwd_ms=... clip_ms=... adamw_ms=... loss=...
 *
 * (cpu_ms is process CPU time per step, all threads, spinning included; the other
 * *_ms fields split step_ms by phase — loss_ms holds the LM head's forward and
 * backward, which the loss runs chunk by chunk (core/head.h); step_gflop is one step's model FLOPs). The second form measures OpenBLAS's own
 * rate on a large square sgemm with N OpenBLAS threads — the ceiling the core's
 * GEMMs can approach — and prints `sgemm threads=N n=2048 gflops=... mean_gflops=...`
 * (gflops is the best repetition). It bypasses the core's pool, which would run
 * OpenBLAS single-threaded.
 *
 * Model FLOPs (the gflops field). Per token, forward + backward:
 *   6 * N_mm + 12 * L * T * C
 * with N_mm the parameters of every matrix product — q/k/v/o, gate/up/down and the
 * LM head; not the embedding (a lookup) nor the norm gains. 6 = 2 (multiply-add)
 * x 3 (forward, and backward's two products). The attention term is PaLM's
 * (appendix B) and llm.c's: QK^T and AV cost 2*T*C each per token and layer in the
 * forward, counted over the full T x T score matrix, NOT halved for the causal mask.
 * Counting only the causal half (6 * L * T * C) would lower the figure by 7% on
 * both configs. train_torch.py uses the same formula.
 */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "pool.h"
#include "rng.h"

void openblas_set_num_threads(int num_threads);

struct bench_config {
	const char *name;
	int C, L, NH, NKV, F, V, tied, B, T; /* V 0: the byte vocab of config_defaults (264) */
	int HD, qk_norm;                     /* HD 0: C / NH; qk_norm: Qwen3's q/k norms */
};

/* tiny and small are toy shapes with the byte vocabulary; smol135m is SmolLM2-135M's
 * real shape (HF config: hidden 576, 30 layers, 9 heads, 3 KV heads, intermediate
 * 1536, vocab 49152, tied embeddings) at 4 x 128 tokens a step, which keeps a step
 * within seconds and the whole process near 3 GB */
static const struct bench_config bench_configs[] = {
	{ "tiny",     128,  4, 4, 4,  336,     0, 0, 16, 128, 0, 0 },
	{ "small",    256,  6, 8, 8,  688,     0, 0,  8, 256, 0, 0 },
	{ "smol135m", 576, 30, 9, 3, 1536, 49152, 1,  4, 128, 0, 0 },
	/* Qwen3-0.6B's shape (hidden 1024, 28 layers, 16 heads, 8 KV heads, head_dim 128,
	 * intermediate 3072, vocab 151936, tied, q/k norms) at 1 x 256 tokens: weights,
	 * gradients and AdamW moments are 9.6 GB */
	{ "qwen3_06b", 1024, 28, 16, 8, 3072, 151936, 1, 1, 256, 128, 1 },
};

enum phase { PHASE_FWD, PHASE_LOSS, PHASE_BWD, PHASE_CLIP, PHASE_ADAMW, PHASE_COUNT };

/* CPU seconds of the whole process, user + system: with 1 thread a load-independent
 * check on the wall-clock figure when other processes share the cores */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

static double flops_per_token(const struct model_config *c, int T)
{
	double C = c->dim, L = c->n_layers, HD = config_head_dim(c), F = c->ffn;
	double NH = c->n_heads, NKV = c->n_kv_heads;
	double layer = C * (NH + 2 * NKV) * HD + NH * HD * C + 3 * C * F;
	double n_mm = L * layer + (double)c->vocab * C; /* the head, tied or not, is a GEMM */
	return 6 * n_mm + 12 * L * T * C;
}

static int bench_sgemm(int threads)
{
	const int n = 2048, reps = 6;
	float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
	float *c = malloc(sizeof(float) * n * n);
	if (!a || !b || !c) {
		log_error("cannot allocate sgemm matrices: out of memory");
		free(a), free(b), free(c);
		return 1;
	}
	struct rng r;
	rng_init(&r, 1);
	for (long i = 0; i < (long)n * n; i++) {
		a[i] = rng_uniform(&r) - 0.5f;
		b[i] = rng_uniform(&r) - 0.5f;
	}
	openblas_set_num_threads(threads);
	double best = 1e30, total = 0;
	for (int i = -1; i < reps; i++) { /* i == -1 warms up */
		double t0 = clock_mono_s();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
			0.0f, c, n);
		double dt = clock_mono_s() - t0;
		if (i < 0)
			continue;
		total += dt;
		if (dt < best)
			best = dt;
	}
	double fl = 2.0 * n * n * n;
	printf("sgemm threads=%d n=%d gflops=%.2f mean_gflops=%.2f\n", threads, n,
		fl / best * 1e-9, fl * reps / total * 1e-9);
	free(a), free(b), free(c);
	return 0;
}

static int bench_train(const struct bench_config *bc, int threads, int steps, int warmup, int rows,
	bool checkpoint)
{
	struct model_config cfg;
	config_defaults(&cfg);
	cfg.dim = bc->C;
	cfg.n_layers = bc->L;
	cfg.n_heads = bc->NH;
	cfg.n_kv_heads = bc->NKV;
	cfg.ffn = bc->F;
	cfg.max_seq = bc->T;
	cfg.rope_theta = 10000.0f;
	cfg.tied = bc->tied;
	cfg.head_dim = bc->HD;
	if (bc->qk_norm) {
		cfg.arch = ARCH_QWEN3;
		cfg.qk_norm = true;
	}
	if (bc->V)
		cfg.vocab = bc->V;
	const int B = rows ? rows : bc->B, T = bc->T, V = cfg.vocab;

	struct err e = { 0 };
	struct model m;
	int rc = 1;
	int *tokens = malloc(sizeof(int) * B * T), *targets = malloc(sizeof(int) * B * T);
	float *mask = malloc(sizeof(float) * B * T), *w = malloc(sizeof(float) * B * T);
	if (!tokens || !targets || !mask || !w) {
		log_error("cannot allocate the batch: out of memory");
		goto out_batch;
	}
	if (config_validate(&cfg, &e) < 0 || model_init(&m, &cfg, B, T, &e) < 0) {
		log_error("cannot set up model '%s': %s", bc->name, e.msg);
		goto out_batch;
	}
	if (checkpoint && model_resize(&m, B, T, true, &e) < 0) {
		log_error("cannot set up activation checkpointing: %s", e.msg);
		goto out;
	}
	if (model_alloc_optimizer(&m, &e) < 0) {
		log_error("cannot allocate the optimizer state: %s", e.msg);
		goto out;
	}
	model_init_weights(&m, 1234);

	struct rng r;
	rng_init(&r, rng_key_str(42, "bench_train"));
	for (int b = 0; b < B; b++) {
		int prev = (int)(rng_u32(&r) % (unsigned)V);
		for (int t = 0; t < T; t++) {
			int next = (int)(rng_u32(&r) % (unsigned)V);
			tokens[b * T + t] = prev;
			targets[b * T + t] = next;
			prev = next;
		}
	}
	for (int i = 0; i < B * T; i++)
		mask[i] = 1.0f;
	loss_weights(w, mask, B, T, LOSS_AGG_TOKEN_MEAN, 0, 0, 0.0f);

	pool_set_threads(threads);
	struct adamw_params opt;
	adamw_defaults(&opt);
	struct model_batch batch = { .B = B, .T = T, .tokens = tokens, .lengths = NULL };
	struct loss_stats st = { 0 };
	double phase[PHASE_COUNT] = { 0 }, t_start = 0, cpu_start = 0;
	for (int s = 0; s < warmup + steps; s++) {
		if (s == warmup) {
			memset(phase, 0, sizeof phase);
			t_start = clock_mono_s();
			cpu_start = cpu_s();
		}
		double t0 = clock_mono_s(), t1;
		model_zero_grad(&m);
		model_forward(&m, &batch);
		t1 = clock_mono_s(), phase[PHASE_FWD] += t1 - t0, t0 = t1;
		loss_cross_entropy(&m, targets, w, &st);
		t1 = clock_mono_s(), phase[PHASE_LOSS] += t1 - t0, t0 = t1;
		model_backward(&m, &batch);
		t1 = clock_mono_s(), phase[PHASE_BWD] += t1 - t0, t0 = t1;
		grad_clip(&m, 1.0);
		t1 = clock_mono_s(), phase[PHASE_CLIP] += t1 - t0, t0 = t1;
		adamw_step(&m, &opt, s + 1);
		t1 = clock_mono_s(), phase[PHASE_ADAMW] += t1 - t0;
	}
	double dt = clock_mono_s() - t_start, cpu = cpu_s() - cpu_start;
	if (!isfinite(st.loss)) {
		log_error("training '%s' diverged: loss is %g", bc->name, st.loss);
		goto out;
	}
	double tok_s = (double)steps * B * T / dt, ms = 1e3 / steps;
	printf("core config=%s threads=%d tok_s=%.0f step_ms=%.2f gflops=%.2f step_gflop=%.1f "
		"peak_rss_mb=%.1f cpu_ms=%.2f fwd_ms=%.2f loss_ms=%.2f bwd_ms=%.2f clip_ms=%.2f "
		"adamw_ms=%.2f loss=%.4f\n",
		bc->name, threads, tok_s, dt * ms, tok_s * flops_per_token(&cfg, T) * 1e-9,
		(double)B * T * flops_per_token(&cfg, T) * 1e-9,
		peak_rss_mb(), cpu * ms, phase[PHASE_FWD] * ms, phase[PHASE_LOSS] * ms, phase[PHASE_BWD] * ms,
		phase[PHASE_CLIP] * ms, phase[PHASE_ADAMW] * ms, st.loss);
	rc = 0;
out:
	model_release(&m);
out_batch:
	free(tokens), free(targets), free(mask), free(w);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_train --config tiny|small|smol135m|qwen3_06b [--threads N] [--steps N] [--warmup N]\n"
		"                   [--batch B] [--checkpoint]\n"
		"       bench_train --sgemm [--threads N]\n");
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
	log_init("bench_train", LOG_INFO);
	const struct bench_config *bc = NULL;
	int threads = 1, steps = 20, warmup = 3, sgemm = 0, batch = 0;
	bool checkpoint = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--sgemm")) {
			sgemm = 1;
			continue;
		}
		if (!strcmp(a, "--checkpoint")) {
			checkpoint = true;
			continue;
		}
		if (!strcmp(a, "--config")) {
			for (size_t k = 0; k < sizeof bench_configs / sizeof bench_configs[0]; k++)
				if (v && !strcmp(v, bench_configs[k].name))
					bc = &bench_configs[k];
			if (!bc) {
				log_error("unknown config '%s': expected tiny, small, smol135m or qwen3_06b", v ? v : "");
				return 2;
			}
		} else if (!strcmp(a, "--threads")) {
			threads = parse_int(a, v, 1);
		} else if (!strcmp(a, "--steps")) {
			steps = parse_int(a, v, 1);
		} else if (!strcmp(a, "--warmup")) {
			warmup = parse_int(a, v, 0);
		} else if (!strcmp(a, "--batch")) {
			batch = parse_int(a, v, 1);
		} else {
			usage();
		}
		i++;
	}
	if (sgemm)
		return bench_sgemm(threads);
	if (!bc)
		usage();
	return bench_train(bc, threads, steps, warmup, batch, checkpoint);
}
