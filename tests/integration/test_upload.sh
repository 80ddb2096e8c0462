#!/usr/bin/env bash
# Result blobs travel in PUT pieces (docs/protocol.md, "Uploads"), never as one frame.
# A pretrain stage on a model whose gradient is a few MB runs
#   (a) with the defaults (1 MiB pieces, 256 MiB frame limit);
#   (b) with the daemon refusing frames over 256 KiB (--max-frame-size) and 64 KiB
#       pieces: every grad result goes up in exactly ceil(gradient / 64 KiB) pieces,
#       and every checkpoint equals (a)'s;
#   (c) the same limit with 512 KiB pieces: libzmq drops the connection on the first
#       piece, so the stage fails — the limit (b) passed under is real;
#   and `r1flow export --page-size 65536` writes (a)'s weights byte for byte;
#   (d) 64 KiB pieces, the first worker killing itself (SIGKILL, test hook
#       R1FLOW_TEST_UPLOAD_DIE_AFTER) after 20 pieces of its first gradient: once the
#       daemon has lost it, DATA/blobs/tmp holds no result file (the partial one is
#       gone) and an upload was dropped; a second worker then finishes, retrying the
#       job, with (a)'s checkpoints;
#   (e) a rogue worker's bad pieces (tests/integration/rogue.c "uploader"): a piece not
#       matching its check, one for a lease it does not hold, one out of order, a blob
#       not matching its sha256 — each answered with an ACK naming the fault — and a
#       RESULT naming a blob never uploaded is refused; no result file is left.
. "$(dirname "$0")/train_lib.sh"

cat >"$T/up.yaml" <<'EOF'
version: 1
name: up
seed: 5
model:
  config: {dim: 256, layers: 2, heads: 4, ffn: 512, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 200}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 4, batch: 8, shard: 4, save_every: 2, lr: 3e-3,
     keep_checkpoints: 100}
EOF

lost_one() { (( $(counter workers_lost) >= 1 )); }
results_left() { ls -A "$DATA/blobs/tmp" | grep '^result-' || true; }
grad_done() { sql "SELECT count(*) FROM jobs WHERE kind = 'grad' AND state = 'done'"; }

