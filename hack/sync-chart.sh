#!/usr/bin/env bash
# Keeps the Helm chart's copies of the generated manifests identical to the originals that
# controller-gen writes (`make manifests`):
#
#   config/crd/bases/*.yaml  ->  charts/webstack-operator/crds/        (installed by helm as is)
#   config/rbac/role.yaml    ->  charts/webstack-operator/files/role.yaml
#                                (templates/clusterrole.yaml takes its rules from it)
#
# Usage:
#   hack/sync-chart.sh           # copy what differs, delete chart CRDs that no longer exist
#   hack/sync-chart.sh --check   # change nothing; exit 1 and show the differences if any
#
# Byte-for-byte copies: nothing to render, so writing twice changes nothing, and a file is
# only rewritten when its content differs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHART=charts/webstack-operator
CRD_SRC=config/crd/bases
CRD_DST=$CHART/crds
ROLE_SRC=config/rbac/role.yaml
ROLE_DST=$CHART/files/role.yaml

log() { printf 'sync-chart: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

check=false
case ${1:-} in
'') ;;
--check) check=true ;;
*)
	sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
(($# <= 1)) || die "too many arguments"

[[ -f $ROLE_SRC ]] || die "$ROLE_SRC is missing: run 'make manifests'"
shopt -s nullglob
srcs=("$CRD_SRC"/*.yaml)
((${#srcs[@]})) || die "no CRD in $CRD_SRC: run 'make manifests'"

# pairs: source and destination, one pair per two elements.
pairs=()
for src in "${srcs[@]}"; do
	pairs+=("$src" "$CRD_DST/${src##*/}")
done
pairs+=("$ROLE_SRC" "$ROLE_DST")

# Chart CRDs without a source (a CRD that was removed or renamed).
stale=()
for dst in "$CRD_DST"/*; do
	[[ -f $CRD_SRC/${dst##*/} ]] || stale+=("$dst")
done

differ=0
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
	src=${pairs[i]} dst=${pairs[i + 1]}
	cmp -s "$src" "$dst" && continue
	differ=1
	if $check; then
		if [[ -f $dst ]]; then
			log "$dst differs from $src:"
			diff -u "$dst" "$src" >&2 || true
		else
			log "$dst is missing (a copy of $src)"
		fi
	else
		mkdir -p "$(dirname "$dst")"
		cp "$src" "$dst.tmp"
		mv "$dst.tmp" "$dst"
		log "updated $dst from $src"
	fi
done
for dst in "${stale[@]}"; do
	differ=1
	if $check; then
		log "$dst has no source in $CRD_SRC"
	else
		rm -f "$dst"
		log "removed $dst (no longer in $CRD_SRC)"
	fi
done

if $check && ((differ)); then
	die "the chart's CRDs or RBAC rules are out of date: run 'hack/sync-chart.sh' (part of 'make manifests') and commit the result"
fi
exit 0
