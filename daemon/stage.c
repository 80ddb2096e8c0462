/* stage — the table of stage drivers (stage.h). */
#include "stage.h"

#include <string.h>

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
