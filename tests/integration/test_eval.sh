#!/usr/bin/env bash
# Evaluation through the CLI against a real daemon and 1 worker: a tiny pretrain, then
# an eval whose `correct:` names a reward (language_consistency over the arithmetic symbols, so a
# barely trained model is right now and then) over two datasets with pass_at [1, 4, 8],
# and an eval left to its default (the pipeline's accuracy-type reward). Checks: the
# normalised spec says which reward decides; pass@k and avg@k are there, pooled and per
# dataset, and consistent (pass@1 <= pass@4 <= pass@8, avg@k = pass@1 = pass1_sampled,
# the pooled value the record-weighted mean of the datasets'); every stored answer is
# right exactly when the named reward is >= 1, and the metrics count what the samples
# say (metrics are stored as float32: compared to 1e-6); `r1flow samples` shows an eval's greedy and sampled answers with prompt, answer
# and components; no hidden component (eval_*, @*) in metrics or samples.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA

cat >"$T/ev.yaml" <<'EOF'
version: 1
name: evals
seed: 1
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 500}
  test: {generate: arithmetic, style: problem, count: 12, seed: 2}
  more: {generate: arithmetic, style: problem, count: 8, seed: 3}
rewards:
  acc: {fn: accuracy}
  symbols: {fn: language_consistency, alphabet: "0123456789+="}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 8, batch: 16}
  - {name: ev, kind: eval, from: base, datasets: [test, more], correct: symbols, samples: 8,
     pass_at: [1, 4, 8], max_new_tokens: 2}
  - {name: ev_default, kind: eval, from: base, dataset: test, samples: 2, max_new_tokens: 2}
EOF

# --- the normalised spec says which reward decides
r1rc validate --json "$T/ev.yaml"; expect_rc 0 "validate --json"
[[ $(jq_ '[(s["name"], s.get("correct"), s.get("pass_at"), s.get("datasets")) for s in d["stages"][1:]]' <"$T/out") == \
	"[('ev', 'symbols', [1, 4, 8], ['test', 'more']), ('ev_default', 'acc', [2], None)]" ]] ||
	fail "validate --json: $(cat "$T/out")"
log "validate: correct symbols (named) and acc (the accuracy-type default), pass_at, datasets"

start_daemon
start_worker w1 --name w1
wait_for 10 has_workers 1
r1rc submit "$T/ev.yaml"; expect_rc 0 submit
ID=$(cat "$T/out")
r1rc watch "$ID" --plain; expect_rc 0 "watch $ID"

# --- metrics: pass@k, avg@k, per dataset, consistent, nothing hidden
r1rc metrics "$ID" --stage ev --json; expect_rc 0 "metrics --stage ev --json"
cp "$T/out" "$T/ev.json"
m='{k: v[0][1] for k, v in d["stages"][0]["metrics"].items()}'
check="[[(sfx, m['pass@1' + sfx] <= m['pass@4' + sfx] <= m['pass@8' + sfx],
	all(abs(m['avg@%d' % k + sfx] - m['pass1_sampled' + sfx]) < 1e-6 for k in (1, 4, 8)),
	abs(m['pass@1' + sfx] - m['pass1_sampled' + sfx]) < 1e-6,
	all(k + sfx in m for k in ('pass1', 'format', 'reasoning', 'length', 'reward', 'majk',
		'format_sampled', 'length_sampled', 'reward_sampled', 'reasoning_sampled')))
	for sfx in ('', '/test', '/more')] for m in [$m]][0]"
[[ $(jq_ "$check" <"$T/out") == "[('', True, True, True, True), ('/test', True, True, True, True), ('/more', True, True, True, True)]" ]] ||
	fail "ev's pass@k and avg@k: $(jq_ "$check" <"$T/out"): $(cat "$T/out")"
pooled="[[abs(m[k] - (12 * m[k + '/test'] + 8 * m[k + '/more']) / 20) < 1e-6 for k in ('pass1', 'pass1_sampled', 'pass@4', 'pass@8', 'format', 'length')] for m in [$m]][0]"
[[ $(jq_ "$pooled" <"$T/out") == "[True, True, True, True, True, True]" ]] ||
	fail "ev's pooled metrics are not the datasets' weighted mean: $(jq_ "$pooled" <"$T/out")"
