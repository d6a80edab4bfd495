#!/usr/bin/env bash
# Runs a local Kubernetes cluster for end-to-end tests and `make run`: the real
# kube-apiserver, kube-controller-manager and kube-scheduler (built from source by
# hack/controlplane.sh) started as plain processes by `kwokctl --runtime binary`,
# with kwok simulating the nodes and the pods on them. Nothing is downloaded.
#
# Usage:
#   hack/cluster.sh up           # create or start the cluster (reuses a running one);
#                                #   prints only the kubeconfig path on stdout
#   hack/cluster.sh down         # delete the cluster and its state (no-op if absent)
#   hack/cluster.sh kubeconfig   # print the kubeconfig path (fails if the cluster is absent)
#   hack/cluster.sh status       # say whether it runs; exit 0 running, 1 stopped, 2 absent
#   hack/cluster.sh smoke        # check the running cluster with hack/testdata/cluster-smoke.yaml
#
#   KUBECONFIG=$(hack/cluster.sh up) kubectl get nodes
#
# Environment:
#   WEBSTACK_CLUSTER  cluster name (default webstack)
#   WEBSTACK_CACHE    cache root (default ~/.cache/webstack-operator); cluster state lives
#                     in $WEBSTACK_CACHE/kwok/clusters/$WEBSTACK_CLUSTER
#   WEBSTACK_NODES    number of simulated nodes (default 3)
#   WEBSTACK_PVS      number of pre-created 100Gi PersistentVolumes (default 40)
#
# See hack/README.md for what the cluster provides and its limits.
set -euo pipefail

NAME=${WEBSTACK_CLUSTER:-webstack}
CACHE=${WEBSTACK_CACHE:-$HOME/.cache/webstack-operator}
NODES=${WEBSTACK_NODES:-3}
PVS=${WEBSTACK_PVS:-40}

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# kwokctl keeps every cluster under $KWOK_WORKDIR/clusters/<name>: pids, logs, pki,
# etcd data and kubeconfig.yaml. Keeping it in our cache (not ~/.kwok) means a
# personal ~/.kwok/kwok.yaml never changes how this cluster is built.
export KWOK_WORKDIR=$CACHE/kwok
WORKDIR=$KWOK_WORKDIR/clusters/$NAME
KUBECONFIG_FILE=$WORKDIR/kubeconfig.yaml

# Labels and names of what `up` adds on top of the bare control plane.
NODE_PREFIX=kwok-node
FIELD_MANAGER=hack-cluster

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

usage() {
	sed -n '/^# Usage:/,/^# See hack/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $NAME =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "WEBSTACK_CLUSTER=$NAME is not a valid name (lowercase letters, digits, '-')"
[[ $NODES =~ ^[1-9][0-9]*$ ]] || die "WEBSTACK_NODES=$NODES is not a positive number"
[[ $PVS =~ ^[0-9]+$ ]] || die "WEBSTACK_PVS=$PVS is not a number"

# Points kwokctl at the binaries of hack/controlplane.sh. Without every one of
# these it would download release binaries (or etcd 3.6) instead.
use_bins() {
	[[ -n ${BIN:-} ]] && return
	BIN=$("$HACK_DIR/controlplane.sh" cluster-bins)
	export PATH=$BIN:$PATH
	export KWOK_KUBE_BINARY_PREFIX=$BIN KWOK_CONTROLLER_BINARY=$BIN/kwok \
		KWOK_ETCD_BINARY=$BIN/etcd KWOK_ETCD_VERSION=3.4.23 KWOK_KUBECTL_BINARY=$BIN/kubectl
}

kubectl_c() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# kwokctl_run ARGS...: kwokctl with its JSON log lines shortened to their message
# (warnings and errors are passed on whole).
#
# The components kwokctl forks log to $WORKDIR/logs, but they inherit every other
# descriptor kwokctl has that is not close-on-exec: our lock (fd 9), and whatever
# the caller left open (a CI runner's pipe, say), which they would then hold for
# as long as the cluster runs. So kwokctl starts with only stdin/stdout/stderr.
kwokctl_run() {
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec kwokctl "$@"
	) </dev/null 2>&1 |
		sed -u -E 's/^\{.*"level":"INFO".*"msg":"([^"]*)".*$/kwokctl: \1/' >&2
}

exists() { [[ -f $WORKDIR/kwok.yaml ]]; }

