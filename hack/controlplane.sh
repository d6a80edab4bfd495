#!/usr/bin/env bash
# Builds and caches, outside the repository, the Kubernetes control-plane binaries
# the tests run against, and prints where they are. Everything is built from source
# through the Go module proxy (no release downloads), and keyed by version, so a
# warm cache makes every subcommand a no-op that never invokes go.
#
# Usage:
#   hack/controlplane.sh envtest        # kube-apiserver + etcd; prints the dir for KUBEBUILDER_ASSETS
#   hack/controlplane.sh cluster-bins   # + kube-controller-manager, kube-scheduler, kubectl, kwok,
#                                       #   kwokctl, helm; prints one dir with all of them
#   hack/controlplane.sh kube-bins      # the control-plane binaries and kubectl; prints their dir
#   hack/controlplane.sh node-bins      # + kubelet and kube-proxy (hack/real-cluster.sh); prints their dir
#   hack/controlplane.sh coredns        # CoreDNS; prints its bin dir
#   hack/controlplane.sh kube-router    # kube-router (NetworkPolicy controller); prints its bin dir
#   hack/controlplane.sh kwok|helm      # just that tool; prints its bin dir
#   hack/controlplane.sh versions       # prints the pinned versions as KEY=value lines
#
# Only the directory goes to stdout; progress goes to stderr, so
#   export KUBEBUILDER_ASSETS="$(hack/controlplane.sh envtest)"
# works. Cache root: ${WEBSTACK_CACHE:-$HOME/.cache/webstack-operator}.
# Force a rebuild by deleting the version's directory (see hack/README.md).
set -euo pipefail

KUBE_VERSION=v1.37.2 # k8s.io/kubernetes; the staging modules are v0.${minor}.${patch}
KWOK_VERSION=v0.8.0  # sigs.k8s.io/kwok
HELM_VERSION=v3.22.0 # helm.sh/helm/v3
COREDNS_VERSION=v1.15.0 # github.com/coredns/coredns (hack/real-cluster.sh)
# github.com/cloudnativelabs/kube-router/v2, only its NetworkPolicy controller (iptables +
# ipset), for hack/real-cluster.sh. v2.1.0 is the version the module proxy serves; security
# flaws are reported for it, acceptable for a local test cluster that sees no untrusted traffic.
KUBE_ROUTER_VERSION=v2.1.0

CACHE=${WEBSTACK_CACHE:-$HOME/.cache/webstack-operator}
K8S_DIR=$CACHE/k8s-$KUBE_VERSION
K8S_BIN=$K8S_DIR/bin
K8S_MOD=$K8S_DIR/module
KWOK_BIN=$CACHE/kwok-$KWOK_VERSION/bin
HELM_BIN=$CACHE/helm-$HELM_VERSION/bin
COREDNS_BIN=$CACHE/coredns-$COREDNS_VERSION/bin
KUBE_ROUTER_BIN=$CACHE/kube-router-$KUBE_ROUTER_VERSION/bin
CLUSTER_BIN=$CACHE/bin-k8s-$KUBE_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION

# The Kubernetes commands this script can build (packages under k8s.io/kubernetes/cmd).
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
# The node's commands, for the real-containers cluster only.
NODE_CMDS=(kubelet kube-proxy)
# The build module is tidied for all of them, so it is prepared once.
MODULE_CMDS=("${KUBE_CMDS[@]}" "${NODE_CMDS[@]}")

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'controlplane: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# go is only needed on a cold cache; look it up lazily.
need_go() {
	command -v go >/dev/null && return
	[[ -x /usr/local/go/bin/go ]] || die "go not found in PATH or /usr/local/go/bin"
	PATH=/usr/local/go/bin:$PATH
}

# Run outside the repository, and never let a go.work or the caller's -mod
# flags leak in.
go_cmd() {
	need_go
	mkdir -p "$CACHE"
	(cd "$CACHE" && GOWORK=off GOFLAGS=-buildvcs=false go "$@")
}

# run_go DIR ARGS...: the long go commands (tidy, build, install), output to
# stderr. go runs as a background child so that a TERM or INT sent to this script
# alone (timeout, CI cancel) stops it at once: bash defers traps while a
# foreground command runs.
CHILD=
run_go() {
	local dir=$1 rc=0
	shift
	need_go
	(cd "$dir" && GOWORK=off GOFLAGS=-buildvcs=false exec go "$@") >&2 &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	return "$rc"
}

