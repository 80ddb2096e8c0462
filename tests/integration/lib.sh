# lib.sh — sourced by the integration and fault tests (tests/integration/test_*.sh).
#
# Gives a test a private directory (short: ipc paths must fit in 107 bytes), starts
# the real r1flowd and r1flow-worker binaries on ipc:// endpoints inside it, and
# stops every process it started when the script exits, whatever the exit path
# (trap EXIT). On failure the tails of the logs are printed.
#
#   start_daemon [ARGS]          r1flowd --data $DATA ARGS; waits until it answers
#   start_worker NAME [ARGS]     r1flow-worker, log in $T/NAME.log; pid in $LAST_PID
#   ctl 'JSON'                   one control request; prints the reply
#   field NAME                   a numeric field of the JSON on stdin ("done", ...)
#   sql 'SQL'                    sqlite3 on $DATA/r1flow.db (read-only use)
#   wait_for SECONDS CMD...      retry CMD every 0.1 s until it succeeds, else fail
#   stop PID [SIGNAL]            signal a process and reap it; its status in $STOPPED_RC
#   supervise_worker NAME [ARGS] a worker restarted whenever it exits (systemd's
#                                Restart=always); exit statuses in $T/NAME.exits
#   r1rc ARGS...                 $R1FLOW_CLI ARGS: stdout in $T/out, stderr in $T/err,
#                                exit status in $RC
#   expect_rc N WHAT             fail unless $RC is N, with r1rc's stderr
#   jq_ 'EXPR'                   a Python expression over the JSON on stdin (bound to d),
#                                printed
#
# The binaries come from the environment (tests/meson.build sets them): R1FLOWD,
# R1FLOW_WORKER, R1FLOW_CTL. R1FLOW_KEEP_TMP=1 keeps the directory and its logs.

set -euo pipefail
: "${R1FLOWD:?set R1FLOWD to the r1flowd binary}"
: "${R1FLOW_WORKER:?set R1FLOW_WORKER to the r1flow-worker binary}"
: "${R1FLOW_CTL:?set R1FLOW_CTL to the ctl test helper}"
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 is not installed (scripts/deps.sh)"; exit 1; }

T=$(mktemp -d /tmp/r1it.XXXXXX)
DATA=$T/data
PIDS=()          # every process started here
SUPERVISORS=()   # supervise_worker loops (their current worker's pid: $T/NAME.pid)
DAEMON=
LAST_PID=
STOPPED_RC=

cleanup() {
	local rc=$?
	trap - EXIT
	: >"$T/stop-supervisors"
	for pid in "${SUPERVISORS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for f in "$T"/*.pid; do
		[[ -f $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ $rc -ne 0 ]]; then
		for f in "$T"/*.log; do
			[[ -f $f ]] || continue
			echo "---- last lines of ${f##*/}"
			tail -n 25 "$f"
		done
	fi
	if [[ -n ${R1FLOW_KEEP_TMP:-} ]]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
log() { echo "# $*"; }
fail() { echo "FAIL: $*"; exit 1; }
r1rc() { RC=0; "$R1FLOW_CLI" "$@" >"$T/out" 2>"$T/err" || RC=$?; }
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/err")"; }
jq_() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

ctl() { "$R1FLOW_CTL" "$DATA" "$1"; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DATA/r1flow.db" "$1"; }

wait_for() {
	local secs=$1; shift
	local deadline=$(( $(now_ms) + secs * 1000 ))
	until "$@" >/dev/null 2>&1; do
		(( $(now_ms) < deadline )) || fail "timed out after ${secs}s waiting for: $*"
		sleep 0.1
	done
}

start_daemon() {
	"$R1FLOWD" --data "$DATA" "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON=$!
	PIDS+=("$DAEMON")
	wait_for 10 ctl '{"op":"ops"}'
}

start_worker() {
	local name=$1; shift
	"$R1FLOW_WORKER" --data "$DATA" --cache "$T/cache" "$@" >>"$T/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

stop() {
	local pid=$1 sig=${2:-TERM}
	kill "-$sig" "$pid" 2>/dev/null || true
	STOPPED_RC=0
	wait "$pid" 2>/dev/null || STOPPED_RC=$?
}

supervise_worker() {
	local name=$1; shift
	(
		set +e
		trap '[[ -f $T/$name.pid ]] && kill -KILL "$(cat "$T/$name.pid")" 2>/dev/null; exit 0' TERM
		while [[ ! -e $T/stop-supervisors ]]; do
			"$R1FLOW_WORKER" --data "$DATA" --cache "$T/cache" "$@" >>"$T/$name.log" 2>&1 &
			echo $! >"$T/$name.pid"
			wait $!
			echo $? >>"$T/$name.exits"
			sleep 0.2
		done
	) &
	SUPERVISORS+=("$!")
}

# Helpers on the daemon's state.
count() { ctl '{"op":"counts"}' | field "$1"; }
counter() { ctl '{"op":"status"}' | field "$1"; }
live_workers() { ctl '{"op":"status"}' | sed -n 's/.*"workers":\([0-9]*\),.*/\1/p'; }
has_workers() { [[ $(live_workers) == "$1" ]]; }
all_done() { [[ $(count done) == "$1" ]]; }
worker_name() { echo "$(hostname)-$1"; }   # r1flow-worker's default name for a pid

# Every done job has exactly its own committed result, and the commit counter says
# each was committed once: prints nothing, fails with the first discrepancy.
check_results() {
	local n=$1 own committed
	own=$(sql "SELECT count(*) FROM jobs WHERE state = 'done' AND result IS NOT NULL
		AND json_extract(result, '\$.job') = id")
	[[ $own == "$n" ]] || fail "$own of $n jobs carry their own result"
	committed=$(counter results_committed)
	[[ $committed == "$n" ]] || fail "results_committed is $committed, expected $n (once per job)"
}
