/*
 * r1flow train — the demo trainer: pretrain a small model from scratch on a
 * generated corpus of 3-digit additions, save it, and show what it learned.
 *
 * It stands in until the pipeline exists (issue 6 replaces it with pretrain stages
 * run by workers). One step: draw B documents from the counter RNG, right-pad them
 * into a batch, cross-entropy as a weighted token mean (completion tokens weigh 1,
 * prompt tokens --prompt-weight, padding 0), backward, clip the global grad norm to
 * 1, AdamW at the warmup + cosine learning rate. At the end the model and its
 * optimizer state go to --out, and greedy decoding on held-out problems measures
 * accuracy.
 *
 * Held-out problems are a fixed 1/64 of all (a, b) pairs, picked by a hash that
 * does not depend on --seed; training never draws them.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "cli.h"
#include "config.h"
#include "err.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "pool.h"
#include "rng.h"
#include "tokenizer.h"

/*
 * The corpus generator. workers/tasks replaces it (the addition task with its
 * prompt templates and reward); keep the formats in step with docs/learning.md.
 *
 *   plain   <|bos|>123+456=579<|eos|>
 *   worked  <|bos|>123+456\n<think>3+6+0=9,2+5+0=7,1+4+0=5</think><answer>579</answer><|eos|>
 *
 * The prompt is everything up to and including '=' or '\n'. docs/learning.md's corpus
 * also has a third format, the tags around an empty <think>, for R1-Zero to start
 * from; the pipeline's pretrain stage adds it. Here the worked solutions teach the
 * model to line up the columns, which plain additions alone do not do in this many
 * steps (100% plain: 2% held-out accuracy after 1500 steps).
 */
enum demo_format { DEMO_PLAIN, DEMO_WORKED, DEMO_NUM_FORMATS };

static const struct {
	const char *name;
	float share;      /* of the training documents */
} demo_formats[DEMO_NUM_FORMATS] = {
	[DEMO_PLAIN] = { "plain", 0.60f },
	[DEMO_WORKED] = { "worked", 0.40f },
};

#define DEMO_DOC_MAX 64       /* ids; the longest document (999+999, worked) has 44 */
#define DEMO_HELDOUT_MASK 63  /* a pair is held out when its hash & mask == 0 */

struct demo_doc {
	int ids[DEMO_DOC_MAX];
	int n;       /* ids in the document */
	int prompt;  /* ids in the prompt, <|bos|> included */
	enum demo_format format;
};

static uint64_t demo_split_key(void)
{
	return rng_key_str(0, "r1flow-demo-heldout");
}

static int demo_heldout(uint64_t split_key, int a, int b)
{
	return (rng_key_u64(rng_key_u64(split_key, (uint64_t)a), (uint64_t)b) & DEMO_HELDOUT_MASK) == 0;
}

/* Operands in 100..999 from counter (c0, c1, attempt, 0|1). */
static void demo_draw_pair(uint64_t key, uint32_t c0, uint32_t c1, uint32_t attempt, int *a, int *b)
{
	*a = 100 + (int)(rng_uniform4(key, c0, c1, attempt, 0) * 900.0f);
	*b = 100 + (int)(rng_uniform4(key, c0, c1, attempt, 1) * 900.0f);
}

