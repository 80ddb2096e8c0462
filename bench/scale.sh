#!/usr/bin/env bash
# bench/scale.sh — does a GRPO stage get faster with more workers, and with overlapped
# steps? The demo's `zero` stage (pipelines/r1.yaml: its model, prompts, rewards and
# GRPO settings) for STEPS steps from a base pretrained once at the start (a pipeline
# of its own, BASE_STEPS steps: fewer than the demo's leave rewards lower, not the
# work per step), on one daemon, run by
#
#   1x1     one worker, one thread                     the baseline
#   2x1     two workers, one thread each
#   1x2     one worker, two threads
#   2x1o    two workers, one thread each, max_staleness 1 (docs/pipelines.md)
#
# each with workers started for it (a cache of its own: every run starts cold). Stage
# throughput is steps over the stage's own time (stages.started_at to finished_at).
#
# On a machine other work keeps busy the wall-clock ratios say little (with the
# kernel's autogroup scheduling two workers may get no more CPU than one), so each
# run also prints where its time went, from the processes and the jobs table:
#   cpu      CPU seconds a step of the daemon and of the workers (/proc utime+stime)
#   jobs     per kind, the jobs' mean busy time on their worker (from the later of
#            its lease and the worker's previous job's end, to its end: fetch,
#            compute and upload) and their CPU-free gaps
#   phases   per step, the time the daemon was the one working, with every job of
#            the step's phase done and the next phase's jobs not out yet: rollouts →
#            rewards (rl_enqueue_reward), rewards → grads (advantages, packing),
#            grads → the next step's rollouts (the learner step and its commit)
#   idle     each worker's time without a job over the stage, and how much of it
#            was a phase's tail (the other worker still finishing its half)
# and the weights deltas' size against the whole weights (daemon/deltas.h).
# A "modelled" 2x1 ratio is printed too: the 1x1 run's per-step job times split over
# two workers by the step's own jobs (each phase takes its slower half) plus the
# daemon's phases, i.e. what two workers would give if they had the CPU to themselves.
#
#   bench/scale.sh                  (from anywhere)
#   BUILD=dir STEPS=10 BASE_STEPS=200 REPEAT=1 CONFIGS="1x1 2x1 1x2 2x1o" bench/scale.sh
#   CLUSTER=0                       skip bench/cluster.sh (Z is then "-")
#   KEEP=dir                        keep the database and the logs there
#   WORKER_OPTS="--log-level debug" more options for the workers
#   PERF=file                       record the daemon with `perf record -g` (DWARF stacks,
#                                   99 Hz) into file, for `perf report -i file`
#   CLUSTER_STEPS=2 CLUSTER_BLOB_MB=16   its settings (small: a few minutes)
#
# REPEAT runs every configuration that many times, interleaved, and takes each one's
# best stage time: on a shared machine the best is the run least disturbed. The load
# average is printed before and after every run. The last line is for other scripts:
#
#   scale two_workers=X overlap=Y daemon_bytes_per_step_64=Z
#
# X = throughput(2x1) / throughput(1x1) (goal ≥ 1.8, and 2x1 ≥ 1x2), Y =
# throughput(2x1o) / throughput(2x1) (goal ≥ 1.3; both runs' reward curves are
# printed), Z = bench/cluster.sh 64's daemon_bytes_per_step_64 (blob bytes the daemon
# sends per step ÷ the blob's size with 64 workers; goal ≤ 2).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-${BUILD_DIR:-build}}
STEPS=${STEPS:-10}
BASE_STEPS=${BASE_STEPS:-200}
REPEAT=${REPEAT:-1}
CONFIGS=${CONFIGS:-1x1 2x1 1x2 2x1o}
CLUSTER=${CLUSTER:-1}

command -v sqlite3 >/dev/null || { echo "scale.sh: sqlite3 is not installed" >&2; exit 1; }
[[ -f $B/build.ninja ]] || meson setup "$B" >/dev/null
ninja -C "$B" daemon/r1flowd workers/r1flow-worker cli/r1flow tests/ctl >/dev/null

