#!/usr/bin/env bash
# train.sh — training throughput of the core against plain PyTorch, same configs.
#
#   bench/train.sh [CONFIG...]   (from anywhere; BUILD_DIR=build by default)
#
# Builds bench_train if needed, then for each config runs the core at each of its
# thread counts and PyTorch (bench/train_torch.py, Debian's /usr/bin/python3) in each
# of its thread settings and model variants, every run a separate process (so peak
# RSS is per side), plus OpenBLAS's own large-sgemm rate at 2 threads. Configs:
#
#   tiny      dim 128, 4 layers, byte vocab, 16 x 128 tokens a step
#   small     dim 256, 6 layers, byte vocab, 8 x 256
#   smol135m  SmolLM2-135M's real shape (dim 576, 30 layers, 9 heads, 3 KV heads, ffn
#             1536, vocab 49152, tied), 4 x 128; 3 steps of a few seconds each
#   qwen3_06b Qwen3-0.6B's shape (dim 1024, 28 layers, 16 heads, 8 KV heads, head_dim
#             128, ffn 3072, vocab 151936, tied, q/k norms), 1 x 256; one warm-up
#             and one timed step. Opt-in (about 10 GB a process and tens of seconds
#             a step): `bench/train.sh qwen3_06b`
#
# The configs run are the arguments, else $CONFIGS, else tiny small smol135m.
#
# PyTorch runs at its best: the fastest of these thread settings (torch's matmuls go
# through Debian's OpenBLAS, whose threads are separate from torch's OpenMP ones),
#
#   1/1     OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, OMP_WAIT_POLICY=PASSIVE
#   2/2     OMP_NUM_THREADS=2, OPENBLAS_NUM_THREADS=2, OMP_WAIT_POLICY=PASSIVE
#   1/all   OMP_NUM_THREADS=1, OpenBLAS threads unset: PyTorch's default configuration
#           here (OpenBLAS starts one thread per core for every large GEMM)
#   2/all   OMP_NUM_THREADS=2, OMP_WAIT_POLICY=PASSIVE, OpenBLAS threads unset
#
# times the model variants of train_torch.py (eager, fused). smol135m and qwen3_06b skip 1/1 and
# the core's 1-thread run (one core for GEMMs that large: half the machine) and runs
# the fused variant only, to keep the run within minutes. Prints a markdown table (tok/s; CPU time a
# step, all threads, spinning included: on a shared machine a check on the wall-clock
# figures; peak RSS), the derived figures and, last, one line for other scripts:
#
#   ratio tiny=X small=Y smol135m=Z  (core's best tok/s over PyTorch's best, per config)
#
# STEPS_TINY / STEPS_SMALL / STEPS_SMOL / STEPS_QWEN / TORCH_VARIANTS / CONFIGS override the
# defaults; the whole run is about ten minutes on 2 quiet cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=/usr/bin/python3
variants=${TORCH_VARIANTS:-eager fused}
configs=${CONFIGS:-tiny small smol135m}
if (( $# > 0 )); then
	configs="$*"
fi

if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build" bench/bench_train >/dev/null
bench=$build/bench/bench_train

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before the run: $load" >&2
if awk -v l="${load%% *}" 'BEGIN { exit !(l > 0.5) }'; then
	echo "warning: the machine is busy; the numbers may be low" >&2
fi

. "$root/bench/torch_lib.sh"
torch_run() { torch_setting train_torch.py "$@"; }

declare -A rows core_best core_best_t core_rss core_gf core_step torch_best torch_best_by torch_rss
for cfg in $configs; do
	case $cfg in
	tiny) steps=${STEPS_TINY:-20} warm=2 threads="1 2" settings="1/1 2/2 1/all 2/all" vars=$variants ;;
	small) steps=${STEPS_SMALL:-6} warm=2 threads="1 2" settings="1/1 2/2 1/all 2/all" vars=$variants ;;
	smol135m) steps=${STEPS_SMOL:-2} warm=1 threads="2" settings="2/2 1/all 2/all" vars=fused ;;
	qwen3_06b) steps=${STEPS_QWEN:-1} warm=1 threads="2" settings="2/2 1/all 2/all" vars=fused ;;
	*) echo "unknown config '$cfg'" >&2; exit 2 ;;
	esac
	core_best[$cfg]=0
	torch_best[$cfg]=0
	rows[$cfg]=""
	for t in $threads; do
		line=$("$bench" --config "$cfg" --threads "$t" --steps "$steps" --warmup "$warm")
		echo "$line" >&2
		tok=$(field "$line" tok_s)
		rows[$cfg]+="| $cfg | core | $t threads | $tok | $(field "$line" cpu_ms) | $(field "$line" peak_rss_mb) |"$'\n'
		if (( tok > core_best[$cfg] )); then
			core_best[$cfg]=$tok
			core_best_t[$cfg]=$t
			core_rss[$cfg]=$(field "$line" peak_rss_mb)
			core_gf[$cfg]=$(field "$line" gflops)
			core_step[$cfg]=$(field "$line" step_gflop)
		fi
	done
	for s in $settings; do
		for v in $vars; do
			line=$(torch_run "$s" --config "$cfg" --variant "$v" --steps "$steps" --warmup "$warm")
			echo "$line" >&2
			tok=$(field "$line" tok_s)
			rows[$cfg]+="| $cfg | torch | $s $v | $tok | $(field "$line" cpu_ms) | $(field "$line" peak_rss_mb) |"$'\n'
			if (( tok > torch_best[$cfg] )); then
				torch_best[$cfg]=$tok
				torch_best_by[$cfg]="$s $v"
				torch_rss[$cfg]=$(field "$line" peak_rss_mb)
			fi
		done
	done
done
line=$("$bench" --sgemm --threads 2)
echo "$line" >&2
sgemm=$(field "$line" gflops)
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo
echo "| config | side | threads (torch: OMP/OpenBLAS, variant) | tok/s | CPU ms a step | peak RSS MB |"
echo "|---|---|---|---:|---:|---:|"
for cfg in $configs; do
	printf '%s' "${rows[$cfg]}"
done
echo
for cfg in $configs; do
	echo "$cfg: core best ${core_best[$cfg]} tok/s (${core_best_t[$cfg]} threads)," \
		"torch best ${torch_best[$cfg]} tok/s (${torch_best_by[$cfg]})," \
		"core/torch $(calc %.2f "${core_best[$cfg]} / ${torch_best[$cfg]}")x;" \
		"peak RSS core/torch $(calc %.2f "${core_rss[$cfg]} / ${torch_rss[$cfg]}")"
done
for cfg in $configs; do
	[[ $cfg == tiny ]] && continue
	echo "$cfg core at ${core_best_t[$cfg]} threads: ${core_gf[$cfg]} GFLOP/s" \
		"(${core_step[$cfg]} GFLOP a step) = $(calc %.0f "100 * ${core_gf[$cfg]} / $sgemm")%" \
		"of OpenBLAS sgemm 2048^3 at 2 threads ($sgemm GFLOP/s)"
done
out="ratio"
for cfg in $configs; do
	out+=" $cfg=$(calc %.2f "${core_best[$cfg]} / ${torch_best[$cfg]}")"
done
echo "$out"
