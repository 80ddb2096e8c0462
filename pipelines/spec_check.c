/*
 * spec_check — validating the node tree against the schema tables (spec_keys.c) and
 * building the normalised spec; the rules a table row cannot state are here too:
 * exactly-one-of choices, model shape, operators, mix, steps/epochs, merge inputs,
 * stage names and outputs. References between stages, deps and cycles are in
 * spec_graph.c.
 *
 * Order of checks (the first error wins, so the order is part of what the broken
 * corpus pins down): the version; then per mapping: duplicate keys, unknown keys
 * (document order), its kind, keys of another kind, each key in table order
 * (missing required keys among them), cross-key rules. Levels go top, model,
 * datasets, rewards, stages in list order, then references and cycles.
 */
#include "spec_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* ---- messages and suggestions ---- */

#define QUOTE_MAX 60

char *spec_clean(char *buf, size_t cap, const char *s, size_t len)
{
	size_t max = cap - 1 < QUOTE_MAX ? cap - 1 : QUOTE_MAX, o = 0;
	size_t keep = len <= max ? len : max - 3;
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (keep < len) { /* cut, never inside a UTF-8 sequence */
		while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && (unsigned char)buf[o - 1] >= 0xC0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

char *spec_quote(char *buf, size_t cap, const char *s, size_t len)
{
	buf[0] = '\'';
	spec_clean(buf + 1, cap - 2, s, len);
	strcat(buf, "'");
	return buf;
}

static int levenshtein(const char *a, size_t la, const char *b, size_t lb)
{
	int row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = row[j], best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

void suggest_init(struct suggest *s, const char *word, size_t len)
{
	s->word = word;
	s->len = len;
	s->best = NULL;
	s->dist = 4;
}

void suggest_add(struct suggest *s, const char *cand)
{
	size_t cl = strlen(cand);
	if (s->len <= 64 && cl <= 64) {
		int d = levenshtein(s->word, s->len, cand, cl);
		if (d <= 2 && d < s->dist) {
			s->best = cand;
			s->dist = d;
			return;
		}
	}
	size_t m = s->len < cl ? s->len : cl;
	if (s->dist > 3 && m >= 2 && memcmp(s->word, cand, m) == 0) {
		s->best = cand;
		s->dist = 3;
	}
}

const char *suggest_hint(const struct suggest *s, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (s->best)
		snprintf(buf, cap, " (did you mean '%.40s'?)", s->best);
	return buf;
}

int vfail(struct v *v, const struct snode *at, const char *scope, const char *key,
	const char *fmt, ...)
{
	char msg[400], pos[320] = "", sc[120] = "", k[120] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (at && at->pos.label)
		snprintf(pos, sizeof pos, "%s: ", at->pos.label);
	else if (at && at->pos.line > 0)
		snprintf(pos, sizeof pos, "%.280s:%d:%d: ", v->c->file, at->pos.line, at->pos.col);
	if (scope)
		snprintf(sc, sizeof sc, "%s: ", scope);
	if (key)
		snprintf(k, sizeof k, "key '%s': ", key);
	return err_set(v->err, ERR_INVALID, "%s%s%s%s", pos, sc, k, msg);
}

static int nomem(struct v *v)
{
	return err_set(v->err, ERR_NOMEM, "out of memory");
}

bool snode_is_scalar(const struct snode *n)
{
	return n->type != SNODE_SEQ && n->type != SNODE_MAP;
}

bool ref_ok(const struct v *v, const struct snode *n)
{
	return v->c->json_mode ? n->type == SNODE_STR : snode_is_scalar(n) && n->type != SNODE_NULL;
}

const char *got(const struct snode *n, char *buf, size_t cap)
{
	switch (n->type) {
	case SNODE_MAP: return n->n ? "a mapping" : "an empty mapping";
	case SNODE_SEQ: return n->n ? "a list" : "an empty list";
	case SNODE_NULL:
		if (n->len == 0)
			return "an empty value";
		break;
	default: break;
	}
	return spec_quote(buf, cap, n->text, n->len);
}

const char *first_at(const struct snode *n, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (n->pos.label)
		snprintf(buf, cap, " (first at %.100s)", n->pos.label);
	else if (n->pos.line > 0)
		snprintf(buf, cap, " (first at line %d)", n->pos.line);
	return buf;
}

static const char *const STAGE_KINDS[] = {
	"probe", "pretrain", "sft", "grpo", "rejection_sample", "merge", "eval",
};

const char *stage_kind_name(unsigned kind)
{
	for (unsigned i = 0; i < sizeof STAGE_KINDS / sizeof *STAGE_KINDS; i++)
		if (kind == 1u << i)
			return STAGE_KINDS[i];
	return "?";
}

/* "prefix" + key, made printable. */
static const char *keypath(char *buf, size_t cap, const char *prefix, const char *key, size_t len)
{
	char clean[80];
	snprintf(buf, cap, "%s%s", prefix, spec_clean(clean, sizeof clean, key, len));
	return buf;
}

static json_t *jstr(struct v *v, const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (!j)
		nomem(v);
	return j;
}

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

static bool name_ok(const char *s, size_t len, bool pipeline)
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

/* A path value: absolute as given, relative ones against basedir; NULL if not a path. */
static json_t *path_value(struct v *v, const struct snode *n, bool *bad)
{
	*bad = n->len == 0 || memchr(n->text, '\0', n->len);
	if (*bad || (v->c->json_mode && n->text[0] != '/')) {
		*bad = true;
		return NULL;
	}
	if (v->c->json_mode)
		return jstr(v, n->text, n->len);
	size_t bl = strlen(v->c->basedir);
	char *joined = malloc(bl + n->len + 2);
	if (!joined) {
		nomem(v);
		return NULL;
	}
	if (n->text[0] == '/')
		snprintf(joined, bl + n->len + 2, "%s", n->text);
	else
		snprintf(joined, bl + n->len + 2, "%s/%s", v->c->basedir, n->text);
	char *clean = path_clean(joined);
	free(joined);
	json_t *j = clean ? jstr(v, clean, strlen(clean)) : NULL;
	if (!clean)
		nomem(v);
	free(clean);
	return j;
}

/* Check one value against its row; a new reference, or NULL with the error set. */
static json_t *val_check(struct v *v, const struct key *r, const struct snode *n,
	const char *scope, const char *kp)
{
	char g[80], want[160], hint[80] = "";
	bool text = v->c->json_mode ? n->type == SNODE_STR : snode_is_scalar(n) && n->type != SNODE_NULL;
	if (text && memchr(n->text, '\0', n->len)) { /* C strings downstream: refuse, never cut */
		vfail(v, n, scope, kp, "a NUL byte is not allowed, got %s", got(n, g, sizeof g));
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
			return jstr(v, n->text, n->len);
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
		if (text && name_ok(n->text, n->len, r->type == KT_PNAME))
			return jstr(v, n->text, n->len);
		break;
	case KT_TEMPLATE:
		if (text && contains(n->text, n->len, "{prompt}"))
			return jstr(v, n->text, n->len);
		break;
	case KT_PATH:
		if (text) {
			bool bad;
			json_t *j = path_value(v, n, &bad);
			if (j || !bad)
				return j;
		}
		break;
	default:
		break;
	}
	vfail(v, n, scope, kp, "expected %s, got %s%s", describe(v, r, want, sizeof want),
		got(n, g, sizeof g), hint);
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
static int dup_check(struct v *v, const struct snode *map, const char *scope, const char *prefix,
	const char *what)
{
	char g[80], kp[160], fa[120];
	for (size_t k = 0; k < map->n; k++)
		if (!snode_is_scalar(map->items[2 * k]))
			return vfail(v, map->items[2 * k], scope, NULL, "expected a key, got %s",
				got(map->items[2 * k], g, sizeof g));
	if (map->n < 2)
		return 0;
	struct kref *r = malloc(map->n * sizeof *r);
	if (!r)
		return nomem(v);
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
	first_at(map->items[2 * first], fa, sizeof fa);
	if (what) {
		char sc[120], q[80];
		snprintf(sc, sizeof sc, "%s %s", what, spec_quote(q, sizeof q, kn->text, kn->len));
		return vfail(v, kn, sc, NULL, "defined twice%s", fa);
	}
	return vfail(v, kn, scope, keypath(kp, sizeof kp, prefix, kn->text, kn->len), "duplicate key%s",
		fa);
}

/* Duplicate keys, then unknown keys; suggestions come from the rows of `kind` (0: all). */
static int keys_known(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix)
{
	char kp[160], hint[80];
	if (dup_check(v, map, scope, prefix, NULL) < 0)
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
		return vfail(v, kn, scope, keypath(kp, sizeof kp, prefix, kn->text, kn->len),
			"unknown key%s", suggest_hint(&s, hint, sizeof hint));
	}
	return 0;
}

/* Keys that exist, but not at a level of this kind ("not valid for grpo stages"). */
static int keys_kind(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *kind_desc, const char *scope, const char *prefix)
{
	char kp[160];
	for (size_t k = 0; k < map->n; k++) {
		const struct snode *kn = map->items[2 * k];
		if (!row_find(v, tab, kn->text, kn->len, kind))
			return vfail(v, kn, scope, keypath(kp, sizeof kp, prefix, kn->text, kn->len),
				"not valid for %s", kind_desc);
	}
	return 0;
}

/* The key node of `name` in map (the last), or NULL; and its pair index in *at. */
static const struct snode *key_node(const struct snode *map, const char *name, size_t *at)
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

static int fill(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix, json_t *out);

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
		if (o && fill(v, NULL, r->sub, 0, scope, sub, o) < 0) {
			json_decref(o);
			return NULL;
		}
		return o;
	}
	default: return json_string(r->str ? r->str : "");
	}
}

