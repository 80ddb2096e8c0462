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
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "file.h"
#include "lora.h"
#include "loss.h"
#include "model.h"
#include "safetensors.h"
#include "refdir.h"
#include "test.h"


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
	fx->tokens = ref_read_i32(&fx->st, "tokens", BT);
	fx->lengths = ref_read_i32(&fx->st, "lengths", (size_t)fx->B);
	fx->targets = ref_read_i32(&fx->st, "targets", BT);
	fx->mask = ref_read_f32(&fx->st, "mask", BT);
	fx->batch = (struct model_batch){ .B = fx->B, .T = fx->T, .tokens = fx->tokens,
		.lengths = fx->lengths };

	/* the adapters: rank, alpha and targets as the reference says */
	struct lora_config lc = { .rank = (int)ref_scalar(&fx->st, "lora_rank"),
		.alpha = (float)ref_scalar(&fx->st, "lora_alpha") };
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
		float *ref = ref_read_f32(&fx->st, key, t->numel);
		bad += !ref_check_tensor(key, fx->lo.p.grads_mem + t->offset, ref, t->numel, NULL,
			GRAD_RTOL * ref_max_abs(ref, t->numel));
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
	bool *valid = ref_valid_positions(fx.B, fx.T, fx.lengths, 0, (size_t)fx.V);
	bool *valid1 = ref_valid_positions(fx.B, fx.T, fx.lengths, 1, 1);
	float *logits = malloc(BTV * sizeof *logits);
	CHECK(logits);

	/* base alone, then adapted */
	fx.m.lora = NULL;
	model_forward(&fx.m, &fx.batch);
	model_logits(&fx.m, 0, (int)BT, logits);
	float *ref = ref_read_f32(&fx.st, "base_logits", BTV);
	bool ok = ref_check_tensor("base logits (no adapters)", logits, ref, BTV, valid, LOGITS_ATOL);
	free(ref);
	fx.m.lora = &fx.lo;
	model_forward(&fx.m, &fx.batch);
	model_logits(&fx.m, 0, (int)BT, logits);
	ref = ref_read_f32(&fx.st, "logits", BTV);
	ok &= ref_check_tensor("logits with adapters", logits, ref, BTV, valid, LOGITS_ATOL);
	float *lp = malloc(BT * sizeof *lp);
	CHECK(lp);
	loss_token_logprobs(&fx.m, fx.targets, lp);
	float *lpref = ref_read_f32(&fx.st, "token_lp", BT);
	ok &= ref_check_tensor("token logprobs", lp, lpref, BT, valid1, LOGITS_ATOL);
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
	ok &= ref_check_stat("ce loss", st.loss, ref_scalar(&fx.st, "ce_loss"), STAT_RTOL);
	ok &= ref_check_stat("ce nll", st.nll, ref_scalar(&fx.st, "ce_nll"), STAT_RTOL);
	int bad = check_adapter_grads(&fx, "ce_grad.");

	/* GRPO */
	loss_weights(w, fx.mask, fx.B, fx.T, LOSS_AGG_SEQ_MEAN, 0, 0, 0);
	float *adv = ref_read_f32(&fx.st, "adv", BT), *old_lp = ref_read_f32(&fx.st, "old_lp", BT);
	float *ref_lp = ref_read_f32(&fx.st, "ref_lp", BT);
	struct grpo_params gp = {
		.eps_low = (float)ref_scalar(&fx.st, "grpo_eps_low"),
		.eps_high = (float)ref_scalar(&fx.st, "grpo_eps_high"),
		.beta = (float)ref_scalar(&fx.st, "grpo_beta"),
	};
	model_forward(&fx.m, &fx.batch);
	model_zero_grad(&fx.m);
	lora_zero_grad(&fx.lo);
	loss_grpo(&fx.m, fx.targets, w, adv, old_lp, ref_lp, &gp, &st);
	model_backward(&fx.m, &fx.batch);
	ok &= ref_check_stat("grpo loss", st.loss, ref_scalar(&fx.st, "grpo_loss"), STAT_RTOL);
	ok &= ref_check_stat("grpo kl", st.kl, ref_scalar(&fx.st, "grpo_kl"), STAT_RTOL);
	ok &= ref_check_stat("grpo clip_frac", st.clip_frac, ref_scalar(&fx.st, "grpo_clip_frac"), STAT_RTOL);
	bad += check_adapter_grads(&fx, "grpo_grad.");

	/* merged weights, no adapters attached */
	fx.m.lora = NULL;
	lora_merge(&fx.lo, &fx.m, fx.m.params_mem);
	model_forward(&fx.m, &fx.batch);
	model_logits(&fx.m, 0, (int)BT, logits);
	ok &= ref_check_tensor("logits of the merged weights", logits, ref, BTV, valid, LOGITS_ATOL);

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

int main(int argc, char **argv)
{
	if (refdir_make("test_lora_ref", "make_lora_ref.py", "torch, numpy", ref_dir, sizeof ref_dir) != 0)
		return 1;
	int rc = test_main(argc, argv, (struct test_case[]){
		TEST(test_lora_ref__all_targets),
		TEST(test_lora_ref__subset),
		{ 0 },
	});
	if (rc == 0)
		refdir_remove(ref_dir);
	else
		printf("reference kept in %s\n", ref_dir);
	return rc;
}
