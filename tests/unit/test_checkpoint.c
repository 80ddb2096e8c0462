#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "safetensors.h"
#include "test.h"
#include "testdir.h"

/* ---- helpers ---- */

/* testdir/a[/b], in one of 8 rotating buffers: copy a path that must live longer. */
static char *path_in(const char *a, const char *b)
{
	static char buf[8][2048];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s%s%s", testdir, a, b ? "/" : "", b ? b : "");
	return p;
}

/* Whether dir holds no temporary file (NAME.tmp...) of an atomic write. */
static bool no_temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	CHECK(d);
	struct dirent *e;
	bool none = true;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp"))
			none = false;
	closedir(d);
	return none;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	CHECK(fp);
	CHECK(fputs(text, fp) >= 0);
	CHECK(fclose(fp) == 0);
}

#define CHECK_ERR(rc, e, ...) do { \
	CHECK_MSG((rc) == -1, "expected an error"); \
	const char *subs_[] = { __VA_ARGS__, NULL }; \
	for (int s_ = 0; subs_[s_]; s_++) \
		CHECK_MSG(strstr((e).msg, subs_[s_]), "message '%s' lacks '%s'", (e).msg, subs_[s_]); \
} while (0)

/* Small enough that the damage loops below run thousands of loads quickly. */
static struct model_config tiny_config(bool tied)
{
	struct model_config c;
	config_defaults(&c);
	c.vocab = 32;
	c.dim = 8;
	c.n_layers = 2;
	c.n_heads = 2;
	c.n_kv_heads = 1;
	c.ffn = 12;
	c.max_seq = 16;
	c.tied = tied;
	c.bos_id = 1;
	c.eos_id = 2;
	c.pad_id = -1;
	return c;
}

static void model_new(struct model *m, const struct model_config *c, uint64_t seed)
{
	struct err e = { 0 };
	CHECK_MSG(model_init(m, c, 1, 4, &e) == 0, "%s", e.msg);
	model_init_weights(m, seed);
}

/* A saved tiny model in testdir/NAME. */
static void save_tiny(struct model *m, const char *name, bool tied)
{
	struct model_config c = tiny_config(tied);
	struct err e = { 0 };
	model_new(m, &c, 7);
	CHECK_MSG(checkpoint_save(m, path_in(name, NULL), 0, &e) == 0, "%s", e.msg);
}

static bool same_config(const struct model_config *a, const struct model_config *b)
{
	return a->vocab == b->vocab && a->dim == b->dim && a->n_layers == b->n_layers
		&& a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->ffn == b->ffn
		&& a->max_seq == b->max_seq && a->rope_theta == b->rope_theta && a->norm_eps == b->norm_eps
		&& a->tied == b->tied && a->bos_id == b->bos_id && a->eos_id == b->eos_id
		&& a->pad_id == b->pad_id;
}

/*
 * Rewrite DIR/model.safetensors from m's parameters, leaving out `skip`, giving
 * `reshape` the 1-D shape [len], and adding an extra tensor `extra` (any may be NULL).
 */
static void rewrite_model(const struct model *m, const char *dir, const char *skip, const char *reshape,
	int64_t len, const char *extra)
{
	struct st_write_tensor *t = calloc((size_t)m->n_tensors + 1, sizeof *t);
	int n = 0;
	static float extra_data[4];
	for (int i = 0; i < m->n_tensors; i++) {
		const struct model_tensor *p = &m->tensors[i];
		if (skip && strcmp(p->name, skip) == 0)
			continue;
		t[n] = (struct st_write_tensor){ .name = p->name, .dtype = ST_F32, .ndim = p->ndim,
			.shape = { p->shape[0], p->ndim > 1 ? p->shape[1] : 0 }, .data = m->params_mem + p->offset };
		if (reshape && strcmp(p->name, reshape) == 0)
			t[n].ndim = 1, t[n].shape[0] = len, t[n].shape[1] = 0;
		n++;
	}
	if (extra)
		t[n++] = (struct st_write_tensor){ .name = extra, .dtype = ST_F32, .ndim = 1, .shape = { 4 },
			.data = extra_data };
	char path[2048 + 32];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	struct err e = { 0 };
	CHECK_MSG(st_write(path, t, n, (const char *const[]){ "format", "pt", NULL }, &e) == 0, "%s", e.msg);
	free(t);
}

static void load_fails(const char *dir, const char *a, const char *b)
{
	struct model m;
	struct err e = { 0 };
	CHECK_ERR(checkpoint_load(&m, dir, 1, 0, &e), e, a, b);
	CHECK(m.params_mem == NULL); /* released */
}

/* ---- round trips ---- */

