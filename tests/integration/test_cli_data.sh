#!/usr/bin/env bash
# What pipelines produce, through the CLI against a real daemon and 1 worker: a tiny
# pretrain + eval pipeline runs, then metrics (summary, CSV, JSON), report (table,
# markdown, JSON), export (an HF model directory that 'r1flow score' loads, with the
# tokenizer files: the byte tokenizer's reloading with its ids, or the model's own byte
# for byte; a non-empty directory refused), tokenize, datasets, and dataset import (a bad line fails the
# whole file with FILE:LINE), show and export (an export imports back the same).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA   # every verb finds the daemon without --data

r1() { "$R1FLOW_CLI" "$@"; }
# run r1 with the output in $T/out and $T/err; the exit status in $RC

# --- help and usage errors: no daemon needed
for v in metrics report export datasets dataset "dataset import" "dataset export" "dataset show"; do
	r1rc $v --help; expect_rc 0 "$v --help"
	grep -q "r1flow $v" "$T/out" || fail "$v --help does not name the verb: $(cat "$T/out")"
	grep -q "example:" "$T/out" && grep -q "exit status" "$T/out" ||
		fail "$v --help lacks an example or the exit statuses"
	r1rc $v --no-such-option; expect_rc 2 "$v --no-such-option"
done
r1rc help dataset; expect_rc 0 "help dataset"
grep -q "import" "$T/out" && grep -q "export" "$T/out" && grep -q "show" "$T/out" ||
	fail "help dataset lists no subcommands: $(cat "$T/out")"
for args in "metrics" "report" "export 1 base" "dataset" "dataset frob" "dataset show" \
	"dataset import $T/x.jsonl" "metrics abc" "report 0" "export x base $T/m" \
	"metrics 1 --csv --json" "report 1 --json --markdown" "datasets --pipeline x" \
	"dataset show x --limit 0" "dataset show x --limit 10001" "dataset import $T/x.jsonl --name Bad-Name"; do
	r1rc $args; expect_rc 2 "$args"
	grep -q "see 'r1flow ${args%% *}" "$T/err" || fail "$args: usage error without a pointer: $(cat "$T/err")"
done
for v in "metrics 1" "report 1" "datasets" "dataset show x"; do
	r1rc $v; expect_rc 1 "$v (no daemon)"
	grep -q "no daemon at 'ipc://$DATA/control.sock'" "$T/err" || fail "$v without a daemon said: $(cat "$T/err")"
done
log "--help, usage errors and no daemon for metrics, report, export, datasets, dataset *"

# --- a tiny pipeline: 8 pretrain steps, then an eval of them
start_daemon
start_worker w1 --name w1
wait_for 10 has_workers 1
cat >"$T/tiny.yaml" <<'EOF'
version: 1
name: tiny
seed: 1
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 500}
  test: {generate: arithmetic, style: problem, count: 20, seed: 2}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 8, batch: 16}
  - {name: eval_base, kind: eval, from: base, dataset: test, samples: 2, max_new_tokens: 20}
EOF
r1rc submit "$T/tiny.yaml"; expect_rc 0 submit
ID=$(cat "$T/out")
r1rc watch "$ID" --plain; expect_rc 0 "watch $ID"
log "pipeline $ID (pretrain 8 steps, eval) succeeded"

# --- metrics
r1rc metrics "$ID"; expect_rc 0 metrics
grep -q "^base (pretrain): 8 steps, 1..8$" "$T/out" && grep -Eq "^  loss +[0-9.]+ +[0-9.]+ " "$T/out" &&
	grep -q "^eval_base (eval): 1 step" "$T/out" && grep -Eq "^  pass1 +[0-9.]+$" "$T/out" ||
	fail "metrics: $(cat "$T/out")"
r1rc metrics "$ID" --csv; expect_rc 0 "metrics --csv"
[[ $(head -n 1 "$T/out") == "stage,step,name,value" ]] || fail "metrics --csv header: $(head -n 1 "$T/out")"
[[ $(grep -Ec '^base,[1-8],loss,[0-9.e+-]+$' "$T/out") == 8 ]] || fail "metrics --csv: not 8 loss rows: $(cat "$T/out")"
grep -Eq '^eval_base,0,pass1,' "$T/out" || fail "metrics --csv: no eval row"
r1rc metrics "$ID" --stage base --csv; expect_rc 0 "metrics --stage base --csv"
grep -q '^eval_base' "$T/out" && fail "metrics --stage base printed eval_base"
r1rc metrics "$ID" --json; expect_rc 0 "metrics --json"
[[ $(jq_ '([s["name"] for s in d["stages"]], len(d["stages"][0]["metrics"]["loss"]), d["stages"][0]["kind"])' <"$T/out") == \
	"(['base', 'eval_base'], 8, 'pretrain')" ]] || fail "metrics --json: $(cat "$T/out")"
