#!/usr/bin/env bash
# bench/cluster.sh — a simulated cluster: N r1flow-worker processes (64 and 256 by
# default) on tcp loopback with CURVE, one key each, against one r1flowd, on this
# machine's 2 cores. The workers run probe jobs that stand in for a training step's
# work: each fetches the step's weights blob, sleeps the modelled compute time and
# answers with a result blob of a gradient's size (uploaded in PUT pieces). What is
# measured is the coordinator's side, which is what does not parallelise:
#
#   steps     STEPS rounds of one job per worker, each after a fresh weights blob of
#             BLOB_MB is stored (as after a learner step): the step's wall time, the
#             blob bytes the daemon sent (counter blob_bytes_sent) ÷ the blob's size,
#             and the result bytes it received
#   schedule  per job, enqueue → lease (jobs.created_at → leased_at, 1 ms resolution):
#             how long the fan-out of a step's jobs takes, p50/p99
#   dispatch  JOBS_PER_WORKER × N jobs with no work and no blobs: committed jobs/s and
#             the daemon's CPU time per job (utime + stime from /proc)
#
# Each N runs twice: workers that fetch every blob from the daemon (the baseline,
# mode "daemon"), then workers with --peer-listen on tcp loopback (CURVE, a fresh
# key each) that fetch from each other on the relay tree the daemon plans (mode
# "peers", docs/protocol.md "Peer fetch"); the ratio of the daemon's blob bytes
# per step to the blob's size is the figure: N without peers, about 1 with them.
#
#   bench/cluster.sh [N...]            worker counts (default: 64 256)
#   BUILD=dir STEPS=3 BLOB_MB=16 RESULT_KB=1024 COMPUTE_MS=500 JOBS_PER_WORKER=40
#   MODES="daemon peers"  KEEP=1 (keep the logs in the temporary directory)  WORKER_NICE=10
#   LIVENESS=10 (3 is the daemon's default: at 256 workers on 2 cores, starved workers miss it)
# Disk: each worker has its own cache (as on separate machines): N × STEPS × BLOB_MB.
# Last line: cluster N=... daemon_bytes_per_step_ratio=... peers_ratio=... (one group
# per N), and daemon_bytes_per_step_64 (with peers) when N is 64.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
STEPS=${STEPS:-3}
BLOB_MB=${BLOB_MB:-16}
RESULT_KB=${RESULT_KB:-1024}
COMPUTE_MS=${COMPUTE_MS:-500}
JOBS_PER_WORKER=${JOBS_PER_WORKER:-40}
read -r -a MODES <<<"${MODES:-daemon peers}"
# The daemon stands for a machine of its own: on these 2 shared cores N workers
# hashing and relaying blobs would starve it (its heartbeats late, workers giving up
# on it, jobs retried), which is not what is measured here. So workers run at a lower
# priority (and, as root, the daemon at a higher one: nice weights are per process,
# and 256 workers at nice 19 still outweigh one daemon at nice 10), and a job may be
# retried more often than by default. LIVENESS (heartbeat intervals, both sides)
# stretches the window in which a starved process still counts as alive.
WORKER_NICE=${WORKER_NICE:-10}
LIVENESS=${LIVENESS:-10}
COUNTS=("$@")
(( ${#COUNTS[@]} )) || COUNTS=(64 256)

command -v sqlite3 >/dev/null || { echo "cluster.sh: sqlite3 is not installed" >&2; exit 1; }
ninja -C "$B" daemon/r1flowd workers/r1flow-worker cli/r1flow tests/ctl >/dev/null

T=$(mktemp -d /tmp/r1clu.XXXXXX)
PIDS=()
stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	PIDS=()
}
cleanup() {
	local rc=$?
	trap - EXIT
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ $rc -ne 0 && -n ${DLOG:-} && -f $DLOG ]]; then echo "---- ${DLOG##*/}"; tail -n 20 "$DLOG"; fi
	if [[ -n ${KEEP:-} ]]; then echo "# kept $T"; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT INT TERM

now_ms() { date +%s%3N; }
die() { echo "cluster.sh: $*" >&2; exit 1; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
wait_for() {
	local secs=$1; shift
	local deadline=$(( $(now_ms) + secs * 1000 ))
	until "$@" >/dev/null 2>&1; do
		(( $(now_ms) < deadline )) || die "timed out waiting for: $*"
		sleep 0.1
	done
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
pct() { # PERCENT: nearest rank over the file of numbers on stdin
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100); if (i < 1) i = 1; print v[i] }'
}

echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus; blob ${BLOB_MB} MB, result ${RESULT_KB} KiB, compute ${COMPUTE_MS} ms, $STEPS steps, liveness $LIVENESS"
printf '# %6s %6s %10s %12s %12s %10s %10s %14s %12s %10s\n' workers mode step_ms daemon_MB/step ratio_blob sched_p50 sched_p99 dispatch_jobs/s cpu_us/job redirects
summary=""
for N in "${COUNTS[@]}"; do
for MODE in "${MODES[@]}"; do
	PEER_ARGS=()
	[[ $MODE == peers ]] && PEER_ARGS=(--peer-listen 'tcp://127.0.0.1:0')
	DATA=$T/data$N-$MODE
	DLOG=$T/daemon-$N-$MODE.log   # one per daemon: the waits below grep it
	mkdir -p "$DATA"
	ctl() { "$B/tests/ctl" --timeout 60000 "$DATA" "$1"; }
	sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DATA/r1flow.db" "$1"; }
	counter() { ctl '{"op":"counters"}' | field "$1"; }
	done_jobs() { sql "SELECT count(*) FROM jobs WHERE state = 'done'"; }

	"$B/daemon/r1flowd" --data "$DATA" --listen 'tcp://127.0.0.1:*' --stats-ms 0 --max-attempts 20 \
		--liveness "$LIVENESS" >>"$DLOG" 2>&1 & DAEMON=$!; PIDS+=("$DAEMON")
	[[ $(id -u) != 0 ]] || renice -n -10 -p "$DAEMON" >/dev/null
	wait_for 10 ctl '{"op":"ops"}'
	EP=$(sed -n "s/.*listening for worker clients on '\(tcp:[^']*\)' (CURVE).*/\1/p" "$DLOG" | tail -n 1)
	[[ $EP == tcp://127.0.0.1:* ]] || die "no CURVE tcp endpoint in the daemon's log"
	# one key per worker, as for N machines
	mkdir -m 700 -p "$T/keys$N$MODE"
	for i in $(seq 1 "$N"); do
		"$B/cli/r1flow" keygen --out "$T/keys$N$MODE/w$i" >/dev/null 2>&1 || die "keygen w$i"
		echo "worker w$i $(cat "$T/keys$N$MODE/w$i.pub")"
	done >>"$DATA/keys/allowlist"
	kill -HUP "$DAEMON"
	wait_for 10 grep -q "$N worker and 0 control key(s)" "$DLOG"
	for i in $(seq 1 "$N"); do
		nice -n "$WORKER_NICE" "$B/workers/r1flow-worker" --connect "$EP" --server-key "$DATA/keys/server.pub" \
			--key "$T/keys$N$MODE/w$i.key" --name "w$i" --slots 1 --threads 1 --liveness "$LIVENESS" \
			--cache "$T/cache$N/w$i" --log-level warn "${PEER_ARGS[@]}" >>"$T/workers$N.log" 2>&1 & PIDS+=("$!")
	done
	wait_for 120 bash -c "[[ \$('$B/tests/ctl' '$DATA' '{\"op\":\"status\"}' | sed -n 's/.*\"workers\":\([0-9]*\),.*/\1/p') == $N ]]"

	# steps: a fresh weights blob, then one job per worker that fetches it
	step_ms=0 sent=0 step_cpu=0
	for s in $(seq 1 "$STEPS"); do
		head -c $(( BLOB_MB * 1048576 )) /dev/urandom >"$T/blob.bin"
		sha=$("$B/tests/ctl" --blob "$T/blob.bin" "$DATA" '{"op":"blob_put"}' | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
		[[ -n $sha ]] || die "blob_put failed"
		rm -f "$T/blob.bin"
		s0=$(counter blob_bytes_sent) d0=$(done_jobs) t0=$(now_ms) c0=$(cpu_ticks "$DAEMON")
		ctl "{\"op\":\"enqueue_probe\",\"n\":$N,\"blob\":\"$sha\",\"sleep_ms\":$COMPUTE_MS,\"result_bytes\":$(( RESULT_KB * 1024 ))}" >/dev/null
		"$B/tests/ctl" --timeout 600000 --until "done=$(( d0 + N ))" "$DATA" '{"op":"counts"}' >/dev/null
		t1=$(now_ms)
		step_ms=$(( step_ms + t1 - t0 ))
		step_cpu=$(( step_cpu + $(cpu_ticks "$DAEMON") - c0 ))
		sent=$(( sent + $(counter blob_bytes_sent) - s0 ))
		rm -rf "$DATA/blobs/$sha" "$T/cache$N"/w*/"$sha"
	done
	[[ $(sql "SELECT count(*) FROM jobs WHERE state <> 'done'") == 0 ]] ||
		die "$N workers: jobs not done: $(sql "SELECT state, count(*) FROM jobs GROUP BY state")"
	step_ms=$(( step_ms / STEPS ))
	step_cpu=$(( step_cpu * 1000 / $(getconf CLK_TCK) / STEPS ))
	per_step=$(( sent / STEPS ))
	ratio=$(awk -v a="$per_step" -v b=$(( BLOB_MB * 1048576 )) 'BEGIN { printf "%.2f", a / b }')
	sql "SELECT leased_at - created_at FROM jobs" >"$T/sched"
	s50=$(pct 50 <"$T/sched") s99=$(pct 99 <"$T/sched")

	# dispatch: jobs with no work, JOBS_PER_WORKER per worker
	J=$(( N * JOBS_PER_WORKER ))
	d0=$(done_jobs) c0=$(cpu_ticks "$DAEMON") t0=$(now_ms)
	ctl "{\"op\":\"enqueue_probe\",\"n\":$J,\"payload\":\"p\"}" >/dev/null
	"$B/tests/ctl" --timeout 600000 --until "done=$(( d0 + J ))" "$DATA" '{"op":"counts"}' >/dev/null
	t1=$(now_ms) c1=$(cpu_ticks "$DAEMON")
	jps=$(( J * 1000 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
	cpu_us=$(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / J ))

	redirects=$(counter peer_redirects); fallbacks=$(counter peer_failures)
	printf '# %6d %6s %10d %12.1f %12s %8s ms %7s ms %14d %12d %10s\n' "$N" "$MODE" "$step_ms" \
		"$(awk -v a="$per_step" 'BEGIN { print a / 1048576 }')" "$ratio" "$s50" "$s99" "$jps" "$cpu_us" \
		"${redirects:-0}"
	(( ${fallbacks:-0} == 0 )) || echo "#        $fallbacks fetch(es) from peers fell back to the daemon"
	echo "#        daemon CPU $step_cpu ms a step; turns over a heartbeat: $(grep -c 'a turn took' "$DLOG" || true);" \
		"workers lost: $(counter workers_lost)"
	if [[ $MODE == peers ]]; then
		summary+=" N=$N peers_ratio=$ratio"
		(( N == 64 )) && summary+=" daemon_bytes_per_step_64=$ratio"
	else
		summary+=" N=$N daemon_bytes_per_step_ratio=$ratio"
	fi
	stop_all
	[[ -n ${KEEP:-} ]] || rm -rf "$T/cache$N" "$DATA"
done
done
echo "# ratio_blob: blob bytes the daemon sent per step ÷ the blob's size (1 = each byte once; N = every worker fetched it from the daemon)"
echo "# mode daemon: every worker fetches from the daemon; peers: --peer-listen, the relay tree (redirects: FETCHes sent to a peer)"
echo "cluster$summary"
