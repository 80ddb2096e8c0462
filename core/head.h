/*
 * head — the LM head over chunks of token rows, so that batch × seq × vocab logits
 * never exist whole (a 150k vocabulary at 8 × 1024 tokens would be 5 GB of fp32).
 *
 * After model_forward the model holds lnf (B, T, C), the final norm's output. A
 * head pass walks the rows of the last forward in row order, takes the next
 * m->head_rows of them that count (w != 0; every row when w is NULL), gathers their
 * lnf rows, computes their logits z = lnf · lm_headᵀ into act.head (head_rows, V)
 * and hands the chunk to a callback (the losses of loss.h, the log-probs). A
 * backward pass then expects the callback to have turned z into d(loss)/dz in
 * place, and back-propagates the chunk at once:
 *   act.dlnf[rows] = dz · lm_head        (rows not in any chunk stay zero)
 *   grads.lm_head += dzᵀ · lnf[rows]
 * so model_backward continues from act.dlnf. The chunk size is head_chunk_rows(V),
 * a function of the vocabulary alone, and chunks are cut by w alone: every chunk,
 * hence every sum, is the same whatever the thread or worker count.
 *
 * Ownership: the scratch (act.head, head_x, head_dx, dlnf, head_idx) belongs to the
 * model (model_init sizes it); a callback may write its z rows and nothing else of
 * the model's activations.
 */
#ifndef R1_HEAD_H
#define R1_HEAD_H

#include <stdbool.h>

#include "model.h"

/* ~64 MiB of logits a chunk: rows = this / V, rounded down to a multiple of 32,
 * within [HEAD_ROWS_MIN, HEAD_ROWS_MAX] (a GEMM of fewer rows wastes the packing of
 * lm_head; more rows than that gain nothing). */
#define HEAD_CHUNK_FLOATS (1 << 24)
#define HEAD_ROWS_MIN 64
#define HEAD_ROWS_MAX 1024

/* Rows of a head chunk for a vocabulary of V ids: 320 for 49152, 96 for 151936. */
int head_chunk_rows(int V);

/*
 * A chunk: z (n, V) holds the logits of rows rows[0..n) of the last forward
 * (indices into its B·T positions, increasing). In a backward pass the callback
 * leaves d(loss)/dz in z.
 */
typedef void (*head_fn)(void *ctx, const int *rows, int n, float *z);

/* Run fn over the rows with w[row] != 0 (all rows: w NULL), chunk by chunk (see
 * above); with backward, act.dlnf is zeroed first and each chunk back-propagated. */
void head_run(struct model *m, const float *w, bool backward, head_fn fn, void *ctx);

#endif