static void test_checkpoint__round_trip_is_bit_exact(void)
{
	testdir_new("ck");
	struct model_config cfgs[3] = { tiny_config(false), tiny_config(true) };
	config_defaults(&cfgs[2]);
	for (int k = 0; k < 3; k++) {
		struct model a, b;
		struct err e = { 0 };
		char name[16];
		snprintf(name, sizeof name, "m%d", k);
		char dir[2048];
		snprintf(dir, sizeof dir, "%s", path_in(name, NULL));
		model_new(&a, &cfgs[k], 1234 + (uint64_t)k);
		CHECK_MSG(checkpoint_save(&a, dir, 0, &e) == 0, "%s", e.msg);
		CHECK_MSG(checkpoint_load(&b, dir, 2, 0, &e) == 0, "%s", e.msg);
		CHECK(same_config(&a.cfg, &b.cfg));
		CHECK(b.max_T == cfgs[k].max_seq);
		CHECK(a.num_params == b.num_params);
		CHECK(memcmp(a.params_mem, b.params_mem, a.num_params * sizeof(float)) == 0);
		CHECK(access(path_in(name, "optimizer.safetensors"), F_OK) != 0);
		CHECK(no_temp_files(path_in(name, NULL)));

		/* the file holds exactly the table's tensors, in F32, with format "pt" */
		struct st_file f;
		CHECK_MSG(st_open(&f, path_in(name, "model.safetensors"), &e) == 0, "%s", e.msg);
		CHECK(f.n == a.n_tensors);
		CHECK(strcmp(st_metadata(&f, "format"), "pt") == 0);
		CHECK((st_find(&f, "lm_head.weight") != NULL) == !cfgs[k].tied);
		CHECK(st_find(&f, "model.embed_tokens.weight")->dtype == ST_F32);
		st_close(&f);

		/* load_params into a second, differently initialised model */
		struct model c;
		model_new(&c, &cfgs[k], 99);
		CHECK_MSG(checkpoint_load_params(&c, dir, &e) == 0, "%s", e.msg);
		CHECK(memcmp(a.params_mem, c.params_mem, a.num_params * sizeof(float)) == 0);
		model_release(&a);
		model_release(&b);
		model_release(&c);
	}
	testdir_done();
}

static void test_checkpoint__optimizer_round_trip(void)
{
	testdir_new("ck");
	struct model_config cfg = tiny_config(false);
	struct model a, b;
	struct err e = { 0 };
	model_new(&a, &cfg, 5);
	CHECK_MSG(model_alloc_optimizer(&a, &e) == 0, "%s", e.msg);
	for (size_t i = 0; i < a.num_params; i++) {
		a.m_mem[i] = (float)i * 0.001f - 0.5f;
		a.v_mem[i] = (float)(i % 17) * 1e-7f;
	}
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", path_in("opt", NULL));
	CHECK_MSG(checkpoint_save(&a, dir, 17, &e) == 0, "%s", e.msg);

	struct st_file f;
	CHECK_MSG(st_open(&f, path_in("opt", "optimizer.safetensors"), &e) == 0, "%s", e.msg);
	CHECK(f.n == 2 * a.n_tensors);
	CHECK(strcmp(st_metadata(&f, "step"), "17") == 0);
	CHECK(strcmp(st_metadata(&f, "format"), "r1flow-adamw") == 0);
	CHECK(st_find(&f, "model.norm.weight.exp_avg") && st_find(&f, "model.norm.weight.exp_avg_sq"));
	st_close(&f);

	CHECK_MSG(checkpoint_load(&b, dir, 1, 0, &e) == 0, "%s", e.msg);
	long step = 0;
	CHECK_MSG(checkpoint_load_optimizer(&b, dir, &step, &e) == 0, "%s", e.msg);
	CHECK(step == 17);
	CHECK(memcmp(a.params_mem, b.params_mem, a.num_params * sizeof(float)) == 0);
	CHECK(memcmp(a.m_mem, b.m_mem, a.num_params * sizeof(float)) == 0);
	CHECK(memcmp(a.v_mem, b.v_mem, a.num_params * sizeof(float)) == 0);

	/* saving again without optimizer state removes the stale moments */
	CHECK_MSG(checkpoint_save(&a, dir, 0, &e) == 0, "%s", e.msg);
	CHECK(access(path_in("opt", "optimizer.safetensors"), F_OK) != 0);
	CHECK_ERR(checkpoint_load_optimizer(&b, dir, &step, &e), e, "optimizer.safetensors'");
	CHECK(step == 17);
	model_release(&a);
	model_release(&b);
	testdir_done();
}

static void test_checkpoint__optimizer_file_errors(void)
{
	testdir_new("ck");
	struct model m;
	struct err e = { 0 };
	save_tiny(&m, "o", false);
	char dir[2048], path[2048];
	snprintf(dir, sizeof dir, "%s", path_in("o", NULL));
	snprintf(path, sizeof path, "%s", path_in("o", "optimizer.safetensors"));
	long step = -1;
	float x[8] = { 0 };
	struct st_write_tensor t[] = {
		{ .name = "model.norm.weight.exp_avg", .dtype = ST_F32, .ndim = 1, .shape = { 8 }, .data = x },
	};
	CHECK_MSG(st_write(path, t, 1, (const char *const[]){ "step", "3", NULL }, &e) == 0, "%s", e.msg);
	CHECK_ERR(checkpoint_load_optimizer(&m, dir, &step, &e), e, "optimizer.safetensors'", "format");
	CHECK_MSG(st_write(path, t, 1, (const char *const[]){ "step", "x3", "format", "r1flow-adamw", NULL }, &e) == 0,
		"%s", e.msg);
	CHECK_ERR(checkpoint_load_optimizer(&m, dir, &step, &e), e, "optimizer.safetensors'", "step", "'x3'");
	CHECK_MSG(st_write(path, t, 1, (const char *const[]){ "step", "3", "format", "r1flow-adamw", NULL }, &e) == 0,
		"%s", e.msg);
	CHECK_ERR(checkpoint_load_optimizer(&m, dir, &step, &e), e, "optimizer.safetensors'", "exp_avg");
	t[0].name = "model.norm.weight.momentum";
	CHECK_MSG(st_write(path, t, 1, (const char *const[]){ "step", "3", "format", "r1flow-adamw", NULL }, &e) == 0,
		"%s", e.msg);
	CHECK_ERR(checkpoint_load_optimizer(&m, dir, &step, &e), e, "optimizer.safetensors'",
		"'model.norm.weight.momentum'");
	CHECK(step == -1);
	model_release(&m);
	testdir_done();
}

/* ---- config.json ---- */

