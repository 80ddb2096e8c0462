#!/usr/bin/env bash
# kill -9 of the daemon mid-run, then a restart on the same data directory: the
# workers (the same processes) reconnect by themselves, every job finishes with one
# committed result, and PRAGMA quick_check is ok.
. "$(dirname "$0")/lib.sh"

N=1000
start_daemon
start_worker w1; W1=$LAST_PID
start_worker w2; W2=$LAST_PID
wait_for 10 has_workers 2
ctl "{\"op\":\"enqueue_probe\",\"n\":$N,\"sleep_ms\":5}" >/dev/null

done_at_least() { (( $(count done) >= $1 )); }
wait_for 30 done_at_least 300
before=$(count done)
t0=$(now_ms); kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
log "daemon killed with $before of $N jobs done"
sleep 1

start_daemon
grep -q "recovered from the previous run" "$T/daemon.log" ||
	log "(no leases were open at the kill)"
# the same two worker processes, announced again without being restarted
back() { [[ $(ctl '{"op":"workers"}' | grep -o "\"pid\":\($W1\|$W2\)," | sort -u | wc -l) == 2 ]]; }
wait_for 20 back
log "both workers reconnected $(( $(now_ms) - t0 )) ms after the kill"
wait_for 60 all_done "$N"
log "all $N jobs done $(( $(now_ms) - t0 )) ms after the kill"

[[ $(count failed) == 0 ]] || fail "jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
check_results "$N"
kill -0 "$W1" && kill -0 "$W2" || fail "a worker died with the daemon"
log "requeued at restart $(counter jobs_requeued), stale results $(counter results_stale)"

stop "$W1"; [[ $STOPPED_RC == 0 ]] || fail "worker 1 exited $STOPPED_RC after SIGTERM"
stop "$W2"; [[ $STOPPED_RC == 0 ]] || fail "worker 2 exited $STOPPED_RC after SIGTERM"
stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "r1flowd exited $STOPPED_RC after SIGTERM"
check=$(sql "PRAGMA quick_check")
[[ $check == ok ]] || fail "quick_check: $check"
log "quick_check ok"
log "ok"
