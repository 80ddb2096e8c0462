#!/usr/bin/env bash
# Reference parity of core/hftok as a report: the checks of
# tests/integration/test_tokenizer_parity.sh (the same corpus, references and comparison,
# from tests/tokenizer_ref/) on the Llama-3, Qwen3, DeepSeek-V3, Llama-2 and Gemma-3
# tokenizer.json files, run to the end rather than stopping at the first tokenizer that
# differs, with each file's load time. Optionally on another corpus (JSON lines, each a
# string), e.g. one of `tests/tokenizer_ref/corpus.py mixed BYTES`.
#
#   bench/tokenizer_parity.sh [BUILD_DIR [CORPUS.jsonl]]      (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cli=$build/tests/hftok_cli
ref=$root/tests/tokenizer_ref
npm=$root/.ref/npm
[[ -x $cli ]] || { echo "tokenizer_parity: no $cli (run ninja -C $build)" >&2; exit 1; }
command -v node >/dev/null || { echo "tokenizer_parity: node is not installed (run scripts/deps.sh)" >&2; exit 1; }
[[ -d $npm/node_modules/tokenizers && -d $npm/node_modules/@lenml/tokenizers ]] ||
	{ echo "tokenizer_parity: the reference packages are not in $npm (run scripts/deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -n ${2:-} ]]; then
	cp "$2" "$tmp/corpus.jsonl"
else
	/usr/bin/python3 "$ref/corpus.py" test >"$tmp/corpus.jsonl"
fi

rc=0
for name in llama3 qwen3 deepseek_v3 llama2 gemma3; do
	file=$npm/node_modules/@lenml/tokenizer-$name/models/tokenizer.json
	"$cli" "$file" <"$tmp/corpus.jsonl" >"$tmp/c.jsonl"
	node "$ref/ref.js" "$npm" hf "$name" <"$tmp/corpus.jsonl" >"$tmp/hf.jsonl"
	node "$ref/ref.js" "$npm" lenml "$name" <"$tmp/corpus.jsonl" >"$tmp/lenml.jsonl"
	/usr/bin/python3 "$ref/compare.py" "$name vs tokenizers" "$tmp/corpus.jsonl" "$tmp/c.jsonl" "$tmp/hf.jsonl" || rc=1
	/usr/bin/python3 "$ref/compare.py" "$name vs @lenml/tokenizers" "$tmp/corpus.jsonl" "$tmp/c.jsonl" \
		"$tmp/lenml.jsonl" "$tmp/hf.jsonl" || rc=1
	echo "$name load: r1flow $("$cli" "$file" --time)"
done
exit $rc
