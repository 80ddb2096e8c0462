#!/usr/bin/env bash
# The control CLI against a real daemon and 2 workers: every verb's --help and usage
# errors, the no-daemon message, validate, submit, ls, status, watch (plain lines and
# under a pseudo-terminal), logs, pause/resume/cancel/retry, workers, drain, daemon;
# --json output parses and carries the expected fields.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=$SRC/pipelines/probe.yaml
export R1FLOW_DATA=$DATA   # every verb finds the daemon without --data

r1() { "$R1FLOW_CLI" "$@"; }
# run r1 with the output in $T/out and $T/err; the exit status in $RC
parses() { /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)'; }
state_of() { r1 status --json "$1" | jq_ 'd["pipeline"]["state"]'; }
state_is() { [[ $(state_of "$1") == "$2" ]]; }
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z '

# --- help, usage errors: no daemon needed
VERBS="run daemon submit validate ls status watch logs cancel pause resume retry workers drain"
for v in $VERBS; do
	r1rc "$v" --help; expect_rc 0 "$v --help"
	grep -q "r1flow $v" "$T/out" || fail "$v --help does not name the verb"
	grep -q "example:" "$T/out" && grep -q "exit status" "$T/out" ||
		fail "$v --help lacks an example or the exit statuses"
	r1rc "$v" --no-such-option; expect_rc 2 "$v --no-such-option"
done
for v in submit validate status watch logs cancel pause resume retry drain run; do
	r1rc "$v"; expect_rc 2 "$v (no argument)"
	grep -q "see 'r1flow $v --help'" "$T/err" || fail "$v: usage error without a pointer: $(cat "$T/err")"
done
for v in status watch logs cancel pause resume retry; do
	r1rc "$v" abc; expect_rc 2 "$v abc"
done
r1rc ls extra; expect_rc 2 "ls extra"
r1rc run "$PROBE" --workers 0; expect_rc 2 "run --workers 0"
r1rc help status; expect_rc 0 "help status"
log "--help and usage errors of $(echo $VERBS | wc -w) verbs"

# --- no daemon: quick, actionable, exit 1
for v in "ls" "status 1" "workers" "submit $PROBE"; do
	t0=$(now_ms); r1rc $v; t1=$(now_ms)
	expect_rc 1 "$v (no daemon)"
	grep -qF "r1flow ${v%% *}: no daemon at 'ipc://$DATA/control.sock': start one with 'r1flow daemon --data $DATA' (or use 'r1flow run FILE')" "$T/err" ||
		fail "$v without a daemon said: $(cat "$T/err")"
	(( t1 - t0 < 2000 )) || fail "$v took $((t1 - t0)) ms to find no daemon"
done
log "no daemon: exit 1 at once with the actionable message"

# --- validate
r1rc validate "$PROBE"; expect_rc 0 validate
[[ $(cat "$T/out") == "$PROBE: ok (2 stages: a, b)" ]] || fail "validate said: $(cat "$T/out")"
r1rc validate --json "$PROBE" --set stages.a.jobs=7; expect_rc 0 "validate --json"
[[ $(jq_ '(d["name"], d["stages"][0]["jobs"], [s["name"] for s in d["stages"]])' <"$T/out") == "('probe', 7, ['a', 'b'])" ]] ||
	fail "validate --json: $(cat "$T/out")"
printf 'version: 1\nname: broken\nseed: 0\nmodel:\n  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 16}\nstages:\n  - name: a\n    kind: probe\n    jbos: 3\n' >"$T/broken.yaml"
r1rc validate "$T/broken.yaml"; expect_rc 1 "validate broken"
grep -q "^r1flow validate: $T/broken.yaml:9:5: .*jbos" "$T/err" || fail "broken spec: $(cat "$T/err")"
r1rc validate "$PROBE" --set stages.a.jobs=0; expect_rc 1 "validate --set jobs=0"
r1rc submit "$T/broken.yaml"; expect_rc 1 "submit broken"
grep -q "broken.yaml:9:5:" "$T/err" || fail "submit of a broken spec: $(cat "$T/err")"
log "validate: ok line, --json normalised spec, FILE:LINE:COL errors"

