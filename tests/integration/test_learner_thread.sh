#!/usr/bin/env bash
# The learner steps on its own thread (daemon/learner.h), held by the test knob
# R1FLOW_TEST_LEARNER_HOLD=PATH (the thread of a step waits while PATH exists and
# says so in PATH.held), so that "during a step" needs no timing:
#   1. while step 1 of a pretrain stage is held, control requests are answered and
#      other work goes on (probe jobs enqueued then are all done), and nothing of
#      the step is committed: the stage is at step 0, no metric of step 1, no
#      checkpoint but step 0;
#   2. once let go, the step is committed (the stage reaches step 1);
#   3. kill -9 of the daemon while a later step is held (uncommitted), then a
#      restart without the knob: the pipeline succeeds, and every checkpoint
#      (weights and moments) equals that of an uninterrupted run without the knob.
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

# 2. let it go: step 1 is committed
rm "$HOLD"
at_least() { (( $(step_of) >= $1 )); }
wait_for 30 at_least 1

# 3. hold a later step, kill -9 the daemon while it is held, restart without the knob
: >"$HOLD"
wait_for 30 test -e "$HOLD.held"
held=$(cut -d' ' -f2 "$HOLD.held")
at=$(step_of)
(( at == held - 1 )) || fail "step $held held but the stage is at step $at"
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
