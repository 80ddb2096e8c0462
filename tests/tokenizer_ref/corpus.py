#!/usr/bin/python3
"""Texts for the tokenizer reference checks, one JSON string per line on stdout.

  corpus.py test              the parity corpus of tests/integration/test_tokenizer_parity.sh:
                              prose, code, numbers and dates, whitespace runs, CJK, Arabic,
                              Devanagari, emoji (ZWJ sequences, skin tones), combining marks in
                              NFC and NFD, the five tokenizers' special tokens inside text,
                              contractions in several cases, very long words, the empty string,
                              and random mixes of their pieces
  corpus.py mixed BYTES       bench/tokenize.sh's mixed text: documents alternating between
                              code (this repository's C, shell and Python sources) and prose
                              (its docs, with the parity corpus's multilingual lines), about
                              BYTES bytes of UTF-8 in all
  corpus.py english BYTES     English only: the paragraphs of this repository's README.md and
                              docs/*.md outside code blocks and tables

Everything is deterministic (fixed seeds, files in sorted order), so two runs on one
checkout write the same bytes.
"""
import glob
import json
import os
import random
import sys
import unicodedata

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# special tokens of the five tokenizers (Llama-3, Qwen3, DeepSeek-V3, Llama-2, Gemma-3), each
# meaningful to some and plain text to the others
SPECIALS = [
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
    "<s>", "</s>", "<unk>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<pad>",
]

CODE = '''#include <stdio.h>

/* sum of squares */
static long sumsq(const int *a, size_t n)
{
	long s = 0;
	for (size_t i = 0; i < n; i++)
		s += (long)a[i] * a[i];
	return s;
}
'''

PY = '''class Tokenizer:
    def __init__(self, path: str) -> None:
        self.vocab = {}  # token -> id
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                self.vocab[line.rstrip("\\n")] = i

    def __len__(self):
        return len(self.vocab)
'''


def test_lines():
    rnd = random.Random(14)
    long_word = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3000))
    lines = [
        # prose and code
        "Hello, world! This is a plain English sentence.",
        "The quick brown fox jumps over the lazy dog; it's 3:45 p.m. on 2024-03-15.",
        "Reinforcement learning from verifiable rewards: the model samples answers, a checker "
        "scores them, and the policy moves toward the better ones.",
        "def f(x):\n    return x**2 + 3*x - 1  # comment\n",
        "for (int i = 0; i < n; i++) { sum += a[i]; }",
        CODE, PY,
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
        '{"key": [1, 2.5, null, true], "nested": {"a": "b"}}',
        "https://example.com/path?query=1&b=2#frag",
        "email@example.org, @user #hashtag $100 50% ~tilde^caret",
        # numbers and dates
        "1234567890 3.14159 -42 1,000,000 0x1F 1e-9",
        "Numbers: 1 12 123 1234 12345 123456 1234567",
        "Dates: 2024-03-15, 15/03/2024, March 15th, 2024, 12:30:45Z, 1999-12-31T23:59:59+01:00",
        "Call +1 (555) 010-9999 before 5pm; version 3.10.2, v1.2.3-rc.4",
        "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ①②③ ½ ¾",
        # whitespace runs
        "    indented\twith\ttabs\n\n\n   and   runs   of   spaces   ",
        "\n\n\n", "   ", "\t\t", "a\r\nb\r\n", " ", "\n", "x" + " " * 40 + "y",
        "\t \t \n \n  \r\n\r\n\t\t\t  end",
        " leading space", "trailing space ", "  two leading",
        "tab\tseparated\tvalues\n1\t2\t3",
        "\u00a0non-breaking\u00a0spaces\u3000ideographic\u2009thin",
        "zero\u200bwidth\u200cjoiner\u200d",
        # scripts
        "我喜欢自然语言处理。今天天气很好！",
        "日本語のテキストとカタカナ、ひらがな。",
        "한국어 문장입니다.",
        "مرحبا بالعالم، هذه جملة عربية.",
        "السلام عليكم ورحمة الله وبركاته ١٢٣",
        "नमस्ते दुनिया, यह एक हिंदी वाक्य है।",
        "क्षत्रिय ज्ञान श्रद्धा",
        "Русский текст с пунктуацией: да, нет?",
        "Ελληνικά κείμενο",
        "עברית משמאל לימין",
        "ภาษาไทยไม่มีช่องว่าง",
        "Mixed: English中文русский日本語عربيहिन्दी",
        # emoji
        "Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 😀😃😄",
        "👩🏿‍💻 👨🏻‍🦰 🧑🏾‍🤝‍🧑🏼 ❤️‍🔥 🇯🇵🇫🇷 #️⃣ 1️⃣",
        "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
        # combining marks
        "Combining NFC: " + unicodedata.normalize("NFC", "café naïve résumé Ångström Việt Nam"),
        "Combining NFD: " + unicodedata.normalize("NFD", "café naïve résumé Ångström Việt Nam"),
        "Zalgo: z\u0335\u0321a\u0336l\u0337g\u0334o",
        "e\u0301 a\u0308 o\u0302\u0323 \u1e9b\u0323",
        "ﬁ ligature, full-width ＡＢＣ１２３, superscript x², ℌ ㍿",
        # contractions
        "I'm sure you're right, he'll say they've done it and she'd agree; it's John's.",
        "I'M SURE YOU'RE RIGHT, HE'LL SAY THEY'VE DONE IT AND SHE'D AGREE; IT'S JOHN'S.",
        "It'S mIxEd CaSe'Ll We'Re i'M tHeY'vE",
        "don't won't can't shouldn't y'all 'tis rock'n'roll",
        "curly: I’m you’re it’s don’t",
        # long words
        "a" * 300,
        "supercalifragilisticexpialidocious" * 5,
        long_word,
        "1234567890" * 50,
        "汉" * 500,
        "Pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism",
        # special tokens inside text
        "<|begin_of_text|>Hello<|end_of_text|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nfour\n</think>\n",
        "<think>reasoning</think> <answer>42</answer>",
        "<｜begin▁of▁sentence｜><｜User｜>hello<｜Assistant｜>hi<｜end▁of▁sentence｜>",
        "<s>[INST] question [/INST] answer</s>",
        "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
        "text<|im_end|>text <|im_end|> text  <|im_end|>  text",
        "x<s>y</s>z <s> </s>",
        "<|im_start|<|im_start|>|>",
        # the empty string
        "",
        # odd code points
        "\u0000nul \ufeffbom \U0001D400 \u0130 \u03a3 ǅ ﷺ \u2581 \ufffd",
    ]
    # random mixes of those pieces, odd code points and whitespace
    pieces = [w for l in lines for w in l.split(" ") if w and len(w) < 80] + SPECIALS + [
        " ", "  ", "\n", "\r\n", "\t", " \n ", "'s", "'LL", "'Ve", "123456", "\u0301", "\u200d",
        "\U0001F44D\U0001F3FD", "\u00e9", "e\u0301", "\uff21", "\u2581", "\u0000", "\ufeff",
        "\U0001D400", "\u0130", "\u03a3", "ǅ", "ﷺ", "\u3000"]
    for _ in range(400):
        lines.append("".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 40))))
    # dense strings over every ASCII character (controls, \v and \f included) with
    # contractions and the non-ASCII characters that border ASCII classes: a long s
    # (caseless 's), no-break and ideographic spaces, a non-ASCII letter and digit
    ascii = [chr(c) for c in range(128)]
    edges = ["'s", "'S", "'re", "'LL", "'Ve", "'d", "'", "\u017f", "'\u017f", "\u00a0", "\u3000",
             "\u0085", "\u00e9", "\u0663", "  ", "\r\n", " \n", "\t\t", "123456", "—"]
    for _ in range(200):
        lines.append("".join(rnd.choice(ascii) if rnd.random() < 0.8 else rnd.choice(edges)
                             for _ in range(rnd.randint(1, 30))))
    return lines


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def prose_paragraphs():
    """README.md and docs/*.md paragraphs outside code blocks and tables"""
    paras = []
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    for path in files:
        fenced = False
        cur = []
        for line in read(path).split("\n"):
            if line.startswith("```"):
                fenced = not fenced
                continue
            if fenced or line.startswith("|") or line.startswith("<!--"):
                continue
            if line.strip():
                cur.append(line)
            elif cur:
                paras.append("\n".join(cur) + "\n\n")
                cur = []
        if cur:
            paras.append("\n".join(cur) + "\n\n")
    return paras


