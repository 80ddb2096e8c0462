#!/usr/bin/env bash
# Peer fetch (docs/protocol.md "Peer fetch"): workers with --peer-listen on tcp
# loopback (CURVE) serve blobs to each other on the relay tree the daemon plans.
#
#   (a) reference: a tiny pipeline with 1 worker on ipc, no peers: pretraining, a
#       grpo stage with max_staleness 1 and one with LoRA adapters from it.
#   (b) relay killed mid-transfer: worker A fetches a 512 KiB blob from the daemon;
#       B, sent to A for the same blob, has received part of it from A (its fill
#       file is not empty; A serves one 4 KiB chunk per 20 ms) when A is killed -9.
#       B's job still succeeds: B says which peer failed, the daemon counts it
#       (peer_failures) and serves the rest itself.
#   (c) an unknown CURVE key is refused by a peer: a client with a fresh key gets
#       a failed handshake (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) from B, which logs it.
#   (d) bytes per blob: 3 workers fetch a fresh blob; the daemon sends it at most
#       twice (blob_bytes_sent), the rest goes worker to worker (peer_redirects).
#   (e) the pipeline of (a) on the 3 workers of (d), with peers, one of them
#       killed -9 while another fetches weights from it (and a new worker
#       started): the same final checkpoints (sha256 of each stage) as (a), and the daemon sent at
#       most twice the blob bytes it sent the 1 worker of (a), plus one whole
#       weights blob per fetch that fell back to it in (e).
#   (f) the pipeline again, the daemon killed -9 while zero runs and restarted on
#       the same endpoint: the same final checkpoints as (a).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
final_sha() { # STAGE: the last checkpoint of that stage of pipeline $ID
	sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE s.name = '$1' AND s.pipeline = $ID ORDER BY c.step DESC LIMIT 1"
}
counters_field() { ctl '{"op":"counters"}' | field "$1"; }

cat >"$T/p.yaml" <<'EOF'
version: 1
name: peers
seed: 5
model:
  config: {dim: 32, layers: 2, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, style: corpus, count: 400}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 100, seed: 3}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 16, buffer: 16}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 8, batch: 16, shard: 4, save_every: 4, lr: 3e-3}
  # overlapped steps and LoRA adapters travel the same relays (deltas, adapter blobs)
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 4, steps: 3, max_new_tokens: 16, shard: 8, beta: 0.02, max_staleness: 1}
  - {name: tune, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 4, steps: 3, max_new_tokens: 16, shard: 8,
     lora: {rank: 4, alpha: 8, targets: [q_proj, v_proj], dropout: 0}}
EOF

run_pipeline() { # NAME: submit p.yaml, wait for it; $SHA is its final checkpoint
	ID=$(r1 submit "$T/p.yaml") || fail "$1: submit refused"
	timeout 120 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/$1-watch.log" 2>&1 &
	WATCHER=$!; PIDS+=("$WATCHER")
}
finish_pipeline() {
	local rc=0; wait "$WATCHER" || rc=$?
	[[ $rc == 0 ]] || fail "$1: watch exited $rc: $(tail -n 5 "$T/$1-watch.log")"
	[[ $(sql "SELECT count(*) FROM jobs WHERE state = 'failed'") == 0 ]] ||
		fail "$1: jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
	SHA="$(final_sha base) $(final_sha zero) $(final_sha tune)"
	[[ $SHA =~ ^[0-9a-f]{64}\ [0-9a-f]{64}\ [0-9a-f]{64}$ ]] || fail "$1: a stage has no final checkpoint: $SHA"
}

# --- (a) the reference
DATA=$T/ref
start_daemon
start_worker ref
REF_WORKER=$LAST_PID
wait_for 10 has_workers 1
run_pipeline ref
finish_pipeline ref
REF=$SHA
REF_BYTES=$(counters_field blob_bytes_sent)
log "(a) 1 worker, no peers: base zero tune $REF, the daemon sent $REF_BYTES blob bytes"
stop "$REF_WORKER"; stop "$DAEMON"

