#!/usr/bin/env bash
# The learner steps on its own thread (daemon/learner.h), held by the test knob
# R1FLOW_TEST_LEARNER_HOLD=PATH (the thread of step s waits while PATH exists and
# holds no number >= s, and says so in PATH.held), so that "during a step" needs no
# timing:
#   1. while step 1 of a pretrain stage is held, control requests are answered and
#      other work goes on (probe jobs enqueued then are all done), and nothing of
#      the step is committed: the stage is at step 0, no metric of step 1, no
#      checkpoint but step 0;
#   2. once let go up to step 3, steps 1 to 3 are committed (with step 2's
#      checkpoint) and step 4 holds;
#   3. kill -9 of the daemon while step 4 is held (uncommitted), then a
#      restart without the knob: the pipeline succeeds, and every checkpoint
#      (weights and moments) equals that of an uninterrupted run without the knob;
#   4. three copies of the pipeline at once (three learner threads sharing the
#      daemon's thread pool) each end with the reference's checkpoints;
#   5. a stage starting from a model directory while the directory's import is held
#      on its thread (R1FLOW_TEST_IMPORT_HOLD): requests answered, the stage pending;
#      let go, the same checkpoints as without the knob.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/p.yaml" <<'EOF'
version: 1
name: held
seed: 5
model:
  config: {dim: 32, layers: 2, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 200}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 8, batch: 8, shard: 4, save_every: 2,
     lr: 3e-3, keep_checkpoints: 100}
EOF

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
step_of() { sql "SELECT step FROM stages WHERE name = 'base'"; }
checkpoints() {
	sql "SELECT c.step, c.sha256, coalesce(c.optimizer, '-') FROM checkpoints c
		JOIN stages s ON s.id = c.stage WHERE s.name = 'base' ORDER BY c.step"
}
succeeded() { [[ $(sql "SELECT state FROM pipelines WHERE id = $ID") == succeeded ]]; }

# --- the reference: no knob
DATA=$T/ref
start_daemon
start_worker ref-w; RW=$LAST_PID
wait_for 10 has_workers 1
ID=$(r1 submit "$T/p.yaml") || fail "ref: submit refused"
wait_for 60 succeeded
checkpoints >"$T/ref.ck"
(( $(wc -l <"$T/ref.ck") == 5 )) || fail "ref: expected checkpoints 0 2 4 6 8: $(cat "$T/ref.ck")"
stop "$RW"; stop "$DAEMON"
mv "$T/daemon.log" "$T/ref-daemon.log"
rm -rf "$T/cache"

