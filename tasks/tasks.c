#include "tasks.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"

/* ---- small helpers ---------------------------------------------------------- */

/* A bounded string being appended to; the bounds in tasks.h make overflow a bug. */
struct task_buf {
	char *p;
	size_t cap, len;
};

static void task_buf_init(struct task_buf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	p[0] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void task_buf_add(struct task_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < b->cap - b->len);
	b->len += (size_t)n;
}

/* Uniform in 0..n-1 without modulo bias (rejection; deterministic). */
static uint32_t task_uniform(struct rng *r, uint32_t n)
{
	assert(n > 0);
	uint32_t limit = UINT32_MAX - (UINT32_MAX % n + 1) % n; /* largest multiple of n, minus 1 */
	uint32_t x;
	do
		x = rng_u32(r);
	while (x > limit);
	return x % n;
}

static int task_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int64_t task_pow10(int k)
{
	int64_t p = 1;
	while (k-- > 0)
		p *= 10;
	return p;
}

/* ---- names, params ---------------------------------------------------------- */

int task_parse(const char *name, enum task_kind *kind, struct err *err)
{
	char all[80];
	int k = names_find(names_task, NAMES_TASK_N, name);
	if (k >= 0) {
		*kind = (enum task_kind)k;
		return 0;
	}
	return err_set(err, ERR_INVALID, "unknown task '%s': expected %s", name,
		names_list(all, sizeof all, names_task, NAMES_TASK_N));
}

const char *task_name(enum task_kind kind)
{
	assert(kind == TASK_ARITHMETIC || kind == TASK_COUNTDOWN);
	return names_task[kind];
}

void task_params_default(enum task_kind kind, struct task_params *p)
{
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->digits = 3;
	strcpy(p->operators, "+");
	p->numbers = 4;
	p->max_number = 100;
}

int task_params_check(const struct task_params *p, struct err *err)
{
	if (p->kind == TASK_ARITHMETIC) {
		if (p->digits < 1 || p->digits > 9)
			return err_set(err, ERR_INVALID, "arithmetic digits %d: must be 1..9",
				p->digits);
		size_t n = strnlen(p->operators, sizeof p->operators);
		if (n == 0 || n >= sizeof p->operators)
			return err_set(err, ERR_INVALID,
				"arithmetic operators: must be 1 to 3 of '+-*'");
		for (size_t i = 0; i < n; i++)
			if (!strchr("+-*", p->operators[i]))
				return err_set(err, ERR_INVALID,
					"arithmetic operators '%s': '%c' is not one of '+-*'",
					p->operators, p->operators[i]);
		return 0;
	}
	if (p->kind == TASK_COUNTDOWN) {
		if (p->numbers < 3 || p->numbers > TASK_NUMBERS_MAX)
			return err_set(err, ERR_INVALID, "countdown numbers %d: must be 3..%d",
				p->numbers, TASK_NUMBERS_MAX);
		if (p->max_number < 1 || p->max_number > 1000)
			return err_set(err, ERR_INVALID, "countdown max_number %d: must be 1..1000",
				p->max_number);
		return 0;
	}
	return err_set(err, ERR_INVALID, "unknown task kind %d", (int)p->kind);
}

struct task_mix task_mix_default(void)
{
	return (struct task_mix){ .plain = 0.35, .tagged = 0.35, .worked = 0.30 };
}

/* ---- arithmetic --------------------------------------------------------------- */

static int64_t task_operand(struct rng *r, int digits)
{
	if (digits == 1)
		return task_uniform(r, 10);
	int64_t lo = task_pow10(digits - 1);
	return lo + task_uniform(r, (uint32_t)(9 * lo));
}

static int64_t task_apply(char op, int64_t a, int64_t b)
{
	switch (op) {
	case '+': return a + b;
	case '-': return a - b;
	default: return a * b;  /* operands < 1e9: no overflow */
	}
}

/* Decimal digit k (0 = units) of non-negative x. */
static int task_digit(int64_t x, int k)
{
	return (int)((x / task_pow10(k)) % 10);
}

static int task_ndigits(int64_t x)
{
	int n = 1;
	while (x >= 10) {
		x /= 10;
		n++;
	}
	return n;
}

static void task_worked_add(struct task_buf *b, int64_t x, int64_t y)
{
	int cols = task_ndigits(x > y ? x : y), carry = 0;
	for (int k = 0; k < cols; k++) {
		int s = task_digit(x, k) + task_digit(y, k) + carry;
		task_buf_add(b, "%s%d+%d+%d=%d", k ? "," : "", task_digit(x, k), task_digit(y, k),
			carry, s);
		carry = s / 10;
	}
}

