#!/usr/bin/python3
"""Strict reader of the Prometheus text exposition format (version 0.0.4), for tests.

    prom_parse.py FILE        parse FILE (- for stdin); print its samples as JSON,
                              {"name": [{"labels": {...}, "value": v}, ...]}, exit 0;
                              exit 1 with the first offending line otherwise
    prom_parse.py --self-test the parser itself: a good exposition passes, each of a
                              list of broken ones is refused

Stricter than Prometheus itself, as a test of r1flowd's /metrics should be: every
family has exactly one # HELP and one # TYPE, both before its first sample; a family's
samples are contiguous; no other comments, no blank lines; metric and label names
match the format's grammar (labels not starting with __, none repeated); label values
use only the escapes \\\\, \\" and \\n; values are Go floats, NaN, +Inf or -Inf;
counters are >= 0; no series (name and label set) appears twice; the text ends with a
newline. Samples must belong to a declared family by name (no histogram or summary
suffixes: r1flowd exposes counters and gauges only).
"""
import json
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
FLOAT = re.compile(r'[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


class Malformed(Exception):
    pass


def parse_help_text(text, where):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == '\\':
            if i + 1 >= len(text) or text[i + 1] not in '\\n':
                raise Malformed(f'{where}: bad escape in HELP text')
            out.append('\\' if text[i + 1] == '\\' else '\n')
            i += 2
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def parse_labels(s, i, where):
    """Labels from s[i] == '{'; returns (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == '}':
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise Malformed(f'{where}: bad label name at column {i + 1}')
        name = m.group(0)
        if name.startswith('__'):
            raise Malformed(f'{where}: label name {name} is reserved')
        if name in labels:
            raise Malformed(f'{where}: label {name} repeated')
        i = m.end()
        if s[i:i + 2] != '="':
            raise Malformed(f'{where}: expected =" after label {name}')
        i += 2
        value = []
        while True:
            if i >= len(s):
                raise Malformed(f'{where}: unterminated label value')
            c = s[i]
            if c == '"':
                i += 1
                break
            if c == '\n':
                raise Malformed(f'{where}: raw newline in label value')
            if c == '\\':
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    raise Malformed(f'{where}: bad escape in label value')
                value.append({'\\': '\\', '"': '"', 'n': '\n'}[s[i + 1]])
                i += 2
                continue
            value.append(c)
            i += 1
        labels[name] = ''.join(value)
        if i < len(s) and s[i] == ',':
            i += 1
        elif i < len(s) and s[i] == '}':
            continue
        else:
            raise Malformed(f'{where}: expected , or }} after label {name}')


def parse_value(text, where):
    if text in ('NaN', '+Inf', '-Inf'):
        return float(text.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not FLOAT.match(text):
        raise Malformed(f'{where}: bad value {text!r}')
    return float(text)


def parse(text):
    if not text.endswith('\n'):
        raise Malformed('the exposition does not end with a newline')
    helps, types, samples, seen, done = {}, {}, {}, set(), set()
    current = None
    for n, line in enumerate(text[:-1].split('\n'), 1):
        where = f'line {n}: {line[:80]!r}'
        if line == '':
            raise Malformed(f'{where}: blank line')
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) < 4 or parts[0] != '#' or parts[1] not in ('HELP', 'TYPE'):
                raise Malformed(f'{where}: a comment other than # HELP or # TYPE')
            _, kind, name, rest = parts
            if not NAME.fullmatch(name):
                raise Malformed(f'{where}: bad metric name')
            if name in done or (current and name != current and name in helps.keys() | types.keys()):
                raise Malformed(f'{where}: {kind} of {name} after its samples')
            if kind == 'HELP':
                if name in helps:
                    raise Malformed(f'{where}: second HELP for {name}')
                helps[name] = parse_help_text(rest, where)
            else:
                if name in types:
                    raise Malformed(f'{where}: second TYPE for {name}')
                if rest not in TYPES:
                    raise Malformed(f'{where}: unknown type {rest!r}')
                types[name] = rest
            if current and current != name:
                done.add(current)
            current = name
            continue
        m = NAME.match(line)
        if not m:
            raise Malformed(f'{where}: bad metric name')
        name, i = m.group(0), m.end()
        if name not in types or name not in helps:
            raise Malformed(f'{where}: sample of {name} before its HELP and TYPE')
        if name in done or name != current:
            raise Malformed(f'{where}: samples of {name} are not together')
        labels = {}
        if i < len(line) and line[i] == '{':
            labels, i = parse_labels(line, i, where)
        if i >= len(line) or line[i] != ' ':
            raise Malformed(f'{where}: expected a space before the value')
        fields = line[i + 1:].split(' ')
        if len(fields) not in (1, 2):
            raise Malformed(f'{where}: expected a value and an optional timestamp')
        value = parse_value(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r'-?\d+', fields[1]):
            raise Malformed(f'{where}: bad timestamp')
        if types[name] == 'counter' and not value >= 0:
            raise Malformed(f'{where}: counter below 0')
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise Malformed(f'{where}: series repeated')
        seen.add(key)
        samples.setdefault(name, []).append({'labels': labels, 'value': value})
    for name in types.keys() | helps.keys():
        if name not in types or name not in helps:
            raise Malformed(f'family {name} lacks its HELP or TYPE')
    return samples


GOOD = ('# HELP a_total things, \\\\ and \\n\n# TYPE a_total counter\na_total 3\n'
        '# HELP b a gauge\n# TYPE b gauge\nb{x="q\\"\\\\\\n",y="2"} -1.5e3\nb{x="r"} NaN\n'
        'b +Inf\n')
BAD = [
    'a 1',                                               # no newline at the end
    'a 1\n',                                             # no HELP or TYPE
    '# TYPE a gauge\na 1\n',                             # no HELP
    '# HELP a x\n# TYPE a gauge\na 1\n\n',               # blank line
    '# HELP a x\n# TYPE a gauge\n# just a comment\na 1\n',
    '# HELP a x\n# TYPE a gauge\na 1\n# TYPE a gauge\n',
    '# HELP a x\n# TYPE a gauge\na 1\na 2\n',            # duplicate series
    '# HELP a x\n# TYPE a gauge\na{b="1",b="2"} 1\n',    # repeated label
    '# HELP a x\n# TYPE a gauge\na{b="\\t"} 1\n',        # bad escape
    '# HELP a x\n# TYPE a gauge\na{b="x} 1\n',           # unterminated value
    '# HELP a x\n# TYPE a gauge\na{__b="x"} 1\n',        # reserved label
    '# HELP a x\n# TYPE a gauge\na{1b="x"} 1\n',         # bad label name
    '# HELP a x\n# TYPE a gauge\na one\n',               # bad value
    '# HELP a x\n# TYPE a gauge\na  1\n',                # two spaces
    '# HELP a x\n# TYPE a gauge\na 1 2 3\n',
    '# HELP a x\n# TYPE a counter\na -1\n',              # negative counter
    '# HELP a x\n# TYPE a gauge\n# HELP b y\n# TYPE b gauge\nb 1\na 1\n',  # a not together
    '# HELP a x\n# TYPE a gauge\na 1\n# HELP b y\n# TYPE b gauge\nb 1\na{c="d"} 2\n',
    '# HELP a x\n# TYPE a gauge\n# HELP a y\na 1\n',     # second HELP
    '# HELP a x\n# TYPE a bogus\na 1\n',                 # unknown type
    '# HELP a bad \\q escape\n# TYPE a gauge\na 1\n',
    '# HELP 1a x\n# TYPE 1a gauge\n1a 1\n',              # bad metric name
    '# HELP a x\n# TYPE a gauge\na{b="1"}1\n',           # no space before the value
]


def self_test():
    parse(GOOD)
    for text in BAD:
        try:
            parse(text)
        except Malformed:
            continue
        print(f'FAIL: accepted {text!r}')
        return 1
    print(f'ok: the good exposition parsed, {len(BAD)} broken ones refused')
    return 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        return self_test()
    if len(sys.argv) != 2:
        print('usage: prom_parse.py FILE|-|--self-test', file=sys.stderr)
        return 2
    text = sys.stdin.read() if sys.argv[1] == '-' else open(sys.argv[1], encoding='utf-8').read()
    try:
        samples = parse(text)
    except Malformed as e:
        print(f'malformed exposition: {e}', file=sys.stderr)
        return 1
    json.dump(samples, sys.stdout, allow_nan=True)
    print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
