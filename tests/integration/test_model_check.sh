#!/usr/bin/env bash
# A model directory is checked when the spec is validated and submitted, and a bad
# one is named by the user's own path: missing, a malformed config.json, a truncated
# model.safetensors, absurd or mismatched sizes, an architecture or config key r1flow
# does not implement, a Qwen2 config over a file without Qwen2's biases. A model taken from another
# pipeline's stage ({pipeline, stage}) starts from that stage's final weights, and is
# refused at submit when the pipeline or stage does not exist or has not succeeded.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA

# a small real checkpoint
r1rc train --out "$T/good" --steps 1 --dim 32 --layers 1 --heads 2 --ffn 64 --max-seq 48 \
	--threads 1 --workers 1
expect_rc 0 train
spec() { # spec FILE MODEL-YAML: a one-stage pretrain pipeline from that model
	cat >"$1" <<YAML
version: 1
name: ${3:-fromck}
seed: 1
model: $2
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 50}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 2, batch: 4}
YAML
}
spec "$T/good.yaml" "{checkpoint: $T/good}"
r1rc validate "$T/good.yaml"; expect_rc 0 "validate (a good checkpoint)"

# the broken directories, and what the error must name
cp -r "$T/good" "$T/badjson"; printf '{"hidden_size": 32,' >"$T/badjson/config.json"
cp -r "$T/good" "$T/trunc"
size=$(stat -c %s "$T/good/model.safetensors")
truncate -s $(( size / 2 )) "$T/trunc/model.safetensors"
cp -r "$T/good" "$T/huge"
/usr/bin/python3 - "$T/huge/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["hidden_size"] = 1e9
open(sys.argv[1], "w").write(json.dumps(c))
PY
cp -r "$T/good" "$T/hugeint"
sed -i 's/"hidden_size": *32/"hidden_size": 1000000000/' "$T/hugeint/config.json"
cp -r "$T/good" "$T/wide"
sed -i 's/"vocab_size": *[0-9]*/"vocab_size": 8000000/; s/"intermediate_size": *64/"intermediate_size": 8000000/; s/"num_hidden_layers": *1/"num_hidden_layers": 200/' "$T/wide/config.json"
cp -r "$T/good" "$T/shape"
sed -i 's/"intermediate_size": *64/"intermediate_size": 48/' "$T/shape/config.json"
grep -q '"intermediate_size": 48' "$T/shape/config.json" || fail "could not edit config.json: $(cat "$T/shape/config.json")"
# configs of architectures and options r1flow does not run, refused by name
edit_config() { # edit_config NAME PYTHON-STATEMENTS-ON-c
	cp -r "$T/good" "$T/$1"
	/usr/bin/python3 - "$T/$1/config.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); exec(sys.argv[2])
open(sys.argv[1], "w").write(json.dumps(c))
PY
}
edit_config gpt2 'c["model_type"] = "gpt2"'
edit_config cls 'c["architectures"] = ["GPT2LMHeadModel"]; del c["model_type"]'
edit_config yarn 'c["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0}'
edit_config window 'c.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=16)'
edit_config dropout 'c["attention_dropout"] = 0.1'
edit_config qwen2 'c.update(model_type="qwen2", architectures=["Qwen2ForCausalLM"]); del c["attention_bias"]'
edit_config q2bias 'c.update(model_type="qwen2", architectures=["Qwen2ForCausalLM"])'
cases=(
	"gpt2|$T/gpt2|'$T/gpt2/config.json': model_type 'gpt2' is not supported (supported: llama, mistral, qwen2, qwen3)"
	"cls|$T/cls|'$T/cls/config.json': architectures 'GPT2LMHeadModel' is not supported"
	"yarn|$T/yarn|'$T/yarn/config.json': rope_scaling type 'yarn' is not supported"
	"window|$T/window|'$T/window/config.json': sliding_window 16 is less than max_position_embeddings 48"
	"dropout|$T/dropout|'$T/dropout/config.json': attention_dropout 0.1 is not supported"
	"qwen2|$T/qwen2|'$T/qwen2/model.safetensors': it has 12 tensors, the config in config.json needs 15"
	"q2bias|$T/q2bias|'$T/q2bias/config.json': attention_bias false is not supported for model_type 'qwen2'"
	"missing|$T/missing|cannot open checkpoint directory '$T/missing'"
	"badjson|$T/badjson|malformed JSON in '$T/badjson/config.json'"
	"trunc|$T/trunc|'$T/trunc/model.safetensors' is truncated"
	"huge|$T/huge|'$T/huge/config.json': key 'hidden_size' is a real number"
	"hugeint|$T/hugeint|'$T/hugeint/config.json'.*'hidden_size' is 1000000000, expected 1..16777216"
	"wide|$T/wide|'$T/wide/config.json': the config makes a model of .* parameters, more than the"
	"shape|$T/shape|'$T/shape/model.safetensors': tensor 'model.layers.0.mlp.gate_proj.weight' has shape \[64, 32\], expected \[48, 32\]"
)
for c in "${cases[@]}"; do
	IFS='|' read -r name dir want <<<"$c"
	spec "$T/$name.yaml" "{checkpoint: $dir}"
	r1rc validate "$T/$name.yaml"; expect_rc 1 "validate ($name)"
	grep -q "^r1flow validate: $T/$name.yaml: model.checkpoint: .*$want" "$T/err" ||
		fail "validate ($name) said: $(cat "$T/err")"
	log "validate $name: $(cat "$T/err")"
