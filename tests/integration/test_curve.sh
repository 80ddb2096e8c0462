#!/usr/bin/env bash
# CURVE on the daemon's tcp endpoints (daemon/auth.h), over 127.0.0.1 with ports the
# kernel picks: keygen; the self-test refuses to start without a ZAP handler; no
# CURVE on a non-loopback bind without --insecure; an unknown key and a client
# without CURVE deliver nothing (refusals logged); a worker key cannot use the
# control endpoint nor a control key the worker endpoint; a key removed from the
# allowlist and SIGHUP'ed is cut off while connected and stays out; no secret key
# appears in a log or the database.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

K=$T/keys
mkdir -m 700 "$K"
grep_log() { grep -qF -- "$2" "$1"; }
pub() { cat "$K/$1.pub"; }

# --- keygen: PREFIX.key 0600 + PREFIX.pub; never overwrites without --force
for k in w1 w2 c1 rogue; do
	"$R1FLOW_CLI" keygen --out "$K/$k" >"$T/keygen.out" 2>"$T/keygen.err" || fail "keygen $k: $(cat "$T/keygen.err")"
	out=$(cat "$T/keygen.out")
	[[ $out == "$(pub "$k")" && ${#out} == 40 ]] ||
		fail "keygen $k printed '$out', the .pub holds '$(pub "$k")'"
	[[ $(stat -c %a "$K/$k.key") == 600 ]] || fail "$k.key has mode $(stat -c %a "$K/$k.key")"
done
old=$(cat "$K/w1.key")
"$R1FLOW_CLI" keygen --out "$K/w1" >/dev/null 2>"$T/keygen.err" && fail "keygen replaced an existing key"
grep -q "exists" "$T/keygen.err" || fail "keygen over an existing key said: $(cat "$T/keygen.err")"
[[ $(cat "$K/w1.key") == "$old" ]] || fail "a refused keygen changed w1.key"
log "keygen: 4 keypairs, secret files 0600, no overwrite without --force"

# --- the self-test: without a ZAP handler the daemon must refuse to start
rc=0
R1FLOW_TEST_NO_ZAP=1 timeout 20 "$R1FLOWD" --data "$T/nozap" --listen 'tcp://127.0.0.1:*' \
	>"$T/nozap.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "r1flowd without a ZAP handler exited $rc, expected 1"
grep -q "self-test failed" "$T/nozap.log" || fail "no self-test message: $(cat "$T/nozap.log")"
[[ -e $T/nozap/workers.sock ]] && fail "r1flowd bound its sockets before the self-test"
log "without a ZAP handler: 'self-test failed', exit 1, nothing bound"

# --- without CURVE: loopback only, unless --insecure
rc=0
"$R1FLOWD" --data "$T/plain" --listen tcp://0.0.0.0:0 --no-curve >"$T/plain.log" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q "refusing to serve 'tcp://0.0.0.0:0' without CURVE" "$T/plain.log" ||
	fail "--no-curve on 0.0.0.0 exited $rc: $(cat "$T/plain.log")"
log "--no-curve on a non-loopback address refused without --insecure"

# --- the daemon, with CURVE on both tcp endpoints
start_daemon --listen 'tcp://127.0.0.1:*' --listen-control 'tcp://127.0.0.1:*'
grep -q "self-test passed" "$T/daemon.log" || fail "no self-test line in the daemon log"
WEP=$(sed -n "s/.*listening for worker clients on '\(tcp:[^']*\)'.*/\1/p" "$T/daemon.log")
CEP=$(sed -n "s/.*listening for control clients on '\(tcp:[^']*\)'.*/\1/p" "$T/daemon.log")
[[ $WEP == tcp://127.0.0.1:* && $CEP == tcp://127.0.0.1:* ]] || fail "endpoints '$WEP' '$CEP'"
SPUB=$DATA/keys/server.pub
[[ $(stat -c %a "$DATA/keys/server.key") == 600 ]] || fail "server.key mode $(stat -c %a "$DATA/keys/server.key")"
{ echo "worker w1 $(pub w1)"; echo "worker w2 $(pub w2)  # revoked below"; echo "control c1 $(pub c1)"; } \
	>>"$DATA/keys/allowlist"
kill -HUP "$DAEMON"
wait_for 5 grep -q "2 worker and 1 control key(s); 3 added" "$T/daemon.log"
log "daemon up on $WEP (workers) and $CEP (control); allowlist reread on SIGHUP"

worker_tcp() { # NAME KEY [ARGS]: a worker over tcp with CURVE
	local name=$1 key=$2; shift 2
	"$R1FLOW_WORKER" --connect "$WEP" --server-key "$SPUB" --key "$K/$key.key" --name "$name" \
		--cache "$T/cache" "$@" >>"$T/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}
ctl_tcp() { # KEY VERB...: the CLI on the control endpoint with KEY
	local key=$1; shift
	R1FLOW_TIMEOUT_MS=2000 R1FLOW_SERVER_KEY=$SPUB R1FLOW_KEY=$K/$key.key \
		"$R1FLOW_CLI" "$@" --endpoint "$CEP"
}

# --- an unknown key gets nothing through
worker_tcp rogue rogue; ROGUE=$LAST_PID
wait_for 10 grep_log "$T/daemon.log" "refused the CURVE handshake of key $(pub rogue)"
stop "$ROGUE"
# --- neither does a client without CURVE (NULL mechanism). libzmq reports the refusal
# as a mechanism mismatch, or (when the client hangs up first) as a broken pipe with no
# detail: either way a new "refused a handshake" line, now that the rogue is gone.
before=$(grep -c "refused a handshake on the worker endpoint" "$T/daemon.log" || true)
"$R1FLOW_WORKER" --connect "$WEP" --name nullmech --cache "$T/cache" >>"$T/nullmech.log" 2>&1 &
NULLW=$!; PIDS+=("$NULLW")
refused_more() { (( $(grep -c "refused a handshake on the worker endpoint" "$T/daemon.log" || true) > before )); }
wait_for 30 refused_more
sleep 1
[[ $(live_workers) == 0 && $(counter workers_joined) == 0 && $(counter msgs_unknown_peer) == 0 ]] ||
	fail "a refused client got through: $(ctl '{"op":"status"}')"
[[ $(sql "SELECT count(*) FROM workers") == 0 ]] || fail "a refused worker is in the database"
stop "$NULLW"
log "unknown key and NULL mechanism: refused at the handshake, logged, nothing delivered"

# --- roles: a worker key on the control endpoint, a control key on the worker endpoint
ctl_tcp c1 workers >"$T/c1.out" 2>&1 || fail "control key c1: $(cat "$T/c1.out")"
ctl_tcp w1 workers >"$T/w1ctl.out" 2>&1 && fail "a worker key used the control endpoint"
wait_for 5 grep -q "refused worker key 'w1' from 127.0.0.1 on the control endpoint" "$T/daemon.log"
R1FLOW_TIMEOUT_MS=2000 "$R1FLOW_CLI" workers --endpoint "$CEP" >"$T/null.out" 2>&1 &&
	fail "a control client without CURVE got an answer"
worker_tcp wrongrole c1; WRONG=$LAST_PID
wait_for 10 grep -q "refused control key 'c1' from 127.0.0.1 on the worker endpoint" "$T/daemon.log"
stop "$WRONG"
[[ $(live_workers) == 0 ]] || fail "a control key registered as a worker"
log "roles: the control key works on control only, the worker key on workers only"

# --- revocation: w2 is cut off while connected and stays out; its jobs are requeued
worker_tcp w1 w1; W1=$LAST_PID
worker_tcp w2 w2; W2=$LAST_PID
wait_for 10 has_workers 2
ctl '{"op":"enqueue_probe","n":60,"sleep_ms":50}' >/dev/null
w2_busy() { ctl '{"op":"workers"}' | /usr/bin/python3 -c 'import json,sys
sys.exit(0 if any(w["name"] == "w2" and w["jobs"] for w in json.load(sys.stdin)["workers"]) else 1)'; }
wait_for 10 w2_busy
sed -i '/^worker w2 /d' "$DATA/keys/allowlist"
kill -HUP "$DAEMON"
wait_for 5 grep -q "allowlist: worker key 'w2' revoked" "$T/daemon.log"
wait_for 5 grep -q "worker 'w2' cut off: key revoked" "$T/daemon.log"
wait_for 5 grep -q "daemon said DISCONNECT: key revoked" "$T/w2.log"
wait_for 30 all_done 60
[[ $(live_workers) == 1 ]] || fail "after the revocation $(live_workers) workers are live"
wait_for 10 grep_log "$T/daemon.log" "refused the CURVE handshake of key $(pub w2)"
kill -0 "$W2" || fail "the revoked worker exited (it should keep retrying, refused)"
[[ $(count failed) == 0 ]] || fail "jobs failed: $(ctl '{"op":"counts"}')"
log "revoked w2: cut off within a heartbeat, its reconnects refused; 60 jobs done by w1"

# --- a broken allowlist keeps the previous one
echo "worker bad not-a-key" >>"$DATA/keys/allowlist"
kill -HUP "$DAEMON"
wait_for 5 grep -q "keeping the previous allowlist" "$T/daemon.log"
[[ $(live_workers) == 1 ]] || fail "a broken allowlist dropped the allowed worker"

# --- no secret in any log or in the database
stop "$W1"; stop "$W2"
ctl '{"op":"shutdown"}' >/dev/null || true
wait "$DAEMON" || fail "r1flowd exited $? after the shutdown op"
# (the dump goes to a file: under pipefail, `.dump | grep -q` fails when grep's early
# exit kills sqlite3 with SIGPIPE — exactly when the secret is found)
sqlite3 "$DATA/r1flow.db" .dump >"$T/dump.sql"
for k in "$K"/*.key "$DATA/keys/server.key"; do
	s=$(tr -d '\n' <"$k")
	grep -rqF -- "$s" "$T"/*.log && fail "the secret of ${k##*/} is in a log"
	grep -qF -- "$s" "$T/dump.sql" && fail "the secret of ${k##*/} is in the database"
done
log "no secret key in the logs or the database"
log "ok"
