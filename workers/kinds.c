#include "kinds.h"

#include <string.h>

const struct job_kind job_kinds[] = {
	{ "probe", job_probe_run, "diagnostic: echo a payload, optionally sleep, fail or crash" },
	{ "rollout", job_rollout_run, "sample completions of prompts from a checkpoint" },
	{ "reward", job_reward_run, "score completions with the spec's reward functions" },
	{ "reject", job_reject_run, "rejection-sampling filters over scored samples" },
	{ "grad", job_grad_run, "gradient of a shard of sequences (cross-entropy or GRPO)" },
};

const size_t job_kind_count = sizeof job_kinds / sizeof job_kinds[0];

const struct job_kind *job_kind_find(const char *name)
{
	for (size_t i = 0; name && i < job_kind_count; i++)
		if (strcmp(job_kinds[i].name, name) == 0)
			return &job_kinds[i];
	return NULL;
}
