#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "shards.h"
#include "test.h"
#include "testdir.h"

/* ---- helpers ---- */

/* testdir/a[/b], in one of 8 rotating buffers. */
static char *path_in(const char *a, const char *b)
{
	static char buf[8][2048];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s%s%s", testdir, a, b ? "/" : "", b ? b : "");
	return p;
}

#define CHECK_ERR(rc, e, ...) do { \
	CHECK_MSG((rc) == -1, "expected an error"); \
	const char *subs_[] = { __VA_ARGS__, NULL }; \
	for (int s_ = 0; subs_[s_]; s_++) \
		CHECK_MSG(strstr((e).msg, subs_[s_]), "message '%s' lacks '%s'", (e).msg, subs_[s_]); \
} while (0)

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Files in dir whose names start with prefix. */
static int count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	CHECK(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static struct model_config tiny_config(void)
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
	c.tied = false;
	c.bos_id = 1;
	c.eos_id = 2;
	c.pad_id = -1;
	return c;
}

/* A tiny random model saved (one F32 file) in testdir/one. */
static void save_tiny(struct model *m)
{
	struct model_config c = tiny_config();
	struct err e = { 0 };
	CHECK_MSG(model_init(m, &c, 1, 4, &e) == 0, "%s", e.msg);
	model_init_weights(m, 11);
	CHECK_MSG(checkpoint_save(m, path_in("one", NULL), 0, &e) == 0, "%s", e.msg);
}

/* testdir/one's tensors rewritten into testdir/NAME (with its config.json) as dtype,
 * in shards of at most max_shard bytes. */
static void reshard(const char *name, enum st_dtype dtype, uint64_t max_shard)
{
	struct shards s;
	struct st_write_tensor *t;
	struct err e = { 0 };
	CHECK(mkdir(path_in(name, NULL), 0777) == 0 || errno == EEXIST);
	size_t len;
	unsigned char *cfg = testdir_read(path_in("one", "config.json"), &len);
	testdir_write(path_in(name, "config.json"), cfg, len);
	free(cfg);
	CHECK_MSG(shards_open(&s, path_in("one", NULL), &e) == 0, "%s", e.msg);
	CHECK_MSG(shards_sources(&s, dtype, &t, &e) == 0, "%s", e.msg);
	const char *const md[] = { "format", "pt", NULL };
	CHECK_MSG(shards_write(path_in(name, NULL), t, s.n, dtype, max_shard, md, &e) == 0, "%s", e.msg);
	free(t);
	shards_close(&s);
}

static float *load_params(const char *name, size_t *n)
{
	struct model m;
	struct err e = { 0 };
	CHECK_MSG(checkpoint_check(path_in(name, NULL), NULL, &e) == 0, "%s", e.msg);
	CHECK_MSG(checkpoint_load(&m, path_in(name, NULL), 1, 4, &e) == 0, "%s", e.msg);
	float *p = malloc(m.num_params * sizeof *p);
	CHECK(p);
	memcpy(p, m.params_mem, m.num_params * sizeof *p);
	*n = m.num_params;
	model_release(&m);
	return p;
}

static json_t *read_index(const char *name)
{
	json_error_t jerr;
	json_t *j = json_load_file(path_in(name, SHARDS_INDEX), 0, &jerr);
	CHECK_MSG(j, "%s", jerr.text);
	return j;
}

static void write_index(const char *name, json_t *j)
{
	CHECK(json_dump_file(j, path_in(name, SHARDS_INDEX), JSON_INDENT(2)) == 0);
}

/* ---- reading ---- */

