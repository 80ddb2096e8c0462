# train_lib.sh — sourced by the training fault tests (test_train_*.sh): lib.sh, the
# tiny pretrain → sft pipeline they share ($T/det.yaml: base saves every 8 of its 64
# steps, sft every 4 of 8, and both keep every checkpoint, which the tests compare
# one by one) and helpers over its run.
#
#   r1 VERB ...          the CLI on $DATA
#   jq_ EXPR             a Python expression over the JSON on stdin (bound to d)
#   step_of STAGE        the stage's step in pipeline $ID
#   final_sha STAGE      the sha256 of the stage's last checkpoint
#   checkpoints          every checkpoint: stage|step|weights sha256|moments sha256
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/det.yaml" <<'EOF'
version: 1
name: det
seed: 3
model:
  config: {dim: 32, layers: 2, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 1000}
  cold: {generate: arithmetic, style: worked, count: 200, seed: 1}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 64, batch: 16, shard: 4, save_every: 8, lr: 3e-3,
     keep_checkpoints: 100}
  - {name: sft, kind: sft, from: base, dataset: cold, steps: 8, batch: 16, shard: 4, save_every: 4,
     keep_checkpoints: 100}
EOF

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
jq_() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
step_of() { r1 status "$ID" --json | jq_ "[s['step'] for s in d['stages'] if s['name'] == '$1'][0]"; }
final_sha() {
	sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE s.name = '$1' ORDER BY c.step DESC LIMIT 1"
}
checkpoints() {
	sql "SELECT s.name, c.step, c.sha256, coalesce(c.optimizer, '-') FROM checkpoints c
		JOIN stages s ON s.id = c.stage ORDER BY s.id, c.step"
}
