#include "gen.h"

#include <stdio.h>
#include <string.h>

int gen_parse(const json_t *src, const char *name, struct gen *g, struct err *err)
{
	enum task_kind kind;
	const char *task = json_string_value(json_object_get(src, "generate"));
	const char *style = json_string_value(json_object_get(src, "style"));
	memset(g, 0, sizeof *g);
	if (task_parse(task, &kind, err) < 0)
		return err_wrap(err, "dataset '%s'", name);
	task_params_default(kind, &g->p);
	if (kind == TASK_ARITHMETIC) {
		g->p.digits = (int)json_integer_value(json_object_get(src, "digits"));
		snprintf(g->p.operators, sizeof g->p.operators, "%s",
			json_string_value(json_object_get(src, "operators")));
	} else {
		g->p.numbers = (int)json_integer_value(json_object_get(src, "numbers"));
		g->p.max_number = (int)json_integer_value(json_object_get(src, "max_number"));
	}
	int st = names_find(names_style, NAMES_STYLE_N, style);
	g->style = st < 0 ? TASK_STYLE_PROBLEM : (enum task_style)st;
	const json_t *mix = json_object_get(src, "mix");
	g->has_mix = mix != NULL;
	g->mix = (struct task_mix){
		json_number_value(json_object_get(mix, NAME_FORM_PLAIN)),
		json_number_value(json_object_get(mix, NAME_FORM_TAGGED)),
		json_number_value(json_object_get(mix, NAME_FORM_WORKED)),
	};
	g->count = json_integer_value(json_object_get(src, "count"));
	g->seed = (uint64_t)json_integer_value(json_object_get(src, "seed"));
	if (task_params_check(&g->p, err) < 0)
		return err_wrap(err, "dataset '%s'", name);
	return 0;
}

int gen_record(const struct gen *g, int64_t i, struct task_record *r, struct err *err)
{
	return task_record(&g->p, g->seed, (uint64_t)i, g->style, g->has_mix ? &g->mix : NULL,
		r, err);
}

const char *gen_response(const struct gen *g, const struct task_record *r)
{
	return g->style == TASK_STYLE_WORKED ? r->response : NULL;
}

const char *gen_text(const struct gen *g, const struct task_record *r)
{
	return g->style == TASK_STYLE_CORPUS ? r->text : NULL;
}