static void test_shards__sharded_reads_equal_single_file_reads(void)
{
	testdir_new("shards");
	struct model m;
	size_t n1, n2, n3, n4;
	save_tiny(&m);
	reshard("many", ST_F32, 200);
	CHECK(exists(path_in("many", SHARDS_INDEX)) && !exists(path_in("many", SHARDS_SINGLE)));
	int files = count_files(path_in("many", NULL), "model-");
	CHECK_MSG(files >= 3, "%d shards", files);
	float *one = load_params("one", &n1), *many = load_params("many", &n2);
	CHECK(n1 == m.num_params && n2 == n1);
	CHECK(memcmp(one, m.params_mem, n1 * sizeof *one) == 0);
	CHECK(memcmp(many, one, n1 * sizeof *one) == 0);

	/* BF16, one file and sharded: the same values, each the float rounded to bf16 */
	reshard("bf1", ST_BF16, SHARDS_MAX_SIZE);
	reshard("bfn", ST_BF16, 200);
	CHECK(exists(path_in("bf1", SHARDS_SINGLE)) && !exists(path_in("bf1", SHARDS_INDEX)));
	CHECK(exists(path_in("bfn", SHARDS_INDEX)));
	float *b1 = load_params("bf1", &n3), *bn = load_params("bfn", &n4);
	CHECK(n3 == n1 && n4 == n1);
	CHECK(memcmp(b1, bn, n1 * sizeof *b1) == 0);
	for (size_t i = 0; i < n1; i++) {
		uint32_t bits;
		memcpy(&bits, &b1[i], 4);
		CHECK_MSG((bits & 0xffff) == 0, "parameter %zu is no bf16", i);
		CHECK(fabsf(b1[i] - one[i]) <= fabsf(one[i]) * 0x1p-8f);
	}

	/* F16 too: sharded equals one file; each value within F16's rounding */
	size_t n5, n6;
	reshard("h1", ST_F16, SHARDS_MAX_SIZE);
	reshard("hn", ST_F16, 200);
	float *h1 = load_params("h1", &n5), *hn = load_params("hn", &n6);
	CHECK(n5 == n1 && n6 == n1 && memcmp(h1, hn, n1 * sizeof *h1) == 0);
	for (size_t i = 0; i < n1; i++)
		CHECK(fabsf(h1[i] - one[i]) <= fabsf(one[i]) * 0x1p-11f + 0x1p-25f);
	CHECK(memcmp(h1, b1, n1 * sizeof *h1) != 0); /* not the BF16 values */
	free(h1);
	free(hn);

	/* merged into one blob (the daemon's), each tensor kept in its dtype */
	char *bytes;
	size_t size;
	struct err e = { 0 };
	CHECK_MSG(shards_read_single(path_in("bfn", NULL), &bytes, &size, &e) == 0, "%s", e.msg);
	testdir_write(path_in("blob", NULL), bytes, size);
	free(bytes);
	struct st_file f;
	CHECK_MSG(st_open(&f, path_in("blob", NULL), &e) == 0, "%s", e.msg);
	CHECK(f.n == m.n_tensors);
	for (int i = 0; i < f.n; i++)
		CHECK(f.tensors[i].dtype == ST_BF16);
	st_close(&f);
	float *p = calloc(m.num_params, sizeof *p);
	CHECK(p);
	CHECK_MSG(checkpoint_read_params_file(&m, path_in("blob", NULL), p, &e) == 0, "%s", e.msg);
	CHECK(memcmp(p, b1, n1 * sizeof *p) == 0);
	/* a one-file directory's blob is its file */
	size_t a, b;
	unsigned char *file = testdir_read(path_in("one", SHARDS_SINGLE), &a);
	CHECK_MSG(shards_read_single(path_in("one", NULL), &bytes, &b, &e) == 0, "%s", e.msg);
	CHECK(a == b && memcmp(file, bytes, a) == 0);
	free(file);
	free(bytes);

	/* written back as one file, the shards and the index go; and the other way */
	reshard("many", ST_F32, SHARDS_MAX_SIZE);
	CHECK(exists(path_in("many", SHARDS_SINGLE)) && !exists(path_in("many", SHARDS_INDEX)));
	CHECK(count_files(path_in("many", NULL), "model-") == 0);
	reshard("many", ST_F32, 200);
	CHECK(!exists(path_in("many", SHARDS_SINGLE)) && exists(path_in("many", SHARDS_INDEX)));
	CHECK(count_files(path_in("many", NULL), "model-") == files);
	/* checkpoint_save (one F32 file) over shards removes them too */
	CHECK_MSG(checkpoint_save(&m, path_in("many", NULL), 0, &e) == 0, "%s", e.msg);
	CHECK(exists(path_in("many", SHARDS_SINGLE)) && !exists(path_in("many", SHARDS_INDEX)));
	CHECK(count_files(path_in("many", NULL), "model-") == 0);

	free(p);
	free(one);
	free(many);
	free(b1);
	free(bn);
	model_release(&m);
	testdir_done();
}

/* huggingface_hub's documented example: tensors of 6, 6, 2, 6, 2, 2 units under a limit
 * of 10 go [6], [6+2], [6+2+2]; a tensor over the limit is a shard of its own,
 * numbered when met. */
