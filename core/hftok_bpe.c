/*
 * hftok_bpe — the BPE model on the words the pre-tokenizers left: for each, the ids of
 * its characters (or of their bytes with byte_fallback, or unk), then the merges of the
 * merge table in rank order, as the reference library's BPE model; with ignore_merges a
 * word that is in the vocabulary is its id.
 *
 * hft_bpe appends the ids of a list of pieces to a struct hftok_ids. A word's merges go
 * through a priority queue, as the library's, so a long word costs O(m log m) rather
 * than a rescan per merge. The ids of each word of up to 256 bytes are kept in the
 * handle's two-way word cache (t->cache), which is why hft_bpe takes the handle
 * non-const: an encode changes it.
 */
#include "hftok_impl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* room for n more ids in o */
static int ids_reserve(struct hftok_ids *o, size_t n)
{
	if (o->n + n <= o->cap)
		return 0;
	size_t cap = o->cap ? o->cap : 64;
	while (cap < o->n + n)
		cap *= 2;
	int32_t *v = realloc(o->v, cap * sizeof *v);
	if (!v)
		return -1;
	o->v = v;
	o->cap = cap;
	return 0;
}

static int merge_get(const struct hftok *t, int32_t a, int32_t b, uint32_t *rank, int32_t *new)
{
	uint64_t key = (uint64_t)(a + 1) << 32 | (uint32_t)b;
	uint64_t k = key;
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	for (size_t h = k & t->mmask;; h = (h + 1) & t->mmask) {
		if (!t->merge[h].key)
			return 0;
		if (t->merge[h].key == key) {
			*rank = t->merge[h].rank;
			*new = t->merge[h].new;
			return 1;
		}
	}
}

/* Scratch space of one hft_bpe call for the merges of its words: the symbols as a
 * doubly linked list over an array, and a binary min-heap of candidate merges. */
struct bpe_sym {
	int32_t id;
	int32_t prev, next; /* -1: none */
	int alive;
};

struct bpe_cand {
	uint64_t key;       /* rank << 32 | position of the left symbol: the heap's order */
	int32_t new;
};

struct bpe_work {
	struct bpe_sym *sym;
	struct bpe_cand *heap;
	size_t nsym, symcap, nheap, heapcap;
};

static int heap_push(struct bpe_work *w, uint32_t rank, size_t pos, int32_t new)
{
	if (w->nheap == w->heapcap) {
		size_t cap = w->heapcap ? w->heapcap * 2 : 64;
		struct bpe_cand *h = realloc(w->heap, cap * sizeof *h);
		if (!h)
			return -1;
		w->heap = h;
		w->heapcap = cap;
	}
	struct bpe_cand c = { (uint64_t)rank << 32 | pos, new };
	size_t i = w->nheap++;
	while (i > 0 && w->heap[(i - 1) / 2].key > c.key) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = c;
	return 0;
}

static struct bpe_cand heap_pop(struct bpe_work *w)
{
	struct bpe_cand top = w->heap[0], last = w->heap[--w->nheap];
	size_t i = 0, n = w->nheap;
	for (;;) {
		size_t k = 2 * i + 1;
		if (k >= n)
			break;
		if (k + 1 < n && w->heap[k + 1].key < w->heap[k].key)
			k++;
		if (w->heap[k].key >= last.key)
			break;
		w->heap[i] = w->heap[k];
		i = k;
	}
	if (n)
		w->heap[i] = last;
	return top;
}

/* The merges of the symbols sym[0..m): the best-ranked applicable merge first, the
 * leftmost of equal ranks, as the reference library's Word::merge_all with its queue of
 * (rank, position, merged id) candidates. A candidate is stale when its left symbol was
 * merged away, has no right neighbour any more, or the pair there now merges into
 * another id; stale candidates are dropped when they come up. O(m log m) where a rescan
 * per merge would be O(m^2) (words of thousands of bytes occur). Returns the new m. */
static ssize_t bpe_merge(const struct hftok *t, struct bpe_work *w, int32_t *ids, size_t m)
{
	if (m < 2)
		return (ssize_t)m;
	if (m > w->symcap) {
		struct bpe_sym *s = realloc(w->sym, m * sizeof *s);
		if (!s)
			return -1;
		w->sym = s;
		w->symcap = m;
	}
	struct bpe_sym *sym = w->sym;
	w->nheap = 0;
	for (size_t i = 0; i < m; i++)
		sym[i] = (struct bpe_sym){ ids[i], (int32_t)i - 1, i + 1 < m ? (int32_t)i + 1 : -1, 1 };
	uint32_t r;
	int32_t nw;
	for (size_t i = 0; i + 1 < m; i++)
		if (merge_get(t, ids[i], ids[i + 1], &r, &nw) && heap_push(w, r, i, nw) < 0)
			return -1;
	while (w->nheap) {
		struct bpe_cand c = heap_pop(w);
		size_t pos = (size_t)(uint32_t)c.key;
		struct bpe_sym *a = &sym[pos];
		if (!a->alive || a->next < 0)
			continue;
		struct bpe_sym *b = &sym[a->next];
		if (!merge_get(t, a->id, b->id, &r, &nw) || nw != c.new)
			continue;
		a->id = c.new;
		a->next = b->next;
		b->alive = 0;
		if (a->next >= 0)
			sym[a->next].prev = (int32_t)pos;
		if (a->prev >= 0 && merge_get(t, sym[a->prev].id, a->id, &r, &nw) &&
		    heap_push(w, r, (size_t)a->prev, nw) < 0)
			return -1;
		if (a->next >= 0 && merge_get(t, a->id, sym[a->next].id, &r, &nw) &&
		    heap_push(w, r, pos, nw) < 0)
			return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < m; i++)
		if (sym[i].alive)
			ids[k++] = sym[i].id;
	return (ssize_t)k;
}