/*
 * Every row of `kind` in table order into `out`: the checked value, the default,
 * or null for KT_CUSTOM and K_DYN rows (the caller fills those). A missing K_REQ key
 * is an error; in JSON mode so is any missing key but K_OPT ones. `map` may be NULL
 * (an absent nested mapping: all defaults).
 */
static int fill(struct v *v, const struct snode *map, const struct key *tab, unsigned kind,
	const char *scope, const char *prefix, json_t *out)
{
	char kp[160], g[80];
	for (const struct key *r = tab; r->name; r++) {
		if (!row_applies(v, r, kind) || json_object_get(out, r->name))
			continue;
		const struct snode *n = snode_get(map, r->name);
		keypath(kp, sizeof kp, prefix, r->name, strlen(r->name));
		json_t *val;
		if (!n) {
			if (r->flags & K_REQ)
				return vfail(v, map, scope, NULL, "missing required key '%s'", kp);
			if (v->c->json_mode && !(r->flags & K_OPT))
				return vfail(v, map, scope, kp, "missing from a normalised spec");
			if (r->flags & K_OPT)
				continue;
			val = r->type == KT_CUSTOM || (r->flags & K_DYN) ? json_null() :
				default_value(v, r, scope, kp);
		} else if (r->type == KT_CUSTOM) {
			val = json_null();
		} else if (r->type == KT_OBJ) {
			char sub[170];
			if (n->type != SNODE_MAP)
				return vfail(v, n, scope, kp, "expected a mapping, got %s", got(n, g, sizeof g));
			snprintf(sub, sizeof sub, "%s.", kp);
			if (keys_known(v, n, r->sub, 0, scope, sub) < 0)
				return -1;
			if (!(val = json_object()))
				return nomem(v);
			if (fill(v, n, r->sub, 0, scope, sub, val) < 0) {
				json_decref(val);
				return -1;
			}
		} else {
			val = val_check(v, r, n, scope, kp);
		}
		if (!val)
			return v->err && v->err->code ? -1 : nomem(v);
		if (json_object_set_new(out, r->name, val) < 0)
			return nomem(v);
	}
	return 0;
}