r1rc metrics "$ID" --stage nosuch; expect_rc 1 "metrics --stage nosuch"
grep -q "^r1flow metrics: .*nosuch" "$T/err" || fail "metrics of an unknown stage said: $(cat "$T/err")"
r1rc metrics 999999; expect_rc 1 "metrics 999999"
log "metrics: summary, CSV with 8 loss rows, JSON, unknown stage and pipeline"

# --- report
r1rc report "$ID"; expect_rc 0 report
grep -q "^pipeline $ID 'tiny' (succeeded)" "$T/out" &&
	grep -Eq "^STAGE +FROM +GREEDY PASS@1 +SAMPLED PASS@1 +MAJ@K +FORMAT +REASONING +LENGTH$" "$T/out" &&
	grep -Eq "^eval_base +base +[0-9.]+% +[0-9.]+% +[0-9.]+% +[0-9.]+% +[0-9.]+% +[0-9.]+$" "$T/out" ||
	fail "report: $(cat "$T/out")"
r1rc report "$ID" --markdown; expect_rc 0 "report --markdown"
[[ $(head -n 1 "$T/out") == "| stage | from | greedy pass@1 | sampled pass@1 | maj@k | format | reasoning | length |" ]] &&
	sed -n 2p "$T/out" | grep -Eq '^(\|:?-+:?)+\|$' && grep -q "^| eval_base | base | " "$T/out" ||
	fail "report --markdown: $(cat "$T/out")"
r1rc report "$ID" --json; expect_rc 0 "report --json"
[[ $(jq_ '(d["pipeline"]["id"], [(r["stage"], r["from"]) for r in d["rows"]], sorted(k for k in ("pass1", "pass1_sampled", "majk", "format", "reasoning", "length") if k in d["rows"][0]["metrics"]))' <"$T/out") == \
	"($ID, [('eval_base', 'base')], ['format', 'length', 'majk', 'pass1', 'pass1_sampled', 'reasoning'])" ]] ||
	fail "report --json: $(cat "$T/out")"
r1rc report 999999; expect_rc 1 "report 999999"
r1rc datasets --pipeline 999999; expect_rc 1 "datasets --pipeline 999999"
grep -q "no pipeline 999999" "$T/err" || fail "datasets --pipeline 999999: $(cat "$T/err")"
log "report: table, markdown, JSON"

# --- export: an HF model directory r1flow score loads
r1rc export "$ID" base "$T/models/base"; expect_rc 0 export
grep -q "^exported stage 'base' of pipeline $ID (step 8, sha256 [0-9a-f]*) to $T/models/base$" "$T/out" ||
	fail "export said: $(cat "$T/out")"
[[ $(jq_ '(d["architectures"], d["hidden_size"], d["num_hidden_layers"])' <"$T/models/base/config.json") == \
	"(['LlamaForCausalLM'], 32, 1)" ]] || fail "config.json: $(cat "$T/models/base/config.json")"
[[ $(ls -A "$T/models/base" | tr '\n' ' ') == \
	"config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json " ]] ||
	fail "export left: $(ls -A "$T/models/base")"
r1rc score --model "$T/models/base" --text "1+2=3"; expect_rc 0 "score of the exported model"
# the byte tokenizer's files: the exported directory tokenizes as the byte tokenizer
# does (a directory with only config.json uses it)
mkdir -p "$T/models/bytes" && cp "$T/models/base/config.json" "$T/models/bytes/"
TEXT=$'<|bos|>12+34=<think>4+2=6, 1+3=4</think><answer>46</answer><|eos|> \t\n\u00e9\u4e2d\U0001F44D <thin'
r1rc tokenize --model "$T/models/bytes" --text "$TEXT" --bos; expect_rc 0 "tokenize (byte tokenizer)"
want=$(cat "$T/out")
[[ $want == "256 256 49 50 43 51 52 61 259 "* ]] || fail "byte tokenizer ids: $want"
r1rc tokenize --model "$T/models/base" --text "$TEXT" --bos; expect_rc 0 "tokenize (exported)"
[[ $(cat "$T/out") == "$want" ]] || fail "the exported tokenizer gives $(cat "$T/out"), the byte tokenizer $want"
r1rc tokenize --model "$T/models/base" --decode $want; expect_rc 0 "tokenize --decode (exported)"
[[ $(cat "$T/out") == "<|bos|>$TEXT" ]] || fail "the exported tokenizer decodes to $(cat "$T/out")"
[[ $(jq_ '(d["bos_token"], d["eos_token"], d["pad_token"], d["add_bos_token"], d["model_max_length"])' \
	<"$T/models/base/tokenizer_config.json") == "('<|bos|>', '<|eos|>', '<|pad|>', True, 48)" ]] ||
	fail "tokenizer_config.json: $(cat "$T/models/base/tokenizer_config.json")"
