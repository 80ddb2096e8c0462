#!/usr/bin/env bash
# The determinism contract (docs/architecture.md): the final checkpoint's sha256 is a function of (spec, seed) alone. A tiny
# pretrain → sft pipeline runs three times, each on a fresh data directory and a fresh
# worker cache: (a) 1 worker, (b) 2 workers, (c) 2 workers, one of them kill -9ed
# while it holds a grad lease of base (after ≥ 5 steps) and a new one started. Every
# checkpoint (stage, step, weights sha256, optimizer sha256) of (b) and (c) must equal
# (a)'s, the final ones of both stages included. And (d): 1 worker on the same spec
# with checkpoint_activations: true in both stages (grad jobs recompute each layer in
# the backward) gives (a)'s checkpoints too. In (b) the workers rebuild most steps'
# weights from the learner's deltas (daemon/deltas.h), exactly.
. "$(dirname "$0")/train_lib.sh"

leases_of() {   # grad jobs leased to the worker process $1
	sql "SELECT count(*) FROM jobs j JOIN workers w ON w.id = j.worker
		WHERE j.state = 'leased' AND w.pid = $1 AND w.state <> 'gone'"
}

# run NAME WORKERS [kill]: the pipeline on $T/NAME; its checkpoints in $T/NAME.ck
run() {
	local name=$1 nw=$2 mode=${3:-} i t0 t1 pids=()
	DATA=$T/$name
	rm -rf "$T/cache"
	start_daemon
	for (( i = 1; i <= nw; i++ )); do start_worker "$name-w$i"; pids+=("$LAST_PID"); done
	wait_for 10 has_workers "$nw"
	t0=$(now_ms)
	ID=$(r1 submit "$T/${SPEC:-det}.yaml") || fail "$name: submit refused"
	timeout 60 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/$name-watch.log" 2>&1 &
	local watcher=$!; PIDS+=("$watcher")
	if [[ $mode == kill ]]; then
		local victim=${pids[0]} s deadline=$(( $(now_ms) + 30000 ))
		while :; do
			(( $(now_ms) < deadline )) || fail "$name: never saw base at step >= 5 with a lease on the victim"
			s=$(step_of base)
			(( s < 64 )) || fail "$name: base finished (step $s) before the kill"
			(( s >= 5 && $(leases_of "$victim") > 0 )) && break
			sleep 0.05
		done
		kill -KILL "$victim"; wait "$victim" 2>/dev/null || true
		log "$name: worker $victim killed -9 at base step $s (after $(( $(now_ms) - t0 )) ms), a new one started"
		start_worker "$name-w3"; pids[0]=$LAST_PID
	fi
	local rc=0; wait "$watcher" || rc=$?
	t1=$(now_ms)
	[[ $rc == 0 ]] || fail "$name: watch exited $rc: $(tail -n 5 "$T/$name-watch.log"); $(r1 status "$ID")"
	[[ $(count failed) == 0 ]] || fail "$name: jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
	log "$name: $nw worker(s) ${mode:+(one killed) }succeeded in $(( t1 - t0 )) ms; requeued $(counter jobs_requeued), stale $(counter results_stale), workers lost $(counter workers_lost)"
	[[ $mode != kill || $(counter workers_lost) -ge 1 ]] || fail "$name: the daemon never lost the killed worker"
	checkpoints >"$T/$name.ck"
	CKPT_JOBS=$(sql "SELECT count(*) FROM jobs WHERE kind = 'grad' AND
		json_extract(params, '$.checkpoint_activations') = 1")
	BASE=$(final_sha base); SFT=$(final_sha sft)
	[[ -n $BASE && -n $SFT ]] || fail "$name: no final checkpoint: $(cat "$T/$name.ck")"
	log "$name: base $BASE"
	log "$name: sft  $SFT"
	for pid in "${pids[@]}"; do
		stop "$pid"; [[ $STOPPED_RC == 0 ]] || fail "$name: worker $pid exited $STOPPED_RC after SIGTERM"
	done
	stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "$name: r1flowd exited $STOPPED_RC after SIGTERM"
	[[ $(sql "PRAGMA quick_check") == ok ]] || fail "$name: quick_check: $(sql "PRAGMA quick_check")"
	mv "$T/daemon.log" "$T/$name-daemon.log"
}

same_as_a() {
	[[ $BASE == "$A_BASE" && $SFT == "$A_SFT" ]] ||
		fail "$1: final checkpoints differ from the 1-worker run: base $BASE vs $A_BASE, sft $SFT vs $A_SFT"
	diff "$T/one.ck" "$T/$1.ck" >"$T/$1.diff" ||
		fail "$1: checkpoints differ from the 1-worker run: $(cat "$T/$1.diff")"
}

run one 1
(( CKPT_JOBS == 0 )) || fail "one: $CKPT_JOBS grad jobs were sent checkpoint_activations"
A_BASE=$BASE; A_SFT=$SFT
(( $(wc -l <"$T/one.ck") == 12 )) || fail "expected 12 checkpoints (base 0 8 .. 64, sft 0 4 8): $(cat "$T/one.ck")"
run two 2
same_as_a two
# the workers rebuilt most steps' weights from deltas (daemon/deltas.h), and the result
# is still every checkpoint of (a)
nd=$(cat "$T"/two-w*.log | grep -c "weights delta [0-9a-f]* to blob [0-9a-f]* fetched and verified" || true)
(( nd >= 10 )) || fail "two: expected the workers to fetch weights deltas, found $nd: $(grep -h 'fetch' "$T"/two-w*.log | head -5)"
! grep -h "delta .* not used\|cannot rebuild" "$T"/two-w*.log ||
	fail "two: a weights delta was not used (above)"
log "two: $nd steps' weights came as deltas"
run kill 2 kill
same_as_a kill
sed 's/keep_checkpoints: 100}/keep_checkpoints: 100, checkpoint_activations: true}/' "$T/det.yaml" >"$T/det-ckpt.yaml"
(( $(grep -c 'checkpoint_activations: true' "$T/det-ckpt.yaml") == 2 )) || fail "det-ckpt.yaml: $(cat "$T/det-ckpt.yaml")"
SPEC=det-ckpt run ckpt 1
(( CKPT_JOBS > 0 )) || fail "ckpt: no grad job was sent checkpoint_activations"
same_as_a ckpt
log "every checkpoint (weights and moments) identical across 1 worker, 2 workers, a worker killed mid-stage and activation checkpointing"
log "ok"
