#!/usr/bin/env bash
# An error no retry can fix fails its stage at once, naming the file, instead of
# being tried again forever. A pretrain stage starts from a model directory
# (model.checkpoint); the daemon is stopped mid-stage, the directory's
# model.safetensors removed, and the daemon restarted: rebuilding the learner cannot
# open it. The stage (and pipeline) must fail with "cannot open '<path>': No such
# file or directory", and the restarted daemon must log that error once, not every
# scheduler run (before the fix: four lines a second, the pipeline running forever).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
state_of() { sql "SELECT state FROM pipelines WHERE id = $1"; }
is_state() { [[ $(state_of "$1") == "$2" ]]; }
step_at_least() { (( $(sql "SELECT coalesce(max(step), 0) FROM stages WHERE pipeline = $1") >= $2 )); }

cat >"$T/base.yaml" <<'YAML'
version: 1
name: base
seed: 1
model:
  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 64}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 200}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 2, batch: 4, shard: 2, save_every: 2}
YAML
cat >"$T/from.yaml" <<YAML
version: 1
name: from
seed: 2
model:
  checkpoint: $T/ck
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 200}
stages:
  - {name: more, kind: pretrain, dataset: corpus, steps: 100000, batch: 4, shard: 2, save_every: 4}
YAML

start_daemon
start_worker w1
wait_for 10 has_workers 1
A=$(r1 submit "$T/base.yaml") || fail "submit of base refused"
wait_for 60 is_state "$A" succeeded
r1 export "$A" base "$T/ck" >/dev/null || fail "export of base failed"

B=$(r1 submit "$T/from.yaml") || fail "submit of from refused"
wait_for 60 step_at_least "$B" 5   # past a saved step: a restart rebuilds the learner
stop "$DAEMON"
rm "$T/ck/model.safetensors"
from=$(( $(wc -l <"$T/daemon.log") + 1 ))
start_daemon
wait_for 30 is_state "$B" failed
why="cannot open '$T/ck/model.safetensors': No such file or directory"
error=$(sql "SELECT error FROM stages WHERE pipeline = $B")
[[ $error == *"$why"* ]] || fail "stage error: '$error', expected it to contain \"$why\""
[[ $(sql "SELECT error FROM pipelines WHERE id = $B") == *"$why"* ]] ||
	fail "pipeline error: $(sql "SELECT error FROM pipelines WHERE id = $B")"
n=$(tail -n +"$from" "$T/daemon.log" | grep -c "$why" || true)
(( n <= 2 )) || fail "the restarted daemon logged the error $n times (a retry storm): $(tail -n +"$from" "$T/daemon.log" | grep "$why" | head -n 5)"
log "pipeline $B failed at once after the restart: '$error' ($n log line(s))"
