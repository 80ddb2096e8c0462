/* hfconfig — a Hugging Face config.json as a model_config: see hfconfig.h. */
#include "hfconfig.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "file.h"
#include "shards.h"

#define HFC_FILE "config.json"
#define HFC_MAX (1 << 20) /* bytes of config.json we are willing to parse */

/*
 * The config.json keys that map to struct model_config, in the order they are
 * written. Reading takes every key from here; writing puts the fixed HF keys
 * (architectures, model_type, hidden_act, ...) around them.
 */
enum hfc_kind {
	HFC_INT,   /* JSON integer that fits an int */
	HFC_ID,    /* token id: JSON integer, or null for -1 */
	HFC_FLOAT, /* JSON number */
	HFC_BOOL,
};

static const struct hfc_key {
	const char *key;
	enum hfc_kind kind;
	size_t off;    /* into struct model_config */
	int required;  /* absent keys take config_defaults' value otherwise */
} hfc_keys[] = {
	{ "vocab_size", HFC_INT, offsetof(struct model_config, vocab), 1 },
	{ "hidden_size", HFC_INT, offsetof(struct model_config, dim), 1 },
	{ "intermediate_size", HFC_INT, offsetof(struct model_config, ffn), 1 },
	{ "num_hidden_layers", HFC_INT, offsetof(struct model_config, n_layers), 1 },
	{ "num_attention_heads", HFC_INT, offsetof(struct model_config, n_heads), 1 },
	{ "num_key_value_heads", HFC_INT, offsetof(struct model_config, n_kv_heads), 0 },
	{ "max_position_embeddings", HFC_INT, offsetof(struct model_config, max_seq), 0 },
	{ "rope_theta", HFC_FLOAT, offsetof(struct model_config, rope_theta), 0 },
	{ "rms_norm_eps", HFC_FLOAT, offsetof(struct model_config, norm_eps), 0 },
	{ "tie_word_embeddings", HFC_BOOL, offsetof(struct model_config, tied), 0 },
	{ "bos_token_id", HFC_ID, offsetof(struct model_config, bos_id), 0 },
	{ "eos_token_id", HFC_ID, offsetof(struct model_config, eos_id), 0 },
	{ "pad_token_id", HFC_ID, offsetof(struct model_config, pad_id), 0 },
};

static int hfc_path(char *buf, const char *dir, const char *name, struct err *e)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_MAX)
		return err_set(e, ERR_INVALID, "path too long: '%s/%s'", dir, name);
	return 0;
}

/* mkdir -p */
static int hfc_mkdirs(const char *dir, struct err *e)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof buf, "%s", dir);
	if (n <= 0 || n >= (int)sizeof buf)
		return err_set(e, ERR_INVALID, "cannot create directory '%s': bad path", dir);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return err_sys(e, errno, "cannot create directory '%s'", buf);
		*p = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_IO, "cannot create directory '%s': not a directory", dir);
	return 0;
}

/* The JSON object in path, or NULL with e set. */
static json_t *hfc_load_json(const char *path, struct err *e)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		if (err_sys(e, errno, "cannot open '%s'", path) && e && e->errnum == ENOENT)
			e->code = ERR_NOTFOUND; /* a missing file, not a failing disk */
		return NULL;
	}
	char *buf = NULL;
	json_t *root = NULL;
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(e, ERR_IO, "cannot read '%s': not a regular file", path);
		goto out;
	}
	if (st.st_size > HFC_MAX) {
		err_set(e, ERR_FORMAT, "cannot read '%s': larger than %d bytes", path, HFC_MAX);
		goto out;
	}
	size_t size = (size_t)st.st_size;
	if (!(buf = malloc(size + 1))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", path);
		goto out;
	}
	size_t n = fread(buf, 1, size, fp);
	if (ferror(fp)) {
		err_sys(e, errno, "cannot read '%s'", path);
		goto out;
	}
	json_error_t jerr;
	if (!(root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr))) {
		err_set(e, ERR_FORMAT, "malformed JSON in '%s': %s (line %d, column %d)", path, jerr.text,
			jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(e, ERR_FORMAT, "malformed JSON in '%s': not an object", path);
		json_decref(root);
		root = NULL;
	}
out:
	free(buf);
	fclose(fp);
	return root;
}

