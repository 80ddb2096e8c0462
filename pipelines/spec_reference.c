/*
 * spec_reference — the spec reference (Markdown), written from the key tables.
 *
 * docs/pipelines.md embeds this text between marker comments, and a test compares
 * the two, so the documented keys, types, defaults and ranges are the ones the
 * loader applies. Each level gets one table per kind (stage kind, dataset
 * generator, reward function), listing the rows of spec_keys.c that apply to that
 * kind, in table order. What a row cannot say (a key checked by code, a default
 * computed from other values) comes from the notes below, keyed by level and name;
 * a row without a note says so rather than inventing one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_keys.h"

struct note {
	const char *level;  /* "top", "model", "config", "dataset", "mix", "reward", "stage",
	                       "chat_template", "filters", "input", "fields", "answer" */
	const char *name;
	const char *type;   /* replaces the type column of a KT_CUSTOM row */
	const char *def;    /* replaces the default column of a row that is not required */
	const char *what;   /* the notes column */
};

static const struct note notes[] = {
	{ "top", "version", "integer: 1", NULL, NULL },
	{ "top", "model", "mapping", NULL, "see `model`" },
	{ "top", "datasets", "mapping of name to dataset", "none", "names `[a-z0-9_]{1,32}`" },
	{ "top", "rewards", "mapping of name to reward", "none", "names `[a-z0-9_]{1,32}`" },
	{ "top", "template", NULL, NULL, "what a prompt becomes before the model sees it" },
	{ "top", "stages", "non-empty list of stages", NULL, "run as their dependencies allow" },
	{ "model", "config", NULL, NULL, "source: fresh weights of this shape" },
	{ "model", "checkpoint", NULL, NULL, "source: config.json + model.safetensors or shards (model.safetensors.index.json)" },
	{ "model", "pipeline", NULL, NULL, "source: a pipeline's name, with `stage`" },
	{ "model", "stage", NULL, NULL, "that pipeline's stage" },
	{ "model", "tokenizer", NULL, "the checkpoint's, else bytes",
	  "a tokenizer.json or a directory with one" },
	{ "config", "kv_heads", NULL, "= heads", "a divisor of heads" },
	{ "config", "dim", NULL, NULL, "a multiple of heads; dim / heads even (unless `head_dim` is given)" },
	{ "config", "max_seq", NULL, NULL, "the context: prompts and examples must fit" },
	{ "config", "vocab", NULL, NULL, "bytes: ids 0-255, then 7 special tokens; with "
	  "`model.tokenizer`, the tokenizer's size" },
	{ "config", "architecture", NULL, NULL, "the Hugging Face model_type: qwen2 adds q/k/v "
	  "biases, qwen3 a per-head RMSNorm of q and k; mistral is llama's network" },
	{ "config", "head_dim", NULL, "= dim / heads", "even; given, dim need not be heads x head_dim" },
	{ "dataset", "mix", NULL, "0.35, 0.35, 0.3", "style `corpus` only; sums to 1" },
	{ "dataset", "operators", NULL, NULL, "some of `+-*`, each at most once" },
	{ "dataset", "seed", NULL, NULL, "generator seed, independent of the pipeline's" },
	{ "dataset", "fields", NULL, "none: the keys' own names", "the file's key (CSV: column) per field; "
	  "see `fields` and docs/data.md" },
	{ "dataset", "answer", NULL, "none: the answer as it is", "cut the answer out of a field; see "
	  "`answer`" },
	{ "dataset", "csv", NULL, "a name ending in .csv", "the file is CSV with a header row" },
	{ "fields", "id", NULL, "none", "kept in the record rewards receive" },
	{ "answer", "field", NULL, "fields.answer, else `answer`", "the key to cut the answer from" },
	{ "answer", "after", NULL, "none", "the answer is what follows the last occurrence" },
	{ "answer", "regex", NULL, "none", "PCRE2; its group 1, else the whole first match" },
	{ "mix", NAME_FORM_PLAIN, NULL, NULL, "share of bare `a+b=c` documents" },
	{ "mix", NAME_FORM_TAGGED, NULL, NULL, "share of tagged answers without reasoning" },
	{ "mix", NAME_FORM_WORKED, NULL, NULL, "share of tagged worked solutions" },
	{ "reward", "max_tokens", NULL, NULL, "penalised past max_tokens - buffer" },
	{ "reward", "format_credit", NULL, NULL, "the value of an answer in the right form but "
	  "wrong" },
	{ "reward", "extract", "list of `answer_tag`, `boxed`, `hash`, `last_number`",
	  "all four, in this order", "tried in order, the first answer found is compared" },
	{ "reward", "program", "non-empty list of texts", NULL,
	  "the command and its arguments, run in the directory of `files` (docs/rewards.md)" },
	{ "reward", "files", "list of paths", "none",
	  "files and directories (relative to the spec file) copied to the program's directory; stored with the pipeline at submit" },
	{ "reward", "timeout_ms", NULL, NULL, "per reply (program) or per test (code)" },
	{ "reward", "start_timeout_ms", NULL, NULL, "added to timeout_ms for the first reply after the program starts" },
	{ "reward", "memory_mb", NULL, NULL, "the process's address space (RLIMIT_AS)" },
	{ "reward", "mode", NULL, NULL, "fraction: share of tests passed; all: 1 only if all pass" },
	{ "stage", "name", "name", NULL, "`[a-z0-9_]{1,32}`, unique" },
	{ "stage", "from", "stage name or null", "null: the pipeline's model",
	  "the stage whose final weights this one starts from" },
	{ "stage", "needs", "list of stage names", "none", "also wait for these" },
	{ "stage", "dataset", "dataset name", "eval: this or `datasets`",
	  "in `datasets`, or a stage's `output`" },
	{ "stage", "prompts", "dataset name", NULL, "in `datasets`, or a stage's `output`" },
	{ "stage", "datasets", "list of dataset names", "none", "eval: instead of `dataset`, "
	  "metrics per dataset too" },
	{ "stage", "correct", "reward name or null", "the stage's first accuracy-type reward",
	  "the reward whose value >= 1 marks an answer right (rewards.md); null: exact match, "
	  "countdown on a countdown dataset" },
	{ "stage", "pass_at", "list of integers", "[samples]", "pass@k and avg@k for each k, "
	  "1 <= k <= samples" },
	{ "stage", "inputs", "list of merge inputs", NULL, "see `inputs[]`" },
	{ "stage", "output", "new dataset name", NULL, "`[a-z0-9_]{1,32}`" },
	{ "stage", "rewards", "list of reward names", "every reward", NULL },
	{ "stage", "template", NULL, "the pipeline's template", NULL },
	{ "stage", "chat_format", NULL, "none: the template", "renders `messages` records; not with "
	  "`chat_template`" },
	{ "stage", "chat_template", NULL, "none: the template", "role templates for `messages` "
	  "records; see `chat_template`" },
	{ "stage", "steps", NULL, "steps or epochs", NULL },
	{ "stage", "epochs", NULL, "steps or epochs", NULL },
	{ "stage", "fail", NULL, NULL, "at most jobs" },
	{ "stage", "clip_high", NULL, "= clip", NULL },
	{ "stage", "ref_refresh", NULL, NULL, "0: never" },
	{ "stage", "top_k", NULL, NULL, "0: off" },
	{ "stage", "samples", NULL, NULL, "eval: besides the greedy one" },
	{ "stage", "limit", NULL, NULL, "0: every record" },
	{ "stage", "seed", NULL, "the pipeline's seed", NULL },
	{ "stage", "deps", "list of stage names", "computed", "normalised spec only" },
	{ "chat_template", "assistant", NULL, NULL, "trained from `{content}` on" },
	{ "chat_template", "prefix", NULL, "none", "before the first message, not trained" },
	{ "filters", "max_paragraph", NULL, NULL, "0: off" },
	{ "filters", "max_per_prompt", NULL, NULL, "0: no cap" },
	{ "input", "dataset", "dataset name", NULL, NULL },
	{ "input", "ratio", NULL, "1 if neither is given", "exactly one of ratio and cap" },
	{ "input", "cap", NULL, NULL, "exactly one of ratio and cap" },
};

