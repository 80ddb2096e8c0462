#!/usr/bin/env bash
# Bring your own data: a GSM8K-like JSONL (question, an answer ending "#### N", an id,
# an extra key) and a CSV (quoted commas, quotes and line ends) import through a field
# mapping; the mapped records, `dataset show --templated` (what an eval stage gives
# the model, exactly) and `dataset export` show them; a record lacking a mapped key, a
# bad regex and a missing CSV column are refused naming FILE:LINE and nothing is kept;
# an eval stage's stored reward jobs carry each record's keys as `record` (the
# reward programs' contract: docs/data.md).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA

start_daemon
start_worker w1 --name w1
wait_for 10 has_workers 1

cat >"$T/gsm.jsonl" <<'EOF2'
{"question": "Tom has 40 apples and buys 2. How many?", "answer": "40+2=42\n#### 42", "id": 7, "level": "easy"}
{"question": "Half of 9?", "answer": "9/2=4.5 #### 4.5", "id": 8, "level": "hard"}
EOF2
r1rc dataset import "$T/gsm.jsonl" --name gsm --field prompt=question --field id=id \
	--answer-after '####'; expect_rc 0 "dataset import (mapped JSONL)"
grep -q "imported 2 records" "$T/out" || fail "mapped import: $(cat "$T/out")"
r1rc dataset show gsm --json; expect_rc 0 "dataset show gsm"
[[ $(jq_ '[(r["prompt"], r["answer"], r["record"]["id"], r["record"]["level"]) for r in d["records"]]' <"$T/out") == \
	"[('Tom has 40 apples and buys 2. How many?', '42', 7, 'easy'), ('Half of 9?', '4.5', 8, 'hard')]" ]] ||
	fail "mapped records: $(cat "$T/out")"
log "a GSM8K-like JSONL imports through --field and --answer-after"

printf 'id,q,a\r\n1,"Say ""hi"", then stop",hi\r\n2,"two\nlines",42\r\n' >"$T/t.csv"
r1rc dataset import "$T/t.csv" --name t --field prompt=q --field answer=a; expect_rc 0 "dataset import (CSV)"
r1rc dataset show t --json; expect_rc 0 "dataset show t"
[[ $(jq_ '[(r["prompt"], r["answer"], r["record"]["id"]) for r in d["records"]]' <"$T/out") == \
	"[('Say \"hi\", then stop', 'hi', '1'), ('two\\nlines', '42', '2')]" ]] || fail "CSV records: $(cat "$T/out")"
log "a CSV file imports with quoted commas, quotes and line ends"

# --- refusals: nothing of the file is kept
printf '{"question": "q", "answer": "#### 1"}\n{"prompt": "p", "answer": "#### 2"}\n' >"$T/bad.jsonl"
r1rc dataset import "$T/bad.jsonl" --name bad --field prompt=question --answer-after '####'
expect_rc 1 "import (a key clashing with a mapped field)"
grep -qF "$T/bad.jsonl:2: key 'prompt' clashes with fields.prompt ('question')" "$T/err" ||
	fail "a key clashing with a mapped field: $(cat "$T/err")"
printf '{"question": "q", "answer": "1"}\n{"answer": "2"}\n' >"$T/bad.jsonl"
r1rc dataset import "$T/bad.jsonl" --name bad --field prompt=question
expect_rc 1 "import (a record lacking the mapped key)"
grep -qF "$T/bad.jsonl:2: no 'question' (fields.prompt)" "$T/err" || fail "missing key: $(cat "$T/err")"
r1rc dataset import "$T/gsm.jsonl" --name bad --field prompt=question --answer-regex '#### ([0-9]+'
expect_rc 2 "import (a bad regex)"
grep -qF "answer.regex '#### ([0-9]+': missing closing parenthesis at offset 12" "$T/err" ||
	fail "bad regex: $(cat "$T/err")"