/* The row of `name` in tab regardless of kind (for checking one value early). */
static const struct key *row_named(const struct key *tab, const char *name)
{
	for (const struct key *r = tab; r->name; r++)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

/* Index of the chosen enum value of key `name` in map, or -1 (absent or invalid). */
static int enum_peek(const struct v *v, const struct snode *map, const struct key *tab,
	const char *name)
{
	const struct snode *n = snode_get(map, name);
	if (!n || !ref_ok(v, n))
		return -1;
	return choice_index(row_named(tab, name)->str, n->text, n->len);
}

static long long jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* ---- model ---- */

static int check_model_config(struct v *v, const struct snode *cn, json_t *cfg)
{
	char g[80];
	long long dim = jint(cfg, "dim"), heads = jint(cfg, "heads");
	const struct snode *dn = snode_get(cn, "dim"), *hn = snode_get(cn, "heads");
	const struct snode *kvn = snode_get(cn, "kv_heads");
	if (json_is_null(json_object_get(cfg, "kv_heads")))
		json_object_set_new(cfg, "kv_heads", json_integer(heads));
	long long kv = jint(cfg, "kv_heads");
	if (dim % heads != 0) {
		if (dn)
			return vfail(v, dn, NULL, "model.config.dim", "expected a multiple of heads (%lld), got %s",
				heads, got(dn, g, sizeof g));
		return vfail(v, hn, NULL, "model.config.heads", "expected a divisor of dim (%lld), got %s",
			dim, got(hn, g, sizeof g));
	}
	if ((dim / heads) % 2 != 0)
		return vfail(v, dn ? dn : hn ? hn : cn, NULL, dn ? "model.config.dim" : "model.config.heads",
			"dim / heads must be even (rope), got %lld / %lld", dim, heads);
	if (heads % kv != 0)
		return vfail(v, kvn, NULL, "model.config.kv_heads", "expected a divisor of heads (%lld), got %s",
			heads, got(kvn, g, sizeof g));
	return 0;
}

static int check_model(struct v *v, const struct snode *mn)
{
	static const char *const sel[] = { "config", "checkpoint", "pipeline" };
	static const char *const desc[] = { "config models", "checkpoint models", "pipeline models" };
	char g[80], kp[64];
	if (mn->type != SNODE_MAP)
		return vfail(v, mn, NULL, "model", "expected a mapping, got %s", got(mn, g, sizeof g));
	if (keys_known(v, mn, spec_model_keys, 0, NULL, "model.") < 0)
		return -1;
	int chosen = -1;
	for (size_t k = 0; k < mn->n; k++) {
		const struct snode *kn = mn->items[2 * k];
		for (int s = 0; s < 3; s++) {
			if (kn->len != strlen(sel[s]) || memcmp(kn->text, sel[s], kn->len) != 0)
				continue;
			if (chosen >= 0) {
				snprintf(kp, sizeof kp, "model.%s", sel[s]);
				return vfail(v, kn, NULL, kp, "cannot be combined with '%s'", sel[chosen]);
			}
			chosen = s;
		}
	}
	if (chosen < 0)
		return vfail(v, mn, NULL, "model", "expected one of 'config', 'checkpoint' or 'pipeline'");
	unsigned kind = 1u << chosen;
	json_t *m = json_object();
	if (!m || json_object_set_new(v->top, "model", m) < 0)
		return nomem(v);
	if (keys_kind(v, mn, spec_model_keys, kind, desc[chosen], NULL, "model.") < 0 ||
	    fill(v, mn, spec_model_keys, kind, NULL, "model.", m) < 0)
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
			return vfail(v, on, scope, "operators",
				"expected some of '+', '-' and '*', each at most once, got %s", got(on, g, sizeof g));
		}
	}
	bool corpus = strcmp(json_string_value(json_object_get(d, "style")), "corpus") == 0;
	json_t *mix = json_object_get(d, "mix");
	const struct snode *mn = snode_get(dn, "mix");
	if (!corpus && mn)
		return vfail(v, key_node(dn, "mix", NULL), scope, "mix", "only valid with style 'corpus'");
	if (!corpus)
		return 0;
	if (!mix) {
		if (v->c->json_mode)
			return vfail(v, dn, scope, "mix", "missing from a normalised spec");
		mix = json_pack("{s:f, s:f, s:f}", "plain", 0.35, "tagged", 0.35, "worked", 0.3);
		if (!mix || json_object_set_new(d, "mix", mix) < 0)
			return nomem(v);
		return 0;
	}
	double sum = json_real_value(json_object_get(mix, "plain")) +
		json_real_value(json_object_get(mix, "tagged")) +
		json_real_value(json_object_get(mix, "worked"));
	if (fabs(sum - 1.0) > 1e-6)
		return vfail(v, mn, scope, "mix", "probabilities must sum to 1, got %.10g", sum);
	return 0;
}

