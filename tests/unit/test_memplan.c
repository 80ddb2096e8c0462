/* memplan: the memory a spec needs per process, against figures computed by hand. */
#include <jansson.h>

#include "jobmodel.h"
#include "head.h"
#include "memplan.h"
#include "model.h"
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

	/* Activations per token (floats): 4 layers × (4·128 + 128 + 2 + 384 + 3·336) =
	 * 8136, plus 4·128 + 128 + 1 + 5 + 384 + 3·336 = 2038: 10174; attention
	 * (4 + 1)·4 heads·T². No logits: the LM head's chunk is apart, 1024 rows (the
	 * most, head.h) × (264 + 2·128) floats = 2129920 bytes */
	CHECK(memplan_row_bytes(&cfg, 63) == 4.0 * (10174 * 63 + 20 * 63 * 63)); /* 2881368 */
	CHECK(memplan_row_bytes(&cfg, 1) == 4.0 * (10174 + 20));                 /* 40776 */
	CHECK(memplan_head_bytes(&cfg) == 2129920.0);
	/* With checkpointing: every layer's x, 4·128, and one layer's working set, 2034 −
	 * 128: 2418 + 2038 = 4456 a token; attention 2·4 heads·T² (one att, one datt) */
	CHECK(memplan_train_row_bytes(&cfg, 63, true) == 4.0 * (4456 * 63 + 8 * 63 * 63)); /* 1249920 */

	/* Daemon: one learner, 16 bytes a parameter 13551616 + one row 40776 + its head
	 * chunk of one row 4·(264 + 256) = 2080 + rope tables 4·64·32 = 8192; the
	 * optimizer file read back: 8·P = 6775808 */
	CHECK(mp.learners == 1);
	CHECK(mp.learner == 13551616.0 + 40776 + 2080 + 8192);
	CHECK(mp.ckpt_buffer == 6775808.0);
	CHECK(mp.daemon == 13602664.0 + 6775808);

	/* Worker. grad of 's': 8 rows (shard; (2^30 − 2129920) / 2881368 = 371 would fit)
	 * × 2881368 + the head chunk 2129920 + weights and gradients 6775808 + rope 8192
	 * = 31964864. rollout of 'ev': 50 prompts × 4 samples = 200 sequences (2^30 /
	 * 555648 = 1932 would fit), each the generator over 64 positions — 4·(2·4·64·128
	 * + 384 + 384 + 1008 + 528 + 256 + 128) + 8·264 + 640 + 64 = 275712 — and the
	 * prefill of 48 prompt tokens: per token x, its norm, rstd, max(qkv 384 + atty
	 * 128, 3·336 = 1008) and the token id, 1266, and 4 heads·48² attention
	 * probabilities: 4·(1266·48 + 4·48²) = 279936; 555648 a sequence. The model is
	 * weights alone (inference only, no head chunk): 4·P 3387904 + rope 8192 =
	 * 3396096; 3396096 + 200 × 555648 = 114525696 */
	CHECK(memplan_gen_bytes(&cfg, 64) == 275712.0);
	CHECK(memplan_prefill_bytes(&cfg, 48) == 279936.0);
	CHECK(!strcmp(mp.job_kind, "rollout") && !strcmp(mp.job_stage, "ev"));
	CHECK(mp.job_rows == 200 && mp.job_row_bytes == 555648.0);
	CHECK(mp.job_model == 3396096.0 && mp.job_ref == 0 && mp.job_head == 0);
	CHECK(mp.worker == 114525696.0);
	json_decref(spec);

	/* Without the eval stage the grad job is the largest */
	spec = spec_with(config, "{\"name\": \"s\", \"kind\": \"sft\", \"shard\": 8, \"deps\": []}");
	memplan_spec(spec, &cfg, &mp);
	CHECK(!strcmp(mp.job_kind, "grad") && mp.job_rows == 8);
	CHECK(mp.worker == 31964864.0);
	json_decref(spec);

	/* checkpoint_activations: 8 rows of 1249920 */
	spec = spec_with(config, "{\"name\": \"s\", \"kind\": \"sft\", \"shard\": 8, "
		"\"checkpoint_activations\": true, \"deps\": []}");
	memplan_spec(spec, &cfg, &mp);
	CHECK(!strcmp(mp.job_kind, "grad") && mp.job_rows == 8 && mp.job_row_bytes == 1249920.0);
	CHECK(mp.worker == 6784000.0 + 2129920 + 8 * 1249920.0);
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
	/* the grad job (16 rows × 2881368 + the head chunk 2129920 + 8·P + rope + 4·P =
	 * 58403712) outweighs the rollout of 64 sequences (8 prompts × group 8) on weights
	 * alone: 4·P + rope + 4·P + 64 × 555648 = 42346112 */
	CHECK(!strcmp(mp.job_kind, "grad") && mp.job_rows == 16);
	CHECK(mp.worker == 58403712.0);
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

