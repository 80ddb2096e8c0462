/*
 * mathexpr — a small LaTeX-flavoured arithmetic expression, parsed once and evaluated
 * exactly (rationals) where that is cheap and numerically at chosen points otherwise.
 * The math reward's value comparison (mathans.h) is built on it.
 *
 * Input: text already normalised by mathans (no \left, \text, \dfrac, spaces kept or
 * not), at most MATHEXPR_MAX_LEN bytes. Grammar, usual precedence:
 *   expr   := term (('+' | '-') term)*
 *   term   := unary (('*' | '/' | implicit) unary)*      "2x", "2\sqrt{2}", "3(x+1)"
 *   unary  := ('-' | '+') unary | power
 *   power  := atom ('^' unary)?                           right-associative, "x^{2}"
 *   atom   := number | letter | \pi | \infty | (expr) | [expr] | {expr}
 *           | \frac ARG ARG | \sqrt ARG | \sqrt[expr] ARG | FUNC ARG
 *   ARG    := {expr} | one digit | one letter             ("\frac12", "\sqrt2")
 *   FUNC   := \sin \cos \tan \ln \log \exp
 * A number is digits with an optional '.' and fraction digits ("12", "0.5", ".5"; no
 * thousands separators: mathans removes them first). A letter is a variable (each of
 * the 52 ASCII letters its own; "xy" is x*y). "**" is '^'.
 *
 * Bounds: parsing and evaluation are linear in the text; nesting (brackets, braces,
 * unary signs, exponents) deeper than MATHEXPR_MAX_DEPTH makes the parse fail, so the
 * recursion is bounded. Exact arithmetic uses 64-bit numerators and denominators;
 * anything that would overflow (or a power with an exponent beyond ±64) is left to
 * double arithmetic instead.
 *
 * Ownership: mathexpr_parse allocates; mathexpr_free releases (NULL is fine).
 */
#ifndef R1_MATHEXPR_H
#define R1_MATHEXPR_H

#include <stddef.h>
#include <stdint.h>

#define MATHEXPR_MAX_LEN 1000   /* bytes of text a parse accepts */
#define MATHEXPR_MAX_DEPTH 64   /* nesting levels */
#define MATHEXPR_NVARS 52       /* a-z, A-Z */

struct mathexpr;

/* An exact value num/den (den > 0, lowest terms), valid when ok. */
struct mathexpr_q {
	int64_t num, den;
	int ok;
};

/* The parsed expression, or NULL when s[0..len) is not one (also: too long, too deep,
 * out of memory). */
struct mathexpr *mathexpr_parse(const char *s, size_t len);
void mathexpr_free(struct mathexpr *e);

/* Bit i set: variable i appears (0-25 'a'-'z', 26-51 'A'-'Z'). */
uint64_t mathexpr_vars(const struct mathexpr *e);

/* The exact value: ok only without variables, \pi, \infty, functions, irrational roots
 * and overflow. */
struct mathexpr_q mathexpr_exact(const struct mathexpr *e);

/* The value with variable i = vars[i] (double arithmetic; NaN or ±inf when undefined). */
double mathexpr_eval(const struct mathexpr *e, const double *vars);

#endif
