/* head — the LM head over chunks of token rows: see head.h. */
#include "head.h"

#include <assert.h>
#include <string.h>

#include "ops.h"

int head_chunk_rows(int V)
{
	int rows = HEAD_CHUNK_FLOATS / (V > 0 ? V : 1) / 32 * 32;
	return rows < HEAD_ROWS_MIN ? HEAD_ROWS_MIN : rows > HEAD_ROWS_MAX ? HEAD_ROWS_MAX : rows;
}

/* The logits of m->head_idx[0..n) into act.head, fn, and the chunk's backward. */
static void head_chunk(struct model *m, int n, bool backward, head_fn fn, void *ctx)
{
	struct model_acts *a = &m->act;
	int C = m->cfg.dim, V = m->cfg.vocab;
	const int *rows = m->head_idx;
	for (int i = 0; i < n; i++)
		memcpy(a->head_x + (size_t)i * C, a->lnf + (size_t)rows[i] * C, sizeof(float) * (size_t)C);
	matmul_forward(a->head, V, a->head_x, m->params.lm_head, n, C, V, 0.0f);
	fn(ctx, rows, n, a->head);
	if (!backward)
		return;
	/* with LoRA adapters the head is frozen: no gradient (NULL is skipped) */
	float *dw = m->lora ? NULL : m->grads.lm_head;
	matmul_backward(a->head_dx, dw, a->head, a->head_x, m->params.lm_head, n, C, V, 0.0f);
	for (int i = 0; i < n; i++)
		memcpy(a->dlnf + (size_t)rows[i] * C, a->head_dx + (size_t)i * C, sizeof(float) * (size_t)C);
}

void head_run(struct model *m, const float *w, bool backward, head_fn fn, void *ctx)
{
	int N = m->B * m->T, R = m->head_rows, n = 0;
	assert(R >= 1 && R <= m->head_cap);
	if (backward)
		memset(m->act.dlnf, 0, sizeof(float) * (size_t)N * m->cfg.dim);
	for (int r = 0; r < N; r++) {
		if (w && w[r] == 0.0f)
			continue;
		m->head_idx[n++] = r;
		if (n == R) {
			head_chunk(m, n, backward, fn, ctx);
			n = 0;
		}
	}
	if (n)
		head_chunk(m, n, backward, fn, ctx);
}

void model_logits(struct model *m, int row0, int n, float *out)
{
	assert(row0 >= 0 && n >= 0 && row0 + n <= m->B * m->T);
	int C = m->cfg.dim, V = m->cfg.vocab;
	matmul_forward(out, V, m->act.lnf + (size_t)row0 * C, m->params.lm_head, n, C, V, 0.0f);
}
