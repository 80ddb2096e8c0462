/*
 * test_lora_ref — LoRA adapters (core/lora.h) against a PyTorch reference.
 *
 * main runs tests/ref/make_lora_ref.py once with Debian's /usr/bin/python3 into a
 * fresh directory under R1FLOW_TEST_TMP; the script writes, per case (all seven
 * targets; a subset on a model whose heads are narrower than its hidden size), a
 * small random base model, random non-zero adapters under PEFT's names and the
 * reference values (make_lora_ref.py's header lists them). Each case test loads the
 * base with checkpoint_load and the adapters with lora_read, and checks, with
 * test_ref.c's tolerances (see there for why they are what they are):
 *
 *   - the adapter tensors the C side lays out are exactly the reference's, by name
 *     and count (so PEFT's names and the (layer, target) set are right);
 *   - logits and token log-probs of the adapted model (abs 1e-4), and that the
 *     base model alone gives the reference's base logits: so the adapters are what
 *     moves the logits, by far more than the tolerance;
 *   - CE and GRPO losses and stats (rel 1e-5), and the CE and GRPO gradients of
 *     every adapter tensor (abs 1e-4·max|ref| per tensor);
 *   - the merged model (lora_merge: W + s·B·A, no adapters attached) gives the
 *     adapted logits too.
 *
 * The generated directory is removed when every test passes and kept otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "file.h"
#include "lora.h"
#include "loss.h"
#include "model.h"
#include "safetensors.h"
#include "test.h"

#define PYTHON "/usr/bin/python3"

#define LOGITS_ATOL 1e-4
#define STAT_RTOL 1e-5
#define GRAD_RTOL 1e-4

static char ref_dir[4096];

struct fixture {
	struct model m;
	struct lora lo;
	struct st_file st;
	int B, T, V;
	int *tokens, *lengths, *targets;
	float *mask;
	struct model_batch batch;
};

static float *ref_read(struct fixture *fx, const char *name, size_t numel)
{
	const struct st_tensor_info *ti = st_find(&fx->st, name);
	CHECK_MSG(ti, "ref.safetensors has no tensor '%s'", name);
	CHECK_MSG((size_t)ti->numel == numel, "'%s' has %lld values, expected %zu", name,
		(long long)ti->numel, numel);
	float *out = malloc(numel * sizeof *out);
	CHECK(out);
	struct err e = { 0 };
	CHECK_MSG(st_read_f32(&fx->st, name, ti->ndim, ti->shape, out, &e) == 0, "%s", e.msg);
	return out;
}

static double ref_scalar(struct fixture *fx, const char *name)
{
	float *v = ref_read(fx, name, 1);
	double x = v[0];
	free(v);
	return x;
}

static int *ref_read_i32(struct fixture *fx, const char *name, size_t numel)
{
	int32_t *out = malloc(numel * sizeof *out);
	CHECK(out);
	struct err e = { 0 };
	CHECK_MSG(st_read_i32(&fx->st, name, (int64_t)numel, out, &e) == 0, "%s", e.msg);
	return (int *)out;
}

static void fixture_open(struct fixture *fx, const char *name)
{
	char dir[4200], path[4300];
	struct err e = { 0 };
	memset(fx, 0, sizeof *fx);
	snprintf(dir, sizeof dir, "%s/%s", ref_dir, name);
	snprintf(path, sizeof path, "%s/ref.safetensors", dir);
	CHECK_MSG(st_open(&fx->st, path, &e) == 0, "%s", e.msg);
	const struct st_tensor_info *ti = st_find(&fx->st, "tokens");
	CHECK(ti && ti->ndim == 2);
	fx->B = (int)ti->shape[0];
	fx->T = (int)ti->shape[1];
	CHECK_MSG(checkpoint_load(&fx->m, dir, fx->B, fx->T, &e) == 0, "%s", e.msg);
	fx->V = fx->m.cfg.vocab;
	size_t BT = (size_t)fx->B * fx->T;
	fx->tokens = ref_read_i32(fx, "tokens", BT);
	fx->lengths = ref_read_i32(fx, "lengths", (size_t)fx->B);
	fx->targets = ref_read_i32(fx, "targets", BT);
	fx->mask = ref_read(fx, "mask", BT);
	fx->batch = (struct model_batch){ .B = fx->B, .T = fx->T, .tokens = fx->tokens,
		.lengths = fx->lengths };

	/* the adapters: rank, alpha and targets as the reference says */
	struct lora_config lc = { .rank = (int)ref_scalar(fx, "lora_rank"),
		.alpha = (float)ref_scalar(fx, "lora_alpha") };
	const char *targets = st_metadata(&fx->st, "targets");
	CHECK(targets);
	char list[256];
	snprintf(list, sizeof list, "%s", targets);
	for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = lora_target_from_name(t);
		CHECK_MSG(k >= 0, "unknown target '%s'", t);
		lc.targets |= 1u << k;
	}
	CHECK_MSG(lora_init(&fx->lo, &fx->m.cfg, &lc, &e) == 0, "%s", e.msg);
	char *bytes;
	size_t size;
	snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
	CHECK_MSG(file_read(path, FILE_READ_ANY, &bytes, &size, &e) == 0, "%s", e.msg);
	CHECK_MSG(lora_read(&fx->lo, bytes, size, path, &e) == 0, "%s", e.msg);
	free(bytes);
	CHECK_MSG(lora_attach(&fx->lo, &fx->m, &e) == 0, "%s", e.msg);
}