static const struct note *note_of(const char *level, const char *name)
{
	for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
		if (!strcmp(notes[i].level, level) && !strcmp(notes[i].name, name))
			return &notes[i];
	return NULL;
}

static void num(FILE *f, double x)
{
	if (isinf(x))
		fputs(x > 0 ? "∞" : "-∞", f);
	else
		fprintf(f, "%.15g", x);
}

static const char *type_name(const struct key *k)
{
	switch (k->type) {
	case KT_INT: return "integer";
	case KT_NUM: return "number";
	case KT_BOOL: return "boolean";
	case KT_STR: return "string";
	case KT_ENUM: return "one of";
	case KT_NAME: return "name";
	case KT_PNAME: return "pipeline name";
	case KT_TEMPLATE: return "template";
	case KT_ROLE: return "role template";
	case KT_PATH: return "path";
	case KT_OBJ: return "mapping";
	case KT_CUSTOM: return "(checked by code)";
	}
	return "?";
}

/* A choice list "a|b|c" as `a`, `b`, `c`. */
static void choices(FILE *f, const char *list)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, "|");
		fprintf(f, "%s`%.*s`", p == list ? "" : ", ", (int)n, p);
		p += n + (p[n] == '|');
	}
}

static void range(FILE *f, const struct key *k)
{
	switch (k->type) {
	case KT_INT:
		fputc('[', f);
		num(f, k->lo);
		fputs(", ", f);
		num(f, k->hi);
		fputc(']', f);
		break;
	case KT_NUM:
		fputc((k->flags & K_LO_OPEN) || isinf(k->lo) ? '(' : '[', f);
		num(f, k->lo);
		fputs(", ", f);
		num(f, k->hi);
		fputc((k->flags & K_HI_OPEN) || isinf(k->hi) ? ')' : ']', f);
		break;
	case KT_ENUM: choices(f, k->str); break;
	case KT_STR: fputs(k->flags & K_NONEMPTY ? "not empty" : "", f); break;
	case KT_NAME: fputs("`[a-z0-9_]{1,32}`", f); break;
	case KT_PNAME: fputs("`[A-Za-z0-9_.-]{1,64}`", f); break;
	case KT_TEMPLATE: fputs("contains `{prompt}`", f); break;
	case KT_ROLE: fputs("contains `{content}` once", f); break;
	case KT_PATH: fputs("relative to the spec file", f); break;
	default: break;
	}
}

