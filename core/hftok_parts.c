/*
 * hftok_parts — the components of a tokenizer.json around the model: normalizer,
 * pre-tokenizer and decoder (a Sequence flattened into the handle's step arrays) and
 * the post-processor (the BOS/EOS ids of its `single` template). An unknown type is
 * refused by name: running a tokenizer with a step silently skipped would give ids
 * the model was never trained on.
 */
#include "hftok_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

const char *hft_type_of(json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "type"));
	return s ? s : "(no type)";
}

int hft_jbool(json_t *o, const char *k, int dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

char *hft_jdup(json_t *v, size_t *len)
{
	const char *s = json_string_value(v);
	if (!s)
		return NULL;
	*len = json_string_length(v);
	char *d = malloc(*len + 1);
	if (d)
		memcpy(d, s, *len + 1);
	return d;
}

/* a {"String": s} or {"Regex": r} pattern, compiled */
static pcre2_code *pattern(json_t *p, const char *path, struct err *e)
{
	json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
	if (!json_is_string(s) && !json_is_string(r)) {
		hft_fail(e, path, "%s pattern is neither String nor Regex", "a");
		return NULL;
	}
	json_t *v = json_is_string(s) ? s : r;
	uint32_t opt = PCRE2_UTF | (json_is_string(s) ? PCRE2_LITERAL : PCRE2_UCP);
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)json_string_value(v), json_string_length(v),
				       opt, &code, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof msg);
		err_set(e, ERR_FORMAT, "cannot load tokenizer '%s': bad regex at offset %zu: %s",
			path, (size_t)off, (char *)msg);
		return NULL;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* a speed-up only: falls back if absent */
	return re;
}

static const char *gpt2_regex =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static struct hft_step *push_step(struct hft_step **v, size_t *n)
{
	struct hft_step *p = realloc(*v, (*n + 1) * sizeof **v);
	if (!p)
		return NULL;
	*v = p;
	memset(&p[*n], 0, sizeof **v);
	return &p[(*n)++];
}

enum part { PART_NORM, PART_PRE, PART_DEC };
static const char *part_name[] = { "normalizer", "pre-tokenizer", "decoder" };

static int add_steps(struct hftok *t, enum part part, json_t *o, struct err *e)
{
	if (json_is_null(o) || !o)
		return 0;
	if (!json_is_object(o))
		return hft_fail(e, t->path, "%s is not an object", part_name[part]);
	const char *ty = hft_type_of(o);
	if (strcmp(ty, "Sequence") == 0) {
		json_t *list = json_object_get(o, part == PART_NORM ? "normalizers" :
					       part == PART_PRE ? "pretokenizers" : "decoders");
		if (!json_is_array(list))
			return hft_fail(e, t->path, "%s Sequence has no list", part_name[part]);
		size_t i;
		json_t *c;
		json_array_foreach(list, i, c)
			if (add_steps(t, part, c, e) < 0)
				return -1;
		return 0;
	}
	struct hft_step **v = part == PART_NORM ? &t->norm : part == PART_PRE ? &t->pre : &t->dec;
	size_t *n = part == PART_NORM ? &t->nnorm : part == PART_PRE ? &t->npre : &t->ndec;
	struct hft_step *s = push_step(v, n);
	if (!s)
		return err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
	int known = 1;
	if (part == PART_NORM) {
		if (!strcmp(ty, "NFC")) s->kind = NORM_NFC;
		else if (!strcmp(ty, "NFD")) s->kind = NORM_NFD;
		else if (!strcmp(ty, "NFKC")) s->kind = NORM_NFKC;
		else if (!strcmp(ty, "NFKD")) s->kind = NORM_NFKD;
		else if (!strcmp(ty, "Lowercase")) s->kind = NORM_LOWER;
		else if (!strcmp(ty, "Prepend")) {
			s->kind = NORM_PREPEND;
			if (!(s->str = hft_jdup(json_object_get(o, "prepend"), &s->len)))
				return hft_fail(e, t->path, "%s normalizer has no string", ty);
		} else if (!strcmp(ty, "Replace")) {
			s->kind = NORM_REPLACE;
			if (!(s->str = hft_jdup(json_object_get(o, "content"), &s->len)))
				return hft_fail(e, t->path, "%s normalizer has no content", ty);
			if (!(s->re = pattern(json_object_get(o, "pattern"), t->path, e)))
				return -1;
		} else if (!strcmp(ty, "Strip")) {
			s->kind = NORM_STRIP;
			s->a = hft_jbool(o, "strip_left", 1);
			s->b = hft_jbool(o, "strip_right", 1);
		} else
			known = 0;
	} else if (part == PART_PRE) {
		if (!strcmp(ty, "ByteLevel")) {
			s->kind = PRE_BYTELEVEL;
			s->a = hft_jbool(o, "add_prefix_space", 1);
			s->b = hft_jbool(o, "use_regex", 1);
			if (s->b) {
				json_t *p = json_pack("{ss}", "Regex", gpt2_regex);
				s->re = p ? pattern(p, t->path, e) : NULL;
				json_decref(p);
				if (!s->re)
					return -1;
			}
		} else if (!strcmp(ty, "Split")) {
			s->kind = PRE_SPLIT;
			if (!(s->re = pattern(json_object_get(o, "pattern"), t->path, e)))
				return -1;
			const char *b = json_string_value(json_object_get(o, "behavior"));
			static const char *names[] = { "Isolated", "Removed", "MergedWithPrevious",
						       "MergedWithNext", "Contiguous" };
			s->behavior = -1;
			for (int k = 0; b && k < 5; k++)
				if (!strcmp(b, names[k]))
					s->behavior = k;
			if (s->behavior < 0)
				return hft_fail(e, t->path, "unknown Split behavior '%s'", b ? b : "(none)");
			s->invert = hft_jbool(o, "invert", 0);
		} else if (!strcmp(ty, "Metaspace")) {
			s->kind = PRE_METASPACE;
			if (!(s->str = hft_jdup(json_object_get(o, "replacement"), &s->len)) || !s->len)
				return hft_fail(e, t->path, "%s pre-tokenizer has no replacement", ty);
			const char *ps = json_string_value(json_object_get(o, "prepend_scheme"));
			if (ps)
				s->a = !strcmp(ps, "always") ? 2 : !strcmp(ps, "first") ? 1 :
				       !strcmp(ps, "never") ? 0 : -1;
			else
				s->a = hft_jbool(o, "add_prefix_space", 1) ? 2 : 0;
			if (s->a < 0)
				return hft_fail(e, t->path, "unknown Metaspace prepend_scheme '%s'", ps);
			s->b = hft_jbool(o, "split", 1);
		} else if (!strcmp(ty, "Digits")) {
			s->kind = PRE_DIGITS;
			s->a = hft_jbool(o, "individual_digits", 0);
		} else
			known = 0;
	} else {
		if (!strcmp(ty, "ByteLevel")) s->kind = DEC_BYTELEVEL;
		else if (!strcmp(ty, "ByteFallback")) s->kind = DEC_BYTEFALLBACK;
		else if (!strcmp(ty, "Fuse")) s->kind = DEC_FUSE;
		else if (!strcmp(ty, "Strip")) {
			s->kind = DEC_STRIP;
			if (!(s->str = hft_jdup(json_object_get(o, "content"), &s->len)))
				return hft_fail(e, t->path, "%s decoder has no content", ty);
			s->a = (int)json_integer_value(json_object_get(o, "start"));
			s->b = (int)json_integer_value(json_object_get(o, "stop"));
		} else if (!strcmp(ty, "Replace")) {
			s->kind = DEC_REPLACE;
			if (!(s->str = hft_jdup(json_object_get(o, "content"), &s->len)))
				return hft_fail(e, t->path, "%s decoder has no content", ty);
			if (!(s->re = pattern(json_object_get(o, "pattern"), t->path, e)))
				return -1;
		} else if (!strcmp(ty, "Metaspace")) {
			s->kind = DEC_METASPACE;
			if (!(s->str = hft_jdup(json_object_get(o, "replacement"), &s->len)))
				return hft_fail(e, t->path, "%s decoder has no replacement", ty);
			const char *ps = json_string_value(json_object_get(o, "prepend_scheme"));
			s->a = ps ? strcmp(ps, "never") != 0 : hft_jbool(o, "add_prefix_space", 1);
		} else
			known = 0;
	}
	if (!known) {
		char what[200];
		snprintf(what, sizeof what, "%s type '%s'", part_name[part], ty);
		return hft_fail(e, t->path, "unsupported %s", what);
	}
	return 0;
}