static void demo_doc_make(struct demo_doc *d, int a, int b, enum demo_format f)
{
	char text[256], work[64] = "";
	int n = 0, prompt_len;
	if (f == DEMO_PLAIN) {
		prompt_len = snprintf(text, sizeof text, "<|bos|>%d+%d=", a, b);
		n = prompt_len + snprintf(text + prompt_len, sizeof text - (size_t)prompt_len,
			"%d<|eos|>", a + b);
	} else {
		/* rightmost column first: digit+digit+carry=sum */
		int carry = 0, w = 0;
		for (int i = 0, p = 1; i < 3; i++, p *= 10) {
			int da = a / p % 10, db = b / p % 10, s = da + db + carry;
			w += snprintf(work + w, sizeof work - (size_t)w, "%s%d+%d+%d=%d",
				i ? "," : "", da, db, carry, s);
			carry = s / 10;
		}
		prompt_len = snprintf(text, sizeof text, "<|bos|>%d+%d\n", a, b);
		n = prompt_len + snprintf(text + prompt_len, sizeof text - (size_t)prompt_len,
			"<think>%s</think><answer>%d</answer><|eos|>", work, a + b);
	}
	d->format = f;
	d->prompt = (int)tok_encode(text, (size_t)prompt_len, d->ids, DEMO_DOC_MAX);
	d->n = (int)tok_encode(text, (size_t)n, d->ids, DEMO_DOC_MAX);
}

/* Training document `row` of step `step`: a pair not held out, a format by share. */
static void demo_doc_draw(struct demo_doc *d, uint64_t key, uint64_t split_key, long step, int row)
{
	int a, b;
	uint32_t attempt = 0;
	do
		demo_draw_pair(key, (uint32_t)step, (uint32_t)row, attempt++, &a, &b);
	while (demo_heldout(split_key, a, b));
	float u = rng_uniform4(key, (uint32_t)step, (uint32_t)row, UINT32_MAX, 0), acc = 0;
	enum demo_format f = DEMO_NUM_FORMATS - 1;
	for (int i = 0; i < DEMO_NUM_FORMATS; i++) {
		acc += demo_formats[i].share;
		if (u < acc) {
			f = (enum demo_format)i;
			break;
		}
	}
	demo_doc_make(d, a, b, f);
}

/* n distinct held-out pairs for evaluation into ab (n, 2); -1 when out of memory. */
static int demo_eval_pairs(uint64_t key, uint64_t split_key, int n, int *ab)
{
	unsigned char *seen = calloc(900 * 900 / 8 + 1, 1);
	if (!seen)
		return -1;
	for (int i = 0; i < n; i++) {
		uint32_t attempt = 0;
		int a, b, k;
		do {
			demo_draw_pair(key, (uint32_t)i, 0, attempt++, &a, &b);
			k = (a - 100) * 900 + (b - 100);
		} while (!demo_heldout(split_key, a, b) || (seen[k / 8] >> (k % 8) & 1));
		seen[k / 8] |= (unsigned char)(1u << (k % 8));
		ab[2 * i] = a;
		ab[2 * i + 1] = b;
	}
	free(seen);
	return 0;
}

/* The longest document any pair can make, in ids. */
static int demo_doc_max_len(void)
{
	struct demo_doc d;
	demo_doc_make(&d, 999, 999, DEMO_WORKED);
	return d.n;
}

/*
 * One step's documents, run as one shard per format: a plain document is 12 ids and
 * a worked one over 40, so padding them to one length would waste most of the
 * compute. Each shard is a right-padded (Bs, Ts) batch whose loss weights use the
 * whole step's token count, so the shards' losses and gradients add up to those of
 * the whole batch (loss.h).
 */
struct train_batch {
	int B;                 /* documents per step */
	struct demo_doc *docs; /* [B] */
	int *rows;             /* [B] indices into docs of the current shard */
	int *tokens;           /* (Bs, Ts) inputs: document ids 0..n-2, then padding */
	int *targets;          /* (Bs, Ts) document ids 1..n-1 */
	int *lengths;          /* [Bs] n-1 */
	float *mask;           /* (Bs, Ts) 1 for completion targets, --prompt-weight for
	                          prompt targets, 0 for padding */
	float *w;              /* (Bs, Ts) mask / (sum of mask over the step) */
	float *lp;             /* (Bs, Ts) log p(target) */
};

struct train_step_stats {
	double loss;           /* weighted mean cross-entropy over the step's tokens */
	double answer_nll;     /* mean -log p over the completions' tokens, whatever the mask */
	long tokens_in;        /* real (unpadded) input tokens */
};

