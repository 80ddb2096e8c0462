#!/usr/bin/env bash
# A rogue peer sends 10,000 malformed or unexpected multipart messages to the worker
# socket, then one frame over the size limit, while two real workers run jobs: the
# daemon stays up, counts every one of the 10,000, and keeps serving the workers.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_ROGUE:?set R1FLOW_ROGUE to the rogue test helper}"

N=2000
start_daemon
start_worker w1; W1=$LAST_PID
start_worker w2; W2=$LAST_PID
wait_for 10 has_workers 2
ctl "{\"op\":\"enqueue_probe\",\"n\":$N,\"sleep_ms\":2}" >/dev/null

"$R1FLOW_ROGUE" "$DATA" 10000 | while read -r line; do log "rogue: $line"; done

# every rogue message lands in exactly one of these counters
counted() {
	local status; status=$(ctl '{"op":"status"}')
	local sum=0 name
	for name in msgs_protocol msgs_version msgs_frames msgs_command msgs_size msgs_depth \
		msgs_json msgs_header msgs_field msgs_unknown_peer workers_refused; do
		sum=$(( sum + $(echo "$status" | field "$name") ))
	done
	echo "$sum"
}
is_counted() { [[ $(counted) == 10000 ]]; }
wait_for 20 is_counted
log "$(ctl '{"op":"status"}' | grep -o '"counters":{[^}]*}')"

kill -0 "$DAEMON" || fail "the daemon died"
wait_for 60 all_done "$N"
check_results "$N"
[[ $(live_workers) == 2 ]] || fail "the real workers were dropped"
kill -0 "$W1" && kill -0 "$W2" || fail "a real worker died"

# still serving after the oversized frame
ctl '{"op":"enqueue_probe","n":100}' >/dev/null
wait_for 20 all_done $(( N + 100 ))
log "daemon up, 2 workers, $(( N + 100 )) jobs done"
log "ok"
