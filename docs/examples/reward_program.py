#!/usr/bin/env python3
"""An r1flow reward program: copy it, change score(), name it in your spec.

    rewards:
      mine: {program: [python3, reward_program.py], files: [reward_program.py]}

r1flow starts it once per worker (in a sandbox: docs/rewards.md, "Reward programs")
and writes one JSON object per line on its stdin, one per completion:

    {"prompt": "...", "completion": "...", "answer": "..." or null, "record": {...} or null}

It answers each line with one line on stdout, before the next request comes:

    {"reward": 1.1, "components": {"correct": 1, "format": 1}}

Only replies go to stdout (print debugging to stderr: its last lines are shown when
the program fails). Flush after each reply. An exception ends the program: the item
fails and the job with it, the traceback in the error; the worker starts the program
again for the next job. Check it before a run:

    r1flow reward test --spec my.yaml --reward mine \
        --completion '12+30=42</think><answer>42</answer>' --answer 42
"""
import json
import re
import sys

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def number(text):
    """42, 42.0, 1,000, $42 -> a float; None if the text is not a number."""
    text = text.strip().lstrip("$").replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def score(request):
    completion = request["completion"]  # starts inside the reasoning (after <think>)
    found = ANSWER.search(completion)
    well_formed = 1.0 if found and "</think>" in completion[: found.start()] else 0.0
    correct = 0.0
    reference = request["answer"]
    if found and reference is not None:
        given, want = number(found.group(1)), number(reference)
        if given is not None and want is not None:
            correct = 1.0 if abs(given - want) <= 1e-6 * max(1.0, abs(want)) else 0.0
        else:
            correct = 1.0 if found.group(1).strip() == reference.strip() else 0.0
    return {
        "reward": correct + 0.1 * well_formed,
        "components": {"correct": correct, "format": well_formed},
    }


def main():
    for line in sys.stdin:
        print(json.dumps(score(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
