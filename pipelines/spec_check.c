/*
 * spec_check — the schema engine: a node checked against its row of a key table
 * (spec_keys.c), a mapping's keys checked and its normalised object filled in table
 * order. The levels that use it are spec_levels.c (top, model, datasets, rewards)
 * and spec_stage.c; references between stages are spec_graph.c.
 *
 * Order of checks (the first error wins, so the order is part of what the broken
 * corpus pins down): per mapping, duplicate keys, unknown keys (document order), its
 * kind, keys of another kind, each key in table order (missing required keys among
 * them), then the level's cross-key rules. Levels go top, model, datasets, rewards,
 * stages in list order, then references and cycles.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_check.h"
#include "utf8.h"

/* ---- table rows ---- */

static bool row_is(const struct key *r, const char *name, size_t len)
{
	return strlen(r->name) == len && memcmp(r->name, name, len) == 0;
}

static bool row_applies(const struct v *v, const struct key *r, unsigned kind)
{
	if ((r->flags & K_JSON) && !v->c->json_mode)
		return false;
	return !kind || !r->kinds || (r->kinds & kind);
}

/* The row for key `name` at a level of kind `kind` (0: of any kind), or NULL. */
static const struct key *row_find(const struct v *v, const struct key *tab, const char *name,
	size_t len, unsigned kind)
{
	for (const struct key *r = tab; r->name; r++)
		if (row_is(r, name, len) && row_applies(v, r, kind))
			return r;
	return NULL;
}

/* Index of choice `s` in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *s, size_t len)
{
	int i = 0;
	for (const char *c = choices;; i++) {
		const char *bar = strchr(c, '|');
		size_t cl = bar ? (size_t)(bar - c) : strlen(c);
		if (cl == len && memcmp(c, s, len) == 0)
			return i;
		if (!bar)
			return -1;
		c = bar + 1;
	}
}

/* The i-th choice of "a|b|c" into buf. */
static const char *choice_at(const char *choices, int i, char *buf, size_t cap)
{
	const char *c = choices;
	for (; i > 0; i--)
		c = strchr(c, '|') + 1;
	const char *bar = strchr(c, '|');
	snprintf(buf, cap, "%.*s", (int)(bar ? (size_t)(bar - c) : strlen(c)), c);
	return buf;
}

