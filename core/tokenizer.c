#include "tokenizer.h"

#include <string.h>

static const char *const tok_names[] = {
	"<|bos|>", "<|eos|>", "<|pad|>", "<think>", "</think>", "<answer>", "</answer>",
};

const char *tok_special_name(int id)
{
	if (id >= TOK_BOS && id < TOK_NUM_IDS)
		return tok_names[id - TOK_BOS];
	return NULL;
}

/* Id of the special token spelled at text[i..], with its length; -1 if none. */
static int tok_match_special(const char *text, size_t len, size_t i, size_t *n)
{
	if (text[i] != '<')
		return -1;
	for (int id = TOK_BOS; id < TOK_NUM_IDS; id++) {
		const char *s = tok_names[id - TOK_BOS];
		size_t k = strlen(s);
		if (k <= len - i && memcmp(text + i, s, k) == 0) {
			*n = k;
			return id;
		}
	}
	return -1;
}

size_t tok_encode(const char *text, size_t len, int *ids, size_t cap)
{
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		int id = tok_match_special(text, len, i, &n);
		if (id < 0)
			id = (unsigned char)text[i];
		if (out < cap)
			ids[out] = id;
		out++;
		i += n;
	}
	return out;
}

size_t tok_decode(const int *ids, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char byte;
		const char *s;
		size_t k;
		if (ids[i] >= 0 && ids[i] < 256) {
			byte = (char)ids[i];
			s = &byte;
			k = 1;
		} else if ((s = tok_special_name(ids[i]))) {
			k = strlen(s);
		} else {
			continue;
		}
		for (size_t j = 0; j < k; j++, len++)
			if (len + 1 < cap)
				out[len] = s[j];
	}
	if (cap)
		out[len < cap ? len : cap - 1] = '\0';
	return len;
}
