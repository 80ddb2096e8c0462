#!/usr/bin/env bash
# A poison job that crashes every worker it runs on (abort) fails after 3 attempts
# with its last error; the other jobs finish; the workers, restarted by a supervisor
# after each crash, stop crashing once the job has failed.
. "$(dirname "$0")/lib.sh"

N=200
start_daemon
supervise_worker w1
supervise_worker w2
wait_for 10 has_workers 2

ctl '{"op":"enqueue_probe","crash":"abort"}' >/dev/null          # job 1: the poison
ctl "{\"op\":\"enqueue_probe\",\"n\":$N,\"sleep_ms\":5}" >/dev/null
finished() { [[ $(count done) == "$N" && $(count failed) == 1 ]]; }
wait_for 60 finished

state=$(sql "SELECT state || ' ' || attempt || ' ' || error FROM jobs WHERE id = 1")
log "poison job: $state"
[[ $state == "failed 3 "*"(attempt 3 of 3)" ]] || fail "poison job ended as: $state"
check_results "$N"

crashes() { cat "$T"/w*.exits 2>/dev/null | grep -c '^134$' || true; }
[[ $(crashes) == 3 ]] || fail "$(crashes) worker crashes, expected 3 (one per attempt)"
sleep 4   # more than a liveness window: a crash loop would show by now
[[ $(crashes) == 3 ]] || fail "workers kept crashing after the poison job failed"
wait_for 10 has_workers 2
[[ $(counter workers_lost) == 3 ]] || fail "workers_lost is $(counter workers_lost), expected 3"
log "3 crashes, then none; $N other jobs done; 2 workers serving"
log "ok"