T=$(mktemp -d /tmp/r1scl.XXXXXX)   # short: ipc paths must fit in 107 bytes
DATA=$T/data
PIDS=()
WPIDS=()
cleanup() {
	local rc=$?
	trap - EXIT
	[[ -z ${PERF:-} || -z ${PIDS[0]:-} ]] || pkill -TERM -P "${PIDS[0]}" 2>/dev/null || true
	for pid in "${WPIDS[@]}" "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${WPIDS[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if (( rc != 0 )); then
		for f in "$T"/*.log; do [[ -f $f ]] && { echo "---- ${f##*/}"; tail -n 20 "$f"; }; done
	fi
	if [[ -n ${KEEP:-} && -f $DATA/r1flow.db ]]; then
		mkdir -p "$KEEP" && cp "$DATA"/r1flow.db* "$T"/*.log "$KEEP/" 2>/dev/null || true
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT INT TERM

now_ms() { date +%s%3N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
ctl() { "$B/tests/ctl" "$DATA" "$1"; }
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DATA/r1flow.db" "$1"; }
r1() { "$B/cli/r1flow" "$@" --data "$DATA"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wait_for() {
	local secs=$1; shift
	local deadline=$(( $(now_ms) + secs * 1000 ))
	until "$@" >/dev/null 2>&1; do
		(( $(now_ms) < deadline )) || { echo "scale.sh: timed out waiting for: $*" >&2; exit 1; }
		sleep 0.05
	done
}
live_workers() { ctl '{"op":"status"}' | sed -n 's/.*"workers":\([0-9]*\),.*/\1/p'; }
has_workers() { [[ $(live_workers) == "$1" ]]; }

# the specs: r1.yaml's model, datasets, rewards and template; its base alone, then its
# zero alone from that base (model: {pipeline, stage}), exact and overlapped
/usr/bin/python3 - "$T" "$BASE_STEPS" "$STEPS" <<'EOF'
import sys, yaml
t, base_steps, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = yaml.safe_load(open("pipelines/r1.yaml"))
stages = {s["name"]: s for s in spec["stages"]}
base = dict(spec, name="scale_base", stages=[dict(stages["base"], steps=base_steps)])
yaml.safe_dump(base, open(f"{t}/base.yaml", "w"), sort_keys=False)
for st in (0, 1):
    zero = dict(stages["zero"], steps=steps, max_staleness=st)
    zero.pop("from", None)
    z = dict(spec, name=f"scale_zero{st}", model={"pipeline": "scale_base", "stage": "base"},
             stages=[zero])
    yaml.safe_dump(z, open(f"{t}/zero{st}.yaml", "w"), sort_keys=False)
EOF

echo "# load average before: $(load), $(nproc) cpus; autogroup $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?')"
PERF_CMD=()
[[ -z ${PERF:-} ]] || PERF_CMD=(perf record -q -F 99 -g --call-graph dwarf,16384 -o "$PERF" --)
"${PERF_CMD[@]}" "$B/daemon/r1flowd" --data "$DATA" >>"$T/daemon.log" 2>&1 & PIDS+=("$!")
wait_for 10 ctl '{"op":"ops"}'
DAEMON=${PIDS[0]}
[[ -z ${PERF:-} ]] || DAEMON=$(pgrep -P "${PIDS[0]}")

# workers N THREADS NAME: N workers (cache NAME), their pids in WPIDS
workers() {
	local i
	for (( i = 1; i <= $1; i++ )); do
		"$B/workers/r1flow-worker" --data "$DATA" --cache "$T/cache-$3" --name "$3-w$i" \
			--threads "$2" ${WORKER_OPTS:-} >>"$T/$3-w$i.log" 2>&1 & WPIDS+=("$!")
	done
	wait_for 20 has_workers "$1"
}
stop_workers() {
	local pid
	for pid in "${WPIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${WPIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	WPIDS=()
	wait_for 20 has_workers 0
}
# run FILE: submit, wait for the end; prints the pipeline id
run() {
	local id rc=0
	id=$(r1 submit "$1") || { echo "scale.sh: submit $1 refused" >&2; exit 1; }
	timeout 3600 "$B/cli/r1flow" watch "$id" --data "$DATA" --plain >>"$T/watch.log" 2>&1 || rc=$?
	(( rc == 0 )) || { echo "scale.sh: pipeline $id ($1) did not succeed: $(r1 status "$id")" >&2; exit 1; }
	echo "$id"
}

t0=$(now_ms)
workers 2 1 base
run "$T/base.yaml" >/dev/null
stop_workers
echo "# base: $BASE_STEPS pretrain steps in $(( $(now_ms) - t0 )) ms"