static int check_dataset(struct v *v, const struct snode *kn, const struct snode *dn, json_t *all)
{
	static const char *const gen_desc[] = { "arithmetic datasets", "countdown datasets" };
	char scope[120], q[80], g[80];
	snprintf(scope, sizeof scope, "dataset %s", spec_quote(q, sizeof q, kn->text, kn->len));
	if (!name_ok(kn->text, kn->len, false))
		return vfail(v, kn, scope, NULL, "invalid name (expected [a-z0-9_]{1,32})");
	if (dn->type != SNODE_MAP)
		return vfail(v, dn, scope, NULL, "expected a mapping, got %s", got(dn, g, sizeof g));
	int gen = enum_peek(v, dn, spec_dataset_keys, "generate");
	size_t gi = 0, fi = 0;
	const struct snode *gk = key_node(dn, "generate", &gi), *fk = key_node(dn, "file", &fi);
	unsigned kind = gen >= 0 ? 1u << gen : !gk && fk ? DK_FILE : 0;
	if (keys_known(v, dn, spec_dataset_keys, kind, scope, "") < 0)
		return -1;
	if (gk && fk)
		return gi < fi ? vfail(v, fk, scope, "file", "cannot be combined with 'generate'") :
			vfail(v, gk, scope, "generate", "cannot be combined with 'file'");
	if (!gk && !fk)
		return vfail(v, dn, scope, NULL, "expected a 'generate' or a 'file' key");
	if (gk) {
		json_t *j = val_check(v, row_named(spec_dataset_keys, "generate"), snode_get(dn, "generate"),
			scope, "generate");
		if (!j)
			return -1;
		json_decref(j);
	}
	json_t *d = json_object();
	if (!d || json_object_set_new(all, kn->text, d) < 0)
		return nomem(v);
	if (keys_kind(v, dn, spec_dataset_keys, kind, gk ? gen_desc[gen] : "file datasets", scope, "") < 0 ||
	    fill(v, dn, spec_dataset_keys, kind, scope, "", d) < 0)
		return -1;
	return kind & DK_GENERATE ? check_generated(v, dn, kind, scope, d) : 0;
}

