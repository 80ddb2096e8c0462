/*
 * refdir — a tests/ref program's PyTorch reference: the directory its script writes,
 * the reads of the tensors in it and the comparisons against them.
 *
 * refdir_make runs tests/ref/SCRIPT with Debian's /usr/bin/python3 (which must import
 * every module of `imports`, e.g. "torch, numpy") into a fresh directory under
 * R1FLOW_TEST_TMP (the program's main calls it once, before the tests fork); it prints
 * what failed and returns -1 otherwise. refdir_remove removes the directory and its
 * subdirectories (one level: the scripts' variants) — main calls it only when every
 * test passed, and prints the path otherwise, so a failure can be looked at.
 *
 * The ref_read_* functions fail the test (CHECK) on a missing tensor or another
 * value count. The ref_check_* functions print one line per comparison and return
 * whether it held; each program sets its tolerances (test_ref.c says why they are
 * what they are):
 *   ref_check_tensor    max |got - ref| over the entries `valid` selects (NULL: all)
 *                       <= tol; NaN fails; also prints the max relative diff, with
 *                       |ref| + 1e-3·max|ref| below so near-zero entries do not rule it
 *   ref_check_stat      |got - ref| <= rtol·max(1, |ref|)
 */
#ifndef R1_TEST_REFDIR_H
#define R1_TEST_REFDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "safetensors.h"

int refdir_make(const char *prog, const char *script, const char *imports, char *dir,
	size_t cap);
void refdir_remove(const char *dir);

float *ref_read_f32(struct st_file *st, const char *name, size_t numel);
int *ref_read_i32(struct st_file *st, const char *name, size_t numel);
double ref_scalar(struct st_file *st, const char *name);

bool ref_check_tensor(const char *label, const float *got, const float *ref, size_t n,
	const bool *valid, double tol);
bool ref_check_stat(const char *label, double got, double ref, double rtol);
double ref_max_abs(const float *x, size_t n);

/* valid[b, t] = t < lengths[b] - shift, repeated for `inner` values per position;
 * caller frees. */
bool *ref_valid_positions(int B, int T, const int *lengths, int shift, size_t inner);

#endif
