/* mathans — normalising two answers and comparing them by value; see mathans.h. */
#include "mathans.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mathexpr.h"

/* A normalised side: at most 7/3 of the input (∞ → "\infty " grows the most); a
 * side that would not fit is compared byte for byte (over). */
#define NORM_CAP (3 * MATHANS_MAX_LEN + 16)

struct norm {
	char s[NORM_CAP];
	size_t len;
	int percent;  /* a trailing % was removed */
	int over;     /* the rewrite did not fit */
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

static int starts(const char *s, size_t len, const char *p)
{
	size_t k = strlen(p);
	return len >= k && memcmp(s, p, k) == 0;
}

const char *mathans_side(const char *s, size_t len, size_t *out_len)
{
	const char *a;
	size_t n;
	if ((a = mathans_hash(s, len, &n)) || (a = mathans_boxed(s, len, &n))) {
		*out_len = n;
		return a;
	}
	trim(&s, &len);
	*out_len = len;
	return s;
}

/* ---- normalisation ----------------------------------------------------------------- */

static void put(struct norm *o, const char *t, size_t k)
{
	if (o->len + k > NORM_CAP) {
		o->over = 1;
		return;
	}
	memcpy(o->s + o->len, t, k);
	o->len += k;
}

static void puts_(struct norm *o, const char *t)
{
	put(o, t, strlen(t));
}

/* Commands dropped, replaced or unwrapped; the rest are copied. */
static const char *const dropped[] = { "left", "right", "displaystyle", "quad", "qquad",
	"big", "Big", "bigl", "bigr", "Bigl", "Bigr", "circ", "degree", NULL };
static const char *const unwrapped[] = { "text", "textbf", "textrm", "textit", "textnormal",
	"mathrm", "mathbf", "mathit", "mathsf", "mbox", "operatorname", "boxed", NULL };
static const struct { const char *from, *to; } renamed[] = {
	{ "dfrac", "\\frac" }, { "tfrac", "\\frac" }, { "cdot", "*" }, { "times", "*" },
	{ "div", "/" }, { "dollar", "$" }, { "euro", "$" }, { "pounds", "$" },
	{ "infin", "\\infty" },
};
/* UTF-8 spellings read as ASCII or LaTeX ("" drops them). */
static const struct { const char *from, *to; } unicode[] = {
	{ "\xc2\xb0", "" }, { "\xcf\x80", "\\pi " }, { "\xe2\x88\x9a", "\\sqrt" },
	{ "\xe2\x88\x9e", "\\infty " }, { "\xc3\x97", "*" }, { "\xc2\xb7", "*" },
	{ "\xc3\xb7", "/" }, { "\xe2\x88\x92", "-" }, { "\xe2\x82\xac", "$" },
	{ "\xc2\xa3", "$" }, { "\xc2\xa5", "$" }, { "\xc2\xa0", " " },
	{ "\xe2\x80\x89", " " }, { "\xe2\x80\xaf", " " },
};

static int in_list(const char *const *list, const char *name, size_t n)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, name, n) == 0)
			return 1;
	return 0;
}

/*
 * The rewriting pass: one scan of s[0..len) (len <= MATHANS_MAX_LEN) into o. keep[]
 * remembers per open brace whether its closing brace is written (an unwrapped
 * command's braces are not); deeper nesting than the buffer is left as it is.
 */