[[ $(jq_ '(d["bos_token_id"], d["eos_token_id"], d["pad_token_id"])' \
	<"$T/models/base/generation_config.json") == "(256, 257, 258)" ]] ||
	fail "generation_config.json: $(cat "$T/models/base/generation_config.json")"
r1rc export "$ID" base "$T/models/base"; expect_rc 1 "export into a non-empty directory"
grep -q "^r1flow export: '$T/models/base' is not empty: .*--force" "$T/err" || fail "export into a non-empty dir said: $(cat "$T/err")"
r1rc export "$ID" base "$T/models/base" --force --json; expect_rc 0 "export --force --json"
sha=$(jq_ 'd["sha256"]' <"$T/out")
[[ $(sha256sum "$T/models/base/model.safetensors" | cut -d' ' -f1) == "$sha" ]] ||
	fail "model.safetensors is not the checkpoint $sha"
[[ $(jq_ '(d["stage"], d["step"], d["bytes"], d["tokenizer"])' <"$T/out") == \
	"('base', 8, $(stat -c %s "$T/models/base/model.safetensors"), 'bytes')" ]] ||
	fail "export --json: $(cat "$T/out")"
r1rc export "$ID" nosuch "$T/models/x"; expect_rc 1 "export of an unknown stage"
grep -q "nosuch" "$T/err" || fail "export of an unknown stage said: $(cat "$T/err")"
[[ -e $T/models/x ]] && fail "a failed export created its directory"
r1rc export "$ID" base "$T/tiny.yaml"; expect_rc 1 "export into a file"
log "export: config.json + model.safetensors (sha256 checked), scored; the byte tokenizer's files reload with its ids; non-empty dir refused"

# --- export of a pipeline whose model came with a tokenizer: its files byte for byte.
# A small BPE tokenizer.json and tokenizer_config.json as blobs, named by the stored
# spec's model.tokenizer_blobs in the form submit pins them in (set here directly, so
# that a malformed map can be tried too; test_hf_model.sh pins a real one through
# submit); no generation_config.json, so export writes one from the stop ids (the
# tokenizer's eos and config.json's).
cat >"$T/tokenizer.json" <<'EOF'
{"version": "1.0", "added_tokens": [{"id": 8, "content": "<|end|>", "single_word": false,
 "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "model": {"type": "BPE", "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "he": 4, "ll": 5,
 "hell": 6, "hello": 7}, "merges": ["h e", "l l", "he ll", "hell o"]}}
