/*
 * stage_rl — what the stages that sample share (eval, grpo, rejection_sample):
 * rollout jobs over a list of prompt records and reward jobs over their results.
 *
 *   rl_enqueue_rollouts  rollout jobs (stage, step, shard first_shard + k), each
 *                        over `per_job` of the records, `samples` answers per
 *                        prompt; the prompt of record i is <bos> + the template
 *                        applied, its coin index i (generate.h), the key
 *                        (seed, stage, step)
 *   rl_enqueue_reward    the reward job scoring a done rollout job (same step and
 *                        shard): the named rewards of the pipeline plus the hidden
 *                        ones that say right (per the stage's `correct`) and
 *                        well-formed (verdict.h); each item
 *                        {prompt, completion, answer, tokens, record: the
 *                        record's keys from its file (tasks/fields.h) or null}
 *   rl_weights           the weights the stage samples from (stage_initial_weights;
 *                        fresh ones written as a blob) and their config text,
 *                        recorded as the stage's checkpoint step 0
 *   rl_prompt_tokens     <bos> + the template applied to a prompt (packing.h) into
 *                        ids[max_seq]; a prompt that leaves no room for the stage's
 *                        max_new_tokens within max_seq is an error naming the
 *                        record (submit refuses such specs; this is the last guard)
 *   rl_answer            the answer a majority vote compares: the text between
 *                        <answer> and </answer>, else the last non-blank line
 *                        ("#### 42" of a GSM8K-style solution), trimmed
 *   rl_advantages        the GRPO advantages of one group of rewards
 */
#ifndef R1_STAGE_RL_H
#define R1_STAGE_RL_H

#include <stddef.h>
#include <stdint.h>

#include "stage.h"

struct rl_sampling {
	int samples;              /* answers per prompt */
	double temperature;       /* 0: greedy */
	double top_p;
	int top_k;
	int max_new_tokens;
};

struct learner;
/* l: the learner whose weights (and adapters) sample, or NULL: weights sha256 */
int rl_enqueue_rollouts(struct stage_ctx *c, int64_t step, int64_t first_shard,
	int64_t dataset, const int64_t *records, int64_t n, int64_t per_job,
	const struct rl_sampling *s, const char *sha256, const char *config,
	const struct learner *l, struct err *err);

/* dataset_name: the dataset's name in the spec, which says its task; correct: the
 * stage's `correct` (NULL: none) */
int rl_enqueue_reward(struct stage_ctx *c, const struct store_job *rollout, int64_t dataset,
	const char *dataset_name, const json_t *reward_names, const char *correct,
	struct err *err);

/* from: the stage the weights come from (NULL: the pipeline's model) */
int rl_weights(struct stage_ctx *c, const char *from, char sha256[65], char **config,
	struct err *err);

struct model_config;
int rl_prompt_tokens(struct stage_ctx *c, const struct model_config *cfg, const char *prompt,
	int64_t record, int64_t max_new_tokens, int *ids, struct err *err);

void rl_answer(const char *text, char *buf, size_t size);

/*
 * The advantages of one group of n >= 1 rewards into adv[0..n): (r - mean) / (std +
 * 1e-4) with the population std, or r - mean when !scale (Dr. GRPO). Returns 1 when
 * the rewards are all equal (the group says nothing: each advantage is exactly 0,
 * and dynamic_sampling drops it), else 0. Equal means equal as doubles: a mean of
 * sixteen 0.1s is not 0.1, so a test on the variance would miss them.
 */
int rl_advantages(const double *reward, size_t n, int scale, double *adv);

#endif
