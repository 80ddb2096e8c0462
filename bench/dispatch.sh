#!/usr/bin/env bash
# bench/dispatch.sh — issue 4's dispatch benchmark, one invocation.
#
# Probe jobs through r1flowd with persistence (SQLite, WAL, synchronous=FULL) and
# 2 r1flow-workers, next to a raw ZeroMQ DEALER/ROUTER request–reply loop
# (bench_raw_zmq) with the same workers, requests in flight and request count.
#
#   jobs/s   N / wall time from the enqueue_probe request to `done == N` (polled
#            every 5 ms by one ctl process, so it includes the enqueue transaction)
#   latency  per job, lease → commit (jobs.leased_at → jobs.finished_at): the
#            daemon's round trip for one job including the worker and the commit.
#            The columns are integer milliseconds, so p50/p99 have 1 ms resolution
#            (printed in µs).
#   ratio    daemon jobs/s ÷ raw loop req/s
#
# Target (issue 4): ≥ 10,000 committed jobs/s with 2 workers and ratio ≥ 0.25.
#
#   bench/dispatch.sh [N] [SLOTS]     defaults 20000 and $R1FLOW_BENCH_SLOTS or 32
#   BUILD=dir                         the meson build directory (default build)
# Last line: jobs_per_s=N p50_us=N p99_us=N ratio=R
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
SLOTS=${2:-${R1FLOW_BENCH_SLOTS:-32}}
WORKERS=2
B=${BUILD:-build}

command -v sqlite3 >/dev/null || { echo "dispatch.sh: sqlite3 is not installed" >&2; exit 1; }
ninja -C "$B" bench/bench_raw_zmq daemon/r1flowd workers/r1flow-worker tests/ctl >/dev/null

T=$(mktemp -d /tmp/r1bench.XXXXXX)   # short: ipc paths must fit in 107 bytes
DATA=$T/data
PIDS=()
cleanup() {
	local rc=$?
	trap - EXIT
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ $rc -ne 0 ]]; then
		for f in "$T"/*.log; do [[ -f $f ]] && { echo "---- ${f##*/}"; tail -n 20 "$f"; }; done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT INT TERM

now_ms() { date +%s%3N; }
ctl() { "$B/tests/ctl" "$DATA" "$1"; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DATA/r1flow.db" "$1"; }
wait_for() {
	local secs=$1; shift
	local deadline=$(( $(now_ms) + secs * 1000 ))
	until "$@" >/dev/null 2>&1; do
		(( $(now_ms) < deadline )) || { echo "dispatch.sh: timed out waiting for: $*" >&2; exit 1; }
		sleep 0.02
	done
}
live_workers() { ctl '{"op":"status"}' | sed -n 's/.*"workers":\([0-9]*\),.*/\1/p'; }
has_workers() { [[ $(live_workers) == "$1" ]]; }

echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus"

"$B/daemon/r1flowd" --data "$DATA" --stats-ms 0 >>"$T/daemon.log" 2>&1 & PIDS+=("$!")
wait_for 10 ctl '{"op":"ops"}'
for i in $(seq 1 $WORKERS); do
	"$B/workers/r1flow-worker" --data "$DATA" --cache "$T/cache" --name "w$i" --slots "$SLOTS" \
		>>"$T/w$i.log" 2>&1 & PIDS+=("$!")
done
wait_for 10 has_workers $WORKERS

t0=$(now_ms)
reply=$(ctl "{\"op\":\"enqueue_probe\",\"n\":$N,\"payload\":\"p\"}")
[[ $(echo "$reply" | field n) == "$N" ]] || { echo "dispatch.sh: enqueue replied $reply" >&2; exit 1; }
t_enq=$(now_ms)
# one process polling the in-memory counters every 5 ms: a `ctl` process per poll, or
# `counts` (a scan of the jobs table), would cost more CPU than the dispatch itself
"$B/tests/ctl" --timeout 90000 --until "results_committed=$N" "$DATA" '{"op":"counters"}' >/dev/null
t1=$(now_ms)
ms=$(( t1 - t0 > 0 ? t1 - t0 : 1 ))
jps=$(( N * 1000 / ms ))

committed=$(sql "SELECT count(*) FROM jobs WHERE state = 'done' AND json_extract(result, '\$.job') = id")
[[ $committed == "$N" ]] || { echo "dispatch.sh: $committed of $N jobs committed their own result" >&2; exit 1; }
# lease → commit per job, ms → µs; nearest-rank percentiles
pct() {
	sql "SELECT (finished_at - leased_at) * 1000 FROM jobs WHERE state = 'done'
	     ORDER BY finished_at - leased_at LIMIT 1 OFFSET (SELECT (count(*) * $1) / 100 FROM jobs WHERE state = 'done')"
}
p50=$(pct 50)
p99=$(pct 99)
# enqueue → commit too, for the table (includes queueing behind the whole batch)
e50=$(sql "SELECT (finished_at - created_at) * 1000 FROM jobs WHERE state = 'done'
	ORDER BY finished_at - created_at LIMIT 1 OFFSET $(( N / 2 ))")

# CPU seconds used by the daemon and the workers over the run (utime + stime)
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo "?"; }
cpu_daemon=$(cpu_of "${PIDS[0]}")
cpu_workers=$(for pid in "${PIDS[@]:1}"; do cpu_of "$pid"; echo; done | paste -sd' ')
for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()

raw=$("$B/bench/bench_raw_zmq" --workers $WORKERS --slots "$SLOTS" --n "$N")
rps=$(echo "$raw" | sed -n 's/.*raw_req_per_s=\([0-9]*\).*/\1/p')
rp50=$(echo "$raw" | sed -n 's/.*p50_us=\([0-9]*\).*/\1/p')
rp99=$(echo "$raw" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p')
ratio=$(awk -v a="$jps" -v b="$rps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')

printf '# %d requests, %d workers, %d in flight per worker\n' "$N" "$WORKERS" "$SLOTS"
printf '# %-28s %12s %10s %10s\n' "" "per_s" "p50_us" "p99_us"
printf '# %-28s %12s %10s %10s\n' "r1flowd (lease->commit)" "$jps" "$p50" "$p99"
printf '# %-28s %12s %10s %10s\n' "raw DEALER/ROUTER" "$rps" "$rp50" "$rp99"
printf '# r1flowd enqueue->commit p50: %s us (whole batch enqueued at once); latency columns from the db have 1 ms resolution\n' "$e50"
printf '# r1flowd: enqueue of %d took %d ms of the %d ms; cpu s: daemon %s, workers %s\n' \
	"$N" $(( t_enq - t0 )) "$ms" "$cpu_daemon" "$cpu_workers"
printf '# target: >= 10000 jobs/s (%s), ratio >= 0.25 (%s)\n' \
	"$( (( jps >= 10000 )) && echo met || echo MISSED)" \
	"$(awk -v r="$ratio" 'BEGIN { print (r >= 0.25 ? "met" : "MISSED") }')"
echo "jobs_per_s=$jps p50_us=$p50 p99_us=$p99 ratio=$ratio"
