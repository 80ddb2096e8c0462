#!/usr/bin/env bash
# train.sh — training throughput of the core against plain PyTorch, same configs.
#
#   bench/train.sh            (from anywhere; BUILD_DIR=build by default)
#
# Builds bench_train if needed, then for each config (tiny, small) and thread count
# (1, 2) runs the core and each PyTorch variant of bench/train_torch.py as separate
# processes (so peak RSS is per side), plus OpenBLAS's own large-sgemm rate at 2
# threads. Prints a markdown table, the derived figures the targets are stated in,
# and, last, one line for other scripts:
#
#   ratio tiny=X small=Y       (core's best tok/s over PyTorch's best, per config)
#
# PyTorch runs at its best: OMP and OpenBLAS threads both set to N (torch's matmuls
# go through Debian's OpenBLAS, which would otherwise start one thread per core in
# the 1-thread runs and fight OpenMP in the 2-thread ones), OMP_WAIT_POLICY=PASSIVE,
# and the faster of the variants in train_torch.py per config and thread count.
# STEPS_TINY / STEPS_SMALL / TORCH_VARIANTS override the defaults; the whole run is
# about four minutes on 2 cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=/usr/bin/python3
steps_tiny=${STEPS_TINY:-20}
steps_small=${STEPS_SMALL:-6}
variants=${TORCH_VARIANTS:-eager fused}

if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build" bench/bench_train >/dev/null
bench=$build/bench/bench_train

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	echo "warning: load average is $load before the run; the numbers may be low" >&2
fi

# field LINE KEY: the value of KEY=value in a bench output line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

declare -A core torch torch_var torch_rss core_rss core_gf torch_best core_best
for cfg in tiny small; do
	steps=$steps_tiny
	[[ $cfg == small ]] && steps=$steps_small
	torch_best[$cfg]=0
	core_best[$cfg]=0
	for t in 1 2; do
		line=$("$bench" --config "$cfg" --threads "$t" --steps "$steps" --warmup 2)
		echo "$line" >&2
		core[$cfg,$t]=$(field "$line" tok_s)
		core_rss[$cfg,$t]=$(field "$line" peak_rss_mb)
		core_gf[$cfg,$t]=$(field "$line" gflops)
		if (( core[$cfg,$t] > core_best[$cfg] )); then core_best[$cfg]=${core[$cfg,$t]}; fi
		torch[$cfg,$t]=0
		for v in $variants; do
			line=$(OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE \
				"$python" "$root/bench/train_torch.py" --config "$cfg" --threads "$t" \
				--variant "$v" --steps "$steps" --warmup 2)
			echo "$line" >&2
			tok=$(field "$line" tok_s)
			if (( tok > torch[$cfg,$t] )); then
				torch[$cfg,$t]=$tok
				torch_var[$cfg,$t]=$v
				torch_rss[$cfg,$t]=$(field "$line" peak_rss_mb)
			fi
		done
		if (( torch[$cfg,$t] > torch_best[$cfg] )); then torch_best[$cfg]=${torch[$cfg,$t]}; fi
	done
done
line=$("$bench" --sgemm --threads 2)
echo "$line" >&2
sgemm=$(field "$line" gflops)

echo
echo "| config | threads | core tok/s | torch tok/s | core / torch best | core peak RSS MB | torch peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for cfg in tiny small; do
	for t in 1 2; do
		echo "| $cfg | $t | ${core[$cfg,$t]} | ${torch[$cfg,$t]} (${torch_var[$cfg,$t]}) |" \
			"$(calc %.2f "${core[$cfg,$t]} / ${torch_best[$cfg]}")x |" \
			"${core_rss[$cfg,$t]} | ${torch_rss[$cfg,$t]} |"
	done
done
echo
for cfg in tiny small; do
	echo "core 2-thread/1-thread speed-up $cfg: $(calc %.2f "${core[$cfg,2]} / ${core[$cfg,1]}")x" \
		"(torch $(calc %.2f "${torch[$cfg,2]} / ${torch[$cfg,1]}")x)"
done
for cfg in tiny small; do
	echo "peak RSS core/torch $cfg: $(calc %.2f "${core_rss[$cfg,2]} / ${torch_rss[$cfg,2]}") at 2 threads"
done
echo "small 2-thread core: ${core_gf[small,2]} GFLOP/s = $(calc %.0f "100 * ${core_gf[small,2]} / $sgemm")%" \
	"of OpenBLAS sgemm 2048^3 at 2 threads ($sgemm GFLOP/s)"
echo "ratio tiny=$(calc %.2f "${core_best[tiny]} / ${torch_best[tiny]}") small=$(calc %.2f "${core_best[small]} / ${torch_best[small]}")"
