#!/usr/bin/env bash
# Results are checked before they are committed, and a worker that keeps sending
# bad ones is quarantined. An eval pipeline runs on a healthy worker for reference
# figures; then again while a rogue worker (rogue ... worker) takes its reward jobs
# and answers each with {"items": []}, the answer that once made an eval "succeed"
# at 0%. Its results are refused (results_refused), after 3 strikes it gets no more
# jobs and `r1flow workers` shows why; no job fails or loses more than one
# attempt to it, and a healthy worker then finishes the pipeline with the
# reference figures. `r1flow workers --release` lets it take jobs again; a job with
# one attempt that it answers badly fails with the reason.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_ROGUE:?set R1FLOW_ROGUE to the rogue test helper}"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/q.yaml" <<'EOF'
version: 1
name: q
seed: 5
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  test: {generate: arithmetic, digits: 2, style: problem, count: 20, seed: 2}
rewards:
  len: {fn: length, max_tokens: 16, buffer: 16}   # not 0 for an untrained model
stages:
  - {name: ev, kind: eval, dataset: test, samples: 2, max_new_tokens: 16, rewards: [len]}
EOF

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
figures() { ctl "{\"op\":\"report\",\"id\":$1}" | jq_ 'sorted(d["rows"][0]["metrics"].items())'; }
finish() {
	timeout 90 "$R1FLOW_CLI" watch "$1" --data "$DATA" --plain >>"$T/watch.log" 2>&1 ||
		fail "pipeline $1 did not succeed: $(r1 status "$1")"
}
rogue_state() { ctl '{"op":"workers"}' | jq_ '[(w["state"], w["strikes"]) for w in d["workers"] if w["name"] == "rogue"]'; }

start_daemon

# reference figures: one healthy worker
start_worker ref; REF=$LAST_PID
wait_for 10 has_workers 1
ID1=$(r1 submit "$T/q.yaml")
finish "$ID1"
want=$(figures "$ID1")
log "reference figures: $want"
[[ $want == *"('reward', -"* ]] || fail "the reference reward is not negative (the test needs it): $want"
stop "$REF"
wait_for 10 has_workers 0

# the rogue takes the reward jobs; a healthy worker runs only the rollouts
"$R1FLOW_ROGUE" "$DATA" worker rogue reward,probe '{"items":[]}' >"$T/rogue.log" 2>&1 &
PIDS+=("$!")
start_worker ro --kinds rollout
wait_for 10 has_workers 2
ID2=$(r1 submit "$T/q.yaml")
quarantined() { [[ $(rogue_state) == "[('quarantined', 3)]" ]]; }
wait_for 60 quarantined
[[ $(counter results_refused) == 3 ]] || fail "results_refused is $(counter results_refused), expected 3"
done_rewards=$(sql "SELECT count(*) FROM jobs j JOIN stages s ON s.id = j.stage
	WHERE s.pipeline = $ID2 AND j.kind = 'reward' AND j.state = 'done'")
[[ $done_rewards == 0 ]] || fail "$done_rewards of the rogue's reward results were committed"
[[ $(counter workers_quarantined) == 1 ]] || fail "workers_quarantined is $(counter workers_quarantined)"
attempts=$(sql "SELECT group_concat(attempt) FROM jobs j JOIN stages s ON s.id = j.stage
	WHERE s.pipeline = $ID2 AND j.kind = 'reward' AND j.state = 'queued'")
[[ $attempts =~ ^[01](,[01])*$ ]] || fail "the rogue cost reward jobs more than one attempt: $attempts"
[[ $(count failed) == 0 ]] || fail "jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
grep -q "result refused from worker 'rogue': reward result: items: 0 scores for 20 completions" \
	"$T/daemon.log" || fail "the daemon did not log why it refused the result"

r1 workers >"$T/workers.txt"
grep -Eq "^rogue +rogue +[0-9]+ +quarantined " "$T/workers.txt" ||
	fail "r1flow workers does not show the rogue quarantined: $(cat "$T/workers.txt")"
grep -q "rogue is quarantined: 3 strikes, the last: result refused from worker 'rogue': reward result: items: 0 scores" \
	"$T/workers.txt" || fail "r1flow workers does not say why: $(cat "$T/workers.txt")"
r1 workers --json | jq_ '[w for w in d["workers"] if w["name"] == "rogue"][0]["quarantined"]' |
	grep -q "items: 0 scores for 20 completions" || fail "workers --json lacks the reason"

# a healthy worker finishes the pipeline with the reference figures
start_worker fix; FIX=$LAST_PID
finish "$ID2"
got=$(figures "$ID2")
log "figures with the rogue: $got"
[[ $got == "$want" ]] || fail "figures differ from the reference: $got"
[[ $(rogue_state) == "[('quarantined', 3)]" ]] || fail "the rogue got out of quarantine: $(rogue_state)"

# released, the rogue gets jobs again: its first bad answer costs a job an attempt,
# and a job with only one fails with the reason
stop "$FIX"
wait_for 10 has_workers 2
r1 workers --release rogue >"$T/release.txt" || fail "workers --release failed"
grep -q "worker rogue: released" "$T/release.txt" || fail "workers --release said: $(cat "$T/release.txt")"
[[ $(rogue_state) == "[('ready', 0)]" ]] || fail "after --release the rogue is $(rogue_state)"
ctl '{"op":"enqueue_probe","n":1,"max_attempts":1}' >/dev/null
failed_one() { [[ $(count failed) == 1 ]]; }
wait_for 20 failed_one
error=$(sql "SELECT error FROM jobs WHERE state = 'failed'")
[[ $error == "result refused from worker 'rogue': probe result: echo: expected a string (attempt 1 of 1)" ]] ||
	fail "the failed job's error is: $error"
[[ $(rogue_state) == "[('ready', 1)]" ]] || fail "after one strike the rogue is $(rogue_state)"

RC=0; "$R1FLOW_CLI" workers --release nosuch --data "$DATA" >"$T/out" 2>"$T/err" || RC=$?
[[ $RC == 1 ]] && grep -q "no live worker named 'nosuch'" "$T/err" ||
	fail "workers --release of an unknown worker: exit $RC: $(cat "$T/err")"
log "ok"
