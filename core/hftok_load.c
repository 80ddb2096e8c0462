/*
 * hftok_load — tokenizer.json into a struct hftok (see hftok.h for what is accepted).
 * The vocabulary and merges go into open-addressing hash maps sized once from the
 * file, so a 150k-token file loads in one pass over each table.
 */
#include "hftok_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "file.h"

char hft_byte_chars[256][3];
static int16_t byte_of_cp[324]; /* the alphabet's code points are all below 324 */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes are themselves, the others are
 * numbered from U+0100 up in byte order */
static void bytelevel_init(void)
{
	static int done;
	if (done)
		return;
	int next = 256;
	for (int i = 0; i < 324; i++)
		byte_of_cp[i] = -1;
	for (int b = 0; b < 256; b++) {
		int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
		int cp = keep ? b : next++;
		hft_utf8_put(hft_byte_chars[b], cp);
		byte_of_cp[cp] = (int16_t)b;
	}
	done = 1;
}

int hft_char_byte(int32_t cp)
{
	return cp >= 0 && cp < 324 ? byte_of_cp[cp] : -1;
}

int hft_buf_add(struct hft_buf *b, const void *s, size_t n)
{
	if (hft_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

uint32_t hft_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h ^ (h >> 15);
}

int32_t hft_vocab_get(const struct hftok *t, const char *s, size_t n)
{
	uint32_t h = hft_hash(s, n);
	for (size_t i = h & t->vmask;; i = (i + 1) & t->vmask) {
		uint64_t v = t->vmap[i];
		if (!v)
			return -1;
		int32_t id = (int32_t)(uint32_t)v - 1;
		if ((uint32_t)(v >> 32) == h && t->toklen[id] == n && memcmp(t->tok[id], s, n) == 0)
			return id;
	}
}

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

int hft_fail(struct err *e, const char *path, const char *fmt, const char *a)
{
	char what[400];
	snprintf(what, sizeof what, fmt, a);
	return err_set(e, ERR_FORMAT, "cannot load tokenizer '%s': %s", path, what);
}

struct ventry {
	uint32_t off, len;
	int32_t id;
};

/* model.vocab's text ({"token": id, ...}) into t->arena, t->tok, t->vmap */
static int load_vocab(struct hftok *t, const char *text, size_t n, json_t *added, struct err *e)
{
	const char *p = text, *end = text + n;
	struct hft_buf arena = { 0 };
	struct ventry *v = NULL;
	size_t nv = 0, cap = 0;
	int rc = -1;
	int32_t max = -1;
	if (!text)
		return hft_fail(e, t->path, "model has no %s object", "vocab");
	/* sized once: the strings are no longer than the text, entries at most one per
	 * four bytes ("":0) */
	arena.cap = n + 1;
	cap = n / 4 + 1;
	arena.p = malloc(arena.cap);
	v = malloc(cap * sizeof *v);
	if (!arena.p || !v)
		goto nomem;
	p = hft_json_ws(p + 1, end); /* past '{': the scan checked the structure */
	while (p < end && *p == '"') {
		if (nv == cap) {
			cap = cap ? cap * 2 : 1024;
			struct ventry *nvp = realloc(v, cap * sizeof *v);
			if (!nvp)
				goto nomem;
			v = nvp;
		}
		size_t off = arena.n;
		if (hft_json_string(&p, end, &arena) < 0 || hft_buf_add(&arena, "", 1) < 0)
			goto nomem;
		p = hft_json_ws(hft_json_ws(p, end) + 1, end);
		char *q;
		long id = strtol(p, &q, 10);
		if (q == p || id < 0 || id >= (1 << 30) || (*q != ',' && *q != '}' && *q != ' ' &&
							    *q != '\n' && *q != '\r' && *q != '\t')) {
			hft_fail(e, t->path, "vocabulary entry '%s' has no valid id", arena.p + off);
			goto out;
		}
		v[nv++] = (struct ventry){ (uint32_t)off, (uint32_t)(arena.n - off - 1), (int32_t)id };
		if (id > max)
			max = (int32_t)id;
		p = hft_json_ws(q, end);
		if (p < end && *p == ',')
			p = hft_json_ws(p + 1, end);
	}
	size_t i;
	json_t *a;
	json_array_foreach(added, i, a) {
		json_int_t id = json_integer_value(json_object_get(a, "id"));
		if (!json_is_integer(json_object_get(a, "id")) || id < 0 || id >= (1 << 30)) {
			hft_fail(e, t->path, "added token %s has no valid id", "entry");
			goto out;
		}
		if (id > max)
			max = (int32_t)id;
	}
	t->nids = max + 1;
	t->tok = calloc((size_t)t->nids + 1, sizeof *t->tok);
	t->toklen = calloc((size_t)t->nids + 1, sizeof *t->toklen);
	t->is_added = calloc((size_t)t->nids + 1, 1);
	size_t hcap = 16;
	while (hcap < nv * 2 + 2)
		hcap *= 2;
	t->vmap = calloc(hcap, sizeof *t->vmap);
	t->vmask = hcap - 1;
	if (!t->tok || !t->toklen || !t->is_added || !t->vmap)
		goto nomem;
	t->arena = arena.p;
	arena.p = NULL;
	for (i = 0; i < nv; i++) {
		int32_t id = v[i].id;
		const char *k = t->arena + v[i].off;
		if (t->tok[id]) {
			hft_fail(e, t->path, "two vocabulary entries have the id of '%s'", k);
			goto out;
		}
		t->tok[id] = (char *)k;
		t->toklen[id] = v[i].len;
		uint32_t hash = hft_hash(k, v[i].len);
		size_t h = hash & t->vmask;
		for (; t->vmap[h]; h = (h + 1) & t->vmask) {
			int32_t o = (int32_t)(uint32_t)t->vmap[h] - 1;
			if (t->toklen[o] == v[i].len && !memcmp(t->tok[o], k, v[i].len)) {
				hft_fail(e, t->path, "vocabulary has '%s' twice", k);
				goto out;
			}
		}
		t->vmap[h] = (uint64_t)hash << 32 | ((uint32_t)id + 1);
	}
	rc = 0;
	goto out;
nomem:
	err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
out:
	free(arena.p);
	free(v);
	return rc;
}

/* model.merges' text (["a b", ...] or [["a", "b"], ...]) into the pair map */
static int load_merges(struct hftok *t, const char *text, size_t len, struct err *e)
{
	if (!text)
		return hft_fail(e, t->path, "model has no %s array", "merges");
	const char *p = text, *end = text + len;
	size_t n = 0; /* entries: at most one per quote pair, so count top-level commas */
	for (const char *q = p; q < end; q++)
		n += *q == '"';
	size_t cap = 16;
	while (cap < n + 2)
		cap *= 2;
	t->merge = calloc(cap, sizeof *t->merge);
	t->mmask = cap - 1;
	if (!t->merge)
		return err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
	struct hft_buf both = { 0 };
	int rc = -1;
	p = hft_json_ws(p + 1, end);
	for (size_t r = 0; p < end && *p != ']'; r++) {
		size_t na;
		both.n = 0;
		if (*p == '"') {
			if (hft_json_string(&p, end, &both) < 0)
				goto nomem;
			const char *sp = both.p ? memchr(both.p, ' ', both.n) : NULL;
			if (!sp || memchr(sp + 1, ' ', both.n - (size_t)(sp + 1 - both.p))) {
				hft_fail(e, t->path, "merge '%s' is not two tokens", both.p ? both.p : "");
				goto out;
			}
			na = (size_t)(sp - both.p);
			memmove(both.p + na, both.p + na + 1, both.n - na - 1);
			both.n--;
		} else if (*p == '[') {
			p = hft_json_ws(p + 1, end);
			if (hft_json_string(&p, end, &both) < 0)
				goto bad;
			na = both.n;
			p = hft_json_ws(p, end);
			if (*p != ',')
				goto bad;
			p = hft_json_ws(p + 1, end);
			if (hft_json_string(&p, end, &both) < 0)
				goto bad;
			p = hft_json_ws(p, end);
			if (*p != ']')
				goto bad;
			p++;
		} else
			goto bad;
		const char *a = both.p, *b = both.p + na;
		size_t nb = both.n - na;
		int32_t ia = hft_vocab_get(t, a, na), ib = hft_vocab_get(t, b, nb);
		int32_t inew = hft_vocab_get(t, both.p, both.n);
		if (ia < 0 || ib < 0 || inew < 0) {
			const char *what = ia < 0 ? a : ib < 0 ? b : both.p;
			size_t wl = ia < 0 ? na : ib < 0 ? nb : both.n;
			err_set(e, ERR_FORMAT, "cannot load tokenizer '%s': merge %zu names '%.*s', "
				"which is not in the vocabulary", t->path, r + 1, (int)(wl > 80 ? 80 : wl), what);
			goto out;
		}
		uint64_t key = (uint64_t)(ia + 1) << 32 | (uint32_t)ib;
		size_t h = mix64(key) & t->mmask;
		while (t->merge[h].key && t->merge[h].key != key)
			h = (h + 1) & t->mmask;
		if (!t->merge[h].key) /* a repeated merge keeps its first (best) rank */
			t->merge[h] = (struct hft_merge){ key, (uint32_t)r, inew };
		p = hft_json_ws(p, end);
		if (p < end && *p == ',')
			p = hft_json_ws(p + 1, end);
	}
	rc = 0;
	goto out;
bad:
	hft_fail(e, t->path, "merge %s is neither \"a b\" nor [a, b]", "entry");
	goto out;
nomem:
	err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
out:
	free(both.p);
	return rc;
}

static int load_added(struct hftok *t, json_t *added, struct err *e)
{
	size_t n = json_array_size(added), i;
	json_t *a;
	t->added = calloc(n + 1, sizeof *t->added);
	if (!t->added)
		return err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
	json_array_foreach(added, i, a) {
		struct hft_added *d = &t->added[t->nadded];
		size_t len;
		char *c = hft_jdup(json_object_get(a, "content"), &len);
		if (!c || len == 0) {
			free(c);
			return hft_fail(e, t->path, "added token %s has no content", "entry");
		}
		d->id = (int32_t)json_integer_value(json_object_get(a, "id"));
		d->special = hft_jbool(a, "special", 0);
		d->lstrip = hft_jbool(a, "lstrip", 0);
		d->rstrip = hft_jbool(a, "rstrip", 0);
		d->single_word = hft_jbool(a, "single_word", 0);
		d->normalized = hft_jbool(a, "normalized", !d->special);
		t->nadded++;
		d->raw = c;
		d->content = malloc(len + 1);
		if (!d->content)
			return err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
		memcpy(d->content, c, len + 1);
		d->len = len;
		t->tok[d->id] = c;
		t->toklen[d->id] = (uint32_t)len;
		t->is_added[d->id] = d->special ? 2 : 1;
	}
	return 0;
}

/* normalized added tokens are matched in normalized text, so in normalized form */
static int normalize_added(struct hftok *t, struct err *e)
{
	for (size_t i = 0; i < t->nadded; i++) {
		struct hft_added *d = &t->added[i];
		if (!d->normalized || !t->nnorm)
			continue;
		struct hft_buf b = { 0 };
		if (hft_normalize(t, d->content, d->len, &b) < 0 || b.n == 0) {
			free(b.p);
			return err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", t->path);
		}
		free(d->content);
		d->content = b.p;
		d->len = b.n;
	}
	return 0;
}

struct added_key {
	unsigned char c;
	uint32_t len, i;
};

/* by first byte, then longest first, then file order */
static int added_order(const void *pa, const void *pb)
{
	const struct added_key *a = pa, *b = pb;
	if (a->c != b->c)
		return a->c < b->c ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return a->i < b->i ? -1 : 1;
}

/* the first-byte index of the added tokens (as matched), each bucket longest first */
static int index_added(struct hftok *t)
{
	struct added_key *k = malloc((t->nadded + 1) * sizeof *k);
	t->aidx = malloc((t->nadded + 1) * sizeof *t->aidx);
	if (!k || !t->aidx) {
		free(k);
		return -1;
	}
	memset(t->abyte, 0, sizeof t->abyte);
	for (size_t i = 0; i < t->nadded; i++) {
		k[i] = (struct added_key){ (unsigned char)t->added[i].content[0],
					   (uint32_t)t->added[i].len, (uint32_t)i };
		t->abyte[k[i].c + 1]++;
	}
	for (int c = 0; c < 256; c++)
		t->abyte[c + 1] += t->abyte[c];
	qsort(k, t->nadded, sizeof *k, added_order);
	for (size_t i = 0; i < t->nadded; i++)
		t->aidx[i] = k[i].i;
	free(k);
	return 0;
}

struct hftok *hftok_load(const char *path, struct err *e)
{
	bytelevel_init();
	struct hftok *t = calloc(1, sizeof *t);
	json_t *root = NULL;
	char *doc = NULL, *rest = NULL;
	const char *vtext = NULL, *mtext = NULL;
	size_t nvtext = 0, nmtext = 0, restn = 0;
	if (!t || !(t->path = strdup(path))) {
		err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", path);
		goto fail;
	}
	t->unk = -1;
	json_error_t je;
	size_t docn;
	if (file_read(path, (size_t)1 << 30, &doc, &docn, e) < 0)
		goto fail; /* the message names the file */
	if (!(rest = hft_json_split(doc, docn, &restn, &vtext, &nvtext, &mtext, &nmtext))) {
		err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", path);
		goto fail;
	}
	root = json_loadb(rest, restn, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		err_set(e, ERR_FORMAT, "cannot load tokenizer '%s': line %d: %s", path, je.line,
			je.text);
		goto fail;
	}
	json_t *model = json_object_get(root, "model");
	if (!json_is_object(model)) {
		hft_fail(e, path, "no %s object", "model");
		goto fail;
	}
	const char *mty = json_string_value(json_object_get(model, "type"));
	if (!mty && json_is_array(json_object_get(model, "merges")))
		mty = "BPE";
	if (!mty || strcmp(mty, "BPE")) {
		hft_fail(e, path, "model type '%s' is not supported (only BPE)", mty ? mty : "(none)");
		goto fail;
	}
	const char *csp = json_string_value(json_object_get(model, "continuing_subword_prefix"));
	const char *eow = json_string_value(json_object_get(model, "end_of_word_suffix"));
	if ((csp && *csp) || (eow && *eow)) {
		hft_fail(e, path, "BPE %s is not supported", csp && *csp ? "continuing_subword_prefix" :
		     "end_of_word_suffix");
		goto fail;
	}
	json_t *dropout = json_object_get(model, "dropout");
	if (json_number_value(dropout) > 0) {
		hft_fail(e, path, "BPE %s is not supported (it makes the ids random)", "dropout");
		goto fail;
	}
	json_t *added = json_object_get(root, "added_tokens");
	if (added && !json_is_array(added)) {
		hft_fail(e, path, "%s is not an array", "added_tokens");
		goto fail;
	}
	if (load_vocab(t, vtext, nvtext, added, e) < 0 ||
	    load_merges(t, mtext, nmtext, e) < 0)
		goto fail;
	t->byte_fallback = hft_jbool(model, "byte_fallback", 0);
	t->ignore_merges = hft_jbool(model, "ignore_merges", 0);
	t->fuse_unk = hft_jbool(model, "fuse_unk", 0);
	json_t *unk = json_object_get(model, "unk_token");
	if (json_is_string(unk)) {
		t->unk = hft_vocab_get(t, json_string_value(unk), json_string_length(unk));
		if (t->unk < 0) {
			hft_fail(e, path, "unk_token '%s' is not in the vocabulary", json_string_value(unk));
			goto fail;
		}
	}
	/* the match data first: normalizing the added tokens runs the normalizer's regexes */
	t->md = pcre2_match_data_create(16, NULL);
	t->cache_mask = 16383;
	t->cache = calloc(t->cache_mask + 1, sizeof *t->cache);
	if (!t->md || !t->cache) {
		err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", path);
		goto fail;
	}
	if (load_added(t, added, e) < 0 || hft_load_parts(t, root, e) < 0 ||
	    normalize_added(t, e) < 0)
		goto fail;
	if (index_added(t) < 0) {
		err_set(e, ERR_NOMEM, "cannot load tokenizer '%s': out of memory", path);
		goto fail;
	}
	json_decref(root);
	free(doc);
	free(rest);
	return t;
fail:
	json_decref(root);
	free(doc);
	free(rest);
	hftok_free(t);
	return NULL;
}

void hftok_free(struct hftok *t)
{
	if (!t)
		return;
	free(t->arena);
	free(t->tok);
	free(t->toklen);
	free(t->vmap);
	free(t->merge);
	for (size_t i = 0; i < t->nadded; i++) {
		free(t->added[i].raw);
		free(t->added[i].content);
	}
	free(t->added);
	free(t->is_added);
	free(t->aidx);
	hft_free_steps(t->norm, t->nnorm);
	hft_free_steps(t->pre, t->npre);
	hft_free_steps(t->dec, t->ndec);
	free(t->bos);
	free(t->eos);
	pcre2_match_data_free(t->md);
	for (size_t i = 0; t->cache && i <= t->cache_mask; i++) {
		free(t->cache[i].word);
		free(t->cache[i].ids);
	}
	free(t->cache);
	free(t->path);
	free(t);
}

int32_t hftok_vocab_size(const struct hftok *t)
{
	return t->nids;
}

int32_t hftok_token_id(const struct hftok *t, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < t->nadded; i++)
		if (t->toklen[t->added[i].id] == n && !memcmp(t->tok[t->added[i].id], s, n))
			return t->added[i].id;
	return hft_vocab_get(t, s, n);
}

const char *hftok_id_token(const struct hftok *t, int32_t id)
{
	return id >= 0 && id < t->nids ? t->tok[id] : NULL;
}

int32_t hftok_template_bos(const struct hftok *t)
{
	return t->nbos ? t->bos[0] : -1;
}

int hftok_is_special(const struct hftok *t, int32_t id)
{
	return id >= 0 && id < t->nids && t->is_added[id] == 2;
}
