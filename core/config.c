#include "config.h"

#include "tokenizer.h"

void config_defaults(struct model_config *c)
{
	*c = (struct model_config){
		.vocab = 264, .dim = 128, .n_layers = 4, .n_heads = 4, .n_kv_heads = 4,
		.ffn = 336, .max_seq = 256, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
		.tied = false, .bos_id = TOK_BOS, .eos_id = TOK_EOS, .pad_id = TOK_PAD,
	};
}

int config_validate(const struct model_config *c, struct err *e)
{
	const struct { const char *name; int v; } pos[] = {
		{ "vocab_size", c->vocab }, { "hidden_size", c->dim },
		{ "num_hidden_layers", c->n_layers }, { "num_attention_heads", c->n_heads },
		{ "num_key_value_heads", c->n_kv_heads }, { "intermediate_size", c->ffn },
		{ "max_position_embeddings", c->max_seq },
	};
	for (unsigned i = 0; i < sizeof pos / sizeof pos[0]; i++)
		if (pos[i].v <= 0 || pos[i].v > (1 << 24))
			return err_set(e, ERR_INVALID, "invalid model config: '%s' is %d, expected 1..%d",
				pos[i].name, pos[i].v, 1 << 24);
	if (c->head_dim < 0 || c->head_dim > (1 << 16))
		return err_set(e, ERR_INVALID, "invalid model config: 'head_dim' is %d, expected 1..%d (or 0: hidden_size / heads)",
			c->head_dim, 1 << 16);
	if (!c->head_dim && c->dim % c->n_heads)
		return err_set(e, ERR_INVALID, "invalid model config: hidden_size %d is not a multiple of num_attention_heads %d",
			c->dim, c->n_heads);
	if (config_head_dim(c) % 2)
		return err_set(e, ERR_INVALID, "invalid model config: head dim %d is odd, RoPE needs it even",
			config_head_dim(c));
	if (c->n_heads % c->n_kv_heads)
		return err_set(e, ERR_INVALID, "invalid model config: num_attention_heads %d is not a multiple of num_key_value_heads %d",
			c->n_heads, c->n_kv_heads);
	if ((long)c->n_heads * config_head_dim(c) > (1 << 24))
		return err_set(e, ERR_INVALID, "invalid model config: num_attention_heads %d x head_dim %d is more than %d",
			c->n_heads, config_head_dim(c), 1 << 24);
	static const bool bias_of[] = { [ARCH_LLAMA] = false, [ARCH_MISTRAL] = false,
		[ARCH_QWEN2] = true, [ARCH_QWEN3] = false };
	static const bool norm_of[] = { [ARCH_LLAMA] = false, [ARCH_MISTRAL] = false,
		[ARCH_QWEN2] = false, [ARCH_QWEN3] = true };
	if ((unsigned)c->arch > ARCH_QWEN3)
		return err_set(e, ERR_INVALID, "invalid model config: unknown architecture %d", (int)c->arch);
	/* a written config.json names the class; the class must mean these tensors */
	if (c->qkv_bias != bias_of[c->arch] || c->qk_norm != norm_of[c->arch])
		return err_set(e, ERR_INVALID, "invalid model config: model_type '%s' %s q/k/v biases and %s q/k norms",
			config_arch_name(c->arch), bias_of[c->arch] ? "has" : "has no",
			norm_of[c->arch] ? "has" : "has no");
	if (c->rope.kind != ROPE_DEFAULT && !(c->rope.factor >= 1))
		return err_set(e, ERR_INVALID, "invalid model config: rope_scaling 'factor' %g must be >= 1",
			(double)c->rope.factor);
	if (c->rope.kind == ROPE_LLAMA3 && (!(c->rope.high_freq_factor > c->rope.low_freq_factor) ||
		!(c->rope.low_freq_factor > 0) || c->rope.original_max_pos <= 0))
		return err_set(e, ERR_INVALID, "invalid model config: rope_scaling 'llama3' needs "
			"0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
	if (!(c->rope_theta > 0))
		return err_set(e, ERR_INVALID, "invalid model config: 'rope_theta' must be > 0");
	if (!(c->norm_eps > 0))
		return err_set(e, ERR_INVALID, "invalid model config: 'rms_norm_eps' must be > 0");
	const struct { const char *name; int v; } ids[] = {
		{ "bos_token_id", c->bos_id }, { "eos_token_id", c->eos_id },
	};
	for (unsigned i = 0; i < 2; i++)
		if (ids[i].v < 0 || ids[i].v >= c->vocab)
			return err_set(e, ERR_INVALID, "invalid model config: '%s' %d is outside the vocabulary (0..%d)",
				ids[i].name, ids[i].v, c->vocab - 1);
	if (c->pad_id >= c->vocab)
		return err_set(e, ERR_INVALID, "invalid model config: 'pad_token_id' %d is outside the vocabulary", c->pad_id);
	return 0;
}

const char *config_arch_name(enum model_arch a)
{
	static const char *const names[] = { [ARCH_LLAMA] = "llama", [ARCH_MISTRAL] = "mistral",
		[ARCH_QWEN2] = "qwen2", [ARCH_QWEN3] = "qwen3" };
	return (unsigned)a <= ARCH_QWEN3 ? names[a] : "unknown";
}

const char *config_arch_class(enum model_arch a)
{
	static const char *const names[] = { [ARCH_LLAMA] = "LlamaForCausalLM",
		[ARCH_MISTRAL] = "MistralForCausalLM", [ARCH_QWEN2] = "Qwen2ForCausalLM",
		[ARCH_QWEN3] = "Qwen3ForCausalLM" };
	return (unsigned)a <= ARCH_QWEN3 ? names[a] : "unknown";
}

long config_num_params(const struct model_config *c)
{
	long C = c->dim, HD = config_head_dim(c), NH = c->n_heads, NKV = c->n_kv_heads, F = c->ffn;
	long layer = C + (NH + 2 * NKV) * HD * C + C * NH * HD + C + 2 * F * C + C * F
		+ (c->qkv_bias ? (NH + 2 * NKV) * HD : 0) + (c->qk_norm ? 2 * HD : 0);
	return (long)c->vocab * C * (c->tied ? 1 : 2) + c->n_layers * layer + C;
}
