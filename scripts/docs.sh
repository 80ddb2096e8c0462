#!/usr/bin/env bash
# docs.sh — rewrite the generated section of docs/pipelines.md (the spec reference,
# between its BEGIN/END marker lines) with the output of `r1flow validate --reference`.
# tests/integration/test_docs.sh fails until this is run after a change to the spec's
# key tables (pipelines/spec_keys.c).
#
#   scripts/docs.sh [R1FLOW]     R1FLOW: the r1flow binary (default build/cli/r1flow)
set -euo pipefail
cd "$(dirname "$0")/.."
R1FLOW=${1:-build/cli/r1flow}
BEGIN='<!-- BEGIN r1flow validate --reference -->'
END='<!-- END r1flow validate --reference -->'
ref=$(mktemp)
out=$(mktemp)
trap 'rm -f "$ref" "$out"' EXIT
"$R1FLOW" validate --reference >"$ref"
grep -qxF "$BEGIN" docs/pipelines.md && grep -qxF "$END" docs/pipelines.md || {
	echo "docs.sh: docs/pipelines.md lacks the lines '$BEGIN' and '$END'" >&2
	exit 1
}
awk -v b="$BEGIN" -v e="$END" -v ref="$ref" '
	$0 == b { print; while ((getline line < ref) > 0) print line; skip = 1; next }
	$0 == e { skip = 0 }
	!skip { print }' docs/pipelines.md >"$out"
cat "$out" >docs/pipelines.md
echo "docs/pipelines.md: spec reference regenerated"
