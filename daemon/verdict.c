/* verdict — right and well-formed answers, hidden components, pass@k (verdict.h). */
#include "verdict.h"

#include <assert.h>
#include <string.h>

#include "names.h"

/* The reward named `correct` is read as it is: one of the stage's components whose
 * value >= 1 only when right (a well-formed wrong answer's credit is below 1). */
static int read_as_is(const json_t *pipeline_spec, const json_t *stage_rewards,
	const char *correct)
{
	const json_t *r = json_object_get(json_object_get(pipeline_spec, "rewards"), correct), *x;
	const json_t *credit = json_object_get(r, "format_credit");
	size_t i;
	int listed = 0;
	json_array_foreach(stage_rewards, i, x)
		listed |= json_is_string(x) && !strcmp(json_string_value(x), correct);
	if (!r || !listed)
		return 0;
	/* rewards.h: accuracy, countdown and math give 0.1 unless the spec says otherwise */
	return !names_reward_correct(json_string_value(json_object_get(r, "fn"))) ||
		!json_is_number(credit) || json_number_value(credit) < 1.0;
}

const char *verdict_key(const json_t *pipeline_spec, const json_t *stage_rewards,
	const char *correct)
{
	return correct && read_as_is(pipeline_spec, stage_rewards, correct) ? correct :
		VERDICT_CORRECT;
}

json_t *verdict_hidden(const json_t *pipeline_spec, const json_t *stage_rewards,
	const char *correct, const char *dataset)
{
	json_t *out = json_array(), *c = NULL;
	const json_t *r = correct ? json_object_get(json_object_get(pipeline_spec, "rewards"),
		correct) : NULL;
	if (!out)
		return NULL;
	if (r && read_as_is(pipeline_spec, stage_rewards, correct)) {
		/* the stage's own component says it */
	} else if (r) {
		c = json_deep_copy(r);
		if (!c || (names_reward_correct(json_string_value(json_object_get(r, "fn"))) &&
			json_object_set_new(c, "format_credit", json_real(0.0)) < 0))
			goto fail;
	} else {
		const char *task = json_string_value(json_object_get(json_object_get(json_object_get(
			pipeline_spec, "datasets"), dataset ? dataset : ""), "generate"));
		c = json_pack("{ss sf}", "fn", task && !strcmp(task, NAME_TASK_COUNTDOWN) ?
			NAME_REWARD_COUNTDOWN : NAME_REWARD_ACCURACY, "format_credit", 0.0);
		if (!c)
			goto fail;
	}
	if (c && (json_object_set_new(c, "name", json_string(VERDICT_CORRECT)) < 0 ||
		json_object_set_new(c, "weight", json_real(0.0)) < 0 ||
		json_array_append(out, c) < 0))
		goto fail;
	if (json_array_append_new(out, json_pack("{ss ss sf}", "name", VERDICT_FORMAT, "fn",
		NAME_REWARD_FORMAT, "weight", 0.0)) < 0)
		goto fail;
	json_decref(c);
	return out;
fail:
	json_decref(c);
	json_decref(out);
	return NULL;
}

int verdict_correct(const json_t *components, const char *key)
{
	return json_number_value(json_object_get(components, key)) >= 1.0;
}

int verdict_format(const json_t *components)
{
	return json_number_value(json_object_get(components, VERDICT_FORMAT)) >= 1.0;
}

json_t *verdict_public(const json_t *components)
{
	json_t *out = json_object(), *v;
	const char *name;
	json_object_foreach((json_t *)components, name, v)
		if (out && name[0] != VERDICT_HIDDEN && json_object_set(out, name, v) < 0) {
			json_decref(out);
			out = NULL;
		}
	return out;
}

double verdict_pass_at_k(int64_t n, int64_t c, int64_t k)
{
	assert(c >= 0 && c <= n && k >= 1 && k <= n);
	if (n - c < k) /* every draw of k holds a right one */
		return 1.0;
	double miss = 1.0;
	for (int64_t i = n - c + 1; i <= n; i++)
		miss *= 1.0 - (double)k / (double)i;
	return 1.0 - miss;
}
