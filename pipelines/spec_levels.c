/*
 * spec_levels — the top level, the model, datasets and rewards: what their tables
 * cannot say (exactly one model source, dim, heads and head_dim, exactly one of
 * generate, file and shared, operators, the corpus mix, a reward's function choosing
 * its keys), and the entry point that runs every level in order (spec_check_tree).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_check.h"

/* ---- model ---- */

/* The head width: given, it frees dim from being heads x head_dim (Qwen3 models are
 * not); absent, it is dim / heads, which must then divide evenly. */
static int check_head_dim(struct v *v, const struct snode *cn, json_t *cfg)
{
	char g[80];
	long long dim = spec_jint(cfg, "dim"), heads = spec_jint(cfg, "heads");
	const struct snode *dn = snode_get(cn, "dim"), *hn = snode_get(cn, "heads");
	const struct snode *hdn = snode_get(cn, "head_dim");
	if (!json_is_null(json_object_get(cfg, "head_dim"))) {
		long long hd = spec_jint(cfg, "head_dim");
		if (hd % 2 != 0)
			return spec_fail(v, hdn ? hdn : cn, NULL, "model.config.head_dim",
				"expected an even number (rope), got %lld", hd);
		if (heads * hd > 1 << 24)
			return spec_fail(v, hdn ? hdn : cn, NULL, "model.config.head_dim",
				"heads x head_dim must be at most %d, got %lld x %lld", 1 << 24, heads, hd);
		return 0;
	}
	if (dim % heads != 0) {
		if (dn)
			return spec_fail(v, dn, NULL, "model.config.dim", "expected a multiple of heads (%lld), got %s",
				heads, spec_got(dn, g, sizeof g));
		return spec_fail(v, hn, NULL, "model.config.heads", "expected a divisor of dim (%lld), got %s",
			dim, spec_got(hn, g, sizeof g));
	}
	if ((dim / heads) % 2 != 0)
		return spec_fail(v, dn ? dn : hn ? hn : cn, NULL, dn ? "model.config.dim" : "model.config.heads",
			"dim / heads must be even (rope), got %lld / %lld", dim, heads);
	return json_object_set_new(cfg, "head_dim", json_integer(dim / heads)) < 0 ? spec_nomem(v) : 0;
}

static int check_model_config(struct v *v, const struct snode *cn, json_t *cfg)
{
	char g[80];
	long long heads = spec_jint(cfg, "heads");
	const struct snode *kvn = snode_get(cn, "kv_heads");
	if (json_is_null(json_object_get(cfg, "kv_heads")))
		json_object_set_new(cfg, "kv_heads", json_integer(heads));
	long long kv = spec_jint(cfg, "kv_heads");
	if (check_head_dim(v, cn, cfg) < 0)
		return -1;
	if (heads % kv != 0)
		return spec_fail(v, kvn, NULL, "model.config.kv_heads", "expected a divisor of heads (%lld), got %s",
			heads, spec_got(kvn, g, sizeof g));
	return 0;
}

static int spec_check_model(struct v *v, const struct snode *mn)
{
	static const char *const sel[] = { "config", "checkpoint", "pipeline" };
	static const char *const desc[] = { "config models", "checkpoint models", "pipeline models" };
	char g[80], kp[64];
	if (mn->type != SNODE_MAP)
		return spec_fail(v, mn, NULL, "model", "expected a mapping, got %s", spec_got(mn, g, sizeof g));
	if (spec_keys_known(v, mn, spec_model_keys, 0, NULL, "model.") < 0)
		return -1;
	int chosen = -1;
	for (size_t k = 0; k < mn->n; k++) {
		const struct snode *kn = mn->items[2 * k];
		for (int s = 0; s < 3; s++) {
			if (kn->len != strlen(sel[s]) || memcmp(kn->text, sel[s], kn->len) != 0)
				continue;
			if (chosen >= 0) {
				snprintf(kp, sizeof kp, "model.%s", sel[s]);
				return spec_fail(v, kn, NULL, kp, "cannot be combined with '%s'", sel[chosen]);
			}
			chosen = s;
		}
	}
	if (chosen < 0)
		return spec_fail(v, mn, NULL, "model", "expected one of 'config', 'checkpoint' or 'pipeline'");
	unsigned kind = 1u << chosen;
	json_t *m = json_object();
	if (!m || json_object_set_new(v->top, "model", m) < 0)
		return spec_nomem(v);
	if (spec_keys_kind(v, mn, spec_model_keys, kind, desc[chosen], NULL, "model.") < 0 ||
	    spec_fill(v, mn, spec_model_keys, kind, NULL, "model.", m) < 0)
		return -1;
	if (kind == MK_CONFIG)
		return check_model_config(v, snode_get(mn, "config"), json_object_get(m, "config"));
	return 0;
}