static const char *hfc_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

static int hfc_wrong_type(const char *path, const char *key, const json_t *v, const char *want, struct err *e)
{
	return err_set(e, ERR_FORMAT, "cannot read '%s': key '%s' is %s, expected %s", path, key,
		hfc_json_type(v), want);
}

static int hfc_read_key(const char *path, const struct hfc_key *k, const json_t *v,
	struct model_config *c, struct err *e)
{
	char *field = (char *)c + k->off;
	switch (k->kind) {
	case HFC_ID:
		if (json_is_null(v)) {
			*(int *)(void *)field = -1;
			return 0;
		}
		/* Llama-3 Instruct lists several EOS ids: the first is the config's; the
		 * tokenizer files' stop ids (tokenizer.h) are what generation stops on */
		if (json_is_array(v) && json_array_size(v) > 0 && strcmp(k->key, "eos_token_id") == 0)
			v = json_array_get(v, 0);
		/* fall through */
	case HFC_INT:
		if (!json_is_integer(v))
			return hfc_wrong_type(path, k->key, v, k->kind == HFC_ID ? "an integer or null" : "an integer", e);
		if (json_integer_value(v) < INT_MIN || json_integer_value(v) > INT_MAX)
			return err_set(e, ERR_INVALID, "cannot read '%s': key '%s' is out of range", path, k->key);
		*(int *)(void *)field = (int)json_integer_value(v);
		return 0;
	case HFC_FLOAT: {
		if (!json_is_number(v))
			return hfc_wrong_type(path, k->key, v, "a number", e);
		float x = (float)json_number_value(v);
		if (!isfinite(x))
			return err_set(e, ERR_INVALID, "cannot read '%s': key '%s' is out of range", path, k->key);
		*(float *)(void *)field = x;
		return 0;
	}
	case HFC_BOOL:
		if (!json_is_boolean(v))
			return hfc_wrong_type(path, k->key, v, "a boolean", e);
		*(bool *)(void *)field = json_is_true(v);
		return 0;
	}
	return 0;
}

#define HFC_ARCHS "llama, mistral, qwen2, qwen3"

/* The architecture from model_type and architectures (either may be absent; both
 * absent means llama, as r1flow's first configs were written without them). */
static int hfc_read_arch(const char *path, const json_t *root, enum model_arch *arch, struct err *e)
{
	const json_t *mt = json_object_get(root, "model_type"), *ar = json_object_get(root, "architectures");
	int from_type = -1, from_class = -1;
	if (mt) {
		if (!json_is_string(mt))
			return hfc_wrong_type(path, "model_type", mt, "a string", e);
		for (int a = ARCH_LLAMA; a <= ARCH_QWEN3; a++)
			if (strcmp(json_string_value(mt), config_arch_name(a)) == 0)
				from_type = a;
		if (from_type < 0)
			return err_set(e, ERR_INVALID, "cannot read '%s': model_type '%s' is not supported (supported: "
				HFC_ARCHS ")", path, json_string_value(mt));
	}
	if (ar && !json_is_null(ar)) {
		const json_t *cls = json_array_get(ar, 0);
		if (!json_is_array(ar) || json_array_size(ar) != 1 || !json_is_string(cls))
			return err_set(e, ERR_INVALID, "cannot read '%s': key 'architectures' is not a list of one class name",
				path);
		for (int a = ARCH_LLAMA; a <= ARCH_QWEN3; a++)
			if (strcmp(json_string_value(cls), config_arch_class(a)) == 0)
				from_class = a;
		if (from_class < 0)
			return err_set(e, ERR_INVALID, "cannot read '%s': architectures '%s' is not supported (supported: "
				"LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)", path,
				json_string_value(cls));
		if (from_type >= 0 && from_type != from_class)
			return err_set(e, ERR_INVALID, "cannot read '%s': architectures '%s' does not match model_type '%s'",
				path, json_string_value(cls), json_string_value(mt));
	}
	*arch = from_type >= 0 ? (enum model_arch)from_type :
		from_class >= 0 ? (enum model_arch)from_class : ARCH_LLAMA;
	return 0;
}

