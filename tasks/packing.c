#include "packing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* Append one id at *n (written only below cap). */
static void put(int *ids, size_t cap, size_t *n, int id)
{
	if (*n < cap)
		ids[*n] = id;
	(*n)++;
}

/* Append the ids of text[0..len) at *n (written only below cap); tmp is scratch. */
static int put_text(struct tokenizer *tok, int *ids, size_t cap, size_t *n, const char *text,
	size_t len, struct hftok_ids *tmp, struct err *e)
{
	tmp->n = 0;
	if (tokenizer_encode(tok, text, len, tmp, e) < 0)
		return -1;
	for (size_t i = 0; i < tmp->n; i++)
		put(ids, cap, n, tmp->v[i]);
	return 0;
}

/* [<bos>] template(prompt) at *n: the templated prompt is one text, tokenized whole
 * as a Hugging Face tokenizer would tokenize a rendered chat template. */
static int put_templated(struct tokenizer *tok, int *ids, size_t cap, size_t *n,
	const char *tpl, const char *prompt, struct hftok_ids *tmp, struct err *e)
{
	const char *at = tpl ? strstr(tpl, "{prompt}") : NULL;
	size_t lt = tpl ? strlen(tpl) : 0, lp = strlen(prompt);
	size_t pre = at ? (size_t)(at - tpl) : lt, post = at ? lt - pre - 8 : 0;
	char *text = malloc(pre + lp + post + 1);
	if (!text)
		return err_set(e, ERR_NOMEM, "cannot template a prompt of %zu bytes: out of memory",
			lp);
	memcpy(text, tpl ? tpl : "", pre);
	memcpy(text + pre, prompt, lp);
	memcpy(text + pre + lp, at ? at + 8 : "", post);
	if (tok->add_bos)
		put(ids, cap, n, tok->bos_id);
	int rc = put_text(tok, ids, cap, n, text, pre + lp + post, tmp, e);
	free(text);
	return rc;
}

int64_t pack_prompt(struct tokenizer *tok, const char *tpl, const char *prompt, int *ids,
	size_t cap, struct err *e)
{
	size_t n = 0;
	struct hftok_ids tmp = { 0 };
	int rc = put_templated(tok, ids, cap, &n, tpl, prompt, &tmp, e);
	free(tmp.v);
	return rc < 0 ? -1 : (int64_t)n;
}

int pack_prompt_fits(size_t len, int64_t max_new, int max_seq)
{
	return max_new >= 0 && max_seq > 0 && len <= (size_t)max_seq &&
		(int64_t)len + max_new <= (int64_t)max_seq;
}

int64_t pack_example(struct tokenizer *tok, const char *tpl, const char *prompt,
	const char *response, int *ids, size_t cap, size_t *start, struct err *e)
{
	size_t n = 0;
	struct hftok_ids tmp = { 0 };
	int rc = put_templated(tok, ids, cap, &n, tpl, prompt, &tmp, e);
	*start = n;
	if (rc == 0)
		rc = put_text(tok, ids, cap, &n, response, strlen(response), &tmp, e);
	if (tok->eos_id >= 0)
		put(ids, cap, &n, tok->eos_id);
	free(tmp.v);
	return rc < 0 ? -1 : (int64_t)n;
}

int64_t pack_chat(struct tokenizer *tok, const struct chat_format *f, const struct chat *c,
	int *ids, unsigned char *mask, size_t cap, size_t *start, struct err *e)
{
	size_t n = 0, nseg = chat_render(f, c, NULL, 0);
	struct hftok_ids tmp = { 0 };
	struct chat_seg *seg = malloc((nseg ? nseg : 1) * sizeof *seg);
	char *text = NULL;
	int rc = -1;
	*start = SIZE_MAX;
	if (!seg) {
		err_set(e, ERR_NOMEM, "cannot render a chat of %zu messages: out of memory", c->n);
		goto out;
	}
	chat_render(f, c, seg, nseg);
	if (tok->add_bos) {
		if (mask && n < cap)
			mask[n] = 0;
		put(ids, cap, &n, tok->bos_id);
	}
	for (size_t i = 0, j; i < nseg; i = j) {
		int loss = seg[i].loss;
		for (j = i + 1; j < nseg && seg[j].loss == loss; j++)
			;
		size_t len;
		free(text);
		if (!(text = chat_join(seg + i, j - i, &len))) {
			err_set(e, ERR_NOMEM, "cannot render a chat of %zu messages: out of memory",
				c->n);
			goto out;
		}
		size_t from = n;
		if (put_text(tok, ids, cap, &n, text, len, &tmp, e) < 0)
			goto out;
		for (size_t k = from; mask && k < n && k < cap; k++)
			mask[k] = (unsigned char)loss;
		if (loss && n > from && *start == SIZE_MAX)
			*start = from;
	}
	rc = 0;
out:
	if (*start == SIZE_MAX)
		*start = n;
	free(text);
	free(seg);
	free(tmp.v);
	return rc < 0 ? -1 : (int64_t)n;
}

int64_t pack_document(struct tokenizer *tok, const char *text, int *ids, size_t cap,
	struct err *e)
{
	size_t n = 0;
	struct hftok_ids tmp = { 0 };
	if (tok->add_bos)
		put(ids, cap, &n, tok->bos_id);
	int rc = put_text(tok, ids, cap, &n, text, strlen(text), &tmp, e);
	if (tok->eos_id >= 0)
		put(ids, cap, &n, tok->eos_id);
	free(tmp.v);
	return rc < 0 ? -1 : (int64_t)n;
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