EOF
printf '{"bos_token": null, "eos_token": "<|end|>", "add_bos_token": false}\n' >"$T/tokenizer_config.json"
put_blob() { "$R1FLOW_CTL" --blob "$1" "$DATA" '{"op":"blob_put"}' | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p'; }
tj=$(put_blob "$T/tokenizer.json")
tc=$(put_blob "$T/tokenizer_config.json")
[[ ${#tj} == 64 && ${#tc} == 64 ]] || fail "blob_put of the tokenizer files: '$tj' '$tc'"
sql "UPDATE pipelines SET spec = json_set(spec, '\$.model.tokenizer_blobs',
	json_object('tokenizer.json', '$tj', 'tokenizer_config.json', '$tc')) WHERE id = $ID"
r1rc export "$ID" base "$T/models/own" --json; expect_rc 0 "export (the model's own tokenizer)"
[[ $(jq_ 'd["tokenizer"]' <"$T/out") == model ]] || fail "export --json: $(cat "$T/out")"
cmp "$T/tokenizer.json" "$T/models/own/tokenizer.json" || fail "tokenizer.json is not the model's"
cmp "$T/tokenizer_config.json" "$T/models/own/tokenizer_config.json" ||
	fail "tokenizer_config.json is not the model's"
[[ $(jq_ '(d["bos_token_id"], d["eos_token_id"])' <"$T/models/own/generation_config.json") == \
	"(256, [8, 257])" ]] || fail "generation_config.json: $(cat "$T/models/own/generation_config.json")"
r1rc tokenize --model "$T/models/own" --text "hellohe<|end|>ll"; expect_rc 0 "tokenize (own tokenizer)"
[[ $(cat "$T/out") == "7 4 8 5" ]] || fail "the exported tokenizer gives $(cat "$T/out"), not 7 4 8 5"
# --force over the byte tokenizer's directory replaces its tokenizer files
r1rc export "$ID" base "$T/models/base" --force; expect_rc 0 "export --force (own tokenizer)"
cmp "$T/tokenizer.json" "$T/models/base/tokenizer.json" || fail "--force kept the old tokenizer.json"
cmp "$T/tokenizer_config.json" "$T/models/base/tokenizer_config.json" ||
	fail "--force kept the old tokenizer_config.json"
# a file the model has not, a name that is no tokenizer file: refused by the daemon
"$R1FLOW_CTL" "$DATA" '{"op":"checkpoint","id":'"$ID"',"stage":"base","file":"generation_config.json"}' \
	>"$T/out" && fail "checkpoint of a tokenizer file the model lacks: $(cat "$T/out")"
grep -q "no tokenizer file 'generation_config.json'" "$T/out" || fail "checkpoint file: $(cat "$T/out")"
sql "UPDATE pipelines SET spec = json_set(spec, '\$.model.tokenizer_blobs',
	json_object('../evil', '$tj')) WHERE id = $ID"
r1rc export "$ID" base "$T/models/evil"; expect_rc 1 "export of a malformed tokenizer_blobs"
grep -q "model.tokenizer_blobs is not a map of tokenizer file names" "$T/err" ||
	fail "export of a malformed tokenizer_blobs said: $(cat "$T/err")"
[[ -e $T/models/evil || -e $T/models/../evil ]] && fail "a refused export wrote files"
# a tokenizer.json that does not load: the export fails naming it, before any weights
printf '{"model": {"type": "WordPiece", "vocab": {}}}' >"$T/wordpiece.json"
tw=$(put_blob "$T/wordpiece.json")
sql "UPDATE pipelines SET spec = json_set(spec, '\$.model.tokenizer_blobs',
	json_object('tokenizer.json', '$tw')) WHERE id = $ID"
r1rc export "$ID" base "$T/models/wp"; expect_rc 1 "export of a tokenizer that does not load"
grep -q "^r1flow export: the exported tokenizer does not load: .*$T/models/wp/tokenizer.json.*WordPiece" "$T/err" ||
	fail "export of a tokenizer that does not load said: $(cat "$T/err")"
[[ -e $T/models/wp/config.json || -e $T/models/wp/model.safetensors ]] &&
	fail "a failed export left a model: $(ls "$T/models/wp")"
sql "UPDATE pipelines SET spec = json_remove(spec, '\$.model.tokenizer_blobs') WHERE id = $ID"
log "export: the model's own tokenizer files byte for byte, generation_config.json from its stop ids; a malformed map or a tokenizer that does not load refused"

# --- datasets
r1rc datasets; expect_rc 0 datasets
grep -Eq "^corpus +$ID \(tiny\) +500 +generate arithmetic" "$T/out" &&
	grep -Eq "^test +$ID \(tiny\) +20 +generate arithmetic" "$T/out" || fail "datasets: $(cat "$T/out")"
r1rc datasets --pipeline "$ID" --json; expect_rc 0 "datasets --json"
[[ $(jq_ '[(x["name"], x["count"], x["pipeline"]) for x in d["datasets"]]' <"$T/out") == \
	"[('corpus', 500, $ID), ('test', 20, $ID)]" ]] || fail "datasets --json: $(cat "$T/out")"

# --- dataset import: a good file, a bad one (nothing kept)
cat >"$T/good.jsonl" <<'EOF'
{"prompt": "2+2", "answer": "4"}
{"prompt": "3+5", "answer": "8", "meta": {"source": "hand", "weight": 0.5}}

{"messages": [{"role": "user", "content": "what is 1+1?"}, {"role": "assistant", "content": "<think>one and one</think><answer>2</answer>"}]}
{"prompt": "two\nlines", "response": "<think>a\nb</think><answer>c</answer>"}
EOF
printf '{"prompt": "1+1", "answer": "2"}\n{"prompt": "1+2", "answer": "3"}\n{"prompt": 7, "answer": "8"}\n{"prompt": "1+3", "answer": "4"}\n' >"$T/bad.jsonl"
r1rc dataset import "$T/good.jsonl" --name good; expect_rc 0 "dataset import"
[[ $(cat "$T/out") == "imported 4 records from $T/good.jsonl as dataset 'good'" ]] || fail "import said: $(cat "$T/out")"
r1rc dataset import "$T/bad.jsonl" --name bad; expect_rc 1 "dataset import of a bad file"
grep -q "^r1flow dataset import: $T/bad.jsonl:3: " "$T/err" || fail "a bad line 3 said: $(cat "$T/err")"
r1rc dataset import "$T/good.jsonl" --name good; expect_rc 1 "dataset import under a taken name"
r1rc dataset import "$T/none.jsonl" --name none; expect_rc 1 "dataset import of a missing file"
grep -q "$T/none.jsonl" "$T/err" || fail "import of a missing file said: $(cat "$T/err")"
r1rc datasets --json; expect_rc 0 "datasets --json"
[[ $(jq_ 'sorted((x["name"], x["count"]) for x in d["datasets"] if x["pipeline"] is None)' <"$T/out") == "[('good', 4)]" ]] ||
	fail "after the imports: $(cat "$T/out")"
r1rc datasets; grep -Eq "^good +- \(shared\) +4 +file $T/good.jsonl$" "$T/out" || fail "datasets: $(cat "$T/out")"
log "dataset import: 4 records; a bad line 3 fails the file with :3: and keeps nothing"

# --- dataset show
r1rc dataset show good; expect_rc 0 "dataset show"
grep -q "^dataset 'good': records 0..3 of 4$" "$T/out" && grep -q "^#3$" "$T/out" &&
	grep -q "^  prompt    what is 1+1?$" "$T/out" && grep -q '^  meta      {"source":"hand","weight":0.5}$' "$T/out" &&
	grep -q "^            lines$" "$T/out" || fail "dataset show: $(cat "$T/out")"
r1rc dataset show test --pipeline "$ID" --offset 5 --limit 3 --json; expect_rc 0 "dataset show --json"
[[ $(jq_ '(d["count"], [r["idx"] for r in d["records"]], all("prompt" in r and "answer" in r for r in d["records"]))' <"$T/out") == \
	"(20, [5, 6, 7], True)" ]] || fail "dataset show --json: $(cat "$T/out")"
r1rc dataset show test; expect_rc 1 "dataset show of a pipeline's dataset without --pipeline"
r1rc dataset show nosuch --pipeline "$ID"; expect_rc 1 "dataset show nosuch"
grep -q "nosuch" "$T/err" || fail "show of an unknown dataset said: $(cat "$T/err")"

# --- dataset export: what it writes imports back as the same records
r1rc dataset export good -o "$T/good.out.jsonl"; expect_rc 0 "dataset export -o"
[[ $(cat "$T/out") == "exported 4 records of dataset 'good' to $T/good.out.jsonl" ]] || fail "export said: $(cat "$T/out")"
[[ $(wc -l <"$T/good.out.jsonl") == 4 ]] || fail "export wrote: $(cat "$T/good.out.jsonl")"
r1rc dataset import "$T/good.out.jsonl" --name good_copy --json; expect_rc 0 "re-import"
[[ $(jq_ 'd["count"]' <"$T/out") == 4 ]] || fail "re-import: $(cat "$T/out")"
r1 dataset export good_copy >"$T/good.again.jsonl" || fail "dataset export to stdout exited $?"
cmp -s "$T/good.out.jsonl" "$T/good.again.jsonl" || fail "export, import, export changed the records"
grep -q '^{"messages":\[{"role":"user","content":"what is 1+1?"},{"role":"assistant",' "$T/good.out.jsonl" &&
	! grep -q '"prompt":"what is 1+1?"' "$T/good.out.jsonl" || fail "the chat was not exported as its messages: $(cat "$T/good.out.jsonl")"
r1 dataset export test --pipeline "$ID" >"$T/test.jsonl" || fail "dataset export of a pipeline's dataset"
r1rc dataset import "$T/test.jsonl" --name test_copy; expect_rc 0 "import of an exported pipeline dataset"
[[ $(cat "$T/out") == "imported 20 records from $T/test.jsonl as dataset 'test_copy'" ]] || fail "re-import: $(cat "$T/out")"
pairs='[(r["prompt"], r["answer"], r.get("meta")) for r in d["records"]]'
orig=$(r1 dataset show test --pipeline "$ID" --limit 20 --json | jq_ "$pairs")
copy=$(r1 dataset show test_copy --limit 20 --json | jq_ "$pairs")
[[ $orig == "$copy" && $orig == *"'"* ]] || fail "the copy of test differs from test: $orig vs $copy"
r1rc dataset export nosuch -o "$T/nosuch.jsonl"; expect_rc 1 "dataset export nosuch"
[[ -e $T/nosuch.jsonl ]] && fail "a failed export created its file"
ls "$T"/nosuch.jsonl.* 2>/dev/null && fail "a failed export left a temporary file"
log "dataset show and export; export -> import -> export is byte-identical"
log "ok"
