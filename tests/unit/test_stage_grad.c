/*
 * test_stage_grad — the gradient path of the training stages (stage_grad.h) against
 * a temporary data directory and store: shard gradients summed in shard order give
 * the same weights whatever order the jobs arrive in, a job without a gradient
 * fails naming it, and a step runs on the learner's thread: the learner keeps its
 * committed step and weights until grad_finish commits the step; the step's weights
 * delta is made on that thread too.
 */
#include <time.h>

#include "blobs.h"
#include "daemon.h"
#include "deltas.h"
#include "file.h"
#include "learner.h"
#include "stage_grad.h"
#include "store.h"
#include "test.h"
#include "wdelta.h"

static char tmp_dir[1024];

static void daemon_open(struct daemon *d)
{
	const char *base = getenv("R1FLOW_TEST_TMP");
	char db[1200];
	struct err e = { 0 };
	snprintf(tmp_dir, sizeof tmp_dir, "%s/grad-XXXXXX", base && *base ? base : "/tmp");
	CHECK(mkdtemp(tmp_dir));
	memset(d, 0, sizeof *d);
	CHECK_MSG(datadir_open(&d->dir, tmp_dir, &e) == 0, "%s", e.msg);
	snprintf(db, sizeof db, "%s/test.db", tmp_dir);
	CHECK_MSG((d->store = store_open(db, &e)) != NULL, "%s", e.msg);
}