static void test_checkpoint__config_json_uses_hf_keys(void)
{
	testdir_new("ck");
	struct model_config c;
	config_defaults(&c);
	c.pad_id = -1;
	struct err e = { 0 };
	CHECK_MSG(hfconfig_write(path_in("cfg", NULL), &c, &e) == 0, "%s", e.msg);
	size_t len;
	char *text = (char *)testdir_read(path_in("cfg", "config.json"), &len);
	CHECK(text[len - 1] == '\n');
	CHECK_MSG(strstr(text, "\"rms_norm_eps\": 1e-5,"), "%s", text);
	CHECK_MSG(strstr(text, "\"rope_theta\": 10000.0,"), "%s", text);
	CHECK_MSG(strstr(text, "\"initializer_range\": 0.02"), "%s", text);
	CHECK_MSG(strstr(text, "\"pad_token_id\": null"), "%s", text);

	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	CHECK(root);
	static const char *const order[] = {
		"architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
		"num_hidden_layers", "num_attention_heads", "num_key_value_heads",
		"max_position_embeddings", "rope_theta", "rms_norm_eps", "tie_word_embeddings",
		"bos_token_id", "eos_token_id", "pad_token_id", "hidden_act", "torch_dtype",
		"attention_bias", "mlp_bias", "initializer_range",
	};
	const char *key;
	json_t *v;
	size_t i = 0;
	json_object_foreach(root, key, v) {
		CHECK(i < sizeof order / sizeof order[0]);
		CHECK_MSG(strcmp(key, order[i]) == 0, "key %zu is '%s', want '%s'", i, key, order[i]);
		i++;
	}
	CHECK(i == sizeof order / sizeof order[0]);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(root, "architectures"), 0)),
		"LlamaForCausalLM") == 0);
	CHECK(strcmp(json_string_value(json_object_get(root, "model_type")), "llama") == 0);
	CHECK(json_integer_value(json_object_get(root, "vocab_size")) == c.vocab);
	CHECK(json_integer_value(json_object_get(root, "hidden_size")) == c.dim);
	CHECK(json_integer_value(json_object_get(root, "intermediate_size")) == c.ffn);
	CHECK(json_integer_value(json_object_get(root, "bos_token_id")) == c.bos_id);
	CHECK(json_is_false(json_object_get(root, "tie_word_embeddings")));
	CHECK(strcmp(json_string_value(json_object_get(root, "hidden_act")), "silu") == 0);
	CHECK(strcmp(json_string_value(json_object_get(root, "torch_dtype")), "float32") == 0);
	json_decref(root);
	free(text);

	struct model_config back;
	CHECK_MSG(hfconfig_read(path_in("cfg", NULL), &back, &e) == 0, "%s", e.msg);
	CHECK(same_config(&c, &back));

	/* odd floats survive the round trip exactly */
	c.rope_theta = 500000.0f;
	c.norm_eps = 1.1e-6f;
	c.pad_id = 5;
	CHECK_MSG(hfconfig_write(path_in("cfg", NULL), &c, &e) == 0, "%s", e.msg);
	CHECK_MSG(hfconfig_read(path_in("cfg", NULL), &back, &e) == 0, "%s", e.msg);
	CHECK(same_config(&c, &back));

	/* an invalid config is not written */
	c.n_heads = 3;
	CHECK_ERR(hfconfig_write(path_in("cfg2", NULL), &c, &e), e, "cfg2/config.json'",
		"num_attention_heads");
	testdir_done();
}

static void test_checkpoint__config_defaults_for_optional_keys(void)
{
	testdir_new("ck");
	mkdir(path_in("d", NULL), 0777);
	write_text(path_in("d", "config.json"), "{\"hidden_size\": 64, \"num_hidden_layers\": 3,"
		" \"num_attention_heads\": 8, \"vocab_size\": 300, \"intermediate_size\": 100}");
	struct model_config c, def;
	struct err e = { 0 };
	config_defaults(&def);
	CHECK_MSG(hfconfig_read(path_in("d", NULL), &c, &e) == 0, "%s", e.msg);
	CHECK(c.dim == 64 && c.n_layers == 3 && c.n_heads == 8 && c.vocab == 300 && c.ffn == 100);
	CHECK(c.n_kv_heads == 8);
	CHECK(c.max_seq == def.max_seq && c.rope_theta == def.rope_theta && c.norm_eps == def.norm_eps);
	CHECK(c.tied == def.tied && c.bos_id == def.bos_id && c.eos_id == def.eos_id && c.pad_id == def.pad_id);
	testdir_done();
}

/* A config.json as transformers writes it, with keys we do not use. */
static void test_checkpoint__reads_hf_config(void)
{
	testdir_new("ck");
	mkdir(path_in("hf", NULL), 0777);
	write_text(path_in("hf", "config.json"),
		"{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"attention_bias\": false,\n"
		"  \"attention_dropout\": 0.0,\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n"
		"  \"hidden_act\": \"silu\",\n  \"hidden_size\": 2048,\n  \"initializer_range\": 0.02,\n"
		"  \"intermediate_size\": 5632,\n  \"max_position_embeddings\": 2048,\n"
		"  \"model_type\": \"llama\",\n  \"num_attention_heads\": 32,\n  \"num_hidden_layers\": 22,\n"
		"  \"num_key_value_heads\": 4,\n  \"pretraining_tp\": 1,\n  \"rms_norm_eps\": 1e-05,\n"
		"  \"rope_scaling\": null,\n  \"rope_theta\": 10000,\n  \"tie_word_embeddings\": false,\n"
		"  \"torch_dtype\": \"bfloat16\",\n  \"transformers_version\": \"4.35.0\",\n"
		"  \"use_cache\": true,\n  \"vocab_size\": 32000\n}\n");
	struct model_config c, def;
	struct err e = { 0 };
	config_defaults(&def);
	CHECK_MSG(hfconfig_read(path_in("hf", NULL), &c, &e) == 0, "%s", e.msg);
	CHECK(c.dim == 2048 && c.n_heads == 32 && c.n_kv_heads == 4 && c.n_layers == 22);
	CHECK(c.vocab == 32000 && c.ffn == 5632 && c.max_seq == 2048);
	CHECK(c.rope_theta == 10000.0f && c.norm_eps == 1e-5f && !c.tied);
	CHECK(c.bos_id == 1 && c.eos_id == 2 && c.pad_id == def.pad_id); /* absent: the default */
	testdir_done();
}

