/* mathexpr — parse and evaluate; see mathexpr.h. */
#include "mathexpr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum op {
	OP_NUM, OP_VAR, OP_PI, OP_INF,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_ROOT,  /* binary */
	OP_NEG, OP_SQRT, OP_SIN, OP_COS, OP_TAN, OP_LN, OP_LOG, OP_EXP,  /* unary */
};

struct node {
	enum op op;
	int var;                 /* OP_VAR */
	double v;                /* OP_NUM */
	struct mathexpr_q q;     /* OP_NUM */
};

/* A postfix program: evaluation runs it on a stack. */
struct mathexpr {
	struct node *nodes;
	size_t n, cap;
	uint64_t vars;
};

struct parser {
	const char *s;
	size_t len, pos;
	int depth;
	struct mathexpr *e;
};

/* ---- exact rationals ------------------------------------------------------------ */

/* GCC and Clang's 128-bit integers: a product of two int64 is exact in them */
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static const struct mathexpr_q Q_BAD = { 0, 1, 0 };

static u128 gcd128(u128 a, u128 b)
{
	while (b) {
		u128 t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* num/den reduced, if it fits in int64 (den != 0). */
static struct mathexpr_q q_make(i128 num, i128 den)
{
	if (den == 0)
		return Q_BAD;
	if (den < 0) {
		num = -num;
		den = -den;
	}
	u128 g = gcd128(num < 0 ? (u128)-num : (u128)num,
		(u128)den);
	if (g > 1) {
		num /= (i128)g;
		den /= (i128)g;
	}
	if (num > INT64_MAX || num < -INT64_MAX || den > INT64_MAX)
		return Q_BAD;
	return (struct mathexpr_q){ (int64_t)num, (int64_t)den, 1 };
}

static struct mathexpr_q q_add(struct mathexpr_q a, struct mathexpr_q b, int sign)
{
	if (!a.ok || !b.ok)
		return Q_BAD;
	return q_make((i128)a.num * b.den + sign * (i128)b.num * a.den, (i128)a.den * b.den);
}

static struct mathexpr_q q_mul(struct mathexpr_q a, struct mathexpr_q b)
{
	if (!a.ok || !b.ok)
		return Q_BAD;
	return q_make((i128)a.num * b.num, (i128)a.den * b.den);
}

static struct mathexpr_q q_div(struct mathexpr_q a, struct mathexpr_q b)
{
	if (!a.ok || !b.ok || b.num == 0)
		return Q_BAD;
	return q_make((i128)a.num * b.den, (i128)a.den * b.num);
}

static struct mathexpr_q q_pow(struct mathexpr_q a, struct mathexpr_q b)
{
	if (!a.ok || !b.ok || b.den != 1 || b.num > 64 || b.num < -64)
		return Q_BAD;
	struct mathexpr_q r = { 1, 1, 1 };
	for (int64_t i = 0; i < (b.num < 0 ? -b.num : b.num) && r.ok; i++)
		r = q_mul(r, a);
	return b.num < 0 ? q_div((struct mathexpr_q){ 1, 1, 1 }, r) : r;
}

static int isqrt_exact(int64_t x, int64_t *r)
{
	if (x < 0)
		return 0;
	int64_t s = (int64_t)sqrtl((long double)x);
	while (s > 0 && (i128)s * s > x)
		s--;
	while ((i128)(s + 1) * (s + 1) <= x)
		s++;
	*r = s;
	return (i128)s * s == x;
}

static struct mathexpr_q q_sqrt(struct mathexpr_q a)
{
	int64_t n, d;
	if (!a.ok || !isqrt_exact(a.num, &n) || !isqrt_exact(a.den, &d))
		return Q_BAD;
	return (struct mathexpr_q){ n, d, 1 };
}

/* ---- parsing ---------------------------------------------------------------------- */

static int emit(struct parser *p, enum op op)
{
	if (p->e->n == p->e->cap)
		return -1;
	p->e->nodes[p->e->n++] = (struct node){ .op = op, .q = Q_BAD };
	return 0;
}

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
			p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static char peek(struct parser *p)
{
	skip_space(p);
	return p->pos < p->len ? p->s[p->pos] : '\0';
}

/* The command name after a backslash at pos (letters), its length in *n; 0 if none. */
static size_t command_at(const struct parser *p, size_t at, const char **name)
{
	size_t k = at + 1;
	if (at >= p->len || p->s[at] != '\\')
		return 0;
	while (k < p->len && is_letter(p->s[k]))
		k++;
	*name = p->s + at + 1;
	return k - at - 1;
}

static int command_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(name, want, n) == 0;
}

static int enter(struct parser *p)
{
	return ++p->depth > MATHEXPR_MAX_DEPTH ? -1 : 0;
}

static int parse_expr(struct parser *p);
static int parse_unary(struct parser *p);
static int parse_atom(struct parser *p);

static int parse_number(struct parser *p)
{
	size_t start = p->pos, digits = 0, frac = 0;
	int64_t num = 0;
	int exact = 1, dot = 0;
	for (; p->pos < p->len; p->pos++) {
		char c = p->s[p->pos];
		if (c == '.' && !dot && p->pos + 1 < p->len && is_digit(p->s[p->pos + 1])) {
			dot = 1;
			continue;
		}
		if (!is_digit(c))
			break;
		if (num == 0 && c == '0' && !dot)
			continue;  /* leading zeros */
		if (++digits > 18)
			exact = 0;
		else
			num = num * 10 + (c - '0');
		frac += dot;
	}
	if (emit(p, OP_NUM) < 0)
		return -1;
	struct node *nd = &p->e->nodes[p->e->n - 1];
	if (exact && frac <= 18) {
		int64_t den = 1;
		for (size_t i = 0; i < frac; i++)
			den *= 10;
		nd->q = q_make(num, den);
	}
	char buf[MATHEXPR_MAX_LEN + 1];
	size_t n = p->pos - start;
	memcpy(buf, p->s + start, n);
	buf[n] = '\0';
	nd->v = strtod(buf, NULL);
	return 0;
}

/* ARG: {expr}, (expr) or an atom, but a single digit or letter only ("\frac12"). */
static int parse_arg(struct parser *p)
{
	int rc;
	char c = peek(p);
	if (enter(p) < 0)
		return -1;
	if (c == '{') {
		p->pos++;
		rc = parse_expr(p);
		if (rc == 0 && peek(p) != '}')
			rc = -1;
		p->pos++;
	} else if (is_digit(c)) {
		struct parser one = *p;
		one.len = p->pos + 1;
		rc = parse_number(&one);
		p->pos = one.pos;
	} else if (c == '(' || c == '\\' || is_letter(c)) {
		rc = parse_atom(p);
	} else {
		rc = -1;
	}
	p->depth--;
	return rc;
}

static int parse_group(struct parser *p, char close)
{
	p->pos++;
	if (enter(p) < 0 || parse_expr(p) < 0 || peek(p) != close)
		return -1;
	p->pos++;
	p->depth--;
	return 0;
}

static const struct { const char *name; enum op op; } functions[] = {
	{ "sin", OP_SIN }, { "cos", OP_COS }, { "tan", OP_TAN }, { "ln", OP_LN },
	{ "log", OP_LOG }, { "exp", OP_EXP },
};

static int parse_command(struct parser *p)
{
	const char *name;
	size_t n = command_at(p, p->pos, &name);
	if (n == 0)
		return -1;
	p->pos += n + 1;
	if (command_is(name, n, "pi"))
		return emit(p, OP_PI);
	if (command_is(name, n, "infty"))
		return emit(p, OP_INF);
	if (command_is(name, n, "frac"))
		return parse_arg(p) < 0 || parse_arg(p) < 0 ? -1 : emit(p, OP_DIV);
	if (command_is(name, n, "sqrt")) {
		if (peek(p) == '[') {
			if (parse_group(p, ']') < 0 || parse_arg(p) < 0)
				return -1;
			return emit(p, OP_ROOT);
		}
		return parse_arg(p) < 0 ? -1 : emit(p, OP_SQRT);
	}
	for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
		if (command_is(name, n, functions[i].name))
			return parse_arg(p) < 0 ? -1 : emit(p, functions[i].op);
	return -1;
}

static int parse_atom(struct parser *p)
{
	char c = peek(p);
	if (is_digit(c) || (c == '.' && p->pos + 1 < p->len && is_digit(p->s[p->pos + 1])))
		return parse_number(p);
	if (is_letter(c)) {
		int v = c >= 'a' ? c - 'a' : 26 + c - 'A';
		p->pos++;
		if (emit(p, OP_VAR) < 0)
			return -1;
		p->e->nodes[p->e->n - 1].var = v;
		p->e->vars |= 1ull << v;
		return 0;
	}
	if (c == '(')
		return parse_group(p, ')');
	if (c == '[')
		return parse_group(p, ']');
	if (c == '{')
		return parse_group(p, '}');
	if (c == '\\')
		return parse_command(p);
	return -1;
}

static int parse_power(struct parser *p)
{
	if (parse_atom(p) < 0)
		return -1;
	char c = peek(p);
	int star = c == '*' && p->pos + 1 < p->len && p->s[p->pos + 1] == '*';
	if (c != '^' && !star)
		return 0;
	p->pos += star ? 2 : 1;
	if (enter(p) < 0)
		return -1;
	int rc = peek(p) == '{' ? parse_arg(p) : parse_unary(p);
	p->depth--;
	return rc < 0 ? -1 : emit(p, OP_POW);
}

static int parse_unary(struct parser *p)
{
	char c = peek(p);
	if (c != '-' && c != '+')
		return parse_power(p);
	p->pos++;
	if (enter(p) < 0 || parse_unary(p) < 0)
		return -1;
	p->depth--;
	return c == '-' ? emit(p, OP_NEG) : 0;
}

/* The operator at pos: '*', '/' (also \cdot, \times, \div), 'i' for an implicit
 * product (an atom follows), 0 for none. */
static char term_op(struct parser *p, size_t *skip)
{
	char c = peek(p);
	const char *name;
	size_t n;
	*skip = 1;
	if ((c == '*' && !(p->pos + 1 < p->len && p->s[p->pos + 1] == '*')) || c == '/')
		return c;
	if (c == '\\' && (n = command_at(p, p->pos, &name)) > 0) {
		*skip = n + 1;
		if (command_is(name, n, "cdot") || command_is(name, n, "times"))
			return '*';
		if (command_is(name, n, "div"))
			return '/';
		*skip = 0;
		return 'i';
	}
	*skip = 0;
	if (is_digit(c) || c == '.' || is_letter(c) || c == '(' || c == '[' || c == '{')
		return 'i';
	return 0;
}

static int parse_term(struct parser *p)
{
	size_t skip;
	char op;
	if (parse_unary(p) < 0)
		return -1;
	while ((op = term_op(p, &skip))) {
		p->pos += skip;
		if ((op == 'i' ? parse_power(p) : parse_unary(p)) < 0 ||
				emit(p, op == '/' ? OP_DIV : OP_MUL) < 0)
			return -1;
	}
	return 0;
}

static int parse_expr(struct parser *p)
{
	if (parse_term(p) < 0)
		return -1;
	for (char c; (c = peek(p)) == '+' || c == '-';) {
		p->pos++;
		if (parse_term(p) < 0 || emit(p, c == '+' ? OP_ADD : OP_SUB) < 0)
			return -1;
	}
	return 0;
}

struct mathexpr *mathexpr_parse(const char *s, size_t len)
{
	if (len == 0 || len > MATHEXPR_MAX_LEN)
		return NULL;
	struct mathexpr *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	/* each byte makes at most one node, and an implicit product one more */
	e->cap = 2 * len + 2;
	e->nodes = calloc(e->cap, sizeof *e->nodes);
	struct parser p = { .s = s, .len = len, .e = e };
	if (!e->nodes || parse_expr(&p) < 0 || peek(&p) != '\0') {
		mathexpr_free(e);
		return NULL;
	}
	return e;
}

void mathexpr_free(struct mathexpr *e)
{
	if (!e)
		return;
	free(e->nodes);
	free(e);
}

uint64_t mathexpr_vars(const struct mathexpr *e)
{
	return e->vars;
}

/* ---- evaluation --------------------------------------------------------------------- */

static int is_binary(enum op op)
{
	return op >= OP_ADD && op <= OP_ROOT;
}

static int is_unary(enum op op)
{
	return op >= OP_NEG;
}

struct mathexpr_q mathexpr_exact(const struct mathexpr *e)
{
	struct mathexpr_q *st = malloc((e->n + 1) * sizeof *st), r = Q_BAD;
	size_t sp = 0;
	if (!st)
		return Q_BAD;
	for (size_t i = 0; i < e->n; i++) {
		const struct node *nd = &e->nodes[i];
		if (is_binary(nd->op)) {
			struct mathexpr_q b = st[--sp], a = st[--sp];
			switch (nd->op) {
			case OP_ADD: a = q_add(a, b, 1); break;
			case OP_SUB: a = q_add(a, b, -1); break;
			case OP_MUL: a = q_mul(a, b); break;
			case OP_DIV: a = q_div(a, b); break;
			case OP_POW: a = q_pow(a, b); break;
			default: a = Q_BAD; break;
			}
			st[sp++] = a;
		} else if (is_unary(nd->op)) {
			struct mathexpr_q a = st[sp - 1];
			if (nd->op == OP_NEG)
				a = a.ok ? (struct mathexpr_q){ -a.num, a.den, 1 } : Q_BAD;
			else if (nd->op == OP_SQRT)
				a = q_sqrt(a);
			else
				a = Q_BAD;
			st[sp - 1] = a;
		} else {
			st[sp++] = nd->op == OP_NUM ? nd->q : Q_BAD;
		}
	}
	if (sp == 1)
		r = st[0];
	free(st);
	return r;
}

double mathexpr_eval(const struct mathexpr *e, const double *vars)
{
	double *st = malloc((e->n + 1) * sizeof *st), r = NAN;
	size_t sp = 0;
	if (!st)
		return NAN;
	for (size_t i = 0; i < e->n; i++) {
		const struct node *nd = &e->nodes[i];
		if (is_binary(nd->op)) {
			double b = st[--sp], a = st[--sp];
			switch (nd->op) {
			case OP_ADD: a = a + b; break;
			case OP_SUB: a = a - b; break;
			case OP_MUL: a = a * b; break;
			case OP_DIV: a = a / b; break;
			case OP_POW: a = pow(a, b); break;
			default: /* OP_ROOT: a is the index, b the radicand; odd roots of negatives */
				a = b >= 0 ? pow(b, 1 / a) : fmod(a, 2) == 1 ? -pow(-b, 1 / a) : NAN;
				break;
			}
			st[sp++] = a;
		} else if (is_unary(nd->op)) {
			double a = st[sp - 1];
			switch (nd->op) {
			case OP_NEG: a = -a; break;
			case OP_SQRT: a = sqrt(a); break;
			case OP_SIN: a = sin(a); break;
			case OP_COS: a = cos(a); break;
			case OP_TAN: a = tan(a); break;
			case OP_LN: a = log(a); break;
			case OP_LOG: a = log10(a); break;
			default: a = exp(a); break;
			}
			st[sp - 1] = a;
		} else {
			st[sp++] = nd->op == OP_NUM ? nd->v : nd->op == OP_VAR ? vars[nd->var] :
				nd->op == OP_PI ? M_PI : INFINITY;
		}
	}
	if (sp == 1)
		r = st[0];
	free(st);
	return r;
}