bool spec_name_ok(const char *s, size_t len, bool pipeline)
{
	if (len == 0 || len > (pipeline ? 64u : 32u))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
			(pipeline && ((c >= 'A' && c <= 'Z') || c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

static int choice_count(const char *choices)
{
	int n = 1;
	for (const char *c = choices; (c = strchr(c, '|')); c++)
		n++;
	return n;
}

/* " (did you mean 'x'?)" for the choice of "a|b|c" nearest to n's text, or "". */
static void enum_hint(const char *choices, const struct snode *n, char *hint, size_t cap)
{
	char cands[16][40];
	struct suggest s;
	suggest_init(&s, n->text, n->len);
	for (int i = 0; i < choice_count(choices) && i < 16; i++)
		suggest_add(&s, choice_at(choices, i, cands[i], sizeof cands[i]));
	suggest_hint(&s, hint, cap);
}

static bool contains(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (size_t i = 0; i + wl <= len; i++)
		if (memcmp(s + i, word, wl) == 0)
			return true;
	return false;
}

static size_t count_of(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word), n = 0;
	for (size_t i = 0; i + wl <= len; i++)
		n += memcmp(s + i, word, wl) == 0;
	return n;
}

static void fmt_num(char *buf, size_t cap, double x)
{
	snprintf(buf, cap, "%.10g", x);
}

/* What a row expects, after "expected ". */
static const char *describe(const struct v *v, const struct key *r, char *buf, size_t cap)
{
	char lo[32], hi[32];
	fmt_num(lo, sizeof lo, r->lo);
	fmt_num(hi, sizeof hi, r->hi);
	switch (r->type) {
	case KT_INT:
		if (isinf(r->hi) && r->lo == 1)
			snprintf(buf, cap, "an integer > 0");
		else if (isinf(r->hi))
			snprintf(buf, cap, "an integer >= %s", lo);
		else
			snprintf(buf, cap, "an integer in [%s, %s]", lo, hi);
		break;
	case KT_NUM:
		if (isinf(r->lo) && isinf(r->hi))
			snprintf(buf, cap, "a number");
		else if (isinf(r->hi))
			snprintf(buf, cap, "a number %s %s", r->flags & K_LO_OPEN ? ">" : ">=", lo);
		else
			snprintf(buf, cap, "a number in %c%s, %s%c", r->flags & K_LO_OPEN ? '(' : '[', lo, hi,
				r->flags & K_HI_OPEN ? ')' : ']');
		break;
	case KT_BOOL: snprintf(buf, cap, "true or false"); break;
	case KT_STR: snprintf(buf, cap, "%s", r->flags & K_NONEMPTY ? "a non-empty string" : "a string"); break;
	case KT_NAME: snprintf(buf, cap, "a name matching [a-z0-9_]{1,32}"); break;
	case KT_PNAME: snprintf(buf, cap, "a name matching [A-Za-z0-9_.-]{1,64}"); break;
	case KT_TEMPLATE: snprintf(buf, cap, "a string containing '{prompt}'"); break;
	case KT_ROLE: snprintf(buf, cap, "a string containing '{content}' exactly once"); break;
	case KT_PATH: snprintf(buf, cap, "%s", v->c->json_mode ? "an absolute path" : "a path"); break;
	case KT_ENUM: {
		size_t o = 0;
		char one[40];
		int n = choice_count(r->str);
		o += (size_t)snprintf(buf + o, cap - o, n > 1 ? "one of " : "");
		for (int i = 0; i < n && o < cap; i++)
			o += (size_t)snprintf(buf + o, cap - o, "%s'%s'", i == 0 ? "" : i == n - 1 ? " or " : ", ",
				choice_at(r->str, i, one, sizeof one));
		break;
	}
	default: snprintf(buf, cap, "a value"); break;
	}
	return buf;
}

/* Lexically clean an absolute path: no "", "." or ".." components. malloc'd. */
static char *path_clean(const char *in)
{
	size_t n = strlen(in);
	char *out = malloc(n + 2);
	if (!out)
		return NULL;
	size_t o = 0;
	for (const char *p = in; *p;) {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

/* A path value: absolute as given, relative ones against basedir; NULL if not a path
 * (*bad), or with the error set. */
static json_t *path_value(struct v *v, const struct snode *n, const char *scope,
	const char *kp, bool *bad)
{
	*bad = n->len == 0 || memchr(n->text, '\0', n->len);
	if (*bad || (v->c->json_mode && n->text[0] != '/')) {
		*bad = true;
		return NULL;
	}
	if (v->c->json_mode)
		return spec_jstr(v, n->text, n->len);
	size_t bl = strlen(v->c->basedir);
	char *joined = malloc(bl + n->len + 2);
	if (!joined) {
		spec_nomem(v);
		return NULL;
	}
	if (n->text[0] == '/')
		snprintf(joined, bl + n->len + 2, "%s", n->text);
	else
		snprintf(joined, bl + n->len + 2, "%s/%s", v->c->basedir, n->text);
	char *clean = path_clean(joined);
	free(joined);
	if (!clean) {
		spec_nomem(v);
		return NULL;
	}
	json_t *j = NULL;
	/* the text is UTF-8 (the YAML reader checks), the directory of the spec need not be */
	if (utf8_clean_size(clean, strlen(clean)) != strlen(clean))
		spec_fail(v, n, scope, kp, "the path '%s' is not UTF-8 text (the spec's directory "
			"is not): move the spec or give an absolute path", clean);
	else
		j = spec_jstr(v, clean, strlen(clean));
	free(clean);
	return j;
}

/* Check one value against its row; a new reference, or NULL with the error set. */
json_t *spec_value(struct v *v, const struct key *r, const struct snode *n,
	const char *scope, const char *kp)
{
	char g[80], want[160], hint[80] = "";
	bool text = v->c->json_mode ? n->type == SNODE_STR : snode_is_scalar(n) && n->type != SNODE_NULL;
	if (text && memchr(n->text, '\0', n->len)) { /* C strings downstream: refuse, never cut */
		spec_fail(v, n, scope, kp, "a NUL byte is not allowed, got %s", spec_got(n, g, sizeof g));
		return NULL;
	}
	switch (r->type) {
	case KT_INT:
		if (n->type == SNODE_INT && (double)n->i >= r->lo && (double)n->i <= r->hi)
			return json_integer(n->i);
		break;
	case KT_NUM: {
		double d = n->type == SNODE_INT ? (double)n->i : n->type == SNODE_FLOAT ? n->d : NAN;
		if (isfinite(d) && ((r->flags & K_LO_OPEN) ? d > r->lo : d >= r->lo) &&
		    ((r->flags & K_HI_OPEN) ? d < r->hi : d <= r->hi))
			return json_real(d);
		break;
	}
	case KT_BOOL:
		if (n->type == SNODE_BOOL)
			return json_boolean(n->b);
		break;
	case KT_STR:
		if (text && !((r->flags & K_NONEMPTY) && n->len == 0))
			return spec_jstr(v, n->text, n->len);
		break;
	case KT_ENUM: {
		int i = text ? choice_index(r->str, n->text, n->len) : -1;
		if (i >= 0)
			return json_string(choice_at(r->str, i, want, sizeof want));
		if (text)
			enum_hint(r->str, n, hint, sizeof hint);
		break;
	}
	case KT_NAME:
	case KT_PNAME:
		if (text && spec_name_ok(n->text, n->len, r->type == KT_PNAME))
			return spec_jstr(v, n->text, n->len);
		break;
	case KT_TEMPLATE:
		if (text && contains(n->text, n->len, "{prompt}"))
			return spec_jstr(v, n->text, n->len);
		break;
	case KT_ROLE:
		if (text && count_of(n->text, n->len, "{content}") == 1)
			return spec_jstr(v, n->text, n->len);
		break;
	case KT_PATH:
		if (text) {
			bool bad;
			json_t *j = path_value(v, n, scope, kp, &bad);
			if (j || !bad)
				return j;
		}
		break;
	default:
		break;
	}
	spec_fail(v, n, scope, kp, "expected %s, got %s%s", describe(v, r, want, sizeof want),
		spec_got(n, g, sizeof g), hint);
	return NULL;
}

/* ---- mappings ---- */

struct kref {
	const char *s;
	size_t len, idx;
};

static int kref_cmp(const void *pa, const void *pb)
{
	const struct kref *a = pa, *b = pb;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	int c = memcmp(a->s, b->s, a->len);
	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * Keys must be scalars and unique. `what` ("dataset") makes a repeated key read
 * "dataset 'x': defined twice" instead of "key 'x': duplicate key".
 */
int spec_dup_check(struct v *v, const struct snode *map, const char *scope, const char *prefix,
	const char *what)
{
	char g[80], kp[160], fa[120];
	for (size_t k = 0; k < map->n; k++)
		if (!snode_is_scalar(map->items[2 * k]))
			return spec_fail(v, map->items[2 * k], scope, NULL, "expected a key, got %s",
				spec_got(map->items[2 * k], g, sizeof g));
	if (map->n < 2)
		return 0;
	struct kref *r = malloc(map->n * sizeof *r);
	if (!r)
		return spec_nomem(v);
	for (size_t k = 0; k < map->n; k++)
		r[k] = (struct kref){ map->items[2 * k]->text, map->items[2 * k]->len, k };
	qsort(r, map->n, sizeof *r, kref_cmp);
	size_t best = map->n, first = 0;
	for (size_t i = 0; i + 1 < map->n; i++)
		if (kref_cmp(&(struct kref){ r[i].s, r[i].len, 0 }, &(struct kref){ r[i + 1].s, r[i + 1].len, 0 }) == 0 &&
		    (i == 0 || kref_cmp(&(struct kref){ r[i - 1].s, r[i - 1].len, 0 }, &(struct kref){ r[i].s, r[i].len, 0 }) != 0) &&
		    r[i + 1].idx < best) {
			best = r[i + 1].idx;
			first = r[i].idx;
		}
	free(r);
	if (best == map->n)
		return 0;
	const struct snode *kn = map->items[2 * best];
	spec_first_at(map->items[2 * first], kn, fa, sizeof fa);
	if (what) {
		char sc[120], q[80];
		snprintf(sc, sizeof sc, "%s %s", what, spec_quote(q, sizeof q, kn->text, kn->len));
		return spec_fail(v, kn, sc, NULL, "defined twice%s", fa);
	}
	return spec_fail(v, kn, scope, spec_keypath(kp, sizeof kp, prefix, kn->text, kn->len), "duplicate key%s",
		fa);
}

/* Duplicate keys, then unknown keys; suggestions come from the rows of `kind` (0: all). */
int spec_keys_known(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix)
{
	char kp[160], hint[80];
	if (spec_dup_check(v, map, scope, prefix, NULL) < 0)
		return -1;
	for (size_t k = 0; k < map->n; k++) {
		const struct snode *kn = map->items[2 * k];
		if (row_find(v, tab, kn->text, kn->len, 0))
			continue;
		struct suggest s;
		suggest_init(&s, kn->text, kn->len);
		for (const struct key *r = tab; r->name; r++)
			if (row_applies(v, r, kind))
				suggest_add(&s, r->name);
		return spec_fail(v, kn, scope, spec_keypath(kp, sizeof kp, prefix, kn->text, kn->len),
			"unknown key%s", suggest_hint(&s, hint, sizeof hint));
	}
	return 0;
}

/* Keys that exist, but not at a level of this kind ("not valid for grpo stages"). */
int spec_keys_kind(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *kind_desc, const char *scope, const char *prefix)
{
	char kp[160];
	for (size_t k = 0; k < map->n; k++) {
		const struct snode *kn = map->items[2 * k];
		if (!row_find(v, tab, kn->text, kn->len, kind))
			return spec_fail(v, kn, scope, spec_keypath(kp, sizeof kp, prefix, kn->text, kn->len),
				"not valid for %s", kind_desc);
	}
	return 0;
}

/* The key node of `name` in map (the last), or NULL; and its pair index in *at. */
const struct snode *spec_key_node(const struct snode *map, const char *name, size_t *at)
{
	const struct snode *found = NULL;
	for (size_t k = 0; map && k < map->n; k++) {
		const struct snode *kn = map->items[2 * k];
		if (snode_is_scalar(kn) && kn->len == strlen(name) && memcmp(kn->text, name, kn->len) == 0) {
			found = kn;
			if (at)
				*at = k;
		}
	}
	return found;
}

static json_t *default_value(struct v *v, const struct key *r, const char *scope, const char *kp)
{
	char one[64];
	switch (r->type) {
	case KT_INT: return json_integer((json_int_t)r->def);
	case KT_NUM: return json_real(r->def);
	case KT_BOOL: return json_boolean(r->def != 0);
	case KT_ENUM: return json_string(choice_at(r->str, 0, one, sizeof one));
	case KT_OBJ: {
		char sub[170];
		json_t *o = json_object();
		snprintf(sub, sizeof sub, "%s.", kp);
		if (o && spec_fill(v, NULL, r->sub, 0, scope, sub, o) < 0) {
			json_decref(o);
			return NULL;
		}
		return o;
	}
	default: return json_string(r->str ? r->str : "");
	}
}

int spec_fill(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix, json_t *out)
{
	char kp[160], g[80];
	for (const struct key *r = tab; r->name; r++) {
		if (!row_applies(v, r, kind) || json_object_get(out, r->name))
			continue;
		const struct snode *n = snode_get(map, r->name);
		spec_keypath(kp, sizeof kp, prefix, r->name, strlen(r->name));
		json_t *val;
		if (!n) {
			if (r->flags & K_REQ)
				return spec_fail(v, map, scope, NULL, "missing required key '%s'", kp);
			if (v->c->json_mode && !(r->flags & K_OPT))
				return spec_fail(v, map, scope, kp, "missing from a normalised spec");
			if (r->flags & K_OPT)
				continue;
			val = r->type == KT_CUSTOM || (r->flags & K_DYN) ? json_null() :
				default_value(v, r, scope, kp);
		} else if (r->type == KT_CUSTOM) {
			val = json_null();
		} else if (r->type == KT_OBJ) {
			char sub[170];
			if (n->type != SNODE_MAP)
				return spec_fail(v, n, scope, kp, "expected a mapping, got %s", spec_got(n, g, sizeof g));
			snprintf(sub, sizeof sub, "%s.", kp);
			if (spec_keys_known(v, n, r->sub, 0, scope, sub) < 0)
				return -1;
			if (!(val = json_object()))
				return spec_nomem(v);
			if (spec_fill(v, n, r->sub, 0, scope, sub, val) < 0) {
				json_decref(val);
				return -1;
			}
		} else {
			val = spec_value(v, r, n, scope, kp);
		}
		if (!val) /* spec_value set the error; a default's json_* failed for lack of memory */
			return v->err->code ? -1 : spec_nomem(v);
		if (json_object_set_new(out, r->name, val) < 0)
			return spec_nomem(v);
	}
	return 0;
}

/* The row of `name` in tab regardless of kind (for checking one value early). */
const struct key *spec_row(const struct key *tab, const char *name)
{
	for (const struct key *r = tab; r->name; r++)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

/* Index of the chosen enum value of key `name` in map, or -1 (absent or invalid). */
int spec_enum_peek(const struct v *v, const struct snode *map, const struct key *tab,
	const char *name)
{
	const struct snode *n = snode_get(map, name);
	if (!n || !spec_ref_ok(v, n))
		return -1;
	return choice_index(spec_row(tab, name)->str, n->text, n->len);
}

long long spec_jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

