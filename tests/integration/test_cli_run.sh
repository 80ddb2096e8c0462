#!/usr/bin/env bash
# r1flow run: the embedded daemon and workers start, the pipeline runs to the end, the
# summary and the eval report are printed and everything stops; the data directory (a
# fresh one in $TMPDIR, or --data) is kept and named at the start and the end, and
# --rm removes the fresh one; SIGINT mid-run cancels the pipeline, exits 130 and
# leaves no r1flowd or r1flow-worker of that run alive.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=$SRC/pipelines/probe.yaml
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z '

# processes of a run: found by the data directory on their command lines
leftovers() { pgrep -f -- "--data $1" || true; }
no_leftovers() { [[ -z $(leftovers "$1") ]]; }

# fresh data directories go here (and go away with $T)
export TMPDIR=$T/tmp
mkdir "$TMPDIR"

# --- a whole run in a fresh directory: kept, with the database and logs
t0=$(now_ms)
rc=0; "$R1FLOW_CLI" run "$PROBE" --workers 2 >"$T/run1.out" 2>"$T/run1.err" || rc=$?
t1=$(now_ms)
[[ $rc == 0 ]] || fail "run exited $rc: $(cat "$T/run1.err") $(cat "$T/run1.out")"
DIR1=$(sed -n "s/^pipeline 1 'probe' submitted to 2 local workers (data \(.*\))$/\1/p" "$T/run1.out")
[[ $DIR1 == "$TMPDIR"/r1flow-run.* ]] || fail "run did not say where it ran: $(head -n 3 "$T/run1.out")"
grep -Eq "${TS}stage a running" "$T/run1.out" || fail "run showed no progress: $(cat "$T/run1.out")"
grep -Eq "${TS}pipeline 1 'probe' succeeded in " "$T/run1.out" || fail "run: no final line"
grep -Eq "^a +probe +succeeded +200/200 jobs" "$T/run1.out" &&
	grep -Eq "^b +probe +succeeded +100/100 jobs" "$T/run1.out" || fail "run: no summary table: $(cat "$T/run1.out")"
[[ $(tail -n 1 "$T/run1.out") == "data kept in $DIR1 "* ]] ||
	fail "run did not say at the end where its data is: $(tail -n 3 "$T/run1.out")"
[[ -f $DIR1/r1flow.db && -s $DIR1/logs/r1flowd.log && -s $DIR1/logs/local-2.log ]] ||
	fail "run did not keep its data directory: $(ls -R "$DIR1" 2>&1 | head)"
[[ $(sqlite3 -batch -noheader "$DIR1/r1flow.db" "SELECT state FROM pipelines WHERE id = 1") == succeeded ]] ||
	fail "the kept database does not hold the pipeline"
no_leftovers "$DIR1" || fail "processes of the run are alive: $(leftovers "$DIR1")"
log "run: exit 0 in $((t1 - t0)) ms, summary printed, data directory kept and named, nothing left running"

# --- an eval stage: the report is printed at the end, as 'r1flow report' prints it;
# --rm removes the fresh directory
cat >"$T/ev.yaml" <<'SPEC'
version: 1
name: ev
seed: 1
model:
  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 48}
datasets:
  test: {generate: arithmetic, digits: 1, style: problem, count: 4, seed: 2}
stages:
  - {name: eval_base, kind: eval, dataset: test, samples: 2, max_new_tokens: 8}
SPEC
# no --workers: run picks the split for the model's size (a tiny model: a worker per CPU,
# one thread each) and says so on stderr; --threads overrides the threads only
rc=0; "$R1FLOW_CLI" run "$T/ev.yaml" --threads 1 --rm >"$T/ev.out" 2>"$T/ev.err" || rc=$?
[[ $rc == 0 ]] || fail "run of an eval exited $rc: $(cat "$T/ev.err")"
cpus=$(nproc)
grep -Eq "^run: picked $cpus workers? x 1 thread: a 0\.[0-9]+M-parameter model runs faster as a job per CPU \(1 thread: --threads\); --workers and --threads override$" "$T/ev.err" ||
	fail "run did not say the split it picked: $(cat "$T/ev.err")"
grep -Eq "^pipeline 1 'ev' submitted to $cpus local workers? " "$T/ev.out" ||
	fail "run did not start $cpus workers: $(head -n 3 "$T/ev.out")"
grep -q "^pipeline 1 'ev' (succeeded)$" "$T/ev.out" &&
	grep -Eq "^STAGE +FROM +GREEDY PASS@1 +SAMPLED PASS@1 +MAJ@K +FORMAT +REASONING +LENGTH$" "$T/ev.out" &&
	grep -Eq "^eval_base +- +([0-9.]+% +){5}[0-9.]+$" "$T/ev.out" ||
	fail "run printed no report: $(cat "$T/ev.out")"
