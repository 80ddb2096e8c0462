#!/usr/bin/python3
"""Write a GSM8K-like set of grade-school word problems as JSONL.

    scripts/wordproblems.py pipelines/     # pipelines/wordproblems_{train,test}.jsonl

The held-out test set is drawn first and no training question repeats one of its
questions (the problem space is small enough that a few would otherwise). Each line
is one problem in the shape GSM8K uses, so the pipeline that reads it
(pipelines/wordproblems.yaml) is the template for a user's own data:

    {"id": "wp-1-0", "question": "Mia has 12 shells. She finds 7 more. How many shells
     does Mia have now?", "answer": "12+7=19\\n#### 19", "steps": 1}

`answer` is a worked solution, one equation per line, then "#### N" with the final
number (GSM8K's convention); `steps` is how many operations the problem takes (an
extra key: r1flow keeps it and hands it to reward programs as part of the record).

The problems are small on purpose (one or two operations on numbers below 100), sized
for the tiny models r1flow trains on two CPU cores; the file format, not the
difficulty, is what a user copies. Deterministic: the same --seed, --train and --test give the
same bytes on every machine (Python's random.Random with an integer seed).
(The test questions are distinct; there are millions of distinct problems, so the
drawing loops end.)
"""
import argparse
import json
import os
import random
import sys

NAMES = [("Mia", "She"), ("Tom", "He"), ("Ava", "She"), ("Leo", "He"), ("Zoe", "She"),
         ("Sam", "He"), ("Ivy", "She"), ("Max", "He"), ("Ada", "She"), ("Ben", "He")]
ITEMS = ["apples", "shells", "stickers", "marbles", "pencils", "cards", "books", "coins",
         "stamps", "cookies"]


def add(r, name, she, item):
    a, b = r.randint(2, 60), r.randint(2, 39)
    q = f"{name} has {a} {item}. {she} finds {b} more. How many {item} does {name} have now?"
    return q, [(f"{a}+{b}", a + b)]


def sub(r, name, she, item):
    a = r.randint(10, 99)
    b = r.randint(1, a - 1)
    q = f"{name} has {a} {item}. {she} gives away {b}. How many {item} does {name} have left?"
    return q, [(f"{a}-{b}", a - b)]


def mul(r, name, she, item):
    a, b = r.randint(2, 9), r.randint(2, 12)
    q = (f"{name} buys {a} boxes of {item}. Each box holds {b} {item}. "
         f"How many {item} does {name} buy?")
    return q, [(f"{a}*{b}", a * b)]


def div(r, name, she, item):
    b, c = r.randint(2, 9), r.randint(2, 12)
    a = b * c
    q = (f"{name} shares {a} {item} equally among {b} friends. "
         f"How many {item} does each friend get?")
    return q, [(f"{a}/{b}", c)]


def buy_more(r, name, she, item):
    a, b, c = r.randint(2, 40), r.randint(2, 6), r.randint(2, 9)
    q = (f"{name} has {a} {item}. {she} buys {b} packs with {c} {item} in each pack. "
         f"How many {item} does {name} have now?")
    return q, [(f"{b}*{c}", b * c), (f"{a}+{b * c}", a + b * c)]


def change(r, name, she, item):
    price, count = r.randint(2, 9), r.randint(2, 9)
    paid = price * count + r.randint(1, 30)
    q = (f"One pack of {item} costs ${price}. {name} buys {count} packs and pays with "
         f"${paid}. How many dollars of change does {name} get?")
    return q, [(f"{price}*{count}", price * count), (f"{paid}-{price * count}", paid - price * count)]


KINDS = [add, sub, mul, div, buy_more, change]


def problem(r):
    name, she = r.choice(NAMES)
    item = r.choice(ITEMS)
    question, steps = r.choice(KINDS)(r, name, she, item)
    work = "\n".join(f"{lhs}={value}" for lhs, value in steps)
    return question, f"{work}\n#### {steps[-1][1]}", len(steps)


def write(path, problems, seed):
    with open(path, "w", encoding="utf-8") as out:
        for i, (question, answer, steps) in enumerate(problems):
            out.write(json.dumps({"id": f"wp-{seed}-{i}", "question": question,
                                  "answer": answer, "steps": steps}) + "\n")


def main():
    ap = argparse.ArgumentParser(
        description="Write GSM8K-like word problems as JSONL: DIR/wordproblems_train.jsonl "
                    "and DIR/wordproblems_test.jsonl (held out: no test question is in the "
                    "training set).")
    ap.add_argument("dir", metavar="DIR", help="where to write the two files (created if missing)")
    ap.add_argument("--train", type=int, default=4000, help="training problems (default 4000)")
    ap.add_argument("--test", type=int, default=200, help="held-out problems (default 200)")
    ap.add_argument("--seed", type=int, default=1,
                    help="the set's seed: different seeds give different problems (default 1)")
    args = ap.parse_args()
    for name in ("train", "test"):
        if getattr(args, name) < 0:
            ap.error(f"--{name} {getattr(args, name)}: expected a count >= 0")
    r = random.Random(args.seed)
    test, seen = [], set()
    while len(test) < args.test:
        p = problem(r)
        if p[0] not in seen:
            seen.add(p[0])
            test.append(p)
    train = []
    while len(train) < args.train:
        p = problem(r)
        if p[0] not in seen:
            train.append(p)
    try:
        os.makedirs(args.dir, exist_ok=True)
        for name, problems in (("train", train), ("test", test)):
            path = os.path.join(args.dir, f"wordproblems_{name}.jsonl")
            write(path, problems, args.seed)
            print(f"wrote {len(problems)} problems to {path}")
    except OSError as e:
        sys.exit(f"wordproblems: cannot write to '{args.dir}': {e}")


if __name__ == "__main__":
    main()
