#!/usr/bin/env bash
# Overlapped GRPO steps (docs/pipelines.md `max_staleness`): a grpo stage with
# max_staleness 1 and a KL term samples step s from the weights after step s - 2, a
# function of the step alone, so its checkpoints are the same with 1 worker, with 2,
# and across a kill -9 of the daemon between two saved steps (the restarted learner
# resumes at an older checkpoint than the next step's rollouts sampled from: they are
# kept). Asserts:
#   - every checkpoint of zero (weights and moments) is identical in the 1-worker,
#     2-worker and killed-daemon runs;
#   - the rollouts of steps 1 and 2 name the weights of checkpoint 0, those of step 4
#     checkpoint 2 (the stage saves every 2 steps): one step stale, by the step number;
#   - the 2-worker run overlapped: for every step s, step s + 1's rollout jobs were
#     enqueued before step s's grad jobs and leased no later than the last of those
#     finished (so before step s's learner step, which waits for them) — an ordering of
#     the job table's ids and timestamps, not a timing threshold;
#   - the same spec with max_staleness 0 gives other weights (the option does
#     something), samples step 3 from checkpoint 2 and never enqueues step s + 1's
#     rollouts before step s's grads are done;
#   - validate refuses max_staleness 2, naming the key.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/ov.yaml" <<'EOF'
version: 1
name: overlap
seed: 7
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 300}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 100, seed: 3}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 16, buffer: 16}   # rewards that differ within a group
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 6, batch: 16}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 4, steps: 6, max_new_tokens: 16, shard: 8, beta: 0.02,
     save_every: 2, keep_checkpoints: 10, max_staleness: 1}