# --- a daemon started through the CLI verb, on its own directory
D2=$T/d2
"$R1FLOW_CLI" daemon --data "$D2" >>"$T/daemon2.log" 2>&1 & D2PID=$!
PIDS+=("$D2PID")
wait_for 10 r1 ls --data "$D2"
[[ $(r1 ls --data "$D2" --json | jq_ 'd["pipelines"]') == "[]" ]] || fail "a fresh daemon has pipelines"
stop "$D2PID"; [[ $STOPPED_RC == 0 ]] || fail "r1flow daemon exited $STOPPED_RC on SIGTERM"
log "r1flow daemon runs r1flowd; ls --json on it is empty"

# --- the daemon and 2 workers of the test
start_daemon
start_worker w1 --name w1; W1=$LAST_PID
start_worker w2 --name w2
wait_for 10 has_workers 2

r1rc workers; expect_rc 0 workers
grep -q "^w1 " "$T/out" && grep -q "^w2 " "$T/out" && grep -q probe "$T/out" || fail "workers: $(cat "$T/out")"
r1rc workers --json; expect_rc 0 "workers --json"
[[ $(jq_ 'sorted(w["name"] for w in d["workers"])' <"$T/out") == "['w1', 'w2']" ]] ||
	fail "workers --json: $(cat "$T/out")"
jq_ '[w[k] for w in d["workers"] for k in ("id", "host", "pid", "kinds", "slots", "jobs", "state")]' <"$T/out" >/dev/null ||
	fail "workers --json lacks fields: $(cat "$T/out")"

# --- submit, watch (plain), status, ls, logs
# (stage a's jobs nap 30 ms: 200 of them on 2 workers outlast the start of watch even on
# a loaded machine, so watch sees it running)
r1rc submit "$PROBE" --set stages.a.sleep_ms=30; expect_rc 0 submit
ID=$(cat "$T/out")
[[ $ID =~ ^[0-9]+$ ]] || fail "submit printed '$ID', not an id"
r1rc watch "$ID"; expect_rc 0 "watch $ID"
cp "$T/out" "$T/watch.out"
grep -Ev "$TS" "$T/watch.out" && fail "watch printed lines without a timestamp"
grep -Eq "${TS}stage a running [0-9]+/200 jobs" "$T/watch.out" || fail "watch: no running line for a: $(cat "$T/watch.out")"
grep -Eq "${TS}stage b succeeded 100/100 jobs" "$T/watch.out" || fail "watch: b did not succeed: $(cat "$T/watch.out")"
tail -n 1 "$T/watch.out" | grep -Eq "${TS}pipeline $ID 'probe' succeeded in " || fail "watch: last line $(tail -n 1 "$T/watch.out")"
[[ $(grep -c $'\e' "$T/watch.out") == 0 ]] || fail "watch wrote escape sequences to a file"
log "watch (no tty): $(wc -l <"$T/watch.out") timestamped lines, exit 0"

r1rc status "$ID"; expect_rc 0 status
grep -q "^pipeline $ID 'probe'" "$T/out" && grep -q "^state *succeeded" "$T/out" &&
	grep -Eq "^a +probe +succeeded +200/200 jobs" "$T/out" &&
	grep -Eq "^b +probe +succeeded +100/100 jobs" "$T/out" || fail "status: $(cat "$T/out")"
r1rc status --json "$ID"; expect_rc 0 "status --json"
[[ $(jq_ '(d["pipeline"]["id"], d["pipeline"]["state"], [(s["name"], s["kind"], s["state"], s["step"], s["total"], s["unit"]) for s in d["stages"]], d["pipeline"]["spec"]["name"])' <"$T/out") == \
	"($ID, 'succeeded', [('a', 'probe', 'succeeded', 200, 200, 'jobs'), ('b', 'probe', 'succeeded', 100, 100, 'jobs')], 'probe')" ]] ||
	fail "status --json: $(cat "$T/out")"

r1rc submit --json "$PROBE" --set stages.a.jobs=10 --set stages.b.jobs=10; expect_rc 0 "submit --json"
[[ $(jq_ '(d["id"] == '"$ID"' + 1, d["name"])' <"$T/out") == "(True, 'probe')" ]] || fail "submit --json: $(cat "$T/out")"
ID2=$((ID + 1))

