#include "test.h"

#include "optim.h"

static void tiny_model(struct model *m)
{
	struct model_config c;
	config_defaults(&c);
	c.vocab = 8; c.dim = 4; c.n_layers = 1; c.n_heads = 2; c.n_kv_heads = 1; c.ffn = 6;
	c.max_seq = 4; c.bos_id = 1; c.eos_id = 2; c.pad_id = 0;
	struct err e = { 0 };
	CHECK_MSG(model_init(m, &c, 1, 4, &e) == 0, "%s", e.msg);
	CHECK(model_alloc_optimizer(m, &e) == 0);
}

/* Two steps of torch.optim.AdamW worked out by hand in double for one matrix and one norm element. */
static void test_optim__adamw_matches_the_torch_update(void)
{
	struct model m;
	tiny_model(&m);
	struct adamw_params p = { .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.5f };
	const struct model_tensor *emb = model_find_tensor(&m, "model.embed_tokens.weight");
	const struct model_tensor *nrm = model_find_tensor(&m, "model.norm.weight");
	CHECK(emb && nrm && emb->ndim == 2 && nrm->ndim == 1);
	float *pe = m.params_mem + emb->offset, *pn = m.params_mem + nrm->offset;
	double we = 0.7, wn = 1.3, me = 0, ve = 0, mn = 0, vn = 0;
	*pe = (float)we;
	*pn = (float)wn;
	const double g[2] = { 0.25, -2.0 };
	for (int step = 1; step <= 2; step++) {
		m.grads_mem[emb->offset] = (float)g[step - 1];
		m.grads_mem[nrm->offset] = (float)g[step - 1];
		adamw_step(&m, &p, step);
		double bc1 = 1 - pow(0.9, step), bc2 = 1 - pow(0.95, step);
		me = 0.9 * me + 0.1 * g[step - 1];
		ve = 0.95 * ve + 0.05 * g[step - 1] * g[step - 1];
		we = we * (1 - 0.1 * 0.5) - 0.1 / bc1 * me / (sqrt(ve) / sqrt(bc2) + 1e-8);
		mn = me;
		vn = ve;
		wn = wn - 0.1 / bc1 * mn / (sqrt(vn) / sqrt(bc2) + 1e-8); /* no decay on norms */
		CHECK_NEAR(*pe, we, 1e-6);
		CHECK_NEAR(*pn, wn, 1e-6);
	}
	model_release(&m);
}

static void test_optim__clip_scales_to_max_norm(void)
{
	struct model m;
	tiny_model(&m);
	for (size_t i = 0; i < m.num_params; i++)
		m.grads_mem[i] = (i % 2 ? 3.0f : -4.0f) / (float)sqrt((double)m.num_params / 2.0);
	/* ‖g‖² = (n/2)(9 + 16)/(n/2) = 25 */
	CHECK_NEAR(grad_global_norm(&m), 5.0, 1e-5);
	double before = grad_clip(&m, 1.0);
	CHECK_NEAR(before, 5.0, 1e-5);
	CHECK_NEAR(grad_global_norm(&m), 1.0, 1e-5);
	CHECK_NEAR(grad_clip(&m, 10.0), 1.0, 1e-5); /* under the limit: untouched */
	CHECK_NEAR(grad_global_norm(&m), 1.0, 1e-5);
	model_release(&m);
}

static void test_optim__warmup_then_cosine(void)
{
	struct lr_schedule s = { .lr = 1.0f, .warmup = 10, .total_steps = 110, .min_ratio = 0.1f };
	CHECK_NEAR(lr_at(&s, 0), 0.1, 1e-6);
	CHECK_NEAR(lr_at(&s, 9), 1.0, 1e-6);
	CHECK_NEAR(lr_at(&s, 10), 1.0, 1e-6);
	CHECK_NEAR(lr_at(&s, 59), 0.55 + 0.45 * cos(M_PI * 49 / 99), 1e-6);
	CHECK_NEAR(lr_at(&s, 109), 0.1, 1e-6);
	CHECK_NEAR(lr_at(&s, 500), 0.1, 1e-6);
	for (long i = 11; i < 110; i++)
		CHECK(lr_at(&s, i) <= lr_at(&s, i - 1));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_optim__adamw_matches_the_torch_update),
		TEST(test_optim__clip_scales_to_max_norm),
		TEST(test_optim__warmup_then_cosine),
		{ 0 } });
}
