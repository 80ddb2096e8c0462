#!/usr/bin/env bash
# bench/overlap.sh — overlapped GRPO steps (docs/pipelines.md `max_staleness`) against
# exact ones, the same stage on the same daemon and workers.
#
# pipelines/r1.yaml's model, datasets and `zero` stage (GRPO on the base, beta 0.02),
# run for a fixed number of steps from a base pretrained once (a pipeline of its own,
# BASE_STEPS steps: the demo's 1000 would take most of the run; fewer leave rewards
# lower, not the work per step) with max_staleness 0 and then 1 (the order alternates
# over REPEATS pairs), on 2 workers x 1 thread. Prints each run's stage wall time
# (stages.started_at → finished_at) and steps/s, both runs' reward curves (mean reward
# per step, from the metrics table), the load average, and last:
#
#   overlap ratio=Y          steps/s with max_staleness 1 ÷ with 0 (medians over REPEATS)
#
# bench/scale.sh makes the same comparison (its 2x1 and 2x1o runs: overlap=Y on its last
# line, with both reward curves) beside the worker-count ones; this script repeats it
# alone, REPEATS times.
#
#   bench/overlap.sh                     defaults: STEPS=12 BASE_STEPS=200 REPEATS=1
#   BUILD=dir                            the meson build directory (default build)
#   SLOTS=N                              the workers' --slots (default: theirs, 2)
# Target (issue 17): ratio ≥ 1.3. The stage has 2 rollout and 2 grad jobs a step, one
# per worker (the dispatcher offers every idle worker a job before any gets a second):
# exact steps leave both workers idle while rewards, advantages and the learner run,
# overlapped ones give them the next step's rollouts then. On a machine busy with other
# work the ratio says little: the two workers share what CPU there is, and overlapping
# cannot add any.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-12}
BASE_STEPS=${BASE_STEPS:-200}
REPEATS=${REPEATS:-1}
SLOTS=${SLOTS:-}
B=${BUILD:-build}

command -v sqlite3 >/dev/null || { echo "overlap.sh: sqlite3 is not installed" >&2; exit 1; }
ninja -C "$B" daemon/r1flowd workers/r1flow-worker cli/r1flow tests/ctl >/dev/null

T=$(mktemp -d /tmp/r1ovl.XXXXXX)   # short: ipc paths must fit in 107 bytes
DATA=$T/data
PIDS=()
cleanup() {
	local rc=$?
	trap - EXIT
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if (( rc != 0 )); then
		for f in "$T"/*.log; do [[ -f $f ]] && { echo "---- ${f##*/}"; tail -n 20 "$f"; }; done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT INT TERM

now_ms() { date +%s%3N; }
ctl() { "$B/tests/ctl" "$DATA" "$1"; }
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DATA/r1flow.db" "$1"; }
r1() { "$B/cli/r1flow" "$@" --data "$DATA"; }
wait_for() {
	local secs=$1; shift
	local deadline=$(( $(now_ms) + secs * 1000 ))
	until "$@" >/dev/null 2>&1; do
		(( $(now_ms) < deadline )) || { echo "overlap.sh: timed out waiting for: $*" >&2; exit 1; }
		sleep 0.05
	done
}
live_workers() { ctl '{"op":"status"}' | sed -n 's/.*"workers":\([0-9]*\),.*/\1/p'; }
has_workers() { [[ $(live_workers) == "$1" ]]; }

# the specs: r1.yaml's model, datasets, rewards and template; its base alone, then its
# zero alone from that base (model: {pipeline, stage})
/usr/bin/python3 - "$T" "$BASE_STEPS" "$STEPS" <<'EOF'
import sys, yaml
t, base_steps, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = yaml.safe_load(open("pipelines/r1.yaml"))
stages = {s["name"]: s for s in spec["stages"]}
base = dict(spec, name="ovl_base", stages=[dict(stages["base"], steps=base_steps)])
yaml.safe_dump(base, open(f"{t}/base.yaml", "w"), sort_keys=False)
for st in (0, 1):
    zero = dict(stages["zero"], steps=steps, max_staleness=st)
    zero.pop("from", None)
    z = dict(spec, name=f"ovl_zero{st}", model={"pipeline": "ovl_base", "stage": "base"},
             stages=[zero])
    yaml.safe_dump(z, open(f"{t}/zero{st}.yaml", "w"), sort_keys=False)
EOF

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus; 2 workers x 1 thread, slots ${SLOTS:-default}"
"$B/daemon/r1flowd" --data "$DATA" >>"$T/daemon.log" 2>&1 & PIDS+=("$!")
wait_for 10 ctl '{"op":"ops"}'
for i in 1 2; do
	"$B/workers/r1flow-worker" --data "$DATA" --cache "$T/cache" --name "w$i" --threads 1 \
		${SLOTS:+--slots "$SLOTS"} >>"$T/w$i.log" 2>&1 & PIDS+=("$!")
done
wait_for 10 has_workers 2

# run FILE: submit, wait for the end; prints the pipeline id
run() {
	local id rc=0
	id=$(r1 submit "$1") || { echo "overlap.sh: submit $1 refused" >&2; exit 1; }
	timeout 3600 "$B/cli/r1flow" watch "$id" --data "$DATA" --plain >>"$T/watch.log" 2>&1 || rc=$?
	(( rc == 0 )) || { echo "overlap.sh: pipeline $id ($1) did not succeed" >&2; exit 1; }
	echo "$id"
}

t0=$(now_ms)
run "$T/base.yaml" >/dev/null
echo "# base: $BASE_STEPS pretrain steps in $(( $(now_ms) - t0 )) ms"

declare -A ms curve
for (( r = 0; r < REPEATS; r++ )); do
	order="0 1"; (( r % 2 )) && order="1 0"
	for st in $order; do
		id=$(run "$T/zero$st.yaml")
		t=$(sql "SELECT finished_at - started_at FROM stages WHERE pipeline = $id AND name = 'zero'")
		ms[$st]="${ms[$st]:-} $t"
		curve[$st]=$(sql "SELECT group_concat(printf('%.3f', value), ' ') FROM (SELECT value FROM
			metrics m JOIN stages s ON s.id = m.stage WHERE s.pipeline = $id AND m.name = 'reward_mean'
			ORDER BY m.step)")
		echo "# max_staleness $st: $STEPS steps in $t ms ($(awk -v n="$STEPS" -v t="$t" 'BEGIN { printf "%.3f", n * 1000 / t }') steps/s)"
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# reward_mean per step, max_staleness 0: ${curve[0]}"
echo "# reward_mean per step, max_staleness 1: ${curve[1]}"
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m0=$(echo "${ms[0]}" | median); m1=$(echo "${ms[1]}" | median)
echo "overlap ratio=$(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.2f", a / b }')"