static int check_reward(struct v *v, const struct snode *kn, const struct snode *rn, json_t *all)
{
	static const char *const desc[] = {
		"accuracy rewards", "countdown rewards", "think_answer_format rewards",
		"language_consistency rewards", "length rewards",
	};
	char scope[120], q[80], g[80];
	snprintf(scope, sizeof scope, "reward %s", spec_quote(q, sizeof q, kn->text, kn->len));
	if (!name_ok(kn->text, kn->len, false))
		return vfail(v, kn, scope, NULL, "invalid name (expected [a-z0-9_]{1,32})");
	if (rn->type != SNODE_MAP)
		return vfail(v, rn, scope, NULL, "expected a mapping, got %s", got(rn, g, sizeof g));
	int fn = enum_peek(v, rn, spec_reward_keys, "fn");
	if (keys_known(v, rn, spec_reward_keys, fn >= 0 ? 1u << fn : 0, scope, "") < 0)
		return -1;
	const struct snode *fnn = snode_get(rn, "fn");
	if (!fnn)
		return vfail(v, rn, scope, NULL, "missing required key 'fn'");
	if (fn < 0) {
		json_t *j = val_check(v, row_named(spec_reward_keys, "fn"), fnn, scope, "fn");
		json_decref(j);
		return -1;
	}
	json_t *r = json_object();
	if (!r || json_object_set_new(all, kn->text, r) < 0)
		return nomem(v);
	if (keys_kind(v, rn, spec_reward_keys, 1u << fn, desc[fn], scope, "") < 0)
		return -1;
	return fill(v, rn, spec_reward_keys, 1u << fn, scope, "", r);
}

/* datasets or rewards: a mapping of name → definition (absent: empty). */
static int check_named(struct v *v, const struct snode *n, const char *key, const char *what,
	int (*one)(struct v *, const struct snode *, const struct snode *, json_t *))
{
	char g[80];
	json_t *all = json_object();
	if (!all || json_object_set_new(v->top, key, all) < 0)
		return nomem(v);
	if (!n)
		return 0;
	if (n->type != SNODE_MAP)
		return vfail(v, n, NULL, key, "expected a mapping, got %s", got(n, g, sizeof g));
	if (dup_check(v, n, NULL, "", what) < 0)
		return -1;
	for (size_t k = 0; k < n->n; k++)
		if (one(v, n->items[2 * k], n->items[2 * k + 1], all) < 0)
			return -1;
	return 0;
}

/* ---- stages ---- */

/* A string-valued reference key (from, dataset, prompts): must look like a name. */
static int ref_value(struct v *v, const struct snode *n, const char *scope, const char *kp,
	const char *what, json_t *out, const char *key)
{
	char g[80];
	if (!ref_ok(v, n))
		return vfail(v, n, scope, kp, "expected a %s name, got %s", what, got(n, g, sizeof g));
	json_t *s = jstr(v, n->text, n->len);
	if (!s || json_object_set_new(out, key, s) < 0)
		return -1;
	return 0;
}