static void config_fails(const char *json, const char *want1, const char *want2)
{
	write_text(path_in("bad", "config.json"), json);
	struct model_config c;
	struct err e = { 0 };
	int rc = hfconfig_read(path_in("bad", NULL), &c, &e);
	CHECK_MSG(rc == -1, "accepted %s", json);
	CHECK_MSG(strstr(e.msg, "bad/config.json'") && strstr(e.msg, want1) && strstr(e.msg, want2),
		"message '%s' for %s", e.msg, json);
	load_fails(path_in("bad", NULL), "bad/config.json'", want1);
}

#define REQ "\"hidden_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, " \
	"\"vocab_size\": 300, \"intermediate_size\": 32"

static void test_checkpoint__config_errors(void)
{
	testdir_new("ck");
	struct model m;
	struct err e = { 0 };
	struct model_config c;
	mkdir(path_in("bad", NULL), 0777);
	CHECK_ERR(hfconfig_read(path_in("bad", NULL), &c, &e), e, "cannot open '", "bad/config.json'");
	CHECK(e.code == ERR_NOTFOUND);
	CHECK_ERR(checkpoint_load(&m, path_in("bad", NULL), 1, 0, &e), e, "bad/config.json'");
	CHECK_ERR(checkpoint_load(&m, path_in("nowhere", NULL), 1, 0, &e), e, "nowhere/config.json'");

	config_fails("{\"hidden_size\": 64", "malformed JSON", "");
	config_fails("not json", "malformed JSON", "");
	config_fails("[1, 2]", "not an object", "");
	config_fails("{}", "missing key", "'vocab_size'");
	config_fails("{\"hidden_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
		" \"vocab_size\": 300}", "missing key", "'intermediate_size'");
	config_fails("{\"hidden_size\": \"64\", \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
		" \"vocab_size\": 300, \"intermediate_size\": 32}", "'hidden_size'", "is a string, expected an integer");
	config_fails("{\"hidden_size\": 64.0, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
		" \"vocab_size\": 300, \"intermediate_size\": 32}", "'hidden_size'", "expected an integer");
	config_fails("{" REQ ", \"rope_theta\": \"1e4\"}", "'rope_theta'", "expected a number");
	config_fails("{" REQ ", \"tie_word_embeddings\": 1}", "'tie_word_embeddings'", "expected a boolean");
	config_fails("{" REQ ", \"pad_token_id\": [0]}", "'pad_token_id'", "an array");
	config_fails("{\"hidden_size\": 64, \"num_hidden_layers\": 10000000000, \"num_attention_heads\": 4,"
		" \"vocab_size\": 300, \"intermediate_size\": 32}", "'num_hidden_layers'", "out of range");
	config_fails("{" REQ ", \"rms_norm_eps\": 1e300}", "'rms_norm_eps'", "out of range");
	config_fails("{" REQ ", \"hidden_act\": \"gelu\"}", "hidden_act 'gelu'", "not supported");
	config_fails("{" REQ ", \"hidden_act\": 3}", "'hidden_act'", "expected a string");
	config_fails("{" REQ ", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2.0}}",
		"rope_scaling type 'yarn'", "not supported");
	config_fails("{" REQ ", \"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}}",
		"rope_scaling type 'dynamic'", "not supported");
	config_fails("{" REQ ", \"rope_scaling\": {\"rope_type\": \"linear\"}}", "rope_scaling has no 'factor'", "");
	config_fails("{" REQ ", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2, \"attention_factor\": 1}}",
		"rope_scaling key 'attention_factor'", "not supported");
	config_fails("{" REQ ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 1,"
		" \"high_freq_factor\": 4}}", "rope_scaling has no 'original_max_position_embeddings'", "");
	config_fails("{" REQ ", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 0.5}}", "'factor'", ">= 1");
	config_fails("{" REQ ", \"rope_scaling\": \"linear\"}", "'rope_scaling'", "expected an object or null");
	config_fails("{" REQ ", \"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4}}",
		"rope_parameters type 'yarn'", "not supported");
	config_fails("{" REQ ", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}, "
		"\"rope_theta\": 1e4}", "rope_parameters' rope_theta 500000", "is not rope_theta 10000");
	config_fails("{" REQ ", \"rope_parameters\": {\"rope_type\": \"default\"}, \"rope_scaling\": "
		"{\"rope_type\": \"linear\", \"factor\": 2}}", "both rope_scaling and rope_parameters", "");
	config_fails("{" REQ ", \"rope_parameters\": {\"rope_type\": \"default\", \"mrope_section\": [1]}}",
		"rope_parameters key 'mrope_section'", "not supported");
	config_fails("{" REQ ", \"rope_scaling\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}}",
		"rope_scaling key 'rope_theta'", "not supported");
	config_fails("{" REQ ", \"model_type\": \"gpt2\"}", "model_type 'gpt2'", "not supported");
	config_fails("{" REQ ", \"model_type\": \"qwen2_moe\"}", "model_type 'qwen2_moe'", "qwen3");
	config_fails("{" REQ ", \"architectures\": [\"GPT2LMHeadModel\"]}", "architectures 'GPT2LMHeadModel'",
		"not supported");
	config_fails("{" REQ ", \"model_type\": \"llama\", \"architectures\": [\"LlamaForSequenceClassification\"]}",
		"architectures 'LlamaForSequenceClassification'", "not supported");
	config_fails("{" REQ ", \"model_type\": \"llama\", \"architectures\": [\"Qwen2ForCausalLM\"]}",
		"architectures 'Qwen2ForCausalLM'", "does not match model_type 'llama'");
	config_fails("{" REQ ", \"architectures\": \"LlamaForCausalLM\"}", "'architectures'", "list of one");
	config_fails("{" REQ ", \"attention_bias\": true}", "attention_bias true", "model_type 'llama'");
	config_fails("{" REQ ", \"model_type\": \"qwen3\", \"attention_bias\": true}", "attention_bias true",
		"model_type 'qwen3'");
	config_fails("{" REQ ", \"model_type\": \"qwen2\", \"attention_bias\": false}", "attention_bias false",
		"always have biases");
	config_fails("{" REQ ", \"mlp_bias\": true}", "mlp_bias true", "not supported");
	config_fails("{" REQ ", \"attention_dropout\": 0.1}", "attention_dropout 0.1", "not supported");
	config_fails("{" REQ ", \"model_type\": \"qwen2\", \"use_sliding_window\": true}", "use_sliding_window true",
		"not supported");
	config_fails("{" REQ ", \"model_type\": \"qwen3\", \"layer_types\": [\"full_attention\", \"sliding_attention\"]}",
		"layer_types[1]", "sliding-window");
	config_fails("{" REQ ", \"model_type\": \"mistral\", \"sliding_window\": 4096, \"max_position_embeddings\": 32768}",
		"sliding_window 4096", "less than max_position_embeddings 32768");
	config_fails("{" REQ ", \"partial_rotary_factor\": 0.5}", "partial_rotary_factor", "not supported");
	config_fails("{" REQ ", \"head_dim\": 0}", "head_dim 0", "out of range");
	config_fails("{" REQ ", \"head_dim\": 15}", "head dim 15", "odd");
	config_fails("{" REQ ", \"head_dim\": \"16\"}", "'head_dim'", "expected an integer");
	config_fails("{" REQ ", \"bos_token_id\": [1, 2]}", "'bos_token_id'", "an array");
	config_fails("{" REQ ", \"eos_token_id\": [\"2\"]}", "'eos_token_id'", "a string");
	config_fails("{" REQ ", \"rope_theta\": 1, \"rope_theta\": 2}", "malformed JSON", "duplicate");
	config_fails("{" REQ ", \"num_key_value_heads\": 3}", "invalid model config", "num_key_value_heads");
	config_fails("{" REQ ", \"bos_token_id\": null}", "invalid model config", "bos_token_id");
	testdir_done();
}