/* A spec's architecture makes the config's flags; head_dim 24 x 2 heads is not dim 32. */
static void test_memplan__config_of_a_qwen3_spec(void)
{
	json_t *c = json_loads("{\"architecture\": \"qwen3\", \"dim\": 32, \"layers\": 1, "
		"\"heads\": 2, \"kv_heads\": 1, \"head_dim\": 24, \"ffn\": 64, \"max_seq\": 48, "
		"\"tied\": true, \"rope_theta\": 1e6, \"norm_eps\": 1e-6}", 0, NULL);
	struct model_config cfg;
	struct err e = { 0 };
	CHECK(c && memplan_model_config(c, &cfg, &e) == 0);
	CHECK(cfg.arch == ARCH_QWEN3 && cfg.qk_norm && !cfg.qkv_bias && cfg.tied);
	CHECK(cfg.head_dim == 24 && cfg.n_kv_heads == 1 && cfg.rope_theta == 1e6f);
	/* embed 264·32 = 8448 (tied); the layer: norms 2·32, q 48·32, k and v 24·32 each,
	 * o 32·48, gate and up 2·64·32, down 32·64, q_norm and k_norm 24 each = 10864;
	 * final norm 32 */
	CHECK(config_num_params(&cfg) == 8448 + 10864 + 32);
	/* qwen2: q/k/v biases; head_dim = dim / heads is no head_dim of its own */
	json_object_set_new(c, "architecture", json_string("qwen2"));
	json_object_set_new(c, "head_dim", json_integer(16));
	CHECK(memplan_model_config(c, &cfg, &e) == 0);
	CHECK(cfg.arch == ARCH_QWEN2 && cfg.qkv_bias && !cfg.qk_norm && cfg.head_dim == 0);
	json_object_set_new(c, "architecture", json_string("mistral"));
	CHECK(memplan_model_config(c, &cfg, &e) == 0);
	CHECK(cfg.arch == ARCH_MISTRAL && !cfg.qkv_bias && !cfg.qk_norm);
	json_object_del(c, "architecture"); /* a spec normalised before the key existed */
	CHECK(memplan_model_config(c, &cfg, &e) == 0 && cfg.arch == ARCH_LLAMA);
	json_object_set_new(c, "architecture", json_string("gpt2"));
	CHECK(memplan_model_config(c, &cfg, &e) == -1);
	CHECK_MSG(!strcmp(e.msg, "invalid model config: architecture 'gpt2' is not supported "
		"(supported: llama, mistral, qwen2, qwen3)"), "%s", e.msg);
	json_decref(c);
}

/* The estimate of a row's activations is model.c's buffer: model_init for B rows of T
 * tokens allocates the rope tables, the LM head's chunk (head.h: min(chunk rows, B·T)
 * rows of V logits and 2·C) and B x memplan_row_bytes, whether or not the heads are
 * dim wide and whether or not q and k have norms. */
static void test_memplan__row_bytes_are_the_models_buffers(void)
{
	struct model_config c[3];
	config_defaults(&c[0]);
	c[0].dim = 32, c[0].n_layers = 2, c[0].n_heads = 4, c[0].n_kv_heads = 2, c[0].ffn = 48;
	c[0].max_seq = 40;
	c[1] = c[0]; /* Qwen3: 4 heads of 24 (96 wide over dim 32), q/k norms */
	c[1].arch = ARCH_QWEN3, c[1].qk_norm = true, c[1].head_dim = 24;
	c[2] = c[1]; /* heads narrower than dim: 4 x 4 = 16 */
	c[2].head_dim = 4;
	for (int i = 0; i < 3; i++) {
		struct model m;
		struct err e = { 0 };
		CHECK_MSG(model_init(&m, &c[i], 2, 16, &e) == 0, "%s", e.msg);
		double rope = (double)c[i].max_seq * config_head_dim(&c[i]);
		int chunk = head_chunk_rows(c[i].vocab);
		double head = (double)(chunk < 2 * 16 ? chunk : 2 * 16) * (c[i].vocab + 2 * c[i].dim);
		CHECK_MSG(4.0 * ((double)m.num_acts - rope - head) == 2 * memplan_row_bytes(&c[i], 16),
			"config %d: model_init's %zu floats, the estimate %.0f + rope %.0f + head %.0f",
			i, m.num_acts, 2 * memplan_row_bytes(&c[i], 16) / 4, rope, head);
		model_release(&m);
	}
	/* generate.c's gen_init for c[1] over 40 positions, by hand: caches 2·2·40·48 =
	 * 7680, x xb 64, atty 96, qkv 192, q/k before the norm 144 and their rstd 6, gu h
	 * 144, logits probs 528, scores 160, log-probs 80: 9094 floats; ranks 8·264, text
	 * 40·10, 64 */
	CHECK(memplan_gen_bytes(&c[1], 40) == 4.0 * 9094 + 2112 + 400 + 64);
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
		TEST(test_memplan__config_of_a_qwen3_spec),
		TEST(test_memplan__row_bytes_are_the_models_buffers),
		{ 0 } });
}