/* A number in the rope object `what` (rope_scaling or rope_parameters); absent is an error. */
static int hfc_rope_number(const char *path, const char *what, const json_t *rs, const char *key,
	float *out, struct err *e)
{
	const json_t *v = json_object_get(rs, key);
	if (!v)
		return err_set(e, ERR_FORMAT, "cannot read '%s': %s has no '%s'", path, what, key);
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return err_set(e, ERR_FORMAT, "cannot read '%s': %s '%s' is %s, expected a number",
			path, what, key, hfc_json_type(v));
	*out = (float)json_number_value(v);
	return 0;
}

/*
 * RoPE: rope_scaling null, or {"rope_type" (or the older "type"): "default" | "linear"
 * | "llama3", its keys}; or, as transformers 5 writes it, rope_parameters: the same
 * object with rope_theta inside.
 */
static int hfc_read_rope(const char *path, const json_t *root, struct model_config *c, struct err *e)
{
	const json_t *rs = json_object_get(root, "rope_scaling");
	const json_t *rp = json_object_get(root, "rope_parameters");
	const char *what = "rope_scaling";
	struct rope_scaling *r = &c->rope;
	*r = (struct rope_scaling){ .kind = ROPE_DEFAULT };
	if (rs && !json_is_null(rs) && rp && !json_is_null(rp))
		return err_set(e, ERR_INVALID, "cannot read '%s': both rope_scaling and rope_parameters are set",
			path);
	if (rp && !json_is_null(rp)) {
		rs = rp;
		what = "rope_parameters";
	}
	if (!rs || json_is_null(rs))
		return 0;
	if (!json_is_object(rs))
		return hfc_wrong_type(path, what, rs, "an object or null", e);
	const json_t *ty = json_object_get(rs, "rope_type");
	if (!ty)
		ty = json_object_get(rs, "type");
	if (!ty || !json_is_string(ty))
		return err_set(e, ERR_FORMAT, "cannot read '%s': %s has no 'rope_type' string", path, what);
	const char *type = json_string_value(ty);
	/* rope_theta only in rope_parameters: the list's first entry is skipped otherwise */
	static const char *const none[] = { "rope_theta", "rope_type", "type", NULL };
	static const char *const linear_keys[] = { "rope_theta", "rope_type", "type", "factor", NULL };
	static const char *const llama3_keys[] = { "rope_theta", "rope_type", "type", "factor",
		"low_freq_factor", "high_freq_factor", "original_max_position_embeddings", NULL };
	const char *const *known;
	if (strcmp(type, "default") == 0) {
		known = none;
	} else if (strcmp(type, "linear") == 0) {
		r->kind = ROPE_LINEAR;
		known = linear_keys;
		if (hfc_rope_number(path, what, rs, "factor", &r->factor, e))
			return -1;
	} else if (strcmp(type, "llama3") == 0) {
		r->kind = ROPE_LLAMA3;
		known = llama3_keys;
		float omax;
		if (hfc_rope_number(path, what, rs, "factor", &r->factor, e) ||
			hfc_rope_number(path, what, rs, "low_freq_factor", &r->low_freq_factor, e) ||
			hfc_rope_number(path, what, rs, "high_freq_factor", &r->high_freq_factor, e) ||
			hfc_rope_number(path, what, rs, "original_max_position_embeddings", &omax, e))
			return -1;
		if (!(omax >= 1 && omax <= (1 << 24)) || omax != floorf(omax))
			return err_set(e, ERR_INVALID, "cannot read '%s': %s 'original_max_position_embeddings' "
				"is %g, expected an integer 1..%d", path, what, (double)omax, 1 << 24);
		r->original_max_pos = (int)omax;
	} else {
		return err_set(e, ERR_INVALID, "cannot read '%s': %s type '%s' is not supported "
			"(supported: linear, llama3)", path, what, type);
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)rs, key, v) {
		int ok = 0;
		for (const char *const *k = known + (rs == rp ? 0 : 1); *k && !ok; k++)
			ok = strcmp(*k, key) == 0;
		if (!ok)
			return err_set(e, ERR_INVALID, "cannot read '%s': %s key '%s' is not supported for type '%s'",
				path, what, key, type);
	}
	if (rs == rp && json_object_get(rp, "rope_theta")) {
		float theta;
		if (hfc_rope_number(path, what, rp, "rope_theta", &theta, e))
			return -1;
		if (json_object_get(root, "rope_theta") && theta != c->rope_theta)
			return err_set(e, ERR_INVALID, "cannot read '%s': rope_parameters' rope_theta %g is not "
				"rope_theta %g", path, (double)theta, (double)c->rope_theta);
		c->rope_theta = theta;
	}
	return 0;
}

