/*
 * test_scheduler — when a pending stage may start (scheduler.h, duty 3): every
 * stage named in its spec's `deps` is in the pipeline and has succeeded.
 */
#include "scheduler.h"
#include "store.h"
#include "test.h"

/* A stage named `name` in `state` whose spec's deps are the JSON list `deps`. */
static struct store_stage stage(const char *name, enum stage_state state, const char *deps)
{
	static char specs[8][200];
	static int next;
	char *spec = specs[next++ % 8];
	snprintf(spec, 200, "{\"name\": \"%s\", \"kind\": \"probe\", \"deps\": %s}", name, deps);
	return (struct store_stage){ .name = (char *)name, .kind = "probe", .spec = spec,
		.state = state };
}

static void test_scheduler__a_stage_without_deps_is_ready(void)
{
	struct store_stage all[] = { stage("a", STAGE_PENDING, "[]") };
	CHECK(scheduler_stage_ready(&all[0], all, 1) == 1);
}

static void test_scheduler__ready_when_every_dep_succeeded(void)
{
	/* the dependent stage comes first: readiness is by name, not by position */
	struct store_stage all[] = {
		stage("c", STAGE_PENDING, "[\"a\", \"b\"]"),
		stage("a", STAGE_SUCCEEDED, "[]"),
		stage("b", STAGE_RUNNING, "[\"a\"]"),
	};
	CHECK(scheduler_stage_ready(&all[0], all, 3) == 0);
	CHECK(scheduler_stage_ready(&all[2], all, 3) == 1);
	all[2].state = STAGE_SUCCEEDED;
	CHECK(scheduler_stage_ready(&all[0], all, 3) == 1);
}

static void test_scheduler__only_succeeded_counts(void)
{
	const enum stage_state not_yet[] = { STAGE_PENDING, STAGE_RUNNING, STAGE_PAUSED,
		STAGE_FAILED, STAGE_CANCELLED };
	for (size_t i = 0; i < sizeof not_yet / sizeof not_yet[0]; i++) {
		struct store_stage all[] = {
			stage("a", not_yet[i], "[]"),
			stage("b", STAGE_PENDING, "[\"a\"]"),
		};
		CHECK_MSG(scheduler_stage_ready(&all[1], all, 2) == 0, "dep %s",
			store_stage_state_name(not_yet[i]));
	}
}

static void test_scheduler__a_dep_not_in_the_pipeline_never_is(void)
{
	struct store_stage all[] = {
		stage("a", STAGE_SUCCEEDED, "[]"),
		stage("b", STAGE_PENDING, "[\"a\", \"gone\"]"),
	};
	CHECK(scheduler_stage_ready(&all[1], all, 2) == 0);
	CHECK(scheduler_stage_ready(&all[1], all, 1) == 0); /* a alone is not enough */
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_scheduler__a_stage_without_deps_is_ready),
		TEST(test_scheduler__ready_when_every_dep_succeeded),
		TEST(test_scheduler__only_succeeded_counts),
		TEST(test_scheduler__a_dep_not_in_the_pipeline_never_is),
		{ 0 } });
}