static void rewrite(const char *s, size_t len, struct norm *o)
{
	unsigned char keep[MATHANS_MAX_LEN + 1];
	size_t depth = 0;
	o->len = 0;
	o->over = 0;
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (c == '\\' && i + 1 < len && is_letter(s[i + 1])) {
			size_t k = i + 1;
			while (k < len && is_letter(s[k]))
				k++;
			const char *name = s + i + 1;
			size_t n = k - i - 1;
			i = k;
			if (in_list(dropped, name, n)) {
				if (i < len && s[i] == '.' && n <= 5)  /* \left. \right. */
					i++;
				put(o, " ", 1);
				continue;
			}
			if (in_list(unwrapped, name, n) && i < len && s[i] == '{' && depth < sizeof keep) {
				keep[depth++] = 0;
				i++;
				put(o, " ", 1);
				continue;
			}
			size_t r = 0;
			while (r < sizeof renamed / sizeof renamed[0] &&
					!(strlen(renamed[r].from) == n && memcmp(renamed[r].from, name, n) == 0))
				r++;
			if (r < sizeof renamed / sizeof renamed[0]) {
				puts_(o, renamed[r].to);
				continue;
			}
			put(o, s + i - n - 1, n + 1);
			continue;
		}
		if (c == '\\' && i + 1 < len) {  /* \% \$ \{ \} kept bare; spacing becomes a space */
			char d = s[i + 1];
			i += 2;
			if (d == '%' || d == '$' || d == '{' || d == '}')
				put(o, &d, 1);
			else
				put(o, " ", 1);
			continue;
		}
		if (c == '^' && (starts(s + i + 1, len - i - 1, "\\circ") ||
				starts(s + i + 1, len - i - 1, "{\\circ}"))) {
			i += starts(s + i + 1, len - i - 1, "\\circ") ? 6 : 8;
			continue;
		}
		if (c == '{') {
			if (depth < sizeof keep)
				keep[depth++] = 1;
			put(o, "{", 1);
			i++;
			continue;
		}
		if (c == '}') {
			if (depth == 0 || keep[--depth])
				put(o, "}", 1);
			i++;
			continue;
		}
		if ((unsigned char)c >= 0x80) {
			size_t u = 0;
			while (u < sizeof unicode / sizeof unicode[0] &&
					!starts(s + i, len - i, unicode[u].from))
				u++;
			if (u < sizeof unicode / sizeof unicode[0]) {
				i += strlen(unicode[u].from);
				puts_(o, unicode[u].to);
				continue;
			}
		}
		put(o, c == '~' || is_space(c) ? " " : &c, 1);
		i++;
	}
}

/* The length of a number at s[0..len): [-+]? digits (',' digits)* ('.' digits)?
 * ('/' digits)?; 0 if none. */
static size_t number_len(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	size_t d0 = i;
	while (i < len && (is_digit(s[i]) || (s[i] == ',' && i + 1 < len && is_digit(s[i + 1]) &&
			i > d0)))
		i++;
	if (i < len && s[i] == '.' && i + 1 < len && is_digit(s[i + 1]))
		for (i++; i < len && is_digit(s[i]); i++)
			;
	if (i == d0)
		return 0;
	if (i + 1 < len && s[i] == '/' && is_digit(s[i + 1]))
		for (i++; i < len && is_digit(s[i]); i++)
			;
	return i;
}

/* 1 if u[0..n) is a unit: letters, spaces, '/', '.', and digits only after '^'; at
 * least one letter; a word of two letters or more unless spaced from the number. */
static int is_unit(const char *u, size_t n, int spaced)
{
	int letters = 0, run = 0, word2 = 0, power = 0;
	if (n == 0 || !is_letter(u[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (is_letter(c)) {
			letters++;
			word2 |= ++run >= 2;
			power = 0;
			continue;
		}
		run = 0;
		if (c == '^')
			power = 1;
		else if (is_digit(c) && power)
			continue;
		else if (c != ' ' && c != '/' && c != '.' && c != '{' && c != '}')
			return 0;
	}
	return letters && (word2 || spaced);
}

/* "1,234,567.5": one number with thousands separators (groups of three). */
static int thousands(const char *s, size_t len)
{
	size_t i = s[0] == '-' || s[0] == '+', d = 0;
	int comma = 0;
	for (; i < len && s[i] != '.'; i++) {
		if (is_digit(s[i])) {
			d++;
			continue;
		}
		if (s[i] != ',' || d == 0 || d > 3 || (comma && d != 3))
			return 0;
		comma = 1;
		d = 0;
	}
	if (!comma || d != 3)
		return 0;
	for (i += i < len; i < len; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* The length of a trailing "\text{UNIT}" (or \mbox, \textrm, \mathrm) after something
 * else, UNIT a unit with a word of two letters or more ("\frac{1}{2}\text{ cups}");
 * 0 if s does not end with one. */
static size_t text_unit(const char *s, size_t len)
{
	static const char *const cmds[] = { "\\text{", "\\mbox{", "\\textrm{", "\\mathrm{" };
	if (len < 2 || s[len - 1] != '}')
		return 0;
	size_t open = len - 1;
	while (open > 0 && s[open - 1] != '{' && s[open - 1] != '}')
		open--;
	if (open == 0 || s[open - 1] != '{')
		return 0;
	const char *u = s + open;
	size_t n = len - 1 - open;
	trim(&u, &n);
	for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
		size_t k = strlen(cmds[c]);
		if (open >= k && memcmp(s + open - k, cmds[c], k) == 0) {
			const char *before = s;
			size_t rest = open - k;
			trim(&before, &rest);
			return rest && is_unit(u, n, 0) ? len - (open - k) : 0;
		}
	}
	return 0;
}

static void normalise(const char *s, size_t len, struct norm *o)
{
	trim(&s, &len);
	len -= text_unit(s, len);
	rewrite(s, len, o);
	char *t = o->s;
	size_t n = o->len;
	o->percent = 0;
	for (int again = 1; again;) {
		const char *p = t;
		trim(&p, &n);
		t = (char *)p;
		again = 0;
		if (n >= 2 && t[0] == '$' && t[n - 1] == '$') {  /* $...$, $$...$$ */
			t++;
			n -= 2;
			again = 1;
		} else if (n >= 1 && t[n - 1] == '.') {
			n--;
			again = 1;
		}
	}
	/* "x = 5": a single letter named on the left */
	if (n >= 2 && is_letter(t[0]) && memchr(t, '=', n)) {
		size_t k = 1;
		while (k < n && t[k] == ' ')
			k++;
		if (k < n && t[k] == '=' && !memchr(t + k + 1, '=', n - k - 1)) {
			t += k + 1;
			n -= k + 1;
		}
	}
	const char *p = t;
	trim(&p, &n);
	t = (char *)p;
	/* currency before the number, after its sign: "$5", "-$5" */
	if (n >= 2 && (t[0] == '-' || t[0] == '+') && t[1] == '$') {
		t[1] = t[0];
		t++;
		n--;
	} else if (n >= 1 && t[0] == '$') {
		t++;
		n--;
	}
	p = t;
	trim(&p, &n);
	t = (char *)p;
	if (n >= 1 && t[n - 1] == '%') {
		o->percent = 1;
		n--;
		trim(&p, &n);
	}
	size_t k = number_len(t, n);
	if (k > 0 && k < n) {
		size_t u = k;
		while (u < n && t[u] == ' ')
			u++;
		if (is_unit(t + u, n - u, u > k))
			n = k;
	}
	if (n && thousands(t, n)) {
		size_t w = 0;
		for (size_t i = 0; i < n; i++)
			if (t[i] != ',')
				t[w++] = t[i];
		n = w;
	}
	memmove(o->s, t, n);
	o->len = n;
}

/* ---- comparison ----------------------------------------------------------------------- */

static int same_text(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < na && a[i] == ' ')
			i++;
		while (j < nb && b[j] == ' ')
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i++] != b[j++])
			return 0;
	}
}