/* A boolean key, false when absent. */
static int hfc_flag(const char *path, const json_t *root, const char *key, bool *out, struct err *e)
{
	const json_t *v = json_object_get(root, key);
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return hfc_wrong_type(path, key, v, "a boolean", e);
	*out = json_is_true(v);
	return 0;
}

/*
 * The architecture's keys, and keys we do not map but must refuse: honouring them
 * would change the model, ignoring them would train a different one than the file
 * describes.
 */
static int hfc_read_arch_keys(const char *path, const json_t *root, struct model_config *c,
	struct err *e)
{
	const json_t *v;
	if (hfc_read_arch(path, root, &c->arch, e))
		return -1;
	const char *type = config_arch_name(c->arch);
	if ((v = json_object_get(root, "hidden_act"))) {
		if (!json_is_string(v))
			return hfc_wrong_type(path, "hidden_act", v, "a string", e);
		if (strcmp(json_string_value(v), "silu") != 0)
			return err_set(e, ERR_INVALID, "cannot read '%s': hidden_act '%s' is not supported (only 'silu')",
				path, json_string_value(v));
	}
	if (hfc_read_rope(path, root, c, e))
		return -1;
	bool attn_bias, mlp_bias, sliding;
	if (hfc_flag(path, root, "attention_bias", &attn_bias, e) || hfc_flag(path, root, "mlp_bias", &mlp_bias, e) ||
		hfc_flag(path, root, "use_sliding_window", &sliding, e))
		return -1;
	/* qwen2's q/k/v always have biases; elsewhere attention_bias would add o_proj's too */
	c->qkv_bias = c->arch == ARCH_QWEN2;
	c->qk_norm = c->arch == ARCH_QWEN3;
	if (c->arch == ARCH_QWEN2 && json_is_false(json_object_get(root, "attention_bias")))
		return err_set(e, ERR_INVALID, "cannot read '%s': attention_bias false is not supported for "
			"model_type 'qwen2' (its q/k/v projections always have biases)", path);
	if (c->arch != ARCH_QWEN2 && attn_bias)
		return err_set(e, ERR_INVALID, "cannot read '%s': attention_bias true is not supported for model_type '%s'",
			path, type);
	if (mlp_bias)
		return err_set(e, ERR_INVALID, "cannot read '%s': mlp_bias true is not supported", path);
	if (sliding)
		return err_set(e, ERR_INVALID, "cannot read '%s': use_sliding_window true is not supported "
			"(r1flow has no sliding-window attention)", path);
	if ((v = json_object_get(root, "layer_types")) && !json_is_null(v)) {
		size_t i;
		const json_t *lt;
		if (!json_is_array(v))
			return hfc_wrong_type(path, "layer_types", v, "a list", e);
		json_array_foreach(v, i, lt)
			if (!json_is_string(lt) || strcmp(json_string_value(lt), "full_attention") != 0)
				return err_set(e, ERR_INVALID, "cannot read '%s': layer_types[%zu] is not 'full_attention' "
					"(r1flow has no sliding-window attention)", path, i);
	}
	/* mistral's window applies to every layer; a window that covers every position is none */
	if (c->arch == ARCH_MISTRAL && (v = json_object_get(root, "sliding_window")) && !json_is_null(v)) {
		if (!json_is_integer(v))
			return hfc_wrong_type(path, "sliding_window", v, "an integer or null", e);
		if (json_integer_value(v) < c->max_seq)
			return err_set(e, ERR_INVALID, "cannot read '%s': sliding_window %lld is less than "
				"max_position_embeddings %d (r1flow has no sliding-window attention)", path,
				(long long)json_integer_value(v), c->max_seq);
	}
	static const char *const zero[] = { "attention_dropout", "hidden_dropout", "embd_pdrop",
		"resid_pdrop", "attn_pdrop" };
	for (unsigned i = 0; i < sizeof zero / sizeof zero[0]; i++) {
		if (!(v = json_object_get(root, zero[i])) || json_is_null(v))
			continue;
		if (!json_is_number(v))
			return hfc_wrong_type(path, zero[i], v, "a number", e);
		if (json_number_value(v) != 0)
			return err_set(e, ERR_INVALID, "cannot read '%s': %s %g is not supported (only 0)", path,
				zero[i], json_number_value(v));
	}
	if ((v = json_object_get(root, "partial_rotary_factor")) && !json_is_null(v) &&
		!(json_is_number(v) && json_number_value(v) == 1))
		return err_set(e, ERR_INVALID, "cannot read '%s': partial_rotary_factor is not supported (only 1)", path);
	c->head_dim = c->arch == ARCH_QWEN3 ? 128 : 0; /* Qwen3Config's default */
	if ((v = json_object_get(root, "head_dim")) && !json_is_null(v)) {
		if (!json_is_integer(v))
			return hfc_wrong_type(path, "head_dim", v, "an integer", e);
		if (json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 16))
			return err_set(e, ERR_INVALID, "cannot read '%s': head_dim %lld is out of range (1..%d)",
				path, (long long)json_integer_value(v), 1 << 16);
		c->head_dim = (int)json_integer_value(v);
	}
	return 0;
}

