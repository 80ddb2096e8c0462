#!/usr/bin/env bash
# Reward programs and the code reward (docs/rewards.md): programs the test writes in
# Python — one that works (answer match and length, with components, importing a
# helper from a directory in `files`), one that hangs, one that crashes, one that
# prints garbage, one that floods stdout — each through `r1flow reward test`, then
# the working one and the crashing and hanging ones through a real tiny eval pipeline
# with a daemon and one worker: the bad ones fail their job and the stage with the
# program's error, and the same worker and daemon go on to run the good one again.
# The sandbox (bwrap) blocks network and writes outside /tmp where namespaces work
# (always as root: CI). The code reward: a right program (1), a half-right one (0.5;
# 0 in mode all), an infinite loop (its test fails at the time limit), no code block
# (0), no record (the job fails naming the item).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
# Debian's python3 first: a python3 shim elsewhere on PATH (pyenv) starts in seconds
export PATH=/usr/bin:$PATH
# the programs' directories ($TMPDIR/r1flow-reward-*) go with $T: lib.sh's cleanup
# kills the worker with SIGKILL, which leaves them
export TMPDIR=$T/tmp
mkdir "$TMPDIR"

# pids of the processes running a command line matching PATTERN in a directory under
# $TMPDIR (this test's programs, not another run's)
programs() {
	/usr/bin/python3 - "$TMPDIR" "$1" <<'PY'
import os, re, sys
root, pattern = sys.argv[1] + "/", re.compile(sys.argv[2])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    if cwd.startswith(root) and pattern.search(cmd):
        print(pid)
PY
}
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/err") $(cat "$T/out")"; }
# a Python expression over the JSON document on stdin (bound to d); a tuple's items
# printed with spaces between them
jq_() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1]); print(" ".join(map(str, v)) if isinstance(v, tuple) else v)' "$1"; }

mkdir -p "$T/prog/helpers"
cat >"$T/prog/helpers/score.py" <<'EOF'
def length_score(text):
    return min(len(text), 100) / 100.0
EOF
cat >"$T/prog/reward.py" <<'EOF'
import json, sys
from helpers.score import length_score
for line in sys.stdin:
    req = json.loads(line)
    match = 1.0 if req["answer"] is not None and req["answer"] in req["completion"] else 0.0
    extra = 1.0 if (req["record"] or {}).get("bonus") else 0.0
    print(json.dumps({"reward": match + extra,
                      "components": {"match": match, "len": length_score(req["completion"])}}),
          flush=True)
EOF
cat >"$T/prog/hang.py" <<'EOF'
import sys, time
for line in sys.stdin:
    time.sleep(1000)
EOF
cat >"$T/prog/crash.py" <<'EOF'
import sys
sys.stdin.readline()
sys.stderr.write("Traceback (most recent call last):\nValueError: my reward cannot parse this\n")
sys.exit(3)
EOF
cat >"$T/prog/garbage.py" <<'EOF'
import sys
for line in sys.stdin:
    print("Loading model weights... done", flush=True)
EOF
cat >"$T/prog/flood.py" <<'EOF'
import sys
sys.stdin.readline()
chunk = "a" * (1 << 20)
for _ in range(100):        # a 100 MB line
    sys.stdout.write(chunk)
sys.stdout.write("\n")
sys.stdout.flush()
EOF
cat >"$T/prog/escape.py" <<'EOF'
import json, socket, sys
for line in sys.stdin:
    c = {}
    target = json.loads(line)["record"]["target"]
    try:
        open(target, "w").write("escaped")
        c["wrote"] = 1
    except OSError:
        c["wrote"] = 0
    try:
        open("/tmp/scratch", "w").write("x")
        c["tmp"] = 1
    except OSError:
        c["tmp"] = 0
    try:
        socket.create_connection(("127.0.0.1", int(json.loads(line)["record"]["port"])), timeout=2)
        c["net"] = 1
    except OSError:
        c["net"] = 0
    print(json.dumps({"reward": 0, "components": c}), flush=True)
