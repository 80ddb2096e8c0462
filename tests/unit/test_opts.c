#include "opts.h"
#include "test.h"

#include <stdint.h>

/* One of every kind, with text defaults as r1flowd's table has them. */
static const char *const colours[] = { "red", "green", "blue", NULL };
static const char *s_data, *s_name;
static int s_n, s_colour;
static double s_rate;
static float s_p;
static uint64_t s_seed;
static bool s_json;
static struct opt_list s_set;

static const struct opt table[] = {
	{ "data", OPT_STRING, &s_data, "DIR", .dflt = "./d", .flags = OPT_NONEMPTY,
	  .help = "data directory" },
	{ "name", OPT_STRING, &s_name, "NAME", .dflt = "", .help = "a name" },
	{ "n", OPT_INT, &s_n, "N", 1, 100, .dflt = "7", .help = "count" },
	{ "rate", OPT_DOUBLE, &s_rate, "R", 0, 1, .dflt = "0.5", .env = "R1FLOW_TEST_OPTS_RATE",
	  .help = "a rate" },
	{ "p", OPT_FLOAT, &s_p, "P", 0, 1, .dflt = "1", .help = "p" },
	{ "seed", OPT_U64, &s_seed, "S", .help = "seed" },
	{ "colour", OPT_ENUM, &s_colour, "C", .dflt = "green", .choices = colours,
	  .help = "red, green or blue" },
	{ "json", OPT_FLAG, &s_json, .help = "JSON output" },
	{ "set", OPT_LIST, &s_set, "K=V", .help = "repeatable" },
	{ NULL },
};

static int parse(int max_args, int *first, struct err *e, char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	const struct opts_spec spec = { table, 0, max_args, "FILE", true, false };
	CHECK_MSG(opts_defaults(table, e) == 0, "%s", e->msg);
	return opts_parse(&spec, argc, argv, first, e);
}

static void test_opts__defaults_are_parsed_like_input(void)
{
	struct err e = { 0 };
	unsetenv("R1FLOW_TEST_OPTS_RATE");
	s_json = true;
	s_set.n = 3;
	CHECK(parse(0, NULL, &e, (char *[]){ "p", NULL }) == OPTS_RUN);
	CHECK(strcmp(s_data, "./d") == 0 && strcmp(s_name, "") == 0);
	CHECK(s_n == 7 && s_rate == 0.5 && s_p == 1.0f && s_seed == 0 && s_colour == 1);
	CHECK(!s_json && s_set.n == 0);
}

static void test_opts__environment_replaces_the_default_and_argv_wins(void)
{
	struct err e = { 0 };
	setenv("R1FLOW_TEST_OPTS_RATE", "0.25", 1);
	CHECK(parse(0, NULL, &e, (char *[]){ "p", NULL }) == OPTS_RUN && s_rate == 0.25);
	CHECK(parse(0, NULL, &e, (char *[]){ "p", "--rate", "0.75", NULL }) == OPTS_RUN);
	CHECK(s_rate == 0.75);
	setenv("R1FLOW_TEST_OPTS_RATE", "2", 1);
	CHECK(opts_defaults(table, &e) < 0);
	CHECK_MSG(strcmp(e.msg, "environment variable 'R1FLOW_TEST_OPTS_RATE': option "
		"'--rate' must be a number from 0 to 1, not '2'") == 0, "%s", e.msg);
}

static void test_opts__every_spelling_sets_its_target(void)
{
	struct err e = { 0 };
	unsetenv("R1FLOW_TEST_OPTS_RATE");
	CHECK_MSG(parse(0, NULL, &e, (char *[]){ "p", "--data=x", "--name", "w1", "-n", "3",
		"--json", "--seed=18446744073709551615", "--colour", "blue", "-p0.5",
		"--set", "a=1", "--set=b=2", NULL }) == OPTS_RUN, "%s", e.msg);
	CHECK(strcmp(s_data, "x") == 0 && strcmp(s_name, "w1") == 0 && s_n == 3 && s_json);
	CHECK(s_seed == UINT64_MAX && s_colour == 2 && s_p == 0.5f);
	CHECK(s_set.n == 2 && strcmp(s_set.v[0], "a=1") == 0 && strcmp(s_set.v[1], "b=2") == 0);
	CHECK(parse(0, NULL, &e, (char *[]){ "p", "--n", "4", NULL }) == OPTS_RUN && s_n == 4);
}

static void test_opts__positional_arguments_go_last_in_order(void)
{
	struct err e = { 0 };
	char *argv[] = { "p", "a", "--n", "5", "b", "--json", "--", "--c", NULL };
	int first = -1;
	CHECK_MSG(parse(3, &first, &e, argv) == OPTS_RUN, "%s", e.msg);
	CHECK(first == 4 && s_n == 5 && s_json);
	CHECK(strcmp(argv[1], "--n") == 0 && strcmp(argv[2], "5") == 0);
	CHECK(strcmp(argv[4], "a") == 0 && strcmp(argv[5], "b") == 0);
	CHECK(strcmp(argv[6], "--c") == 0);
}

