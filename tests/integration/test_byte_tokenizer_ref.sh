#!/usr/bin/env bash
# The byte tokenizer as `r1flow export` writes it (tokenizer.json, tokenizer_config.json,
# generation_config.json beside the weights) against the reference implementation,
# @lenml/tokenizers (a port of transformers.js's tokenizers; scripts/deps.sh installs it
# into .ref/npm): a model trained and exported by `r1flow train`, then for every line of
# a mixed corpus (prose, code, numbers, runs of whitespace, CJK, Arabic, Devanagari,
# emoji with ZWJ and skin tones, NFC and NFD, the seven specials inside text and cut
# short, control characters and NUL, a long word, the empty string):
#   - the reference's ids without special tokens equal r1flow's byte tokenizer's (a
#     directory with only config.json) and r1flow's on the exported directory;
#   - with special tokens (what transformers feeds a model) they equal `r1flow
#     tokenize --bos`, the BOS packing puts before every sequence;
#   - the reference decodes the ids to the line itself (special tokens kept), with
#     and without its default clean-up, and so does `r1flow tokenize --decode`;
# and the reference reads bos/eos/pad and model_max_length from tokenizer_config.json.
# Hugging Face's Rust library (`tokenizers`, its Node bindings, also in .ref/npm) gives
# the same ids, ids with special tokens and decoded text.
# The one difference the files cannot remove: text that is not valid UTF-8 (a JS or
# Python string cannot hold it), left out here.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
REF=$SRC/.ref/npm/node_modules
for pkg in @lenml/tokenizers tokenizers; do
	[[ -f $REF/$pkg/package.json ]] ||
		fail "the reference $pkg is not installed in '$REF' (scripts/deps.sh installs it)"
done
command -v node >/dev/null || fail "node is not installed (scripts/deps.sh installs nodejs)"
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

"$R1FLOW_CLI" train --steps 1 --batch 2 --dim 16 --layers 1 --heads 2 --ffn 32 --max-seq 48 \
	--seed 3 --workers 1 --threads 1 --out "$T/model" >"$T/train.out" 2>&1 ||
	fail "r1flow train: $(tail -n 5 "$T/train.out")"
for f in tokenizer.json tokenizer_config.json generation_config.json; do
	[[ -s $T/model/$f ]] || fail "the exported model has no $f: $(ls "$T/model")"
done
mkdir -p "$T/bytes" && cp "$T/model/config.json" "$T/bytes/"

/usr/bin/python3 - >"$T/corpus.jsonl" <<'PY'
import json, unicodedata
lines = [
  "", "The quick brown fox jumps over the lazy dog. It's 3:45 p.m. on 2024-03-15.",
  "def f(x):\n    return x**2 + 3*x - 1  # comment\n", "for (int i = 0; i < n; i++) { s += a[i]; }",
  "    indented\twith\ttabs\n\n\n   and   runs   of   spaces   ", "\n\n\n", "   ", "a\r\nb\r\n",
  "1234567890 3.14159 -42 1,000,000 0x1F 1e-9", "x .y , z ! (clean-up would drop these spaces)",
  "我喜欢自然语言处理。今天天气很好！", "日本語のテキスト", "مرحبا بالعالم، هذه جملة عربية.",
  "नमस्ते दुनिया, यह एक हिंदी वाक्य है।", "Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 😀😃😄",
  unicodedata.normalize("NFC", "café naïve résumé Ångström"),
  unicodedata.normalize("NFD", "café naïve résumé Ångström"),
  "I'm sure you're right, he'll say they've done it. I'M SURE YOU'RE RIGHT. It'S mIxEd'Ll",
  "<|bos|>12+34=<think>4+2=6</think><answer>46</answer><|eos|><|pad|>",
  "<thin <|bos <answer</answer>> <<think>> </think</think>", "<think><think></answer><|eos|>x",
  "\u0000 \u0001\u001f\u007f\u0080\u00a0\u00ad\u00ff\u0100 \ufeff\ufffd", "supercalifragilistic" * 20,
  " leading", "trailing ", "\u3000ideographic space\u200bzero width\u200d",
]
for l in lines:
    print(json.dumps(l, ensure_ascii=False))
PY