EOF

cat >"$T/prog/spec.yaml" <<'EOF'
version: 1
name: rewards
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  test: {generate: arithmetic, digits: 2, style: problem, count: 2, seed: 2}
rewards:
  mine: {program: [python3, reward.py], weight: 2.0, files: [reward.py, helpers/]}
  hang: {program: [python3, hang.py], timeout_ms: 300, start_timeout_ms: 2000, files: [hang.py]}
  crash: {program: [python3, crash.py], files: [crash.py]}
  garbage: {program: [python3, garbage.py], files: [garbage.py]}
  flood: {program: [python3, flood.py], files: [flood.py]}
  escape: {program: [python3, escape.py], files: [escape.py]}
  lost: {program: [python3, reward.py], files: [reward.py]}
  code: {fn: code, timeout_ms: 1000}
  code_all: {fn: code, mode: all, timeout_ms: 1000}
stages:
  - {name: e, kind: eval, dataset: test, rewards: [mine], max_new_tokens: 4}
EOF
S=$T/prog/spec.yaml
T0=$(now_ms)

# --- reward test: help and usage
r1rc reward --help; expect_rc 0 "reward --help"
grep -q "reward test" "$T/out" || fail "reward --help does not name test: $(cat "$T/out")"
r1rc reward test --help; expect_rc 0 "reward test --help"
grep -q "r1flow reward test" "$T/out" && grep -q "example:" "$T/out" && grep -q "exit status" "$T/out" ||
	fail "reward test --help lacks the verb, an example or the exit statuses: $(cat "$T/out")"
for o in --spec --reward --completion --answer --prompt --record --tokens --json; do
	grep -q -- "$o" "$T/out" || fail "reward test --help lacks $o"
done
r1rc reward test --spec "$S" --completion x; expect_rc 2 "reward test without --reward"
r1rc reward nope; expect_rc 2 "reward nope"
r1rc reward test --spec "$S" --reward mine --completion x --record '[1]'; expect_rc 2 "--record [1]"
r1rc reward test --spec "$S" --reward nosuch --completion x; expect_rc 1 "an unknown reward"
grep -q "no reward named 'nosuch'.*'mine'" "$T/err" || fail "unknown reward: $(cat "$T/err")"

# --- validate reads the programs' files as submit will
r1rc validate "$S"; expect_rc 0 "validate"
sed 's/files: \[reward.py\]}/files: [reward.py, nowhere.py]}/' "$S" >"$T/prog/missing.yaml"
r1rc validate "$T/prog/missing.yaml"; expect_rc 1 "validate with a missing file"
grep -q "reward 'lost': files: cannot open '$T/prog/nowhere.py'" "$T/err" || fail "validate: $(cat "$T/err")"

# --- the working program: answer match, its helper module, the record, components
r1rc reward test --spec "$S" --reward mine --completion "the answer is 42" --answer 42 --json
expect_rc 0 "reward test mine"
[[ $(jq_ 'd["components"]["mine"], d["components"]["mine.match"], d["components"]["mine.len"], d["total"]' <"$T/out") == "1.0 1.0 0.16 2.0" ]] ||
	fail "mine scored: $(cat "$T/out")"
r1rc reward test --spec "$S" --reward mine --completion "no" --answer 42 --record '{"bonus": true}'
expect_rc 0 "reward test mine --record"
grep -q "^mine: 1$" "$T/out" && grep -q "mine.match: 0" "$T/out" && grep -q "weighted (weight 2): 2" "$T/out" ||
	fail "mine with a record scored: $(cat "$T/out")"
# a file its program needs but `files` leaves out: the same failure a worker would have
r1rc reward test --spec "$S" --reward lost --completion x --answer 1; expect_rc 1 "lost"
grep -q "reward 'lost'.*stderr:.*No module named 'helpers'" "$T/err" || fail "lost: $(cat "$T/err")"

