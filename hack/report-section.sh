#!/usr/bin/env bash
# Replaces one section of docs/benchmarks.md with a freshly written report, so that each
# benchmark (`make bench` for the operator, `make bench-stack` for the stack) owns its part
# of the one report and leaves the other's untouched.
#
# Usage: hack/report-section.sh NAME REPORT.md [TARGET.md]
#   The section is everything between "<!-- NAME:begin -->" and "<!-- NAME:end -->" in
#   TARGET (default docs/benchmarks.md); it is appended when TARGET does not have it yet.
set -euo pipefail

name=${1:?usage: hack/report-section.sh NAME REPORT.md [TARGET.md]}
report=${2:?usage: hack/report-section.sh NAME REPORT.md [TARGET.md]}
target=${3:-docs/benchmarks.md}
begin="<!-- $name:begin -->"
end="<!-- $name:end -->"

[[ -s $report ]] || { echo "report-section: $report is empty" >&2; exit 1; }
if [[ ! -f $target ]]; then
	printf '# Benchmarks\n\nEach section below is written by its own command; see the command line in it.\n' >"$target"
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if grep -qF "$begin" "$target"; then
	awk -v b="$begin" -v e="$end" -v f="$report" '
		$0 == b { print; while ((getline line < f) > 0) print line; skip = 1; next }
		$0 == e { skip = 0 }
		!skip' "$target" >"$tmp"
else
	{ cat "$target"; printf '\n%s\n' "$begin"; cat "$report"; printf '%s\n' "$end"; } >"$tmp"
fi
cat "$tmp" >"$target"
echo "report-section: wrote section $name of $target" >&2
