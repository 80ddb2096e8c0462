#!/usr/bin/env bash
# The shipped learning pipelines (pipelines/countdown.yaml, pipelines/r1.yaml) run end
# to end at reduced counts through scripts/learning.sh: every stage succeeds with the
# seed asked, every eval stage of the spec is in the table with each seed's figures, the
# CSV's mean/min/max agree with the per-seed values, and a second call reuses the
# runs instead of redoing them while a changed command is refused.
#
# The reduced counts come from the spec itself (r1flow validate --json), so a stage
# added to a pipeline is reduced too: 2 steps for pretrain, sft and grpo (2 prompts x 4
# samples a step), 2 prompts and 1 sample for evals, 2 prompts for rejection sampling,
# 16 new tokens at most, generated datasets of 256 records at most. The figures of such runs mean nothing; that the pipelines
# still run does. countdown runs two seeds (the aggregation is checked), r1 one.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
command -v jq >/dev/null || fail "jq is not installed (scripts/deps.sh)"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
export R1FLOW=$R1FLOW_CLI

# --set arguments that shrink every stage of the spec FILE, one per line
reduced() {
	"$R1FLOW_CLI" validate --json "$1" | jq -r '
		(.datasets | to_entries[] | select((.value.count // 0) > 256) | "datasets.\(.key).count=256"),
		(.stages[] |
		if .kind == "pretrain" or .kind == "sft" then "stages.\(.name).steps=2"
		elif .kind == "grpo" then "stages.\(.name).steps=2", "stages.\(.name).prompts_per_step=2",
			"stages.\(.name).group=4", "stages.\(.name).max_new_tokens=16"
		elif .kind == "eval" then "stages.\(.name).limit=2", "stages.\(.name).samples=1",
			"stages.\(.name).max_new_tokens=16"
		elif .kind == "rejection_sample" then "datasets.\(.prompts).count=2",
			"stages.\(.name).max_new_tokens=16"
		else empty end)'
}

for name in countdown r1; do
	spec=$SRC/pipelines/$name.yaml
	seeds=1,2
	[[ $name == r1 ]] && seeds=1
	sets=()
	while read -r s; do sets+=(--set "$s"); done < <(reduced "$spec")
	[[ ${#sets[@]} -gt 4 ]] || fail "$name: no reduced counts derived from the spec: ${sets[*]}"
	evals=$("$R1FLOW_CLI" validate --json "$spec" | jq -r '[.stages[] | select(.kind == "eval") | .name] | join(" ")')
	[[ -n $evals ]] || fail "$name: the spec has no eval stage"
	out=$T/$name

	rc=0
	"$SRC/scripts/learning.sh" "$spec" --seeds "$seeds" --out "$out" "${sets[@]}" --csv \
		>"$T/$name.csv" 2>"$T/$name.err" || rc=$?
	[[ $rc == 0 ]] || fail "$name: learning.sh exited $rc: $(cat "$T/$name.err") $(tail -n 20 "$out"/seed-*/run.log 2>/dev/null)"
	for seed in ${seeds//,/ }; do
		[[ $(jq -r .pipeline.state "$out/seed-$seed/run.json") == succeeded ]] ||
			fail "$name seed $seed: the pipeline did not succeed"
		[[ $(jq -r '.pipeline.seed' "$out/seed-$seed/run.json") == "$seed" ]] ||
			fail "$name seed $seed: ran with seed $(jq -r .pipeline.seed "$out/seed-$seed/run.json")"
		bad=$(jq -r '[.stages[] | select(.state != "succeeded") | .name] | join(" ")' \
			"$out/seed-$seed/run.json")
		[[ -z $bad ]] || fail "$name seed $seed: stages not succeeded: $bad"
		[[ -f $out/seed-$seed/data/r1flow.db ]] || fail "$name seed $seed: data directory not kept"
	done

	nseeds=$(tr ',' '\n' <<<"$seeds" | wc -l)
	head -n 1 "$T/$name.csv" | grep -qx "stage,metric,n,mean,min,max,seed_${seeds//,/,seed_}" ||
		fail "$name: CSV header: $(head -n 1 "$T/$name.csv")"
	for s in $evals; do
		for m in pass1 pass1_sampled format reasoning length; do
			line=$(grep "^$s,$m," "$T/$name.csv") || fail "$name: no CSV row for $s $m: $(cat "$T/$name.csv")"
			# n is the number of seeds and mean, min, max are those of the seeds' values
			awk -F, -v k="$nseeds" '{
				if (NF != 6 + k || $3 != k) exit 1
				lo = $7; hi = $7; sum = 0
				for (i = 7; i <= NF; i++) {
					if ($i == "") exit 1
					sum += $i; if ($i < lo) lo = $i; if ($i > hi) hi = $i
				}
				d = $4 - sum / k; if (d < 0) d = -d
				exit !(d < 1e-9 && $5 == lo && $6 == hi) }' <<<"$line" ||
				fail "$name: CSV row $s $m is not the mean and range of its seeds: $line"
		done
	done
	grep -Eq "^run,wall_s,$nseeds,[0-9.]+," "$T/$name.csv" || fail "$name: no wall time row"
	log "$name: seeds $seeds at reduced counts succeeded, every eval stage ($evals) aggregated"

	# the same command again: nothing reruns; the table is printed
	rc=0
	"$SRC/scripts/learning.sh" "$spec" --seeds "$seeds" --out "$out" "${sets[@]}" \
		>"$T/$name.again" 2>"$T/$name.again.err" || rc=$?
	[[ $rc == 0 ]] || fail "$name: the second call exited $rc: $(cat "$T/$name.again.err")"
	[[ $(grep -c "reusing" "$T/$name.again.err") == "$nseeds" ]] ||
		fail "$name: the second call did not reuse every run: $(cat "$T/$name.again.err")"
	first=${evals%% *}
	pattern="^$first +[0-9.]+%"
	[[ $nseeds -gt 1 ]] && pattern+=" \[[0-9.]+–[0-9.]+\]"
	grep -Eq "$pattern" "$T/$name.again" ||
		fail "$name: no table row for $first: $(cat "$T/$name.again")"
	grep -qx '# csv' "$T/$name.again" || fail "$name: the table has no CSV block"
done

# another command on the same directory is refused, not mixed in
rc=0
"$SRC/scripts/learning.sh" "$SRC/pipelines/countdown.yaml" --seeds 1 --out "$T/countdown" \
	--set stages.base.steps=3 >"$T/mixed.out" 2>"$T/mixed.err" || rc=$?
[[ $rc == 1 ]] && grep -q "holds another or an unfinished run" "$T/mixed.err" ||
	fail "a changed command reused the runs (exit $rc): $(cat "$T/mixed.err")"
log "a second call reuses the runs; a changed command is refused"
