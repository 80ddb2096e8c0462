#!/usr/bin/env bash
# Shared datasets: a JSONL file with a UTF-8 byte-order mark imports; a dataset
# imported with 'r1flow dataset import' is named from a spec ({shared: NAME}),
# validates, and a pipeline trains on it (an unknown one is refused at submit,
# named); a dataset too big for one reply (200 records of 50 kB) exports in pages,
# and export -> import -> export gives the same bytes as the file imported.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA

start_daemon
start_worker w1 --name w1
wait_for 10 has_workers 1

# --- a byte-order mark before the first line
{
	printf '\xef\xbb\xbf'
	for i in $(seq 1 40); do
		printf '{"text": "%d+%d=%d"}\n' "$i" "$i" $(( 2 * i ))
	done
} >"$T/wp.jsonl"
r1rc dataset import "$T/wp.jsonl" --name wp_train; expect_rc 0 "dataset import (with a BOM)"
grep -q "imported 40 records" "$T/out" || fail "import with a BOM: $(cat "$T/out")"
r1rc dataset show wp_train --limit 1 --json; expect_rc 0 "dataset show wp_train"
[[ $(jq_ 'd["records"][0]["text"]' <"$T/out") == "1+1=2" ]] || fail "record 0 after a BOM: $(cat "$T/out")"
log "a JSONL file with a byte-order mark imports"

# --- a spec naming the shared dataset
cat >"$T/shared.yaml" <<'YAML'
version: 1
name: shared
seed: 1
model: {config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 32}}
datasets:
  train: {shared: wp_train}
stages:
  - {name: base, kind: pretrain, dataset: train, steps: 2, batch: 4}
YAML
r1rc validate "$T/shared.yaml"; expect_rc 0 "validate (a shared dataset)"
r1rc submit "$T/shared.yaml"; expect_rc 0 "submit (a shared dataset)"; ID=$(cat "$T/out")
r1rc watch "$ID" --plain; expect_rc 0 "watch $ID"
r1rc datasets --pipeline "$ID" --json; expect_rc 0 "datasets --pipeline $ID"
[[ $(jq_ '[(x["name"], x["count"]) for x in d["datasets"]]' <"$T/out") == "[('train', 40)]" ]] ||
	fail "pipeline $ID's datasets: $(cat "$T/out")"
log "pipeline $ID trained on the shared dataset wp_train (copied as its 'train')"
sed 's/shared: wp_train/shared: wp_tran/' "$T/shared.yaml" >"$T/nosuch.yaml"
r1rc submit "$T/nosuch.yaml"; expect_rc 1 "submit (no such shared dataset)"
grep -q "dataset 'train': no shared dataset 'wp_tran' (import one with 'r1flow dataset import FILE --name wp_tran'" "$T/err" ||
	fail "submit of an unknown shared dataset said: $(cat "$T/err")"

# --- export of a dataset larger than a reply: 200 records of 50 kB
/usr/bin/python3 - "$T/big.jsonl" <<'PY'
import json, random, string, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for i in range(200):
        p = "".join(random.choice(string.ascii_letters + " ") for _ in range(50000))
        f.write(json.dumps({"prompt": p, "answer": str(i), "meta": {"i": i, "x": 0.25}},
                           separators=(",", ":")) + "\n")
PY
r1rc dataset import "$T/big.jsonl" --name big; expect_rc 0 "dataset import big"
r1rc dataset export big -o "$T/big.out.jsonl"; expect_rc 0 "dataset export big"
grep -q "exported 200 records" "$T/out" || fail "export big: $(cat "$T/out")"
cmp "$T/big.jsonl" "$T/big.out.jsonl" || fail "the export of big differs from the file imported"
r1rc dataset import "$T/big.out.jsonl" --name big2; expect_rc 0 "dataset import big2"
r1rc dataset export big2 -o "$T/big2.out.jsonl"; expect_rc 0 "dataset export big2"
cmp "$T/big.out.jsonl" "$T/big2.out.jsonl" || fail "export -> import -> export changed the bytes"
log "200 x 50 kB: export, re-import, export again: $(stat -c %s "$T/big2.out.jsonl") identical bytes"
# a reply over the header limit is an error reply, not silence
r1rc dataset show big --limit 200; expect_rc 1 "dataset show big --limit 200"
grep -q "cannot send the reply to 'dataset_show'" "$T/err" ||
	fail "an oversized dataset_show reply said: $(cat "$T/err")"
log "ok"
