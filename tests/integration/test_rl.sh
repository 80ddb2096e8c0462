#!/usr/bin/env bash
# The RL stages end to end (docs/architecture.md, docs/pipelines.md): a tiny R1-shaped pipeline —
# pretrain, GRPO from the base (zero), rejection sampling from zero (rs_data), a merge
# with cold-start data (mixed), SFT from the base on it, a last GRPO with mu 2, a
# reference refreshed every step, dynamic sampling, truncation masking and token-mean
# loss (final), and an eval — runs with 1 worker and again with 2 (fresh data
# directories and caches). Every stage's final checkpoint sha256 must be the same in
# both runs. zero also scores a `math` reward (weight 0: a spec with fn: math validates,
# its values are recorded and each is 0, 0.2 or 1). On the 1-worker run: zero's per-step
# metrics (CSV), `r1flow samples`
# (human: 4 groups of 4 of the last step; --json of step 1: advantages centred per
# group), the datasets the stages wrote (rs_data: the kept samples; mixed: rs_data +
# 20 cold), rs's kept and sampled counts, and the eval in the report.
#
# Ten pretrain steps teach the model nothing: it writes byte noise, accuracy is 0
# everywhere. So the GRPO stages also reward length (DAPO's overlong penalty over the
# whole 16 tokens), which differs within a group whenever a sample stops early: the
# advantages are not all 0 and final's dynamic sampling keeps groups. rs drops no
# sample for its language (noise is not arithmetic), so it keeps one per prompt.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/rl.yaml" <<'EOF'
version: 1
name: rl
seed: 5
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 500}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 100, seed: 3}
  cold:    {generate: arithmetic, digits: 2, style: worked, count: 100, seed: 1}
  test:    {generate: arithmetic, digits: 2, style: problem, count: 20, seed: 2}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 16, buffer: 16}   # rewards that differ within a group
  m: {fn: math, weight: 0, extract: [answer_tag, last_number], format_credit: 0.2}  # scored only
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 10, batch: 16}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len, m], group: 4,
     prompts_per_step: 4, steps: 3, max_new_tokens: 16, shard: 8, beta: 0.02}
  - {name: rs, kind: rejection_sample, from: zero, prompts: prompts, rewards: [acc],
     samples: 2, max_new_tokens: 16, output: rs_data,
     filters: {correct: false, mixed_language: false, max_per_prompt: 1}}
  - {name: mix, kind: merge, inputs: [{dataset: rs_data}, {dataset: cold, cap: 20}],
     output: mixed}
  - {name: sft2, kind: sft, from: base, dataset: mixed, steps: 3, batch: 8}
  - {name: final, kind: grpo, from: sft2, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 4, steps: 2, max_new_tokens: 16, shard: 8, beta: 0.02, mu: 2,
     ref_refresh: 1, dynamic_sampling: true, mask_truncated: true, loss_agg: token_mean}
  - {name: eval_final, kind: eval, from: final, dataset: test, samples: 2, max_new_tokens: 16}
EOF

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
# run r1 with the output in $T/out and $T/err; the exit status in $RC
r1rc() { RC=0; R1FLOW_DATA=$DATA "$R1FLOW_CLI" "$@" >"$T/out" 2>"$T/err" || RC=$?; }
# every stage's final checkpoint: "stage sha256" lines in stage order
finals() {
	sql "SELECT s.name, c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE c.step = (SELECT max(step) FROM checkpoints WHERE stage = c.stage)
		ORDER BY s.id"
}

# --- samples: help and usage errors need no daemon
r1rc samples --help; expect_rc 0 "samples --help"
grep -q "r1flow samples" "$T/out" && grep -q "example:" "$T/out" && grep -q "exit status" "$T/out" ||
	fail "samples --help lacks the verb, an example or the exit statuses: $(cat "$T/out")"
