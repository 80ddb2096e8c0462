#!/usr/bin/env bash
# `r1flow dataset import` sends the file in pieces, never as one frame. Against a
# daemon refusing control frames over 64 KiB (--max-control-frame-size 65536):
#   - a JSONL file of about 610 KB (over 9 times the limit), sent in 16 KiB pieces
#     through stdin, imports: every record, in order, exports back byte for byte
#     (dataset export) and the record count is the file's line count; the pieces it
#     was sent in are not left behind among the blobs;
#   - a CSV file of about 200 KB in 32 KiB pieces imports with its header row mapped,
#     a quoted field spanning a piece boundary intact;
#   - the same JSONL file in pieces of 128 KiB, each over the limit, does not import:
#     libzmq drops the connection, so the limit the first import passed under is real;
#   - a bad line past the first piece fails the whole import naming FILE:LINE.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA

/usr/bin/python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
with open(t + "/big.jsonl", "w") as f:
    for i in range(7000):
        f.write(json.dumps({"prompt": f"what is {i} + {i * 7 % 1000}? " + "x" * (i % 40),
                            "answer": str(i + i * 7 % 1000), "id": f"r{i}"},
                           separators=(",", ":")) + "\n")  # as dataset export writes it
with open(t + "/big.csv", "w") as f:
    f.write("question,solution\n")
    for i in range(3000):
        # a quoted field with a comma and a newline inside
        f.write(f'"add {i}, then\nwrite it down {"y" * (i % 30)}",{i}\n')
with open(t + "/bad.jsonl", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"prompt": f"p{i} " + "z" * 60, "answer": str(i)}) + "\n")
    f.write("{not json\n")
PY
big=$(stat -c %s "$T/big.jsonl")
(( big > 8 * 65536 )) || fail "the JSONL file is only $big bytes"

start_daemon --max-control-frame-size 65536
blobs_before=$(sql "SELECT count(*) FROM blobs")

r1rc dataset import - --name big --piece-size 16384 <"$T/big.jsonl"; expect_rc 0 "dataset import (16 KiB pieces)"
grep -qx "imported 7000 records from stdin as dataset 'big'" "$T/out" || fail "import said: $(cat "$T/out")"
r1rc dataset export big -o "$T/back.jsonl"; expect_rc 0 "dataset export"
cmp "$T/big.jsonl" "$T/back.jsonl" || fail "the dataset imported in pieces exports as another file"
[[ $(sql "SELECT count(*) FROM blobs") == "$blobs_before" ]] ||
	fail "the pieces are left among the blobs: $(sql "SELECT count(*) FROM blobs") rows, $blobs_before before"
log "a $big-byte JSONL file imported in $(( (big + 16383) / 16384 )) pieces of 16 KiB under a 64 KiB frame limit; it exports back byte for byte"

r1rc dataset import "$T/big.csv" --name csv --piece-size 32768 --field prompt=question --field answer=solution
expect_rc 0 "dataset import (CSV, 32 KiB pieces)"
grep -qx "imported 3000 records from $T/big.csv as dataset 'csv'" "$T/out" || fail "CSV import said: $(cat "$T/out")"
r1rc dataset show csv --offset 2999 --limit 1 --json; expect_rc 0 "dataset show csv"
[[ $(jq_ 'd["records"][0]["prompt"] + "|" + d["records"][0]["answer"]' <"$T/out") == \
	"add 2999, then
write it down $(printf 'y%.0s' $(seq 29))|2999" ]] || fail "the last CSV record is $(cat "$T/out")"
log "a CSV file in 32 KiB pieces imported with its quoted multi-line fields intact"

RC=0
R1FLOW_TIMEOUT_MS=3000 "$R1FLOW_CLI" dataset import "$T/big.jsonl" --name whole --piece-size 131072 \
	>"$T/out" 2>"$T/err" || RC=$?
[[ $RC == 1 ]] || fail "pieces over the frame limit exited $RC: $(cat "$T/out" "$T/err")"
grep -q "closed the connection on piece 1 of '$T/big.jsonl' (131072 bytes): --piece-size must be less than its --max-control-frame-size" "$T/err" ||
	fail "pieces over the frame limit said: $(cat "$T/err")"
cp "$T/err" "$T/refused"
r1rc datasets --json; expect_rc 0 datasets
[[ $(jq_ '",".join(sorted(x["name"] for x in d["datasets"]))' <"$T/out") == "big,csv" ]] ||
	fail "after the refused import the datasets are $(cat "$T/out")"
log "pieces of 128 KiB are refused by the 64 KiB limit: $(cat "$T/refused")"

r1rc dataset import "$T/bad.jsonl" --name bad --piece-size 16384; expect_rc 1 "dataset import of a bad file"
grep -q "^r1flow dataset import: $T/bad.jsonl:3001: " "$T/err" || fail "a bad line 3001 said: $(cat "$T/err")"
log "a bad line in the last piece fails the import: $(cat "$T/err")"
log "ok"