EVDIR=$(sed -n "s/^pipeline 1 'ev' submitted to [0-9]* local workers\{0,1\} (data \(.*\))$/\1/p" "$T/ev.out")
[[ -n $EVDIR && ! -e $EVDIR ]] || fail "run --rm left its directory '$EVDIR'"
! grep -q "data kept" "$T/ev.out" "$T/ev.err" || fail "run --rm says it kept its data"
rc=0; "$R1FLOW_CLI" run "$T/ev.yaml" --rm --data "$T/evdata" >"$T/ev2.out" 2>"$T/ev2.err" || rc=$?
[[ $rc == 2 && ! -e $T/evdata ]] || fail "run --rm --data exited $rc: $(cat "$T/ev2.err")"
! grep -q "picked" "$T/run1.err" || fail "run --workers 2 still picked a split: $(cat "$T/run1.err")"
log "run: the eval report at the end; without --workers the split picked and said; --rm removes the fresh directory, and is refused with --data"

# --- --data DIR: kept, with the logs of the daemon and every worker; --json at the end
rc=0; "$R1FLOW_CLI" run "$PROBE" --workers 1 --data "$T/kept" --json --set stages.a.jobs=5 \
	>"$T/run2.out" 2>"$T/run2.err" || rc=$?
[[ $rc == 0 ]] || fail "run --data exited $rc: $(cat "$T/run2.err")"
[[ $(/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["pipeline"]["state"], [s["total"] for s in d["stages"]], d["report"])' <"$T/run2.out") == "succeeded [5, 100] []" ]] ||
	fail "run --json: $(cat "$T/run2.out")"
grep -q "^data kept in $T/kept " "$T/run2.err" || fail "run --data --json: $(cat "$T/run2.err")"
[[ -f $T/kept/r1flow.db && -s $T/kept/logs/r1flowd.log && -s $T/kept/logs/local-1.log ]] ||
	fail "run --data did not keep the database and logs: $(ls -R "$T/kept")"
no_leftovers "$T/kept" || fail "processes of run --data are alive: $(leftovers "$T/kept")"
log "run --data: directory and logs kept, --json is the final status"

# --- a bad spec: nothing starts
rc=0; "$R1FLOW_CLI" run "$PROBE" --set stages.a.jobz=3 --data "$T/bad" >"$T/run3.out" 2>"$T/run3.err" || rc=$?
[[ $rc == 1 ]] || fail "run of a bad spec exited $rc"
grep -q "jobz" "$T/run3.err" || fail "run of a bad spec said: $(cat "$T/run3.err")"
[[ ! -e $T/bad ]] || fail "run of a bad spec created its data directory"

# --- SIGINT mid-run: the pipeline is cancelled, everything stops, exit 130
interrupt() {
	local name=$1; shift
	"$R1FLOW_CLI" run "$PROBE" --workers 2 --set stages.a.jobs=400 --set stages.a.sleep_ms=100 "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 20 grep -Eq "${TS}stage a running [1-9]" "$T/$name.out"
	kill -INT "$pid"
	local t0 t1 rc=0
	t0=$(now_ms)
	wait "$pid" || rc=$?
	t1=$(now_ms)
	[[ $rc == 130 ]] || fail "$name: run exited $rc after SIGINT: $(cat "$T/$name.err")"
	grep -q "interrupted: cancelling pipeline 1" "$T/$name.err" || fail "$name: $(cat "$T/$name.err")"
	(( t1 - t0 < 8000 )) || fail "$name: stopping took $((t1 - t0)) ms"
	INT_DIR=$(sed -n "s/^pipeline 1 'probe' submitted to 2 local workers (data \(.*\))$/\1/p" "$T/$name.out")
	no_leftovers "$INT_DIR" || fail "$name: processes alive after SIGINT: $(leftovers "$INT_DIR")"
	log "$name: SIGINT -> exit 130 in $((t1 - t0)) ms, no process left"
}
interrupt int1 --data "$T/int1"
[[ $(sqlite3 -batch -noheader "$T/int1/r1flow.db" "SELECT state FROM pipelines WHERE id = 1") == cancelled ]] ||
	fail "the interrupted pipeline is not cancelled: $(sqlite3 "$T/int1/r1flow.db" "SELECT id, state FROM pipelines")"
interrupt int2
[[ -f $INT_DIR/r1flow.db ]] || fail "an interrupted run did not keep its directory $INT_DIR"
grep -q "^data kept in $INT_DIR " "$T/int2.err" || fail "int2: $(cat "$T/int2.err")"
interrupt int3 --rm
[[ ! -e $INT_DIR ]] || fail "an interrupted run --rm left its directory $INT_DIR"
log "ok"