/* The model_config of a parsed config.json object; `path` names it in errors. */
static int hfc_config_from_json(const char *path, const json_t *root, struct model_config *cfg,
	struct err *e)
{
	struct model_config c;
	config_defaults(&c);
	for (unsigned i = 0; i < sizeof hfc_keys / sizeof hfc_keys[0]; i++) {
		const json_t *v = json_object_get(root, hfc_keys[i].key);
		if (!v && hfc_keys[i].required)
			return err_set(e, ERR_FORMAT, "cannot read '%s': missing key '%s'", path, hfc_keys[i].key);
		if (v && hfc_read_key(path, &hfc_keys[i], v, &c, e))
			return -1;
	}
	if (!json_object_get(root, "num_key_value_heads"))
		c.n_kv_heads = c.n_heads;
	if (hfc_read_arch_keys(path, root, &c, e))
		return -1;
	if (config_validate(&c, e))
		return err_wrap(e, "cannot read '%s'", path);
	*cfg = c;
	return 0;
}

int hfconfig_read(const char *dir, struct model_config *cfg, struct err *e)
{
	char path[PATH_MAX];
	if (hfc_path(path, dir, HFC_FILE, e))
		return -1;
	json_t *root = hfc_load_json(path, e);
	if (!root)
		return -1;
	int rc = hfc_config_from_json(path, root, cfg, e);
	json_decref(root);
	return rc;
}

int hfconfig_parse(const char *text, size_t len, const char *what,
	struct model_config *cfg, struct err *e)
{
	json_error_t jerr;
	if (len > HFC_MAX)
		return err_set(e, ERR_FORMAT, "cannot read '%s': larger than %d bytes", what, HFC_MAX);
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(e, ERR_FORMAT, "malformed JSON in '%s': %s (line %d, column %d)", what,
			jerr.text, jerr.line, jerr.column);
	int rc = json_is_object(root) ? hfc_config_from_json(what, root, cfg, e) :
		err_set(e, ERR_FORMAT, "malformed JSON in '%s': not an object", what);
	json_decref(root);
	return rc;
}

/* The shortest decimal that reads back as f, as a double: 1e-5f is written "1e-05". */
static double hfc_short_real(float f)
{
	char buf[32];
	for (int p = 1; p <= 9; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, (double)f);
		if (strtof(buf, NULL) == f)
			break;
	}
	return strtod(buf, NULL);
}