r1rc ls; expect_rc 0 ls
grep -Eq "^ID +NAME +STATE" "$T/out" && grep -Eq "^$ID +probe +succeeded +2/2 " "$T/out" &&
	grep -Eq "^$ID2 +probe " "$T/out" || fail "ls: $(cat "$T/out")"
[[ $(sed -n 2p "$T/out" | awk '{print $1}') == "$ID2" ]] || fail "ls: newest is not first: $(cat "$T/out")"
r1rc ls --json; expect_rc 0 "ls --json"
[[ $(jq_ '[(p["id"], p["name"]) for p in d["pipelines"]][:2]' <"$T/out") == "[($ID2, 'probe'), ($ID, 'probe')]" ]] ||
	fail "ls --json: $(cat "$T/out")"
jq_ '[p[k] for p in d["pipelines"] for k in ("state", "created_at", "stages", "stages_succeeded")]' <"$T/out" >/dev/null ||
	fail "ls --json lacks fields"

r1rc logs "$ID"; expect_rc 0 logs
grep -Evq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$T/out" && fail "logs: a line without a time: $(cat "$T/out")"
grep -Eq 'Z a ' "$T/out" && grep -Eq 'Z b ' "$T/out" || fail "logs: no events of stages a and b: $(cat "$T/out")"
r1rc logs --json "$ID"; expect_rc 0 "logs --json"
[[ $(jq_ '(len(d["events"]) > 0, d["last"] == d["events"][-1]["id"], sorted(set(e["stage"] for e in d["events"] if e["stage"])))' <"$T/out") == "(True, True, ['a', 'b'])" ]] ||
	fail "logs --json: $(cat "$T/out")"
jq_ '[e[k] for e in d["events"] for k in ("id", "ts", "type", "data")]' <"$T/out" >/dev/null || fail "logs --json lacks fields"
t0=$(now_ms); r1rc logs -f "$ID"; t1=$(now_ms); expect_rc 0 "logs -f (ended)"
(( t1 - t0 < 3000 )) || fail "logs -f of an ended pipeline took $((t1 - t0)) ms"

# --- watch under a pseudo-terminal: redrawn in place
command -v script >/dev/null || fail "script (util-linux) is not installed"
script -qec "'$R1FLOW_CLI' watch $ID2" /dev/null >"$T/pty.out" 2>&1 || fail "watch under a pty exited $?: $(cat -v "$T/pty.out")"
grep -q $'\e\[2K' "$T/pty.out" || fail "watch on a tty drew no ANSI clear-line: $(cat -v "$T/pty.out")"
grep -q '\[####################\]' "$T/pty.out" || fail "watch on a tty drew no full bar: $(cat -v "$T/pty.out")"
grep -q "pipeline $ID2 'probe' succeeded in" "$T/pty.out" || fail "watch on a tty: no final line"
log "watch under a pty: escape sequences, bars, exit 0"

# --- unknown ids: the daemon's message, exit 1
for v in status watch logs cancel pause resume retry; do
	r1rc "$v" 999999; expect_rc 1 "$v 999999"
	grep -q "^r1flow $v: .*999999" "$T/err" || fail "$v of an unknown id said: $(cat "$T/err")"
done
r1rc drain nosuchworker; expect_rc 1 "drain nosuchworker"
grep -q "^r1flow drain: .*nosuchworker" "$T/err" || fail "drain of an unknown worker said: $(cat "$T/err")"
log "unknown ids and workers: exit 1 with the daemon's message"