# run NAME [daemon options] -- [worker options]: the pipeline on $T/NAME; RC its watch
run() {
	local name=$1; shift
	local dopts=() wopts=()
	while [[ $# -gt 0 && $1 != -- ]]; do dopts+=("$1"); shift; done
	[[ ${1:-} == -- ]] && shift
	wopts=("$@")
	DATA=$T/$name
	rm -rf "$T/cache"
	start_daemon "${dopts[@]}"
	start_worker "$name-w1" "${wopts[@]}"; W1=$LAST_PID
	wait_for 10 has_workers 1
	ID=$(r1 submit "$T/up.yaml") || fail "$name: submit refused"
}

finish() {   # NAME: wait for the pipeline, keep its checkpoints in $T/NAME.ck
	local name=$1 rc=0
	timeout 120 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/$name-watch.log" 2>&1 || rc=$?
	[[ $rc == 0 ]] || fail "$name: watch exited $rc: $(tail -n 5 "$T/$name-watch.log")"
	checkpoints >"$T/$name.ck"
	(( $(wc -l <"$T/$name.ck") == 3 )) || fail "$name: expected 3 checkpoints: $(cat "$T/$name.ck")"
}

stop_all() {   # NAME WORKER...
	local name=$1 pid; shift
	for pid in "$@"; do
		stop "$pid"; [[ $STOPPED_RC == 0 ]] || fail "$name: worker $pid exited $STOPPED_RC after SIGTERM"
	done
	stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "r1flowd exited $STOPPED_RC after SIGTERM"
	mv "$T/daemon.log" "$T/$name-daemon.log"
}

# (a) defaults
run a
finish a
# a gradient is the weights' fp32 tensor bytes: model.safetensors less its header
GRAD=$(/usr/bin/python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; f.seek(0,2); print(f.tell()-8-n)' \
	"$DATA/blobs/$(final_sha base)")
(( GRAD > 4 * 262144 )) || fail "a: the gradient is only $GRAD bytes, not over 1 MiB"
JOBS=$(grad_done)
log "a: $JOBS grad results of $GRAD bytes, $(counter upload_pieces) pieces of 1 MiB at most"
(( $(counter upload_pieces) == JOBS * ((GRAD + 1048575) / 1048576) )) ||
	fail "a: $(counter upload_pieces) pieces for $JOBS results of $GRAD bytes"
(( $(counter blob_bytes_received) == JOBS * GRAD )) ||
	fail "a: blob_bytes_received is $(counter blob_bytes_received), expected $JOBS x $GRAD"

# export reads the weights in pages (blob_read): 64 KiB pages, the last one short
WSHA=$(final_sha base)
r1 export "$ID" base "$T/exp" --page-size 65536 --json >"$T/exp.json" || fail "export failed"
cmp "$T/exp/model.safetensors" "$DATA/blobs/$WSHA" || fail "exported weights differ from blob $WSHA"
[[ $(jq_ "d['bytes']" <"$T/exp.json") == "$(stat -c %s "$DATA/blobs/$WSHA")" ]] ||
	fail "export --json bytes: $(cat "$T/exp.json")"
ls -A "$T/exp" | grep -v -x -e config.json -e model.safetensors -e tokenizer.json \
	-e tokenizer_config.json -e generation_config.json && fail "export left other files in DIR"
log "a: exported $(stat -c %s "$T/exp/model.safetensors") bytes of weights in 64 KiB pages, byte for byte"
stop_all a "$W1"

# (b) frames of 256 KiB at most, pieces of 64 KiB
run b --max-frame-size 262144 -- --chunk-size 65536
finish b
diff "$T/a.ck" "$T/b.ck" >"$T/b.diff" || fail "b: checkpoints differ from (a): $(cat "$T/b.diff")"
want=$(( $(grad_done) * ((GRAD + 65535) / 65536) ))
(( $(counter upload_pieces) == want )) ||
	fail "b: $(counter upload_pieces) pieces, expected $want ($(grad_done) results of $GRAD bytes)"
[[ $(counter uploads_dropped) == 0 ]] || fail "b: $(counter uploads_dropped) uploads dropped"
log "b: $want pieces of 64 KiB under a 256 KiB frame limit; checkpoints equal (a)'s"
stop_all b "$W1"

# (c) pieces over the frame limit: the stage cannot finish
run c --max-frame-size 262144 --max-attempts 1 -- --chunk-size 524288
rc=0
timeout 60 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/c-watch.log" 2>&1 || rc=$?
[[ $rc != 0 ]] || fail "c: the pipeline succeeded with pieces over the frame limit"
[[ $(counter upload_pieces) == 0 ]] || fail "c: $(counter upload_pieces) pieces got through"
log "c: 512 KiB pieces over a 256 KiB limit: pipeline failed (watch exit $rc), no piece arrived"
stop_all c "$W1"

# (d) a worker dies mid-upload
R1FLOW_TEST_UPLOAD_DIE_AFTER=20 run d --max-frame-size 262144 -- --chunk-size 65536
wait "$W1" 2>/dev/null && rc=0 || rc=$?
[[ $rc == 137 ]] || fail "d: the worker exited $rc, not by SIGKILL after 20 pieces: $(tail -n 3 "$T/d-w1.log")"
wait_for 10 lost_one
left=$(results_left)
[[ -z $left ]] || fail "d: the lost worker's partial upload is still there: $left"
(( $(counter uploads_dropped) >= 1 )) || fail "d: no upload was dropped"
(( $(counter upload_pieces) >= 1 && $(counter upload_pieces) <= 20 )) ||
	fail "d: $(counter upload_pieces) pieces arrived before the kill, expected 1..20"
start_worker d-w2 --chunk-size 65536; W2=$LAST_PID
finish d
diff "$T/a.ck" "$T/d.ck" >"$T/d.diff" || fail "d: checkpoints differ from (a): $(cat "$T/d.diff")"
retried=$(sql "SELECT count(*) FROM jobs WHERE kind = 'grad' AND attempt >= 2")
(( retried >= 1 )) || fail "d: no grad job was leased twice"
left=$(results_left)
[[ -z $left ]] || fail "d: files left in blobs/tmp: $left"
log "d: worker killed after 20 pieces; partial file removed, $retried job(s) retried, checkpoints equal (a)'s"
stop_all d "$W2"

# (e) bad pieces from a rogue worker
DATA=$T/e
start_daemon
"$R1FLOW_ROGUE" "$DATA" uploader rogue-up >"$T/e-rogue.log" 2>&1 &
ROGUE=$!; PIDS+=("$ROGUE")
wait_for 10 has_workers 1
ctl '{"op":"enqueue_probe","n":1}' >/dev/null
wait "$ROGUE" || fail "e: the rogue uploader exited $?: $(cat "$T/e-rogue.log")"
want_ack() {   # N TEXT: the Nth ACK mentions TEXT
	sed -n "$(( $1 + 1 ))p" "$T/e-rogue.log" | grep -qF -- "$2" ||
		fail "e: ACK $1 does not say '$2': $(cat "$T/e-rogue.log")"
}
want_ack 1 "piece at offset 0 is damaged"
want_ack 2 "the lease is not current"
want_ack 3 '"offset":4}'
want_ack 4 "piece at offset 6, expected 4"
want_ack 5 '"offset":4}'
want_ack 6 "uploaded blob is damaged"
refused_one() { [[ $(counter results_refused) == 1 ]]; }
wait_for 10 refused_one
[[ $(counter uploads_dropped) == 3 ]] || fail "e: $(counter uploads_dropped) uploads dropped, expected 3"
[[ -z $(results_left) ]] || fail "e: result files left: $(results_left)"
log "e: 4 bad pieces refused with their reasons, the RESULT naming a missing upload refused, nothing left"
stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "e: r1flowd exited $STOPPED_RC after SIGTERM"
log "ok"