# analyse ID LABEL: the jobs table's account of pipeline ID's zero stage (see the top)
analyse() {
	/usr/bin/python3 - "$DATA/r1flow.db" "$1" "$2" <<'PY'
import sqlite3, sys, collections
db, pid, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
st_id, t_start, t_end = c.execute(
    "SELECT id, started_at, finished_at FROM stages WHERE pipeline = ? AND name = 'zero'", (pid,)).fetchone()
jobs = c.execute("""SELECT kind, step, shard, worker, created_at, leased_at, finished_at FROM jobs
    WHERE stage = ? AND state = 'done' ORDER BY finished_at""", (st_id,)).fetchall()
span = t_end - t_start
# busy intervals per worker: a worker runs its jobs one after another
busy = collections.defaultdict(list)
per_kind = collections.defaultdict(lambda: [0, 0.0])
last_end = {}
for kind, step, shard, w, cr, le, fi in jobs:
    s = max(le, last_end.get(w, le))
    last_end[w] = fi
    busy[w].append((s, fi))
    per_kind[kind][0] += 1
    per_kind[kind][1] += fi - s
steps = sorted({j[1] for j in jobs})
by = collections.defaultdict(list)
for j in jobs:
    by[(j[1], j[0])].append(j)
ph = collections.defaultdict(float)
tail = 0.0
for s in steps:
    ro, rw, gr = by[(s, 'rollout')], by[(s, 'reward')], by[(s, 'grad')]
    if not (ro and rw and gr):
        continue
    ph['rollouts done -> rewards out'] += max(0, min(j[4] for j in rw) - max(j[6] for j in ro))
    ph['rewards done -> grads out'] += max(0, min(j[4] for j in gr) - max(j[6] for j in rw))
    nxt = by[(s + 1, 'rollout')]
    if nxt:
        ph['grads done -> next rollouts out'] += max(0, min(j[4] for j in nxt) - max(j[6] for j in gr))
    for group in (ro, rw, gr):  # the phase's tail: its first job done to its last
        if len(group) > 1:
            tail += max(j[6] for j in group) - min(j[6] for j in group)
n = max(len(steps), 1)
print(f"#   {label} jobs (mean busy ms on the worker: fetch, compute, upload): " +
      ", ".join(f"{k} {v[0]} x {v[1] / max(v[0], 1):.0f}" for k, v in sorted(per_kind.items())))
print(f"#   {label} daemon phases a step (ms, no job of the step out meanwhile): " +
      ", ".join(f"{k} {v / n:.0f}" for k, v in ph.items()))
for w, iv in sorted(busy.items()):
    b = sum(e - s for s, e in iv)
    print(f"#   {label} worker {w}: busy {b / 1000:.1f} s of the stage's {span / 1000:.1f} s ({100 * b / span:.0f}%)")
print(f"#   {label} phase tails (a phase's first job done to its last, summed): {tail / n:.0f} ms a step")
if label == '1x1':
    # modelled 2x1: per step, each phase's jobs split over two workers (longest first
    # onto the less loaded one: the phase takes the slower half), the daemon's phases
    # and the rest (start-up, turns) as measured
    jobdur = collections.defaultdict(list)
    last_end = {}
    for kind, step, shard, w, cr, le, fi in jobs:
        s0 = max(le, last_end.get(w, le))
        last_end[w] = fi
        jobdur[(step, kind)].append(fi - s0)
    halves = 0.0
    for key, ds in jobdur.items():
        bins = [0.0, 0.0]
        for d in sorted(ds, reverse=True):
            bins[bins.index(min(bins))] += d
        halves += max(bins)
    tot = sum(v[1] for v in per_kind.values())
    daemon = sum(ph.values())
    rest = max(0, span - tot - daemon)
    print(f"#   1x1 modelled 2x1: jobs {tot / 1000:.1f} s ({halves / 1000:.1f} s split over two), "
          f"daemon phases {daemon / 1000:.1f} s, rest {rest / 1000:.1f} s of {span / 1000:.1f} s "
          f"-> two_workers {span / (halves + daemon + rest):.2f} with a core each")
PY
}
# per job kind, over the workers' logs $@: where the time of the jobs that loaded
# weights went (r1flow-worker's "took" lines)
weights_time() {
	/usr/bin/python3 - "$@" <<'PY'
import re, sys, collections
acc = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
for f in sys.argv[1:]:
    for l in open(f):
        m = re.search(r'\((\w+)\) took ([\d.]+) ms: weights fetch ([\d.]+) ms, verify ([\d.]+) ms, load ([\d.]+) ms', l)
        if m:
            a = acc[m[1]]
            a[0] += 1
            for i in range(4):
                a[i + 1] += float(m[i + 2])
print("; ".join(f"{k} {a[0]} x {a[1] / a[0]:.0f} ms (fetch {a[2] / a[0]:.0f}, verify {a[3] / a[0]:.0f}, load {a[4] / a[0]:.0f})"
                for k, a in sorted(acc.items())) or "none")
PY
}
# the delta bytes / whole-weights bytes over the workers' logs $@
delta_ratio() {
	local full
	full=$(sql "SELECT b.size FROM blobs b JOIN checkpoints k ON k.sha256 = b.sha256 ORDER BY k.id DESC LIMIT 1")
	cat "$@" | sed -n 's/.*weights delta .* fetched and verified (\([0-9]*\) bytes).*/\1/p' |
		awk -v full="$full" '{ s += $1; n++ } END { if (n && full) printf "%d deltas, mean %.3f of the weights", n, s / n / full; else print "no deltas" }'
}

