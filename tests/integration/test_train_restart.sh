#!/usr/bin/env bash
# The determinism contract (docs/architecture.md) and the learner's resume: kill -9 of the daemon while the pretrain stage is
# between two saved steps, then a restart on the same data directory. The same two
# worker processes reconnect by themselves, the restarted daemon's log says the learner
# resumed at the last saved step (a multiple of 8), the pipeline succeeds, and every checkpoint
# (weights and moments, the final ones of both stages included) equals that of an
# uninterrupted reference run (a fresh data directory and worker cache, 2 workers).
# PRAGMA quick_check is ok.
. "$(dirname "$0")/train_lib.sh"

# watch ID to the end (exit 0: succeeded); output in $T/NAME-watch.log
watch_ok() {
	local rc=0
	timeout 60 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >>"$T/$1-watch.log" 2>&1 || rc=$?
	[[ $rc == 0 ]] || fail "$1: watch exited $rc: $(tail -n 5 "$T/$1-watch.log"); $(r1 status "$ID")"
}

# --- the reference: uninterrupted, 2 workers
DATA=$T/ref
start_daemon
start_worker ref-w1; R1=$LAST_PID
start_worker ref-w2; R2=$LAST_PID
wait_for 10 has_workers 2
t0=$(now_ms)
ID=$(r1 submit "$T/det.yaml") || fail "ref: submit refused"
watch_ok ref
log "reference: succeeded in $(( $(now_ms) - t0 )) ms"
checkpoints >"$T/ref.ck"
REF_BASE=$(final_sha base); REF_SFT=$(final_sha sft)
(( $(wc -l <"$T/ref.ck") == 12 )) || fail "ref: expected 12 checkpoints (base 0 8 .. 64, sft 0 4 8): $(cat "$T/ref.ck")"
stop "$R1"; stop "$R2"; stop "$DAEMON"
mv "$T/daemon.log" "$T/ref-daemon.log"
rm -rf "$T/cache"

# --- the same pipeline, the daemon killed -9 between saved steps of base
DATA=$T/data
start_daemon
start_worker w1; W1=$LAST_PID
start_worker w2; W2=$LAST_PID
wait_for 10 has_workers 2
t0=$(now_ms)
ID=$(r1 submit "$T/det.yaml") || fail "submit refused"
# wait for base at a step >= 10 that is not a saved one (a multiple of 8)
deadline=$(( t0 + 30000 ))
while :; do
	(( $(now_ms) < deadline )) || fail "never saw base at a step in 10..63 that is not a saved one"
	s=$(step_of base)
	(( s < 64 )) || fail "base finished (step $s) before the daemon could be killed"
	(( s >= 10 && s % 8 != 0 )) && break
	sleep 0.03
done
tk=$(now_ms); kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
# what the daemon had committed when it died
at=$(sql "SELECT step FROM stages WHERE name = 'base'")
saved=$(sql "SELECT max(c.step) FROM checkpoints c JOIN stages s ON s.id = c.stage
	WHERE s.name = 'base' AND c.optimizer IS NOT NULL")
log "daemon killed -9 $(( tk - t0 )) ms after submit: base at step $at (polled $s), last saved step $saved"
(( at > saved )) || log "(the kill came right at a saved step: nothing to recompute)"
[[ $saved == 8 || $saved == 16 ]] || fail "expected base's last saved step to be 8 or 16, it is '$saved'"
from=$(( $(wc -l <"$T/daemon.log") + 1 ))
sleep 0.5

start_daemon
back() { [[ $(ctl '{"op":"workers"}' | grep -o "\"pid\":\($W1\|$W2\)," | sort -u | wc -l) == 2 ]]; }
wait_for 20 back
log "both workers reconnected $(( $(now_ms) - tk )) ms after the kill"
watch_ok data
log "pipeline succeeded $(( $(now_ms) - tk )) ms after the kill ($(( $(now_ms) - t0 )) ms in all)"
tail -n "+$from" "$T/daemon.log" >"$T/restarted.out"
grep -q "learner resumed at saved step $saved\$" "$T/restarted.out" ||
	fail "the restarted daemon did not say 'learner resumed at saved step $saved': $(grep -i 'resum\|learner\|stage' "$T/restarted.out")"
log "restarted daemon: $(grep -o "stage [0-9]*: learner resumed at saved step $saved" "$T/restarted.out")"
[[ $(count failed) == 0 ]] || fail "jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
{ kill -0 "$W1" && kill -0 "$W2"; } || fail "a worker died with the daemon"

checkpoints >"$T/data.ck"
BASE=$(final_sha base); SFT=$(final_sha sft)
log "reference: base $REF_BASE sft $REF_SFT"
log "restarted: base $BASE sft $SFT"
[[ $BASE == "$REF_BASE" && $SFT == "$REF_SFT" ]] ||
	fail "final checkpoints differ from the uninterrupted run"
diff "$T/ref.ck" "$T/data.ck" >"$T/ck.diff" ||
	fail "checkpoints differ from the uninterrupted run: $(cat "$T/ck.diff")"

stop "$W1"; [[ $STOPPED_RC == 0 ]] || fail "worker 1 exited $STOPPED_RC after SIGTERM"
stop "$W2"; [[ $STOPPED_RC == 0 ]] || fail "worker 2 exited $STOPPED_RC after SIGTERM"
stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "r1flowd exited $STOPPED_RC after SIGTERM"
check=$(sql "PRAGMA quick_check")
[[ $check == ok ]] || fail "quick_check: $check"
log "every checkpoint identical to the uninterrupted run; quick_check ok"
log "ok"