static void fixture_close(struct fixture *fx)
{
	fx->m.lora = NULL;
	model_release(&fx->m);
	lora_release(&fx->lo);
	st_close(&fx->st);
	free(fx->tokens);
	free(fx->lengths);
	free(fx->targets);
	free(fx->mask);
}

static bool check_tensor(const char *label, const float *got, const float *ref, size_t n,
	const bool *valid, double tol)
{
	double maxabs = 0, maxref = 0;
	size_t worst = 0, counted = 0;
	for (size_t i = 0; i < n; i++) {
		if (valid && !valid[i])
			continue;
		counted++;
		double d = fabs((double)got[i] - ref[i]);
		if (isnan(d))
			d = INFINITY;
		maxref = fmax(maxref, fabs(ref[i]));
		if (d > maxabs) {
			maxabs = d;
			worst = i;
		}
	}
	bool ok = counted > 0 && maxabs <= tol;
	printf("  %-72s max abs diff %.2e (max|ref| %.3g, tol %.1e) %s\n", label, maxabs, maxref,
		tol, ok ? "ok" : "NOT OK");
	if (!ok && counted)
		printf("    worst at [%zu]: got %.9g ref %.9g\n", worst, got[worst], ref[worst]);
	return ok;
}

static bool check_stat(const char *label, double got, double ref)
{
	double d = fabs(got - ref), tol = STAT_RTOL * fmax(1.0, fabs(ref));
	bool ok = d <= tol;
	printf("  %-72s got %.9g ref %.9g (tol %.1e) %s\n", label, got, ref, tol, ok ? "ok" : "NOT OK");
	return ok;
}