static void daemon_close(struct daemon *d)
{
	char cmd[1200];
	learner_shutdown(d);
	deltas_free(d);
	store_close(d->store);
	datadir_close(&d->dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
	CHECK(system(cmd) == 0);
}

/* A tiny model's learner, fresh weights from seed 7 (the same for every stage). */
static struct learner *learner_new(struct daemon *d, int64_t stage)
{
	struct model_config cfg;
	struct err e = { 0 };
	config_defaults(&cfg);
	cfg.dim = 8;
	cfg.n_layers = 1;
	cfg.n_heads = 2;
	cfg.n_kv_heads = 2;
	cfg.ffn = 16;
	cfg.max_seq = 8;
	CHECK_MSG(config_validate(&cfg, &e) == 0, "%s", e.msg);
	struct learner *l = learner_open_wait(d, stage, &cfg, NULL, 7, &e);
	CHECK_MSG(l, "%s", e.msg);
	l->schedule = (struct lr_schedule){ 1e-2f, 0, 10, 0.1f };
	return l;
}

#define SHARDS 3

/* Shard k's gradient: values whose float sum depends on the order they are added
 * in (1 + 1e8 - 1e8 is 0 or 1), different per parameter. */
static void gradient(const struct learner *l, int k, float *g)
{
	for (size_t i = 0; i < l->m.num_params; i++)
		g[i] = k == 0 ? 1.0f + (float)(i % 7) * 0.25f : k == 1 ? 1e8f : -1e8f;
}

/* jobs[i]: the grad job of shard shards[i] with the gradient content[i], its file
 * written as a job result. */
static void grad_jobs(struct daemon *d, const struct learner *l, const int *shards,
	const int *content, struct store_job *jobs, char text[SHARDS][200])
{
	float *g = malloc(l->m.num_params * sizeof *g);
	CHECK(g);
	for (int i = 0; i < SHARDS; i++) {
		char name[BLOBS_RESULT_NAME];
		struct err e = { 0 };
		gradient(l, content[i], g);
		CHECK_MSG(blobs_put_result(d, 100 + shards[i], 1, 0, g,
			l->m.num_params * sizeof *g, name, &e) == 0, "%s", e.msg);
		snprintf(text[i], 200, "{\"files\": [\"%s\"], \"loss\": %d, \"tokens\": 2}", name,
			content[i]);
		jobs[i] = (struct store_job){ .id = 100 + shards[i], .kind = "grad", .step = 1,
			.shard = shards[i], .state = JOB_STATE_DONE, .result = text[i] };
	}
	free(g);
}

static void apply(struct daemon *d, struct learner *l, const int *shards, const int *content)
{
	struct store_job jobs[SHARDS];
	char text[SHARDS][200];
	struct err e = { 0 };
	grad_jobs(d, l, shards, content, jobs, text);
	CHECK_MSG(grad_start(d, l, jobs, SHARDS, 0, &e) == 0, "%s", e.msg);
	int rc;
	while ((rc = grad_finish(d, l, jobs, SHARDS, NULL, &e)) == 0)
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	CHECK_MSG(rc == 1, "%s", e.msg);
	CHECK(l->step == 1 && !l->busy);
}

static void test_stage_grad__shard_order_whatever_the_arrival_order(void)
{
	struct daemon d;
	daemon_open(&d);
	struct learner *a = learner_new(&d, 1), *b = learner_new(&d, 2), *c = learner_new(&d, 3);
	CHECK(!strcmp(a->sha256, b->sha256) && !strcmp(a->sha256, c->sha256));
	/* the same gradients per shard: in shard order, and arriving 1, 2, 0 (added in
	 * that order they would give other weights: see c) */
	apply(&d, a, (int[]){ 0, 1, 2 }, (int[]){ 0, 1, 2 });
	apply(&d, b, (int[]){ 1, 2, 0 }, (int[]){ 1, 2, 0 });
	CHECK_MSG(!strcmp(a->sha256, b->sha256), "%s != %s", a->sha256, b->sha256);
	/* the order matters to the bytes: the same gradients in another shard order give
	 * other weights, so the check above can fail */
	apply(&d, c, (int[]){ 0, 1, 2 }, (int[]){ 1, 2, 0 });
	CHECK_MSG(strcmp(a->sha256, c->sha256) != 0, "shard order made no difference");
	daemon_close(&d);
}

static void test_stage_grad__sums_in_the_order_given(void)
{
	struct daemon d;
	struct store_job jobs[SHARDS];
	char text[SHARDS][200];
	struct grad_sums s;
	daemon_open(&d);
	struct learner *l = learner_new(&d, 1);
	grad_jobs(&d, l, (int[]){ 0, 1, 2 }, (int[]){ 0, 1, 2 }, jobs, text);
	snprintf(text[2], 200, "{\"files\": [\"x\"], \"loss\": 4, \"tokens\": 3, \"kl_sum\": 0.5,"
		" \"clip_count\": 2, \"entropy_sum\": 1.5}");
	grad_sums(jobs, SHARDS, &s);
	CHECK(s.loss == 5 && s.tokens == 7 && s.kl == 0.5 && s.clip == 2 && s.entropy == 1.5);
	daemon_close(&d);
}

static void test_stage_grad__a_job_without_a_gradient_is_named(void)
{
	struct daemon d;
	struct store_job jobs[SHARDS];
	char text[SHARDS][200], sha[SHA256_HEX_SIZE];
	struct err e = { 0 };
	daemon_open(&d);
	struct learner *l = learner_new(&d, 1);
	memcpy(sha, l->sha256, sizeof sha);
	grad_jobs(&d, l, (int[]){ 0, 1, 2 }, (int[]){ 0, 1, 2 }, jobs, text);
	snprintf(text[1], 200, "{\"files\": [], \"loss\": 1}");
	CHECK(grad_start(&d, l, jobs, SHARDS, 0, &e) == -1);
	CHECK_MSG(e.code == ERR_FORMAT && strstr(e.msg, "grad job 101 (step 1, shard 1)") &&
		strstr(e.msg, "no gradient"), "%s", e.msg);
	CHECK(l->step == 0 && !l->busy && !strcmp(l->sha256, sha)); /* nothing started */
	daemon_close(&d);
}

/* The test knob holds the thread: the step is in progress, and nothing of it shows
 * until grad_finish commits it (the file's removal lets it go on). */
static void test_stage_grad__a_running_step_shows_nothing_until_finished(void)
{
	struct daemon d;
	struct store_job jobs[SHARDS];
	char text[SHARDS][200], sha[SHA256_HEX_SIZE], hold[1100], held[1200];
	struct err e = { 0 };
	daemon_open(&d);
	struct learner *l = learner_new(&d, 1);
	memcpy(sha, l->sha256, sizeof sha);
	snprintf(hold, sizeof hold, "%s/hold", tmp_dir);
	snprintf(held, sizeof held, "%s.held", hold);
	FILE *f = fopen(hold, "w");
	CHECK(f && fclose(f) == 0);
	CHECK(setenv("R1FLOW_TEST_LEARNER_HOLD", hold, 1) == 0);
	grad_jobs(&d, l, (int[]){ 0, 1, 2 }, (int[]){ 0, 1, 2 }, jobs, text);
	CHECK_MSG(grad_start(&d, l, jobs, SHARDS, 0, &e) == 0, "%s", e.msg);
	while (access(held, F_OK) != 0) /* the thread holds: the step is in progress */
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	CHECK(l->busy && grad_finish(&d, l, jobs, SHARDS, NULL, &e) == 0);
	CHECK(l->step == 0 && !strcmp(l->sha256, sha));
	CHECK(unlink(hold) == 0);
	int rc;
	while ((rc = grad_finish(&d, l, jobs, SHARDS, NULL, &e)) == 0)
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	CHECK_MSG(rc == 1, "%s", e.msg);
	CHECK(l->step == 1 && strcmp(l->sha256, sha) != 0 && access(held, F_OK) != 0);
	/* a learner closed while its thread holds is left to end by itself */
	f = fopen(hold, "w");
	CHECK(f && fclose(f) == 0);
	grad_jobs(&d, l, (int[]){ 0, 1, 2 }, (int[]){ 0, 1, 2 }, jobs, text);
	CHECK_MSG(grad_start(&d, l, jobs, SHARDS, 0, &e) == 0, "%s", e.msg);
	while (access(held, F_OK) != 0)
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	learner_close(&d, 1);
	CHECK(!learner_find(&d, 1));
	while (learner_preparing(&d, 1)) /* the closed one's thread stops by itself */
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	CHECK(!d.retired);
	unsetenv("R1FLOW_TEST_LEARNER_HOLD");
	daemon_close(&d);
}

/* A step's exact weights delta (deltas.h) is made on the learner's thread: encoded
 * and written to the scratch directory before the loop's grad_finish, which only
 * adopts it as the stage's delta; applied to the step's base it gives the new
 * weights' bytes. */
static void test_stage_grad__the_delta_is_made_on_the_thread(void)
{
	struct daemon d;
	struct store_job jobs[SHARDS];
	char text[SHARDS][200], base[SHA256_HEX_SIZE], path[DATADIR_PATH_MAX],
		file[DATADIR_PATH_MAX + 32], got[SHA256_HEX_SIZE];
	char *base_bytes, *delta_bytes;
	size_t base_size, delta_size;
	void *target;
	struct err e = { 0 };
	daemon_open(&d);
	struct learner *l = learner_new(&d, 1);
	memcpy(base, l->sha256, sizeof base);
	grad_jobs(&d, l, (int[]){ 0, 1, 2 }, (int[]){ 0, 1, 2 }, jobs, text);
	CHECK_MSG(grad_start(&d, l, jobs, SHARDS, 0, &e) == 0, "%s", e.msg);
	while (!atomic_load(&l->work.done))
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	/* done, not finished: the thread left the delta in the scratch directory */
	CHECK_MSG(sha256_hex_valid(l->work.delta), "no delta: %s", l->work.delta_err.msg);
	snprintf(file, sizeof file, "%s/blobs/tmp/learner-1/delta", tmp_dir);
	CHECK(access(file, F_OK) == 0 && !d.deltas);
	int rc;
	while ((rc = grad_finish(&d, l, jobs, SHARDS, base, &e)) == 0)
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	CHECK_MSG(rc == 1, "%s", e.msg);
	CHECK(access(file, F_OK) != 0); /* adopted: renamed into blobs/ */
	const struct delta *x = d.deltas;
	CHECK(x && x->stage == 1 && !x->next && !strcmp(x->base, base) &&
		!strcmp(x->target, l->sha256) && x->size < x->full);
	/* blobs_path hashes the file: the delta blob's bytes are its name's */
	CHECK_MSG(blobs_path(&d, x->blob, path, sizeof path, &e) == 0, "%s", e.msg);
	CHECK(file_read(path, FILE_READ_ANY, &delta_bytes, &delta_size, &e) == 0 &&
		delta_size == x->size);
	CHECK_MSG(blobs_path(&d, base, path, sizeof path, &e) == 0, "%s", e.msg);
	CHECK(file_read(path, FILE_READ_ANY, &base_bytes, &base_size, &e) == 0 &&
		base_size == x->full);
	CHECK_MSG(wdelta_apply(delta_bytes, delta_size, base_bytes, base_size, &target, &e) == 0,
		"%s", e.msg);
	sha256_buffer(target, base_size, got);
	CHECK_MSG(!strcmp(got, l->sha256), "the delta gives %s, not %s", got, l->sha256);
	free(target);
	free(base_bytes);
	free(delta_bytes);
	daemon_close(&d);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_stage_grad__shard_order_whatever_the_arrival_order),
		TEST(test_stage_grad__sums_in_the_order_given),
		TEST(test_stage_grad__a_job_without_a_gradient_is_named),
		TEST(test_stage_grad__a_running_step_shows_nothing_until_finished),
		TEST(test_stage_grad__the_delta_is_made_on_the_thread),
		{ 0 } });
}
