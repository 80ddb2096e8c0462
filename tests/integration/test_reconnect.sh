#!/usr/bin/env bash
# Reconnect back-off: a worker whose daemon is not there retries after a back-off
# that doubles up to its cap; once the daemon answers, the back-off starts over.
# Timings are scaled down (heartbeat 100 ms, back-off 100 ms doubling to 800 ms);
# the defaults are 1 s doubling to 32 s.
. "$(dirname "$0")/lib.sh"

FAST=(--heartbeat-ms 100 --liveness 3)
start_worker w1 "${FAST[@]}" --reconnect-ms 100 --reconnect-max-ms 800; W1=$LAST_PID
backoffs() { grep -o "reconnecting in [0-9]* ms" "$T/w1.log" | grep -o "[0-9]*" | tr '\n' ' '; }
reached_cap_twice() { [[ $(backoffs) == *"800 800 "* ]]; }
wait_for 15 reached_cap_twice
log "back-offs without a daemon: $(backoffs)"
[[ $(backoffs) == "100 200 400 800 800 "* ]] || fail "back-offs were: $(backoffs)"

t0=$(now_ms)
start_daemon "${FAST[@]}"
wait_for 10 has_workers 1
log "the worker joined $(( $(now_ms) - t0 )) ms after the daemon started"

# the daemon goes away: the worker notices within its liveness and retries after the
# first back-off again, not the capped one
before=$(grep -c "reconnecting in" "$T/w1.log")
stop "$DAEMON" KILL
retried() { (( $(grep -c "reconnecting in" "$T/w1.log") > before )); }
wait_for 5 retried
last=$(grep -o "reconnecting in [0-9]* ms" "$T/w1.log" | tail -n 1)
[[ $last == "reconnecting in 100 ms" ]] || fail "after a good session the back-off is still: $last"
log "after the daemon died: $last"

start_daemon "${FAST[@]}"
wait_for 10 has_workers 1
kill -0 "$W1" || fail "the worker died"
log "ok"
