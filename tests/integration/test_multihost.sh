#!/usr/bin/env bash
# Workers on other machines (README "Scaling across machines"), on one machine: three network namespaces
# joined by veth pairs, the daemon in one, a worker in each of the others, over tcp
# with CURVE; the probe pipeline (pipelines/probe.yaml) completes with both doing
# jobs, and a control client in a worker's namespace reaches the daemon's control
# endpoint with its own key. Before that, the deployment files (deploy/) parse.
# Namespaces need CAP_SYS_ADMIN: where `ip netns add` fails the namespace part is
# skipped with a SKIP line (exit 0).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)

# --- deploy/: systemd units verify, YAML parses, shell scripts parse
UNITS=$T/units
mkdir -p "$UNITS"
for f in "$SRC"/deploy/systemd/*.service; do
	name=${f##*/}
	# a template verifies as an instance; the binaries are the ones just built
	sed -e "s|/usr/local/bin/r1flowd|$R1FLOWD|g" -e "s|/usr/local/bin/r1flow-worker|$R1FLOW_WORKER|g" \
		"$f" >"$UNITS/${name/@./@1.}"
done
if command -v systemd-analyze >/dev/null; then
	(cd "$UNITS" && systemd-analyze verify --man=no "$UNITS"/*.service) >"$T/verify.out" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$T/verify.out")"
	[[ ! -s $T/verify.out ]] || fail "systemd-analyze verify warns: $(cat "$T/verify.out")"
	log "deploy/systemd: $(ls "$UNITS" | wc -l) units pass systemd-analyze verify"
else
	log "deploy/systemd: systemd-analyze not found, units not verified"
fi
for f in "$SRC"/deploy/k8s/*.yaml; do
	if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
		/usr/bin/python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
assert docs and all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in docs), \
	"every document needs apiVersion and kind"
' "$f" 2>"$T/yaml.err" || fail "$f does not parse: $(tail -n 3 "$T/yaml.err")"
	else # no PyYAML: at least no tabs and every document has apiVersion and kind
		! grep -q $'\t' "$f" && [[ $(grep -c '^kind:' "$f") == $(grep -c '^apiVersion:' "$f") ]] ||
			fail "$f: tabs, or a document without kind/apiVersion"
	fi
done
log "deploy/k8s: $(ls "$SRC"/deploy/k8s/*.yaml | wc -l) files parse"
for f in "$SRC"/deploy/slurm/*.sbatch; do
	bash -n "$f" || fail "$f does not parse"
	grep -q '^#SBATCH' "$f" || fail "$f has no #SBATCH lines"
done
grep -q '^#SBATCH --array=' "$SRC/deploy/slurm/workers.sbatch" || fail "workers.sbatch is not a job array"
grep -q '^#SBATCH hetjob' "$SRC/deploy/slurm/pipeline.sbatch" || fail "pipeline.sbatch is not heterogeneous"
log "deploy/slurm: scripts parse"

# --- three namespaces: d (the daemon) joined to w1 and w2 by one veth pair each
command -v ip >/dev/null || { echo "SKIP: cannot create network namespaces: no 'ip' command (iproute2)"; exit 0; }
NS=r1mh$$
NSD=$NS-d
NETNS=()
netns_cleanup() {
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for n in "${NETNS[@]}"; do
		ip netns delete "$n" 2>/dev/null || true # its veth ends go with it
	done
}
trap 'rc=$?; set +e; netns_cleanup; (exit $rc); cleanup' EXIT
if ! ip netns add "$NSD" 2>"$T/netns.err"; then
	echo "SKIP: cannot create network namespaces: $(head -n 1 "$T/netns.err")"
	exit 0
fi
NETNS+=("$NSD")
ip -n "$NSD" link set lo up
for i in 1 2; do
	ns=$NS-w$i
	ip netns add "$ns" || fail "cannot create namespace $ns"
	NETNS+=("$ns")
	ip -n "$ns" link set lo up
	ip link add "r1d$$-$i" netns "$NSD" type veth peer name "r1w$$-$i" netns "$ns" ||
		fail "cannot create a veth pair between $NSD and $ns"
	ip -n "$NSD" addr add "10.213.$i.1/24" dev "r1d$$-$i"
	ip -n "$ns" addr add "10.213.$i.2/24" dev "r1w$$-$i"
	ip -n "$NSD" link set "r1d$$-$i" up
	ip -n "$ns" link set "r1w$$-$i" up
done
ip netns exec "$NS-w1" ping -c 1 -W 2 10.213.2.1 >/dev/null 2>&1 &&
	fail "w1 reaches w2's link: the namespaces are not separate hosts"
log "namespaces $NSD, $NS-w1 (10.213.1.2), $NS-w2 (10.213.2.2), one veth pair each to the daemon"

# --- keys: two worker machines and one control client
K=$T/keys
mkdir -m 700 "$K"
for k in w1 w2 ops; do
	"$R1FLOW_CLI" keygen --out "$K/$k" >/dev/null 2>&1 || fail "keygen $k"
done

# --- the daemon in its namespace on every address (not loopback: CURVE required);
# the CLI and ctl still reach it through the ipc sockets in $DATA
ip netns exec "$NSD" "$R1FLOWD" --data "$DATA" --listen tcp://0.0.0.0:7401 \
	--listen-control tcp://0.0.0.0:7402 >>"$T/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=("$DAEMON")
wait_for 10 ctl '{"op":"ops"}'
grep -q "listening for worker clients on 'tcp://0.0.0.0:7401' (CURVE)" "$T/daemon.log" ||
	fail "the daemon is not listening with CURVE: $(cat "$T/daemon.log")"
{ echo "worker host1 $(cat "$K/w1.pub")"; echo "worker host2 $(cat "$K/w2.pub")"
  echo "control ops $(cat "$K/ops.pub")"; } >>"$DATA/keys/allowlist"
kill -HUP "$DAEMON"
wait_for 5 grep -q "2 worker and 1 control key(s)" "$T/daemon.log"

# --- one worker per host, each knowing only the daemon's address and the keys
for i in 1 2; do
	ip netns exec "$NS-w$i" "$R1FLOW_WORKER" --connect "tcp://10.213.$i.1:7401" \
		--server-key "$DATA/keys/server.pub" --key "$K/w$i.key" --name "host$i" \
		--cache "$T/cache$i" >>"$T/w$i.log" 2>&1 &
	PIDS+=("$!")
done
wait_for 15 has_workers 2
grep -q "let in worker key 'host1' from 10.213.1.2" "$T/daemon.log" &&
	grep -q "let in worker key 'host2' from 10.213.2.2" "$T/daemon.log" ||
	fail "the workers did not come in over their own links: $(grep 'let in' "$T/daemon.log")"

# --- the probe pipeline: 200 + 100 jobs
ID=$("$R1FLOW_CLI" submit --data "$DATA" "$SRC/pipelines/probe.yaml") || fail "submit failed"
timeout 45 "$R1FLOW_CLI" watch --data "$DATA" --plain "$ID" >"$T/watch.out" 2>&1 ||
	fail "watch: $(tail -n 5 "$T/watch.out")"
tail -n 1 "$T/watch.out" | grep -q "pipeline $ID 'probe' succeeded" ||
	fail "the pipeline did not succeed: $(tail -n 3 "$T/watch.out")"
[[ $(count done) == 300 && $(count failed) == 0 ]] || fail "counts: $(ctl '{"op":"counts"}')"
per_host=$(sql "SELECT group_concat(n, ' + ') FROM (SELECT w.name, count(*) AS n FROM jobs j
	JOIN workers w ON w.id = j.worker GROUP BY w.name ORDER BY w.name)")
[[ $(sql "SELECT count(DISTINCT worker) FROM jobs") == 2 ]] || fail "one host did all the jobs: $per_host"
log "probe pipeline $ID succeeded over tcp+CURVE: 300 jobs, host1 + host2 = $per_host"

# --- control from another host, with a control key
ip netns exec "$NS-w2" env R1FLOW_SERVER_KEY="$DATA/keys/server.pub" R1FLOW_KEY="$K/ops.key" \
	"$R1FLOW_CLI" workers --endpoint tcp://10.213.2.1:7402 >"$T/remote.out" 2>&1 ||
	fail "remote control: $(cat "$T/remote.out")"
grep -q "host1" "$T/remote.out" && grep -q "host2" "$T/remote.out" ||
	fail "remote 'r1flow workers': $(cat "$T/remote.out")"
log "r1flow workers from $NS-w2 over tcp with the control key: both hosts listed"

ctl '{"op":"shutdown"}' >/dev/null || true
wait "$DAEMON" || fail "r1flowd exited $? after the shutdown op"
log "ok"