def code_files():
    files = []
    for pat in ("*/*.c", "*/*.h", "*/*.sh", "*/*.py", "tests/*/*.c", "tests/*/*.sh"):
        files += glob.glob(os.path.join(ROOT, pat))
    return [read(f) for f in sorted(set(files))]


def emit(docs, nbytes, out):
    total = 0
    for d in docs:
        if total >= nbytes:
            break
        out.write(json.dumps(d, ensure_ascii=False) + "\n")
        total += len(d.encode("utf-8"))


def mixed(nbytes):
    rnd = random.Random(50)
    code = code_files()
    paras = prose_paragraphs()
    multi = [l for l in test_lines()[:90] if l]
    while True:
        # a code document: a slice of a source file on line boundaries, 1-8 KB
        src = rnd.choice(code).split("\n")
        a = rnd.randrange(len(src))
        doc, n = [], 0
        while a < len(src) and n < rnd.randint(1000, 8000):
            doc.append(src[a])
            n += len(src[a]) + 1
            a += 1
        yield "\n".join(doc) + "\n"
        # a prose document: consecutive paragraphs and a few multilingual lines
        a = rnd.randrange(len(paras))
        doc = paras[a:a + rnd.randint(2, 10)] + [rnd.choice(multi) + "\n" for _ in range(rnd.randint(0, 3))]
        rnd.shuffle(doc)
        yield "".join(doc)


def english():
    rnd = random.Random(51)
    paras = prose_paragraphs()
    while True:
        a = rnd.randrange(len(paras))
        yield "".join(paras[a:a + rnd.randint(2, 10)])


def main():
    out = sys.stdout
    if len(sys.argv) == 2 and sys.argv[1] == "test":
        for l in test_lines():
            out.write(json.dumps(l, ensure_ascii=False) + "\n")
    elif len(sys.argv) == 3 and sys.argv[1] in ("mixed", "english"):
        emit(mixed(int(sys.argv[2])) if sys.argv[1] == "mixed" else english(), int(sys.argv[2]), out)
    else:
        sys.exit("usage: corpus.py test | mixed BYTES | english BYTES")


if __name__ == "__main__":
    main()
