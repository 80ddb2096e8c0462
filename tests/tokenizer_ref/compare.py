#!/usr/bin/python3
"""Compare r1flow's tokenization with a reference's, for one tokenizer.

  compare.py NAME CORPUS C REF [HF]

CORPUS holds the texts (one JSON string a line); C and REF the matching lines
{"ids": [...], "text": decode(ids)} of tests/hftok_cli and tests/tokenizer_ref/ref.js.
Prints every text whose ids differ and the first few whose decoded text differs, then
one line "NAME: ids equal on I of N texts, decoded text equal on D of N"; exits 1
unless all are equal (and the files have as many lines).

With HF (ref.js's output for Hugging Face's own library), REF is a port of it, and a
text on which the port's ids differ from the library's and r1flow's equal the library's
is excused when the text has a known cause of the port's divergence (PORT_DIVERGENCES);
those are counted on the summary line as "(K where the port differs from tokenizers: ...)".
"""
import json
import sys

# where JavaScript's regexes differ from those of the Rust library: JavaScript's \s
# matches U+FEFF (ZERO WIDTH NO-BREAK SPACE), which is not White_Space in Unicode, and
# does not match U+0085 (NEXT LINE), which is
PORT_DIVERGENCES = {
    "U+FEFF is \\s in JavaScript only": lambda text: "\ufeff" in text,
    "U+0085 is not \\s in JavaScript": lambda text: "\x85" in text,
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit("usage: compare.py NAME CORPUS C REF [HF]")
    name, texts, c, ref = sys.argv[1], load(sys.argv[2]), load(sys.argv[3]), load(sys.argv[4])
    hf = load(sys.argv[5]) if len(sys.argv) == 6 else None
    if not len(texts) == len(ref) == len(c) == len(hf if hf is not None else c):
        print(f"{name}: {len(texts)} texts but {len(ref)} reference lines and {len(c)} r1flow lines")
        sys.exit(1)
    ids_ok = txt_ok = shown = 0
    excused = {}
    for i, (t, a, b) in enumerate(zip(texts, ref, c)):
        if a["ids"] == b["ids"]:
            ids_ok += 1
        else:
            why = None
            if hf is not None and hf[i]["ids"] == b["ids"]:
                why = next((k for k, f in PORT_DIVERGENCES.items() if f(t)), None)
            if why:
                excused[why] = excused.get(why, 0) + 1
                ids_ok += 1
            else:
                print(f"  {name}: ids differ on {t[:60]!r}:\n    reference {a['ids'][:16]}\n    r1flow    {b['ids'][:16]}")
        if a["text"] == b["text"]:
            txt_ok += 1
        else:
            if shown < 5:
                print(f"  {name}: decode differs on {t[:60]!r}:\n    reference {a['text'][:60]!r}\n    r1flow    {b['text'][:60]!r}")
            shown += 1
    n = len(texts)
    note = ""
    if excused:
        note = " (" + ", ".join(f"{k} where the port differs from tokenizers: {why}" for why, k in excused.items()) + ")"
    print(f"{name}: ids equal on {ids_ok} of {n} texts{note}, decoded text equal on {txt_ok} of {n}")
    sys.exit(0 if ids_ok == n and txt_ok == n else 1)


if __name__ == "__main__":
    main()