static double max_abs(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

static bool *valid_positions(const struct fixture *fx, int shift, size_t inner)
{
	bool *v = malloc((size_t)fx->B * fx->T * inner * sizeof *v);
	CHECK(v);
	for (int b = 0; b < fx->B; b++)
		for (int t = 0; t < fx->T; t++)
			for (size_t k = 0; k < inner; k++)
				v[((size_t)b * fx->T + t) * inner + k] = t < fx->lengths[b] - shift;
	return v;
}

/* The adapters' tensors are the reference's "<prefix>*" set; each gradient matches. */
static int check_adapter_grads(struct fixture *fx, const char *prefix)
{
	size_t plen = strlen(prefix);
	int n = 0, bad = 0;
	char key[MODEL_TENSOR_NAME_MAX + 32];
	for (int i = 0; i < fx->st.n; i++)
		if (strncmp(fx->st.tensors[i].name, prefix, plen) == 0) {
			CHECK_MSG(model_find_tensor(&fx->lo.p, fx->st.tensors[i].name + plen),
				"the adapters have no tensor '%s'", fx->st.tensors[i].name + plen);
			n++;
		}
	CHECK_MSG(n == fx->lo.p.n_tensors, "reference has %d '%s*' tensors, the adapters %d", n,
		prefix, fx->lo.p.n_tensors);
	for (int i = 0; i < fx->lo.p.n_tensors; i++) {
		const struct model_tensor *t = &fx->lo.p.tensors[i];
		snprintf(key, sizeof key, "%s%s", prefix, t->name);
		float *ref = ref_read(fx, key, t->numel);
		bad += !check_tensor(key, fx->lo.p.grads_mem + t->offset, ref, t->numel, NULL,
			GRAD_RTOL * max_abs(ref, t->numel));
		free(ref);
	}
	return bad;
}

static void check_case(const char *name)
{
	struct fixture fx;
	fixture_open(&fx, name);
	printf(" case %s: %d adapter tensors, rank %d, scale %g\n", name, fx.lo.p.n_tensors,
		fx.lo.cfg.rank, fx.lo.scale);
	size_t BT = (size_t)fx.B * fx.T, BTV = BT * fx.V;
	bool *valid = valid_positions(&fx, 0, (size_t)fx.V);
	bool *valid1 = valid_positions(&fx, 1, 1);
	float *logits = malloc(BTV * sizeof *logits);
	CHECK(logits);

	/* base alone, then adapted */
	fx.m.lora = NULL;
	model_forward(&fx.m, &fx.batch);
	model_logits(&fx.m, 0, (int)BT, logits);
	float *ref = ref_read(&fx, "base_logits", BTV);
	bool ok = check_tensor("base logits (no adapters)", logits, ref, BTV, valid, LOGITS_ATOL);
	free(ref);
	fx.m.lora = &fx.lo;
	model_forward(&fx.m, &fx.batch);
	model_logits(&fx.m, 0, (int)BT, logits);
	ref = ref_read(&fx, "logits", BTV);
	ok &= check_tensor("logits with adapters", logits, ref, BTV, valid, LOGITS_ATOL);
	float *lp = malloc(BT * sizeof *lp);
	CHECK(lp);
	loss_token_logprobs(&fx.m, fx.targets, lp);
	float *lpref = ref_read(&fx, "token_lp", BT);
	ok &= check_tensor("token logprobs", lp, lpref, BT, valid1, LOGITS_ATOL);
	free(lpref);
	free(lp);

	/* CE */
	float *w = malloc(BT * sizeof *w);
	CHECK(w);
	loss_weights(w, fx.mask, fx.B, fx.T, LOSS_AGG_TOKEN_MEAN, 0, 0, 0);
	struct loss_stats st;
	model_forward(&fx.m, &fx.batch);
	model_zero_grad(&fx.m);
	lora_zero_grad(&fx.lo);
	loss_cross_entropy(&fx.m, fx.targets, w, &st);
	model_backward(&fx.m, &fx.batch);
	ok &= check_stat("ce loss", st.loss, ref_scalar(&fx, "ce_loss"));
	ok &= check_stat("ce nll", st.nll, ref_scalar(&fx, "ce_nll"));
	int bad = check_adapter_grads(&fx, "ce_grad.");

	/* GRPO */
	loss_weights(w, fx.mask, fx.B, fx.T, LOSS_AGG_SEQ_MEAN, 0, 0, 0);
	float *adv = ref_read(&fx, "adv", BT), *old_lp = ref_read(&fx, "old_lp", BT);
	float *ref_lp = ref_read(&fx, "ref_lp", BT);
	struct grpo_params gp = {
		.eps_low = (float)ref_scalar(&fx, "grpo_eps_low"),
		.eps_high = (float)ref_scalar(&fx, "grpo_eps_high"),
		.beta = (float)ref_scalar(&fx, "grpo_beta"),
	};
	model_forward(&fx.m, &fx.batch);
	model_zero_grad(&fx.m);
	lora_zero_grad(&fx.lo);
	loss_grpo(&fx.m, fx.targets, w, adv, old_lp, ref_lp, &gp, &st);
	model_backward(&fx.m, &fx.batch);
	ok &= check_stat("grpo loss", st.loss, ref_scalar(&fx, "grpo_loss"));
	ok &= check_stat("grpo kl", st.kl, ref_scalar(&fx, "grpo_kl"));
	ok &= check_stat("grpo clip_frac", st.clip_frac, ref_scalar(&fx, "grpo_clip_frac"));
	bad += check_adapter_grads(&fx, "grpo_grad.");

	/* merged weights, no adapters attached */
	fx.m.lora = NULL;
	lora_merge(&fx.lo, &fx.m, fx.m.params_mem);
	model_forward(&fx.m, &fx.batch);
	model_logits(&fx.m, 0, (int)BT, logits);
	ok &= check_tensor("logits of the merged weights", logits, ref, BTV, valid, LOGITS_ATOL);

	free(logits);
	free(ref);
	free(adv);
	free(old_lp);
	free(ref_lp);
	free(w);
	free(valid);
	free(valid1);
	fixture_close(&fx);
	CHECK_MSG(ok && bad == 0, "%s: %d gradient tensors differ (or a value above)", name, bad);
}

/* q, k, v, o, gate, up, down at rank 4 on the Llama of make_ref.py */
static void test_lora_ref__all_targets(void)
{
	check_case("all");
}

/* q, v, o, down at rank 3 on a model with NH·HD 32 < hidden 64 */
static void test_lora_ref__subset(void)
{
	check_case("subset");
}

static int run(char *const argv[])
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "test_lora_ref: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int make_reference(void)
{
	const char *root = getenv("R1FLOW_SOURCE_ROOT");
	const char *tmp = getenv("R1FLOW_TEST_TMP");
	if (!root || !*root) {
		fprintf(stderr, "test_lora_ref: R1FLOW_SOURCE_ROOT is not set (run through meson test)\n");
		return -1;
	}
	if (!tmp || !*tmp)
		tmp = "/tmp";
	char *probe[] = { PYTHON, "-c", "import torch, numpy", NULL };
	if (access(PYTHON, X_OK) != 0 || run(probe) != 0) {
		fprintf(stderr, "test_lora_ref: '%s' cannot import torch and numpy (scripts/deps.sh "
			"installs python3-torch, python3-numpy)\n", PYTHON);
		return -1;
	}
	char script[4096];
	snprintf(script, sizeof script, "%s/tests/ref/make_lora_ref.py", root);
	snprintf(ref_dir, sizeof ref_dir, "%s/lora-ref-XXXXXX", tmp);
	if (!mkdtemp(ref_dir)) {
		fprintf(stderr, "test_lora_ref: cannot create a directory under '%s': %s\n", tmp,
			strerror(errno));
		return -1;
	}
	char *gen[] = { PYTHON, script, ref_dir, NULL };
	if (run(gen) != 0) {
		fprintf(stderr, "test_lora_ref: '%s %s %s' failed\n", PYTHON, script, ref_dir);
		return -1;
	}
	return 0;
}

static void remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char path[8192];
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat st;
		if (depth < 1 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(path, depth + 1);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (make_reference() != 0)
		return 1;
	int rc = test_main(argc, argv, (struct test_case[]){
		TEST(test_lora_ref__all_targets),
		TEST(test_lora_ref__subset),
		{ 0 },
	});
	if (rc == 0)
		remove_tree(ref_dir, 0);
	else
		printf("reference kept in %s\n", ref_dir);
	return rc;
}
