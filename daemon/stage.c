/* stage — the table of stage drivers (stage.h). */
#include "stage.h"

#include <string.h>

#include "daemon.h"

static const struct stage_driver *const drivers[] = {
	&stage_probe,
	&stage_pretrain,
	&stage_sft,
	&stage_eval,
	&stage_grpo,
	&stage_rejection_sample,
	&stage_merge,
};

const struct stage_driver *stage_driver_find(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof drivers / sizeof drivers[0]; i++)
		if (strcmp(drivers[i]->kind, kind) == 0)
			return drivers[i];
	return NULL;
}

int64_t stage_int(const struct stage_ctx *c, const char *key)
{
	return json_integer_value(json_object_get(c->spec, key));
}

double stage_num(const struct stage_ctx *c, const char *key)
{
	return json_number_value(json_object_get(c->spec, key));
}

int stage_dataset(struct stage_ctx *c, const char *key, int64_t *id, int64_t *n,
	struct err *err)
{
	const char *name = json_string_value(json_object_get(c->spec, key));
	int rc = store_dataset_find(c->d->store, c->pipeline->id, name ? name : "", id, n, err);
	if (rc < 0)
		return -1;
	if (rc == 0 || *n <= 0)
		return err_set(err, ERR_NOTFOUND, "dataset '%s' %s", name ? name : "",
			rc ? "is empty" : "does not exist (yet)");
	return 0;
}
