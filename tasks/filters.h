/*
 * filters — the rejection-sampling predicates of docs/rewards.md (DeepSeek-R1 §2.3.3), pure
 * functions of one completion (the same text the rewards read: what the model wrote
 * after "<think>", specials spelled out; see rewards.h). Each returns 1 when the
 * sample should be dropped. "Keep correct samples" is the accuracy or countdown
 * reward (== 1); duplicates are per prompt, so the caller compares filters_hash
 * values within a prompt's samples and keeps the first; the cap on kept samples per
 * prompt is the caller's too.
 *
 *   filters_mixed_language    language_consistency of the reasoning < 1: some code
 *                             point outside the alphabet, invalid UTF-8, or empty
 *                             reasoning (which scores 0)
 *   filters_overlong_line     some line of the reasoning (split on '\n') is longer
 *                             than max_bytes bytes
 *   filters_code_block        the completion contains "```" anywhere
 *   filters_hash              64-bit FNV-1a of the normalised completion: trailing
 *                             "<|eos|>", "<|pad|>" and whitespace removed, leading
 *                             whitespace removed, each run of ASCII whitespace inside
 *                             turned into one space. Stable across machines.
 */
#ifndef R1_FILTERS_H
#define R1_FILTERS_H

#include <stddef.h>
#include <stdint.h>

/* alphabet NULL: REWARDS_ALPHABET. */
int filters_mixed_language(const char *completion, size_t len, const char *alphabet);
int filters_overlong_line(const char *completion, size_t len, size_t max_bytes);
int filters_code_block(const char *completion, size_t len);
uint64_t filters_hash(const char *completion, size_t len);

#endif