# --- the bad ones: each fails with an error naming the reward and what went wrong
r1rc reward test --spec "$S" --reward hang --completion x; expect_rc 1 "hang"
grep -q "reward 'hang': no reply within timeout_ms 300" "$T/err" || fail "hang: $(cat "$T/err")"
r1rc reward test --spec "$S" --reward crash --completion x; expect_rc 1 "crash"
grep -q "reward 'crash': the program ended before it replied (the program exited with status 3); stderr: Traceback (most recent call last): | ValueError: my reward cannot parse this" "$T/err" ||
	fail "crash: $(cat "$T/err")"
r1rc reward test --spec "$S" --reward garbage --completion x; expect_rc 1 "garbage"
grep -q "reward 'garbage': the reply is not JSON.*Loading model weights" "$T/err" || fail "garbage: $(cat "$T/err")"
RC=0; /usr/bin/time -f "%M" -o "$T/rss" "$R1FLOW_CLI" reward test --spec "$S" --reward flood --completion x \
	>"$T/out" 2>"$T/err" || RC=$?
expect_rc 1 "flood"
grep -q "reward 'flood': its reply is longer than 1048576 bytes" "$T/err" || fail "flood: $(cat "$T/err")"
(( $(tail -n 1 "$T/rss") < 65536 )) || fail "flood: r1flow reached $(tail -n 1 "$T/rss") KB reading a 100 MB line"

# --- docs/rewards.md's example, as the docs show it
SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir "$T/example"
cp "$SRC/docs/examples/reward_program.py" "$T/example/"
cat >"$T/example/my.yaml" <<'EOF'
version: 1
name: example
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  test: {generate: arithmetic, count: 4}
rewards:
  mine: {program: [python3, reward_program.py], files: [reward_program.py]}
stages:
  - {name: e, kind: eval, dataset: test}
EOF
r1rc reward test --spec "$T/example/my.yaml" --reward mine --answer 42 \
	--completion '12+30=42</think><answer>42</answer>'
expect_rc 0 "the docs' example"
printf 'mine: 1.1\n  mine.correct: 1\n  mine.format: 1\nweighted (weight 1): 1.1\n' >"$T/want"
diff -u "$T/want" "$T/out" || fail "docs/rewards.md's example prints something else"
r1rc reward test --spec "$T/example/my.yaml" --reward mine --answer 1000 \
	--completion '</think><answer>$1,000</answer>' --json
[[ $(jq_ 'd["components"]["mine.correct"]' <"$T/out") == 1.0 ]] ||
	fail "the example: \$1,000 is not 1000: $(cat "$T/out")"
r1rc reward test --spec "$T/example/my.yaml" --reward mine --answer 42 --completion 'no tags 42' --json
[[ $(jq_ 'd["total"]' <"$T/out") == 0.0 ]] || fail "the example scored an ill-formed completion: $(cat "$T/out")"
log "reward test of the programs: $(( $(now_ms) - T0 )) ms"
# --- the sandbox
if bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true 2>"$T/bwrap.err"; then
	out=/var/tmp/r1flow-escape-$$
	rm -f "$out"
	/usr/bin/python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/port" &
	PIDS+=("$!")
	wait_for 10 test -s "$T/port"
	r1rc reward test --spec "$S" --reward escape --completion x --record "{\"target\": \"$out\", \"port\": $(cat "$T/port")}" --json
	expect_rc 0 "escape"
	[[ $(jq_ 'd["components"]["escape.wrote"], d["components"]["escape.tmp"], d["components"]["escape.net"]' <"$T/out") == "0.0 1.0 0.0" ]] ||
		fail "the sandbox let a program write outside /tmp or reach the network: $(cat "$T/out")"
	[[ ! -e $out ]] || fail "the sandbox let a program write $out"
	# the same program without namespaces does both: the check can fail
	RC=0; R1FLOW_SANDBOX=rlimits "$R1FLOW_CLI" reward test --spec "$S" --reward escape --completion x \
		--record "{\"target\": \"$out\", \"port\": $(cat "$T/port")}" --json >"$T/out" 2>"$T/err" || RC=$?
	expect_rc 0 "escape (rlimits)"
	[[ $(jq_ 'd["components"]["escape.wrote"], d["components"]["escape.net"]' <"$T/out") == "1.0 1.0" ]] ||
		fail "without bwrap the program should reach both: $(cat "$T/out")"
	grep -q "resource limits only" "$T/err" || fail "R1FLOW_SANDBOX=rlimits without its warning: $(cat "$T/err")"
	rm -f "$out"