/* Lay out the documents rows[0..Bs-1] as a right-padded shard; returns Ts. */
static int train_shard_fill(struct train_batch *tb, const struct model_config *cfg, int Bs,
	float prompt_weight)
{
	int T = 1;
	for (int r = 0; r < Bs; r++)
		if (tb->docs[tb->rows[r]].n - 1 > T)
			T = tb->docs[tb->rows[r]].n - 1;
	int pad = cfg->pad_id >= 0 ? cfg->pad_id : cfg->eos_id;
	for (int r = 0; r < Bs; r++) {
		const struct demo_doc *d = &tb->docs[tb->rows[r]];
		int len = d->n - 1;
		tb->lengths[r] = len;
		for (int t = 0; t < T; t++) {
			size_t i = (size_t)r * (size_t)T + (size_t)t;
			bool real = t < len;
			tb->tokens[i] = real ? d->ids[t] : pad;
			tb->targets[i] = real ? d->ids[t + 1] : pad;
			tb->mask[i] = !real ? 0.0f : t + 1 >= d->prompt ? 1.0f : prompt_weight;
		}
	}
	return T;
}

/* Draw step `step`'s documents, accumulate their gradients into m (zeroed first). */
static void train_step_grads(struct model *m, struct train_batch *tb, uint64_t key,
	uint64_t split_key, long step, float prompt_weight, struct train_step_stats *ss)
{
	long n_answer = 0;
	double total_weight = 0;
	double answer_sum = 0;
	ss->loss = 0;
	ss->tokens_in = 0;
	for (int b = 0; b < tb->B; b++) {
		demo_doc_draw(&tb->docs[b], key, split_key, step, b);
		total_weight += prompt_weight * (tb->docs[b].prompt - 1) + (tb->docs[b].n - tb->docs[b].prompt);
		ss->tokens_in += tb->docs[b].n - 1;
	}
	model_zero_grad(m);
	for (int f = 0; f < DEMO_NUM_FORMATS; f++) {
		int Bs = 0;
		for (int b = 0; b < tb->B; b++)
			if (tb->docs[b].format == (enum demo_format)f)
				tb->rows[Bs++] = b;
		if (Bs == 0)
			continue;
		int T = train_shard_fill(tb, &m->cfg, Bs, prompt_weight);
		/* a weighted token mean over the whole step (loss_weights knows only 0/1 masks) */
		for (size_t i = 0; i < (size_t)Bs * (size_t)T; i++)
			tb->w[i] = (float)(tb->mask[i] / total_weight);
		const struct model_batch batch = { .B = Bs, .T = T, .tokens = tb->tokens,
			.lengths = tb->lengths };
		struct loss_stats st;
		model_forward(m, &batch);
		loss_token_logprobs(m, tb->targets, tb->lp);
		for (int r = 0; r < Bs; r++) {
			const struct demo_doc *d = &tb->docs[tb->rows[r]];
			for (int t = d->prompt - 1; t < d->n - 1; t++)
				answer_sum -= tb->lp[(size_t)r * (size_t)T + (size_t)t];
			n_answer += d->n - d->prompt;
		}
		loss_cross_entropy(m, tb->targets, tb->w, &st);
		model_backward(m, &batch);
		ss->loss += st.loss;
	}
	ss->answer_nll = n_answer ? answer_sum / (double)n_answer : 0.0;
}

/*
 * Greedy completion of n prompts of the same length plen (n, plen), in chunks of
 * m->max_B rows; out (n, max_new) gets the new ids, out_len[i] how many (eos
 * included). No KV cache yet: every new token reruns the whole prefix (issue 3
 * adds batched generation with a cache; this is the simple stand-in).
 */