/* Text with '\n' as the two characters "\n" and '|' escaped, for a table cell. */
static void cell(FILE *f, const char *s)
{
	fputc('`', f);
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s, f);
	}
	fputc('`', f);
}

static void deflt(FILE *f, const char *level, const struct key *k)
{
	const struct note *n = note_of(level, k->name);
	if (k->flags & K_REQ) {
		fputs("required", f);
		return;
	}
	if (n && n->def) {
		fputs(n->def, f);
		return;
	}
	if (k->flags & K_DYN) {
		fputs("computed", f);
		return;
	}
	if (k->flags & K_OPT) {
		fputs("optional", f);
		return;
	}
	switch (k->type) {
	case KT_INT:
	case KT_NUM:
		fputc('`', f);
		num(f, k->def);
		fputc('`', f);
		break;
	case KT_BOOL: fputs(k->def != 0 ? "`true`" : "`false`", f); break;
	case KT_ENUM: fprintf(f, "`%.*s`", (int)strcspn(k->str, "|"), k->str); break;
	case KT_STR:
	case KT_TEMPLATE:
		if (k->str)
			cell(f, k->str);
		else
			fputs("optional", f);
		break;
	case KT_OBJ: fputs("all defaults", f); break;
	default: fputs("optional", f); break;
	}
}

/* The rows of `t` that apply to `kind` (0: every row) as a table, but `skip` (the
 * key that chose the kind). */