static void task_worked_sub(struct task_buf *b, int64_t x, int64_t y)
{
	if (x < y) {
		task_buf_add(b, "%lld-%lld=-(%lld-%lld),", (long long)x, (long long)y,
			(long long)y, (long long)x);
		int64_t t = x;
		x = y;
		y = t;
	}
	int cols = task_ndigits(x), borrow = 0;
	for (int k = 0; k < cols; k++) {
		int top = task_digit(x, k), bot = task_digit(y, k), d = top - bot - borrow;
		if (d < 0) {
			task_buf_add(b, "%s%d-%d-%d=%d", k ? "," : "", top + 10, bot, borrow, d + 10);
			borrow = 1;
		} else {
			task_buf_add(b, "%s%d-%d-%d=%d", k ? "," : "", top, bot, borrow, d);
			borrow = 0;
		}
	}
	assert(borrow == 0);
}

static void task_worked_mul(struct task_buf *b, int64_t x, int64_t y)
{
	int64_t parts[10];
	int n = 0;
	for (int k = 0; k < task_ndigits(y); k++) {
		int d = task_digit(y, k);
		if (d == 0)
			continue;
		int64_t m = d * task_pow10(k);
		parts[n] = x * m;
		task_buf_add(b, "%s%lld*%lld=%lld", n ? "," : "", (long long)x, (long long)m,
			(long long)parts[n]);
		n++;
	}
	if (n == 0) {
		task_buf_add(b, "%lld*0=0", (long long)x);
		return;
	}
	if (n == 1)
		return;
	int64_t sum = 0;
	for (int i = 0; i < n; i++) {
		task_buf_add(b, "%s%lld", i ? "+" : ",", (long long)parts[i]);
		sum += parts[i];
	}
	task_buf_add(b, "=%lld", (long long)sum);
}

/* The problem: prompt, answer and the worked steps (into steps). */
static void task_arithmetic(const struct task_params *p, struct rng *r,
	struct task_record *out, struct task_buf *steps)
{
	size_t nops = strlen(p->operators);
	char op = p->operators[task_uniform(r, (uint32_t)nops)];
	int64_t a = task_operand(r, p->digits), b = task_operand(r, p->digits);
	snprintf(out->prompt, sizeof out->prompt, "%lld%c%lld", (long long)a, op, (long long)b);
	snprintf(out->answer, sizeof out->answer, "%lld", (long long)task_apply(op, a, b));
	if (op == '+')
		task_worked_add(steps, a, b);
	else if (op == '-')
		task_worked_sub(steps, a, b);
	else
		task_worked_mul(steps, a, b);
}

/* ---- countdown ---------------------------------------------------------------- */

struct task_node {               /* a value of the pool while building a solution */
	int64_t value;
	char op;                     /* its top operator; 0 for a literal */
	char expr[TASK_ANSWER_MAX];  /* minimally parenthesised */
};

static int task_prec(char op)
{
	return op == 0 ? 3 : (op == '*' || op == '/') ? 2 : 1;
}

/* Combine x op y into out, with the parentheses precedence needs. */
static void task_node_combine(struct task_node *out, const struct task_node *x, char op,
	const struct task_node *y, int64_t value)
{
	int pl = task_prec(x->op) < task_prec(op);
	int pr = task_prec(y->op) < task_prec(op) ||
		(task_prec(y->op) == task_prec(op) && (op == '-' || op == '/'));
	struct task_buf b;
	char tmp[TASK_ANSWER_MAX];
	task_buf_init(&b, tmp, sizeof tmp);
	task_buf_add(&b, pl ? "(%s)%c" : "%s%c", x->expr, op);
	task_buf_add(&b, pr ? "(%s)" : "%s", y->expr);
	memcpy(out->expr, tmp, b.len + 1);
	out->op = op;
	out->value = value;
}

/*
 * One attempt: a random subset of the numbers combined into one value. Returns the
 * value; the root node and the steps are left in *root and steps.
 */
