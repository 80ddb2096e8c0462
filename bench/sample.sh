#!/usr/bin/env bash
# sample.sh — generation throughput of the core against a PyTorch KV-cache loop.
#
#   bench/sample.sh            (from anywhere; BUILD_DIR=build by default)
#
# Builds bench_sample if needed, then for each config (tiny, small), batch (16, 64)
# and thread count (1, 2) runs the core and each PyTorch variant of
# bench/sample_torch.py as separate processes (so peak RSS is per side): prompts of
# 32 tokens, 96 new tokens per sequence, temperature 1, EOS never produced, so both
# sides generate exactly B x 96 tokens. Prints a markdown table (generated tokens/s,
# prefill included, in the fastest of the timed runs of each process; peak RSS) and,
# last, one line for other scripts:
#
#   ratio tiny_b16=X tiny_b64=X small_b16=X small_b64=X
#                  (core's best tok/s over PyTorch's best, per config and batch)
#
# PyTorch runs at its best: torch.set_num_threads(N) with OMP and OpenBLAS threads
# both set to N (torch's matmuls go through Debian's OpenBLAS), OMP_WAIT_POLICY=PASSIVE,
# inference_mode, preallocated cache tensors, and the faster of the variants in
# sample_torch.py per config, batch and thread count. REPS_TINY / REPS_SMALL /
# TORCH_VARIANTS override the defaults; the whole run is about four minutes on 2
# quiet cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=/usr/bin/python3
reps_tiny=${REPS_TINY:-5}
reps_small=${REPS_SMALL:-2}
variants=${TORCH_VARIANTS:-eager fused}
prompt=32
new=96

if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build" bench/bench_sample >/dev/null
bench=$build/bench/bench_sample

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	echo "warning: load average is $load before the run; the numbers may be low" >&2
fi

# field LINE KEY: the value of KEY=value in a bench output line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

declare -A core core_rss torch torch_var torch_rss core_best torch_best
for cfg in tiny small; do
	reps=$reps_tiny
	[[ $cfg == small ]] && reps=$reps_small
	for b in 16 64; do
		core_best[$cfg,$b]=0
		torch_best[$cfg,$b]=0
		for t in 1 2; do
			line=$("$bench" --config "$cfg" --batch "$b" --threads "$t" --prompt $prompt --new $new --reps "$reps")
			echo "$line" >&2
			core[$cfg,$b,$t]=$(field "$line" tok_s)
			core_rss[$cfg,$b,$t]=$(field "$line" peak_rss_mb)
			if (( core[$cfg,$b,$t] > core_best[$cfg,$b] )); then core_best[$cfg,$b]=${core[$cfg,$b,$t]}; fi
			torch[$cfg,$b,$t]=0
			for v in $variants; do
				line=$(OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE \
					"$python" "$root/bench/sample_torch.py" --config "$cfg" --batch "$b" \
					--threads "$t" --variant "$v" --prompt $prompt --new $new --reps "$reps")
				echo "$line" >&2
				tok=$(field "$line" tok_s)
				if (( tok > torch[$cfg,$b,$t] )); then
					torch[$cfg,$b,$t]=$tok
					torch_var[$cfg,$b,$t]=$v
					torch_rss[$cfg,$b,$t]=$(field "$line" peak_rss_mb)
				fi
			done
			if (( torch[$cfg,$b,$t] > torch_best[$cfg,$b] )); then torch_best[$cfg,$b]=${torch[$cfg,$b,$t]}; fi
		done
	done
done

echo
echo "| config | batch | threads | core tok/s | torch tok/s | core / torch best | core peak RSS MB | torch peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for cfg in tiny small; do
	for b in 16 64; do
		for t in 1 2; do
			echo "| $cfg | $b | $t | ${core[$cfg,$b,$t]} | ${torch[$cfg,$b,$t]} (${torch_var[$cfg,$b,$t]}) |" \
				"$(calc %.2f "${core[$cfg,$b,$t]} / ${torch_best[$cfg,$b]}")x |" \
				"${core_rss[$cfg,$b,$t]} | ${torch_rss[$cfg,$b,$t]} |"
		done
	done
done
echo
for cfg in tiny small; do
	for b in 16 64; do
		echo "core 2-thread/1-thread speed-up $cfg b$b: $(calc %.2f "${core[$cfg,$b,2]} / ${core[$cfg,$b,1]}")x" \
			"(torch $(calc %.2f "${torch[$cfg,$b,2]} / ${torch[$cfg,$b,1]}")x);" \
			"peak RSS core/torch $(calc %.2f "${core_rss[$cfg,$b,2]} / ${torch_rss[$cfg,$b,2]}") at 2 threads"
	done
done
r() { calc %.2f "${core_best[$1,$2]} / ${torch_best[$1,$2]}"; }
echo "ratio tiny_b16=$(r tiny 16) tiny_b64=$(r tiny 64) small_b16=$(r small 16) small_b64=$(r small 64)"
