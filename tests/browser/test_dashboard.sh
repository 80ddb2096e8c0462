#!/usr/bin/env bash
# The dashboard in headless Chromium (Debian's chromium) during a live pipeline: r1flowd
# --http 127.0.0.1:0 serves it, one worker runs two pipelines whose GRPO prompts come
# from an imported dataset holding "<script>alert(1)</script>" (an untrained model's
# completions bring invalid UTF-8, mapped to U+FFFD). 'short' finishes; 'long' has an
# eval of 1500 prompts, then a GRPO stage of 5000 steps that the browser watches advance
# and then pauses. dashboard.py drives Chromium over the DevTools protocol (a pipe, no
# websocket) and checks every page against the control ops and the database (its header
# says what); screenshots land in this test's temporary folder ($T, kept with
# R1FLOW_KEEP_TMP=1). Chromium, the worker and the daemon are stopped on any exit.
. "$(dirname "$0")/../integration/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
CHROMIUM=${R1FLOW_CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || fail "no $CHROMIUM (scripts/deps.sh installs Debian's chromium)"
[[ -x /usr/bin/python3 ]] || fail "no /usr/bin/python3"
export R1FLOW_DATA=$DATA
# Chromium runs in a session of its own (dashboard.py writes its id): end all of it,
# renderers included, before lib.sh's cleanup, whatever ends this script
stop_chromium() { [[ -s $T/chromium.pid ]] && kill -KILL -- "-$(cat "$T/chromium.pid")" 2>/dev/null || true; }
trap 'rc=$?; set +e; stop_chromium; (exit $rc); cleanup' EXIT

start_daemon --http 127.0.0.1:0
wait_for 10 test -s "$DATA/http.addr"
ADDR=$(head -n 1 "$DATA/http.addr")
ADDR=${ADDR#http://}; ADDR=${ADDR%/}
[[ $ADDR =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "http.addr holds '$ADDR', not 127.0.0.1:PORT"
start_worker w1 --name w1 --threads 1
wait_for 10 has_workers 1

# prompts a page would run if it pasted them as HTML (CSV: every value is text)
{
	echo 'prompt,answer'
	for i in $(seq 1 20); do
		echo "\"<script>alert(1)</script> <img src=x> & <b>$i</b>+$i=\",$(( 2 * i ))"
	done
} >"$T/xss.csv"
r1rc dataset import "$T/xss.csv" --name xss; expect_rc 0 "dataset import xss.csv"

spec() { # name seed grpo-steps
	cat <<EOF
version: 1
name: $1
seed: $2
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 96}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 200}
  prompts: {shared: xss}
  test:    {generate: arithmetic, digits: 2, style: problem, count: 1500, seed: 2}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 16, buffer: 16}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 5, batch: 8}
  - {name: eval_base, kind: eval, from: base, dataset: test, max_new_tokens: 8}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 8, steps: $3, max_new_tokens: 16, shard: 8, beta: 0.02}
  - {name: eval_zero, kind: eval, from: zero, needs: [eval_base], dataset: test, samples: 2,
     max_new_tokens: 8, limit: 20}
EOF
}
spec short 9 4 >"$T/short.yaml"
spec long 8 5000 >"$T/long.yaml"
r1rc submit "$T/short.yaml"; expect_rc 0 "submit short"; SHORT=$(cat "$T/out")
timeout 60 "$R1FLOW_CLI" watch "$SHORT" --plain >"$T/watch.log" 2>&1 || fail "short did not succeed: $(tail -n 5 "$T/watch.log")"
r1rc submit "$T/long.yaml"; expect_rc 0 "submit long"; LONG=$(cat "$T/out")
log "dashboard on http://$ADDR/: pipeline $SHORT succeeded, $LONG running"

/usr/bin/python3 "$(dirname "$0")/dashboard.py" "http://$ADDR/" "$DATA" "$R1FLOW_CTL" "$CHROMIUM" "$T" \
	"$SHORT" "$LONG" || fail "the dashboard's checks failed (above)"
ctl "{\"op\":\"pipeline_cancel\",\"id\":$LONG}" >/dev/null