elif [[ $(id -u) == 0 ]]; then
	fail "bwrap cannot run as root (scripts/deps.sh installs bubblewrap): $(cat "$T/bwrap.err")"
else
	log "SKIP the sandbox assertions: bwrap cannot create namespaces here: $(cat "$T/bwrap.err")"
fi

log "the sandbox: $(( $(now_ms) - T0 )) ms"
# --- the code reward
TESTS='{"tests": [{"input": "2 3\n", "output": "5\n"}, {"input": "10 20\n", "output": "30"}]}'
code() { # REWARD COMPLETION: prints the value
	r1rc reward test --spec "$S" --reward "$1" --record "$TESTS" --completion "$2" --json
	expect_rc 0 "reward test $1"
	jq_ "d['components']['$1']" <"$T/out"
}
right=$'Sum them.\n```python\na, b = map(int, input().split())\nprint(a + b)   \n```'
half=$'```python\na, b = map(int, input().split())\nprint(5)\n```'
[[ $(code code "$right") == 1.0 ]] || fail "code: a right program: $(cat "$T/out")"
[[ $(code code "$half") == 0.5 ]] || fail "code: a half-right program: $(cat "$T/out")"
[[ $(code code_all "$half") == 0.0 ]] || fail "code, mode all: a half-right program: $(cat "$T/out")"
[[ $(code code_all "$right") == 1.0 ]] || fail "code, mode all: a right program: $(cat "$T/out")"
[[ $(code code $'```python\nwhile True:\n    pass\n```') == 0.0 ]] || fail "code: an infinite loop: $(cat "$T/out")"
[[ $(code code "I would add them.") == 0.0 ]] || fail "code: no code block: $(cat "$T/out")"
r1rc reward test --spec "$S" --reward code --completion $'```python\ndef add(a, b):\n    return a + b\n```' \
	--record '{"asserts": ["assert add(1, 2) == 3", "assert add(1, 1) == 3"]}' --json
expect_rc 0 "code asserts"
[[ $(jq_ 'd["components"]["code"], d["components"]["code.passed"]' <"$T/out") == "0.5 1" ]] || fail "code asserts: $(cat "$T/out")"
r1rc reward test --spec "$S" --reward code --completion "$right"; expect_rc 1 "code without a record"
grep -q "items\[0\]: reward 'code': code: the item has no record" "$T/err" || fail "code without a record: $(cat "$T/err")"

log "the code reward: $(( $(now_ms) - T0 )) ms"
left=$(ls "$TMPDIR")
[[ -z $left ]] || fail "reward test left directories behind: $left"
# --- a real pipeline: daemon, one worker; the program's files travel as blobs
cp -r "$T/prog" "$T/submitted"
sed -i "s/rewards: \[mine\]/rewards: [REWARD]/" "$T/submitted/spec.yaml"
start_daemon
start_worker w1 --threads 1
WORKER=$LAST_PID
wait_for 10 has_workers 1
submit() { # REWARD: the pipeline's id; the spec and its files are gone after submit
	sed "s/REWARD/$1/; s/^name: rewards/name: rewards_$1/" "$T/submitted/spec.yaml" >"$T/submitted/run.yaml"
	"$R1FLOW_CLI" submit "$T/submitted/run.yaml" --data "$DATA"
}
wait_pipeline() {
	local t0 rc=0
	t0=$(now_ms)
	timeout 60 "$R1FLOW_CLI" watch "$1" --data "$DATA" --plain >"$T/watch.log" 2>&1 || rc=$?
	log "pipeline $1: $(( $(now_ms) - t0 )) ms"
	return $rc
}

