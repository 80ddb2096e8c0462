#!/usr/bin/env bash
# r1flow watch across a daemon restart: kill -9 of the daemon mid-pipeline, then a
# restart on the same data directory. watch says it lost the daemon, reconnects by
# itself, says so, and exits with the pipeline's outcome. Without a daemon for longer
# than --reconnect-timeout it gives up with a message that says so.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=$SRC/pipelines/probe.yaml
export R1FLOW_DATA=$DATA
# for watch, a request without an answer for 1 s counts as a lost daemon (default 10 s)
QUICK=R1FLOW_TIMEOUT_MS=1000
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z '

start_daemon
start_worker w1
wait_for 10 has_workers 1
"$R1FLOW_CLI" submit "$PROBE" --set stages.a.jobs=60 --set stages.a.sleep_ms=100 \
	--set stages.b.jobs=5 >/dev/null

env "$QUICK" "$R1FLOW_CLI" watch 1 --plain >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
wait_for 20 grep -Eq "${TS}stage a running [1-9]" "$T/watch.out"
kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
log "daemon killed while watch followed stage a"
# watch notices before the daemon is back, so the reconnection itself is tested
wait_for 20 grep -Eq "${TS}lost the daemon: .*; reconnecting for up to 60 s$" "$T/watch.out"
kill -0 "$WATCH" || fail "watch exited when the daemon went away: $(cat "$T/watch.err")"
start_daemon
log "daemon restarted"
rc=0; wait "$WATCH" || rc=$?
[[ $rc == 0 ]] || fail "watch exited $rc: $(cat "$T/watch.err") $(tail -n 5 "$T/watch.out")"
grep -Eq "${TS}regained the daemon at 'ipc://$DATA/control.sock' after " "$T/watch.out" ||
	fail "watch did not say it regained the daemon: $(cat "$T/watch.out")"
grep -Eq "${TS}pipeline 1 'probe' succeeded in " "$T/watch.out" ||
	fail "watch did not follow the pipeline to its end: $(tail -n 5 "$T/watch.out")"
grep -A 100 "regained the daemon" "$T/watch.out" | grep -Eq "${TS}stage b succeeded 5/5 jobs" ||
	fail "watch showed nothing after the reconnection: $(cat "$T/watch.out")"
log "watch: lost and regained the daemon, exit 0 with the pipeline's success"

# --- a daemon that does not come back: watch gives up after --reconnect-timeout
"$R1FLOW_CLI" submit "$PROBE" --set stages.a.jobs=400 --set stages.a.sleep_ms=100 >/dev/null
env "$QUICK" "$R1FLOW_CLI" watch 2 --plain --reconnect-timeout 2 >"$T/watch2.out" \
	2>"$T/watch2.err" &
WATCH=$!
PIDS+=("$WATCH")
wait_for 20 grep -Eq "${TS}stage a running [1-9]" "$T/watch2.out"
kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
rc=0; wait "$WATCH" || rc=$?
[[ $rc == 1 ]] || fail "watch without a daemon exited $rc: $(cat "$T/watch2.err")"
grep -Eq "${TS}lost the daemon: .*; reconnecting for up to 2 s$" "$T/watch2.out" &&
	grep -q "^r1flow watch: gave up reconnecting after 2 s: no daemon at 'ipc://$DATA/control.sock': .* (the pipeline may still be running)$" "$T/watch2.err" ||
	fail "watch gave up without saying so: $(cat "$T/watch2.out" "$T/watch2.err")"
log "watch: gave up after --reconnect-timeout with a message, exit 1"
log "ok"