# Temporary build dirs of this run, removed however the run ends.
TMP_DIRS=()
cleanup() {
	((${#TMP_DIRS[@]})) && rm -rf "${TMP_DIRS[@]}"
	return 0
}
on_signal() {
	if [[ -n $CHILD ]]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	log "interrupted"
	exit 130
}
trap cleanup EXIT
trap on_signal INT TERM
# new_tmp_dir PARENT PREFIX: prints a fresh dir under PARENT, 0755, cleaned on exit.
# Call it directly (not in $(...)) so the array is updated: sets $TMP.
new_tmp_dir() {
	mkdir -p "$1"
	TMP=$(mktemp -d "$1/$2.XXXXXX")
	chmod 755 "$TMP"
	TMP_DIRS+=("$TMP")
}

# Serialises builds between concurrent invocations (parallel test packages, CI
# steps). Taken only on the slow path. Holding it, leftovers of runs that were
# killed (SIGKILL skips the trap) can be removed safely.
locked=false
lock() {
	$locked && return
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		log "waiting for another build to finish ($CACHE/.lock)"
		flock 9
	fi
	locked=true
	rm -rf "$CACHE"/.cluster.* "$CACHE"/*/.install.* "$CACHE"/*/module.tmp.* "$CACHE"/*/bin/.build.*
}

# staging_version v1.37.2 -> v0.37.2
staging_version() {
	local v=${1#v}
	echo "v0.${v#*.}"
}

# Creates the throw-away module that builds k8s.io/kubernetes commands: it requires
# k8s.io/kubernetes and replaces each staging module (which kubernetes' own go.mod
# points at ./staging/src/...) with the published v0.x.y of the same name.
ensure_wrapper_module() {
	# .ready records the commands the module was tidied for.
	[[ -f $K8S_MOD/.ready && $(<"$K8S_MOD/.ready") == "${MODULE_CMDS[*]}" ]] && return
	local sv gomod goline tmp mods
	sv=$(staging_version "$KUBE_VERSION")
	log "preparing build module for k8s.io/kubernetes@$KUBE_VERSION (staging $sv)"
	gomod=$(go_cmd mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[[ -f $gomod ]] || die "could not download k8s.io/kubernetes@$KUBE_VERSION"
	mods=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod" | sort -u)
	[[ -n $mods ]] || die "no staging replace directives found in $gomod"
	goline=$(grep -m1 '^go ' "$gomod")

	new_tmp_dir "$K8S_DIR" module.tmp
	tmp=$TMP
	{
		echo "// Generated by hack/controlplane.sh: builds k8s.io/kubernetes commands from the module proxy."
		echo "module webstack.local/kube-build"
		echo
		echo "$goline"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		for cmd in "${MODULE_CMDS[@]}"; do
			echo "tool k8s.io/kubernetes/cmd/$cmd"
		done
		echo
		echo "replace ("
		for m in $mods; do
			printf '\t%s => %s %s\n' "$m" "$m" "$sv"
		done
		echo ")"
	} >"$tmp/go.mod"
	# tidy resolves every module the tools need at the versions kubernetes pins
	# and writes go.sum; later builds then run with the default -mod=readonly.
	run_go "$tmp" mod tidy || die "go mod tidy failed in the build module"
	echo "${MODULE_CMDS[*]}" >"$tmp/.ready"
	rm -rf "$K8S_MOD"
	mv "$tmp" "$K8S_MOD"
}

# Mirrors kubernetes' hack/lib/version.sh so that --version and the /version
# endpoint report the real release.
kube_ldflags() {
	local v=${KUBE_VERSION#v} major minor date info flags=(-s -w)
	major=${v%%.*}
	minor=${v#*.}
	minor=${minor%%.*}
	info=$(go_cmd env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$KUBE_VERSION.info
	date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info" 2>/dev/null || true)
	for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
		flags+=(
			"-X" "$pkg.gitVersion=$KUBE_VERSION"
			"-X" "$pkg.gitMajor=$major"
			"-X" "$pkg.gitMinor=$minor"
			"-X" "$pkg.gitCommit="
			"-X" "$pkg.gitTreeState=clean"
			"-X" "$pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
		)
	done
	echo "${flags[*]}"
}

# ensure_kube CMD... builds the missing ones in one go invocation (they share
# most packages), into a temp dir, then moves each into place.
ensure_kube() {
	local missing=() cmd pkgs=() tmp start
	for cmd in "$@"; do
		[[ -x $K8S_BIN/$cmd ]] || missing+=("$cmd")
	done
	((${#missing[@]})) || return 0
	lock
	missing=()
	for cmd in "$@"; do
		[[ -x $K8S_BIN/$cmd ]] || missing+=("$cmd")
	done
	((${#missing[@]})) || return 0

	ensure_wrapper_module
	for cmd in "${missing[@]}"; do
		pkgs+=("k8s.io/kubernetes/cmd/$cmd")
	done
	new_tmp_dir "$K8S_BIN" .build
	tmp=$TMP
	start=$SECONDS
	log "building ${missing[*]} $KUBE_VERSION (several minutes on a cold Go build cache)"
	run_go "$K8S_MOD" build -trimpath -ldflags "$(kube_ldflags)" -o "$tmp/" "${pkgs[@]}" ||
		die "building ${missing[*]} failed"
	for cmd in "${missing[@]}"; do
		"$tmp/$cmd" --version >/dev/null 2>&1 || "$tmp/$cmd" version --client >/dev/null 2>&1 ||
			die "built $cmd does not run"
		mv -f "$tmp/$cmd" "$K8S_BIN/$cmd"
	done
	log "built ${missing[*]} in $((SECONDS - start))s"
}

# etcd comes from Debian's etcd-server package (3.4), linked into the bin dir.
ensure_etcd() {
	[[ -x $K8S_BIN/etcd ]] && return
	if [[ ! -x /usr/bin/etcd ]]; then
		log "/usr/bin/etcd missing; running hack/install-deps.sh"
		"$HACK_DIR/install-deps.sh" >&2
	fi
	/usr/bin/etcd --version >/dev/null 2>&1 || die "/usr/bin/etcd --version failed"
	mkdir -p "$K8S_BIN"
	ln -sfn /usr/bin/etcd "$K8S_BIN/etcd"
}

# go_install_tool DIR MARKER LDFLAGS PKG@VERSION... installs into DIR atomically.
go_install_tool() {
	local dir=$1 marker=$2 ldflags=$3 tmp
	shift 3
	[[ -x $dir/$marker ]] && return
	lock
	[[ -x $dir/$marker ]] && return
	new_tmp_dir "$(dirname "$dir")" .install
	tmp=$TMP
	log "installing $*"
	GOBIN=$tmp run_go "$tmp" install -trimpath -ldflags "$ldflags" "$@" || die "go install $* failed"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

ensure_kwok() {
	# KubeVersion is what kwokctl creates clusters with by default; keep it on ours.
	go_install_tool "$KWOK_BIN" kwokctl \
		"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBE_VERSION" \
		"sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

ensure_helm() {
	go_install_tool "$HELM_BIN" helm \
		"-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

ensure_coredns() {
	go_install_tool "$COREDNS_BIN" coredns \
		"-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
		"github.com/coredns/coredns@$COREDNS_VERSION"
}

ensure_kube_router() {
	go_install_tool "$KUBE_ROUTER_BIN" kube-router \
		"-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
		"github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
}

# One directory of symlinks to everything the end-to-end cluster needs.
ensure_cluster_dir() {
	local f
	[[ -d $CLUSTER_BIN ]] && return
	lock
	local tmp
	new_tmp_dir "$CACHE" .cluster
	tmp=$TMP
	for f in "$K8S_BIN"/* "$KWOK_BIN"/* "$HELM_BIN"/*; do
		ln -s "$f" "$tmp/$(basename "$f")"
	done
	rm -rf "$CLUSTER_BIN"
	mv "$tmp" "$CLUSTER_BIN"
}

case ${1:-} in
envtest)
	ensure_etcd
	ensure_kube kube-apiserver
	echo "$K8S_BIN"
	;;
kube-bins)
	ensure_etcd
	ensure_kube "${KUBE_CMDS[@]}"
	echo "$K8S_BIN"
	;;
node-bins)
	ensure_etcd
	ensure_kube "${KUBE_CMDS[@]}" "${NODE_CMDS[@]}"
	echo "$K8S_BIN"
	;;
coredns)
	ensure_coredns
	echo "$COREDNS_BIN"
	;;
kube-router)
	ensure_kube_router
	echo "$KUBE_ROUTER_BIN"
	;;
cluster-bins)
	ensure_etcd
	ensure_kube "${KUBE_CMDS[@]}"
	ensure_kwok
	ensure_helm
	ensure_cluster_dir
	echo "$CLUSTER_BIN"
	;;
kwok)
	ensure_kwok
	echo "$KWOK_BIN"
	;;
helm)
	ensure_helm
	echo "$HELM_BIN"
	;;
versions)
	echo "KUBE_VERSION=$KUBE_VERSION"
	echo "KWOK_VERSION=$KWOK_VERSION"
	echo "HELM_VERSION=$HELM_VERSION"
	echo "COREDNS_VERSION=$COREDNS_VERSION"
	echo "KUBE_ROUTER_VERSION=$KUBE_ROUTER_VERSION"
	echo "CACHE=$CACHE"
	;;
*)
	sed -n '/^# Usage:/,/^# Force/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