ID=$(submit mine) || fail "submit mine refused"
mv "$T/submitted" "$T/moved" # the worker must not need the user's files
RC=0; wait_pipeline "$ID" || RC=$?
[[ $RC == 0 ]] || fail "the pipeline with the working program failed: $(tail -n 5 "$T/watch.log")"
sql "SELECT result FROM jobs WHERE kind = 'reward' AND state = 'done'" >"$T/results"
grep -q '"mine.match"' "$T/results" && grep -q '"mine.len"' "$T/results" ||
	fail "the reward jobs' items lack the program's components: $(head -c 400 "$T/results")"
files=$(sql "SELECT json_extract(spec, '\$.rewards.mine.file_blobs') FROM pipelines WHERE id = $ID")
[[ $files == *'"reward.py":'* && $files == *'"helpers/score.py":'* ]] ||
	fail "the stored spec does not pin the program's files: $files"
# gc keeps them: the pipeline's spec names them
"$R1FLOW_CLI" gc --data "$DATA" >"$T/gc.out" 2>&1 || fail "gc failed: $(cat "$T/gc.out")"
for sha in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1]).values()))' "$files"); do
	[[ -e $DATA/blobs/$sha ]] || fail "gc removed the program's file $sha"
done
mv "$T/moved" "$T/submitted"

for bad in crash hang; do
	ID=$(submit $bad) || fail "submit $bad refused"
	RC=0; wait_pipeline "$ID" || RC=$?
	[[ $RC != 0 ]] || fail "the pipeline with the $bad program succeeded"
	err=$(sql "SELECT error FROM jobs WHERE kind = 'reward' AND state = 'failed' AND stage IN
		(SELECT id FROM stages WHERE pipeline = $ID)")
	case $bad in
	crash) want="reward 'crash': the program ended before it replied (the program exited with status 3); stderr: Traceback";;
	hang) want="reward 'hang': no reply within timeout_ms 300";;
	esac
	[[ $err == *"$want"* ]] || fail "$bad: the failed job says: $err"
	"$R1FLOW_CLI" status "$ID" --data "$DATA" >"$T/status" 2>&1 || true
	grep -qF "$want" "$T/status" || fail "$bad: status does not show the error: $(cat "$T/status")"
	kill -0 "$WORKER" || fail "the worker died on the $bad program"
	[[ -z $(programs "$bad.py") ]] || fail "the $bad program is still running after its job failed"
	kill -0 "$DAEMON" || fail "the daemon died on the $bad program"
	log "$bad: the job failed with: ${err:0:160}"
done
# the same worker serves the working program again
ID=$(submit mine) || fail "submit mine (again) refused"
RC=0; wait_pipeline "$ID" || RC=$?
[[ $RC == 0 ]] || fail "after the bad programs the working one failed: $(tail -n 5 "$T/watch.log")"
has_workers 1 || fail "the worker left"
ls -d "$TMPDIR"/r1flow-reward-* >/dev/null 2>&1 || fail "the worker keeps no program directory"
[[ -n $(programs reward.py) ]] || fail "the worker keeps no reward.py process between jobs"
# a worker that stops stops its programs and removes their directories
stop "$WORKER"
[[ $STOPPED_RC == 0 ]] || fail "the worker exited $STOPPED_RC after SIGTERM"
left=$(ls "$TMPDIR")
[[ -z $left ]] || fail "the stopped worker left directories behind: $left"
[[ -z $(programs reward.py) ]] || fail "the worker's reward program outlived it"
log "the pipelines: $(( $(now_ms) - T0 )) ms"
