#!/usr/bin/env bash
# scale.sh — does a GRPO stage get faster with more workers? The demo's `zero` stage
# (pipelines/r1.yaml: its model, prompts, rewards and GRPO settings) for a fixed
# number of steps, on a base model pretrained once at the start, run by
#
#   1x1   one worker, one thread        the baseline
#   2x1   two workers, one thread each
#   1x2   one worker, two threads
#
# each a fresh `r1flow run` (daemon, workers, data directory). Stage throughput is
# steps over the stage's own time (started_at to finished_at in the database: the
# daemon's and workers' start-up is not in it). Each run's CPU seconds a step (all
# its processes) are printed too: on a machine other work keeps busy, the wall-clock
# ratios say little about parallelism, the CPU cost still says what a split wastes.
# (With the kernel's autogroup scheduling on — /proc/sys/kernel/sched_autogroup_enabled
# — a run's processes share one session's part of the CPUs against other sessions, so
# on a busy machine two workers get no more CPU than one: two_workers then reads ~1
# whatever the code does. Measure on a quiet machine.) From the workers' logs it prints
# where a step's time went on each worker (weights fetch, load, compute: the lines
# r1flow-worker writes per job that touched weights) and how large the weights
# deltas were against the whole weights (daemon/deltas.h). With PRETRAIN_STEPS=N
# (0 to skip) it also times `r1flow train` over N steps at 2x1 and 1x2 (issue 17's
# "91 s against 71 s" case).
#
#   bench/scale.sh              (from anywhere; BUILD_DIR=build by default)
#   STEPS=10 BASE_STEPS=150 PRETRAIN_STEPS=300 REPEAT=1 bench/scale.sh
#   BASE=DIR bench/scale.sh     (a base model made before: KEEP_BASE=DIR keeps one)
#
# REPEAT runs every configuration that many times, interleaved (1x1, 2x1, 1x2, 1x1,
# ...), and takes each one's best: on a shared machine the best is the run least
# disturbed. The load average is printed before and after every run. The last line
# is for other scripts:
#
#   scale two_workers=X
#
# X = throughput(2x1) / throughput(1x1). Other measures of issue 17 append their
# fields to that line (overlap=Y: RL steps overlapped against not; the simulated
# cluster's daemon_bytes_per_step_64=Z): add them where "the last line" is built.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
steps=${STEPS:-10}
base_steps=${BASE_STEPS:-150}
pretrain_steps=${PRETRAIN_STEPS:-0}
repeat=${REPEAT:-1}
r1flow=$build/cli/r1flow

if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build" >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/r1flow-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average before the runs: $(load)" >&2
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN { exit !(l > 0.5) }'; then
	echo "warning: the machine is busy; with autogroup scheduling ($(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?')) the ratios mean little" >&2
fi

# the demo's model, pretrained briefly on the demo's kind of corpus: GRPO needs a model
# that writes answers, not a good one (BASE=DIR: one made before, kept with KEEP_BASE=DIR)
if [[ -n ${BASE:-} ]]; then
	cp -r "$BASE" "$tmp/base"
else
	echo "pretraining a base model ($base_steps steps) ..." >&2
	"$r1flow" train --out "$tmp/base" --steps "$base_steps" --batch 64 \
		>"$tmp/base.log" 2>&1 || { cat "$tmp/base.log" >&2; exit 1; }
	[[ -z ${KEEP_BASE:-} ]] || cp -r "$tmp/base" "$KEEP_BASE"
fi

cat >"$tmp/zero.yaml" <<YAML
version: 1
name: scale
seed: 1
model:
  checkpoint: $tmp/base
datasets:
  prompts: {generate: arithmetic, digits: 3, style: problem, count: 20000, seed: 3}
rewards:
  accuracy: {fn: accuracy, weight: 1.0}
template: "{prompt}\n<think>"
stages:
  - {name: zero, kind: grpo, prompts: prompts, rewards: [accuracy], group: 8,
     prompts_per_step: 16, steps: $steps, lr: 1e-4, beta: 0.02, beta2: 0.99, shard: 64,
     max_new_tokens: 48, temperature: 1.0}
YAML

