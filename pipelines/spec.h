/*
 * spec — the pipeline spec loader (docs/pipelines.md): YAML in, one normalised JSON object out.
 *
 *   json_t *spec = NULL;
 *   struct err e = { 0 };
 *   const char *sets[] = { "stages.zero.lr=1e-4" };
 *   if (spec_load_file("pipelines/r1.yaml", sets, 1, &spec, &e) < 0)
 *       fprintf(stderr, "%s\n", e.msg);   // "r1.yaml:12:7: stage 'zero': key 'lr': ..."
 *   ...
 *   json_decref(spec);
 *
 * Loading is: read (at most SPEC_MAX_BYTES) → YAML events → a private node tree
 * with the line and column of every node → `--set` overrides → validation against
 * the schema → the normalised spec. Nothing is opened but the spec file itself.
 *
 * The normalised spec is a jansson object whose keys come in schema order: version,
 * name, seed, model, datasets, rewards, template, stages. Every key a level can take
 * is present with its default filled in (kv_heads = heads, clip_high = clip, an sft
 * stage's template = the pipeline's, eval rewards = every reward, a merge seed = the
 * pipeline seed, `from: null` = the pipeline's model); keys of another kind are
 * absent (no `mix` unless style is corpus; `steps` or `epochs`, whichever was
 * given; a merge input has exactly one of `ratio` (1.0 if neither was given) and
 * `cap`). Number-valued keys are JSON reals, integer-valued keys JSON integers.
 * Relative `file:` and `checkpoint:` paths are made absolute against the spec
 * file's directory (against the working directory for spec_load_string). Each
 * stage also gets `"deps"`: the stages it waits for (from, needs, and the
 * producers of the datasets it reads), in stage-list order.
 *
 * Errors are one line in err->msg, git style:
 *
 *   FILE:LINE:COL: stage 'zero': key 'lrr': unknown key (did you mean 'lr'?)
 *   FILE:LINE:COL: dataset 'train': key 'count': expected an integer in [1, 10000000], got '0'
 *   FILE:LINE:COL: stage 'b': from: no stage named 'bse' (did you mean 'base'?)
 *   FILE:LINE:COL: stages: cycle: a -> b -> a
 *   --set stages.zero.lrr: stage 'zero': key 'lrr': unknown key (did you mean 'lr'?)
 *
 * LINE:COL (1-based) is where the offending node starts: the key of an unknown or
 * misplaced key, the value of a bad value, the mapping of a missing key. A node
 * that came from `--set` is named by its argument instead; spec_check_json's errors
 * have no position. Scopes: nothing for top-level keys, "model" keys as
 * 'model.config.dim', "dataset 'N'", "reward 'N'", "stage 'N'" (or "stages[I]" while
 * a stage has no valid name); nested keys as 'filters.correct', 'inputs[0].ratio'.
 *
 * YAML: one document whose root is a mapping. Plain scalars resolve as decimal
 * integers, floats (1e-4, 3.0, .5), true/false, null (~, null, empty), else strings;
 * quoted and block scalars are strings. A string-valued key also takes a plain
 * number or boolean as its text. Anchors, aliases and `<<` merge keys work. Refused:
 * input over SPEC_MAX_BYTES, collections nested deeper than SPEC_MAX_DEPTH, more than
 * SPEC_MAX_NODES nodes counting every copy an alias makes (so a billion-laughs file
 * fails at once), duplicate keys, more than one document, tags other than the
 * standard ones.
 *
 * `--set PATH=VALUE` (applied before validation): PATH is dot-separated mapping
 * keys; inside `stages` a component names a stage (or is a list index); missing
 * mappings on the way are created, but `stages.N`, `datasets.N` and `rewards.N`
 * must exist. VALUE is resolved like a plain YAML scalar.
 *
 * Thread safety: none needed; no global state.
 */
#ifndef R1_SPEC_H
#define R1_SPEC_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define SPEC_MAX_BYTES (1u << 20) /* a larger file or string is refused */
#define SPEC_MAX_DEPTH 32         /* nesting of mappings and lists */
#define SPEC_MAX_NODES 100000     /* nodes produced, alias copies included */

/*
 * Parse the YAML pipeline at `path`, apply the `n_sets` overrides "PATH=VALUE",
 * validate, fill defaults. On success returns 0 and *out is the normalised spec
 * (the caller owns it); on failure returns -1, *out is NULL and err says why.
 * Messages name `path` as given.
 */
int spec_load_file(const char *path, const char *const *sets, size_t n_sets, json_t **out,
	struct err *err);

/* The same for `len` bytes of YAML at `text`; `name` is shown as the file name. */
int spec_load_string(const char *text, size_t len, const char *name, const char *const *sets,
	size_t n_sets, json_t **out, struct err *err);

/*
 * Re-validate a normalised spec received as JSON (the daemon does this on submit).
 * Everything spec_load_* checks is checked again, and the spec must be normalised:
 * every key present, `deps` as computed, absolute paths. Returns 0, or -1 with an
 * error naming the stage and key but no line. `spec` is not modified.
 */
int spec_check_json(json_t *spec, struct err *err);

/*
 * The spec reference: every key of every level and kind, with its type, default
 * and range, as Markdown tables written from the schema tables (spec_reference.c;
 * `r1flow validate --reference` prints it and docs/pipelines.md embeds it). The
 * caller frees the text; NULL only when out of memory.
 */
char *spec_reference(void);

#endif