static void table(FILE *f, const char *level, const struct key *t, unsigned kind,
	const char *skip)
{
	fputs("| key | type | default | range | notes |\n|---|---|---|---|---|\n", f);
	for (const struct key *k = t; k->name; k++) {
		if ((kind && k->kinds && !(k->kinds & kind)) || (skip && !strcmp(k->name, skip)))
			continue;
		const struct note *n = note_of(level, k->name);
		fprintf(f, "| `%s` | ", k->name);
		if (k->type == KT_CUSTOM)
			fputs(n && n->type ? n->type : type_name(k), f);
		else
			fputs(type_name(k), f);
		fputs(" | ", f);
		deflt(f, level, k);
		fputs(" | ", f);
		range(f, k);
		fprintf(f, " | %s |\n", n && n->what ? n->what : "");
	}
	fputc('\n', f);
}

/* The choices of the ENUM row `name` in `t`, for naming kinds by their bits. */
static const char *choices_of(const struct key *t, const char *name)
{
	for (const struct key *k = t; k->name; k++)
		if (k->type == KT_ENUM && !strcmp(k->name, name))
			return k->str;
	return "";
}

/* One table per kind named by the choices `list` (bit i = choice i); `selector` is
 * the key whose value names the kind. */
static void per_kind(FILE *f, const char *selector, const char *level, const struct key *t,
	const char *list)
{
	unsigned bit = 1;
	for (const char *p = list; *p; bit <<= 1) {
		size_t n = strcspn(p, "|");
		fprintf(f, "#### `%s: %.*s`\n\n", selector, (int)n, p);
		table(f, level, t, bit, selector);
		p += n + (p[n] == '|');
	}
}

/* The nested table of the OBJ row `name` in `t`. */
static const struct key *sub_of(const struct key *t, const char *name)
{
	for (const struct key *k = t; k->name; k++)
		if (k->type == KT_OBJ && !strcmp(k->name, name))
			return k->sub;
	return NULL;
}

char *spec_reference(void)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	fputs("<!-- generated by 'r1flow validate --reference' from pipelines/spec_keys.c -->\n\n",
		f);
	fputs("### Top level\n\n", f);
	table(f, "top", spec_top_keys, 0, NULL);

	fputs("### `model`\n\nExactly one source: `config` (fresh weights), `checkpoint` (a "
		"Hugging Face model directory) or `pipeline` with `stage` (the final weights of "
		"another pipeline's stage); the keys of the chosen source are required.\n\n", f);
	table(f, "model", spec_model_keys, 0, NULL);
	fputs("#### `model.config`\n\n", f);
	table(f, "config", sub_of(spec_model_keys, "config"), 0, NULL);

	fputs("### `datasets.NAME`\n\nA dataset has either `generate` or `file`.\n\n", f);
	per_kind(f, "generate", "dataset", spec_dataset_keys,
		choices_of(spec_dataset_keys, "generate"));
	fputs("#### `file: PATH`\n\n", f);
	table(f, "dataset", spec_dataset_keys, DK_FILE, NULL);
	fputs("#### `fields` (file only)\n\nEach field reads the file's key named here (default: "
		"the field's own name); a record lacking a mapped key is an error.\n\n", f);
	table(f, "fields", sub_of(spec_dataset_keys, "fields"), 0, NULL);
	fputs("#### `answer` (file only)\n\nExactly one of `after` and `regex`.\n\n", f);
	table(f, "answer", sub_of(spec_dataset_keys, "answer"), 0, NULL);
	fputs("#### `mix` (style `corpus` only)\n\n", f);
	table(f, "mix", sub_of(spec_dataset_keys, "mix"), 0, NULL);

	fputs("### `rewards.NAME`\n\n", f);
	per_kind(f, "fn", "reward", spec_reward_keys, choices_of(spec_reward_keys, "fn"));

	fputs("### `stages[]`\n\nEvery stage has `name` and `kind`.\n\n", f);
	per_kind(f, "kind", "stage", spec_stage_keys, choices_of(spec_stage_keys, "kind"));
	fputs("#### `chat_template` (sft)\n\n", f);
	table(f, "chat_template", sub_of(spec_stage_keys, "chat_template"), 0, NULL);
	fputs("#### `filters` (rejection_sample)\n\n", f);
	table(f, "filters", sub_of(spec_stage_keys, "filters"), 0, NULL);
	fputs("#### `inputs[]` (merge)\n\n", f);
	table(f, "input", spec_input_keys, 0, NULL);

	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
