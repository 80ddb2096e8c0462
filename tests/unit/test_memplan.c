/* memplan: the memory a spec needs per process, against figures computed by hand. */
#include <jansson.h>

#include "jobmodel.h"
#include "memplan.h"
#include "test.h"

/* The default model.config: dim 128, 4 layers, 4 heads (HD 32), ffn 336, byte vocab
 * 264, max_seq 64, untied. */
static const char *config = "{\"dim\": 128, \"layers\": 4, \"heads\": 4, \"kv_heads\": 4, "
	"\"ffn\": 336, \"vocab\": \"bytes\", \"max_seq\": 64, \"tied\": false}";

static json_t *spec_with(const char *model_config, const char *stages)
{
	char text[2048];
	snprintf(text, sizeof text, "{\"model\": {\"config\": %s}, \"stages\": [%s]}",
		model_config, stages);
	json_t *spec = json_loads(text, 0, NULL);
	CHECK(spec);
	return spec;
}

static void test_memplan__tiny_config_by_hand(void)
{
	json_t *spec = spec_with(config,
		"{\"name\": \"s\", \"kind\": \"sft\", \"shard\": 8, \"deps\": []},"
		"{\"name\": \"ev\", \"kind\": \"eval\", \"samples\": 4, \"max_new_tokens\": 16, "
		"\"deps\": [\"s\"]}");
	struct model_config cfg;
	struct memplan mp;
	struct err e = { 0 };
	CHECK(memplan_config(spec, 0, &cfg, &e) == 1);
	memplan_spec(spec, &cfg, &mp);

	/* P: embed 264·128 = 33792; a layer 128 + 384·128 + 128·128 + 128 + 672·128 +
	 * 128·336 = 194816, ×4 = 779264; final norm 128; untied head 33792 */
	CHECK(mp.params == 846976);

	/* Activations per token (floats): 4 layers × (5·128 + 2 + 384 + 3·336) = 8136,
	 * plus 4·128 + 1 + 2·264 + 5 + 384 + 3·336 = 2438: 10574; attention
	 * (4 + 1)·4 heads·T² */
	CHECK(memplan_row_bytes(&cfg, 63) == 4.0 * (10574 * 63 + 20 * 63 * 63)); /* 2982168 */
	CHECK(memplan_row_bytes(&cfg, 1) == 4.0 * (10574 + 20));                 /* 42376 */

	/* Daemon: one learner, 16 bytes a parameter 13551616 + one row 42376 + rope
	 * tables 4·64·32 = 8192; the optimizer file read back: 8·P = 6775808 */
	CHECK(mp.learners == 1);
	CHECK(mp.learner == 13551616.0 + 42376 + 8192);
	CHECK(mp.ckpt_buffer == 6775808.0);
	CHECK(mp.daemon == 13602184.0 + 6775808);

	/* Worker. grad of 's': 8 rows (shard; 2^30 / 2982168 = 360 would fit) × 2982168
	 * + weights and gradients 6775808 + rope 8192 = 30641344. rollout of 'ev': 50
	 * prompts × 4 samples = 200 sequences (2^30 / 555648 = 1932 would fit), each the
	 * generator over 64 positions — 4·(2·4·64·128 + 384 + 384 + 1008 + 528 + 256 +
	 * 128) + 8·264 + 640 + 64 = 275712 — and the prefill of 48 prompt tokens: per
	 * token x, its norm, rstd, max(qkv 384 + atty 128, 3·336 = 1008) and the token id,
	 * 1266, and 4 heads·48² attention probabilities: 4·(1266·48 + 4·48²) = 279936;
	 * 555648 a sequence. The model is weights alone (inference only): 4·P 3387904 +
	 * rope 8192 = 3396096; 3396096 + 200 × 555648 = 114525696 */
	CHECK(memplan_gen_bytes(&cfg, 64) == 275712.0);
	CHECK(memplan_prefill_bytes(&cfg, 48) == 279936.0);
	CHECK(!strcmp(mp.job_kind, "rollout") && !strcmp(mp.job_stage, "ev"));
	CHECK(mp.job_rows == 200 && mp.job_row_bytes == 555648.0);
	CHECK(mp.job_model == 3396096.0 && mp.job_ref == 0);
	CHECK(mp.worker == 114525696.0);
	json_decref(spec);

	/* Without the eval stage the grad job is the largest */
	spec = spec_with(config, "{\"name\": \"s\", \"kind\": \"sft\", \"shard\": 8, \"deps\": []}");
	memplan_spec(spec, &cfg, &mp);
	CHECK(!strcmp(mp.job_kind, "grad") && mp.job_rows == 8);
	CHECK(mp.worker == 30641344.0);
	json_decref(spec);
}

