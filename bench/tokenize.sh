#!/usr/bin/env bash
# Encode throughput (MB/s of UTF-8 text, one thread) of core/hftok against the references
# scripts/deps.sh installs into .ref/npm, on the same texts, for the Llama-3 and Qwen3
# tokenizer.json files, and the time each takes to load a tokenizer.json.
#
#   r1flow        core/hftok through tests/hftok_cli
#   @lenml        @lenml/tokenizers, a JavaScript port of transformers.js's tokenizers (the
#                 reference the ratio is taken against)
#   tokenizers    Hugging Face's tokenizers library (Rust) through its Node binding, one
#                 text per call, each awaited (published figures for it and for tiktoken:
#                 a few MB/s to ~10 MB/s per core: the real bar)
#
# Texts (tests/tokenizer_ref/corpus.py): "mixed", documents alternating between code
# (this repository's sources) and prose (its docs, with the parity corpus's multilingual
# lines), and "english", its docs' prose only; R1FLOW_TOK_MB (default 50) MB each.
# r1flow encodes the whole text; the references are slower, so every program is also
# timed on the same prefix of R1FLOW_TOK_REF_MB MB (default 4), and the ratios compare
# rates on that prefix. r1flow and tokenizers must give the same number of tokens on it
# (@lenml's may differ: its regexes read U+FEFF as a space, see tests/tokenizer_ref/compare.py).
# The last line is `ratio llama3=X qwen3=Y`: r1flow's rate ÷ @lenml's on the mixed text.
#
#   bench/tokenize.sh [BUILD_DIR]      (default: build; a release build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cli=$build/tests/hftok_cli
ref=$root/tests/tokenizer_ref
npm=$root/.ref/npm
mb=${R1FLOW_TOK_MB:-50}
ref_mb=${R1FLOW_TOK_REF_MB:-4}
[[ -x $cli ]] || { echo "tokenize: no $cli (run ninja -C $build)" >&2; exit 1; }
command -v node >/dev/null || { echo "tokenize: node is not installed (run scripts/deps.sh)" >&2; exit 1; }
[[ -d $npm/node_modules/tokenizers && -d $npm/node_modules/@lenml/tokenizers ]] ||
	{ echo "tokenize: the reference packages are not in $npm (run scripts/deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$ref/corpus.py" mixed $((mb * 1000000)) >"$tmp/mixed.jsonl"
/usr/bin/python3 "$ref/corpus.py" english $((mb * 1000000)) >"$tmp/english.jsonl"
prefix=$((ref_mb * 1000000))

# "BYTES bytes, TOKENS tokens, SECONDS s: RATE MB/s" -> field
rate() { sed -n 's/.*: \([0-9.]*\) MB\/s$/\1/p' <<<"$1"; }
tokens() { awk '{ print $3 }' <<<"$1"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }

echo "encode MB/s, one thread; r1flow on all $mb MB, every program on the first $ref_mb MB"
printf '%-8s %-7s %12s %8s %8s %11s %14s %18s\n' text model "r1flow(all)" r1flow @lenml tokenizers \
	"r1flow/@lenml" "r1flow/tokenizers"
declare -A ratio
for name in llama3 qwen3; do
	file=$npm/node_modules/@lenml/tokenizer-$name/models/tokenizer.json
	for text in mixed english; do
		in=$tmp/$text.jsonl
		all=$("$cli" "$file" --throughput <"$in")
		c=$("$cli" "$file" --throughput "$prefix" <"$in")
		js=$(node "$ref/ref.js" "$npm" lenml "$name" --throughput "$prefix" <"$in")
		hf=$(node "$ref/ref.js" "$npm" hf "$name" --throughput "$prefix" <"$in")
		if [[ $(tokens "$c") != "$(tokens "$hf")" ]]; then
			echo "tokenize: $name on $text: token counts differ: r1flow $(tokens "$c"), @lenml $(tokens "$js"), tokenizers $(tokens "$hf")" >&2
			exit 1
		fi
		printf '%-8s %-7s %12s %8s %8s %11s %14s %18s\n' "$text" "$name" "$(rate "$all")" "$(rate "$c")" \
			"$(rate "$js")" "$(rate "$hf")" "$(div "$(rate "$c")" "$(rate "$js")")" \
			"$(div "$(rate "$c")" "$(rate "$hf")")"
		[[ $text == mixed ]] && ratio[$name]=$(div "$(rate "$c")" "$(rate "$js")")
	done
done

echo "load seconds (target for r1flow: < 0.5 s for a 150k vocabulary)"
for name in llama3 qwen3; do
	file=$npm/node_modules/@lenml/tokenizer-$name/models/tokenizer.json
	echo "  $name ($(du -m "$file" | cut -f1) MB tokenizer.json): r1flow $("$cli" "$file" --time)," \
		"@lenml $(node "$ref/ref.js" "$npm" lenml "$name" --time)," \
		"tokenizers $(node "$ref/ref.js" "$npm" hf "$name" --time)"
done
echo "ratio llama3=${ratio[llama3]} qwen3=${ratio[qwen3]}"
