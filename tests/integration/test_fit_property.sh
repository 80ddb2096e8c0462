#!/usr/bin/env bash
# Property: whatever max_seq, template, prompt, response and document lengths,
# max_new_tokens, samples and group sizes a spec has, `r1flow validate` either refuses
# it naming the stage, the dataset and the record (FILE:LINE), and then submit refuses
# it too, or the pipeline runs to completion — and the daemon never dies. Random specs
# against one daemon and one worker, for a bounded time (R1FLOW_FIT_SECONDS, default
# 60) or R1FLOW_FIT_SPECS specs (default 40), whichever comes first. The seed is
# printed; R1FLOW_FIT_SEED=N replays a run. Under the sanitizer build an out-of-bounds
# write anywhere in packing kills the daemon with a report, which fails the test.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA

seed=${R1FLOW_FIT_SEED:-$(date +%s)}
budget=${R1FLOW_FIT_SECONDS:-60}
max_specs=${R1FLOW_FIT_SPECS:-40}
RANDOM=$seed
log "seed $seed (R1FLOW_FIT_SEED=$seed replays this run)"

rnd() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); }   # an integer in [$1, $2]
xs() { local n=$1 c=${2:-x}; printf "%${n}s" "" | tr ' ' "$c"; }  # n copies of c

start_daemon
start_worker w1 --name w1
wait_for 10 has_workers 1

deadline=$(( $(now_ms) + budget * 1000 ))
refused=0 ran=0 i=0
while (( i < max_specs && $(now_ms) < deadline )); do
	i=$((i + 1))
	dir=$T/s$i
	mkdir -p "$dir"
	max_seq=$(rnd 12 80)
	max_new=$(rnd 1 32)
	kinds=(eval sft grpo rejection_sample pretrain)
	kind=${kinds[$(rnd 0 4)]}
	tpl="$(xs "$(rnd 0 20)" T){prompt}$(xs "$(rnd 0 6)" U)<think>"
	n=$(rnd 4 10)
	: >"$dir/data.jsonl"
	: >"$dir/docs.jsonl"
	for ((r = 0; r < n; r++)); do
		printf '{"prompt":"%s","answer":"1","response":"%s</think><answer>1</answer>"}\n' \
			"$(xs "$(rnd 1 30)" p)" "$(xs "$(rnd 0 40)" r)" >>"$dir/data.jsonl"
		printf '{"text":"%s"}\n' "$(xs "$(rnd 1 200)" d)" >>"$dir/docs.jsonl"
	done
	case $kind in
	eval) stage="{name: s, kind: eval, dataset: data, samples: $(rnd 1 3), max_new_tokens: $max_new}" ;;
	sft) stage="{name: s, kind: sft, dataset: data, steps: 2, batch: $(rnd 1 6), shard: $(rnd 1 4)}" ;;
	grpo) stage="{name: s, kind: grpo, prompts: data, rewards: [accuracy], group: $(rnd 2 4),
	     prompts_per_step: $(rnd 1 3), steps: 1, shard: $(rnd 1 8), max_new_tokens: $max_new}" ;;
	rejection_sample) stage="{name: base, kind: pretrain, dataset: docs, steps: 1, batch: 2}
  - {name: s, kind: rejection_sample, from: base, prompts: data, rewards: [accuracy],
	     samples: $(rnd 1 3), max_new_tokens: $max_new, output: out, filters: {correct: false}}" ;;
	pretrain) stage="{name: s, kind: pretrain, dataset: docs, steps: 2, batch: $(rnd 1 6), shard: $(rnd 1 4)}" ;;
	esac
	cat >"$dir/spec.yaml" <<EOF
version: 1
name: fit$i
seed: $i
model:
  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: $max_seq}
datasets:
  data: {file: $dir/data.jsonl}
  docs: {file: $dir/docs.jsonl}
rewards:
  accuracy: {fn: accuracy, weight: 1.0}
template: "$tpl"
stages:
  - $stage
EOF
	what="spec $i ($kind, max_seq $max_seq, max_new_tokens $max_new, template ${#tpl} chars)"
	rc=0
	"$R1FLOW_CLI" validate "$dir/spec.yaml" >"$dir/validate.out" 2>&1 || rc=$?
	if [[ $rc == 1 ]]; then
		grep -Eq "stage 's': dataset '(data|docs)' record [0-9]+ \\($dir/(data|docs)\\.jsonl:[0-9]+\\): .*max_seq $max_seq" \
			"$dir/validate.out" || fail "$what: validate refused without a position: $(cat "$dir/validate.out")"
		rc=0
		"$R1FLOW_CLI" submit "$dir/spec.yaml" >"$dir/submit.out" 2>&1 || rc=$?
		[[ $rc == 1 ]] || fail "$what: validate refused it but submit exited $rc: $(cat "$dir/submit.out")"
		grep -Eq "stage 's': dataset '(data|docs)' record [0-9]+" "$dir/submit.out" ||
			fail "$what: submit refused it without naming the record: $(cat "$dir/submit.out")"
		refused=$((refused + 1))
	elif [[ $rc == 0 ]]; then
		id=$("$R1FLOW_CLI" submit "$dir/spec.yaml" 2>"$dir/submit.err") ||
			fail "$what: validate passed but submit failed: $(cat "$dir/submit.err")"
		rc=0
		timeout 120 "$R1FLOW_CLI" watch "$id" >"$dir/watch.out" 2>&1 || rc=$?
		state=$("$R1FLOW_CLI" status "$id" --json |
			/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pipeline"]["state"])')
		[[ $state == succeeded ]] ||
			fail "$what: validated but ended '$state' (watch exit $rc): $(tail -n 3 "$dir/watch.out")"
		ran=$((ran + 1))
	else
		fail "$what: validate exited $rc: $(cat "$dir/validate.out")"
	fi
	kill -0 "$DAEMON" 2>/dev/null || fail "$what: the daemon died"
done
(( refused > 0 && ran > 0 )) ||
	fail "$i specs gave $refused refused and $ran run: the property was not exercised both ways"
log "$i random specs: $refused refused by validate and submit with the record, $ran ran to completion; the daemon lived"
echo "PASS"