for args in "samples" "samples 1" "samples x zero" "samples 1 zero extra" "samples 1 zero --step -1" \
	"samples 1 zero --limit 0" "samples 1 zero --no-such-option"; do
	r1rc $args; expect_rc 2 "$args"
	grep -q "see 'r1flow samples --help'" "$T/err" || fail "$args: usage error without a pointer: $(cat "$T/err")"
done
r1rc samples 1 zero --data "$T/nodaemon"; expect_rc 1 "samples (no daemon)"
grep -q "no daemon at" "$T/err" || fail "samples without a daemon said: $(cat "$T/err")"

# run NAME WORKERS: the pipeline on $T/NAME (its own cache); the final shas in $T/NAME.sha
run() {
	local name=$1 nw=$2 i t0 t1 pids=()
	DATA=$T/$name
	rm -rf "$T/cache"
	start_daemon
	for (( i = 1; i <= nw; i++ )); do start_worker "$name-w$i" --threads 1; pids+=("$LAST_PID"); done
	wait_for 10 has_workers "$nw"
	t0=$(now_ms)
	ID=$(r1 submit "$T/rl.yaml") || fail "$name: submit refused"
	local rc=0
	timeout 60 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/$name-watch.log" 2>&1 || rc=$?
	t1=$(now_ms)
	[[ $rc == 0 ]] || fail "$name: watch exited $rc: $(tail -n 5 "$T/$name-watch.log"); $(r1 status "$ID")"
	[[ $(count failed) == 0 ]] || fail "$name: jobs failed: $(sql "SELECT id, kind, error FROM jobs WHERE state = 'failed'")"
	log "$name: $nw worker(s): pipeline $ID succeeded in $(( t1 - t0 )) ms"
	sql "SELECT '#   ' || s.name || ' ' || (s.finished_at - s.started_at) || ' ms' FROM stages s ORDER BY s.id" 2>/dev/null || true
	finals >"$T/$name.sha"
	sed 's/^/#   /' "$T/$name.sha"
	for s in base zero sft2 final; do
		grep -q "^$s|" "$T/$name.sha" || fail "$name: no checkpoint of $s: $(cat "$T/$name.sha")"
	done
}
stop_all() {
	for pid in "${PIDS[@]}"; do
		[[ $pid == "$DAEMON" ]] && continue
		kill -0 "$pid" 2>/dev/null || continue
		stop "$pid"; [[ $STOPPED_RC == 0 ]] || fail "worker $pid exited $STOPPED_RC after SIGTERM"
	done
	stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "r1flowd exited $STOPPED_RC after SIGTERM"
	PIDS=()
}

run one 1