static int stage_needs(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	char g[80], kp[40];
	json_t *list = json_array();
	if (!list || json_object_set_new(out, "needs", list) < 0)
		return nomem(v);
	if (!n)
		return 0;
	if (n->type != SNODE_SEQ)
		return vfail(v, n, scope, "needs", "expected a list of stage names, got %s", got(n, g, sizeof g));
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(kp, sizeof kp, "needs[%zu]", i);
		if (!ref_ok(v, it))
			return vfail(v, it, scope, kp, "expected a stage name, got %s", got(it, g, sizeof g));
		json_t *s = jstr(v, it->text, it->len);
		if (!s || json_array_append_new(list, s) < 0)
			return -1;
	}
	return 0;
}

static int stage_rewards(struct v *v, const struct snode *n, unsigned kind, const char *scope,
	json_t *out)
{
	char g[80], kp[40], q[80], hint[80];
	json_t *defined = json_object_get(v->top, "rewards");
	json_t *list = json_array(), *seen = json_object();
	int rc = -1;
	if (!list || !seen || json_object_set(out, "rewards", list) < 0) {
		nomem(v);
		goto out;
	}
	if (!n) { /* eval: every reward */
		const char *name;
		json_t *val;
		json_object_foreach(defined, name, val)
			json_array_append_new(list, json_string(name));
		rc = 0;
		goto out;
	}
	if (n->type != SNODE_SEQ || (n->n == 0 && kind != SK_EVAL)) {
		vfail(v, n, scope, "rewards", "expected a %slist of reward names, got %s",
			kind != SK_EVAL ? "non-empty " : "", got(n, g, sizeof g));
		goto out;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(kp, sizeof kp, "rewards[%zu]", i);
		if (!ref_ok(v, it)) {
			vfail(v, it, scope, kp, "expected a reward name, got %s", got(it, g, sizeof g));
			goto out;
		}
		if (!json_object_getn(defined, it->text, it->len)) {
			struct suggest s;
			const char *name;
			json_t *val;
			suggest_init(&s, it->text, it->len);
			json_object_foreach(defined, name, val)
				suggest_add(&s, name);
			vfail(v, it, scope, NULL, "%s: no reward named %s%s", kp,
				spec_quote(q, sizeof q, it->text, it->len), suggest_hint(&s, hint, sizeof hint));
			goto out;
		}
		if (json_object_getn(seen, it->text, it->len)) {
			vfail(v, it, scope, kp, "%s is listed twice", spec_quote(q, sizeof q, it->text, it->len));
			goto out;
		}
		json_object_setn_new_nocheck(seen, it->text, it->len, json_true());
		json_array_append_new(list, json_stringn(it->text, it->len));
	}
	rc = 0;
out:
	json_decref(list);
	json_decref(seen);
	return rc;
}

static int stage_inputs(struct v *v, const struct snode *n, const char *scope, json_t *out)
{
	char g[80], pre[40], kp[48];
	if (n->type != SNODE_SEQ || n->n == 0)
		return vfail(v, n, scope, "inputs", "expected a non-empty list of {dataset, ratio or cap}, got %s",
			got(n, g, sizeof g));
	json_t *list = json_array();
	if (!list || json_object_set_new(out, "inputs", list) < 0)
		return nomem(v);
	for (size_t i = 0; i < n->n; i++) {
		const struct snode *it = n->items[i];
		snprintf(pre, sizeof pre, "inputs[%zu].", i);
		snprintf(kp, sizeof kp, "inputs[%zu]", i);
		if (it->type != SNODE_MAP)
			return vfail(v, it, scope, kp, "expected a mapping, got %s", got(it, g, sizeof g));
		json_t *o = json_object();
		if (!o || json_array_append_new(list, o) < 0)
			return nomem(v);
		if (keys_known(v, it, spec_input_keys, 0, scope, pre) < 0 ||
		    fill(v, it, spec_input_keys, 0, scope, pre, o) < 0)
			return -1;
		snprintf(kp, sizeof kp, "inputs[%zu].dataset", i);
		if (ref_value(v, snode_get(it, "dataset"), scope, kp, "dataset", o, "dataset") < 0)
			return -1;
		size_t ri = 0, ci = 0;
		const struct snode *rk = key_node(it, "ratio", &ri), *ck = key_node(it, "cap", &ci);
		if (rk && ck) {
			snprintf(kp, sizeof kp, "inputs[%zu].%s", i, ri < ci ? "cap" : "ratio");
			return vfail(v, ri < ci ? ck : rk, scope, kp, "cannot be combined with '%s'",
				ri < ci ? "ratio" : "cap");
		}
		if (!rk && !ck) {
			if (v->c->json_mode)
				return vfail(v, it, scope, NULL, "inputs[%zu]: missing 'ratio' or 'cap' "
					"(a normalised spec has one)", i);
			json_object_set_new(o, "ratio", json_real(1.0));
		}
	}
	return 0;
}

