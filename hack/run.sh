#!/usr/bin/env bash
# `make run`: installs the WebStack CRD into the cluster of $KUBECONFIG and runs the manager
# against it in the foreground (Ctrl-C stops it). When no cluster is reachable, it starts the
# offline local cluster of hack/cluster.sh (built from source, simulated nodes), applies the
# samples and runs the manager against that.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'run: %s\n' "$*" >&2; }

if ! kubectl version --request-timeout=5s >/dev/null 2>&1; then
	log "no cluster reachable through ${KUBECONFIG:-~/.kube/config}; starting the offline local cluster"
	export KUBECONFIG
	KUBECONFIG=$(hack/cluster.sh up)
	log "local cluster up; kubeconfig: $KUBECONFIG"
	log "stop it with: hack/cluster.sh down"
	samples=true
else
	samples=false
fi

log "installing the CRD"
kubectl apply --server-side --force-conflicts -f config/crd/bases
kubectl wait --for=condition=Established --timeout=60s crd/webstacks.webstack.dev >/dev/null
if $samples; then
	log "applying config/samples into namespace default"
	kubectl apply -f config/samples
	log "watch them with: KUBECONFIG=$KUBECONFIG kubectl get ws -w"
fi

log "running the manager (Ctrl-C stops it)"
exec bin/webstack-operator manager --metrics-bind-address=127.0.0.1:8080 --health-probe-bind-address=127.0.0.1:8081