static void test_shards__splits_like_save_pretrained(void)
{
	testdir_new("shards");
	static float x[32];
	static const int units[] = { 6, 6, 2, 6, 2, 2 };
	static const char *const names[] = { "t0", "t1", "t2", "t3", "t4", "t5" };
	static const int want[] = { 1, 2, 2, 3, 3, 3 };
	struct st_write_tensor t[6];
	struct err e = { 0 };
	for (int i = 0; i < 6; i++)
		t[i] = (struct st_write_tensor){ .name = names[i], .ndim = 1, .shape = { units[i] },
			.data = x };
	CHECK(mkdir(path_in("d", NULL), 0777) == 0);
	/* 10 units of F32 are 40 bytes */
	CHECK_MSG(shards_write(path_in("d", NULL), t, 6, ST_F32, 40, NULL, &e) == 0, "%s", e.msg);
	json_t *j = read_index("d");
	CHECK(json_integer_value(json_object_get(json_object_get(j, "metadata"), "total_size")) == 96);
	json_t *map = json_object_get(j, "weight_map");
	CHECK(json_object_size(map) == 6);
	for (int i = 0; i < 6; i++) {
		char name[64];
		snprintf(name, sizeof name, "model-%05d-of-00003.safetensors", want[i]);
		const char *got = json_string_value(json_object_get(map, names[i]));
		CHECK_MSG(got && strcmp(got, name) == 0, "%s in %s, want %s", names[i], got, name);
		CHECK(exists(path_in("d", name)));
	}
	json_decref(j);
	/* as BF16 the same tensors are 20 units: [6+6+2+6] then [2+2] */
	CHECK_MSG(shards_write(path_in("d", NULL), t, 6, ST_BF16, 40, NULL, &e) == 0, "%s", e.msg);
	j = read_index("d");
	map = json_object_get(j, "weight_map");
	CHECK(json_integer_value(json_object_get(json_object_get(j, "metadata"), "total_size")) == 48);
	CHECK(!strcmp(json_string_value(json_object_get(map, "t3")), "model-00001-of-00002.safetensors"));
	CHECK(!strcmp(json_string_value(json_object_get(map, "t4")), "model-00002-of-00002.safetensors"));
	CHECK(!exists(path_in("d", "model-00003-of-00003.safetensors"))); /* the old set is gone */
	json_decref(j);

	/* 2, 20, 2 units under 10: the big one first (shard 1), then [2+2] */
	t[1].shape[0] = 20;
	CHECK_MSG(shards_write(path_in("d", NULL), t, 3, ST_F32, 40, NULL, &e) == 0, "%s", e.msg);
	j = read_index("d");
	map = json_object_get(j, "weight_map");
	CHECK(!strcmp(json_string_value(json_object_get(map, "t0")), "model-00002-of-00002.safetensors"));
	CHECK(!strcmp(json_string_value(json_object_get(map, "t1")), "model-00001-of-00002.safetensors"));
	CHECK(!strcmp(json_string_value(json_object_get(map, "t2")), "model-00002-of-00002.safetensors"));
	json_decref(j);
	struct shards s;
	CHECK_MSG(shards_open(&s, path_in("d", NULL), &e) == 0, "%s", e.msg);
	CHECK(s.n == 3 && s.n_files == 2 && shards_find(&s, "t1")->info->numel == 20);
	shards_close(&s);
	testdir_done();
}

/* ---- refusals, each naming the user's file ---- */

static void check_refused(const char *name, const char *const *want)
{
	struct err e = { 0 };
	struct model m;
	int rc = checkpoint_check(path_in(name, NULL), NULL, &e);
	CHECK_MSG(rc == -1, "%s was accepted", name);
	for (int i = 0; want[i]; i++)
		CHECK_MSG(strstr(e.msg, want[i]), "message '%s' lacks '%s'", e.msg, want[i]);
	char first[sizeof e.msg];
	memcpy(first, e.msg, sizeof first);
	e = (struct err){ 0 };
	CHECK(checkpoint_load(&m, path_in(name, NULL), 1, 4, &e) == -1);
	CHECK_MSG(!strcmp(e.msg, first), "load says '%s', check '%s'", e.msg, first);
}

#define REFUSED(name, ...) check_refused(name, (const char *const[]){ __VA_ARGS__, NULL })