r1rc dataset import "$T/gsm.jsonl" --name bad --field prompt=question --answer-regex '@@ (\d+)'
expect_rc 1 "import (a regex that does not match)"
grep -qF "$T/gsm.jsonl:1: answer.regex '@@ (\\d+)' does not match 'answer': \"40+2=42\\n#### 42\"" "$T/err" ||
	fail "regex without a match: $(cat "$T/err")"
r1rc dataset import "$T/t.csv" --name bad --field prompt=question; expect_rc 1 "import (no such column)"
grep -qF "$T/t.csv:1: no column 'question' (fields.prompt) in the header: id, q, a" "$T/err" ||
	fail "missing column: $(cat "$T/err")"
r1rc dataset import "$T/t.csv" --name bad --field prompt=q --field prompt=a; expect_rc 2 "import (--field twice)"
grep -qF -- "--field prompt is given twice" "$T/err" || fail "--field twice: $(cat "$T/err")"
r1rc dataset show gsm --templated; expect_rc 2 "show --templated without --spec"
grep -qF -- "--templated needs --spec FILE" "$T/err" || fail "--templated alone: $(cat "$T/err")"
r1rc datasets --json; expect_rc 0 datasets
[[ $(jq_ 'sorted(x["name"] for x in d["datasets"])' <"$T/out") == "['gsm', 't']" ]] ||
	fail "a refused import left a dataset: $(cat "$T/out")"
log "a missing key, a bad or unmatched regex, a missing column: refused, FILE:LINE named"

# --- export: the mapped fields and the other keys, importable as they are
r1rc dataset export gsm; expect_rc 0 "dataset export gsm"
[[ $(head -1 "$T/out") == '{"prompt":"Tom has 40 apples and buys 2. How many?","answer":"42","id":7,"level":"easy"}' ]] ||
	fail "export: $(cat "$T/out")"

# --- a spec: the shared gsm and a CSV file of its own, an eval stage on gsm
cat >"$T/spec.yaml" <<'YAML'
version: 1
name: mapped
seed: 1
model: {config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 96}}
datasets:
  gsm: {shared: gsm}
  mine: {file: t.csv, fields: {prompt: q}, answer: {field: a, regex: "[0-9a-z]+"}}
rewards:
  acc: {fn: accuracy}
stages:
  - {name: ev, kind: eval, dataset: gsm, samples: 2, max_new_tokens: 4}
  - {name: ev2, kind: eval, dataset: mine, samples: 1, max_new_tokens: 4}
YAML
r1rc validate "$T/spec.yaml"; expect_rc 0 "validate (a CSV dataset with a mapping)"
r1rc dataset show gsm --templated --spec "$T/spec.yaml" --limit 1; expect_rc 0 "dataset show --templated"
cat >"$T/want" <<'EOF2'
dataset 'gsm' through stage 'ev' (eval): records 0..0 of 2

#0  42 tokens
  model     <|bos|>Tom has 40 apples and buys 2. How many?
            <think>
  answer    42
  record    {"prompt":"Tom has 40 apples and buys 2. How many?","answer":"40+2=42\n#### 42","id":7,"level":"easy"}
EOF2
diff -u "$T/want" "$T/out" || fail "dataset show --templated (shared gsm) differs"
r1rc dataset show mine --templated --spec "$T/spec.yaml" --offset 1 --json; expect_rc 0 "dataset show --templated (CSV)"
[[ $(jq_ '[(r["text"], r["tokens"], r["answer"]) for r in d["records"]]' <"$T/out") == \
	"[('<|bos|>two\\nlines\\n<think>', 12, '42')]" ]] || fail "templated CSV record: $(cat "$T/out")"