static int stage_output(struct v *v, size_t idx, const struct snode *n, const char *scope,
	json_t *out)
{
	char g[80];
	if (!ref_ok(v, n) || !name_ok(n->text, n->len, false))
		return vfail(v, n, scope, "output", "expected a name matching [a-z0-9_]{1,32}, got %s",
			got(n, g, sizeof g));
	if (json_object_get(json_object_get(v->top, "datasets"), n->text))
		return vfail(v, n, scope, "output", "dataset '%s' is already defined in datasets", n->text);
	json_t *p = json_object_get(v->producers, n->text);
	if (p)
		return vfail(v, n, scope, "output", "dataset '%s' is already the output of stage '%s'",
			n->text, v->st[json_integer_value(p)].name);
	if (json_object_set_new(v->producers, n->text, json_integer((json_int_t)idx)) < 0 ||
	    json_object_set_new(out, "output", json_string(n->text)) < 0)
		return nomem(v);
	return 0;
}

/* The keys whose default is another value, and the rules between keys. */
static int stage_rules(struct v *v, const struct snode *sm, unsigned kind, const char *scope,
	json_t *o)
{
	char g[80];
	json_t *j;
	if ((j = json_object_get(o, "template")) && json_is_null(j))
		json_object_set(o, "template", json_object_get(v->top, "template"));
	if ((j = json_object_get(o, "clip_high")) && json_is_null(j))
		json_object_set(o, "clip_high", json_object_get(o, "clip"));
	if ((j = json_object_get(o, "seed")) && json_is_null(j))
		json_object_set(o, "seed", json_object_get(v->top, "seed"));
	if (kind == SK_PRETRAIN || kind == SK_SFT) {
		size_t si = 0, ei = 0;
		const struct snode *sk = key_node(sm, "steps", &si), *ek = key_node(sm, "epochs", &ei);
		if (sk && ek)
			return si < ei ? vfail(v, ek, scope, "epochs", "cannot be combined with 'steps'") :
				vfail(v, sk, scope, "steps", "cannot be combined with 'epochs'");
		if (!sk && !ek)
			return vfail(v, sm, scope, NULL, "missing required key 'steps' (or 'epochs')");
	}
	if (kind == SK_PROBE && jint(o, "fail") > jint(o, "jobs")) {
		const struct snode *fn = snode_get(sm, "fail");
		return vfail(v, fn, scope, "fail", "expected at most jobs (%lld), got %s", jint(o, "jobs"),
			got(fn, g, sizeof g));
	}
	return 0;
}

