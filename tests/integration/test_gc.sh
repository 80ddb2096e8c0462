#!/usr/bin/env bash
# Disk space: checkpoint retention, `r1flow gc` and `r1flow dataset delete`.
#
# A short pretrain → GRPO pipeline (base saves every 2 of 8 steps, zero every one of 10
# GRPO steps, with a reference: beta > 0) runs twice:
#   all   keep_checkpoints: 1000 — every checkpoint stays (the reference run);
#   kept  the default (2), and the daemon stopped mid-GRPO and restarted.
# On `kept`: while stopped, zero holds its step 0 (the reference) and its two latest;
# at the end each stage holds exactly its two latest checkpoints (zero's reference
# is no longer needed), DIR/blobs/ holds exactly the files those rows name, and the
# final weights of both stages are those of `all` (a gc ran while base trained).
# Then gc: nothing to free at first; a blob nobody names (stored with blob_put) and
# a stray file are removed, reported in files and bytes, and nothing in use is
# touched. Then dataset delete: refused for a paused pipeline's own dataset (naming
# it), done once it is cancelled, and for a shared dataset; a second delete fails.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/kept.yaml" <<'EOF'
version: 1
name: gc
seed: 11
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 300}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 100, seed: 3}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 12, buffer: 12}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 8, batch: 16, save_every: 2}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 4, steps: 10, max_new_tokens: 12, shard: 8, beta: 0.02, save_every: 1}
EOF
sed 's/save_every: 2}/save_every: 2, keep_checkpoints: 1000}/; s/save_every: 1}/save_every: 1, keep_checkpoints: 1000}/' \
	"$T/kept.yaml" >"$T/all.yaml"
grep -q "keep_checkpoints: 1000}" "$T/all.yaml" || fail "could not write all.yaml"

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
r1rc() { RC=0; "$R1FLOW_CLI" "$@" --data "$DATA" >"$T/out" 2>"$T/err" || RC=$?; }
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/out" "$T/err")"; }
# the stage's step, straight from the database: polling must be quick, GRPO steps are
step_of() { sql "SELECT step FROM stages WHERE pipeline = $ID AND name = '$1'"; }
# stage: its checkpoint steps, "0 5 6"
steps_of() {
	sql "SELECT group_concat(step, ' ') FROM (SELECT c.step FROM checkpoints c JOIN stages s
		ON s.id = c.stage WHERE s.name = '$1' AND s.pipeline = $ID ORDER BY c.step)"
}
finals() {
	sql "SELECT s.name, c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE c.step = (SELECT max(step) FROM checkpoints WHERE stage = c.stage) ORDER BY s.id"
}
watch_ok() {
	local rc=0
	timeout 90 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >>"$T/$1-watch.log" 2>&1 || rc=$?
	[[ $rc == 0 ]] || fail "$1: watch exited $rc: $(tail -n 5 "$T/$1-watch.log"); $(r1 status "$ID")"
}
blob_files() { ls "$DATA/blobs" | grep -E '^[0-9a-f]{64}$' | sort; }
named() {
	sql "SELECT sha256 FROM checkpoints UNION SELECT optimizer FROM checkpoints
		WHERE optimizer IS NOT NULL" | sort -u
}
dir_bytes() { du -sb --exclude=tmp "$DATA/blobs" | cut -f1; }

# --- all: every checkpoint kept
DATA=$T/all
rm -rf "$T/cache"
start_daemon
start_worker all-w1 --threads 1; W=$LAST_PID
wait_for 10 has_workers 1
ID=$(r1 submit "$T/all.yaml") || fail "all: submit refused"
watch_ok all
finals >"$T/all.sha"
[[ $(steps_of base) == "0 2 4 6 8" && $(steps_of zero) == "0 1 2 3 4 5 6 7 8 9 10" ]] ||
	fail "all: expected every checkpoint kept, base: $(steps_of base), zero: $(steps_of zero)"
ALL_BYTES=$(dir_bytes); ALL_FILES=$(blob_files | wc -l)
log "all: $ALL_FILES blob files, $ALL_BYTES bytes"
stop "$W"; stop "$DAEMON"

# --- kept: the default policy, and a restart mid-GRPO
DATA=$T/kept
rm -rf "$T/cache"
start_daemon
start_worker kept-w1 --threads 1; W=$LAST_PID
wait_for 10 has_workers 1
ID=$(r1 submit "$T/kept.yaml") || fail "kept: submit refused"
# gc while base trains: it must leave what the run still needs (the final weights
# below are compared with all's)
base_going() { (( $(step_of base) >= 2 )); }
wait_for 30 base_going
r1rc gc --json; expect_rc 0 "gc while a pipeline runs"
log "kept: gc while base trains: $(tr -d ' \n' <"$T/out")"
deadline=$(( $(now_ms) + 60000 ))
while :; do
	(( $(now_ms) < deadline )) || fail "kept: zero never reached step 3"
	s=$(step_of zero)
	(( s < 10 )) || fail "kept: zero finished (step $s) before the daemon could be stopped"
	(( s >= 3 )) && break
	sleep 0.03
done
kill -STOP "$W"
stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "kept: r1flowd exited $STOPPED_RC after SIGTERM"
kill -KILL "$W" 2>/dev/null || true
at=$(sql "SELECT step FROM stages WHERE name = 'zero'")
(( at < 10 )) || fail "kept: zero finished before the daemon stopped"
mid=$(steps_of zero)
[[ $mid == "0 $(( at - 1 )) $at" ]] ||
	fail "kept: stopped at zero's step $at, expected checkpoints '0 $(( at - 1 )) $at' (the reference and the 2 latest), got '$mid'"