r1rc dataset export gsm --templated --spec "$T/spec.yaml" -o "$T/seen.jsonl"; expect_rc 0 "dataset export --templated"
[[ $(/usr/bin/python3 -c 'import json,sys; print([(d["idx"], d["tokens"], d["answer"], d["text"][-8:]) for d in map(json.loads, open(sys.argv[1]))])' "$T/seen.jsonl") == \
	"[(0, 42, '42', '\\n<think>'), (1, 13, '4.5', '\\n<think>')]" ]] || fail "export --templated: $(cat "$T/seen.jsonl")"
log "dataset show|export --templated: what the eval stage gives the model, with its tokens"

r1rc submit "$T/spec.yaml"; expect_rc 0 "submit"; ID=$(cat "$T/out")
r1rc watch "$ID" --plain; expect_rc 0 "watch $ID"
params=$(sql "SELECT params FROM jobs j JOIN stages s ON s.id = j.stage WHERE j.kind = 'reward' AND s.name = 'ev' ORDER BY j.id LIMIT 1")
[[ -n $params ]] || fail "no reward job of stage ev"
got=$(jq_ 'sorted(set((i["record"]["id"], i["record"]["level"], i["answer"]) for i in d["items"]))' <<<"$params")
[[ $got == "[(7, 'easy', '42'), (8, 'hard', '4.5')]" ]] || fail "reward items' records: $got ($params)"
params=$(sql "SELECT params FROM jobs j JOIN stages s ON s.id = j.stage WHERE j.kind = 'reward' AND s.name = 'ev2' ORDER BY j.id LIMIT 1")
got=$(jq_ 'sorted(set((i["record"]["id"], i["answer"]) for i in d["items"]))' <<<"$params")
[[ $got == "[('1', 'hi'), ('2', '42')]" ]] || fail "CSV reward items' records: $got ($params)"
log "pipeline $ID: the eval stages' reward jobs carry each record's keys as 'record'"

# --- chat records merged with SFT examples (as R1 merges its general data with the
# rejection-sampled examples): one sft stage with a chat format renders the chats in
# it and the examples through the template, and trains on both
cat >"$T/chat.jsonl" <<'EOF2'
{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}], "source": "qa"}
EOF2
cat >"$T/ex.jsonl" <<'EOF2'
{"prompt": "1+2", "response": "3</think><answer>3</answer>"}
EOF2
cat >"$T/merge.yaml" <<'YAML'
version: 1
name: merged
seed: 1
model: {config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 160}}
datasets:
  chat: {file: chat.jsonl}
  ex: {file: ex.jsonl}
stages:
  - {name: mix, kind: merge, inputs: [{dataset: ex}, {dataset: chat}], output: mixed}
  - {name: sft, kind: sft, dataset: mixed, chat_format: chatml, steps: 1, batch: 2}
YAML
r1rc submit "$T/merge.yaml"; expect_rc 0 "submit (merge of chats and examples)"; ID=$(cat "$T/out")
r1rc watch "$ID" --plain; expect_rc 0 "watch $ID"
r1rc dataset show mixed --pipeline "$ID" --templated --spec "$T/merge.yaml" --json
expect_rc 0 "dataset show mixed --templated (from the daemon)"
got=$(jq_ 'sorted((r["text"], r["trained"], r["tokens"], r["trained_tokens"]) for r in d["records"])' <"$T/out")
want="[('<|bos|>1+2\\n<think>3</think><answer>3</answer><|eos|>', '3</think><answer>3</answer><|eos|>', 12, 6), "
want+="('<|bos|><|im_start|>system\\nBe brief.<|im_end|>\\n<|im_start|>user\\nCapital of France?<|im_end|>\\n<|im_start|>assistant\\nParis.<|im_end|>\\n', 'Paris.<|im_end|>', 125, 16)]"
[[ $got == "$want" ]] || fail "merged chat and example, templated: $got"
r1rc metrics "$ID" --json; expect_rc 0 "metrics $ID"
grep -q '"loss"' "$T/out" || fail "the sft stage on the merged data trained no step: $(cat "$T/out")"
log "pipeline $ID: a merge of chat records and SFT examples, each rendered its way, trains"