/* Each bad command line against the message it must give. */
static void test_opts__usage_errors_say_what_is_wrong(void)
{
	static const struct { const char *argv[4]; const char *msg; } cases[] = {
		{ { "--n", "0" }, "option '-n' must be an integer from 1 to 100, not '0'" },
		{ { "--n", "3x" }, "option '-n' must be an integer from 1 to 100, not '3x'" },
		{ { "--rate", "nan" }, "option '--rate' must be a number from 0 to 1, not 'nan'" },
		{ { "--seed", "-1" }, "option '--seed' must be an unsigned integer, not '-1'" },
		{ { "--colour", "pink" }, "option '--colour' must be red, green or blue, not 'pink'" },
		{ { "--data", "" }, "option '--data' needs a non-empty value" },
		{ { "--data" }, "option '--data' needs a value (DIR)" },
		{ { "--json=1" }, "option '--json' takes no value" },
		{ { "--help=1" }, "option '--help' takes no value" },
		{ { "--bogus=3" }, "unknown option '--bogus'" },
		{ { "-x" }, "unknown option '-x'" },
		{ { "a", "b" }, "too many arguments (at most 1)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *argv[6] = { "p" };
		for (int j = 0; cases[i].argv[j]; j++)
			argv[j + 1] = (char *)cases[i].argv[j];
		struct err e = { 0 };
		CHECK(parse(1, NULL, &e, argv) == -1);
		CHECK_MSG(strcmp(e.msg, cases[i].msg) == 0, "case %zu: %s", i, e.msg);
	}
}

static void test_opts__required_and_missing_arguments(void)
{
	const char *model = NULL;
	const struct opt req[] = {
		{ "model", OPT_STRING, &model, "DIR", .flags = OPT_REQUIRED, .help = "model" },
		{ NULL },
	};
	const struct opts_spec spec = { req, 1, 1, "FILE", false, true };
	struct err e = { 0 };
	CHECK(opts_parse(&spec, 2, (char *[]){ "p", "f", NULL }, NULL, &e) == -1);
	CHECK_MSG(strcmp(e.msg, "missing --model DIR") == 0, "%s", e.msg);
	CHECK(opts_parse(&spec, 3, (char *[]){ "p", "--model", "m", NULL }, NULL, &e) == -1);
	CHECK_MSG(strcmp(e.msg, "missing FILE") == 0, "%s", e.msg);
	CHECK(opts_parse(&spec, 2, (char *[]){ "p", "--version", NULL }, NULL, &e) == -1);
	CHECK(opts_parse(&spec, 3, (char *[]){ "p", "-h", "--bogus", NULL }, NULL, &e) == OPTS_HELP);
}

/* getopt_long's rule, kept for the CLI: a prefix shared by no other long name will do. */
static void test_opts__unique_prefixes_when_the_spec_allows_them(void)
{
	const char *model = NULL, *mode = NULL;
	const struct opt t[] = {
		{ "model", OPT_STRING, &model, "DIR", .help = "model" },
		{ "mode", OPT_STRING, &mode, "M", .help = "mode" },
		{ NULL },
	};
	struct opts_spec spec = { t, 0, 0, NULL, false, true };
	struct err e = { 0 };
	CHECK(opts_parse(&spec, 3, (char *[]){ "p", "--mode", "a", NULL }, NULL, &e) == OPTS_RUN);
	CHECK(opts_parse(&spec, 2, (char *[]){ "p", "--mode=b", NULL }, NULL, &e) == OPTS_RUN);
	CHECK(strcmp(mode, "b") == 0 && model == NULL); /* exact "mode", though "model" starts so */
	CHECK(opts_parse(&spec, 3, (char *[]){ "p", "--mod", "x", NULL }, NULL, &e) == -1);
	CHECK_MSG(strcmp(e.msg, "ambiguous option '--mod'") == 0, "%s", e.msg);
	CHECK(opts_parse(&spec, 2, (char *[]){ "p", "--he", NULL }, NULL, &e) == OPTS_HELP);
	const struct opt u[] = { { "model", OPT_STRING, &model, "DIR", .help = "m" }, { NULL } };
	spec.opts = u;
	CHECK(opts_parse(&spec, 3, (char *[]){ "p", "--mod", "y", NULL }, NULL, &e) == OPTS_RUN);
	CHECK(strcmp(model, "y") == 0);
	spec.abbrev = false;
	CHECK(opts_parse(&spec, 3, (char *[]){ "p", "--mod", "z", NULL }, NULL, &e) == -1);
	CHECK_MSG(strcmp(e.msg, "unknown option '--mod'") == 0, "%s", e.msg);
}

static void test_opts__help_and_version_are_built_in(void)
{
	struct err e = { 0 };
	CHECK(parse(0, NULL, &e, (char *[]){ "p", "--n", "3", "--help", NULL }) == OPTS_HELP);
	CHECK(parse(0, NULL, &e, (char *[]){ "p", "--version", NULL }) == OPTS_VERSION);
	CHECK(parse(0, NULL, &e, (char *[]){ "p", "--n", "0", "--help", NULL }) == -1);
}

static void test_opts__help_lines_show_defaults(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f);
	s_seed = 42; /* no dflt: the target's current value is the default shown */
	int w = opts_help(f, table, 0, 10);
	fclose(f);
	CHECK(w == 12); /* the longest, "--name NAME", plus one */
	CHECK_MSG(strstr(buf, "  --data DIR   data directory (default ./d)\n") != NULL, "%s", buf);
	CHECK(strstr(buf, "  --name NAME  a name\n") != NULL);
	CHECK(strstr(buf, "  -n N         count (default 7)\n") != NULL);
	CHECK(strstr(buf, "  --seed S     seed (default 42)\n") != NULL);
	CHECK(strstr(buf, "  --json       JSON output\n") != NULL);
	free(buf);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_opts__defaults_are_parsed_like_input),
		TEST(test_opts__environment_replaces_the_default_and_argv_wins),
		TEST(test_opts__every_spelling_sets_its_target),
		TEST(test_opts__positional_arguments_go_last_in_order),
		TEST(test_opts__usage_errors_say_what_is_wrong),
		TEST(test_opts__required_and_missing_arguments),
		TEST(test_opts__unique_prefixes_when_the_spec_allows_them),
		TEST(test_opts__help_and_version_are_built_in),
		TEST(test_opts__help_lines_show_defaults),
		{ 0 } });
}