static int demo_greedy(struct model *m, const int *prompts, int n, int plen, int max_new,
	int *out, int *out_len)
{
	int V = m->cfg.vocab, Tcap = plen + max_new;
	if (Tcap > m->max_T)
		Tcap = m->max_T;
	int *rows = malloc(sizeof *rows * (size_t)m->max_B * (size_t)Tcap);
	int *buf = malloc(sizeof *buf * (size_t)m->max_B * (size_t)Tcap);
	bool *done = malloc(sizeof *done * (size_t)m->max_B);
	if (!rows || !buf || !done) {
		free(rows);
		free(buf);
		free(done);
		return -1;
	}
	for (int c0 = 0; c0 < n; c0 += m->max_B) {
		int B = n - c0 < m->max_B ? n - c0 : m->max_B, left = B;
		for (int b = 0; b < B; b++) {
			memcpy(rows + (size_t)b * Tcap, prompts + (size_t)(c0 + b) * plen, sizeof *rows * (size_t)plen);
			done[b] = false;
			out_len[c0 + b] = 0;
		}
		for (int T = plen; T < Tcap && left > 0; T++) {
			for (int b = 0; b < B; b++)
				memcpy(buf + (size_t)b * T, rows + (size_t)b * Tcap, sizeof *buf * (size_t)T);
			const struct model_batch batch = { .B = B, .T = T, .tokens = buf, .lengths = NULL };
			model_forward(m, &batch);
			for (int b = 0; b < B; b++) {
				const float *z = m->act.logits + ((size_t)b * T + (size_t)(T - 1)) * (size_t)V;
				int best = 0;
				for (int v = 1; v < V; v++)
					if (z[v] > z[best])
						best = v;
				rows[(size_t)b * Tcap + T] = best;
				if (done[b])
					continue;
				out[(size_t)(c0 + b) * max_new + out_len[c0 + b]++] = best;
				if (best == m->cfg.eos_id) {
					done[b] = true;
					left--;
				}
			}
		}
	}
	free(rows);
	free(buf);
	free(done);
	return 0;
}

/* The answer the completion gives: the digits before <|eos|> (plain) or inside
 * <answer>...</answer> (worked); -1 if malformed. */
static long demo_parse_answer(const char *s, enum demo_format f)
{
	const char *p = s, *end;
	if (f == DEMO_PLAIN) {
		end = strstr(s, "<|eos|>");
	} else {
		p = strstr(s, "<answer>");
		if (!p)
			return -1;
		p += strlen("<answer>");
		end = strstr(p, "</answer>");
	}
	if (!end || end == p || end - p > 9)
		return -1;
	long x = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		x = x * 10 + (*p - '0');
	}
	return x;
}

/* Greedy accuracy on n held-out problems with format f's prompt; prints `show` of them. */
static int demo_evaluate(struct model *m, uint64_t key, uint64_t split_key, int n,
	enum demo_format f, int show, int max_new, int *correct)
{
	struct demo_doc d;
	demo_doc_make(&d, 100, 100, f);
	int plen = d.prompt + (f == DEMO_PLAIN ? 0 : 1); /* worked prompts end with <think> */
	if (plen + 1 > m->max_T)
		return 0;
	int *prompts = malloc(sizeof *prompts * (size_t)n * (size_t)plen);
	int *ab = malloc(sizeof *ab * 2 * (size_t)n);
	int *out = malloc(sizeof *out * (size_t)n * (size_t)max_new);
	int *out_len = malloc(sizeof *out_len * (size_t)n);
	int rc = -1;
	if (!prompts || !ab || !out || !out_len || demo_eval_pairs(key, split_key, n, ab) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		demo_doc_make(&d, ab[2 * i], ab[2 * i + 1], f);
		memcpy(prompts + (size_t)i * plen, d.ids, sizeof *prompts * (size_t)plen);
	}
	if (demo_greedy(m, prompts, n, plen, max_new, out, out_len) < 0)
		goto out;
	*correct = 0;
	for (int i = 0; i < n; i++) {
		char prompt[128], completion[512];
		int a = ab[2 * i], b = ab[2 * i + 1];
		tok_decode(out + (size_t)i * max_new, (size_t)out_len[i], completion, sizeof completion);
		long got = demo_parse_answer(completion, f);
		bool ok = got == a + b;
		*correct += ok;
		if (i < show) {
			tok_decode(prompts + (size_t)i * plen + 1, (size_t)plen - 1, prompt, sizeof prompt);
			for (char *p = prompt; *p; p++)
				if (*p == '\n')
					*p = ' '; /* keep one example on one line */
			printf("  %s -> %s   %s", prompt, completion, ok ? "ok" : "WRONG");
			if (!ok)
				printf(" (want %d)", a + b);
			putchar('\n');
		}
	}
	rc = 0;
out:
	free(prompts);
	free(ab);
	free(out);
	free(out_len);
	return rc;
}

