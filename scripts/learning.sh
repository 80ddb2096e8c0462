#!/usr/bin/env bash
# Run a pipeline once per seed and report each eval stage across the seeds: the mean
# and the range (min–max) of greedy pass@1, sampled pass@1, format rate, reasoning
# rate and mean answer length, and the wall time of each seed's run. One seed is one
# sample of an experiment on a tiny model; a claim about a recipe needs several.
#
#   scripts/learning.sh pipelines/countdown.yaml
#   scripts/learning.sh pipelines/r1.yaml --seeds 1,2,3 --out ~/r1-seeds
#   scripts/learning.sh pipelines/countdown.yaml --set stages.zero.steps=5 --csv
#
# Each seed runs as `r1flow run PIPELINE --set seed=N [--set ...] --json` (embedded:
# its own daemon and workers) in OUT/seed-N/: data/ is the run's data directory
# (`r1flow daemon --data OUT/seed-N/data` serves it again: report, samples, metrics),
# run.json what run printed (final status and report rows, every digit), run.log its
# errors, command the arguments (and the spec file's sha256) and wall the seconds it took. A seed whose directory
# holds a succeeded run of the same command is not run again, so an interrupted or
# extended series (--seeds 1,2,3,4) resumes; a directory left by another command is
# refused rather than mixed in. The seeds are independent: separate calls with the same
# --out and one seed each may run at the same time, and a last call with every seed
# prints the table from their runs.
#
# The table shows shares as percentages; --csv prints instead one line per stage and
# metric with every digit: stage,metric,n,mean,min,max,seed_N... (stage "run" holds
# the wall seconds). Metrics come from the eval stages' report rows (`r1flow report`);
# --metrics picks others by name (e.g. majk, reward).
#
# Needs jq. The binaries are $R1FLOW, else build/cli/r1flow of this clone, else r1flow
# on PATH. Exit status: 0 every seed succeeded, 1 a run failed (the others still run;
# the table covers the succeeded ones), 2 usage error.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: scripts/learning.sh PIPELINE [options]

Run PIPELINE once per seed (r1flow run --set seed=N) and print, per eval stage, the
mean and range across seeds of greedy pass@1, sampled pass@1, format, reasoning and
length, and each seed's wall time.

options:
  --seeds LIST     comma-separated pipeline seeds (default 1,2,3)
  --set KEY=VALUE  passed to every run (repeatable), e.g. --set stages.zero.steps=20
  --out DIR        where the runs go: DIR/seed-N (default ./learning-NAME, NAME the
                   file's name without .yaml)
  --workers N      local workers per run (default 1: one worker with every core is
                   fastest for a tiny model)
  --metrics LIST   report metrics to aggregate (default
                   pass1,pass1_sampled,format,reasoning,length)
  --csv            print CSV (stage,metric,n,mean,min,max,seed_N...) instead of the table
  -h, --help       show this help

exit status: 0 every seed succeeded, 1 a run failed or could not start, 2 usage error
EOF
}