static int64_t task_countdown_try(const int64_t *nums, int n, struct rng *r,
	struct task_node *root, struct task_buf *steps)
{
	int idx[TASK_NUMBERS_MAX];
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)task_uniform(r, (uint32_t)i + 1);
		int t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
	int m = 2 + (int)task_uniform(r, (uint32_t)n - 1);
	struct task_node pool[TASK_NUMBERS_MAX];
	for (int i = 0; i < m; i++) {
		pool[i].value = nums[idx[i]];
		pool[i].op = 0;
		snprintf(pool[i].expr, sizeof pool[i].expr, "%lld", (long long)nums[idx[i]]);
	}
	steps->len = 0;
	steps->p[0] = '\0';
	while (m > 1) {
		int i = (int)task_uniform(r, (uint32_t)m);
		int j = (int)task_uniform(r, (uint32_t)m - 1);
		if (j >= i)
			j++;
		const struct task_node *x = &pool[i], *y = &pool[j];
		char op = '+';
		for (int tries = 0; tries < 4; tries++) {
			char c = "+-*/"[task_uniform(r, 4)];
			if (c == '-' && x->value != y->value) {
				if (x->value < y->value) {
					const struct task_node *t = x;
					x = y;
					y = t;
				}
			} else if (c == '/' && (x->value % y->value == 0 || y->value % x->value == 0)) {
				if (x->value % y->value != 0) {
					const struct task_node *t = x;
					x = y;
					y = t;
				}
			} else if (c == '-' || c == '/') {
				continue;
			}
			op = c;
			break;
		}
		int64_t v;
		switch (op) {
		case '+': v = x->value + y->value; break;
		case '-': v = x->value - y->value; break;
		case '*': v = x->value * y->value; break;
		default: v = x->value / y->value; break;
		}
		/* values stay below prod(n_i + 1) <= 1001^6 < 2^63: no overflow */
		task_buf_add(steps, "%s%lld%c%lld=%lld", steps->len ? "," : "",
			(long long)x->value, op, (long long)y->value, (long long)v);
		struct task_node c;
		task_node_combine(&c, x, op, y, v);
		int lo = i < j ? i : j, hi = i < j ? j : i;
		pool[lo] = c;
		pool[hi] = pool[m - 1];
		m--;
	}
	*root = pool[0];
	return root->value;
}

static void task_countdown(const struct task_params *p, struct rng *r,
	struct task_record *out, struct task_buf *steps)
{
	int64_t nums[TASK_NUMBERS_MAX];
	int n = p->numbers;
	for (int i = 0; i < n; i++)
		nums[i] = 1 + task_uniform(r, (uint32_t)p->max_number);
	struct task_node root;
	int64_t target = 0;
	for (int attempt = 0; attempt < 1000; attempt++) {
		target = task_countdown_try(nums, n, r, &root, steps);
		if (target >= 1 && target <= TASK_TARGET_MAX)
			break;
	}
	if (target < 1 || target > TASK_TARGET_MAX) {
		struct task_node x = { nums[0], 0, "" }, y = { nums[1], 0, "" };
		if (x.value < y.value) {
			x.value = nums[1];
			y.value = nums[0];
		}
		char op = x.value == y.value ? '/' : '-';
		target = op == '/' ? 1 : x.value - y.value;
		snprintf(x.expr, sizeof x.expr, "%lld", (long long)x.value);
		snprintf(y.expr, sizeof y.expr, "%lld", (long long)y.value);
		task_node_combine(&root, &x, op, &y, target);
		steps->len = 0;
		task_buf_add(steps, "%lld%c%lld=%lld", (long long)x.value, op, (long long)y.value,
			(long long)target);
	}
	struct task_buf b;
	task_buf_init(&b, out->prompt, sizeof out->prompt);
	for (int i = 0; i < n; i++)
		task_buf_add(&b, "%s%lld", i ? " " : "", (long long)nums[i]);
	task_buf_add(&b, " -> %lld", (long long)target);
	snprintf(out->answer, sizeof out->answer, "%s", root.expr);
}

/* ---- records ------------------------------------------------------------------ */

int task_record(const struct task_params *p, uint64_t seed, uint64_t index,
	enum task_style style, const struct task_mix *mix, struct task_record *out,
	struct err *err)
{
	if (task_params_check(p, err) < 0)
		return -1;
	struct task_mix m = mix ? *mix : task_mix_default();
	double total = m.plain + m.tagged + m.worked;
	if (style == TASK_STYLE_CORPUS && (!(m.plain >= 0) || !(m.tagged >= 0) ||
			!(m.worked >= 0) || !(total > 0) || total > 1e300))
		return err_set(err, ERR_INVALID,
			"corpus mix plain %g, tagged %g, worked %g: must be >= 0 with a positive sum",
			m.plain, m.tagged, m.worked);