/* ---- datasets and rewards ---- */

static int check_generated(struct v *v, const struct snode *dn, unsigned kind, const char *scope,
	json_t *d)
{
	char g[80];
	if (kind == DK_ARITHMETIC) {
		const char *ops = json_string_value(json_object_get(d, "operators"));
		size_t n = json_string_length(json_object_get(d, "operators"));
		bool ok = true;
		for (size_t i = 0; i < n && ok; i++)
			ok = ops[i] && strchr("+-*", ops[i]) && !memchr(ops, ops[i], i);
		if (!ok) {
			const struct snode *on = snode_get(dn, "operators");
			return spec_fail(v, on, scope, "operators",
				"expected some of '+', '-' and '*', each at most once, got %s", spec_got(on, g, sizeof g));
		}
	}
	bool corpus = strcmp(json_string_value(json_object_get(d, "style")), NAME_STYLE_CORPUS) == 0;
	json_t *mix = json_object_get(d, "mix");
	const struct snode *mn = snode_get(dn, "mix");
	if (!corpus && mn)
		return spec_fail(v, spec_key_node(dn, "mix", NULL), scope, "mix", "only valid with style 'corpus'");
	if (!corpus)
		return 0;
	if (!mix) {
		if (v->c->json_mode)
			return spec_fail(v, dn, scope, "mix", "missing from a normalised spec");
		mix = json_pack("{s:f, s:f, s:f}", NAME_FORM_PLAIN, 0.35, NAME_FORM_TAGGED, 0.35,
			NAME_FORM_WORKED, 0.3);
		if (!mix || json_object_set_new(d, "mix", mix) < 0)
			return spec_nomem(v);
		return 0;
	}
	double sum = 0;
	for (int i = 0; i < NAMES_FORM_N; i++)
		sum += json_real_value(json_object_get(mix, names_form[i]));
	if (fabs(sum - 1.0) > 1e-6)
		return spec_fail(v, mn, scope, "mix", "probabilities must sum to 1, got %.10g", sum);
	return 0;
}

static int spec_check_dataset(struct v *v, const struct snode *kn, const struct snode *dn, json_t *all)
{
	char scope[120], q[80], g[80], desc[64];
	snprintf(scope, sizeof scope, "dataset %s", spec_quote(q, sizeof q, kn->text, kn->len));
	if (!spec_name_ok(kn->text, kn->len, false))
		return spec_fail(v, kn, scope, NULL, "invalid name (expected [a-z0-9_]{1,32})");
	if (dn->type != SNODE_MAP)
		return spec_fail(v, dn, scope, NULL, "expected a mapping, got %s", spec_got(dn, g, sizeof g));
	int gen = spec_enum_peek(v, dn, spec_dataset_keys, "generate");
	size_t gi = 0, fi = 0;
	size_t si = 0;
	const struct snode *gk = spec_key_node(dn, "generate", &gi), *fk = spec_key_node(dn, "file", &fi);
	const struct snode *sk = spec_key_node(dn, "shared", &si);
	unsigned kind = gen >= 0 ? 1u << gen : !gk && fk ? DK_FILE : !gk && sk ? DK_SHARED : 0;
	if (spec_keys_known(v, dn, spec_dataset_keys, kind, scope, "") < 0)
		return -1;
	/* the sources exclude each other: the later key of a pair is the error */
	const struct { const struct snode *k; size_t at; const char *name; } src[] = {
		{ gk, gi, "generate" }, { fk, fi, "file" }, { sk, si, "shared" },
	};
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			if (a != b && src[a].k && src[b].k && src[a].at < src[b].at) {
				char msg[64];
				snprintf(msg, sizeof msg, "cannot be combined with '%s'", src[a].name);
				return spec_fail(v, src[b].k, scope, src[b].name, "%s", msg);
			}
	if (!gk && !fk && !sk)
		return spec_fail(v, dn, scope, NULL, "expected a 'generate', a 'file' or a 'shared' key "
			"(a dataset imported with 'r1flow dataset import')");
	if (gk) {
		json_t *j = spec_value(v, spec_row(spec_dataset_keys, "generate"), snode_get(dn, "generate"),
			scope, "generate");
		if (!j)
			return -1;
		json_decref(j);
	}
	json_t *d = json_object();
	if (!d || json_object_set_new(all, kn->text, d) < 0)
		return spec_nomem(v);
	if (gk)
		snprintf(desc, sizeof desc, "%s datasets", names_task[gen]);
	else
		snprintf(desc, sizeof desc, "%s datasets", fk ? "file" : "shared");
	if (spec_keys_kind(v, dn, spec_dataset_keys, kind, desc, scope, "") < 0 ||
	    spec_fill(v, dn, spec_dataset_keys, kind, scope, "", d) < 0)
		return -1;
	return kind & DK_GENERATE ? check_generated(v, dn, kind, scope, d) : 0;
}