/* mkdir -p; -1 with errno set. */
static int train_mkdirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0777) < 0 && errno != EEXIST)
				return -1;
			*p = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int cmd_train(int argc, char **argv)
{
	const char *out_dir = NULL;
	int steps = 1500, batch_size = 32, warmup = -1, threads = 0, samples = 50, log_every = 0;
	int dim = 128, layers = 4, heads = 4, kv_heads = 0, ffn = 336, max_seq = 64;
	float lr = 3e-3f, min_lr_ratio = 0.1f;
	uint64_t seed = 1;
	float prompt_weight = 0.1f;
	const struct cli_opt opts[] = {
		{ "out", CLI_OPT_STRING, &out_dir, "DIR", 0, 0, true,
		  "where to save the model (created if needed)", NULL },
		{ "steps", CLI_OPT_INT, &steps, "N", 1, 10000000, false, "optimizer steps", NULL },
		{ "batch", CLI_OPT_INT, &batch_size, "B", 1, 4096, false, "documents per step", NULL },
		{ "lr", CLI_OPT_FLOAT, &lr, "LR", 1e-7, 1, false, "peak learning rate", NULL },
		{ "warmup", CLI_OPT_INT, &warmup, "N", 0, 10000000, false,
		  "steps of linear warmup", "steps/10" },
		{ "min-lr-ratio", CLI_OPT_FLOAT, &min_lr_ratio, "R", 0, 1, false,
		  "cosine decays to lr*R at the last step", NULL },
		{ "seed", CLI_OPT_U64, &seed, "S", 0, 0, false, "seed of weights and corpus", NULL },
		{ "threads", CLI_OPT_INT, &threads, "N", 0, 1024, false,
		  "compute threads", "R1FLOW_THREADS or all CPUs" },
		{ "dim", CLI_OPT_INT, &dim, "C", 2, 65536, false, "model width", NULL },
		{ "layers", CLI_OPT_INT, &layers, "L", 1, 1024, false, "transformer layers", NULL },
		{ "heads", CLI_OPT_INT, &heads, "NH", 1, 1024, false, "attention heads", NULL },
		{ "kv-heads", CLI_OPT_INT, &kv_heads, "NKV", 0, 1024, false,
		  "key/value heads (grouped-query attention)", "--heads" },
		{ "ffn", CLI_OPT_INT, &ffn, "F", 1, 1 << 20, false, "SwiGLU hidden width", NULL },
		{ "max-seq", CLI_OPT_INT, &max_seq, "T", 2, 1 << 16, false, "context length", NULL },
		{ "prompt-weight", CLI_OPT_FLOAT, &prompt_weight, "W", 0, 1, false,
		  "loss weight of a prompt token against 1 for a completion token", NULL },
		{ "samples", CLI_OPT_INT, &samples, "N", 0, 10000, false,
		  "held-out problems for the final greedy accuracy", NULL },
		{ "log-every", CLI_OPT_INT, &log_every, "N", 0, 10000000, false,
		  "print a progress line every N steps", "steps/15" },
		{ NULL, 0, NULL, NULL, 0, 0, false, NULL, NULL },
	};
	const struct cli_verb verb = {
		.name = "train", .opts = opts,
		.about = "Train a Llama-style model from scratch on generated 3-digit additions\n"
			 "(plain \"123+456=579\", and with a worked solution in <think>), save\n"
			 "it with its optimizer state into DIR, and report greedy accuracy on\n"
			 "held-out problems. The demo trainer until pipelines run pretraining.",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;

	struct model_config cfg;
	config_defaults(&cfg);
	cfg.dim = dim;
	cfg.n_layers = layers;
	cfg.n_heads = heads;
	cfg.n_kv_heads = kv_heads > 0 ? kv_heads : heads;
	cfg.ffn = ffn;
	cfg.max_seq = max_seq;
	struct err e = { 0 };
	if (config_validate(&cfg, &e) < 0)
		return cli_usage_error("train", "%s", e.msg);
	int doc_max = demo_doc_max_len();
	if (doc_max - 1 > cfg.max_seq)
		return cli_usage_error("train", "--max-seq %d is too short: documents need %d",
			cfg.max_seq, doc_max - 1);
	if (warmup < 0)
		warmup = steps / 10;
	if (log_every <= 0)
		log_every = steps >= 15 ? steps / 15 : 1;
	if (threads > 0)
		pool_set_threads(threads);
	if (train_mkdirs(out_dir) < 0) {
		cli_error("train", "cannot create output directory '%s': %s", out_dir, strerror(errno));
		return CLI_EXIT_FAIL;
	}

	struct model m;
	struct train_batch tb = { .B = batch_size };
	rc = CLI_EXIT_FAIL;
	if (model_init(&m, &cfg, batch_size, cfg.max_seq, &e) < 0) {
		cli_error("train", "cannot create the model: %s", e.msg);
		return CLI_EXIT_FAIL;
	}
	size_t cells = (size_t)batch_size * (size_t)cfg.max_seq;
	tb.tokens = malloc(sizeof *tb.tokens * cells);
	tb.targets = malloc(sizeof *tb.targets * cells);
	tb.lengths = malloc(sizeof *tb.lengths * (size_t)batch_size);
	tb.mask = malloc(sizeof *tb.mask * cells);
	tb.w = malloc(sizeof *tb.w * cells);
	tb.lp = malloc(sizeof *tb.lp * cells);
	tb.docs = malloc(sizeof *tb.docs * (size_t)batch_size);
	tb.rows = malloc(sizeof *tb.rows * (size_t)batch_size);
	if (!tb.tokens || !tb.targets || !tb.lengths || !tb.mask || !tb.w || !tb.lp || !tb.docs || !tb.rows) {
		cli_error("train", "out of memory for a batch of %d x %d", batch_size, cfg.max_seq);
		goto out;
	}
	if (model_alloc_optimizer(&m, &e) < 0) {
		cli_error("train", "cannot allocate the optimizer state: %s", e.msg);
		goto out;
	}
	model_init_weights(&m, rng_key_str(seed, "init"));

	uint64_t corpus_key = rng_key_str(seed, "corpus"), split_key = demo_split_key();
	struct adamw_params ap;
	adamw_defaults(&ap);
	const struct lr_schedule sched = { .lr = lr, .warmup = warmup, .total_steps = steps,
		.min_ratio = min_lr_ratio };

	printf("model   %.2fM parameters: dim %d, %d layers, %d heads (%d kv), ffn %d, max_seq %d, vocab %d\n",
		(double)m.num_params / 1e6, cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
		cfg.ffn, cfg.max_seq, cfg.vocab);
	printf("corpus  3-digit additions: %.0f%% plain, %.0f%% worked; prompt tokens weigh %g\n",
		demo_formats[DEMO_PLAIN].share * 100.0,
		demo_formats[DEMO_WORKED].share * 100.0, (double)prompt_weight);
	printf("train   %d steps x %d documents, lr %g (warmup %d, cosine to %g), clip 1.0, %d threads\n",
		steps, batch_size, (double)lr, warmup, (double)(lr * min_lr_ratio), pool_threads());
	printf("        loss: weighted cross-entropy (nats/token); answer: that of completion tokens alone\n");
	fflush(stdout);

	double t_start = cli_now(), t_win = t_start, loss_win = 0, answer_win = 0;
	long tokens_win = 0, tokens_all = 0;
	int n_win = 0;
	for (long step = 0; step < steps; step++) {
		struct train_step_stats ss;
		train_step_grads(&m, &tb, corpus_key, split_key, step, prompt_weight, &ss);
		if (!isfinite(ss.loss)) {
			cli_error("train", "training diverged at step %ld: loss is %g; try a lower --lr than %g",
				step + 1, ss.loss, (double)lr);
			goto out;
		}
		double gnorm = grad_clip(&m, 1.0);
		ap.lr = lr_at(&sched, step);
		adamw_step(&m, &ap, step + 1);

		loss_win += ss.loss;
		answer_win += ss.answer_nll;
		n_win++;
		tokens_win += ss.tokens_in;
		tokens_all += ss.tokens_in;
		if (step == 0 || (step + 1) % log_every == 0 || step + 1 == steps) {
			double now = cli_now();
			printf("step %*ld/%d  loss %.4f  answer %.4f  lr %.2e  grad norm %6.3f  %6.0f tok/s\n",
				snprintf(NULL, 0, "%d", steps), step + 1, steps, loss_win / n_win,
				answer_win / n_win, (double)ap.lr, gnorm, (double)tokens_win / (now - t_win));
			fflush(stdout);
			t_win = now;
			loss_win = 0;
			answer_win = 0;
			n_win = 0;
			tokens_win = 0;
		}
	}
	double t_train = cli_now() - t_start;
	printf("trained %d steps in %.1f s (%.0f tokens/s)\n", steps, t_train,
		(double)tokens_all / t_train);

	if (checkpoint_save(&m, out_dir, steps, &e) < 0) {
		cli_error("train", "cannot save the model to '%s': %s", out_dir, e.msg);
		goto out;
	}
	printf("saved   %s (config.json, model.safetensors, optimizer.safetensors)\n", out_dir);

	if (samples > 0) {
		uint64_t eval_key = rng_key_str(seed, "eval");
		int show = samples < 8 ? samples : 8, correct[DEMO_NUM_FORMATS] = { 0 };
		const struct { enum demo_format f; int max_new; const char *what; } evals[] = {
			{ DEMO_PLAIN, 16, "plain prompt \"<|bos|>a+b=\"" },
			{ DEMO_WORKED, 48, "worked prompt \"<|bos|>a+b\\n<think>\"" },
		};
		double t_eval = cli_now();
		for (size_t k = 0; k < sizeof evals / sizeof evals[0]; k++) {
			printf("\ngreedy samples, %s (held-out problems):\n", evals[k].what);
			if (demo_evaluate(&m, eval_key, split_key, samples, evals[k].f, show,
					evals[k].max_new, &correct[evals[k].f]) < 0) {
				cli_error("train", "out of memory for the evaluation");
				goto out;
			}
			printf("accuracy %d/%d (%.1f%%)\n", correct[evals[k].f], samples,
				100.0 * correct[evals[k].f] / samples);
		}
		printf("\nevaluated in %.1f s\n", cli_now() - t_eval);
	}
	rc = CLI_EXIT_OK;
out:
	free(tb.tokens);
	free(tb.targets);
	free(tb.lengths);
	free(tb.mask);
	free(tb.w);
	free(tb.lp);
	free(tb.docs);
	free(tb.rows);
	model_release(&m);
	return rc;
}