static void test_memplan__grpo_holds_the_reference_weights(void)
{
	json_t *spec = spec_with(config, "{\"name\": \"g\", \"kind\": \"grpo\", \"shard\": 16, "
		"\"group\": 8, \"beta\": 0.04, \"max_new_tokens\": 16, \"deps\": []}");
	struct model_config cfg;
	struct memplan mp;
	struct err e = { 0 };
	CHECK(memplan_config(spec, 0, &cfg, &e) == 1);
	memplan_spec(spec, &cfg, &mp);
	CHECK(mp.job_ref == 4.0 * 846976);
	/* the grad job (16 rows × 2982168 + 8·P + rope + 4·P = 57886592) outweighs the
	 * rollout of 64 sequences (8 prompts × group 8) on weights alone: 4·P + rope +
	 * 4·P + 64 × 555648 = 42346112 */
	CHECK(!strcmp(mp.job_kind, "grad") && mp.job_rows == 16);
	CHECK(mp.worker == 57886592.0);
	json_decref(spec);
}

/* Learners alive at once: the largest set of training stages none of which waits for
 * another. */
static void test_memplan__concurrent_learners(void)
{
	struct model_config cfg;
	struct memplan mp;
	struct err e = { 0 };
	/* a → b, a → c, (b, c) → d: b and c run together */
	json_t *spec = spec_with(config,
		"{\"name\": \"a\", \"kind\": \"pretrain\", \"shard\": 8, \"deps\": []},"
		"{\"name\": \"b\", \"kind\": \"sft\", \"shard\": 8, \"deps\": [\"a\"]},"
		"{\"name\": \"c\", \"kind\": \"sft\", \"shard\": 8, \"deps\": [\"a\"]},"
		"{\"name\": \"m\", \"kind\": \"merge\", \"deps\": [\"b\", \"c\"]},"
		"{\"name\": \"d\", \"kind\": \"grpo\", \"shard\": 8, \"group\": 8, \"beta\": 0, "
		"\"max_new_tokens\": 8, \"deps\": [\"m\"]}");
	CHECK(memplan_config(spec, 0, &cfg, &e) == 1);
	memplan_spec(spec, &cfg, &mp);
	CHECK(mp.learners == 2);
	CHECK(mp.daemon == 2 * mp.learner + mp.ckpt_buffer);
	json_decref(spec);
	/* a chain through a non-training stage: one at a time */
	spec = spec_with(config,
		"{\"name\": \"a\", \"kind\": \"pretrain\", \"shard\": 8, \"deps\": []},"
		"{\"name\": \"m\", \"kind\": \"merge\", \"deps\": [\"a\"]},"
		"{\"name\": \"b\", \"kind\": \"sft\", \"shard\": 8, \"deps\": [\"m\"]}");
	memplan_spec(spec, &cfg, &mp);
	CHECK(mp.learners == 1);
	json_decref(spec);
	/* no training stage: no learner, no daemon memory for one */
	spec = spec_with(config, "{\"name\": \"p\", \"kind\": \"probe\", \"deps\": []}");
	memplan_spec(spec, &cfg, &mp);
	CHECK(mp.learners == 0 && mp.daemon == 0 && !mp.job_kind[0] && mp.worker == 0);
	json_decref(spec);
}

static void test_memplan__sizes_and_formats(void)
{
	char b[32];
	CHECK(memplan_rows(100, 30, 10) == 3);
	CHECK(memplan_rows(100, 300, 10) == 1);  /* one row even when it does not fit */
	CHECK(memplan_rows(1000, 30, 10) == 10); /* no more than the job has */
	CHECK(!strcmp(memplan_fmt(512, b, sizeof b), "512 B"));
	CHECK(!strcmp(memplan_fmt(1.5 * 1024 * 1024 * 1024, b, sizeof b), "1.50 GiB"));
	CHECK(!strcmp(memplan_fmt(16e12, b, sizeof b), "14.6 TiB"));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_memplan__tiny_config_by_hand),
		TEST(test_memplan__grpo_holds_the_reference_weights),
		TEST(test_memplan__concurrent_learners),
		TEST(test_memplan__sizes_and_formats),
		{ 0 } });
}