/* math's extract: a non-empty list of distinct steps (names.h); absent, all in order. */
static int check_extract(struct v *v, const struct snode *rn, const char *scope, json_t *r)
{
	char g[80], kp[40], all[80];
	const struct snode *n = snode_get(rn, "extract");
	json_t *list = json_array();
	if (!list || json_object_set_new(r, "extract", list) < 0)
		return spec_nomem(v);
	names_list(all, sizeof all, names_extract, NAMES_EXTRACT_N);
	if (!n) {
		for (int i = 0; i < NAMES_EXTRACT_N; i++)
			if (json_array_append_new(list, json_string(names_extract[i])) < 0)
				return spec_nomem(v);
		return 0;
	}
	if (n->type != SNODE_SEQ || n->n == 0)
		return spec_fail(v, n, scope, "extract", "expected a non-empty list of %s, got %s", all,
			spec_got(n, g, sizeof g));
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		int k = it->type == SNODE_STR ? names_find(names_extract, NAMES_EXTRACT_N, it->text) : -1;
		snprintf(kp, sizeof kp, "extract[%zu]", i);
		if (k < 0)
			return spec_fail(v, it, scope, kp, "expected %s, got %s", all, spec_got(it, g, sizeof g));
		for (size_t j = 0; j < i; j++)
			if (!strcmp(n->items[j]->text, it->text))
				return spec_fail(v, it, scope, kp, "'%s' is also extract[%zu]", it->text, j);
		if (json_array_append_new(list, json_string(names_extract[k])) < 0)
			return spec_nomem(v);
	}
	return 0;
}

/* A program reward's program (texts) and files (paths, made absolute). */
static int check_reward_program(struct v *v, const struct snode *rn, const char *scope, json_t *r)
{
	static const struct key path_row = { "files", KT_PATH, 0, 0, 0, 0, 0, NULL, NULL };
	const struct snode *pn = snode_get(rn, "program"), *fn = snode_get(rn, "files");
	char g[80], kp[48];
	json_t *argv = json_array(), *files = json_array();
	if (!argv || json_object_set_new(r, "program", argv) < 0 || !files ||
	    json_object_set_new(r, "files", files) < 0)
		return spec_nomem(v);
	if (pn->type != SNODE_SEQ || pn->n == 0 || pn->n > 64)
		return spec_fail(v, pn, scope, "program", "expected a list of 1 to 64 texts (the command "
			"and its arguments), got %s", spec_got(pn, g, sizeof g));
	for (size_t i = 0; i < pn->n; i++) {
		const struct snode *a = pn->items[i];
		snprintf(kp, sizeof kp, "program[%zu]", i);
		if (!spec_ref_ok(v, a) || a->len == 0 || memchr(a->text, '\0', a->len))
			return spec_fail(v, a, scope, kp, "expected a non-empty text, got %s",
				spec_got(a, g, sizeof g));
		json_t *j = spec_jstr(v, a->text, a->len);
		if (!j || json_array_append_new(argv, j) < 0)
			return spec_nomem(v);
	}
	if (!fn || fn->type == SNODE_NULL)
		return 0;
	if (fn->type != SNODE_SEQ)
		return spec_fail(v, fn, scope, "files", "expected a list of paths, got %s",
			spec_got(fn, g, sizeof g));
	for (size_t i = 0; i < fn->n; i++) {
		snprintf(kp, sizeof kp, "files[%zu]", i);
		json_t *j = spec_value(v, &path_row, fn->items[i], scope, kp);
		if (!j || json_array_append_new(files, j) < 0)
			return j ? spec_nomem(v) : -1;
	}
	return 0;
}

