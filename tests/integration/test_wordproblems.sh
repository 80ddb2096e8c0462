#!/usr/bin/env bash
# pipelines/wordproblems.yaml, the template for bringing your own data, at reduced step
# counts: scripts/wordproblems.py writes the GSM8K-shaped files (held-out test set, no
# question repeated in training), the spec maps them (`fields`, the answer cut after
# "####"), `dataset show --templated` shows what the SFT stage trains on, and
# `r1flow run` takes SFT, an eval, GRPO rewarded by `math` and a second eval to the
# end; the reward jobs carried each record's extra keys, and GRPO recorded math's mean.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
export TMPDIR=$T/tmp
mkdir "$TMPDIR" "$T/wp"

# --- the data: two files, disjoint questions, GSM8K's shape
/usr/bin/python3 "$SRC/scripts/wordproblems.py" "$T/wp" --train 300 --test 12 >"$T/gen.out" ||
	fail "wordproblems.py failed: $(cat "$T/gen.out")"
[[ $(wc -l <"$T/wp/wordproblems_train.jsonl") == 300 && $(wc -l <"$T/wp/wordproblems_test.jsonl") == 12 ]] ||
	fail "wordproblems.py wrote the wrong counts: $(cat "$T/gen.out")"
[[ -z $(comm -12 <(jq -r .question "$T/wp/wordproblems_train.jsonl" | sort -u) \
	<(jq -r .question "$T/wp/wordproblems_test.jsonl" | sort -u)) ]] ||
	fail "a test question is in the training set"
jq -e 'select((.answer | test("\n#### [0-9]+$") | not) or (.id | type) != "string")' \
	"$T/wp/wordproblems_test.jsonl" >/dev/null && fail "a line is not GSM8K-shaped"
cp "$SRC/pipelines/wordproblems.yaml" "$T/wp/"
S=$T/wp/wordproblems.yaml
"$R1FLOW_CLI" validate "$S" >"$T/out" 2>&1 || fail "validate: $(cat "$T/out")"
log "data: 300 + 12 GSM8K-shaped problems, disjoint; the spec validates"

# --- what the SFT stage trains on: the mapped prompt, the worked answer, "#### N" cut out
q=$(jq -r .question <(head -n 1 "$T/wp/wordproblems_train.jsonl"))
a=$(jq -r .answer <(head -n 1 "$T/wp/wordproblems_train.jsonl"))
"$R1FLOW_CLI" dataset show train --templated --spec "$S" --limit 1 >"$T/show.txt" 2>"$T/err" ||
	fail "dataset show --templated: $(cat "$T/err")"
grep -qF "Question: $q" "$T/show.txt" || fail "the templated prompt is not the question: $(cat "$T/show.txt")"
grep -qxF "  answer    ${a##*#### }" "$T/show.txt" || fail "the answer was not cut after ####: $(cat "$T/show.txt")"
grep -qF "\"steps\":" "$T/show.txt" || fail "the record lost its extra key: $(cat "$T/show.txt")"
log "dataset show --templated: the question templated, the answer '${a##*#### }' cut out, the record kept"

# --- the whole pipeline, a few steps a stage
rc=0
"$R1FLOW_CLI" run "$S" --workers 1 --data "$T/run" --plain \
	--set stages.sft.steps=6 --set stages.sft.batch=16 --set stages.sft.warmup=0 \
	--set stages.rl.steps=2 --set stages.rl.prompts_per_step=4 --set stages.rl.group=4 \
	--set stages.eval_sft.samples=2 --set stages.eval_rl.samples=2 \
	>"$T/run.out" 2>"$T/run.err" || rc=$?
[[ $rc == 0 ]] || fail "run exited $rc: $(tail -n 20 "$T/run.out") $(cat "$T/run.err")"
grep -Eq "^eval_sft +sft +([0-9.]+% +){5}[0-9.]+$" "$T/run.out" &&
	grep -Eq "^eval_rl +rl +([0-9.]+% +){5}[0-9.]+$" "$T/run.out" ||
	fail "run printed no report rows for both evals: $(cat "$T/run.out")"
DB=$T/run/r1flow.db
q() { sqlite3 -batch -noheader "$DB" "$1"; }
# every reward job item carried the record's extra keys (id, steps) and the extracted answer
items=$(q "SELECT count(*) FROM jobs j, json_each(j.params, '\$.items') i WHERE j.kind = 'reward'")
good=$(q "SELECT count(*) FROM jobs j, json_each(j.params, '\$.items') i WHERE j.kind = 'reward'
	AND json_extract(i.value, '\$.record.id') LIKE 'wp-%'
	AND json_type(i.value, '\$.record.steps') = 'integer'
	AND json_extract(i.value, '\$.answer') GLOB '[0-9]*'")
[[ $items -gt 0 && $items == "$good" ]] || fail "reward items without the record or answer: $good of $items"
# GRPO recorded math's mean each step; the evals judged with math (correct: math)
n=$(q "SELECT count(*) FROM metrics m JOIN stages s ON s.id = m.stage WHERE s.name = 'rl' AND m.name = 'reward_math_mean'")
[[ $n == 2 ]] || fail "rl recorded reward_math_mean at $n steps, not 2"
v=$(q "SELECT json_extract(spec, '\$.correct') FROM stages WHERE name = 'eval_rl'")
[[ $v == math ]] || fail "eval_rl's correct is '$v', not math"
log "run: sft, eval, grpo (math), eval succeeded; $items reward items carried their record"
