#!/usr/bin/python3
"""SymPy's verdicts on the math reward's comparison corpus (tests/ref/math_pairs.tsv).

For each pair, prints one line "0" or "1": whether SymPy finds the two equal, under the
conventions docs/rewards.md gives for the `math` reward (both sides reduced to what
follows "####" or the last \\boxed{}; units, currency, degrees and LaTeX spacing
dropped; 50% equal to 50 and to 0.5; intervals and tuples equal when their brackets
match and their items are equal in order). Items are equal when their texts are, or
when simplify(a - b) == 0. sympy.parsing.latex needs ANTLR 4.10, which Debian does not
ship, so this file reads the LaTeX itself into SymPy expressions — written apart from
tasks/mathans.c, so the two only agree if both read the corpus the documented way.
Decimals become exact rationals, so SymPy decides equality exactly.

Usage: math_ref.py PAIRS.tsv
"""
import re
import sys

import sympy


def side(s):
    """What follows the last ####, else the last \\boxed{...} content, else all."""
    if "####" in s:
        rest = s[s.rindex("####") + 4:]
        rest = rest.split("\n")[0]
        if rest.strip():
            return rest.strip()
    best = None
    for m in re.finditer(r"\\boxed\{", s):
        depth, j = 1, m.end()
        while j < len(s) and depth:
            if s[j] == "\\":
                j += 2
                continue
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        if depth == 0 and s[m.end():j - 1].strip():
            best = s[m.end():j - 1].strip()
    return best if best is not None else s.strip()


UNWRAP = ("text", "textbf", "textrm", "textit", "textnormal", "mathrm", "mathbf", "mathit",
          "mathsf", "mbox", "operatorname", "boxed")


def unit_word(u):
    """A unit spelled after something else: letters (a word of two or more), spaces,
    '/', '.', and digits only after '^'."""
    return (re.fullmatch(r"[A-Za-z][A-Za-z /.^{}0-9]*", u) is not None and
            not re.search(r"(?<!\^)\d", u) and re.search(r"[A-Za-z]{2}", u) is not None)