static int close_enough(double x, double y)
{
	return fabs(x - y) <= MATHANS_RTOL * fmax(fabs(x), fabs(y)) + MATHANS_ATOL;
}

/* The value of variable v at point k: distinct per variable and point, away from the
 * special values 0, 1, 2 and the integers. */
static double point(int k, int v)
{
	static const double base[MATHANS_POINTS] = { 0.713, 1.371, 2.113, 0.391, 3.127 };
	return base[k] * (1 + 0.0913 * v) + 0.0171 * v;
}

static int expr_equal(const struct mathexpr *a, const struct mathexpr *b)
{
	struct mathexpr_q qa = mathexpr_exact(a), qb = mathexpr_exact(b);
	if (qa.ok && qb.ok)
		return qa.num == qb.num && qa.den == qb.den;
	int vars = (mathexpr_vars(a) | mathexpr_vars(b)) != 0, finite = 0;
	double x[MATHEXPR_NVARS];
	for (int k = 0; k < (vars ? MATHANS_POINTS : 1); k++) {
		for (int v = 0; v < MATHEXPR_NVARS; v++)
			x[v] = point(k, v);
		double va = mathexpr_eval(a, x), vb = mathexpr_eval(b, x);
		int fa = isfinite(va), fb = isfinite(vb);
		if (fa != fb || (fa && !close_enough(va, vb)))
			return 0;
		finite += fa;
	}
	return finite > 0;
}

/* A plain decimal number at s[0..n): [-+]? digits ('.' digits)?, as its integer and
 * fraction digits without leading and trailing zeros; 0 if s is not one. */
static int decimal(const char *s, size_t n, int *neg, const char **ip, size_t *il,
	const char **fp, size_t *fl)
{
	size_t i = 0, dot = n;
	*neg = n && s[0] == '-';
	i = n && (s[0] == '-' || s[0] == '+');
	if (i == n)
		return 0;
	for (size_t k = i; k < n; k++) {
		if (s[k] == '.' && dot == n && k + 1 < n)
			dot = k;
		else if (!is_digit(s[k]))
			return 0;
	}
	*ip = s + i;
	*il = dot - i;
	while (*il && **ip == '0') {
		(*ip)++;
		(*il)--;
	}
	*fp = dot < n ? s + dot + 1 : s + n;
	*fl = dot < n ? n - dot - 1 : 0;
	while (*fl && (*fp)[*fl - 1] == '0')
		(*fl)--;
	if (*il == 0 && *fl == 0)
		*neg = 0;  /* -0 = 0 */
	return 1;
}