static void test_shards__refusals_name_the_users_files(void)
{
	testdir_new("shards");
	struct model m;
	save_tiny(&m);
	model_release(&m);
	reshard("ok", ST_F32, 200);
	json_t *j = read_index("ok");
	json_t *map = json_object_get(j, "weight_map");
	const char *first = json_string_value(json_object_get(map, "model.embed_tokens.weight"));
	const char *last = json_string_value(json_object_get(map, "lm_head.weight"));
	CHECK(first && last && strcmp(first, last) != 0);
	char index[2048];
	snprintf(index, sizeof index, "%s", path_in("d", SHARDS_INDEX));

	/* a shard missing */
	testdir_rm(path_in("d", NULL));
	reshard("d", ST_F32, 200);
	CHECK(unlink(path_in("d", last)) == 0);
	REFUSED("d", index, path_in("d", last), "No such file or directory");

	/* the index names a tensor no shard has */
	testdir_rm(path_in("d", NULL));
	reshard("d", ST_F32, 200);
	json_t *k = json_deep_copy(j);
	json_object_set_new(json_object_get(k, "weight_map"), "model.extra.weight", json_string(first));
	write_index("d", k);
	json_decref(k);
	REFUSED("d", index, "'model.extra.weight'", path_in("d", first), "no such tensor");

	/* a tensor in two shards: lm_head.weight in the first shard as well */
	struct shards s;
	struct err e = { 0 };
	CHECK_MSG(shards_open(&s, path_in("d", NULL), &e) == -1, "accepted");
	testdir_rm(path_in("d", NULL));
	reshard("d", ST_F32, 200);
	CHECK_MSG(shards_open(&s, path_in("d", NULL), &e) == 0, "%s", e.msg);
	int n = 0;
	struct st_write_tensor t[64];
	for (int i = 0; i < s.n; i++)
		if (!strcmp(s.tensors[i].file->path, path_in("d", first)) ||
			!strcmp(s.tensors[i].name, "lm_head.weight")) {
			const struct st_tensor_info *in = s.tensors[i].info;
			CHECK(n < 64);
			t[n] = (struct st_write_tensor){ .name = in->name, .dtype = in->dtype,
				.ndim = in->ndim, .from = s.tensors[i].file };
			memcpy(t[n++].shape, in->shape, sizeof in->shape);
		}
	CHECK_MSG(st_write(path_in("d", "two.safetensors"), t, n, NULL, &e) == 0, "%s", e.msg);
	shards_close(&s);
	CHECK(rename(path_in("d", "two.safetensors"), path_in("d", first)) == 0);
	REFUSED("d", index, "'lm_head.weight'", "two shards", path_in("d", first), path_in("d", last));

	/* a shard holding a tensor the index does not map (one of a shard of several) */
	testdir_rm(path_in("d", NULL));
	reshard("d", ST_F32, 200);
	const char *key, *shared = NULL, *in = NULL;
	json_t *v;
	json_object_foreach(map, key, v) {
		int same = 0;
		const char *k2;
		json_t *v2;
		json_object_foreach(map, k2, v2)
			same += json_equal(v, v2);
		if (same > 1 && !shared)
			shared = key, in = json_string_value(v);
	}
	CHECK(shared);
	k = json_deep_copy(j);
	json_object_del(json_object_get(k, "weight_map"), shared);
	write_index("d", k);
	json_decref(k);
	char quoted[256];
	snprintf(quoted, sizeof quoted, "'%s'", shared);
	REFUSED("d", index, quoted, path_in("d", in), "does not map");

	/* malformed indexes */
	static const char *const bad[] = {
		"{\"weight_map\": ", "[]", "{\"metadata\": {}}", "{\"weight_map\": []}",
		"{\"weight_map\": {}}", "{\"weight_map\": {\"lm_head.weight\": 3}}",
		"{\"weight_map\": {\"lm_head.weight\": \"../one/model.safetensors\"}}",
		"{\"weight_map\": {\"lm_head.weight\": \"\"}}",
		"{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		testdir_write(path_in("d", SHARDS_INDEX), bad[i], strlen(bad[i]));
		REFUSED("d", "malformed checkpoint index", index);
	}

	/* neither layout */
	testdir_rm(path_in("d", NULL));
	CHECK(mkdir(path_in("d", NULL), 0777) == 0);
	size_t len;
	unsigned char *cfg = testdir_read(path_in("ok", "config.json"), &len);
	testdir_write(path_in("d", "config.json"), cfg, len);
	free(cfg);
	REFUSED("d", path_in("d", SHARDS_SINGLE), "No such file or directory", SHARDS_INDEX);

	/* the config's torch_dtype is one export can write back */
	reshard("d", ST_F32, 200);
	json_error_t jerr;
	json_t *c = json_load_file(path_in("ok", "config.json"), 0, &jerr);
	CHECK_MSG(c, "%s", jerr.text);
	json_object_set_new(c, "torch_dtype", json_string("float64"));
	CHECK(json_dump_file(c, path_in("d", "config.json"), 0) == 0);
	json_decref(c);
	e = (struct err){ 0 };
	CHECK_ERR(checkpoint_check(path_in("d", NULL), NULL, &e), e, path_in("d", "config.json"),
		"torch_dtype 'float64'");

	json_decref(j);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_shards__sharded_reads_equal_single_file_reads),
		TEST(test_shards__splits_like_save_pretrained),
		TEST(test_shards__refusals_name_the_users_files),
		{ 0 },
	});
}
