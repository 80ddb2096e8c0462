#!/usr/bin/env bash
# A READY that copies a live worker's name, host and pid (all shown by `r1flow
# workers`) is refused with DISCONNECT: the live worker keeps its lease, finishes
# the job and its result is committed; nothing is requeued. A genuine reconnect
# still takes the old registration's place: a process that announces itself on a
# second connection with the token of its first (rogue twice), and a real worker
# that gave up on a stopped daemon.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_ROGUE:?set R1FLOW_ROGUE to the rogue test helper}"

start_daemon
start_worker w1; W1=$LAST_PID
wait_for 10 has_workers 1
ctl '{"op":"enqueue_probe","n":1,"sleep_ms":3000}' >/dev/null
leased() { [[ $(count leased) == 1 ]]; }
wait_for 10 leased

who=$(ctl '{"op":"workers"}')
name=$(echo "$who" | jq_ 'd["workers"][0]["name"]')
host=$(echo "$who" | jq_ 'd["workers"][0]["host"]')
pid=$(echo "$who" | jq_ 'd["workers"][0]["pid"]')
[[ $pid == "$W1" ]] || fail "workers shows pid $pid, the worker is $W1"
log "live worker: $name on $host, pid $pid, holding $(echo "$who" | jq_ 'd["workers"][0]["jobs"]')"

answer=$("$R1FLOW_ROGUE" "$DATA" ready "$name" "$host" "$pid")
log "impersonator got: $answer"
[[ $answer == DISCONNECT*"in use by a live worker"* ]] ||
	fail "a READY copying the live worker's name, host and pid was not refused: $answer"

who=$(ctl '{"op":"workers"}')
[[ $(echo "$who" | jq_ '[(w["pid"], len(w["jobs"])) for w in d["workers"]]') == "[($W1, 1)]" ]] ||
	fail "the live worker lost its registration or its lease: $who"
[[ $(counter jobs_requeued) == 0 ]] || fail "jobs were requeued: $(counter jobs_requeued)"
wait_for 20 all_done 1
check_results 1
ran=$(sql "SELECT json_extract(result, '\$.pid') FROM jobs")
[[ $ran == "$W1" ]] || fail "the job was run by pid $ran, not the live worker $W1"
kill -0 "$W1" || fail "the live worker died"

# the token at work: one process announces itself on connection A, then (having
# given up on A) on B with the same token while A is still registered: B takes A's
# place. C, another process under the name, is refused.
answer=$("$R1FLOW_ROGUE" "$DATA" twice twin | tr '\n' ';')
log "twice: $answer"
[[ $answer == "A accepted;B accepted;C refused "*"in use by a live worker"*";" ]] ||
	fail "the same token did not reconnect, or another one took over: $answer"
grep -q "worker 'twin' (pid [0-9]*) reconnected" "$T/daemon.log" ||
	fail "B did not replace A's registration"

# a real worker's reconnect: the daemon stops past the worker's liveness (3 s by
# default); the worker gives up and comes back on a new connection
kill -STOP "$DAEMON"
gave_up() { grep -q "lost the daemon" "$T/w1.log"; }
wait_for 15 gave_up
kill -CONT "$DAEMON"
back() { [[ $(ctl '{"op":"workers"}' | jq_ '[w["pid"] for w in d["workers"] if w["name"] == "'"$name"'"]') == "[$W1]" ]]; }
wait_for 15 back
ctl '{"op":"enqueue_probe","n":3}' >/dev/null
wait_for 20 all_done 4
check_results 4
[[ $(counter workers_refused) == 2 ]] ||
	fail "workers_refused is $(counter workers_refused), expected 2 (the impersonator and C)"
log "ok"
