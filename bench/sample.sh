#!/usr/bin/env bash
# sample.sh — generation throughput of the core against a PyTorch KV-cache loop.
#
#   bench/sample.sh [CONFIG...]   (from anywhere; BUILD_DIR=build by default)
#
# Builds bench_sample if needed, then for each config and batch (16, 64) runs the core
# at each of its thread counts and PyTorch (bench/sample_torch.py, Debian's
# /usr/bin/python3) in each of its thread settings and model variants, every run a
# separate process (so peak RSS is per side): random prompts, temperature 1, EOS never
# produced, so both sides generate exactly B x new tokens. Configs:
#
#   tiny      dim 128, 4 layers, byte vocab; prompts of 32 tokens, 96 new
#   small     dim 256, 6 layers, byte vocab; 32 + 96
#   smol135m  SmolLM2-135M's real shape (dim 576, 30 layers, 9 heads, 3 KV heads, ffn
#             1536, vocab 49152, tied); 16 + 32, one timed rep
#   qwen3_06b Qwen3-0.6B's shape (dim 1024, 28 layers, 16 heads, 8 KV heads, head_dim
#             128, ffn 3072, vocab 151936, tied, q/k norms); 16 + 32, one timed rep.
#             Opt-in (minutes per process): `bench/sample.sh qwen3_06b`
#
# The configs run are the arguments, else $CONFIGS, else tiny small smol135m.
#
# Prints a markdown table (generated tokens/s, prefill included, in the fastest of
# the timed runs of each process; peak RSS) and, last, one line for other scripts:
#
#   ratio tiny_b16=X tiny_b64=X small_b16=X small_b64=X smol135m_b16=X smol135m_b64=X
#                  (core's best tok/s over PyTorch's best, per config and batch)
#
# PyTorch runs at its best: inference_mode, preallocated cache tensors, the faster of
# the variants in sample_torch.py (eager, fused) and the fastest of these thread
# settings (torch's matmuls go through Debian's OpenBLAS, whose threads are separate
# from torch's OpenMP ones):
#
#   1/1     OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, OMP_WAIT_POLICY=PASSIVE
#   2/2     OMP_NUM_THREADS=2, OPENBLAS_NUM_THREADS=2, OMP_WAIT_POLICY=PASSIVE
#   1/all   OMP_NUM_THREADS=1, OpenBLAS threads unset: PyTorch's default configuration
#           here (OpenBLAS starts one thread per core for every large GEMM)
#   2/all   OMP_NUM_THREADS=2, OMP_WAIT_POLICY=PASSIVE, OpenBLAS threads unset
#
# smol135m and qwen3_06b skip 1/1 and the core's 1-thread run and run the fused variant only, to
# keep the run within minutes. REPS_TINY / REPS_SMALL / REPS_SMOL / TORCH_VARIANTS /
# CONFIGS / REPS_QWEN override the defaults; the whole run is about ten minutes on 2 quiet cores.
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
ninja -C "$build" bench/bench_sample >/dev/null
bench=$build/bench/bench_sample

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before the run: $load" >&2
if awk -v l="${load%% *}" 'BEGIN { exit !(l > 0.5) }'; then
	echo "warning: the machine is busy; the numbers may be low" >&2
fi

. "$root/bench/torch_lib.sh"
torch_run() { torch_setting sample_torch.py "$@"; }

declare -A rows core_best core_best_t core_rss torch_best torch_best_by torch_rss
keys=""
for cfg in $configs; do
	case $cfg in
	tiny) reps=${REPS_TINY:-5} prompt=32 new=96 threads="1 2" settings="1/1 2/2 1/all 2/all" vars=$variants ;;
	small) reps=${REPS_SMALL:-2} prompt=32 new=96 threads="1 2" settings="1/1 2/2 1/all 2/all" vars=$variants ;;
	smol135m) reps=${REPS_SMOL:-1} prompt=16 new=32 threads="2" settings="2/2 1/all 2/all" vars=fused ;;
	qwen3_06b) reps=${REPS_QWEN:-1} prompt=16 new=32 threads="2" settings="2/2 1/all 2/all" vars=fused ;;
	*) echo "unknown config '$cfg'" >&2; exit 2 ;;
	esac
	for b in 16 64; do
		k=${cfg}_b$b
		keys+=" $k"
		core_best[$k]=0
		torch_best[$k]=0
		rows[$k]=""
		for t in $threads; do
			line=$("$bench" --config "$cfg" --batch "$b" --threads "$t" --prompt $prompt --new $new --reps "$reps")
			echo "$line" >&2
			tok=$(field "$line" tok_s)
			rows[$k]+="| $cfg | $b | core | $t threads | $tok | $(field "$line" peak_rss_mb) |"$'\n'
			if (( tok > core_best[$k] )); then
				core_best[$k]=$tok
				core_best_t[$k]=$t
				core_rss[$k]=$(field "$line" peak_rss_mb)
			fi
		done
		for s in $settings; do
			for v in $vars; do
				line=$(torch_run "$s" --config "$cfg" --batch "$b" --variant "$v" \
					--prompt $prompt --new $new --reps "$reps")
				echo "$line" >&2
				tok=$(field "$line" tok_s)
				rows[$k]+="| $cfg | $b | torch | $s $v | $tok | $(field "$line" peak_rss_mb) |"$'\n'
				if (( tok > torch_best[$k] )); then
					torch_best[$k]=$tok
					torch_best_by[$k]="$s $v"
					torch_rss[$k]=$(field "$line" peak_rss_mb)
				fi
			done
		done
	done
done
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo
echo "| config | batch | side | threads (torch: OMP/OpenBLAS, variant) | tok/s | peak RSS MB |"
echo "|---|---:|---|---|---:|---:|"
for k in $keys; do
	printf '%s' "${rows[$k]}"
done
echo
for k in $keys; do
	echo "$k: core best ${core_best[$k]} tok/s (${core_best_t[$k]} threads)," \
		"torch best ${torch_best[$k]} tok/s (${torch_best_by[$k]})," \
		"core/torch $(calc %.2f "${core_best[$k]} / ${torch_best[$k]}")x;" \
		"peak RSS core/torch $(calc %.2f "${core_rss[$k]} / ${torch_rss[$k]}")"
done
out="ratio"
for k in $keys; do
	out+=" $k=$(calc %.2f "${core_best[$k]} / ${torch_best[$k]}")"
done
echo "$out"