EOF

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
zero_sql() { sql "SELECT $1 FROM jobs j JOIN stages s ON s.id = j.stage WHERE s.name = 'zero' AND $2"; }
checkpoints() {
	sql "SELECT c.step, c.sha256, coalesce(c.optimizer, '-') FROM checkpoints c
		JOIN stages s ON s.id = c.stage WHERE s.name = 'zero' ORDER BY c.step"
}
ck_sha() { sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
	WHERE s.name = 'zero' AND c.step = $1"; }
rollout_weights() { zero_sql "DISTINCT json_extract(j.params, '\$.weights')" "j.kind = 'rollout' AND j.step = $1"; }
watch_ok() {
	local rc=0
	timeout 90 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >>"$T/$1-watch.log" 2>&1 || rc=$?
	[[ $rc == 0 ]] || fail "$1: watch exited $rc: $(tail -n 5 "$T/$1-watch.log"); $(r1 status "$ID")"
	[[ $(count failed) == 0 ]] || fail "$1: jobs failed: $(sql "SELECT id, kind, error FROM jobs WHERE state = 'failed'")"
}
stop_all() {
	for pid in "${PIDS[@]}"; do
		[[ $pid == "$DAEMON" ]] && continue
		kill -0 "$pid" 2>/dev/null && stop "$pid"
	done
	kill -0 "$DAEMON" 2>/dev/null && stop "$DAEMON"
	PIDS=()
}
# begin NAME WORKERS [SUBMIT ARGS...]: a fresh data directory and cache, the pipeline submitted
begin() {
	local name=$1 nw=$2 i; shift 2
	DATA=$T/$name
	rm -rf "$T/cache"
	start_daemon
	for (( i = 1; i <= nw; i++ )); do start_worker "$name-w$i" --threads 1; done
	wait_for 10 has_workers "$nw"
	ID=$(r1 submit "$T/ov.yaml" "$@") || fail "$name: submit refused"
}

# --- validate refuses a staleness it does not implement, naming the key
RC=0; "$R1FLOW_CLI" validate "$T/ov.yaml" --set stages.zero.max_staleness=2 >"$T/out" 2>&1 || RC=$?
[[ $RC == 1 ]] && grep -q "max_staleness" "$T/out" ||
	fail "validate with max_staleness 2 exited $RC: $(cat "$T/out")"
log "validate refuses max_staleness 2: $(head -n 1 "$T/out")"

# --- 1 worker
begin one 1
watch_ok one
checkpoints >"$T/one.ck"
(( $(wc -l <"$T/one.ck") == 4 )) || fail "one: expected checkpoints 0 2 4 6 of zero: $(cat "$T/one.ck")"
c0=$(ck_sha 0); c2=$(ck_sha 2)
[[ $(rollout_weights 1) == "$c0" && $(rollout_weights 2) == "$c0" && $(rollout_weights 4) == "$c2" ]] ||
	fail "one: rollouts of steps 1, 2, 4 sampled from $(rollout_weights 1) $(rollout_weights 2) $(rollout_weights 4), expected checkpoints 0, 0, 2 ($c0 $c2)"
w3=$(rollout_weights 3)
[[ $w3 != "$c0" && $w3 != "$c2" ]] || fail "one: step 3 sampled from checkpoint 0 or 2, not the weights after step 1"
log "one: steps 1 2 sample checkpoint 0, step 3 the weights after step 1, step 4 checkpoint 2"
stop_all

# --- 2 workers: the same checkpoints, and the next step's rollouts overlap this step's grads
begin two 2
watch_ok two
checkpoints >"$T/two.ck"
diff "$T/one.ck" "$T/two.ck" >"$T/diff" || fail "checkpoints differ between 1 and 2 workers: $(cat "$T/diff")"
for s in 1 2 3 4 5; do
	n=$(( s + 1 ))
	ro_id=$(zero_sql "min(j.id)" "j.kind = 'rollout' AND j.step = $n")
	gr_id=$(zero_sql "min(j.id)" "j.kind = 'grad' AND j.step = $s")
	ro_leased=$(zero_sql "max(j.leased_at)" "j.kind = 'rollout' AND j.step = $n")
	gr_done=$(zero_sql "max(j.finished_at)" "j.kind = 'grad' AND j.step = $s")
	[[ -n $ro_id && -n $gr_id && -n $ro_leased && -n $gr_done ]] || fail "two: step $s: missing jobs"
	(( ro_id < gr_id )) || fail "two: step $n's rollouts (job $ro_id) were enqueued after step $s's grads (job $gr_id)"
	(( ro_leased <= gr_done )) ||
		fail "two: step $n's rollouts were leased at $ro_leased, after step $s's grads were all done at $gr_done"
done
log "two: same checkpoints as one; step s+1's rollouts enqueued before and leased while step s's grads ran"
stop_all

# --- 2 workers, the daemon killed -9 between saved steps, then restarted: zero's
#     learner is held at step 4 (R1FLOW_TEST_LEARNER_HOLD "3 STAGE", daemon/learner.h),
#     so the kill lands with step 3 committed and step 4 in progress, whatever the speed
HOLD=$T/hold
echo "3 2" >"$HOLD"   # zero is the second stage of a fresh database: id 2 (checked below)
R1FLOW_TEST_LEARNER_HOLD=$HOLD begin kill 2
[[ $(sql "SELECT id FROM stages WHERE name = 'zero'") == 2 ]] || fail "kill: zero is not stage 2"
held_4() { [[ $(cat "$HOLD.held" 2>/dev/null) == "2 4" ]]; }
wait_for 60 held_4
kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
rm -f "$HOLD" "$HOLD.held"
at=$(sql "SELECT step FROM stages WHERE name = 'zero'")
log "kill: daemon killed -9 with zero at step $at (last saved step $(( at / 2 * 2 )))"
from=$(( $(wc -l <"$T/daemon.log") + 1 ))
start_daemon
back() { [[ $(live_workers) == 2 ]]; }
wait_for 20 back
watch_ok kill
saved=$(( at / 2 * 2 ))
tail -n "+$from" "$T/daemon.log" | grep -q "learner resumed at saved step $saved\$" ||
	fail "kill: the restarted daemon did not resume zero at saved step $saved: $(tail -n "+$from" "$T/daemon.log" | grep -i resum)"
checkpoints >"$T/kill.ck"
diff "$T/one.ck" "$T/kill.ck" >"$T/diff" || fail "checkpoints differ after a daemon kill -9: $(cat "$T/diff")"
log "kill: resumed at saved step $saved; same checkpoints as one after the restart"
stop_all

# --- max_staleness 0: exact steps, other weights
begin exact 1 --set stages.zero.max_staleness=0
watch_ok exact
checkpoints >"$T/exact.ck"
[[ $(sed -n 1p "$T/exact.ck") == "$(sed -n 1p "$T/one.ck")" ]] || fail "exact: zero started from other weights"
[[ $(tail -n 1 "$T/exact.ck") != "$(tail -n 1 "$T/one.ck")" ]] ||
	fail "max_staleness 0 and 1 end with the same weights: the option changed nothing"
[[ $(rollout_weights 3) == "$(ck_sha 2)" ]] || fail "exact: step 3 did not sample from checkpoint 2"
for s in 1 2 3 4 5; do
	ro=$(zero_sql "min(j.created_at)" "j.kind = 'rollout' AND j.step = $(( s + 1 ))")
	gr=$(zero_sql "max(j.finished_at)" "j.kind = 'grad' AND j.step = $s")
	(( ro >= gr )) || fail "exact: step $(( s + 1 ))'s rollouts went out before step $s's grads were done"
done
log "exact: other final weights; each step's rollouts after the previous step's grads"
stop_all
log "ok"