/* The HF architectures r1flow runs: each reads with its flags, writes back as
 * the same class, and a saved model of it reloads with its own tensors. */
static void test_checkpoint__architectures(void)
{
	testdir_new("ck");
	mkdir(path_in("a", NULL), 0777);
	static const struct {
		const char *extra;
		enum model_arch arch;
		int head_dim;
		bool bias, norm;
		enum rope_kind rope;
		const char *written[4];
	} cases[] = {
		{ "\"model_type\": \"llama\", \"head_dim\": 32, \"rope_scaling\": {\"factor\": 8.0, "
			"\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64, "
			"\"rope_type\": \"llama3\"}", ARCH_LLAMA, 32, false, false, ROPE_LLAMA3,
			{ "\"LlamaForCausalLM\"", "\"head_dim\": 32", "\"rope_type\": \"llama3\"",
			"\"original_max_position_embeddings\": 64" } },
		{ "\"architectures\": [\"LlamaForCausalLM\"], \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}",
			ARCH_LLAMA, 0, false, false, ROPE_LINEAR, { "\"rope_type\": \"linear\"", "\"factor\": 2" } },
		{ "\"model_type\": \"qwen2\", \"use_sliding_window\": false, \"sliding_window\": 32768, "
			"\"max_window_layers\": 21, \"attention_dropout\": 0.0", ARCH_QWEN2, 0, true, false, ROPE_DEFAULT,
			{ "\"Qwen2ForCausalLM\"", "\"model_type\": \"qwen2\"", "\"use_sliding_window\": false" } },
		{ "\"architectures\": [\"Qwen3ForCausalLM\"], \"head_dim\": 8, \"attention_bias\": false",
			ARCH_QWEN3, 8, false, true, ROPE_DEFAULT, { "\"Qwen3ForCausalLM\"", "\"head_dim\": 8" } },
		{ "\"model_type\": \"qwen3\"", ARCH_QWEN3, 128, false, true, ROPE_DEFAULT, { "\"head_dim\": 128" } },
		{ "\"model_type\": \"qwen3\", \"head_dim\": 16, \"rope_parameters\": {\"rope_type\": \"default\", "
			"\"rope_theta\": 1000000.0}", ARCH_QWEN3, 16, false, true, ROPE_DEFAULT, { "\"rope_theta\": 1000000" } },
		{ "\"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 10000}, \"rope_theta\": 10000",
			ARCH_LLAMA, 0, false, false, ROPE_LINEAR, { "\"rope_type\": \"linear\"" } },
		{ "\"model_type\": \"mistral\", \"sliding_window\": null", ARCH_MISTRAL, 0, false, false, ROPE_DEFAULT,
			{ "\"MistralForCausalLM\"", "\"sliding_window\": null" } },
		{ "\"model_type\": \"mistral\", \"sliding_window\": 256, \"max_position_embeddings\": 256",
			ARCH_MISTRAL, 0, false, false, ROPE_DEFAULT, { "\"model_type\": \"mistral\"" } },
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char json[1024];
		struct model_config c, back;
		struct err e = { 0 };
		snprintf(json, sizeof json, "{" REQ ", %s}", cases[i].extra);
		write_text(path_in("a", "config.json"), json);
		CHECK_MSG(hfconfig_read(path_in("a", NULL), &c, &e) == 0, "%s: %s", json, e.msg);
		CHECK_MSG(c.arch == cases[i].arch && c.head_dim == cases[i].head_dim && c.qkv_bias == cases[i].bias
			&& c.qk_norm == cases[i].norm && c.rope.kind == cases[i].rope, "read %s", json);
		CHECK_MSG(hfconfig_write(path_in("w", NULL), &c, &e) == 0, "%s", e.msg);
		size_t len;
		char *text = (char *)testdir_read(path_in("w", "config.json"), &len);
		for (int k = 0; k < 4 && cases[i].written[k]; k++)
			CHECK_MSG(strstr(text, cases[i].written[k]), "%s lacks %s", text, cases[i].written[k]);
		free(text);
		CHECK_MSG(hfconfig_read(path_in("w", NULL), &back, &e) == 0, "%s", e.msg);
		CHECK(same_config(&c, &back) && back.arch == c.arch && config_head_dim(&back) == config_head_dim(&c)
			&& memcmp(&back.rope, &c.rope, sizeof c.rope) == 0);
	}

	/* Llama-3 Instruct's list of EOS ids: the first is the config's */
	{
		struct model_config c;
		struct err e = { 0 };
		write_text(path_in("a", "config.json"), "{" REQ ", \"eos_token_id\": [7, 8, 9]}");
		CHECK_MSG(hfconfig_read(path_in("a", NULL), &c, &e) == 0, "%s", e.msg);
		CHECK(c.eos_id == 7);
	}

	/* a saved qwen2 and qwen3 hold their extra tensors, and need them */
	const struct { enum model_arch arch; const char *tensor; int rows; } saved[] = {
		{ ARCH_QWEN2, "model.layers.1.self_attn.k_proj.bias", 4 },
		{ ARCH_QWEN3, "model.layers.0.self_attn.q_norm.weight", 6 },
	};
	for (unsigned i = 0; i < 2; i++) {
		struct model m, l;
		struct err e = { 0 };
		struct model_config c = tiny_config(true);
		c.arch = saved[i].arch;
		c.qkv_bias = c.arch == ARCH_QWEN2;
		c.qk_norm = c.arch == ARCH_QWEN3;
		c.head_dim = c.arch == ARCH_QWEN3 ? 6 : 0;
		model_new(&m, &c, 3);
		const struct model_tensor *t = model_find_tensor(&m, saved[i].tensor);
		CHECK_MSG(t && t->ndim == 1 && t->shape[0] == saved[i].rows, "%s", saved[i].tensor);
		CHECK_MSG(checkpoint_save(&m, path_in("s", NULL), 0, &e) == 0, "%s", e.msg);
		CHECK_MSG(checkpoint_check(path_in("s", NULL), NULL, &e) == 0, "%s", e.msg);
		CHECK_MSG(checkpoint_load(&l, path_in("s", NULL), 1, 0, &e) == 0, "%s", e.msg);
		CHECK(l.cfg.arch == c.arch && l.num_params == m.num_params &&
			memcmp(l.params_mem, m.params_mem, m.num_params * sizeof(float)) == 0);
		CHECK((long)m.num_params == config_num_params(&c));
		model_release(&l);
		rewrite_model(&m, path_in("s", NULL), saved[i].tensor, NULL, 0, NULL);
		CHECK_ERR(checkpoint_check(path_in("s", NULL), NULL, &e), e, "s/model.safetensors'", "needs");
		rewrite_model(&m, path_in("s", NULL), saved[i].tensor, NULL, 0, "x");
		CHECK_ERR(checkpoint_check(path_in("s", NULL), NULL, &e), e, "s/model.safetensors'", "no tensor '",
			saved[i].tensor);
		/* the same tensors under a llama config: the extras are named as unexpected */
		rewrite_model(&m, path_in("s", NULL), NULL, NULL, 0, NULL);
		c = tiny_config(true);
		c.head_dim = saved[i].arch == ARCH_QWEN3 ? 6 : 0;
		CHECK_MSG(hfconfig_write(path_in("s", NULL), &c, &e) == 0, "%s", e.msg);
		CHECK_ERR(checkpoint_check(path_in("s", NULL), NULL, &e), e, "s/model.safetensors'", "unexpected tensor");
		model_release(&m);
	}
	testdir_done();
}

