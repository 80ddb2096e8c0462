#include "names.h"

#include <string.h>

#define NAMES_STR_(l, id) NAME_##l##_##id,

const char *const names_stage[NAMES_STAGE_N] = { NAMES_STAGE(NAMES_STR_) };
const char *const names_task[NAMES_TASK_N] = { NAMES_TASK(NAMES_STR_) };
const char *const names_style[NAMES_STYLE_N] = { NAMES_STYLE(NAMES_STR_) };
const char *const names_form[NAMES_FORM_N] = { NAMES_FORM(NAMES_STR_) };
const char *const names_reward[NAMES_REWARD_N] = { NAMES_REWARD(NAMES_STR_) };
const char *const names_extract[NAMES_EXTRACT_N] = { NAMES_EXTRACT(NAMES_STR_) };

int names_find(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *names_list(char *buf, size_t cap, const char *const *names, int n)
{
	size_t len = 0;
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
		size_t a = strlen(sep), b = strlen(names[i]);
		if (len + a + b >= cap)
			break;
		memcpy(buf + len, sep, a);
		memcpy(buf + len + a, names[i], b);
		len += a + b;
		buf[len] = '\0';
	}
	return buf;
}