log "ev: $(jq_ "[(k, round(v, 3)) for k, v in sorted($m.items()) if '/' not in k and k[0] == 'p']" <"$T/out")"
r1rc metrics "$ID" --json; expect_rc 0 "metrics --json"
[[ $(jq_ '[k for s in d["stages"] for k in s["metrics"] if k.startswith(("eval_", "@")) or "_eval_" in k]' <"$T/out") == "[]" ]] ||
	fail "hidden components in the metrics: $(cat "$T/out")"
r1rc metrics "$ID" --stage ev_default --json; expect_rc 0 "metrics --stage ev_default --json"
[[ $(jq_ 'sorted(k for k in d["stages"][0]["metrics"] if "@" in k or "/" in k)' <"$T/out") == "['avg@2', 'pass@2']" ]] ||
	fail "ev_default: one dataset has no per-dataset metrics, pass@samples by default: $(cat "$T/out")"
log "metrics: pass@k <= pass@k', avg@k = pass1_sampled, per dataset and pooled, nothing hidden"

# --- samples: the stored answers say what the metrics count
r1rc samples "$ID" ev --step 1 --json; expect_rc 0 "samples ev --step 1 --json"
s1='[(len(d["samples"]), d["sampling"], [s["dataset"] for s in d["samples"]] == ["test"] * 96 + ["more"] * 64,
	all(s["correct"] == (s["rewards"]["symbols"] >= 1) for s in d["samples"]),
	all(sorted(s["rewards"]) == ["acc", "symbols", "total"] and "advantage" not in s for s in d["samples"]),
	all(s["prompt"] and s["answer"] for s in d["samples"]),
	[s["idx"] for s in d["samples"]] == list(range(160)),
	sum(s["correct"] for s in d["samples"][:96]) / 96.0)][0]'
got=$(jq_ "$s1" <"$T/out")
[[ $got == "(160, 'sampled', True, True, True, True, True, "* ]] || fail "samples ev --step 1: $got"
share=${got##*, }; share=${share%)}
want=$(jq_ "$m['pass1_sampled/test']" <"$T/ev.json")
[[ $(python3 -c "print(abs($share - $want) < 1e-6)") == True ]] ||
	fail "pass1_sampled/test is $want but the stored samples of test are right $share of the time"
r1rc samples "$ID" ev_default --json; expect_rc 0 "samples ev_default --json"
[[ $(jq_ 'all(s["correct"] == (s["rewards"]["acc"] >= 1) for s in d["samples"])' <"$T/out") == True ]] ||
	fail "ev_default: correct is not acc >= 1: $(cat "$T/out")"
r1rc samples "$ID" ev --step 0; expect_rc 0 "samples ev --step 0"
[[ $(head -n 1 "$T/out") == "stage 'ev' of pipeline $ID, step 0 (greedy): 20 samples" ]] ||
	fail "samples ev --step 0: $(head -n 3 "$T/out")"
[[ $(grep -Ec "^step 0 · record [0-9]+ · dataset (test|more)$" "$T/out") == 20 &&
	$(grep -Ec "^  prompt  [0-9]+\+[0-9]+$" "$T/out") == 20 && $(grep -Ec "^  answer  [0-9]+$" "$T/out") == 20 &&
	$(grep -Ec "^  #[0-9 ]+ reward +[0-9.-]+  adv +-  (right|wrong)  (stop|length) +[0-9]+ tok  " "$T/out") == 20 &&
	$(grep -Ec "^ +acc [0-9.e-]+ · symbols [0-9.e-]+$" "$T/out") == 20 ]] ||
	fail "samples ev --step 0: $(cat "$T/out")"
grep -Eq "eval_|@" "$T/out" && fail "samples ev shows a hidden component: $(cat "$T/out")"
sed -n '1,6p' "$T/out" | sed 's/^/#   /'
log "samples: 160 sampled and 20 greedy answers with dataset, prompt, answer, verdict, components"

# --- report: the pooled row of each eval, then ev's row per dataset
r1rc report "$ID"; expect_rc 0 report
[[ $(grep -Eo "^ev[a-z_/]* +base +([0-9.]+% +){5}[0-9.]+$" "$T/out" | cut -d' ' -f1 | tr '\n' ' ') == "ev ev/more ev/test ev_default " ]] ||
	fail "report: not the rows ev, ev/more, ev/test, ev_default: $(cat "$T/out")"
r1rc report "$ID" --markdown; expect_rc 0 "report --markdown"
grep -q "^| ev/test | base | " "$T/out" || fail "report --markdown has no ev/test row: $(cat "$T/out")"
sed 's/^/#   /' "$T/out"
log "ok"