die_usage() { echo "learning.sh: $*" >&2; echo "try 'scripts/learning.sh --help'" >&2; exit 2; }
die() { echo "learning.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pipeline="" seeds="1,2,3" out="" workers=1 csv=0
metrics="pass1,pass1_sampled,format,reasoning,length"
sets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --seeds) [[ $# -ge 2 ]] || die_usage "--seeds needs a value"; seeds=$2; shift 2 ;;
    --seeds=*) seeds=${1#*=}; shift ;;
    --set) [[ $# -ge 2 ]] || die_usage "--set needs KEY=VALUE"; sets+=(--set "$2"); shift 2 ;;
    --set=*) sets+=(--set "${1#*=}"); shift ;;
    --out) [[ $# -ge 2 ]] || die_usage "--out needs a directory"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --workers) [[ $# -ge 2 ]] || die_usage "--workers needs a number"; workers=$2; shift 2 ;;
    --workers=*) workers=${1#*=}; shift ;;
    --metrics) [[ $# -ge 2 ]] || die_usage "--metrics needs a list"; metrics=$2; shift 2 ;;
    --metrics=*) metrics=${1#*=}; shift ;;
    --csv) csv=1; shift ;;
    -*) die_usage "unknown option '$1'" ;;
    *) [[ -z $pipeline ]] || die_usage "one pipeline only (got '$pipeline' and '$1')"
       pipeline=$1; shift ;;
  esac
done
[[ -n $pipeline ]] || die_usage "no pipeline given"
[[ -f $pipeline ]] || die "cannot read pipeline '$pipeline': no such file"
[[ $seeds =~ ^[0-9]+(,[0-9]+)*$ ]] || die_usage "--seeds '$seeds': must be numbers separated by commas"
[[ $workers =~ ^[1-9][0-9]*$ ]] || die_usage "--workers '$workers': must be a positive number"
[[ $metrics =~ ^[A-Za-z0-9_@]+(,[A-Za-z0-9_@]+)*$ ]] ||
  die_usage "--metrics '$metrics': must be metric names separated by commas"
for s in "${sets[@]}"; do
  [[ $s == --set || $s != seed=* ]] || die_usage "--set $s: the seed is what --seeds sets"
done
command -v jq >/dev/null || die "cannot find jq: install it (scripts/deps.sh does)"

r1flow=${R1FLOW:-}
if [[ -z $r1flow ]]; then
  if [[ -x $root/build/cli/r1flow ]]; then r1flow=$root/build/cli/r1flow
  else r1flow=$(command -v r1flow) || die "cannot find r1flow: build it (ninja -C build) or set R1FLOW"
  fi
fi
name=$(basename "$pipeline"); name=${name%.yaml}; name=${name%.yml}
out=${out:-./learning-$name}
pipeline_abs=$(cd "$(dirname "$pipeline")" && pwd)/$(basename "$pipeline")
mkdir -p "$out" || die "cannot create '$out'"
spec_sha=$(sha256sum <"$pipeline_abs") || die "cannot read pipeline '$pipeline'"
spec_sha=${spec_sha%% *}
IFS=, read -r -a seed_list <<<"$seeds"
IFS=, read -r -a metric_list <<<"$metrics"

# ---- the runs ----------------------------------------------------------------------
failed=0
done_seeds=()
for seed in "${seed_list[@]}"; do
  dir=$out/seed-$seed
  # the command and the file's contents: an edited spec is a different experiment
  cmd="$(printf '%q ' run "$pipeline_abs" --workers "$workers" --set "seed=$seed" "${sets[@]}")# $spec_sha"
  if [[ -e $dir ]]; then
    if [[ -f $dir/command && $(cat "$dir/command") == "$cmd" && -f $dir/run.json &&
          $(jq -r '.pipeline.state' "$dir/run.json" 2>/dev/null) == succeeded ]]; then
      echo "seed $seed: reusing $dir (a succeeded run of the same command)" >&2
      done_seeds+=("$seed")
      continue
    fi
    die "'$dir' holds another or an unfinished run: remove it or choose another --out"
  fi
  mkdir -p "$dir" || die "cannot create '$dir'"
  printf '%s' "$cmd" >"$dir/command"
  echo "seed $seed: r1flow ${cmd%%#*}--data $dir/data" >&2
  start=$(date +%s.%N)
  "$r1flow" run "$pipeline_abs" --workers "$workers" --set "seed=$seed" "${sets[@]}" \
    --json --data "$dir/data" >"$dir/run.json" 2>"$dir/run.log"
  rc=$?
  end=$(date +%s.%N)
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  echo "$wall" >"$dir/wall"
  state=$(jq -r '.pipeline.state // "unknown"' "$dir/run.json" 2>/dev/null || echo "no output")
  if [[ $rc -ne 0 || $state != succeeded ]]; then
    echo "seed $seed: run failed (exit $rc, pipeline $state) after $wall s; see $dir/run.log:" >&2
    tail -n 5 "$dir/run.log" >&2
    failed=1
    continue
  fi
  echo "seed $seed: succeeded in $wall s" >&2
  done_seeds+=("$seed")
done
[[ ${#done_seeds[@]} -gt 0 ]] || die "no seed succeeded; nothing to report"

# ---- the table ---------------------------------------------------------------------
# One JSON document: [{seed, wall, rows: [{stage, metrics}]}], then per stage and
# metric the values in seed order (null where a seed's row lacks the metric).
files=()
for seed in "${done_seeds[@]}"; do files+=("$out/seed-$seed/run.json"); done
walls=$(for seed in "${done_seeds[@]}"; do cat "$out/seed-$seed/wall"; done | jq -s -c .)
seedsj=$(printf '%s\n' "${done_seeds[@]}" | jq -s -c 'map(tonumber)')
metricsj=$(printf '%s\n' "${metric_list[@]}" | jq -R . | jq -s -c .)
summary=$(jq -s -c --argjson seeds "$seedsj" --argjson walls "$walls" \
    --argjson metrics "$metricsj" '
  def stats: (map(select(. != null))) as $v
    | if ($v | length) == 0 then {n: 0, mean: null, min: null, max: null}
      else {n: ($v | length), mean: (($v | add) / ($v | length)), min: ($v | min),
            max: ($v | max)} end;
  . as $runs
  | [$runs[0].report[] | .stage] as $stages
  | {seeds: $seeds,
     rows: ([$stages[] as $s | $metrics[] as $m
             | {stage: $s, metric: $m,
                values: [$runs[] | (.report[] | select(.stage == $s) | .metrics[$m]) // null]}
             | . + (.values | stats)]
            + [{stage: "run", metric: "wall_s", values: $walls} | . + (.values | stats)])}
' "${files[@]}") || die "cannot read the runs' reports (${files[*]})"

print_csv() {
  jq -r '
    (["stage", "metric", "n", "mean", "min", "max"] + (.seeds | map("seed_\(.)"))) as $h
    | ($h | join(",")),
      (.rows[] | [.stage, .metric, .n, .mean, .min, .max] + .values
       | map(if . == null then "" else tostring end) | join(","))' <<<"$summary"
}
if [[ $csv -eq 1 ]]; then
  print_csv
  exit $failed
fi

# The human table, built in bash from the summary for column alignment.
mapfile -t stage_names < <(jq -r '[.rows[] | select(.stage != "run") | .stage]
  | reduce .[] as $s ([]; if index([$s]) then . else . + [$s] end) | .[]' <<<"$summary")
fmt_cell() { # metric mean min max n
  local metric=$1 mean=$2 min=$3 max=$4 n=$5
  if [[ $n == 0 ]]; then printf -- '-'; return; fi
  local scale=1 unit=""
  case $metric in pass*|format*|reasoning*|majk*|maj@*|avg@*) scale=100 unit="%" ;; esac
  awk -v s="$scale" -v u="$unit" -v a="$mean" -v lo="$min" -v hi="$max" -v n="$n" 'BEGIN {
    if (n > 1) printf "%.1f%s [%.1f–%.1f]", a * s, u, lo * s, hi * s
    else printf "%.1f%s", a * s, u }'
}
header="stage"
for m in "${metric_list[@]}"; do header+=$'\t'$m; done
{
  echo "$header"
  for s in "${stage_names[@]}"; do
    line=$s
    for m in "${metric_list[@]}"; do
      read -r mean min max n < <(jq -r --arg s "$s" --arg m "$m" \
        '.rows[] | select(.stage == $s and .metric == $m)
         | [.mean, .min, .max, .n] | map(if . == null then "-" else tostring end) | join(" ")' \
        <<<"$summary")
      line+=$'\t'$(fmt_cell "$m" "$mean" "$min" "$max" "$n")
    done
    echo "$line"
  done
} >"$out/table.tsv"

echo "$name over seeds ${done_seeds[*]} (mean [min–max]; shares in %, length in tokens):"
column -t -s $'\t' "$out/table.tsv" 2>/dev/null || cat "$out/table.tsv"
echo
echo "wall time per seed:"
for seed in "${done_seeds[@]}"; do
  printf '  seed %s  %s s  (%s)\n' "$seed" "$(cat "$out/seed-$seed/wall")" "$out/seed-$seed/data"
done
echo
echo "# csv"
print_csv
exit $failed