# --- held: step 1's thread waits while $HOLD exists
DATA=$T/data
HOLD=$T/hold
: >"$HOLD"
R1FLOW_TEST_LEARNER_HOLD=$HOLD start_daemon
start_worker w; W=$LAST_PID
wait_for 10 has_workers 1
ID=$(r1 submit "$T/p.yaml") || fail "submit refused"
wait_for 30 test -e "$HOLD.held"
[[ $(cat "$HOLD.held") == *" 1" ]] || fail "expected step 1 held, $HOLD.held says '$(cat "$HOLD.held")'"
# 1. the loop serves while the step is in progress
ctl '{"op":"status"}' >/dev/null || fail "status not answered while the learner holds"
r1 status "$ID" >/dev/null || fail "r1flow status failed while the learner holds"
reply=$(ctl '{"op":"enqueue_probe","n":20,"payload":"x"}') || fail "enqueue_probe: $reply"
probes_done() {
	[[ $(sql "SELECT count(*) FROM jobs WHERE kind = 'probe' AND state = 'done'") == 20 ]]
}
wait_for 30 probes_done
[[ -e $HOLD.held ]] || fail "the learner stopped holding by itself"
[[ $(step_of) == 0 ]] || fail "stage at step $(step_of) while step 1 is held (committed early)"
m=$(sql "SELECT count(*) FROM metrics m JOIN stages s ON s.id = m.stage
	WHERE s.name = 'base' AND m.step >= 1")
[[ $m == 0 ]] || fail "$m metric(s) of step 1 recorded while it is held"
[[ $(checkpoints | cut -d'|' -f1 | paste -sd' ') == 0 ]] ||
	fail "checkpoints other than step 0 while step 1 is held: $(checkpoints)"
log "step 1 held: requests answered, 20 probe jobs done, nothing of the step committed"

# 2. let steps 1 to 3 go: they are committed (step 2 saved); step 4 is held
echo 3 >"$HOLD"
holds_4() { [[ $(cat "$HOLD.held" 2>/dev/null) == *" 4" ]]; }
wait_for 30 holds_4
held=4
at=$(step_of)
(( at == 3 )) || fail "step 4 held but the stage is at step $at"
[[ $(checkpoints | cut -d'|' -f1 | paste -sd' ') == "0 2" ]] ||
	fail "expected checkpoints 0 2 while step 4 is held: $(checkpoints)"

# 3. kill -9 the daemon while step 4 (a saving one) is held, restart without the
#    knob: steps 3 and 4 are recomputed from step 2's checkpoint
kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
log "daemon killed -9 while step $held was held (committed: step $at)"
rm -f "$HOLD" "$HOLD.held"
mv "$T/daemon.log" "$T/held-daemon.log"
start_daemon
wait_for 60 succeeded
checkpoints >"$T/data.ck"
diff "$T/ref.ck" "$T/data.ck" >"$T/ck.diff" ||
	fail "checkpoints differ from the uninterrupted run: $(cat "$T/ck.diff")"
log "pipeline succeeded after the restart; its $(wc -l <"$T/data.ck") checkpoints equal the reference's"
stop "$W"; stop "$DAEMON"
[[ $(sql "PRAGMA quick_check") == ok ]] || fail "quick_check failed"

# 4. three copies of a larger pipeline at once: three learners step on their own
#    threads at the same time, sharing the daemon's one thread pool (core/pool.h:
#    callers take turns; two learners at once used to abort the daemon on the pool's
#    nesting assertion; tests/unit/test_pool.c holds that case, as the overlap here
#    is a matter of timing). Each ends with the checkpoints of the spec run alone.
sed -e 's/dim: 32, layers: 2, heads: 2, ffn: 64/dim: 128, layers: 2, heads: 4, ffn: 384/' \
	-e 's/steps: 8,/steps: 6,/' "$T/p.yaml" >"$T/p3.yaml"
mv "$T/daemon.log" "$T/restart-daemon.log"
DATA=$T/three
start_daemon
start_worker w3; W=$LAST_PID
wait_for 10 has_workers 1
pipeline_ck() {
	sql "SELECT c.step, c.sha256, coalesce(c.optimizer, '-') FROM checkpoints c
		JOIN stages s ON s.id = c.stage WHERE s.pipeline = $1 ORDER BY c.step"
}
n_succeeded() { [[ $(sql "SELECT count(*) FROM pipelines WHERE state = 'succeeded'") == "$1" ]]; }
ALONE=$(r1 submit "$T/p3.yaml") || fail "three: submit refused"
wait_for 60 n_succeeded 1
pipeline_ck "$ALONE" >"$T/alone.ck"
IDS=()
for i in 1 2 3; do IDS+=("$(r1 submit "$T/p3.yaml")") || fail "three: submit $i refused"; done
wait_for 120 n_succeeded 4
for id in "${IDS[@]}"; do
	pipeline_ck "$id" >"$T/three-$id.ck"
	diff "$T/alone.ck" "$T/three-$id.ck" >"$T/ck.diff" ||
		fail "pipeline $id of three at once: checkpoints differ from the one run alone: $(cat "$T/ck.diff")"
done
log "three pipelines at once: three learners ran side by side, each with the checkpoints of the run alone"
stop "$W"; stop "$DAEMON"

# 5. a stage that starts from a model directory: the directory is read, hashed and
#    stored as a blob on a thread of its own (daemon/imports.h), held here by
#    R1FLOW_TEST_IMPORT_HOLD: meanwhile requests are answered, the stage waits
#    (pending, no error), and once let go the pipeline succeeds with the checkpoints
#    of the same spec run without the knob.
mv "$T/daemon.log" "$T/three-daemon.log"
DATA=$T/three
start_daemon
r1 export "$ALONE" base "$T/model" >/dev/null || fail "import: export of the model failed"
cat >"$T/fromdir.yaml" <<SPEC
version: 1
name: fromdir
seed: 5
model: {checkpoint: $T/model}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 100}
stages:
  - {name: more, kind: pretrain, dataset: corpus, steps: 2, batch: 8, shard: 4, lr: 3e-3}
SPEC
start_worker w5; W=$LAST_PID
wait_for 10 has_workers 1
REFDIR=$(r1 submit "$T/fromdir.yaml") || fail "import: submit refused"
wait_for 60 n_succeeded 5
pipeline_ck "$REFDIR" >"$T/fromdir-ref.ck"
stop "$W"; stop "$DAEMON"
mv "$T/daemon.log" "$T/fromdir-ref-daemon.log"

DATA=$T/imp
HOLD=$T/import-hold
: >"$HOLD"
R1FLOW_TEST_IMPORT_HOLD=$HOLD start_daemon
start_worker w6; W=$LAST_PID
wait_for 10 has_workers 1
ID=$(r1 submit "$T/fromdir.yaml") || fail "import: submit refused (held)"
wait_for 30 test -e "$HOLD.held"
ctl '{"op":"status"}' >/dev/null || fail "import: status not answered while the import holds"
r1 status "$ID" >/dev/null || fail "import: r1flow status failed while the import holds"
state=$(sql "SELECT state FROM stages WHERE name = 'more'")
[[ $state == pending ]] || fail "import: the stage is '$state' while its model is being stored"
[[ $(sql "SELECT count(*) FROM checkpoints") == 0 ]] || fail "import: a checkpoint while held"
rm -f "$HOLD"
wait_for 60 succeeded
pipeline_ck "$ID" >"$T/fromdir.ck"
diff "$T/fromdir-ref.ck" "$T/fromdir.ck" >"$T/ck.diff" ||
	fail "import: checkpoints differ from the run without the knob: $(cat "$T/ck.diff")"
n=$(grep -c "model.checkpoint '$T/model' stored as blob" "$T/daemon.log" || true)
[[ $n == 1 ]] || fail "import: the model directory was stored $n times, not once"
log "import held: requests answered, the stage pending; let go, the run matches the one without the knob"
stop "$W"; stop "$DAEMON"