declare -A best curve
for (( r = 1; r <= REPEAT; r++ )); do
	for cfg in $CONFIGS; do
		st=0; [[ $cfg == *o ]] && st=1
		c=${cfg%o} w=${c%x*} t=${c#*x} name=$cfg-$r
		before=$(load)
		workers "$w" "$t" "$name"
		d0=$(cpu_ticks "$DAEMON")
		id=$(run "$T/zero$st.yaml")
		d1=$(cpu_ticks "$DAEMON")
		wc=0
		for pid in "${WPIDS[@]}"; do wc=$(( wc + $(cpu_ticks "$pid") )); done
		stop_workers
		s=$(sql "SELECT (finished_at - started_at) / 1000.0 FROM stages WHERE pipeline = $id AND name = 'zero'")
		hz=$(getconf CLK_TCK)
		echo "# $cfg run $r: zero $STEPS steps in $s s (load $before -> $(load)); CPU s a step: daemon $(awk -v a=$(( d1 - d0 )) -v h="$hz" -v n="$STEPS" 'BEGIN { printf "%.2f", a / h / n }'), workers $(awk -v a="$wc" -v h="$hz" -v n="$STEPS" 'BEGIN { printf "%.2f", a / h / n }'); $(delta_ratio "$T/$name"-w*.log)"
		analyse "$id" "$cfg"
		echo "#   $cfg jobs that loaded weights (workers' logs): $(weights_time "$T/$name"-w*.log)"
		curve[$cfg]=$(sql "SELECT group_concat(printf('%.3f', value), ' ') FROM (SELECT value FROM
			metrics m JOIN stages s ON s.id = m.stage WHERE s.pipeline = $id AND m.name = 'reward_mean'
			ORDER BY m.step)")
		if [[ -z ${best[$cfg]:-} ]] || awk -v a="$s" -v b="${best[$cfg]}" 'BEGIN { exit !(a < b) }'; then
			best[$cfg]=$s
		fi
	done
done
echo "# load average after the runs: $(load)"

echo "| run | zero: $STEPS steps (s) | steps/s | vs 1x1 |"
echo "|---|---|---|---|"
for cfg in $CONFIGS; do
	awk -v c="$cfg" -v s="${best[$cfg]}" -v b="${best[1x1]:-${best[$cfg]}}" -v n="$STEPS" \
		'BEGIN { printf "| %s | %.1f | %.3f | %.2f |\n", c, s, n / s, b / s }'
done
ratio() { # A B: best[A] / best[B], or - if either did not run
	[[ -n ${best[$1]:-} && -n ${best[$2]:-} ]] || { echo -; return; }
	awk -v a="${best[$1]}" -v b="${best[$2]}" 'BEGIN { printf "%.2f", a / b }'
}
two=$(ratio 1x1 2x1)
overlap=$(ratio 2x1 2x1o)
echo "# 2x1 against 1x2: $(ratio 1x2 2x1) (above 1: two workers are faster)"
echo "# reward_mean per step, max_staleness 0 (2x1): ${curve[2x1]:-}"
echo "# reward_mean per step, max_staleness 1 (2x1o): ${curve[2x1o]:-}"

z=-
if [[ $CLUSTER != 0 ]]; then
	STEPS=${CLUSTER_STEPS:-2} BLOB_MB=${CLUSTER_BLOB_MB:-16} BUILD=$B bench/cluster.sh 64 \
		>"$T/cluster.out" 2>&1 || { cat "$T/cluster.out" >&2; exit 1; }
	sed 's/^/# cluster: /' "$T/cluster.out" | grep -v '^# cluster: cluster ' || true
	z=$(sed -n 's/.*daemon_bytes_per_step_64=\([0-9.]*\).*/\1/p' "$T/cluster.out" | tail -n 1)
	z=${z:--}
fi
echo "scale two_workers=$two overlap=$overlap daemon_bytes_per_step_64=$z"
