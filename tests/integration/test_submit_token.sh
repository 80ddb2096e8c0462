#!/usr/bin/env bash
# `submit` is idempotent. (1) The op: the same token twice gives the same pipeline,
# and only one exists; a new token a new one. (2) The CLI: while the daemon cannot run
# a turn, `r1flow submit` gets no reply in time and asks again with the same token;
# the daemon, let go, must end with exactly one new pipeline and the CLI must print
# its id (before the fix: "no reply", exit 1, and a pipeline nobody was told about, or
# two if a user submitted again). The daemon is held up by another process holding
# its database's write lock.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
pipelines() { sql "SELECT count(*) FROM pipelines"; }

start_daemon
ID=$(r1 submit "$(dirname "$0")/../../pipelines/probe.yaml" --set stages.a.jobs=1 \
	--set stages.b.jobs=1) || fail "submit refused"
spec=$(sql "SELECT spec FROM pipelines WHERE id = $ID")

# --- (1) the op, twice with one token, then another token
req="{\"op\":\"submit\",\"spec\":$spec,\"source\":\"x\",\"token\":\"t-1\"}"
a=$(ctl "$req" | field id); b=$(ctl "$req" | field id)
[[ -n $a && $a == "$b" ]] || fail "the same token gave pipelines '$a' and '$b'"
again=$(ctl "$req")
[[ $again == *'"existing":true'* ]] || fail "the second answer does not say existing: $again"
[[ $(pipelines) == 2 ]] || fail "$(pipelines) pipelines after two submits with one token, expected 2"
c=$(ctl "${req/t-1/t-2}" | field id)
[[ -n $c && $c != "$a" && $(pipelines) == 3 ]] || fail "a new token gave '$c' ($(pipelines) pipelines)"
bad=$(ctl "${req/t-1/bad token}" 2>&1) || true
[[ $bad == *"'token' must be"* ]] || fail "a bad token was accepted: $bad"
log "op: one token, one pipeline ($a); another token, another ($c)"

# --- (2) the CLI asks again after a timeout, with the same token. Another process
# holds the database's write lock, so the daemon cannot begin a turn: requests
# wait unanswered (as behind a turn that takes seconds) while ZeroMQ still connects.
before=$(pipelines)
mkfifo "$T/sql.fifo"
sqlite3 -batch -cmd '.timeout 10000' "$DATA/r1flow.db" <"$T/sql.fifo" >"$T/sql.out" 2>&1 &
PIDS+=("$!")
exec 3>"$T/sql.fifo"
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&3
wait_for 30 grep -q locked "$T/sql.out"
R1FLOW_TIMEOUT_MS=1500 "$R1FLOW_CLI" submit "$(dirname "$0")/../../pipelines/probe.yaml" \
	--set stages.a.jobs=1 --set stages.b.jobs=1 --data "$DATA" >"$T/submit.out" 2>"$T/submit.err" &
CLI=$!
PIDS+=("$CLI")
asked_again() { grep -q "asking again" "$T/submit.err" || ! kill -0 "$CLI" 2>/dev/null; }
wait_for 30 asked_again
echo "COMMIT;" >&3
exec 3>&-
rc=0; wait "$CLI" || rc=$?
[[ $rc == 0 ]] || fail "submit exited $rc: $(cat "$T/submit.err")"
grep -q "no reply from the daemon" "$T/submit.err" || fail "the first try did not time out: $(cat "$T/submit.err")"
new=$(cat "$T/submit.out")
[[ $(pipelines) == $(( before + 1 )) ]] || fail "$(( $(pipelines) - before )) pipelines made by one submit"
[[ $new == "$(sql "SELECT max(id) FROM pipelines")" ]] || fail "submit printed '$new'"
log "CLI: timed out, asked again, one pipeline ($new): $(head -n 1 "$T/submit.err")"