done

start_daemon
start_worker w1 --name w1
wait_for 10 has_workers 1
for c in "${cases[@]}"; do
	IFS='|' read -r name dir want <<<"$c"
	r1rc submit "$T/$name.yaml"; expect_rc 1 "submit ($name)"
	grep -q "model.checkpoint: .*$want" "$T/err" || fail "submit ($name) said: $(cat "$T/err")"
done
[[ $(sql "SELECT count(*) FROM pipelines") == 0 ]] || fail "a refused submit left a pipeline"
log "submit refuses the ${#cases[@]} broken directories, naming them"

# --- model: {pipeline, stage}
spec "$T/a.yaml" "{config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}}" first
r1rc submit "$T/a.yaml"; expect_rc 0 "submit first"; A=$(cat "$T/out")
r1rc watch "$A" --plain; expect_rc 0 "watch first"
spec "$T/b.yaml" "{pipeline: first, stage: base}" second
r1rc validate "$T/b.yaml"; expect_rc 0 "validate (model from a pipeline)"
r1rc submit "$T/b.yaml"; expect_rc 0 "submit second"; B=$(cat "$T/out")
r1rc watch "$B" --plain; expect_rc 0 "watch second (from pipeline first's stage base)"
final_a=$(sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
	WHERE s.pipeline = $A AND s.name = 'base' ORDER BY c.step DESC LIMIT 1")
start_b=$(sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
	WHERE s.pipeline = $B AND s.name = 'base' AND c.step = 0")
[[ -n $final_a && $start_b == "$final_a" ]] ||
	fail "pipeline $B started from $start_b, not first's final weights $final_a"
log "pipeline $B started from pipeline $A's final weights ${final_a:0:12}"

spec "$T/c.yaml" "{pipeline: nosuch, stage: base}" third
r1rc submit "$T/c.yaml"; expect_rc 1 "submit (no such pipeline)"
grep -q "model.pipeline: no pipeline 'nosuch'" "$T/err" || fail "no such pipeline: $(cat "$T/err")"
spec "$T/c.yaml" "{pipeline: first, stage: nosuch}" third
r1rc submit "$T/c.yaml"; expect_rc 1 "submit (no such stage)"
grep -q "model.stage: pipeline $A 'first' has no stage 'nosuch'" "$T/err" ||
	fail "no such stage: $(cat "$T/err")"
cat >"$T/slow.yaml" <<'YAML'
version: 1
name: slow
seed: 0
model: {config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 16}}
stages:
  - {name: base, kind: probe, jobs: 100, sleep_ms: 60000}
YAML
r1rc submit "$T/slow.yaml"; expect_rc 0 "submit slow"; S=$(cat "$T/out")
spec "$T/c.yaml" "{pipeline: $S, stage: base}" third
r1rc submit "$T/c.yaml"; expect_rc 1 "submit (stage not succeeded)"
grep -q "model.stage: stage 'base' of pipeline $S 'slow' has not succeeded (it is " "$T/err" ||
	fail "a stage that has not succeeded: $(cat "$T/err")"
r1rc cancel "$S"; expect_rc 0 "cancel slow"
log "refused: no such pipeline, no such stage, a stage that has not succeeded"
log "ok"
