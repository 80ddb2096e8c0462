#!/usr/bin/env bash
# r1flow tokenize, no daemon needed: --help and usage errors; the byte tokenizer of a
# directory with only config.json (ids, --bos, --json's per-token view, --decode of
# a character cut in half); a small Hugging Face tokenizer.json beside config.json
# (merges, an added token, BOS from tokenizer_config.json); and the failures — no
# directory, no config.json, a malformed tokenizer.json, a tokenizer larger than the
# model's vocabulary, an unreadable --file, an id outside the vocabulary — each exit 1
# with a line naming what failed.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

expect_err() { grep -qF -- "$1" "$T/err" || fail "$2 said: $(cat "$T/err")"; }

# a model directory: config.json only (the byte tokenizer), vocab 264, bos/eos/pad 256-258
M=$T/bytes
mkdir -p "$M"
cat >"$M/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 264,
 "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
 "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 64,
 "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
 "bos_token_id": 256, "eos_token_id": 257, "pad_token_id": 258}
EOF

# --- help and usage errors
r1rc tokenize --help; expect_rc 0 "tokenize --help"
grep -q "r1flow tokenize" "$T/out" && grep -q "example:" "$T/out" && grep -q "exit status" "$T/out" &&
	grep -q -- "--bos" "$T/out" || fail "tokenize --help: $(cat "$T/out")"
r1rc --help; grep -q "^  tokenize " "$T/out" || fail "r1flow --help does not list tokenize"
for args in "" "--model $M" "--model $M --text a --file b" "--model $M --text a 5" \
	"--model $M --decode" "--model $M --decode x" "--model $M --decode 1 --text a" \
	"--text a" "--model $M --no-such-option"; do
	r1rc tokenize $args; expect_rc 2 "tokenize $args"
	expect_err "see 'r1flow tokenize --help'" "tokenize $args"
done
log "tokenize: --help and usage errors"

# --- the byte tokenizer
r1rc tokenize --model "$M" --text $'a<think>\xc3\xa9\n'; expect_rc 0 "tokenize (bytes)"
[[ $(cat "$T/out") == "97 259 195 169 10" ]] || fail "byte ids: $(cat "$T/out")"
r1rc tokenize --model "$M" --text "a" --bos; expect_rc 0 "tokenize --bos (bytes)"
[[ $(cat "$T/out") == "256 97" ]] || fail "byte ids with --bos: $(cat "$T/out")"
r1rc tokenize --model "$M" --text "" ; expect_rc 0 "tokenize of the empty text"
[[ $(cat "$T/out") == "" ]] || fail "the empty text gave: $(cat "$T/out")"
printf 'x</answer>\n' >"$T/text"
r1rc tokenize --model "$M" --file "$T/text" --json; expect_rc 0 "tokenize --file --json"
[[ $(jq_ '(d["ids"], [(t["id"], t.get("token"), t["piece"]) for t in d["tokens"]])' <"$T/out") == \
	"([120, 262, 10], [(120, None, 'x'), (262, '</answer>', '</answer>'), (10, None, '\\n')])" ]] ||
	fail "tokenize --json: $(cat "$T/out")"
r1rc tokenize --model "$M" --decode 104 105 259 195; expect_rc 0 "tokenize --decode (bytes)"
[[ $(cat "$T/out") == $'hi<think>\xc3' ]] || fail "decode: $(od -c "$T/out")"
r1rc tokenize --model "$M" --decode 195 169 195 --json; expect_rc 0 "tokenize --decode --json"
[[ $(jq_ '(d["text"], [t["piece"] for t in d["tokens"]])' <"$T/out") == \
	"('é�', ['<0xC3>', '<0xA9>', '<0xC3>'])" ]] || fail "decode --json: $(cat "$T/out")"
log "tokenize: the byte tokenizer (ids, --bos, --file, --json pieces, --decode)"

# --- a Hugging Face tokenizer.json: merges by rank, an added token, BOS from the config
H=$T/hf
mkdir -p "$H" && cp "$M/config.json" "$H/"
cat >"$H/tokenizer.json" <<'EOF'
{"added_tokens": [{"id": 9, "content": "<s>", "special": true, "normalized": false}],
 "model": {"type": "BPE", "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "he": 4, "ll": 5,
 "hell": 6, "hello": 7, " ": 8}, "merges": ["h e", "l l", "he ll", "hell o"]}}
EOF
printf '{"bos_token": "<s>", "add_bos_token": true}\n' >"$H/tokenizer_config.json"
r1rc tokenize --model "$H" --text "hello hel<s>"; expect_rc 0 "tokenize (tokenizer.json)"
[[ $(cat "$T/out") == "7 8 4 2 9" ]] || fail "tokenizer.json ids: $(cat "$T/out")"
r1rc tokenize --model "$H" --text "hello" --bos --json; expect_rc 0 "tokenize --bos --json (tokenizer.json)"
[[ $(jq_ '(d["ids"], [t["token"] for t in d["tokens"]])' <"$T/out") == "([9, 7], ['<s>', 'hello'])" ]] ||
	fail "tokenizer.json --bos --json: $(cat "$T/out")"
r1rc tokenize --model "$H" --decode 9 6 3; expect_rc 0 "tokenize --decode (tokenizer.json)"
# (without a decoder the library joins the tokens with spaces)
[[ $(cat "$T/out") == "<s> hell o" ]] || fail "tokenizer.json decode: $(cat "$T/out")"
log "tokenize: a tokenizer.json (merges, added token, BOS from tokenizer_config.json)"

# --- failures: exit 1, one line naming what failed
r1rc tokenize --model "$T/nosuch" --text a; expect_rc 1 "tokenize of a missing directory"
expect_err "cannot load model '$T/nosuch': cannot open '$T/nosuch/config.json'" "a missing directory"
mkdir -p "$T/empty"
r1rc tokenize --model "$T/empty" --text a; expect_rc 1 "tokenize without config.json"
expect_err "$T/empty/config.json" "no config.json"
mkdir -p "$T/bad" && cp "$M/config.json" "$T/bad/" && printf '{"model": ' >"$T/bad/tokenizer.json"
r1rc tokenize --model "$T/bad" --text a; expect_rc 1 "tokenize with a malformed tokenizer.json"
expect_err "cannot load the tokenizer of model '$T/bad': " "a malformed tokenizer.json"
expect_err "$T/bad/tokenizer.json" "a malformed tokenizer.json"
sed 's/"vocab_size": 264/"vocab_size": 8/; s/"bos_token_id": 256, "eos_token_id": 257, "pad_token_id": 258/"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": -1/' \
	"$M/config.json" >"$T/small.json"
mkdir -p "$T/big" && cp "$T/small.json" "$T/big/config.json" && cp "$H/tokenizer.json" "$T/big/"
r1rc tokenize --model "$T/big" --text a; expect_rc 1 "tokenize with a tokenizer larger than the model"
expect_err "has 10 ids but the model's vocab_size is 8" "a tokenizer larger than the model"
r1rc tokenize --model "$M" --file "$T/nosuch.txt"; expect_rc 1 "tokenize of a missing --file"
expect_err "$T/nosuch.txt" "a missing --file"
r1rc tokenize --model "$M" --decode 1 264; expect_rc 1 "tokenize --decode of an id outside the vocabulary"
expect_err "token id 264 is outside the vocabulary of model '$M' (ids 0..263)" "an id outside the vocabulary"
log "tokenize: failures name the directory, file or id"
