/*
 * test_uploads — result blobs in PUT pieces (uploads.h) against a temporary data
 * directory: the first inf or NaN of a blob's fp32 values is found as the pieces
 * are written, wherever the pieces split the values, and that verdict is what
 * refuses a grad RESULT (results_check), with no pass over the file at the RESULT.
 */
#include <math.h>
#include <stdint.h>

#include "blobs.h"
#include "checkpoint.h"
#include "config.h"
#include "daemon.h"
#include "results.h"
#include "sha256.h"
#include "test.h"
#include "uploads.h"

static char tmp_dir[1024];

static void daemon_open(struct daemon *d)
{
	const char *base = getenv("R1FLOW_TEST_TMP");
	struct err e = { 0 };
	snprintf(tmp_dir, sizeof tmp_dir, "%s/uploads-XXXXXX", base && *base ? base : "/tmp");
	CHECK(mkdtemp(tmp_dir));
	memset(d, 0, sizeof *d);
	CHECK_MSG(datadir_open(&d->dir, tmp_dir, &e) == 0, "%s", e.msg);
}

static void daemon_close(struct daemon *d)
{
	char cmd[1200];
	datadir_close(&d->dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
	CHECK(system(cmd) == 0);
}

/* Upload `size` bytes of `data` as job 9, epoch 1, blob 0 in pieces of `piece`
 * bytes; every ACK must be a success. */
static void upload(struct daemon *d, struct upload **list, const void *data, size_t size,
	size_t piece)
{
	char whole[SHA256_HEX_SIZE], check[SHA256_HEX_SIZE];
	sha256_buffer(data, size, whole);
	for (size_t off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		struct msg m, ack;
		struct err e = { 0 };
		sha256_buffer((const char *)data + off, n, check);
		msg_init(&m, PROTO_PUT);
		m.header = json_pack("{si si si sI sI ss ss}", "job", 9, "epoch", 1, "index", 0,
			"offset", (json_int_t)off, "size", (json_int_t)size, "sha256", whole,
			"check", check);
		m.nblobs = 1;
		m.blobs[0] = (struct msg_frame){ (const char *)data + off, n };
		CHECK_MSG(uploads_put(d, list, &m, &ack, &e) == 0, "piece at %zu: %s", off, e.msg);
		CHECK(!json_object_get(ack.header, "error"));
		msg_release(&ack);
		m.nblobs = 0;
		msg_release(&m);
	}
}

/* The verdict uploads_map gives for an upload of `g` (n values) in `piece`-byte
 * pieces; the mapping holds the bytes uploaded. */
static int64_t verdict(struct daemon *d, const float *g, size_t n, size_t piece)
{
	struct upload *list = NULL;
	struct msg_frame f[1];
	int64_t nonfinite = -2;
	size_t mapped = 0;
	char whole[SHA256_HEX_SIZE];
	struct err e = { 0 };
	upload(d, &list, g, n * sizeof *g, piece);
	sha256_buffer(g, n * sizeof *g, whole);
	json_t *names = json_pack("[s]", whole);
	CHECK_MSG(uploads_map(d, &list, 9, 1, names, f, &nonfinite, 1, &mapped, &e) == 0, "%s",
		e.msg);
	CHECK(mapped == 1 && f[0].size == n * sizeof *g && !memcmp(f[0].data, g, f[0].size));
	uploads_unmap(f, mapped);
	json_decref(names);
	uploads_forget(d, &list, 9, 1, 0);
	CHECK(list == NULL);
	return nonfinite;
}

#define N 1000

static void test_uploads__finds_the_first_non_finite_value(void)
{
	struct daemon d;
	float *g = calloc(N, sizeof *g);
	CHECK(g);
	daemon_open(&d);
	for (size_t i = 0; i < N; i++)
		g[i] = (float)i * -0.001f;
	/* pieces of 4000 (one piece), 64 (whole values), 7, 6 and 1 bytes (values split
	 * across pieces at every byte position) */
	static const size_t pieces[] = { 4000, 64, 7, 6, 1 };
	for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
		CHECK_MSG(verdict(&d, g, N, pieces[k]) == -1, "finite values, pieces of %zu",
			pieces[k]);
		g[333] = NAN;
		g[600] = INFINITY;
		CHECK_MSG(verdict(&d, g, N, pieces[k]) == 333, "NaN at 333, pieces of %zu", pieces[k]);
		g[333] = 1.0f;
		CHECK_MSG(verdict(&d, g, N, pieces[k]) == 600, "inf at 600, pieces of %zu", pieces[k]);
		g[600] = -INFINITY;
		CHECK_MSG(verdict(&d, g, N, pieces[k]) == 600, "-inf at 600, pieces of %zu", pieces[k]);
		g[600] = 2.0f;
	}
	/* the largest finite value and a denormal are finite */
	g[10] = 3.4028235e38f;
	g[11] = 1e-45f;
	CHECK(verdict(&d, g, N, 7) == -1);
	free(g);
	daemon_close(&d);
}

/* A grad RESULT whose uploaded gradient holds a NaN is refused from the verdict, and
 * the same gradient without it is accepted. */
#define CONFIG "{\"vocab_size\":16,\"hidden_size\":8,\"intermediate_size\":16," \
	"\"num_hidden_layers\":1,\"num_attention_heads\":2,\"max_position_embeddings\":8," \
	"\"bos_token_id\":1,\"eos_token_id\":2,\"pad_token_id\":3}"

static void test_uploads__a_nan_gradient_is_refused(void)
{
	struct daemon d;
	struct model_config cfg;
	struct err e = { 0 };
	daemon_open(&d);
	CHECK_MSG(hfconfig_parse(CONFIG, strlen(CONFIG), "config", &cfg, &e) == 0, "%s", e.msg);
	size_t n = (size_t)config_num_params(&cfg);
	float *g = calloc(n, sizeof *g);
	CHECK(g);
	json_t *params = json_loads("{\"config\":" CONFIG ",\"loss\":\"ce\",\"seqs\":[]}", 0, NULL),
		*result = json_loads("{\"loss\":0,\"tokens\":0,\"nll_sum\":0,\"entropy_sum\":0}", 0,
			NULL);
	CHECK(params && result);
	for (int bad = 0; bad < 2; bad++) {
		struct upload *list = NULL;
		struct msg_frame f[1];
		int64_t nonfinite = -2;
		size_t mapped = 0;
		char whole[SHA256_HEX_SIZE];
		g[n - 1] = bad ? NAN : 0.5f; /* the last value: in the last piece */
		upload(&d, &list, g, n * sizeof *g, 1000);
		sha256_buffer(g, n * sizeof *g, whole);
		json_t *names = json_pack("[s]", whole);
		CHECK(uploads_map(&d, &list, 9, 1, names, f, &nonfinite, 1, &mapped, &e) == 0);
		e = (struct err){ 0 };
		int rc = results_check("grad", 9, params, result, f, mapped, &nonfinite, &e);
		if (bad)
			CHECK_MSG(rc < 0 && strstr(e.msg, "is not finite"), "rc %d: %s", rc, e.msg);
		else
			CHECK_MSG(rc == 0, "%s", e.msg);
		uploads_unmap(f, mapped);
		json_decref(names);
		uploads_drop_all(&d, &list);
	}
	json_decref(params);
	json_decref(result);
	free(g);
	daemon_close(&d);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_uploads__finds_the_first_non_finite_value),
		TEST(test_uploads__a_nan_gradient_is_refused),
		{ 0 } });
}