# running: the API server answers and every component process is alive.
running() {
	if ! exists || [[ ! -f $KUBECONFIG_FILE ]]; then
		return 1
	fi
	kubectl_c get --raw /readyz --request-timeout=5s >/dev/null 2>&1 || return 1
	local pidfile
	for pidfile in "$WORKDIR"/pids/*.pid; do
		[[ -f $pidfile ]] || continue
		kill -0 "$(<"$pidfile")" 2>/dev/null || return 1
	done
}

# kwokctl_config: settings kwokctl stores in the cluster's kwok.yaml, so that a
# restart (`up` after a reboot) keeps them.
#
# WatchList=false on the API server: the kwok controller (v0.8.0) starts every
# watch at resourceVersion "0", which a WatchList-enabled API server turns into a
# watch-list stream (sendInitialEvents=true). etcd 3.4.23 lacks
# RequestWatchProgress, so the API server fails each such stream at once; kwok's
# informers back off and relist, and pods then take 10-30 s to go Running and Job
# pods as long to complete. With the gate off, watches are plain watches and pods
# are Running within a second. Clients that ask for watch-list streams (client-go
# >= 1.35, controller-runtime) fall back to list+watch, as they already do with
# this etcd.
#
# heartbeatFactor 1: kubelet's own timings (40 s node leases renewed every 10 s,
# 40 s node-monitor grace) instead of kwokctl's default factor 5, which is meant
# for thousands of nodes. A restarted kwok controller has a new identity and must
# wait for its predecessor's leases to expire before it touches the nodes' pods;
# with factor 5 that is up to 4 minutes of pods stuck Pending or Terminating.
#
# leader-elect=false for the controller-manager and the scheduler: there is one
# of each, and with election on each spent 2-8 s of every start (creating, or
# after a restart waiting out, its kube-system lease) before doing anything.
#
# No stages are listed: kwokctl then installs its defaults (node-initialize,
# node-heartbeat-with-lease, pod-ready, pod-complete, pod-delete), and pod-complete
# already moves pods owned by a Job from Running to Succeeded.
kwokctl_config() {
	cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  heartbeatFactor: 1
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - key: feature-gates
    value: WatchList=false
- name: kube-controller-manager
  extraArgs:
  - key: leader-elect
    value: "false"
- name: kube-scheduler
  extraArgs:
  - key: leader-elect
    value: "false"
EOF
}

node_names() {
	local i
	for ((i = 1; i <= NODES; i++)); do
		echo "$NODE_PREFIX-$i"
	done
}

# nodes_manifest: the simulated nodes, shaped like those of `kwokctl scale node`
# (kwokctl's kwok controller manages every node). The API server accepts a Node's
# status on create (not on update), so the capacity below is what the scheduler
# sees. One zone per node lets tests exercise topology spreading.
nodes_manifest() {
	local i=0 name
	for name in $(node_names); do
		i=$((i + 1))
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
    node-role.kubernetes.io/agent: ""
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: zone-$(((i - 1) % 3 + 1))
    type: kwok
spec:
  podCIDR: 10.244.$i.0/24
  podCIDRs: [10.244.$i.0/24]
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.$i}
  - {type: Hostname, address: $name}
  allocatable: &resources
    cpu: "32"
    memory: 128Gi
    pods: "110"
    ephemeral-storage: 500Gi
  capacity: *resources
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
EOF
	done
}

# storage_manifest: no provisioner runs, so claims bind to pre-created hostPath
# volumes (the directories are never created: no kubelet mounts them). Retain keeps
# the controller-manager from trying to delete or recycle them.
storage_manifest() {
	local i
	cat <<EOF
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
volumeBindingMode: Immediate
allowVolumeExpansion: true
EOF
	for ((i = 1; i <= PVS; i++)); do
		cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-$(printf %03d "$i")
  labels:
    webstack.dev/local-pv: "true"
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  volumeMode: Filesystem
  hostPath: {path: /tmp/webstack-pv/$i, type: DirectoryOrCreate}
EOF
	done
}

# nodes_untainted: no kwok node carries a node.kubernetes.io/* condition taint
# (not-ready, unreachable, ...). Taints that tests add themselves are ignored.
nodes_untainted() {
	local keys
	keys=$(kubectl_c get nodes -l type=kwok -o jsonpath='{.items[*].spec.taints[*].key}')
	if [[ $keys == *node.kubernetes.io/* ]]; then
		echo "node taints: $keys"
		return 1
	fi
}

# recycle_released_pvs: a volume whose claim was deleted stays Released under
# Retain and would never bind again, so a long-lived cluster would run out. Ours
# hold no data (nothing ever mounts them), so `up` makes them Available again by
# dropping the stale claimRef, as a provisioner would hand out a fresh volume.
recycle_released_pvs() {
	local pv n=0
	for pv in $(kubectl_c get pv -l webstack.dev/local-pv=true \
		-o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{" "}{end}'); do
		kubectl_c patch pv "$pv" --type=json -p='[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null
		n=$((n + 1))
	done
	((n == 0)) || log "made $n Released PersistentVolumes Available again"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: polls CMD once a second; on timeout
# shows what CMD said last.
wait_for() {
	local what=$1 timeout=$2 deadline out
	shift 2
	deadline=$((SECONDS + timeout))
	until out=$("$@" 2>&1); do
		((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what: $out"
		sleep 1
	done
}

# lock: serialises up and down of one cluster between concurrent callers
# (parallel test packages); released when the script exits.
lock() {
	mkdir -p "$KWOK_WORKDIR"
	exec 9>"$KWOK_WORKDIR/.$NAME.lock"
	if ! flock -n 9; then
		log "waiting for another hack/cluster.sh on cluster $NAME"
		flock 9
	fi
}

cmd_up() {
	local start=$SECONDS restarted=false
	use_bins
	lock
	if running; then
		log "cluster $NAME is already running; reusing it"
	else
		if exists; then
			log "cluster $NAME exists but is not running; starting it"
			restarted=true
		else
			log "creating cluster $NAME in $WORKDIR"
		fi
		CONFIG=$(mktemp "$KWOK_WORKDIR/.kwokctl-$NAME.XXXXXX.yaml")
		trap 'rm -f "$CONFIG"' EXIT
		kwokctl_config >"$CONFIG"
		# --kubeconfig '' leaves ~/.kube/config alone; we hand out the cluster's own
		# file. kwokctl writes nothing to our stdout (see kwokctl_run).
		kwokctl_run create cluster --name "$NAME" --runtime binary --config "$CONFIG" \
			--kubeconfig '' --wait 120s ||
			die "kwokctl could not create/start cluster $NAME; logs in $WORKDIR/logs (reset with: $0 down)"
		running || die "cluster $NAME did not come up; logs in $WORKDIR/logs (reset with: $0 down)"
	fi
	if $restarted; then
		# The new kwok controller would wait for the old one's leases to expire.
		# shellcheck disable=SC2046 # node names are plain words
		kubectl_c delete lease -n kube-node-lease --ignore-not-found $(node_names) >/dev/null
	fi

	# Everything below is declarative and cheap to repeat.
	log "applying $NODES nodes, StorageClass standard and $PVS PersistentVolumes"
	{
		nodes_manifest
		storage_manifest
	} | kubectl_c apply --server-side --field-manager="$FIELD_MANAGER" -f - >/dev/null
	recycle_released_pvs
	# kwok simulates a node's pods only while it holds the node's lease.
	# shellcheck disable=SC2046 # node names are plain words
	wait_for "kwok to take the node leases (log: $WORKDIR/logs/kwok-controller.log)" 60 \
		kubectl_c get lease -n kube-node-lease $(node_names)
	kubectl_c wait --for=condition=Ready --timeout=60s node -l type=kwok >/dev/null ||
		die "nodes did not become Ready (kwok controller log: $WORKDIR/logs/kwok-controller.log)"
	# Ready is not yet schedulable: the controller-manager lifts the not-ready
	# taint it put on each new node some seconds later.
	wait_for "the controller-manager to lift the nodes' not-ready taints" 60 nodes_untainted
	# Pods need the namespace's default ServiceAccount, made by the controller-manager.
	wait_for "the default ServiceAccount" 60 kubectl_c get serviceaccount default -n default

	log "cluster $NAME ready in $((SECONDS - start))s"
	log "  use it:  export KUBECONFIG=$KUBECONFIG_FILE"
	log "  stop it: $0 down"
	echo "$KUBECONFIG_FILE"
}

cmd_down() {
	if ! exists && [[ ! -d $WORKDIR ]]; then
		log "cluster $NAME does not exist; nothing to do"
		return
	fi
	use_bins
	lock
	log "deleting cluster $NAME"
	# --kubeconfig: the context is removed from the cluster's own file (about to be
	# deleted), not from ~/.kube/config; kwokctl refuses an empty path here.
	kwokctl_run delete cluster --name "$NAME" --kubeconfig "$KUBECONFIG_FILE" ||
		die "kwokctl could not delete cluster $NAME"
	# kwokctl removes its workdir; make sure nothing is left to confuse the next up.
	rm -rf "$WORKDIR"
	log "cluster $NAME deleted"
}

cmd_kubeconfig() {
	if ! exists || [[ ! -f $KUBECONFIG_FILE ]]; then
		die "cluster $NAME does not exist; start it with: $0 up"
	fi
	echo "$KUBECONFIG_FILE"
}

cmd_status() {
	if ! exists; then
		echo "cluster $NAME: absent (start it with: $0 up)"
		return 2
	fi
	use_bins
	if running; then
		echo "cluster $NAME: running; kubeconfig $KUBECONFIG_FILE (stop it with: $0 down)"
		kubectl_c get nodes -o wide >&2 || true
		return 0
	fi
	echo "cluster $NAME: stopped or unhealthy; state in $WORKDIR (start it with: $0 up, or reset with: $0 down)"
	return 1
}

# cmd_smoke: checks what the tests rely on, against the running cluster.
cmd_smoke() {
	local ns=cluster-smoke rns=cluster-smoke-restricted out
	use_bins
	running || die "cluster $NAME is not running; start it with: $0 up"
	export KUBECONFIG=$KUBECONFIG_FILE
	kubectl delete namespace "$ns" "$rns" --ignore-not-found --wait=true --timeout=120s >/dev/null

	log "smoke: nodes Ready"
	kubectl wait --for=condition=Ready --timeout=30s node -l type=kwok >/dev/null

	log "smoke: applying hack/testdata/cluster-smoke.yaml"
	# Retried: pods are refused until the controller-manager has made the new
	# namespaces' default ServiceAccount.
	wait_for "hack/testdata/cluster-smoke.yaml to apply" 30 kubectl apply -f "$HACK_DIR/testdata/cluster-smoke.yaml"
	log "smoke: Deployment of 2 replicas available"
	kubectl -n "$ns" rollout status deployment/web --timeout=60s >&2
	[[ $(kubectl -n "$ns" get pods -l app=web --field-selector=status.phase=Running -o name | wc -l) -eq 2 ]] ||
		die "smoke: expected 2 Running pods of deployment/web"
	log "smoke: Job complete"
	kubectl -n "$ns" wait --for=condition=Complete --timeout=60s job/once >/dev/null
	log "smoke: StatefulSet pod Running with its claim Bound"
	kubectl -n "$ns" rollout status statefulset/db --timeout=60s >&2
	kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Bound --timeout=30s pvc/data-db-0 >/dev/null
	log "smoke: claim without storageClassName got the default class and bound"
	kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Bound --timeout=30s pvc/plain >/dev/null
	[[ $(kubectl -n "$ns" get pvc plain -o jsonpath='{.spec.storageClassName}') == standard ]] ||
		die "smoke: pvc/plain did not get storageClassName standard"

	log "smoke: restricted namespace admits a restricted pod and rejects a privileged one"
	kubectl -n "$rns" wait --for=jsonpath='{.status.phase}'=Running --timeout=30s pod/restricted >/dev/null
	if out=$(kubectl -n "$rns" run privileged --image=registry.k8s.io/pause:3.10 --restart=Never \
		--overrides='{"spec":{"containers":[{"name":"privileged","image":"registry.k8s.io/pause:3.10","securityContext":{"privileged":true}}]}}' 2>&1); then
		die "smoke: privileged pod was admitted into a restricted namespace"
	fi
	[[ $out == *'violates PodSecurity "restricted'* ]] || die "smoke: privileged pod rejected for another reason: $out"

	log "smoke: garbage collection removes the Deployment's pods"
	kubectl -n "$ns" delete deployment web --wait=true >/dev/null
	wait_for "pods of deployment/web to be garbage collected" 60 \
		bash -c "[[ -z \$(kubectl -n $ns get pods -l app=web -o name) ]]"

	log "smoke: all checks passed; deleting the smoke namespaces"
	kubectl delete namespace "$ns" "$rns" --wait=true --timeout=120s >/dev/null
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
kubeconfig) cmd_kubeconfig ;;
status) cmd_status ;;
smoke) cmd_smoke ;;
*) usage ;;
esac