# --- pause, resume, cancel, retry on a slow pipeline
r1rc submit "$PROBE" --set stages.a.jobs=40 --set stages.a.sleep_ms=200 --set stages.b.jobs=4; expect_rc 0 "submit slow"
ID3=$(cat "$T/out")
"$R1FLOW_CLI" logs -f "$ID3" >"$T/follow.out" 2>&1 & FOLLOW=$!
PIDS+=("$FOLLOW")
wait_for 10 state_is "$ID3" running
r1rc pause "$ID3"; expect_rc 0 pause
[[ $(cat "$T/out") == "pipeline $ID3: paused" ]] || fail "pause said: $(cat "$T/out")"
state_is "$ID3" paused || fail "after pause: $(state_of "$ID3")"
r1rc pause --json "$ID3"; [[ $RC == 1 ]] || { [[ $RC == 0 ]] && parses <"$T/out"; } || fail "second pause exited $RC"
sleep 1   # jobs in hand (2 slots a worker) finish; nothing new is handed out
s1=$(r1 status --json "$ID3" | jq_ 'd["stages"][0]["step"]'); sleep 1
s2=$(r1 status --json "$ID3" | jq_ 'd["stages"][0]["step"]')
[[ $s1 == "$s2" ]] || fail "stage a went on while paused: $s1 -> $s2"
(( s2 < 40 )) || fail "stage a finished before the pause took hold"
r1rc resume --json "$ID3"; expect_rc 0 resume
[[ $(jq_ '(d["id"], d["state"])' <"$T/out") == "($ID3, 'running')" ]] || fail "resume --json: $(cat "$T/out")"
wait_for 10 state_is "$ID3" running
r1rc cancel "$ID3"; expect_rc 0 cancel
[[ $(cat "$T/out") == "pipeline $ID3: cancelled" ]] || fail "cancel said: $(cat "$T/out")"
state_is "$ID3" cancelled || fail "after cancel: $(state_of "$ID3")"
r1rc watch "$ID3"; expect_rc 1 "watch of a cancelled pipeline"
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_for 5 gone "$FOLLOW"
wait "$FOLLOW" || fail "logs -f exited $?: $(cat "$T/follow.out")"
grep -q " a stage_started" "$T/follow.out" && tail -n 1 "$T/follow.out" | grep -q " - pipeline_cancelled" ||
	fail "logs -f did not follow the pipeline to its cancel: $(cat "$T/follow.out")"
grep -Eq "${TS}pipeline $ID3 'probe' cancelled in " "$T/out" || fail "watch of cancelled: $(cat "$T/out")"
r1rc status "$ID3"; grep -Eq "^a +probe +cancelled" "$T/out" || fail "status after cancel: $(cat "$T/out")"
r1rc resume "$ID3"; expect_rc 1 "resume of a cancelled pipeline"
r1rc retry "$ID3"; expect_rc 0 retry
grep -Eq "^pipeline $ID3: (queued|running)$" "$T/out" || fail "retry said: $(cat "$T/out")"
r1rc watch "$ID3"; expect_rc 0 "watch after retry"
r1rc status --json "$ID3"
[[ $(jq_ '[(s["state"], s["step"]) for s in d["stages"]]' <"$T/out") == "[('succeeded', 40), ('succeeded', 4)]" ]] ||
	fail "after retry: $(cat "$T/out")"
log "pause (progress stops), resume, cancel (watch exits 1, logs -f ends), retry (succeeds)"

# --- a failing stage: watch exits 1 with the error, status shows it
r1rc submit "$PROBE" --set stages.a.jobs=5 --set stages.a.fail=1; expect_rc 0 "submit failing"
ID4=$(cat "$T/out")
r1rc watch "$ID4"; expect_rc 1 "watch of a failing pipeline"
grep -q "^r1flow watch: pipeline $ID4 failed: " "$T/err" || fail "watch of a failure said: $(cat "$T/err")"
r1rc status "$ID4"; expect_rc 0 "status of a failed pipeline"
grep -q "^state *failed" "$T/out" && grep -q "^error " "$T/out" && grep -Eq "^b +probe +(pending|cancelled)" "$T/out" ||
	fail "status of a failed pipeline: $(cat "$T/out")"
log "a failed stage: watch exits 1 with the error"

# --- drain
r1rc drain --json w1; expect_rc 0 drain
[[ $(jq_ 'd["worker"]' <"$T/out") == w1 ]] || fail "drain --json: $(cat "$T/out")"
wait_for 10 has_workers 1
wait "$W1" || fail "w1 exited $? after the drain"
r1rc workers; grep -q "^w1 " "$T/out" && fail "w1 is still listed after its drain"
log "drain: the worker left"

# --- a daemon killed outright leaves its socket file: still 'no daemon', at once
stop "$DAEMON" KILL
t0=$(now_ms); r1rc ls; t1=$(now_ms)
expect_rc 1 "ls after kill -9"
grep -q "no daemon at 'ipc://$DATA/control.sock'" "$T/err" || fail "ls after kill -9 said: $(cat "$T/err")"
(( t1 - t0 < 2000 )) || fail "ls took $((t1 - t0)) ms to see the dead daemon"
log "ok"
