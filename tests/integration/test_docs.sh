#!/usr/bin/env bash
# The documents in docs/ against the code they describe, so they cannot drift:
#   - docs/pipelines.md's generated section equals `r1flow validate --reference`;
#   - docs/protocol.md documents exactly the commands of protocol/proto.c's table
#     (one "### `NAME`" heading each) and exactly the control ops a running daemon
#     lists with its `ops` op (one "#### `name`" heading each);
#   - nothing in the repository's docs and README points outside the repository.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BEGIN='<!-- BEGIN r1flow validate --reference -->'
END='<!-- END r1flow validate --reference -->'

# --- the spec reference
"$R1FLOW_CLI" validate --reference >"$T/reference.md" || fail "r1flow validate --reference failed"
[[ -s $T/reference.md ]] || fail "r1flow validate --reference printed nothing"
grep -qxF "$BEGIN" "$SRC/docs/pipelines.md" && grep -qxF "$END" "$SRC/docs/pipelines.md" ||
	fail "docs/pipelines.md lacks the marker lines '$BEGIN' and '$END'"
awk -v b="$BEGIN" -v e="$END" '$0 == e { on = 0 } on { print } $0 == b { on = 1 }' \
	"$SRC/docs/pipelines.md" >"$T/documented.md"
if ! diff -u "$T/documented.md" "$T/reference.md" >"$T/reference.diff"; then
	head -n 40 "$T/reference.diff"
	fail "docs/pipelines.md's generated section differs from 'r1flow validate --reference'" \
		"(regenerate it: scripts/docs.sh)"
fi
log "pipelines.md: the generated reference matches ($(wc -l <"$T/reference.md") lines)"

# --- worker and control commands: proto.c's table against protocol.md's headings
sed -n 's/^\s*\[PROTO_[A-Z]*\]\s*=\s*{\s*"\([A-Z]*\)".*/\1/p' "$SRC/protocol/proto.c" |
	sort >"$T/cmds.impl"
[[ $(wc -l <"$T/cmds.impl") -ge 10 ]] || fail "found only $(wc -l <"$T/cmds.impl") commands in protocol/proto.c's table: has its layout changed?"
sed -n 's/^### `\([A-Z]*\)`.*/\1/p' "$SRC/docs/protocol.md" | sort >"$T/cmds.doc"
diff -u "$T/cmds.doc" "$T/cmds.impl" ||
	fail "docs/protocol.md's commands (-) differ from protocol/proto.c's table (+)"
log "protocol.md: $(wc -l <"$T/cmds.impl") commands, as implemented"

# --- control ops: the running daemon's own list against protocol.md's headings
start_daemon
ctl '{"op":"ops"}' >"$T/ops.json"
/usr/bin/python3 -c 'import json,sys
for o in json.load(open(sys.argv[1]))["ops"]: print(o["name"])' "$T/ops.json" | sort >"$T/ops.impl"
[[ $(wc -l <"$T/ops.impl") -ge 10 ]] || fail "the daemon listed only $(wc -l <"$T/ops.impl") ops"
sed -n 's/^#### `\([a-z_]*\)`.*/\1/p' "$SRC/docs/protocol.md" | sort >"$T/ops.doc"
diff -u "$T/ops.doc" "$T/ops.impl" ||
	fail "docs/protocol.md's control ops (-) differ from the daemon's 'ops' list (+)"
log "protocol.md: $(wc -l <"$T/ops.impl") control ops, as implemented"

# --- nothing points outside the repository
for f in README.md docs/*.md pipelines/*.yaml; do
	# (bracketed so that this line does not match a search for the same words)
	if grep -n 'DESIGN[ ]§\|[.][.]/shared\|LEARNING[.]md' "$SRC/$f"; then
		fail "$f refers to a document outside the repository"
	fi
done
for doc in architecture protocol pipelines rewards learning; do
	[[ -s $SRC/docs/$doc.md ]] || fail "docs/$doc.md is missing"
	grep -q "docs/$doc.md" "$SRC/README.md" || fail "README.md does not link docs/$doc.md"
done
log "docs: self-contained, linked from README.md"
echo "ok"