/* the cache slot of a word: 8 bytes at a time (words are short, and this runs once per
 * word of the text) */
static uint64_t word_hash(const char *s, size_t n)
{
	uint64_t h = n * 0x9E3779B97F4A7C15ull, x;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&x, s, 8);
		h = (h ^ x) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	x = 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)(unsigned char)s[i] << (8 * i);
	h = (h ^ x) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 32);
}

static int bpe_word(struct hftok *t, struct bpe_work *wk, const char *w, size_t n,
		    struct hftok_ids *out)
{
	/* The cache is two-way: a word's pair of slots holds the last two of its words
	 * used, the more recent first (a word sharing a slot with a common one would
	 * otherwise be merged again at each use). */
	struct hft_cache_ent *ce = NULL;
	if (n <= 256) {
		ce = &t->cache[word_hash(w, n) & t->cache_mask & ~(size_t)1];
		for (int k = 0; k < 2 && t->cache_mask; k++) {
			if (!ce[k].word || ce[k].len != n || memcmp(ce[k].word, w, n))
				continue;
			if (ids_reserve(out, ce[k].nids) < 0)
				return -1;
			memcpy(out->v + out->n, ce[k].ids, ce[k].nids * sizeof *ce[k].ids);
			out->n += ce[k].nids;
			if (k) {
				struct hft_cache_ent tmp = ce[0];
				ce[0] = ce[1];
				ce[1] = tmp;
			}
			return 0;
		}
	}
	size_t start = out->n;
	int32_t whole = t->ignore_merges ? hft_vocab_get(t, w, n) : -1;
	if (whole >= 0) {
		if (hft_ids_push(out, whole) < 0)
			return -1;
		goto cache;
	}
	int32_t unk = -1;
	for (size_t i = 0, len; i < n; i += len) {
		hft_utf8_next(w + i, n - i, &len);
		int32_t id = hft_vocab_get(t, w + i, len);
		if (id >= 0) {
			if (unk >= 0 && hft_ids_push(out, unk) < 0)
				return -1;
			unk = -1;
			if (hft_ids_push(out, id) < 0)
				return -1;
			continue;
		}
		if (t->byte_fallback) {
			int32_t bid[4];
			size_t k;
			for (k = 0; k < len; k++) {
				char name[8];
				static const char hex[] = "0123456789ABCDEF";
				unsigned char c = (unsigned char)w[i + k];
				memcpy(name, "<0x", 3);
				name[3] = hex[c >> 4];
				name[4] = hex[c & 15];
				name[5] = '>';
				if ((bid[k] = hft_vocab_get(t, name, 6)) < 0)
					break;
			}
			if (k == len) {
				for (k = 0; k < len; k++)
					if (hft_ids_push(out, bid[k]) < 0)
						return -1;
				continue;
			}
		}
		if (t->unk >= 0) {
			if (unk >= 0 && !t->fuse_unk && hft_ids_push(out, unk) < 0)
				return -1;
			unk = t->unk;
		}
	}
	if (unk >= 0 && hft_ids_push(out, unk) < 0)
		return -1;
	ssize_t m = bpe_merge(t, wk, out->v + start, out->n - start);
	if (m < 0)
		return -1;
	out->n = start + (size_t)m;
cache:
	if (ce) {
		char *cw = malloc(n + 1);
		int32_t *ci = malloc((out->n - start) * sizeof *ci + 1);
		if (!cw || !ci) {
			free(cw);
			free(ci);
			return 0; /* no cache entry: still a correct result */
		}
		if (t->cache_mask) { /* the older of the two goes */
			free(ce[1].word);
			free(ce[1].ids);
			ce[1] = ce[0];
		} else {
			free(ce->word);
			free(ce->ids);
		}
		memcpy(cw, w, n);
		memcpy(ci, out->v + start, (out->n - start) * sizeof *ci);
		*ce = (struct hft_cache_ent){ cw, n, ci, (uint32_t)(out->n - start) };
	}
	return 0;
}

int hft_bpe(struct hftok *t, const char *text, const struct hft_piece *v, size_t n,
	    struct hftok_ids *out)
{
	struct bpe_work wk = { 0 };
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct hft_piece p = v[i];
		if ((p.id >= 0 ? hft_ids_push(out, p.id) : bpe_word(t, &wk, text + p.off, p.len, out)) < 0) {
			rc = -1;
			break;
		}
	}
	free(wk.sym);
	free(wk.heap);
	return rc;
}