	memset(out, 0, sizeof *out);
	uint64_t key = rng_key_u64(rng_key_str(seed, task_name(p->kind)), index);
	struct rng r;
	rng_init(&r, key);
	char steps_mem[TASK_RESPONSE_MAX];
	struct task_buf steps;
	task_buf_init(&steps, steps_mem, sizeof steps_mem);
	if (p->kind == TASK_ARITHMETIC)
		task_arithmetic(p, &r, out, &steps);
	else
		task_countdown(p, &r, out, &steps);

	char response[TASK_RESPONSE_MAX];
	struct task_buf b;
	task_buf_init(&b, response, sizeof response);
	task_buf_add(&b, "%s</think><answer>%s</answer>", steps.p, out->answer);

	if (style == TASK_STYLE_WORKED) {
		memcpy(out->response, response, b.len + 1);
	} else if (style == TASK_STYLE_CORPUS) {
		struct rng fr;
		rng_init(&fr, rng_key_str(key, "form"));
		double u = rng_uniform(&fr) * total;
		struct task_buf t;
		task_buf_init(&t, out->text, sizeof out->text);
		if (u < m.plain || (m.tagged <= 0 && m.worked <= 0)) {
			out->form = TASK_FORM_PLAIN;
			task_buf_add(&t, "%s=%s", out->prompt, out->answer);
		} else if (u < m.plain + m.tagged || m.worked <= 0) {
			out->form = TASK_FORM_TAGGED;
			task_buf_add(&t, "%s\n<think></think><answer>%s</answer>", out->prompt,
				out->answer);
		} else {
			out->form = TASK_FORM_WORKED;
			task_buf_add(&t, "%s\n<think>%s", out->prompt, response);
		}
	}
	return 0;
}

/* ---- expressions ---------------------------------------------------------------- */

struct task_expr {
	const char *s;
	size_t len, pos;
	int depth;
	const int64_t *allowed;
	int n_allowed;
	uint64_t used;            /* bit i: allowed[i] consumed */
	enum task_expr_status st; /* first error */
};

static void task_expr_skip(struct task_expr *e)
{
	while (e->pos < e->len && task_is_space(e->s[e->pos]))
		e->pos++;
}

static int task_expr_peek(struct task_expr *e)
{
	task_expr_skip(e);
	return e->pos < e->len ? (unsigned char)e->s[e->pos] : -1;
}

static int64_t task_expr_fail(struct task_expr *e, enum task_expr_status st)
{
	if (e->st == TASK_EXPR_OK)
		e->st = st;
	return 0;
}

static int64_t task_expr_sum(struct task_expr *e);

static int64_t task_expr_literal(struct task_expr *e)
{
	int64_t v = 0;
	while (e->pos < e->len && e->s[e->pos] >= '0' && e->s[e->pos] <= '9') {
		int d = e->s[e->pos++] - '0';
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
			return task_expr_fail(e, TASK_EXPR_OVERFLOW);
	}
	if (e->allowed) {
		for (int i = 0; i < e->n_allowed; i++) {
			if (!(e->used >> i & 1) && e->allowed[i] == v) {
				e->used |= (uint64_t)1 << i;
				return v;
			}
		}
		return task_expr_fail(e, TASK_EXPR_UNKNOWN);
	}
	return v;
}

static int64_t task_expr_factor(struct task_expr *e)
{
	int c = task_expr_peek(e);
	if (c == '-' || c == '(') {
		if (++e->depth > TASK_EXPR_DEPTH)
			return task_expr_fail(e, TASK_EXPR_TOO_DEEP);
		e->pos++;
		int64_t v;
		if (c == '-') {
			v = task_expr_factor(e);
			if (e->st == TASK_EXPR_OK && v == INT64_MIN)
				return task_expr_fail(e, TASK_EXPR_OVERFLOW);
			v = -v;
		} else {
			v = task_expr_sum(e);
			if (e->st == TASK_EXPR_OK && task_expr_peek(e) != ')')
				return task_expr_fail(e, TASK_EXPR_SYNTAX);
			e->pos++;
		}
		e->depth--;
		return v;
	}
	if (c >= '0' && c <= '9')
		return task_expr_literal(e);
	return task_expr_fail(e, TASK_EXPR_SYNTAX);
}

static int64_t task_expr_product(struct task_expr *e)
{
	int64_t v = task_expr_factor(e);
	for (;;) {
		int c = task_expr_peek(e);
		if (e->st != TASK_EXPR_OK || (c != '*' && c != '/'))
			return v;
		e->pos++;
		int64_t w = task_expr_factor(e);
		if (e->st != TASK_EXPR_OK)
			return 0;
		if (c == '*') {
			if (__builtin_mul_overflow(v, w, &v))
				return task_expr_fail(e, TASK_EXPR_OVERFLOW);
		} else {
			if (w == 0)
				return task_expr_fail(e, TASK_EXPR_DIV_ZERO);
			if (v == INT64_MIN && w == -1)
				return task_expr_fail(e, TASK_EXPR_OVERFLOW);
			if (v % w != 0)
				return task_expr_fail(e, TASK_EXPR_INEXACT);
			v /= w;
		}
	}
}