# --- the reference runs once per sample: final (mu 2) has its round-0 grad jobs return the
# reference's log-probs and its round-1 jobs take them (no second reference forward);
# zero (mu 1) neither asks nor gives
refq() { sql "SELECT count(*) FROM jobs j JOIN stages s ON s.id = j.stage WHERE j.kind = 'grad'
	AND s.name = '$1' AND $2"; }
r0=$(refq final "j.shard < 100000"); r1n=$(refq final "j.shard >= 100000")
(( r0 > 0 && r1n > 0 )) || fail "final: $r0 round-0 and $r1n round-1 grad jobs, expected some of both"
[[ $(refq final "j.shard < 100000 AND json_extract(j.params, '\$.return_ref_lp') = 1
	AND json_array_length(j.result, '\$.ref_lp') = json_array_length(j.params, '\$.seqs')") == "$r0" ]] ||
	fail "final: not every round-0 grad job returned the reference's log-probs"
[[ $(refq final "j.shard >= 100000 AND json_extract(j.params, '\$.return_ref_lp') = 0
	AND json_extract(j.params, '\$.seqs[0].ref_lp') IS NOT NULL") == "$r1n" ]] ||
	fail "final: not every round-1 grad job was given the reference's log-probs"
[[ $(refq zero "json_extract(j.params, '\$.return_ref_lp') = 0 AND json_extract(j.result, '\$.ref_lp') IS NULL
	AND json_extract(j.params, '\$.seqs[0].ref_lp') IS NULL") == $(refq zero 1) ]] ||
	fail "zero (mu 1): a grad job asked for or was given the reference's log-probs"
log "final: $r0 round-0 grad jobs returned the reference's log-probs, $r1n round-1 jobs took them"

# --- zero's per-step metrics
r1rc metrics "$ID" --stage zero --csv; expect_rc 0 "metrics --stage zero --csv"
for m in reward_mean kl clip_frac entropy length_mean zero_std_groups reward_m_mean; do
	[[ $(grep -Eo "^zero,[0-9]+,$m,[0-9.e+-]+$" "$T/out" | cut -d, -f2 | tr '\n' ' ') == "1 2 3 " ]] ||
		fail "metrics --csv: $m is not recorded for steps 1..3: $(grep ",$m," "$T/out")"
done
log "zero: $(grep -E ',(reward_mean|kl|reward_m_mean),' "$T/out" | tr '\n' ' ')"

# --- samples: the latest step (3), grouped by prompt; step 1 as JSON
r1rc samples "$ID" zero; expect_rc 0 "samples $ID zero"
[[ $(head -n 1 "$T/out") == "stage 'zero' of pipeline $ID, step 3: 16 samples" ]] || fail "samples: $(cat "$T/out")"
[[ $(grep -Ec "^step 3 · record [0-9]+ · dataset prompts$" "$T/out") == 4 ]] || fail "samples: not 4 groups: $(cat "$T/out")"
[[ $(grep -Ec "^  prompt  [0-9]+\+[0-9]+$" "$T/out") == 4 && $(grep -Ec "^  answer  [0-9]+$" "$T/out") == 4 ]] ||
	fail "samples: not 4 prompts and answers: $(cat "$T/out")"
[[ $(grep -Ec "^  #[0-9 ]+ reward +[0-9.-]+  adv +[+-][0-9]+\.[0-9]{2}  (right|wrong)  (stop|length) +[0-9]+ tok  " "$T/out") == 16 ]] ||
	fail "samples: not 16 sample lines: $(cat "$T/out")"
[[ $(grep -Ec "^ {7}acc [0-9.e-]+ · len [0-9.e-]+ · m [0-9.e-]+$" "$T/out") == 16 ]] ||
	fail "samples: not 16 lines of components (acc, len and m, nothing hidden): $(cat "$T/out")"
[[ $(wc -l <"$T/out") == 45 ]] || fail "samples: a text was not kept on one line: $(cat "$T/out")"
sed -n '1,6p' "$T/out" | sed 's/^/#   /'
r1rc samples "$ID" zero --step 1 --json; expect_rc 0 "samples --step 1 --json"
check='(d["stage"], d["step"], len(d["samples"]), {s["step"] for s in d["samples"]},
	[s["idx"] for s in d["samples"]] == list(range(16)),
	all(len({s["record"] for s in d["samples"][g:g+4]}) == 1 for g in range(0, 16, 4)),
	all(sorted(s["rewards"]) == ["acc", "len", "m", "total"] and s["finish"] in ("stop", "length") for s in d["samples"]),
	all(s["correct"] == (s["rewards"]["acc"] >= 1) and s["dataset"] == "prompts" and s["prompt"] for s in d["samples"]),
	max(abs(sum(s["advantage"] for s in d["samples"][g:g+4])) for g in range(0, 16, 4)) < 1e-6,
	any(abs(s["advantage"]) > 0.1 for s in d["samples"]),
	all(s["rewards"].get("m") in (0, 0.2, 1) for s in d["samples"]))'
[[ $(jq_ "$check" <"$T/out") == "('zero', 1, 16, {1}, True, True, True, True, True, True, True)" ]] ||
	fail "samples --step 1 --json: $(jq_ "$check" <"$T/out"): $(cat "$T/out")"
r1rc samples "$ID" zero --step 2 --limit 5 --json; expect_rc 0 "samples --limit 5"
[[ $(jq_ '(d["step"], len(d["samples"]))' <"$T/out") == "(2, 5)" ]] || fail "samples --limit 5: $(cat "$T/out")"
r1rc samples "$ID" zero --step 99; expect_rc 0 "samples --step 99"
[[ $(cat "$T/out") == "stage 'zero' of pipeline $ID has no samples at step 99" ]] || fail "samples --step 99: $(cat "$T/out")"
r1rc samples "$ID" nosuch; expect_rc 1 "samples of an unknown stage"
grep -q "^r1flow samples: .*nosuch" "$T/err" || fail "samples of an unknown stage said: $(cat "$T/err")"
r1rc samples 999999 zero; expect_rc 1 "samples of an unknown pipeline"
log "samples: 4 groups x 4 of step 3; step 1 as JSON, advantages centred per group"

# --- every stage of status --json carries its headline metric at its last step
r1rc status "$ID" --json; expect_rc 0 "status --json"
heads='[(s["name"], s["metric"]["name"], s["metric"]["step"]) for s in d["stages"]]'
[[ $(jq_ "$heads" <"$T/out") == "[('base', 'loss', 10), ('zero', 'reward_mean', 3), ('rs', 'kept', 0), ('mix', 'count', 0), ('sft2', 'loss', 3), ('final', 'reward_mean', 2), ('eval_final', 'pass1', 0)]" ]] ||
	fail "status --json headline metrics: $(jq_ "$heads" <"$T/out")"

# --- GRPO's metrics: accuracy and format, each named reward's mean, nothing hidden
r1rc metrics "$ID" --stage zero --json; expect_rc 0 "metrics --stage zero --json"
names='sorted(k for k in d["stages"][0]["metrics"] if k.startswith(("reward_", "accuracy", "format", "eval_", "@")))'
[[ $(jq_ "$names" <"$T/out") == "['accuracy', 'format', 'reward_acc_mean', 'reward_acc_std', 'reward_len_mean', 'reward_len_std', 'reward_m_mean', 'reward_m_std', 'reward_mean', 'reward_std']" ]] ||
	fail "zero's metrics: $(jq_ "$names" <"$T/out")"

# --- what rs and mix wrote
r1rc metrics "$ID" --stage rs --json; expect_rc 0 "metrics --stage rs --json"
rs='{k: v[0][1] for k, v in d["stages"][0]["metrics"].items()}'
kept=$(jq_ "int($rs['kept'])" <"$T/out"); sampled=$(jq_ "int($rs['sampled'])" <"$T/out")
[[ $sampled == 200 ]] || fail "rs sampled $sampled, expected 200: $(cat "$T/out")"
(( kept >= 1 && kept <= 100 )) || fail "rs kept $kept, expected 1..100 (one per prompt at most)"
r1rc datasets --pipeline "$ID" --json; expect_rc 0 "datasets --pipeline --json"
counts='{x["name"]: x["count"] for x in d["datasets"]}'
[[ $(jq_ "$counts.get('rs_data')" <"$T/out") == "$kept" && $(jq_ "$counts.get('mixed')" <"$T/out") == $(( kept + 20 )) ]] ||
	fail "datasets: rs_data should hold $kept and mixed $(( kept + 20 )): $(cat "$T/out")"
log "rs: sampled $sampled, kept $kept; mixed $(( kept + 20 ))"

r1rc report "$ID"; expect_rc 0 report
grep -Eq "^eval_final +final +" "$T/out" || fail "report has no eval_final row: $(cat "$T/out")"
sed 's/^/#   /' "$T/out"
stop_all

run two 2
stop_all
diff "$T/one.sha" "$T/two.sha" >"$T/sha.diff" ||
	fail "final checkpoints differ between 1 and 2 workers: $(cat "$T/sha.diff")"
log "every stage's final checkpoint identical with 1 and 2 workers"
log "ok"