def clean(s):
    """LaTeX wrappers and spellings to a plain form; returns (text, percent)."""
    s = s.strip()
    m = re.fullmatch(r"(.*\S.*?)\\(?:text|mbox|textrm|mathrm)\{([^{}]*)\}", s, re.S)
    if m and unit_word(m.group(2).strip()):
        s = m.group(1)
    s = s.replace("°", "").replace("€", "$").replace("£", "$").replace("¥", "$")
    s = s.replace("π", "\\pi ").replace("∞", "\\infty ").replace("×", "*").replace("·", "*")
    s = s.replace("÷", "/").replace("−", "-").replace("√", "\\sqrt")
    s = re.sub(r"\^\{?\\circ\}?", "", s)
    for name in UNWRAP:  # innermost-free forms are enough for the corpus
        s = re.sub(r"\\%s\{([^{}]*)\}" % name, r" \1", s)
    s = re.sub(r"\\(left|right)\.?", " ", s)
    s = re.sub(r"\\(displaystyle|quad|qquad)", " ", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/")
    s = s.replace("\\%", "%").replace("\\$", "$").replace("\\{", "{").replace("\\}", "}")
    s = re.sub(r"\\[,;:! ()\[\]]", " ", s)
    s = s.replace("~", " ").strip()
    while True:
        t = s.strip()
        if len(t) >= 2 and t[0] == "$" and t[-1] == "$":
            t = t[1:-1]
        elif t.endswith("."):
            t = t[:-1]
        if t == s:
            break
        s = t
    m = re.fullmatch(r"[A-Za-z] *=(.*)", s)
    if m and "=" not in m.group(1):
        s = m.group(1).strip()
    s = re.sub(r"^([-+]?)\$", r"\1", s).strip()
    pct = s.endswith("%")
    if pct:
        s = s[:-1].strip()
    m = re.fullmatch(r"([-+]?(?:\d[\d,]*)?(?:\.\d+)?(?:/\d+)?)( *)([A-Za-z][A-Za-z /.^{}0-9]*)", s)
    if m and m.group(1) and re.search(r"\d", m.group(1)):
        unit = m.group(3)
        ok = not re.search(r"(?<!\^)\d", unit)
        if ok and (re.search(r"[A-Za-z]{2}", unit) or m.group(2)):
            s = m.group(1)
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    return s, pct


class Reader:
    """A recursive-descent reader of the cleaned LaTeX into a SymPy expression."""
    FUNCS = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "ln": sympy.log,
             "log": lambda x: sympy.log(x, 10), "exp": sympy.exp}

    def __init__(self, s):
        self.toks = re.findall(r"\\[A-Za-z]+|\d*\.\d+|\d+|\*\*|[A-Za-z]|\S", s)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want=None):
        t = self.peek()
        if t is None or (want is not None and t != want):
            raise ValueError("expected %r at %r" % (want, t))
        self.i += 1
        return t

    def read(self):
        e = self.expr()
        if self.peek() is not None:
            raise ValueError("trailing %r" % self.peek())
        return e

    def expr(self):
        e = self.term()
        while self.peek() in ("+", "-"):
            e = e + self.term() if self.take() == "+" else e - self.term()
        return e

    def starts_atom(self, t):
        return t is not None and (t[0].isdigit() or t[0] == "." or t.isalpha() or
                                  t in ("(", "[", "{") or
                                  (t.startswith("\\") and t not in ("\\cdot", "\\times")))

    def term(self):
        e = self.unary()
        while True:
            t = self.peek()
            if t == "*":
                self.take()
                e = e * self.unary()
            elif t == "/":
                self.take()
                e = e / self.unary()
            elif self.starts_atom(t):
                e = e * self.power()
            else:
                return e

    def unary(self):
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        return self.power()

    def power(self):
        e = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            x = self.arg() if self.peek() == "{" else self.unary()
            e = e ** x
        return e

    def arg(self):
        t = self.peek()
        if t == "{":
            self.take()
            e = self.expr()
            self.take("}")
            return e
        if t is not None and t.isdigit():  # one digit: \frac12
            self.toks[self.i:self.i + 1] = list(t)
            return sympy.Integer(self.take())
        return self.atom()

    def atom(self):
        t = self.take()
        if t[0].isdigit() or t[0] == ".":
            return sympy.Rational(t)
        if t.isalpha() and len(t) == 1:
            return sympy.Symbol(t)
        close = {"(": ")", "[": "]", "{": "}"}.get(t)
        if close:
            e = self.expr()
            self.take(close)
            return e
        name = t[1:]
        if name == "pi":
            return sympy.pi
        if name == "infty":
            return sympy.oo
        if name == "frac":
            a = self.arg()
            return a / self.arg()
        if name == "sqrt":
            if self.peek() == "[":
                self.take()
                n = self.expr()
                self.take("]")
                return sympy.root(self.arg(), n)
            return sympy.sqrt(self.arg())
        if name in self.FUNCS:
            return self.FUNCS[name](self.arg())
        raise ValueError("unknown command %r" % t)


def items(s):
    """(open, close, [item texts]) of a tuple, interval or bare list; one item else."""
    def split(t):
        out, depth, cur = [], 0, ""
        for c in t:
            depth += (c in "([{") - (c in ")]}")
            if depth < 0:
                return None
            if c == "," and depth == 0:
                out.append(cur)
                cur = ""
            else:
                cur += c
        out.append(cur)
        return out if depth == 0 and len(out) >= 2 else None
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        parts = split(s[1:-1])
        if parts:
            return s[0], s[-1], parts
    parts = split(s)
    return ("", "", parts) if parts else ("", "", [s])


def same(a, b):
    return a.replace(" ", "") == b.replace(" ", "")


def item_equal(a, b, percent=False):
    if not percent and same(a, b):
        return True
    try:
        x = Reader(a).read()
        y = Reader(b).read()
    except (ValueError, ZeroDivisionError, TypeError):
        return False
    if percent:
        x = x / 100
    if x.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) or y.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return False
    return sympy.simplify(x - y) == 0


def equal(a, b):
    (a, pa), (b, pb) = clean(side(a)), clean(side(b))
    if same(a, b):
        return True
    ia, ib = items(a), items(b)
    if len(ia[2]) != len(ib[2]) or ia[:2] != ib[:2]:
        return False
    if len(ia[2]) == 1 and pa != pb:
        p, q = (a, b) if pa else (b, a)
        return item_equal(p, q) or item_equal(p, q, percent=True)
    return all(item_equal(x, y) for x, y in zip(ia[2], ib[2]))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            a, b, _ = line.split("\t")
            print(1 if equal(a, b) else 0, flush=True)


if __name__ == "__main__":
    main()
