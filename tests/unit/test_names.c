/* names: the one name table — its names are the spec's format (pinned here: a rename
 * or a reorder changes what users write and the choices' default), its choice strings
 * agree with its arrays, and tasks/ parses and prints the same names. */
#include "names.h"
#include "rewards.h"
#include "tasks.h"
#include "test.h"

/* names[0..n) joined by '|' equals choices. */
static int joined(const char *choices, const char *const *names, int n)
{
	char buf[256] = "";
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(buf, "|");
		strcat(buf, names[i]);
	}
	return strcmp(buf, choices) == 0;
}

static void test_names__the_spec_format_is_pinned(void)
{
	CHECK(strcmp(NAMES_STAGE_CHOICES, "probe|pretrain|sft|grpo|rejection_sample|merge|eval") == 0);
	CHECK(strcmp(NAMES_TASK_CHOICES, "arithmetic|countdown") == 0);
	CHECK(strcmp(NAMES_STYLE_CHOICES, "problem|worked|corpus") == 0);
	CHECK(strcmp(NAMES_FORM_CHOICES, "plain|tagged|worked") == 0);
	CHECK(strcmp(NAMES_REWARD_CHOICES,
		"accuracy|countdown|think_answer_format|language_consistency|length|math|program|code") == 0);
	CHECK(strcmp(NAMES_EXTRACT_CHOICES, "answer_tag|boxed|hash|last_number") == 0);
}

static void test_names__choices_match_the_arrays(void)
{
	CHECK(joined(NAMES_STAGE_CHOICES, names_stage, NAMES_STAGE_N));
	CHECK(joined(NAMES_TASK_CHOICES, names_task, NAMES_TASK_N));
	CHECK(joined(NAMES_STYLE_CHOICES, names_style, NAMES_STYLE_N));
	CHECK(joined(NAMES_EXTRACT_CHOICES, names_extract, NAMES_EXTRACT_N));
	CHECK(joined(NAMES_FORM_CHOICES, names_form, NAMES_FORM_N));
	CHECK(joined(NAMES_REWARD_CHOICES, names_reward, NAMES_REWARD_N));
	CHECK(strcmp(names_stage[NAMEI_STAGE_REJECT], NAME_STAGE_REJECT) == 0);
	CHECK(strcmp(names_reward[NAMEI_REWARD_FORMAT], NAME_REWARD_FORMAT) == 0);
}

static void test_names__find_and_list(void)
{
	char buf[128];
	CHECK(names_find(names_reward, NAMES_REWARD_N, "length") == NAMEI_REWARD_LENGTH);
	CHECK(names_find(names_reward, NAMES_REWARD_N, "Length") == -1);
	CHECK(names_find(names_reward, NAMES_REWARD_N, NULL) == -1);
	CHECK(strcmp(names_list(buf, sizeof buf, names_task, NAMES_TASK_N),
		"arithmetic or countdown") == 0);
	CHECK(strcmp(names_list(buf, sizeof buf, names_style, NAMES_STYLE_N),
		"problem, worked or corpus") == 0);
	CHECK(strcmp(names_list(buf, sizeof buf, names_task, 1), "arithmetic") == 0);
	/* too small: whole names only, terminated, nothing past cap */
	memset(buf, 'x', sizeof buf);
	CHECK(strcmp(names_list(buf, 16, names_style, NAMES_STYLE_N), "problem, worked") == 0);
	CHECK(buf[16] == 'x');
}

static void test_names__tasks_use_the_table(void)
{
	struct err e = { 0 };
	for (int k = 0; k < NAMES_REWARD_N; k++) {
		enum rewards_kind kind;
		CHECK(rewards_kind_parse(names_reward[k], &kind, &e) == 0 && (int)kind == k);
		CHECK(strcmp(rewards_kind_name(kind), names_reward[k]) == 0);
	}
	for (int k = 0; k < NAMES_TASK_N; k++) {
		enum task_kind kind;
		CHECK(task_parse(names_task[k], &kind, &e) == 0 && (int)kind == k);
		CHECK(strcmp(task_name(kind), names_task[k]) == 0);
	}
	CHECK(task_parse("sudoku", &(enum task_kind){ 0 }, &e) == -1);
	CHECK(strstr(e.msg, "expected arithmetic or countdown") != NULL);
	CHECK((int)TASK_STYLE_CORPUS == (int)NAMEI_STYLE_CORPUS &&
	      (int)TASK_STYLE_WORKED == (int)NAMEI_STYLE_WORKED);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_names__the_spec_format_is_pinned),
		TEST(test_names__choices_match_the_arrays),
		TEST(test_names__find_and_list),
		TEST(test_names__tasks_use_the_table),
		{ 0 } });
}