# stage seconds of the run in $1 (its data directory)
stage_s() {
	sqlite3 -batch -noheader "$1/r1flow.db" \
		"SELECT (finished_at - started_at) / 1000.0 FROM stages WHERE name = 'zero'"
}
# per-job means over the workers' logs of $1: where the weights time went
breakdown() {
	/usr/bin/python3 - "$1" <<'PY'
import glob, re, sys
n = tot = fe = lo = 0
for f in glob.glob(sys.argv[1] + '/logs/local-*.log'):
    for l in open(f):
        m = re.search(r'\((\w+)\) took ([\d.]+) ms: weights fetch ([\d.]+) ms, verify ([\d.]+) ms, load ([\d.]+) ms', l)
        if m:
            n += 1; tot += float(m[2]); fe += float(m[3]) + float(m[4]); lo += float(m[5])
print(f"jobs that loaded weights: {n}, mean {tot / max(n, 1):.0f} ms: fetch+verify {fe / max(n, 1):.1f} ms, load {lo / max(n, 1):.1f} ms" if n else "no weights loads logged")
PY
}
# delta bytes / whole-weights bytes over the workers' logs of $1
delta_ratio() {
	local full
	full=$(stat -c %s "$tmp/base/model.safetensors")
	cat "$1"/logs/local-*.log | sed -n 's/.*weights delta .* fetched and verified (\([0-9]*\) bytes).*/\1/p' |
		awk -v full="$full" '{ s += $1; n++ } END { if (n) printf "%d deltas, mean %.3f of the weights\n", n, s / n / full; else print "no deltas" }'
}

declare -A best
for ((r = 1; r <= repeat; r++)); do
	for cfg in 1x1 2x1 1x2; do
		w=${cfg%x*} t=${cfg#*x} dir=$tmp/run-$cfg-$r
		before=$(load)
		/usr/bin/time -f "%U %S" -o "$tmp/cpu-$cfg-$r" "$r1flow" run "$tmp/zero.yaml" \
			--workers "$w" --threads "$t" --data "$dir" --plain \
			>"$tmp/run-$cfg-$r.log" 2>&1 || { tail -n 20 "$tmp/run-$cfg-$r.log" >&2; exit 1; }
		s=$(stage_s "$dir")
		# CPU seconds of the whole run (r1flow, daemon, workers: all reaped) a step
		cpu=$(awk -v n="$steps" '{ printf "%.2f", ($1 + $2) / n }' "$tmp/cpu-$cfg-$r")
		echo "$cfg run $r: zero $steps steps in $s s, $cpu CPU s a step (load $before -> $(load)); $(breakdown "$dir"); $(delta_ratio "$dir")" >&2
		if [[ -z ${best[$cfg]:-} ]] || awk -v a="$s" -v b="${best[$cfg]}" 'BEGIN { exit !(a < b) }'; then
			best[$cfg]=$s
		fi
	done
done

echo "| workers x threads | zero: $steps steps (s) | steps/s | vs 1x1 |"
echo "|---|---|---|---|"
for cfg in 1x1 2x1 1x2; do
	awk -v c="$cfg" -v s="${best[$cfg]}" -v b="${best[1x1]}" -v n="$steps" \
		'BEGIN { printf "| %s | %.1f | %.3f | %.2f |\n", c, s, n / s, b / s }'
done
two=$(awk -v a="${best[1x1]}" -v b="${best[2x1]}" 'BEGIN { printf "%.2f", a / b }')
vs=$(awk -v a="${best[1x2]}" -v b="${best[2x1]}" 'BEGIN { printf "%.2f", a / b }')
echo "2x1 against 1x2: $vs (above 1: two workers are faster)"

if ((pretrain_steps > 0)); then
	for cfg in 2x1 1x2; do
		w=${cfg%x*} t=${cfg#*x}
		before=$(load)
		start=$(date +%s.%N)
		"$r1flow" train --out "$tmp/pre-$cfg" --steps "$pretrain_steps" --workers "$w" \
			--threads "$t" >"$tmp/pre-$cfg.log" 2>&1 || { tail -n 20 "$tmp/pre-$cfg.log" >&2; exit 1; }
		pre[${cfg%x*}]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		echo "pretrain $pretrain_steps steps at $cfg: ${pre[${cfg%x*}]} s (load $before -> $(load))"
	done
	awk -v a="${pre[1]}" -v b="${pre[2]}" 'BEGIN { printf "pretrain 2x1 against 1x2: %.2f (above 1: two workers are faster)\n", a / b }'
fi

echo "load average after the runs: $(load)" >&2
# the last line (other measures append their fields here)
echo "scale two_workers=$two"
