#include "kinds.h"

#include <string.h>

const struct job_kind job_kinds[] = {
	{ "probe", job_probe_run, "diagnostic: echo a payload, optionally sleep, fail or crash" },
};

const size_t job_kind_count = sizeof job_kinds / sizeof job_kinds[0];

const struct job_kind *job_kind_find(const char *name)
{
	for (size_t i = 0; name && i < job_kind_count; i++)
		if (strcmp(job_kinds[i].name, name) == 0)
			return &job_kinds[i];
	return NULL;
}