/* ---- model.safetensors against the config ---- */

static void test_checkpoint__missing_tensor(void)
{
	testdir_new("ck");
	struct model m;
	save_tiny(&m, "c", false);
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", path_in("c", NULL));
	rewrite_model(&m, dir, "model.layers.1.mlp.up_proj.weight", NULL, 0, NULL);
	load_fails(dir, "c/model.safetensors'", "'model.layers.1.mlp.up_proj.weight'");
	rewrite_model(&m, dir, "lm_head.weight", NULL, 0, NULL);
	load_fails(dir, "c/model.safetensors'", "'lm_head.weight'");
	struct err e = { 0 };
	CHECK_ERR(checkpoint_load_params(&m, dir, &e), e, "c/model.safetensors'", "'lm_head.weight'",
		"tie_word_embeddings false");
	CHECK(e.code == ERR_NOTFOUND);
	CHECK(remove(path_in("c", "model.safetensors")) == 0);
	load_fails(dir, "cannot open '", "c/model.safetensors'");
	model_release(&m);
	testdir_done();
}

static void test_checkpoint__wrong_shape(void)
{
	testdir_new("ck");
	struct model m;
	save_tiny(&m, "c", false);
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", path_in("c", NULL));
	rewrite_model(&m, dir, NULL, "model.norm.weight", 4, NULL);
	load_fails(dir, "c/model.safetensors': tensor 'model.norm.weight' has shape [4], expected [8]", "");
	rewrite_model(&m, dir, NULL, "model.embed_tokens.weight", 256, NULL);
	load_fails(dir, "c/model.safetensors': tensor 'model.embed_tokens.weight' has shape [256], expected [32, 8]", "");
	model_release(&m);
	testdir_done();
}