[[ $(steps_of base) == "6 8" ]] || fail "kept: base kept $(steps_of base), expected '6 8'"
log "kept: stopped at zero's step $at holding checkpoints $mid; base holds $(steps_of base)"
start_daemon
start_worker kept-w2 --threads 1; W=$LAST_PID
watch_ok kept
grep -q "learner resumed at saved step $at" "$T/daemon.log" || fail "kept: zero did not resume at step $at"
[[ $(steps_of base) == "6 8" && $(steps_of zero) == "9 10" ]] ||
	fail "kept: expected base '6 8' and zero '9 10', got base '$(steps_of base)', zero '$(steps_of zero)'"
finals >"$T/kept.sha"
diff "$T/all.sha" "$T/kept.sha" >"$T/sha.diff" || fail "kept: final weights differ from all's: $(cat "$T/sha.diff")"
diff <(blob_files) <(named) >"$T/files.diff" ||
	fail "kept: blobs/ is not exactly what the checkpoints name: $(cat "$T/files.diff")"
KEPT_BYTES=$(dir_bytes); KEPT_FILES=$(blob_files | wc -l)
log "kept: $KEPT_FILES blob files, $KEPT_BYTES bytes (all: $ALL_FILES, $ALL_BYTES); final weights equal"
(( KEPT_BYTES * 2 < ALL_BYTES )) || fail "kept: $KEPT_BYTES bytes is not under half of all's $ALL_BYTES"

# --- gc
r1rc gc --help; expect_rc 0 "gc --help"
grep -q "r1flow gc" "$T/out" && grep -q "exit status" "$T/out" || fail "gc --help: $(cat "$T/out")"
r1rc gc extra; expect_rc 2 "gc extra"
r1rc gc --json; expect_rc 0 "gc --json"
[[ $(jq_ "(d['files'], d['bytes'], d['kept'])" <"$T/out") == "(0, 0, $KEPT_FILES)" ]] ||
	fail "gc with nothing to free: $(cat "$T/out")"
before=$(blob_files)
head -c 4000 /dev/urandom >"$T/junk.bin"
junk=$(sha256sum "$T/junk.bin" | cut -d' ' -f1)
"$R1FLOW_CTL" --blob "$T/junk.bin" "$DATA" '{"op":"blob_put"}' >/dev/null
stray=$(printf '%064d' 7)
head -c 1000 /dev/urandom >"$DATA/blobs/$stray"
r1rc gc --json; expect_rc 0 "gc --json"
[[ $(jq_ "(d['files'], d['bytes'])" <"$T/out") == "(2, 5000)" ]] || fail "gc: expected 2 files, 5000 bytes freed: $(cat "$T/out")"
[[ ! -e $DATA/blobs/$junk && ! -e $DATA/blobs/$stray ]] || fail "gc left an unreferenced file"
[[ $(sql "SELECT count(*) FROM blobs WHERE sha256 = '$junk'") == 0 ]] || fail "gc left the index row of $junk"
[[ $(blob_files) == "$before" ]] || fail "gc touched files in use"
r1rc gc; expect_rc 0 "gc"
grep -q "^removed 0 blob files (0 bytes freed); $KEPT_FILES in use" "$T/out" || fail "gc said: $(cat "$T/out")"
log "gc: $(cat "$T/out")"
finals >"$T/after-gc.sha"
diff "$T/all.sha" "$T/after-gc.sha" >/dev/null || fail "gc changed the final checkpoints"
r1rc export "$ID" zero "$T/zero-model"; expect_rc 0 "export zero after gc"

# --- dataset delete
r1rc dataset delete --help; expect_rc 0 "dataset delete --help"
printf '{"prompt": "1+1=", "answer": "2"}\n{"prompt": "2+2=", "answer": "4"}\n' >"$T/mine.jsonl"
r1rc dataset import "$T/mine.jsonl" --name mine; expect_rc 0 "dataset import"
r1rc dataset delete mine; expect_rc 0 "dataset delete mine"
grep -q "deleted shared dataset 'mine' (2 records)" "$T/out" || fail "dataset delete said: $(cat "$T/out")"
r1rc dataset delete mine; expect_rc 1 "dataset delete mine (again)"
grep -q "no shared dataset of that name" "$T/err" || fail "second delete said: $(cat "$T/err")"
ID2=$(r1 submit "$T/kept.yaml") || fail "submit of a second pipeline refused"
has_corpus() { [[ $(sql "SELECT count(*) FROM datasets WHERE pipeline = $ID2 AND name = 'corpus'") == 1 ]]; }
state_is() { [[ $(r1 status "$ID2" --json | jq_ "d['pipeline']['state']") == "$1" ]]; }
wait_for 20 has_corpus
r1 pause "$ID2" >/dev/null
wait_for 10 state_is paused
r1rc dataset delete corpus --pipeline "$ID2"; expect_rc 1 "dataset delete corpus of a paused pipeline"
grep -q "pipeline $ID2 ('gc') has not finished and reads it" "$T/err" || fail "refusal said: $(cat "$T/err")"
r1 cancel "$ID2" >/dev/null
wait_for 10 state_is cancelled
r1rc dataset delete corpus --pipeline "$ID2" --json; expect_rc 0 "dataset delete corpus of a cancelled pipeline"
[[ $(jq_ "(d['name'], d['pipeline'])" <"$T/out") == "('corpus', $ID2)" ]] || fail "dataset delete --json: $(cat "$T/out")"
[[ $(sql "SELECT count(*) FROM datasets WHERE pipeline = $ID2 AND name = 'corpus'") == 0 ]] ||
	fail "the dataset is still there"
stop "$W"; stop "$DAEMON"
check=$(sql "PRAGMA quick_check")
[[ $check == ok ]] || fail "quick_check: $check"
log "ok"
