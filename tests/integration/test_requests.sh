#!/usr/bin/env bash
# Every control request gets an answer: malformed ones (not JSON, not UTF-8, not an
# object, no 'op', an integer past int64) an {ok:false} reply saying what was wrong,
# and the daemon goes on serving. The CLI tells a daemon that closed the connection
# while answering from one that does not answer in time (a mute stand-in for each).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
: "${R1FLOW_ROGUE:?set R1FLOW_ROGUE to the rogue test helper}"

start_daemon

# raw header bytes -> the reply must be ok:false with an error message matching $2
expect_error() {
	local header=$1 want=$2 out rc=0
	out=$("$R1FLOW_CTL" --timeout 5000 --raw "$DATA" "$header" 2>&1) || rc=$?
	[[ $rc == 1 ]] || fail "request $(printf %q "$header"): ctl exited $rc: $out"
	[[ $out == *'"ok":false'* ]] || fail "request $(printf %q "$header") got no error reply: $out"
	grep -Eq "\"message\":\"[^\"]*$want" <<<"$out" ||
		fail "request $(printf %q "$header"): the message does not say '$want': $out"
	log "$(printf %q "$header") -> ${out:0:160}"
}
expect_error '{"op":' 'header is not JSON'
expect_error $'{"op":"status","x":"\xff\xfe"}' 'header is not JSON'
expect_error '{"op":"job","id":9223372036854775808}' 'header is not JSON: too big integer'
expect_error '[1,2]' 'header is not a JSON object'
expect_error '"status"' 'header is not a JSON object'
expect_error '{}' "field 'op' is missing"
expect_error '{"op":7}' "field 'op' must be a string"
expect_error '' 'header is not JSON'
expect_error '{"op":"no_such_op"}' "unknown op 'no_such_op'"
# a well-formed request still works, and the daemon is the same process
[[ $(ctl '{"op":"status"}') == *"\"pid\":$DAEMON"* ]] || fail "the daemon stopped serving"

# --- the CLI: a daemon that dies mid-request vs one that never answers
M=$T/mute; mkdir -p "$M"
"$R1FLOW_ROGUE" --mute "$M" exit >"$T/mute.log" 2>&1 &
MUTE=$!; PIDS+=("$MUTE")
wait_for 10 grep -q listening "$T/mute.log"
RC=0; "$R1FLOW_CLI" ls --data "$M" >"$T/out" 2>"$T/err" || RC=$?
[[ $RC == 1 ]] || fail "r1flow ls against a dying daemon exited $RC"
grep -q "closed the connection while answering" "$T/err" ||
	fail "r1flow ls against a daemon that died mid-request said: $(cat "$T/err")"
grep -q "got a request" "$T/mute.log" || fail "the stand-in daemon never got the request"
log "dies mid-request: $(cat "$T/err")"
wait "$MUTE" 2>/dev/null || true

rm -f "$M/control.sock"
: >"$T/mute.log"
"$R1FLOW_ROGUE" --mute "$M" silent >"$T/mute.log" 2>&1 &
MUTE=$!; PIDS+=("$MUTE")
wait_for 10 grep -q listening "$T/mute.log"
RC=0; R1FLOW_TIMEOUT_MS=1000 "$R1FLOW_CLI" ls --data "$M" >"$T/out" 2>"$T/err" || RC=$?
[[ $RC == 1 ]] || fail "r1flow ls against a silent daemon exited $RC"
grep -q "no reply from the daemon at .* within 1000 ms" "$T/err" ||
	fail "r1flow ls against a silent daemon said: $(cat "$T/err")"
log "never answers: $(cat "$T/err")"
log "ok"
