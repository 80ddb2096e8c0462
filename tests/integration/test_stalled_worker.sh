#!/usr/bin/env bash
# A worker stopped with SIGSTOP past its liveness while it runs a job, then SIGCONT:
# the daemon declares it dead (its connection stays up, so only liveness can tell),
# the job runs again on another worker and is committed once, and the stalled
# worker's late answer is dropped — it hears on waking that its session is over —
# before it rejoins.
. "$(dirname "$0")/lib.sh"

start_daemon
start_worker w1; W1=$LAST_PID
wait_for 10 has_workers 1
ctl '{"op":"enqueue_probe","sleep_ms":6000}' >/dev/null
leased() { [[ $(sql "SELECT state FROM jobs WHERE id = 1") == leased ]]; }
wait_for 5 leased
sleep 0.3
kill -STOP "$W1"; t0=$(now_ms)
log "worker 1 stopped while running job 1"
start_worker w2; W2=$LAST_PID

wait_for 10 grep -q "lost: silent for" "$T/daemon.log"
log "worker 1 declared dead $(( $(now_ms) - t0 )) ms after the stop"
kill -CONT "$W1"
wait_for 15 has_workers 2
log "worker 1 resumed and rejoined $(( $(now_ms) - t0 )) ms after the stop"

job_done() { [[ $(sql "SELECT state FROM jobs WHERE id = 1") == done ]]; }
wait_for 20 job_done
wait_for 10 grep -q "dropped the answer to job 1" "$T/w1.log"
log "worker 1 dropped its late answer: $(grep -o "dropped the answer to job 1: .*" "$T/w1.log")"

row=$(sql "SELECT attempt || ' ' || epoch || ' ' || json_extract(result, '\$.pid') FROM jobs WHERE id = 1")
[[ $row == "2 2 $W2" ]] || fail "job 1 is '$row', expected attempt 2, epoch 2, run by $W2"
check_results 1
log "ok"
