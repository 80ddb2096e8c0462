#include "packing.h"

#include <string.h>

#include "tokenizer.h"

/* Append one id at *n (written only below cap). */
static void put(int *ids, size_t cap, size_t *n, int id)
{
	if (*n < cap)
		ids[*n] = id;
	(*n)++;
}

/* Append the ids of text[0..len) at *n (written only below cap). */
static void put_text(int *ids, size_t cap, size_t *n, const char *text, size_t len)
{
	size_t room = *n < cap ? cap - *n : 0;
	*n += tok_encode(text, len, room ? ids + *n : NULL, room);
}

/* <bos> template(prompt) at *n. */
static void put_templated(int *ids, size_t cap, size_t *n, const char *tpl,
	const char *prompt, int bos)
{
	const char *at = tpl ? strstr(tpl, "{prompt}") : NULL;
	put(ids, cap, n, bos);
	if (at)
		put_text(ids, cap, n, tpl, (size_t)(at - tpl));
	else if (tpl)
		put_text(ids, cap, n, tpl, strlen(tpl));
	put_text(ids, cap, n, prompt, strlen(prompt));
	if (at)
		put_text(ids, cap, n, at + 8, strlen(at + 8));
}

size_t pack_prompt(const char *tpl, const char *prompt, int bos, int *ids, size_t cap)
{
	size_t n = 0;
	put_templated(ids, cap, &n, tpl, prompt, bos);
	return n;
}

int pack_prompt_fits(size_t len, int64_t max_new, int max_seq)
{
	return max_new >= 0 && max_seq > 0 && len <= (size_t)max_seq &&
		(int64_t)len + max_new <= (int64_t)max_seq;
}

size_t pack_example(const char *tpl, const char *prompt, const char *response, int bos,
	int eos, int *ids, size_t cap, size_t *start)
{
	size_t n = 0;
	put_templated(ids, cap, &n, tpl, prompt, bos);
	*start = n;
	put_text(ids, cap, &n, response, strlen(response));
	put(ids, cap, &n, eos);
	return n;
}

size_t pack_document(const char *text, int bos, int eos, int *ids, size_t cap)
{
	size_t n = 0;
	put(ids, cap, &n, bos);
	put_text(ids, cap, &n, text, strlen(text));
	put(ids, cap, &n, eos);
	return n;
}

int64_t pack_windows(int64_t n, int max_seq)
{
	if (n <= max_seq)
		return 1;
	int64_t stride = max_seq - 1;
	return 1 + (n - max_seq + stride - 1) / stride;
}

int64_t pack_window_start(int64_t w, int max_seq)
{
	return w * (int64_t)(max_seq - 1);
}