# --- the daemon on tcp with CURVE, one key per worker
DATA=$T/data
start_daemon --listen 'tcp://127.0.0.1:*'
EP=$(sed -n "s/.*listening for worker clients on '\(tcp:[^']*\)' (CURVE).*/\1/p" "$T/daemon.log" | tail -n 1)
[[ $EP == tcp://127.0.0.1:* ]] || fail "no CURVE tcp endpoint in the daemon's log"
K=$T/keys
mkdir -m 700 "$K"
for w in A B C D E; do
	"$R1FLOW_CLI" keygen --out "$K/$w" >/dev/null 2>&1 || fail "keygen $w"
	echo "worker $w $(cat "$K/$w.pub")"
done >>"$DATA/keys/allowlist"
kill -HUP "$DAEMON"
wait_for 10 grep -q "5 worker and 0 control key(s)" "$T/daemon.log"

declare -A WPID=()
peer_worker() { # NAME: a worker with its own cache (as on its own machine), serving peers
	R1FLOW_TEST_PEER_SLOW_MS=20 R1FLOW_TEST_FETCH_CHUNK=4096 "$R1FLOW_WORKER" --connect "$EP" \
		--server-key "$DATA/keys/server.pub" --key "$K/$1.key" --name "$1" --slots 1 \
		--threads 1 --cache "$T/cache-$1" --peer-listen 'tcp://127.0.0.1:0' >>"$T/$1.log" 2>&1 &
	WPID[$1]=$!; PIDS+=("$!")
}
put_blob() { # KIB: a fresh random blob; prints its sha256
	head -c $(( $1 * 1024 )) /dev/urandom >"$T/blob.bin"
	"$R1FLOW_CTL" --blob "$T/blob.bin" "$DATA" '{"op":"blob_put"}' | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p'
}

# --- (b) a relay killed -9 in the middle of a transfer
peer_worker A
wait_for 10 has_workers 1
BLOB=$(put_blob 512)
[[ -n $BLOB ]] || fail "blob_put failed"
ctl "{\"op\":\"enqueue_probe\",\"n\":1,\"blob\":\"$BLOB\"}" >/dev/null
wait_for 20 all_done 1
grep -q "blob $BLOB fetched and verified (524288 bytes) from the daemon" "$T/A.log" ||
	fail "A did not fetch the blob from the daemon: $(grep -i blob "$T/A.log")"
ctl '{"op":"enqueue_probe","n":1,"sleep_ms":600000}' >/dev/null   # keeps A busy
BLOCKER=$(sql "SELECT max(id) FROM jobs")
wait_for 10 bash -c "[[ \$('$R1FLOW_CTL' '$DATA' '{\"op\":\"counts\"}' | sed -n 's/.*\"leased\":\([0-9]*\).*/\1/p') == 1 ]]"
peer_worker B
wait_for 10 has_workers 2
ctl "{\"op\":\"enqueue_probe\",\"n\":1,\"blob\":\"$BLOB\"}" >/dev/null
wait_for 20 grep -q "fetching blob $BLOB from peer 'A'" "$T/B.log"
# mid-transfer: B has some of A's bytes in its fill file, far from all of them
wait_for 20 bash -c "[[ -n \$(find '$T/cache-B/tmp' -name '$BLOB.tmp.*' -size +0 2>/dev/null) ]]"
kill -KILL "${WPID[A]}"; wait "${WPID[A]}" 2>/dev/null || true
ctl "{\"op\":\"cancel\",\"job\":$BLOCKER}" >/dev/null
log "(b) A killed -9 while serving blob $BLOB to B"
wait_for 30 all_done 2
grep -q "peer 'A' failed to serve blob $BLOB at offset [1-9]" "$T/B.log" ||
	fail "B did not fall back mid-transfer: $(grep -i "peer\|blob" "$T/B.log")"
grep -q "blob $BLOB fetched and verified (524288 bytes)" "$T/B.log" ||
	fail "B did not verify the blob: $(grep -i blob "$T/B.log")"
[[ $(counters_field peer_failures) -ge 1 ]] || fail "the daemon did not count the failed peer"
grep -q "worker 'B': peer 'A' failed to serve blob $BLOB" "$T/daemon.log" ||
	fail "the daemon was not told which peer failed"
log "(b) $(grep -o "peer 'A' failed to serve blob [0-9a-f]* at offset [0-9]*" "$T/B.log" | head -n 1); B's job done"

# --- (c) a key the daemon did not admit is refused by B's peer server
B_EP=$(sed -n "s/.*serving blobs to peers on '\(tcp:[^']*\)', CURVE public key \(.*\)$/\1/p" "$T/B.log" | tail -n 1)
B_KEY=$(sed -n "s/.*serving blobs to peers on 'tcp:[^']*', CURVE public key \(.*\)$/\1/p" "$T/B.log" | tail -n 1)
[[ -n $B_EP && -n $B_KEY ]] || fail "B did not log its peer endpoint and key"
/usr/bin/python3 - "$B_EP" "$B_KEY" >"$T/stranger.out" 2>&1 <<'EOF' || fail "an unknown key was not refused: $(cat "$T/stranger.out")"
import sys, zmq, zmq.utils.monitor as zm
ctx = zmq.Context()
pub, sec = zmq.curve_keypair()
s = ctx.socket(zmq.DEALER)
s.curve_serverkey, s.curve_publickey, s.curve_secretkey = sys.argv[2].encode(), pub, sec
mon = s.get_monitor_socket()
s.connect(sys.argv[1])
s.send_multipart([b"R1FW1", b"FETCH", b'{"sha256":"' + b"0" * 64 + b'","offset":0}'])
mon.setsockopt(zmq.RCVTIMEO, 20000)
while True:
    ev = zm.recv_monitor_message(mon)["event"]
    if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        sys.exit("handshake succeeded with key " + pub.decode())
    if ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        print(pub.decode())
        break
EOF
STRANGER=$(tail -n 1 "$T/stranger.out")
wait_for 5 grep -qF "refused peer key $STRANGER" "$T/B.log"
log "(c) B refused key $STRANGER: the daemon never admitted it"

# --- (d) three workers fetch one blob: the daemon sends it at most twice
peer_worker C
peer_worker D
wait_for 10 has_workers 3
BLOB2=$(put_blob 512)
sent0=$(counters_field blob_bytes_sent) redir0=$(counters_field peer_redirects)
ctl "{\"op\":\"enqueue_probe\",\"n\":3,\"blob\":\"$BLOB2\",\"sleep_ms\":200}" >/dev/null
wait_for 60 all_done 5
sent=$(( $(counters_field blob_bytes_sent) - sent0 )) redir=$(( $(counters_field peer_redirects) - redir0 ))
(( sent <= 2 * 524288 )) || fail "the daemon sent $sent bytes of a 524288-byte blob to 3 peer workers"
(( redir >= 1 )) || fail "no fetch was sent to a peer"
log "(d) 3 workers fetched a 512 KiB blob: the daemon sent $sent bytes, $redir fetch(es) went to peers"

# --- (e) the pipeline with peers, one relay killed -9 while it serves weights
sent0=$(counters_field blob_bytes_sent)
run_pipeline peers
victim= fetcher= deadline=$(( $(now_ms) + 60000 ))
while [[ -z $victim ]]; do
	(( $(now_ms) < deadline )) || fail "(e) no worker fetched weights from a peer"
	for w in B C D; do
		v=$(sed -n "s/.*fetching blob [0-9a-f]* from peer '\([BCD]\)'.*/\1/p" "$T/$w.log" | tail -n 1)
		[[ -n $v ]] && { victim=$v; fetcher=$w; break; }
	done
	sleep 0.05
done
kill -KILL "${WPID[$victim]}"; wait "${WPID[$victim]}" 2>/dev/null || true
peer_worker E
log "(e) $victim killed -9 while $fetcher fetched weights from it; E started"
finish_pipeline peers
[[ $SHA == "$REF" ]] || fail "(e) with peers and a killed relay: base zero tune $SHA, without peers $REF"
sent=$(( $(counters_field blob_bytes_sent) - sent0 ))
# a fetch that fell back gets the rest of its stream from the daemon: at most a blob
full=$(grep -o "fetched and verified ([0-9]* bytes)" "$T/ref.log" | tr -dc '0-9\n' | sort -n | tail -n 1)
failed=$(counters_field peer_failures)
(( sent <= 2 * REF_BYTES + (failed - 1) * full )) ||
	fail "(e) the daemon sent $sent blob bytes to 3 peer workers ($failed fetches fell back), 1 worker without peers got $REF_BYTES"
log "(e) base zero tune as in (a); the daemon sent $sent blob bytes (1 worker without peers: $REF_BYTES); $(counters_field peer_redirects) redirects, $(counters_field peer_failures) peer failures"

# --- (f) the daemon killed -9 in the middle of the pipeline and restarted on the same
#     endpoint: the workers reconnect with their peer endpoints, the relays are planned
#     anew, and every stage ends with the checkpoints of (a)
run_pipeline restart
zero_started() { [[ $(sql "SELECT step FROM stages WHERE name = 'zero' AND pipeline = $ID") -ge 1 ]]; }
wait_for 60 zero_started
kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
at=$(sql "SELECT step FROM stages WHERE name = 'zero' AND pipeline = $ID")
kill "$WATCHER" 2>/dev/null; wait "$WATCHER" 2>/dev/null || true   # it would wait for the daemon
mv "$T/daemon.log" "$T/daemon-before-kill.log"
start_daemon --listen "$EP"
timeout 120 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/restart-watch.log" 2>&1 &
WATCHER=$!; PIDS+=("$WATCHER")
finish_pipeline restart
[[ $SHA == "$REF" ]] || fail "(f) after a daemon kill -9 with peers: base zero tune $SHA, without peers $REF"
log "(f) daemon killed -9 with zero at step $at and restarted: the same checkpoints as (a); $(counters_field peer_redirects) redirects since the restart"