static int check_stage(struct v *v, size_t idx, const struct snode *sm, json_t *list)
{
	static const struct key name_row = { "name", KT_NAME, 0, 0, 0, 0, 0, NULL, NULL };
	char scope[80], g[80], fa[120], desc[40];
	struct stage_info *si = &v->st[idx];
	snprintf(scope, sizeof scope, "stages[%zu]", idx);
	if (sm->type != SNODE_MAP)
		return vfail(v, sm, scope, NULL, "expected a mapping, got %s", got(sm, g, sizeof g));
	si->map = sm;
	const struct snode *nm = snode_get(sm, "name");
	if (nm && ref_ok(v, nm) && name_ok(nm->text, nm->len, false))
		snprintf(scope, sizeof scope, "stage '%s'", nm->text);
	int k = enum_peek(v, sm, spec_stage_keys, "kind");
	if (keys_known(v, sm, spec_stage_keys, k >= 0 ? 1u << k : 0, scope, "") < 0)
		return -1;
	if (!nm)
		return vfail(v, sm, scope, NULL, "missing required key 'name'");
	json_t *j = val_check(v, &name_row, nm, scope, "name");
	if (!j)
		return -1;
	json_decref(j);
	json_t *prev = json_object_get(v->stage_index, nm->text);
	if (prev)
		return vfail(v, nm, scope, NULL, "defined twice%s",
			first_at(v->st[json_integer_value(prev)].name_node, fa, sizeof fa));
	si->name_node = nm;
	si->name = nm->text;
	if (json_object_set_new(v->stage_index, nm->text, json_integer((json_int_t)idx)) < 0)
		return nomem(v);
	const struct snode *kn = snode_get(sm, "kind");
	if (!kn)
		return vfail(v, sm, scope, NULL, "missing required key 'kind'");
	if (k < 0) {
		json_decref(val_check(v, row_named(spec_stage_keys, "kind"), kn, scope, "kind"));
		return -1;
	}
	unsigned kind = si->kind = 1u << k;
	snprintf(desc, sizeof desc, "%s stages", stage_kind_name(kind));
	json_t *o = si->out = json_object();
	if (!o || json_array_append_new(list, o) < 0)
		return nomem(v);
	if (keys_kind(v, sm, spec_stage_keys, kind, desc, scope, "") < 0 ||
	    fill(v, sm, spec_stage_keys, kind, scope, "", o) < 0)
		return -1;
	json_object_set_new(o, "name", json_string(si->name));
	const struct snode *n;
	if (json_object_get(o, "from") && (n = snode_get(sm, "from")) &&
	    (n->type != SNODE_NULL || kind == SK_REJECT) &&
	    ref_value(v, n, scope, "from", "stage", o, "from") < 0)
		return -1;
	if (stage_needs(v, snode_get(sm, "needs"), scope, o) < 0)
		return -1;
	static const char *const refs[] = { "dataset", "prompts" };
	for (int r = 0; r < 2; r++)
		if (json_object_get(o, refs[r]) && ref_value(v, snode_get(sm, refs[r]), scope, refs[r],
			    "dataset", o, refs[r]) < 0)
			return -1;
	if (kind == SK_MERGE && stage_inputs(v, snode_get(sm, "inputs"), scope, o) < 0)
		return -1;
	if (json_object_get(o, "output") && stage_output(v, idx, snode_get(sm, "output"), scope, o) < 0)
		return -1;
	if (json_object_get(o, "rewards") &&
	    stage_rewards(v, snode_get(sm, "rewards"), kind, scope, o) < 0)
		return -1;
	return stage_rules(v, sm, kind, scope, o);
}

static int check_stages(struct v *v, const struct snode *n)
{
	char g[80];
	if (n->type != SNODE_SEQ || n->n == 0)
		return vfail(v, n, NULL, "stages", "expected a non-empty list, got %s", got(n, g, sizeof g));
	json_t *list = json_array();
	if (!list || json_object_set_new(v->top, "stages", list) < 0)
		return nomem(v);
	if (!(v->st = calloc(n->n, sizeof *v->st)))
		return nomem(v);
	v->n_st = n->n;
	for (size_t i = 0; i < n->n; i++)
		if (check_stage(v, i, n->items[i], list) < 0)
			return -1;
	return 0;
}

/* ---- top ---- */

static int check_top(struct v *v, const struct snode *root)
{
	char g[80];
	if (root->type != SNODE_MAP)
		return vfail(v, root, NULL, NULL, "expected a mapping at the top level, got %s",
			got(root, g, sizeof g));
	const struct snode *vn = snode_get(root, "version");
	if (vn && vn->type == SNODE_INT && vn->i != 1)
		return vfail(v, vn, NULL, "version", "unsupported version %lld (this r1flow reads version 1)",
			vn->i);
	if (vn && vn->type != SNODE_INT)
		return vfail(v, vn, NULL, "version", "expected 1, got %s", got(vn, g, sizeof g));
	if (keys_known(v, root, spec_top_keys, 0, NULL, "") < 0 ||
	    fill(v, root, spec_top_keys, 0, NULL, "", v->top) < 0)
		return -1;
	json_object_set_new(v->top, "version", json_integer(1));
	if (check_model(v, snode_get(root, "model")) < 0 ||
	    check_named(v, snode_get(root, "datasets"), "datasets", "dataset", check_dataset) < 0 ||
	    check_named(v, snode_get(root, "rewards"), "rewards", "reward", check_reward) < 0 ||
	    check_stages(v, snode_get(root, "stages")) < 0)
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
		nomem(&v);
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