static int64_t task_expr_sum(struct task_expr *e)
{
	int64_t v = task_expr_product(e);
	for (;;) {
		int c = task_expr_peek(e);
		if (e->st != TASK_EXPR_OK || (c != '+' && c != '-'))
			return v;
		e->pos++;
		int64_t w = task_expr_product(e);
		if (e->st != TASK_EXPR_OK)
			return 0;
		if (c == '+' ? __builtin_add_overflow(v, w, &v) : __builtin_sub_overflow(v, w, &v))
			return task_expr_fail(e, TASK_EXPR_OVERFLOW);
	}
}

enum task_expr_status task_expr_eval(const char *s, size_t len, const int64_t *allowed,
	int n_allowed, int64_t *value)
{
	assert(!allowed || (n_allowed >= 0 && n_allowed <= 64));
	if (len > TASK_EXPR_MAX)
		return TASK_EXPR_TOO_LONG;
	struct task_expr e = { .s = s, .len = len, .allowed = allowed, .n_allowed = n_allowed };
	int64_t v = task_expr_sum(&e);
	if (e.st == TASK_EXPR_OK && task_expr_peek(&e) != -1)
		e.st = TASK_EXPR_SYNTAX;
	if (e.st == TASK_EXPR_OK)
		*value = v;
	return e.st;
}

const char *task_expr_status_name(enum task_expr_status s)
{
	static const char *const names[] = {
		"ok", "syntax error", "too long", "too deep", "overflow", "division by zero",
		"inexact division", "unknown or reused number",
	};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* ---- verification --------------------------------------------------------------- */

/* Parse a non-negative decimal at *s (no sign); -1 on no digits or overflow. */
static int task_parse_uint(const char **s, int64_t *out)
{
	const char *p = *s;
	int64_t v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return -1;
	*s = p;
	*out = v;
	return 0;
}

/* The end of a prompt: nothing, or whitespace and then anything. */
static int task_prompt_end(const char *s)
{
	return *s == '\0' || task_is_space(*s);
}

int task_countdown_parse(const char *prompt, int64_t numbers[TASK_NUMBERS_MAX], int *n,
	int64_t *target)
{
	const char *s = prompt;
	while (task_is_space(*s))
		s++;
	int k = 0;
	while (*s >= '0' && *s <= '9') {
		if (k == TASK_NUMBERS_MAX || task_parse_uint(&s, &numbers[k]) < 0 ||
				numbers[k] < 1 || *s != ' ')
			return -1;
		k++;
		s++;
	}
	if (k == 0 || strncmp(s, "-> ", 3) != 0)
		return -1;
	s += 3;
	if (task_parse_uint(&s, target) < 0 || !task_prompt_end(s))
		return -1;
	*n = k;
	return 0;
}

/* The answer as an integer: ASCII whitespace around, '-' allowed, leading zeros. */
static int task_parse_answer_int(const char *s, int64_t *out)
{
	while (task_is_space(*s))
		s++;
	int neg = *s == '-';
	s += neg;
	while (*s == '0' && s[1] >= '0' && s[1] <= '9')
		s++;
	int64_t v;
	if (task_parse_uint(&s, &v) < 0)
		return -1;
	while (task_is_space(*s))
		s++;
	if (*s)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

int task_verify(const struct task_params *p, const char *prompt, const char *answer_text)
{
	if (p->kind == TASK_COUNTDOWN) {
		int64_t nums[TASK_NUMBERS_MAX], target, v;
		int n;
		if (task_countdown_parse(prompt, nums, &n, &target) < 0)
			return 0;
		return task_expr_eval(answer_text, strlen(answer_text), nums, n, &v) ==
			TASK_EXPR_OK && v == target;
	}
	const char *s = prompt;
	int64_t a, b, v;
	while (task_is_space(*s))
		s++;
	if (task_parse_uint(&s, &a) < 0 || *s == '\0' || !strchr("+-*", *s))
		return 0;
	char op = *s++;
	if (task_parse_uint(&s, &b) < 0 || !task_prompt_end(s) || a > 999999999 || b > 999999999)
		return 0;
	return task_parse_answer_int(answer_text, &v) == 0 && v == task_apply(op, a, b);
}