static void test_checkpoint__extra_tensors(void)
{
	testdir_new("ck");
	struct model m, b;
	struct err e = { 0 };
	save_tiny(&m, "c", true);
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", path_in("c", NULL));
	rewrite_model(&m, dir, NULL, NULL, 0, "model.layers.0.self_attn.rotary_emb.inv_freq");
	CHECK_MSG(checkpoint_load(&b, dir, 1, 0, &e) == 0, "%s", e.msg);
	CHECK(memcmp(m.params_mem, b.params_mem, m.num_params * sizeof(float)) == 0);
	model_release(&b);
	rewrite_model(&m, dir, NULL, NULL, 0, "model.layers.0.self_attn.q_proj.bias");
	load_fails(dir, "c/model.safetensors'", "unexpected tensor 'model.layers.0.self_attn.q_proj.bias'");
	rewrite_model(&m, dir, NULL, NULL, 0, "lm_head.weight");
	load_fails(dir, "c/model.safetensors'", "'lm_head.weight'");
	model_release(&m);
	testdir_done();
}

static void test_checkpoint__load_params_checks_config(void)
{
	testdir_new("ck");
	struct model m, other;
	struct err e = { 0 };
	save_tiny(&m, "c", false);
	struct model_config c = tiny_config(false);
	c.n_heads = 4; /* same tensor shapes, different model */
	c.n_kv_heads = 2;
	model_new(&other, &c, 1);
	CHECK_ERR(checkpoint_load_params(&other, path_in("c", NULL), &e), e, "num_attention_heads");
	model_release(&other);
	c = tiny_config(false);
	c.rope_theta = 500000;
	model_new(&other, &c, 1);
	CHECK_ERR(checkpoint_load_params(&other, path_in("c", NULL), &e), e, "rope_theta");
	model_release(&other);
	model_release(&m);
	testdir_done();
}

/* checkpoint_check: what loading would refuse, refused without loading */
static void test_checkpoint__check_without_loading(void)
{
	testdir_new("ck");
	struct model m;
	struct model_config got;
	struct err e = { 0 };
	save_tiny(&m, "c", false);
	char dir[2048], path[2048];
	snprintf(dir, sizeof dir, "%s", path_in("c", NULL));
	CHECK_MSG(checkpoint_check(dir, &got, &e) == 0, "%s", e.msg);
	struct model_config want = tiny_config(false);
	CHECK(same_config(&got, &want));
	rewrite_model(&m, dir, NULL, NULL, 0, "model.layers.0.self_attn.rotary_emb.inv_freq");
	CHECK_MSG(checkpoint_check(dir, NULL, &e) == 0, "%s", e.msg);
	rewrite_model(&m, dir, "model.layers.1.mlp.up_proj.weight", NULL, 0, NULL);
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e, "c/model.safetensors'", "needs");
	rewrite_model(&m, dir, "model.layers.1.mlp.up_proj.weight", NULL, 0, "x.weight");
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e, "c/model.safetensors'",
		"no tensor 'model.layers.1.mlp.up_proj.weight'");
	rewrite_model(&m, dir, NULL, NULL, 0, "model.layers.0.self_attn.q_proj.bias");
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e, "unexpected tensor 'model.layers.0.self_attn.q_proj.bias'");
	rewrite_model(&m, dir, NULL, "model.norm.weight", 4, NULL);
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e,
		"c/model.safetensors': tensor 'model.norm.weight' has shape [4], expected [8]");
	rewrite_model(&m, dir, NULL, NULL, 0, NULL);
	CHECK_MSG(checkpoint_check(dir, NULL, &e) == 0, "%s", e.msg);
	/* bytes past the end of a shortened file */
	snprintf(path, sizeof path, "%s", path_in("c", "model.safetensors"));
	size_t len;
	unsigned char *buf = testdir_read(path, &len);
	testdir_write(path, buf, len - 4);
	free(buf);
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e, "c/model.safetensors' is truncated");
	/* a config of absurd size, and one with more layers than the file has */
	snprintf(path, sizeof path, "%s", path_in("c", "config.json"));
	write_text(path, "{\"vocab_size\": 16000000, \"hidden_size\": 16000000, "
		"\"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}");
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e, "c/config.json'", "parameters, more than");
	write_text(path, "{\"vocab_size\": 32, \"hidden_size\": 8, \"intermediate_size\": 12, "
		"\"num_hidden_layers\": 1000000, \"num_attention_heads\": 2, \"max_position_embeddings\": 16, "
		"\"bos_token_id\": 1, \"eos_token_id\": 2, \"pad_token_id\": null}");
	rewrite_model(&m, dir, NULL, NULL, 0, NULL);
	CHECK_ERR(checkpoint_check(dir, NULL, &e), e, "c/model.safetensors'", "config.json needs 9000003");
	CHECK_ERR(checkpoint_check(path, NULL, &e), e, "c/config.json' is not a directory");
	CHECK_ERR(checkpoint_check(path_in("nosuch", NULL), NULL, &e), e,
		"cannot open checkpoint directory '", "nosuch'");
	CHECK(e.code == ERR_NOTFOUND);
	model_release(&m);
	testdir_done();
}