cat >"$T/ref.js" <<'JS'
const fs = require("fs");
const { TokenizerLoader } = require(process.argv[2]);
const dir = process.argv[3];
const t = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(dir + "/tokenizer.json", "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(dir + "/tokenizer_config.json", "utf8")),
});
const dec = (ids, o) => (ids.length ? t.decode(ids, o) : "");
console.log(JSON.stringify({ bos: t.bos_token_id, eos: t.eos_token_id, pad: t.pad_token_id,
  max: t.model_max_length }));
for (const line of fs.readFileSync(process.argv[4], "utf8").split("\n")) {
  if (line === "") continue;
  const text = JSON.parse(line);
  const ids = t.encode(text, { add_special_tokens: false });
  console.log(JSON.stringify({ ids, with_special: t.encode(text),
    text: dec(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    text_default: dec(ids) }));
}
JS
node "$T/ref.js" "$REF/@lenml/tokenizers" "$T/model" "$T/corpus.jsonl" >"$T/ref.jsonl" 2>"$T/ref.err" ||
	fail "the reference failed: $(tail -c 600 "$T/ref.err")"

cat >"$T/rust.js" <<'JS'
const fs = require("fs");
const { Tokenizer } = require(process.argv[2]);
(async () => {
  const t = Tokenizer.fromFile(process.argv[3] + "/tokenizer.json");
  const out = [];
  for (const line of fs.readFileSync(process.argv[4], "utf8").split("\n")) {
    if (line === "") continue;
    const text = JSON.parse(line);
    const ids = (await t.encode(text, null, { addSpecialTokens: false })).getIds();
    out.push(JSON.stringify({ ids, text: ids.length ? await t.decode(ids, false) : "",
      with_special: (await t.encode(text, null, { addSpecialTokens: true })).getIds() }));
  }
  console.log(out.join("\n"));
})().catch((e) => { console.error(e); process.exit(1); });
JS
node "$T/rust.js" "$REF/tokenizers" "$T/model" "$T/corpus.jsonl" >"$T/rust.jsonl" 2>"$T/rust.err" ||
	fail "Hugging Face's tokenizers failed: $(tail -c 600 "$T/rust.err")"

/usr/bin/python3 - "$R1FLOW_CLI" "$T" <<'PY' || fail "the reference and r1flow differ (above)"
import json, subprocess, sys
cli, T = sys.argv[1:]
def tok(model, text, *args):
    r = subprocess.run([cli, "tokenize", "--model", model, "--file", "-", *args],
                       input=text.encode(), capture_output=True, check=True)
    return [int(x) for x in r.stdout.split()]
ref = [json.loads(l) for l in open(f"{T}/ref.jsonl")]
head, ref = ref[0], ref[1:]
texts = [json.loads(l) for l in open(f"{T}/corpus.jsonl")]
assert len(ref) == len(texts), (len(ref), len(texts))
bad = []
if head != {"bos": 256, "eos": 257, "pad": 258, "max": 48}:
    bad.append(f"the reference reads tokenizer_config.json as {head}")
rs = [json.loads(l) for l in open(f"{T}/rust.jsonl")]
for text, r, h in zip(texts, ref, rs):
    ids = tok(f"{T}/bytes", text)
    what = []
    if (h["ids"], h["with_special"], h["text"]) != (ids, r["with_special"], text):
        what.append(f"Hugging Face's tokenizers: {h['ids'][:12]}, {h['text'][:40]!r}")
    if r["ids"] != ids: what.append(f"ids: reference {r['ids'][:12]}, byte tokenizer {ids[:12]}")
    if tok(f"{T}/model", text) != ids: what.append("the exported directory gives other ids")
    if r["with_special"] != tok(f"{T}/bytes", text, "--bos"):
        what.append(f"with special tokens: reference {r['with_special'][:12]}")
    if r["text"] != text: what.append(f"reference decode {r['text'][:40]!r}")
    if r["text_default"] != text: what.append(f"reference default decode {r['text_default'][:40]!r}")
    if ids:
        d = subprocess.run([cli, "tokenize", "--model", f"{T}/model", "--decode", *map(str, ids)],
                           capture_output=True, check=True).stdout
        if d != text.encode() + b"\n": what.append(f"r1flow decode {d[:40]!r}")
    if what: bad.append(f"{text[:40]!r}: " + "; ".join(what))
for b in bad: print("  " + b)
print(f"# {len(texts) - len(bad)} of {len(texts)} lines: same ids, ids with BOS and decoded text"
      " in @lenml/tokenizers and Hugging Face's tokenizers")
sys.exit(1 if bad else 0)
PY
log "byte tokenizer: the exported files give r1flow's ids in the reference library"