/* Two plain decimals compare exactly at any length: 1 equal, 0 not, -1 not both
 * decimals. */
static int decimal_equal(const char *a, size_t na, const char *b, size_t nb)
{
	int sa, sb;
	const char *ia, *fa, *ib, *fb;
	size_t ila, fla, ilb, flb;
	if (!decimal(a, na, &sa, &ia, &ila, &fa, &fla) || !decimal(b, nb, &sb, &ib, &ilb, &fb, &flb))
		return -1;
	return sa == sb && ila == ilb && fla == flb && memcmp(ia, ib, ila) == 0 &&
		memcmp(fa, fb, fla) == 0;
}

/* One item: texts equal, or both parse and are equal; with scale, a is a percentage
 * read as a / 100. */
static int item_equal(const char *a, size_t na, const char *b, size_t nb, int scale)
{
	char buf[MATHEXPR_MAX_LEN + 1];
	if (!scale && same_text(a, na, b, nb))
		return 1;
	const char *ta = a, *tb = b;
	size_t ka = na, kb = nb;
	trim(&ta, &ka);
	trim(&tb, &kb);
	int d = scale ? -1 : decimal_equal(ta, ka, tb, kb);
	if (d >= 0)
		return d;
	if (scale) {
		if (na + 7 > MATHEXPR_MAX_LEN)
			return 0;
		buf[0] = '(';
		memcpy(buf + 1, a, na);
		memcpy(buf + 1 + na, ")/100", 5);
		a = buf;
		na += 6;
	}
	struct mathexpr *ea = mathexpr_parse(a, na), *eb = mathexpr_parse(b, nb);
	int eq = ea && eb && expr_equal(ea, eb);
	mathexpr_free(ea);
	mathexpr_free(eb);
	return eq;
}

/* Top-level structure: open/close bracket ('\0' for none) and the comma-separated
 * items (at most ITEMS_MAX; more make it a plain item). */
#define ITEMS_MAX 32
struct items {
	char open, close;
	int n;
	const char *s[ITEMS_MAX];
	size_t len[ITEMS_MAX];
};

static int split(const char *inner_s, size_t inner_n, struct items *it)
{
	int depth = 0;
	size_t from = 0;
	it->n = 0;
	for (size_t i = 0; i <= inner_n; i++) {
		char c = i < inner_n ? inner_s[i] : ',';
		if (c == '(' || c == '[' || c == '{')
			depth++;
		else if (c == ')' || c == ']' || c == '}')
			depth--;
		if (depth < 0)
			return 0;
		if (c == ',' && depth == 0) {
			if (it->n == ITEMS_MAX)
				return 0;
			it->s[it->n] = inner_s + from;
			it->len[it->n++] = i - from;
			from = i + 1;
		}
	}
	return depth == 0 && it->n >= 2;
}

static void structure(const char *s, size_t n, struct items *it)
{
	it->open = it->close = '\0';
	if (n >= 2 && (s[0] == '(' || s[0] == '[') && (s[n - 1] == ')' || s[n - 1] == ']') &&
			split(s + 1, n - 2, it)) {
		it->open = s[0];
		it->close = s[n - 1];
		return;
	}
	if (split(s, n, it))
		return;
	it->n = 1;
	it->s[0] = s;
	it->len[0] = n;
}

int mathans_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	struct norm na, nb;
	a = mathans_side(a, alen, &alen);
	b = mathans_side(b, blen, &blen);
	if (alen > MATHANS_MAX_LEN || blen > MATHANS_MAX_LEN)
		return alen == blen && memcmp(a, b, alen) == 0;
	normalise(a, alen, &na);
	normalise(b, blen, &nb);
	if (na.over || nb.over)
		return alen == blen && memcmp(a, b, alen) == 0;
	if (same_text(na.s, na.len, nb.s, nb.len))
		return 1;
	struct items ia, ib;
	structure(na.s, na.len, &ia);
	structure(nb.s, nb.len, &ib);
	if (ia.n != ib.n || ia.open != ib.open || ia.close != ib.close)
		return 0;
	if (ia.n == 1 && na.percent != nb.percent) {
		/* 50% = 50 = 0.5 */
		const struct norm *p = na.percent ? &na : &nb, *q = na.percent ? &nb : &na;
		return item_equal(p->s, p->len, q->s, q->len, 0) ||
			item_equal(p->s, p->len, q->s, q->len, 1);
	}
	for (int i = 0; i < ia.n; i++)
		if (!item_equal(ia.s[i], ia.len[i], ib.s[i], ib.len[i], 0))
			return 0;
	return 1;
}