/* The keys that differ between architectures, as HF's config classes write them. */
static int hfc_write_arch_keys(json_t *root, const struct model_config *c)
{
	int bad = 0;
	if (c->arch != ARCH_QWEN2)
		bad |= json_object_set_new(root, "attention_bias", json_false());
	if (c->arch == ARCH_LLAMA)
		bad |= json_object_set_new(root, "mlp_bias", json_false());
	/* Qwen3Config defaults head_dim to 128, not hidden_size / heads: always say it */
	if (c->head_dim || c->arch == ARCH_QWEN3)
		bad |= json_object_set_new(root, "head_dim", json_integer(config_head_dim(c)));
	if (c->arch != ARCH_LLAMA)
		bad |= json_object_set_new(root, "sliding_window", json_null());
	if (c->arch == ARCH_QWEN2 || c->arch == ARCH_QWEN3)
		bad |= json_object_set_new(root, "use_sliding_window", json_false());
	const struct rope_scaling *r = &c->rope;
	json_t *rs = NULL;
	if (r->kind == ROPE_LINEAR)
		rs = json_pack("{s:s, s:f}", "rope_type", "linear", "factor", hfc_short_real(r->factor));
	else if (r->kind == ROPE_LLAMA3)
		rs = json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3",
			"factor", hfc_short_real(r->factor), "low_freq_factor", hfc_short_real(r->low_freq_factor),
			"high_freq_factor", hfc_short_real(r->high_freq_factor),
			"original_max_position_embeddings", r->original_max_pos);
	if (rs || c->arch != ARCH_LLAMA) /* absent from r1flow's first Llama configs */
		bad |= json_object_set_new(root, "rope_scaling", rs ? rs : json_null());
	return bad;
}

int hfconfig_write(const char *dir, const struct model_config *cfg, struct err *e)
{
	char path[PATH_MAX];
	if (hfc_path(path, dir, HFC_FILE, e))
		return -1;
	if (config_validate(cfg, e))
		return err_wrap(e, "cannot write '%s'", path);
	if (hfc_mkdirs(dir, e))
		return -1;
	json_t *root = json_object();
	char *text = NULL;
	int rc = -1, bad = !root;
	if (!bad)
		bad = json_object_set_new(root, "architectures", json_pack("[s]", config_arch_class(cfg->arch)))
			|| json_object_set_new(root, "model_type", json_string(config_arch_name(cfg->arch)));
	for (unsigned i = 0; !bad && i < sizeof hfc_keys / sizeof hfc_keys[0]; i++) {
		const char *field = (const char *)cfg + hfc_keys[i].off;
		json_t *v = NULL;
		switch (hfc_keys[i].kind) {
		case HFC_INT: v = json_integer(*(const int *)(const void *)field); break;
		case HFC_ID: {
			int id = *(const int *)(const void *)field;
			v = id < 0 ? json_null() : json_integer(id);
			break;
		}
		case HFC_FLOAT: v = json_real(hfc_short_real(*(const float *)(const void *)field)); break;
		case HFC_BOOL: v = json_boolean(*(const bool *)(const void *)field); break;
		}
		bad = json_object_set_new(root, hfc_keys[i].key, v);
	}
	if (!bad)
		bad = json_object_set_new(root, "hidden_act", json_string("silu"))
			|| json_object_set_new(root, "torch_dtype", json_string("float32"))
			|| hfc_write_arch_keys(root, cfg)
			|| json_object_set_new(root, "initializer_range", json_real(0.02));
	/* 9 significant digits print the shortest reals above exactly */
	if (bad || !(text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)))) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
		goto out;
	}
	size_t n = strlen(text);
	char *nl = realloc(text, n + 2);
	if (!nl) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
		goto out;
	}
	text = nl;
	memcpy(text + n, "\n", 2);
	rc = file_write_atomic(path, text, strlen(text), 0644, e);
out:
	free(text);
	json_decref(root);
	return rc;
}

int hfconfig_read_dtype(const char *dir, enum st_dtype *dtype, struct err *e)
{
	char path[PATH_MAX];
	if (hfc_path(path, dir, HFC_FILE, e))
		return -1;
	json_t *root = hfc_load_json(path, e);
	if (!root)
		return -1;
	const json_t *td = json_object_get(root, "torch_dtype");
	if (!td) /* what transformers calls it since 4.56 */
		td = json_object_get(root, "dtype");
	int bad = td && !json_is_null(td) && !json_is_string(td) ?
		hfc_wrong_type(path, "torch_dtype", td, "a string", e) :
		shards_dtype_of_torch(json_string_value(td), path, dtype, e);
	json_decref(root);
	return bad ? -1 : 0;
}