static void test_checkpoint__truncated_model_file(void)
{
	testdir_new("ck");
	struct model m;
	save_tiny(&m, "c", false);
	char path[2048];
	snprintf(path, sizeof path, "%s", path_in("c", "model.safetensors"));
	size_t len;
	unsigned char *buf = testdir_read(path, &len);
	size_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	size_t cuts[] = { 0, 5, 8 + n / 3, 8 + n + 100, len - 4 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		testdir_write(path, buf, cuts[i]);
		load_fails(path_in("c", NULL), "c/model.safetensors' is truncated", "");
	}
	free(buf);
	model_release(&m);
	testdir_done();
}

static void test_checkpoint__save_creates_directories(void)
{
	testdir_new("ck");
	struct model m, b;
	struct err e = { 0 };
	struct model_config c = tiny_config(false);
	model_new(&m, &c, 3);
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", path_in("a/b/c/", NULL));
	CHECK_MSG(checkpoint_save(&m, dir, 0, &e) == 0, "%s", e.msg);
	CHECK_MSG(checkpoint_load(&b, path_in("a/b/c", NULL), 1, 4, &e) == 0, "%s", e.msg);
	CHECK(b.max_T == 4);
	model_release(&b);
	write_text(path_in("file", NULL), "x");
	CHECK_ERR(checkpoint_save(&m, path_in("file", "sub"), 0, &e), e, "file");
	model_release(&m);
	testdir_done();
}

/* ---- never crash on damaged files ---- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void try_load(const char *dir)
{
	struct model m;
	struct err e = { 0 };
	if (checkpoint_load(&m, dir, 1, 0, &e) == 0) {
		long step;
		checkpoint_load_optimizer(&m, dir, &step, &e);
		model_release(&m);
	}
}

/* Corrupt `name` in DIR every way the loops can, loading after each change. */
static void damage_file(const char *dir, const char *name, size_t region, uint64_t *seed)
{
	char path[2048];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	size_t len;
	unsigned char *orig = testdir_read(path, &len), *copy = malloc(len + 1);
	if (!region || region > len)
		region = len;
	for (size_t cut = 0; cut < len; cut += 7) {
		testdir_write(path, orig, cut);
		try_load(dir);
	}
	for (int iter = 0; iter < 500; iter++) {
		memcpy(copy, orig, len);
		int flips = 1 + (int)(xorshift(seed) % 3);
		for (int k = 0; k < flips; k++) {
			size_t at = (size_t)(xorshift(seed) % region);
			if (xorshift(seed) % 2)
				copy[at] ^= (unsigned char)(1u << (xorshift(seed) % 8));
			else
				copy[at] = (unsigned char)(xorshift(seed) % 128);
		}
		testdir_write(path, copy, len);
		try_load(dir);
	}
	testdir_write(path, orig, len);
	free(copy);
	free(orig);
}

static size_t header_region(const char *path)
{
	size_t len;
	unsigned char *buf = testdir_read(path, &len);
	size_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	free(buf);
	return 8 + n;
}

static void test_checkpoint__damaged_checkpoints_never_crash(void)
{
	testdir_new("ck");
	struct model m;
	struct err e = { 0 };
	struct model_config c = tiny_config(false);
	model_new(&m, &c, 11);
	CHECK_MSG(model_alloc_optimizer(&m, &e) == 0, "%s", e.msg);
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", path_in("z", NULL));
	CHECK_MSG(checkpoint_save(&m, dir, 5, &e) == 0, "%s", e.msg);
	uint64_t seed = 0xc0ffee1234567ULL;
	damage_file(dir, "model.safetensors", header_region(path_in("z", "model.safetensors")), &seed);
	damage_file(dir, "optimizer.safetensors", header_region(path_in("z", "optimizer.safetensors")), &seed);
	damage_file(dir, "config.json", 0, &seed);
	/* the originals are back in place and still load */
	struct model b;
	long step = 0;
	CHECK_MSG(checkpoint_load(&b, dir, 1, 0, &e) == 0, "%s", e.msg);
	CHECK_MSG(checkpoint_load_optimizer(&b, dir, &step, &e) == 0, "%s", e.msg);
	CHECK(step == 5);
	CHECK(memcmp(m.params_mem, b.params_mem, m.num_params * sizeof(float)) == 0);
	model_release(&b);
	model_release(&m);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_checkpoint__round_trip_is_bit_exact),
		TEST(test_checkpoint__optimizer_round_trip),
		TEST(test_checkpoint__optimizer_file_errors),
		TEST(test_checkpoint__config_json_uses_hf_keys),
		TEST(test_checkpoint__config_defaults_for_optional_keys),
		TEST(test_checkpoint__reads_hf_config),
		TEST(test_checkpoint__config_errors),
		TEST(test_checkpoint__architectures),
		TEST(test_checkpoint__missing_tensor),
		TEST(test_checkpoint__wrong_shape),
		TEST(test_checkpoint__extra_tensors),
		TEST(test_checkpoint__load_params_checks_config),
		TEST(test_checkpoint__check_without_loading),
		TEST(test_checkpoint__truncated_model_file),
		TEST(test_checkpoint__save_creates_directories),
		TEST(test_checkpoint__damaged_checkpoints_never_crash),
		{ 0 },
	});
}
