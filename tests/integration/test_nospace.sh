#!/usr/bin/env bash
# A full disk waits instead of failing, and nothing is lost. A small pretrain runs
# three times: undisturbed (the reference), then with the worker's cache full, then
# with the daemon's data directory full, each time from step 3 on. While full,
# `r1flow status` must say "No space left on device" (the pipeline paused with that
# error, or the daemon answering every request with it while its database cannot
# commit), no job may fail and the pipeline must not fail; once space is freed the
# pipeline carries on (by itself, or on `r1flow resume` when paused) and its final
# checkpoint has the reference's sha256. Before the fix the three attempts of a job
# went in milliseconds and the pipeline failed (or the daemon exited).
#
# Full disks: a 48 MiB tmpfs filled with a file (needs root to mount), else a file-size
# limit set on the running process (prlimit --fsize: write fails with EFBIG, which
# counts as full); SKIP (77) when neither is possible.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
state_of() { sql "SELECT state FROM pipelines WHERE id = $ID"; }
is_state() { [[ $(state_of) == "$1" ]]; }
base_step() { sql "SELECT step FROM stages WHERE pipeline = $ID AND name = 'base'"; }
past_step() { (( $(base_step) >= $1 )); }
final_sha() {
	sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE s.pipeline = $ID AND s.name = 'base' ORDER BY c.step DESC LIMIT 1"
}

MODE=${R1FLOW_NOSPACE_MODE:-}   # tmpfs or fsize: force one (to test the fallback)
mkdir -p "$T/probe"
if [[ -n $MODE ]]; then
	:
elif mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null; then
	umount "$T/probe"
	MODE=tmpfs
elif command -v prlimit >/dev/null && prlimit --pid $$ --fsize=unlimited 2>/dev/null; then
	MODE=fsize
else
	echo "SKIP: cannot fill a disk here: no tmpfs mount (not root) and no prlimit"
	exit 77
fi
MOUNTS=()
unmount_all() {
	[[ -n ${R1FLOW_KEEP_TMP:-} ]] && return 0
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap 'rc=$?; set +e; unmount_all; (exit $rc); cleanup' EXIT
log "full disks by $MODE"

cat >"$T/p.yaml" <<'YAML'
version: 1
name: nospace
seed: 5
model:
  config: {dim: 32, layers: 2, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 400}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 24, batch: 16, shard: 4, save_every: 8, lr: 3e-3}
YAML

# fill DIR (on its own tmpfs) or the process PID (fsize); free undoes it
fill() {
	if [[ $MODE == tmpfs ]]; then
		dd if=/dev/zero of="$1/filler" bs=1M 2>/dev/null || true
	else
		prlimit --pid "$2" --fsize=1:unlimited
	fi
}
free_up() {
	if [[ $MODE == tmpfs ]]; then rm -f "$1/filler"; else prlimit --pid "$2" --fsize=unlimited; fi
}
# where a run keeps DIR: its own tmpfs in tmpfs mode
place() {
	mkdir -p "$1"
	if [[ $MODE == tmpfs ]]; then
		mount -t tmpfs -o size=48m tmpfs "$1" || fail "cannot mount a tmpfs on $1"
		MOUNTS+=("$1")
	fi
}
# the status says so: the pipeline's error, or the daemon's answer
says_full() {
	local out
	out=$(r1 status "$ID" 2>&1) || true
	[[ $out == *"No space left on device"* ]]
}
# run to the end: resume when paused (space is free by now)
finished() {
	case $(state_of) in
	succeeded) return 0 ;;
	paused) r1 resume "$ID" >/dev/null 2>&1 || true; return 1 ;;
	failed) fail "pipeline $ID failed: $(sql "SELECT error FROM pipelines WHERE id = $ID")" ;;
	*) return 1 ;;
	esac
}
no_failed_jobs() {
	local n
	n=$(sql "SELECT count(*) FROM jobs WHERE state = 'failed'")
	[[ $n == 0 ]] || fail "$n job(s) failed: $(sql "SELECT error FROM jobs WHERE state = 'failed' LIMIT 3")"
}

# --- the reference
DATA=$T/ref
start_daemon
start_worker ref-w --cache "$T/ref-cache"
ID=$(r1 submit "$T/p.yaml") || fail "submit refused"
wait_for 90 is_state succeeded
REF=$(final_sha)
stop "$LAST_PID"; stop "$DAEMON"
log "reference: final sha256 $REF"

# --- the worker's cache fills up
place "$T/wfs"
DATA=$T/wdata
start_daemon
start_worker w --cache "$T/wfs/cache"; W=$LAST_PID
ID=$(r1 submit "$T/p.yaml") || fail "submit refused"
wait_for 60 past_step 3
fill "$T/wfs" "$W"
wait_for 60 says_full
r1 status "$ID" >"$T/status.txt" 2>&1 || true
grep -q "No space left on device: '$T/wfs/cache' on worker " "$T/status.txt" ||
	fail "status does not name the worker's cache: $(cat "$T/status.txt")"
is_state paused || fail "pipeline is $(state_of), expected paused"
no_failed_jobs
log "worker full: $(grep -m1 'No space' "$T/status.txt")"
free_up "$T/wfs" "$W"
wait_for 90 finished
no_failed_jobs
[[ $(final_sha) == "$REF" ]] || fail "worker full: final sha256 $(final_sha), reference $REF"
stop "$W"; stop "$DAEMON"
log "worker full: resumed, same final sha256"

# --- the daemon's data directory fills up
place "$T/dfs"
DATA=$T/dfs/data
start_daemon
start_worker w2 --cache "$T/cache2"; W=$LAST_PID
ID=$(r1 submit "$T/p.yaml") || fail "submit refused"
wait_for 60 past_step 3
fill "$T/dfs" "$DAEMON"
wait_for 60 says_full
r1 status "$ID" >"$T/status.txt" 2>&1 || true
grep -q "No space left on device: $DATA\|No space left on device: '$DATA'" "$T/status.txt" ||
	fail "status does not name the data directory: $(cat "$T/status.txt")"
kill -0 "$DAEMON" || fail "the daemon exited on a full disk"
log "daemon full: $(grep -m1 'No space' "$T/status.txt")"
free_up "$T/dfs" "$DAEMON"
wait_for 90 finished
no_failed_jobs
[[ $(final_sha) == "$REF" ]] || fail "daemon full: final sha256 $(final_sha), reference $REF"
[[ $(sql "PRAGMA quick_check") == ok ]] || fail "quick_check: $(sql "PRAGMA quick_check")"
log "daemon full: carried on, same final sha256, database ok"
