/*
 * mathans — the math reward's final answer: found in a completion, then compared by
 * value with the reference answer (docs/rewards.md, "math").
 *
 * Extraction (mathans_extract, mathans_extract.c). The steps of the spec's `extract:`
 * list (names.h's NAMES_EXTRACT) are tried in order; the first that finds a non-blank
 * answer gives it:
 *   answer_tag   ANSWER of a well-formed completion (rewards.h's grammar); the caller
 *                parses the grammar and passes the answer, or NULL when ill-formed
 *   boxed        the content of the last balanced \boxed{...} (the one that opens
 *                last; \{ and \} are not braces)
 *   hash         what follows the last "####", to the end of its line or the first
 *                special spelling (<|eos|>, </answer>, ...)
 *   last_number  the last number: digits with ',' or '.' between digits, a '-' in
 *                front when no letter or digit precedes it, and "a/b" taken whole
 * Each step is one linear scan with constant memory: a completion of any size, with
 * any nesting, costs time linear in its length.
 *
 * Comparison (mathans_equal, mathans.c). Both sides are first reduced the same way
 * (mathans_side): what follows the last "####" if there is one, else the last \boxed{}
 * content if there is one, else the whole text; trimmed. A side longer than
 * MATHANS_MAX_LEN bytes after that is compared byte for byte. Otherwise each side is
 * normalised — \left \right \displaystyle and LaTeX spacing dropped; \dfrac \tfrac
 * become \frac; \text{} \mathrm{} \textbf{} \mbox{} ... keep their content; degrees
 * (^\circ, °) dropped; $...$, \(...\), \[...\] unwrapped; a trailing '.' dropped; a
 * leading "x =" dropped; a currency sign ($ € £ ¥) before the number dropped; a unit
 * after it dropped (words of letters, '/', '^n', after a space or of two letters or
 * more: "42 cm", "5 km/h", "3cm^2", but not "5x"), and a trailing \text{} unit with a
 * two-letter word after any expression ("\frac{1}{2}\text{ cups}"); a trailing % noted;
 * "1,234,567" (groups of three) read as one number; some Unicode (π √ ∞ × · ÷ −) read
 * as LaTeX — and the two are equal when:
 *   - the normalised texts are equal ignoring spaces; or
 *   - both are the same bracketed tuple or interval ("(1, 3]": same brackets, same
 *     number of comma-separated items, items equal pairwise), or the same bare comma
 *     list, items in order; or
 *   - both are expressions (mathexpr.h) and equal: exactly, as rationals, when both
 *     are exact (integers, decimals, fractions, +-*, integer powers, perfect square
 *     roots, with 64-bit numerators and denominators); otherwise numerically, at
 *     MATHANS_POINTS points for the variables (each letter a variable): at each point
 *     both are finite and within MATHANS_RTOL relative (plus MATHANS_ATOL absolute)
 *     or both are undefined (NaN or infinite), and at least one point is finite.
 * A percentage equals the same number without % and that number / 100 ("50%" = 50 =
 * 0.5): GSM8K-style references say 50 where a model writes 50%, other sets 0.5.
 */
#ifndef R1_MATHANS_H
#define R1_MATHANS_H

#include <stddef.h>

#include "names.h"

#define MATHANS_MAX_LEN 1000    /* bytes of a side that are parsed; longer: byte compare */
#define MATHANS_POINTS 5        /* evaluation points of expressions with variables */
#define MATHANS_RTOL 1e-9
#define MATHANS_ATOL 1e-12

/* The extraction steps, by their index in names.h's list (the spec's names). */
enum mathans_step {
	MATHANS_ANSWER_TAG = NAMEI_EXTRACT_ANSWER_TAG,
	MATHANS_BOXED = NAMEI_EXTRACT_BOXED,
	MATHANS_HASH = NAMEI_EXTRACT_HASH,
	MATHANS_LAST_NUMBER = NAMEI_EXTRACT_LAST_NUMBER,
};
#define MATHANS_STEPS NAMES_EXTRACT_N

/*
 * The answer of completion c[0..len) by steps[0..n) in order: returns the step that
 * found it (*ans, *alen point into c, or into tag_answer for answer_tag), or -1 when
 * none did. tag_answer (tag_len bytes) is the well-formed completion's ANSWER, NULL if
 * ill-formed.
 */
int mathans_extract(const char *c, size_t len, const enum mathans_step *steps, int n,
	const char *tag_answer, size_t tag_len, const char **ans, size_t *alen);

/* The step of one extractor alone, or NULL/0 when it finds nothing. */
const char *mathans_boxed(const char *s, size_t len, size_t *out_len);
const char *mathans_hash(const char *s, size_t len, size_t *out_len);
const char *mathans_last_number(const char *s, size_t len, size_t *out_len);

/* The part of a text that is compared (see above): a pointer into s, trimmed. */
const char *mathans_side(const char *s, size_t len, size_t *out_len);

/* 1 if answer a and reference b are equal under the rules above, else 0. */
int mathans_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