static int spec_check_reward(struct v *v, const struct snode *kn, const struct snode *rn, json_t *all)
{
	char scope[120], q[80], g[80], desc[64];
	snprintf(scope, sizeof scope, "reward %s", spec_quote(q, sizeof q, kn->text, kn->len));
	if (!spec_name_ok(kn->text, kn->len, false))
		return spec_fail(v, kn, scope, NULL, "invalid name (expected [a-z0-9_]{1,32})");
	if (rn->type != SNODE_MAP)
		return spec_fail(v, rn, scope, NULL, "expected a mapping, got %s", spec_got(rn, g, sizeof g));
	int fn = spec_enum_peek(v, rn, spec_reward_keys, "fn");
	const struct snode *fnn = snode_get(rn, "fn");
	if (!fnn && snode_get(rn, "program")) /* `program:` alone names its function */
		fn = NAMEI_REWARD_PROGRAM;
	if (spec_keys_known(v, rn, spec_reward_keys, fn >= 0 ? 1u << fn : 0, scope, "") < 0)
		return -1;
	if (!fnn && fn < 0)
		return spec_fail(v, rn, scope, NULL, "missing required key 'fn'");
	if (fn < 0) {
		json_t *j = spec_value(v, spec_row(spec_reward_keys, "fn"), fnn, scope, "fn");
		json_decref(j);
		return -1;
	}
	json_t *r = json_object();
	if (!r || json_object_set_new(all, kn->text, r) < 0)
		return spec_nomem(v);
	if (!fnn && json_object_set_new(r, "fn", json_string(names_reward[fn])) < 0)
		return spec_nomem(v);
	snprintf(desc, sizeof desc, "%s rewards", names_reward[fn]);
	if (spec_keys_kind(v, rn, spec_reward_keys, 1u << fn, desc, scope, "") < 0 ||
	    spec_fill(v, rn, spec_reward_keys, 1u << fn, scope, "", r) < 0)
		return -1;
	if (fn == NAMEI_REWARD_MATH)
		return check_extract(v, rn, scope, r);
	return fn == NAMEI_REWARD_PROGRAM ? check_reward_program(v, rn, scope, r) : 0;
}

/* datasets or rewards: a mapping of name → definition (absent: empty). */
static int spec_check_named(struct v *v, const struct snode *n, const char *key, const char *what,
	int (*one)(struct v *, const struct snode *, const struct snode *, json_t *))
{
	char g[80];
	json_t *all = json_object();
	if (!all || json_object_set_new(v->top, key, all) < 0)
		return spec_nomem(v);
	if (!n)
		return 0;
	if (n->type != SNODE_MAP)
		return spec_fail(v, n, NULL, key, "expected a mapping, got %s", spec_got(n, g, sizeof g));
	if (spec_dup_check(v, n, NULL, "", what) < 0)
		return -1;
	for (size_t k = 0; k < n->n; k++)
		if (one(v, n->items[2 * k], n->items[2 * k + 1], all) < 0)
			return -1;
	return 0;
}

/* ---- top ---- */

static int check_top(struct v *v, const struct snode *root)
{
	char g[80];
	if (root->type != SNODE_MAP)
		return spec_fail(v, root, NULL, NULL, "expected a mapping at the top level, got %s",
			spec_got(root, g, sizeof g));
	const struct snode *vn = snode_get(root, "version");
	if (vn && vn->type == SNODE_INT && vn->i != 1)
		return spec_fail(v, vn, NULL, "version", "unsupported version %lld (this r1flow reads version 1)",
			vn->i);
	if (vn && vn->type != SNODE_INT)
		return spec_fail(v, vn, NULL, "version", "expected 1, got %s", spec_got(vn, g, sizeof g));
	if (spec_keys_known(v, root, spec_top_keys, 0, NULL, "") < 0 ||
	    spec_fill(v, root, spec_top_keys, 0, NULL, "", v->top) < 0)
		return -1;
	json_object_set_new(v->top, "version", json_integer(1));
	if (spec_check_model(v, snode_get(root, "model")) < 0 ||
	    spec_check_named(v, snode_get(root, "datasets"), "datasets", "dataset", spec_check_dataset) < 0 ||
	    spec_check_named(v, snode_get(root, "rewards"), "rewards", "reward", spec_check_reward) < 0 ||
	    spec_check_stages(v, snode_get(root, "stages")) < 0)
		return -1;
	return spec_check_graph(v);
}

int spec_check_tree(const struct stree *t, const struct spec_check *c, json_t **out, struct err *err)
{
	struct err local = { 0 };
	struct v v = { .c = c, .err = err ? err : &local };
	*out = NULL;
	v.err->code = ERR_NONE;
	v.top = json_object();
	v.stage_index = json_object();
	v.producers = json_object();
	int rc = -1;
	if (!v.top || !v.stage_index || !v.producers)
		spec_nomem(&v);
	else
		rc = check_top(&v, t->root);
	for (size_t i = 0; i < v.n_st; i++)
		free(v.st[i].edges);
	free(v.st);
	json_decref(v.stage_index);
	json_decref(v.producers);
	if (rc == 0)
		*out = v.top;
	else
		json_decref(v.top);
	return rc;
}

