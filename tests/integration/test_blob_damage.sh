#!/usr/bin/env bash
# Stored files are checked when they are read for use, not only when written. A tiny
# pretrain → GRPO pipeline (checkpoints with moments every GRPO step) runs
# undisturbed for reference; then twice more, each time stopped mid-GRPO (daemon and
# worker down), one kind of stored file damaged while they are down, and restarted on
# the same data directory and worker cache:
#   daemon  one byte of the latest GRPO checkpoint's optimizer-moments blob in the
#           daemon's blobs/: the restarted daemon names the file, resumes from the
#           checkpoint before and recomputes, so the file is written again (it hashes
#           to its name at the end) and the final weights are the reference's.
#   worker  one byte of every blob in the worker's cache: the restarted worker names
#           each damaged file it was about to use, drops and fetches it again; the
#           final weights are the reference's and every cached file hashes to its name.
# Before the check, both runs "succeeded" with other final weights and no error.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/g.yaml" <<'EOF'
version: 1
name: dmg
seed: 7
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 300}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 100, seed: 3}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 12, buffer: 12}   # rewards that differ within a group
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 6, batch: 16}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 4, steps: 12, max_new_tokens: 12, shard: 8, beta: 0.02, save_every: 1,
     keep_checkpoints: 100}
EOF
# (keep_checkpoints: 100 — the damaged checkpoint must stay to be seen written again)

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
# the stage's step, straight from the database: polling must be quick, GRPO steps are
step_of() { sql "SELECT step FROM stages WHERE pipeline = $ID AND name = '$1'"; }
final_sha() {
	sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE s.name = '$1' ORDER BY c.step DESC LIMIT 1"
}
watch_ok() {
	local rc=0
	timeout 90 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >>"$T/$1-watch.log" 2>&1 || rc=$?
	[[ $rc == 0 ]] || fail "$1: watch exited $rc: $(tail -n 5 "$T/$1-watch.log"); $(r1 status "$ID")"
}
# flip FILE: one byte in the middle of FILE, XOR 0x5a
flip() {
	/usr/bin/python3 - "$1" <<'PY'
import os, sys
p = sys.argv[1]; n = os.path.getsize(p)
with open(p, 'r+b') as f:
    f.seek(n // 2); b = f.read(1); f.seek(n // 2); f.write(bytes([b[0] ^ 0x5a]))
PY
}
# start NAME: daemon and one worker on $T/NAME, the pipeline submitted; stopped (worker
# first, then the daemon) once zero is at a step in 2..11
start_and_stop_mid_grpo() {
	DATA=$T/$1
	start_daemon
	start_worker "$1-w1" --threads 1; W=$LAST_PID
	wait_for 10 has_workers 1
	ID=$(r1 submit "$T/g.yaml") || fail "$1: submit refused"
	local deadline=$(( $(now_ms) + 60000 )) s
	while :; do
		(( $(now_ms) < deadline )) || fail "$1: zero never reached step 2"
		s=$(step_of zero)
		(( s < 12 )) || fail "$1: zero finished (step $s) before it could be stopped"
		(( s >= 2 )) && break
		sleep 0.03
	done
	kill -STOP "$W"   # no more results while the daemon goes down
	stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "$1: r1flowd exited $STOPPED_RC after SIGTERM"
	kill -KILL "$W" 2>/dev/null || true
	STOPPED_AT=$(sql "SELECT step FROM stages WHERE name = 'zero'")
	(( STOPPED_AT < 12 )) || fail "$1: zero finished before the daemon stopped"
	log "$1: stopped with zero at step $STOPPED_AT"
}
restart() {
	FROM_LINE=$(( $(wc -l <"$T/daemon.log") + 1 ))
	start_daemon
	start_worker "$1-w2" --threads 1; W=$LAST_PID
	watch_ok "$1"
	[[ $(count failed) == 0 ]] || fail "$1: jobs failed: $(sql "SELECT id, kind, error FROM jobs WHERE state = 'failed'")"
	stop "$W"; stop "$DAEMON"
}

# --- the reference: undisturbed
DATA=$T/ref
start_daemon
start_worker ref-w1 --threads 1; W=$LAST_PID
wait_for 10 has_workers 1
ID=$(r1 submit "$T/g.yaml") || fail "ref: submit refused"
watch_ok ref
REF=$(final_sha zero)
[[ -n $REF ]] || fail "ref: zero left no checkpoint"
log "reference: zero's final weights $REF"
stop "$W"; stop "$DAEMON"
rm -rf "$T/cache"

# --- the daemon's copy of the latest moments is damaged while it is down
start_and_stop_mid_grpo daemon
read -r ostep opt < <(sql "SELECT c.step, c.optimizer FROM checkpoints c JOIN stages s ON s.id = c.stage
	WHERE s.name = 'zero' AND c.optimizer IS NOT NULL ORDER BY c.step DESC LIMIT 1" | tr '|' ' ')
(( ostep >= 2 )) || fail "daemon: expected a GRPO checkpoint with moments at step >= 2, got '$ostep'"
file=$DATA/blobs/$opt
flip "$file"
[[ $(sha256sum <"$file" | cut -d' ' -f1) != "$opt" ]] || fail "daemon: the flip did not change $file"
log "daemon: flipped a byte of the moments of step $ostep ($file)"
restart daemon
GOT=$(final_sha zero)
log "daemon: zero's final weights $GOT"
[[ $GOT == "$REF" ]] || fail "daemon: final weights $GOT differ from the reference $REF"
tail -n "+$FROM_LINE" "$T/daemon.log" >"$T/daemon-restarted.out"
grep -q "blob file '$file' is damaged" "$T/daemon-restarted.out" ||
	fail "daemon: the restarted daemon did not name the damaged file: $(grep -i 'blob\|resum' "$T/daemon-restarted.out" | head)"
grep -q "cannot resume from the checkpoint of step $ostep" "$T/daemon-restarted.out" ||
	fail "daemon: no resume from an earlier checkpoint: $(grep -i 'resum' "$T/daemon-restarted.out")"
[[ $(sha256sum <"$file" | cut -d' ' -f1) == "$opt" ]] ||
	fail "daemon: '$file' was not written again with the right bytes"
for f in "$DATA"/blobs/*; do
	[[ -f $f ]] || continue
	[[ $(sha256sum <"$f" | cut -d' ' -f1) == "${f##*/}" ]] || fail "daemon: '$f' does not hash to its name"
done
rm -rf "$T/cache"

# --- every blob in the worker's cache is damaged while it is down
start_and_stop_mid_grpo worker
n=0
for f in "$T"/cache/*; do
	[[ -f $f ]] || continue
	flip "$f"; n=$(( n + 1 ))
done
(( n >= 2 )) || fail "worker: expected cached blobs (current and reference weights), found $n"
log "worker: flipped a byte of each of $n cached blobs"
restart worker
GOT=$(final_sha zero)
log "worker: zero's final weights $GOT"
[[ $GOT == "$REF" ]] || fail "worker: final weights $GOT differ from the reference $REF"
grep -q "cached blob file '$T/cache/[0-9a-f]*' is damaged.*fetching it again" "$T/worker-w2.log" ||
	fail "worker: the restarted worker did not name a damaged cached file: $(grep -i 'blob' "$T/worker-w2.log" | head)"
log "worker: $(grep -c "cached blob file .* is damaged" "$T/worker-w2.log") damaged cached file(s) named and fetched again"
for f in "$T"/cache/*; do
	[[ -f $f ]] || continue
	[[ $(sha256sum <"$f" | cut -d' ' -f1) == "${f##*/}" ]] || fail "worker: cached '$f' does not hash to its name"
done
log "ok"