static int load_post(struct hftok *t, json_t *o, struct err *e)
{
	if (!o || json_is_null(o))
		return 0;
	const char *ty = hft_type_of(o);
	if (!strcmp(ty, "Sequence")) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(o, "processors"), i, c)
			if (load_post(t, c, e) < 0)
				return -1;
		return 0;
	}
	if (!strcmp(ty, "ByteLevel"))
		return 0; /* offsets only */
	if (strcmp(ty, "TemplateProcessing"))
		return hft_fail(e, t->path, "unsupported post-processor type '%s'", ty);
	json_t *single = json_object_get(o, "single"), *specials = json_object_get(o, "special_tokens");
	size_t i;
	json_t *it;
	int seen_a = 0;
	json_array_foreach(single, i, it) {
		json_t *sp = json_object_get(it, "SpecialToken");
		if (!sp) {
			seen_a = 1;
			continue;
		}
		const char *name = json_string_value(json_object_get(sp, "id"));
		json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
		if (!json_is_array(ids))
			return hft_fail(e, t->path, "template token '%s' is not in special_tokens",
				    name ? name : "(none)");
		size_t j;
		json_t *id;
		json_array_foreach(ids, j, id) {
			int32_t **v = seen_a ? &t->eos : &t->bos;
			size_t *n = seen_a ? &t->neos : &t->nbos;
			int32_t *p = realloc(*v, (*n + 1) * sizeof *p);
			if (!p)
				return err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
			p[(*n)++] = (int32_t)json_integer_value(id);
			*v = p;
		}
	}
	return 0;
}

void hft_free_steps(struct hft_step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].str);
		pcre2_code_free(s[i].re);
	}
	free(s);
}

int hft_load_parts(struct hftok *t, json_t *root, struct err *e)
{
	if (add_steps(t, PART_NORM, json_object_get(root, "normalizer"), e) < 0 ||
	    add_steps(t, PART_PRE, json_object_get(root, "pre_tokenizer"), e) < 0 ||
	    add_steps(t, PART_DEC, json_object_get(root, "decoder"), e) < 0)
		return -1;
	return load_post(t, json_object_get(root, "post_processor"), e);
}
