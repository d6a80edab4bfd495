#!/usr/bin/env bash
# Tests the two ways of installing the operator, the Helm chart (charts/webstack-operator) and
# kustomize (config/default), without any existing cluster:
#
#   1. the chart's CRD and RBAC rules are the generated ones (hack/sync-chart.sh --check, and
#      `helm show crds` is config/crd/bases);
#   2. `helm lint --strict` with the default values and with ci/all-values.yaml (everything on);
#   3. `helm template` of the defaults, of everything on, of leader election off and of metrics
#      off, and `kubectl kustomize config/default`, each checked for: the restricted security
#      context, probes and resources on the manager; no "*" in any RBAC rule; ClusterRole rules
#      equal to config/rbac/role.yaml's; and what each set of values must change;
#   4. the schema rejects unknown and inconsistent values;
#   5. against a throwaway kube-apiserver + etcd started here (loopback, random ports, removed on
#      exit): every rendered object is applied with strict field validation in a namespace that
#      enforces and warns on the restricted Pod Security Standard (any warning fails), the RBAC
#      authorizer is asked what the manager's ServiceAccount may do (kubectl auth can-i), and the
#      WebStack manifest the chart's NOTES.txt tells users to apply is accepted by the CRD.
#
# Usage: hack/chart-test.sh      (exit 0: all passed; 1: failures, each printed with FAIL)
#        VERBOSE=1 hack/chart-test.sh   also prints every check that passed
#
# Needs helm, kubectl, kube-apiserver and etcd, all from `hack/controlplane.sh cluster-bins`
# (put on PATH here), and openssl for the apiserver's service-account key. It never talks to
# the cluster of $KUBECONFIG: every command runs with a kubeconfig of its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHART=charts/webstack-operator
ALL_VALUES=$CHART/ci/all-values.yaml
ROLE=config/rbac/role.yaml

log() { printf 'chart-test: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

FAILURES=0 PASSED=0
fail() {
	log "FAIL: $*"
	FAILURES=$((FAILURES + 1))
}
pass() {
	PASSED=$((PASSED + 1))
	[[ ${VERBOSE:-} != 1 ]] || log "ok: $*"
}

# is NAME GOT WANT: an equality assertion.
is() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

BIN=$(hack/controlplane.sh cluster-bins) || die "hack/controlplane.sh cluster-bins failed"
PATH=$BIN:$PATH
for tool in helm kubectl kube-apiserver etcd openssl; do
	command -v "$tool" >/dev/null || die "$tool not found (helm, kubectl, kube-apiserver and etcd come from hack/controlplane.sh cluster-bins)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chart-test.XXXXXX")
PIDS=()
# stop_processes: stops the processes this script started (etcd, kube-apiserver), newest
# first: the apiserver before its etcd, or its shutdown waits minutes for etcd. SIGKILL after 5 s.
stop_processes() {
	local i pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		kill "$pid" 2>/dev/null || continue
		for _ in {1..50}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}
cleanup() {
	stop_processes
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Helm keeps its own state under $WORK, and no command may reach a real cluster: until the
# throwaway apiserver runs, the kubeconfig is empty.
export HELM_CACHE_HOME=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_DATA_HOME=$WORK/helm/data
export KUBECONFIG=$WORK/kubeconfig
: >"$KUBECONFIG"

# --- helpers over multi-document YAML (no yq: awk and grep) -------------------------------

# docs KIND FILE: the documents of FILE whose top-level kind is KIND, each after a "---".
docs() {
	awk -v kind="kind: $1" '
		function flush() { if (keep) printf "---\n%s", buf; buf = ""; keep = 0 }
		/^---/ { flush(); next }
		{ buf = buf $0 "\n"; if ($0 == kind) keep = 1 }
		END { flush() }' "$2"
}

# count KIND FILE: how many documents of that kind FILE has.
count() { docs "$1" "$2" | grep -c '^---$' || true; }

# in_namespace NS: of the documents on stdin (as docs prints them), those in namespace NS.
in_namespace() {
	awk -v ns="  namespace: $1" '
		function flush() { if (keep) printf "---\n%s", buf; buf = ""; keep = 0 }
		/^---/ { flush(); next }
		{ buf = buf $0 "\n"; if ($0 == ns) keep = 1 }
		END { flush() }'
}

# rules: the "rules:" block of the one Role or ClusterRole document on stdin (rules is its
# last top-level key in controller-gen, Helm and kustomize output alike).
rules() { awk '/^rules:/ { on = 1; next } on && /^[^ -]/ { on = 0 } on'; }

# has NAME FILE REGEX / hasnt NAME FILE REGEX: grep -E assertions with a message.
has() {
	if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1: no line matches /$3/ in $2"; fi
}
hasnt() {
	if grep -Eq -- "$3" "$2"; then fail "$1: $(grep -Em1 -- "$3" "$2" | sed 's/^ *//') in $2"; else pass "$1"; fi
}

# check_render NAME FILE: what every install must satisfy.
check_render() {
	local name=$1 file=$2 d=$WORK/$1

	# The manager Deployment, held to the restricted Pod Security Standard and more.
	docs Deployment "$file" >"$d.deploy"
	is "$name: one Deployment" "$(count Deployment "$file")" 1
	has "$name: pod runs as non-root" "$d.deploy" '^ +runAsNonRoot: true$'
	has "$name: pod runs as uid 65532" "$d.deploy" '^ +runAsUser: 65532$'
	has "$name: seccomp RuntimeDefault" "$d.deploy" '^ +type: RuntimeDefault$'
	has "$name: no privilege escalation" "$d.deploy" '^ +allowPrivilegeEscalation: false$'
	has "$name: read-only root filesystem" "$d.deploy" '^ +readOnlyRootFilesystem: true$'
	if grep -A1 -E '^ +drop:$' "$d.deploy" | grep -Eq -- '^ +- "?ALL"?$'; then
		pass "$name: capabilities drop ALL"
	else
		fail "$name: capabilities.drop is not [ALL]"
	fi
	hasnt "$name: no added capabilities" "$d.deploy" '^ +add:'
	hasnt "$name: not privileged" "$d.deploy" 'privileged: true'
	hasnt "$name: no host namespaces" "$d.deploy" 'host(Network|PID|IPC): true'
	hasnt "$name: no hostPath volumes" "$d.deploy" 'hostPath:'
	hasnt "$name: no root uid" "$d.deploy" 'runAs(User|Group): 0$'
	has "$name: liveness probe on /healthz" "$d.deploy" '^ +path: /healthz$'
	has "$name: readiness probe on /readyz" "$d.deploy" '^ +path: /readyz$'
	has "$name: probes on port 8081" "$d.deploy" '^ +(- )?containerPort: 8081$'
	has "$name: probe address flag" "$d.deploy" '^ +- "?--health-probe-bind-address=:8081"?$'
	has "$name: resource requests" "$d.deploy" '^ +requests:$'
	has "$name: resource limits" "$d.deploy" '^ +limits:$'

	# RBAC: no wildcard anywhere in a Role or ClusterRole, and the ClusterRole's rules are
	# exactly the generated ones.
	{ docs Role "$file"; docs ClusterRole "$file"; } >"$d.roles"
	hasnt "$name: no wildcard in RBAC rules" "$d.roles" '\*'
	# With watchNamespaces (the watchns render) a Role in each watched namespace holds the
	# rules; shop is checked.
	local role=ClusterRole binding=ClusterRoleBinding scope=cat
	if [[ $name == watchns ]]; then
		role=Role binding=RoleBinding scope="in_namespace shop"
	else
		is "$name: one ClusterRole" "$(count ClusterRole "$file")" 1
	fi
	docs $role "$file" | $scope | rules >"$d.rules"
	rules <"$ROLE" >"$WORK/role.rules"
	if [[ -s $d.rules ]] && diff -u "$WORK/role.rules" "$d.rules" >"$d.rules.diff"; then
		pass "$name: $role rules are $ROLE's"
	else
		fail "$name: $role rules differ from $ROLE (run hack/sync-chart.sh):"
		cat "$d.rules.diff" >&2
	fi

	# The binding grants them to the ServiceAccount the Deployment runs as.
	local sa ns subject
	sa=$(docs ServiceAccount "$file" | awk '/^  name:/ { print $2; exit }')
	ns=$(docs ServiceAccount "$file" | awk '/^  namespace:/ { print $2; exit }')
	subject=$(docs $binding "$file" | $scope | awk '/^subjects:/ { on = 1 } on && /name:/ { n = $NF } on && /namespace:/ { s = $NF } END { print s "/" n }')
	if [[ -n $sa && $subject == "$ns/$sa" ]]; then
		pass "$name: $binding subject is the ServiceAccount $ns/$sa"
	else
		fail "$name: $binding subject $subject is not the ServiceAccount ${ns:-?}/${sa:-?}"
	fi
	has "$name: Deployment runs as that ServiceAccount" "$d.deploy" "^ +serviceAccountName: $sa\$"
}

# --- 1. generated files ----------------------------------------------------------------------

if hack/sync-chart.sh --check; then
	pass "chart CRDs and files/role.yaml equal config/crd/bases and $ROLE"
else
	fail "chart CRDs or RBAC rules out of date (see above)"
fi
for f in config/crd/bases/*.yaml; do
	cat "$f"
	echo
done >"$WORK/crds.want"
if helm show crds "$CHART" >"$WORK/crds.got" && cmp -s "$WORK/crds.want" "$WORK/crds.got"; then
	pass "helm show crds is config/crd/bases"
else
	fail "helm show crds differs from config/crd/bases"
fi

# --- 2. lint ---------------------------------------------------------------------------------

if helm lint --strict "$CHART" >"$WORK/lint.log" 2>&1; then pass "helm lint --strict"; else
	fail "helm lint --strict:"
	cat "$WORK/lint.log" >&2
fi
if helm lint --strict "$CHART" -f "$ALL_VALUES" >"$WORK/lint.log" 2>&1; then pass "helm lint --strict -f $ALL_VALUES"; else
	fail "helm lint --strict -f $ALL_VALUES:"
	cat "$WORK/lint.log" >&2
fi

# --- 3. renders ------------------------------------------------------------------------------

# render NAME RELEASE NAMESPACE HELM-ARGS...: helm template with the CRDs into $WORK/NAME.yaml.
render() {
	local name=$1 release=$2 ns=$3
	shift 3
	if ! helm template "$release" "$CHART" --namespace "$ns" --include-crds "$@" >"$WORK/$name.yaml" 2>"$WORK/$name.err"; then
		fail "helm template ($name):"
		cat "$WORK/$name.err" >&2
		: >"$WORK/$name.yaml"
	fi
}
render default webstack-operator webstack-system
render all ws chart-all -f "$ALL_VALUES"
render noleader noleader chart-noleader --set leaderElection.enabled=false
render nometrics nometrics chart-nometrics --set metrics.enabled=false
render watchns watchns chart-watchns --set 'watchNamespaces={shop,blog}'
if kubectl kustomize config/default >"$WORK/kustomize.yaml" 2>"$WORK/kustomize.err"; then
	pass "kubectl kustomize config/default"
else
	fail "kubectl kustomize config/default:"
	cat "$WORK/kustomize.err" >&2
fi

for name in default all noleader nometrics watchns kustomize; do
	check_render "$name" "$WORK/$name.yaml"
done

# What the values change.
R=$WORK
docs Deployment "$R/default.yaml" >"$R/default.d"
has "default: image is the appVersion" "$R/default.d" '^ +image: "ghcr.io/webstack-dev/webstack-operator:0.1.0"$'
has "default: one replica" "$R/default.d" '^  replicas: 1$'
has "default: leader election on" "$R/default.d" '^ +- --leader-elect$'
has "default: metrics on :8080" "$R/default.d" '^ +- --metrics-bind-address=:8080$'
has "default: log level info" "$R/default.d" '^ +- --zap-log-level=info$'
is "default: leader-election Role" "$(count Role "$R/default.yaml")" 1
is "default: leader-election RoleBinding" "$(count RoleBinding "$R/default.yaml")" 1
docs Role "$R/default.yaml" >"$R/default.role"
has "default: leader election may update leases" "$R/default.role" '^ +- leases$'
is "default: metrics Service" "$(count Service "$R/default.yaml")" 1
is "default: no ServiceMonitor" "$(count ServiceMonitor "$R/default.yaml")" 0
is "default: the CRD" "$(count CustomResourceDefinition "$R/default.yaml")" 1

docs Deployment "$R/all.yaml" >"$R/all.d"
has "all: image from values" "$R/all.d" '^ +image: "registry.example.com/platform/webstack-operator:0.1.0-rc.1"$'
has "all: pull policy" "$R/all.d" '^ +imagePullPolicy: Always$'
has "all: pull secret" "$R/all.d" '^ +- name: registry-credentials$'
has "all: two replicas" "$R/all.d" '^  replicas: 2$'
has "all: leader election forced on by 2 replicas" "$R/all.d" '^ +- --leader-elect$'
has "all: metrics port" "$R/all.d" '^ +- --metrics-bind-address=:9090$'
has "all: metrics containerPort" "$R/all.d" '^ +containerPort: 9090$'
has "all: log level" "$R/all.d" '^ +- --zap-log-level=debug$'
has "all: extraArgs" "$R/all.d" '^ +- "--zap-devel"$'
has "all: extraArgs keep their order, last" "$R/all.d" '^ +- "--skip-unchanged=true"$'
[[ $(grep -A2 -e '--zap-devel' "$R/all.d" | grep -c -e '--skip-unchanged=true') == 1 ]] || fail "all: extraArgs out of order"
has "all: pod annotations" "$R/all.d" '^ +example.com/scrape: "true"$'
has "all: nodeSelector" "$R/all.d" '^ +kubernetes.io/os: linux$'
has "all: tolerations" "$R/all.d" '^ +value: operators$'
has "all: affinity" "$R/all.d" '^ +podAntiAffinity:$'
has "all: resources" "$R/all.d" '^ +memory: 384Mi$'
has "all: ServiceAccount name" "$R/all.d" '^ +serviceAccountName: webstack-manager$'
docs ServiceAccount "$R/all.yaml" >"$R/all.sa"
has "all: ServiceAccount annotations" "$R/all.sa" '^ +example.com/role: webstack-operator$'
docs ServiceMonitor "$R/all.yaml" >"$R/all.sm"
is "all: ServiceMonitor" "$(count ServiceMonitor "$R/all.yaml")" 1
has "all: ServiceMonitor apiVersion" "$R/all.sm" '^apiVersion: monitoring.coreos.com/v1$'
has "all: ServiceMonitor interval" "$R/all.sm" '^ +interval: 15s$'
has "all: ServiceMonitor labels" "$R/all.sm" '^ +release: prometheus$'
has "all: ServiceMonitor scrapes the metrics port" "$R/all.sm" '^ +- port: metrics$'
docs Service "$R/all.yaml" >"$R/all.svc"
has "all: metrics Service port" "$R/all.svc" '^ +port: 9090$'

docs Deployment "$R/noleader.yaml" >"$R/noleader.d"
hasnt "noleader: no --leader-elect" "$R/noleader.d" 'leader-elect'
is "noleader: no leader-election Role" "$(count Role "$R/noleader.yaml")" 0

docs Deployment "$R/nometrics.yaml" >"$R/nometrics.d"
has "nometrics: metrics disabled" "$R/nometrics.d" '^ +- --metrics-bind-address=0$'
hasnt "nometrics: no metrics port" "$R/nometrics.d" 'name: metrics$'
is "nometrics: no Service" "$(count Service "$R/nometrics.yaml")" 0

docs Deployment "$R/watchns.yaml" >"$R/watchns.d"
has "watchns: the manager watches only those namespaces" "$R/watchns.d" '^ +- --watch-namespaces=shop,blog$'
hasnt "default: no --watch-namespaces" "$R/default.d" 'watch-namespaces'
is "watchns: no ClusterRole" "$(count ClusterRole "$R/watchns.yaml")" 0
is "watchns: no ClusterRoleBinding" "$(count ClusterRoleBinding "$R/watchns.yaml")" 0
is "watchns: a Role per namespace and the leader-election Role" "$(count Role "$R/watchns.yaml")" 3
is "watchns: a RoleBinding per namespace and the leader-election one" "$(count RoleBinding "$R/watchns.yaml")" 3
docs Role "$R/watchns.yaml" >"$R/watchns.role"
has "watchns: a Role in shop" "$R/watchns.role" '^  namespace: shop$'
has "watchns: the namespaced Roles grant the Secrets" "$R/watchns.role" '^ +- secrets$'
is "default: one ClusterRole" "$(count ClusterRole "$R/default.yaml")" 1

docs Deployment "$R/kustomize.yaml" >"$R/kustomize.d"
has "kustomize: image set by images:" "$R/kustomize.d" '^ +image: webstack-operator:0.1.0$'
has "kustomize: leader election on" "$R/kustomize.d" '^ +- --leader-elect$'
docs Namespace "$R/kustomize.yaml" >"$R/kustomize.ns"
has "kustomize: namespace webstack-system" "$R/kustomize.ns" '^  name: webstack-system$'
has "kustomize: namespace enforces restricted" "$R/kustomize.ns" '^ +pod-security.kubernetes.io/enforce: restricted$'
others=$(grep -E '^  namespace: ' "$R/kustomize.yaml" | sort -u | grep -v 'namespace: webstack-system$' || true)
is "kustomize: every namespaced object in webstack-system" "$others" ""
for kind in CustomResourceDefinition ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Service Deployment; do
	is "kustomize: one $kind" "$(count "$kind" "$R/kustomize.yaml")" 1
done

# --- 4. the schema and the template guards reject bad values ---------------------------------

# rejects NAME MESSAGE-REGEX HELM-ARGS...
rejects() {
	local name=$1 want=$2
	shift 2
	if helm template x "$CHART" "$@" >/dev/null 2>"$WORK/reject.err"; then
		fail "values $name: accepted, should be rejected"
	elif grep -Eq -- "$want" "$WORK/reject.err"; then
		pass "values $name: rejected"
	else
		fail "values $name: rejected without /$want/:"
		cat "$WORK/reject.err" >&2
	fi
}
rejects "bad watchNamespaces" "watchNamespaces" --set 'watchNamespaces={Not_A_Namespace}'
rejects "unknown key" "additional properties 'replicas' not allowed" --set replicas=2
rejects "unknown nested key" "additional properties 'tagg' not allowed" --set image.tagg=1
rejects "bad pullPolicy" "pullPolicy" --set image.pullPolicy=Sometimes
rejects "bad logLevel" "logLevel" --set logLevel=verbose
rejects "extraArgs without --" "extraArgs" --set 'extraArgs[0]=zap-devel'
rejects "metrics port 8081" "port" --set metrics.port=8081
rejects "ServiceMonitor without metrics" "needs metrics.enabled" --set metrics.enabled=false --set metrics.serviceMonitor.enabled=true
rejects "no ServiceAccount and no name" "serviceAccount.name is required" --set serviceAccount.create=false

# --- 5. a throwaway API server -----------------------------------------------------------

# free_port: a loopback port nobody listens on (checked with bash's /dev/tcp), below the
# kernel's ephemeral range so that no outgoing connection takes it meanwhile.
free_port() {
	local low p
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	((low > 11000)) || low=32768
	for _ in {1..50}; do
		p=$((10000 + RANDOM % (low - 10000)))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return
		}
	done
	die "no free port found"
}

# start_apiserver: etcd and kube-apiserver on loopback, admin access through a static token
# written into $KUBECONFIG. Returns non-zero (logs left in $WORK) when it does not get ready.
start_apiserver() {
	local etcd_port peer_port api_port
	etcd_port=$(free_port)
	peer_port=$(free_port)
	api_port=$(free_port)
	rm -rf "$WORK/etcd"
	etcd --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
		--advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "default=http://127.0.0.1:$peer_port" \
		>"$WORK/etcd.log" 2>&1 &
	PIDS+=($!)
	kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 \
		--secure-port "$api_port" --cert-dir "$WORK/pki" --token-auth-file "$WORK/pki/tokens.csv" \
		--authorization-mode RBAC --endpoint-reconciler-type none \
		--service-cluster-ip-range 10.0.0.0/24 --service-account-issuer https://kubernetes.default.svc \
		--service-account-key-file "$WORK/pki/sa.key" --service-account-signing-key-file "$WORK/pki/sa.key" \
		>"$WORK/apiserver.log" 2>&1 &
	PIDS+=($!)
	cat >"$KUBECONFIG" <<-EOF
		apiVersion: v1
		kind: Config
		clusters: [{name: chart-test, cluster: {server: "https://127.0.0.1:$api_port", insecure-skip-tls-verify: true}}]
		users: [{name: chart-test, user: {token: chart-test-token}}]
		contexts: [{name: chart-test, context: {cluster: chart-test, user: chart-test}}]
		current-context: chart-test
	EOF
	for _ in {1..240}; do
		kubectl get --raw /readyz >/dev/null 2>&1 && return 0
		if ! kill -0 "${PIDS[-1]}" 2>/dev/null || ! kill -0 "${PIDS[-2]}" 2>/dev/null; then
			break
		fi
		sleep 0.25
	done
	return 1
}

# apply NAME FILE [ARGS...]: server-side apply with strict field validation; fails on any
# error or warning (Pod Security warnings, unknown or duplicate fields, deprecations).
apply() {
	local name=$1 file=$2
	shift 2
	if kubectl apply --server-side --force-conflicts --field-manager chart-test --validate=strict \
		-f "$file" "$@" >"$WORK/apply.out" 2>"$WORK/apply.err" && ! grep -q '^Warning:' "$WORK/apply.err"; then
		pass "$name: accepted by the API server ($(grep -c . "$WORK/apply.out") objects)"
	else
		fail "$name: not accepted cleanly by the API server:"
		cat "$WORK/apply.err" >&2
	fi
}

# restricted_namespace NAME: a namespace that enforces and warns on the restricted standard.
restricted_namespace() {
	kubectl create namespace "$1" --dry-run=client -o yaml |
		kubectl label --local -f - -o yaml \
			pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted |
		kubectl apply --server-side --field-manager chart-test -f - >/dev/null
}

# can NAMESPACE/SA yes|no VERB RESOURCE [ARGS...]: the RBAC authorizer's answer for the SA.
can() {
	local sa=$1 want=$2 got
	shift 2
	got=$(kubectl auth can-i "$@" --as "system:serviceaccount:${sa%/*}:${sa#*/}" 2>/dev/null || true)
	is "$sa can-i $*" "${got:-error}" "$want"
}

log "starting a throwaway kube-apiserver"
mkdir -p "$WORK/pki"
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/pki/sa.key" 2>"$WORK/openssl.log" ||
	die "openssl: $(cat "$WORK/openssl.log")"
echo "chart-test-token,admin,admin,system:masters" >"$WORK/pki/tokens.csv"
# Three tries: a port found free can still be taken before etcd or the apiserver binds it.
for try in 1 2 3; do
	start_apiserver && break
	log "attempt $try: the apiserver did not get ready; its log ends with:"
	tail -5 "$WORK/apiserver.log" >&2
	stop_processes
	((try < 3)) || die "the throwaway kube-apiserver did not get ready"
done

# The check of the check: a pod template that is not restricted must produce the Pod Security
# warning the apply helper fails on, or a passing apply proves nothing.
restricted_namespace psa-canary
kubectl create deployment canary --image=example.invalid/canary -n psa-canary --dry-run=client -o yaml >"$WORK/canary.yaml"
if kubectl apply --server-side --dry-run=server -f "$WORK/canary.yaml" 2>&1 >/dev/null | grep -q 'would violate PodSecurity "restricted'; then
	pass "the API server warns about a pod template that is not restricted"
else
	fail "no Pod Security warning for an unrestricted pod template: the restricted checks below prove nothing"
fi

# The ServiceMonitor CRD of the Prometheus Operator is not ours to ship; a stub with the part of
# its schema the chart uses (monitoring.coreos.com/v1, field names and the interval pattern as
# in prometheus-operator) lets strict validation check the chart's ServiceMonitor.
cat >"$WORK/servicemonitor-crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [endpoints, selector]
              properties:
                selector:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                namespaceSelector:
                  type: object
                  properties:
                    any: {type: boolean}
                    matchNames: {type: array, items: {type: string}}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      scheme: {type: string, enum: [http, https, HTTP, HTTPS]}
                      interval:
                        type: string
                        pattern: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
EOF
apply "ServiceMonitor CRD stub" "$WORK/servicemonitor-crd.yaml"

# kustomize first: it brings its own restricted namespace.
apply kustomize "$WORK/kustomize.yaml"
kubectl wait --for condition=Established --timeout 60s crd/webstacks.webstack.dev crd/servicemonitors.monitoring.coreos.com >/dev/null ||
	fail "CRDs not Established"
can webstack-system/webstack-operator yes patch webstacks.webstack.dev --all-namespaces
can webstack-system/webstack-operator yes patch webstacks.webstack.dev --subresource status --all-namespaces
can webstack-system/webstack-operator no update webstacks.webstack.dev --subresource status --all-namespaces
can webstack-system/webstack-operator no update deployments.apps -n shop
can webstack-system/webstack-operator yes create deployments.apps -n shop
can webstack-system/webstack-operator yes create events.events.k8s.io -n shop
can webstack-system/webstack-operator yes update leases.coordination.k8s.io -n webstack-system
can webstack-system/webstack-operator yes create events -n webstack-system
can webstack-system/webstack-operator no create leases.coordination.k8s.io -n shop
can webstack-system/webstack-operator no delete webstacks.webstack.dev -n shop
can webstack-system/webstack-operator no create pods -n shop
can webstack-system/webstack-operator no get nodes

for name in default all noleader nometrics watchns; do
	ns=$(docs Deployment "$WORK/$name.yaml" | awk '/^  namespace:/ { print $2; exit }')
	[[ -n $ns ]] || {
		fail "$name: Deployment has no namespace"
		continue
	}
	restricted_namespace "$ns"
	if [[ $name == watchns ]]; then
		restricted_namespace shop
		restricted_namespace blog
	fi
	apply "helm $name" "$WORK/$name.yaml"
done
can chart-watchns/watchns-webstack-operator yes get secrets -n blog
can chart-watchns/watchns-webstack-operator yes patch deployments.apps -n shop
can chart-watchns/watchns-webstack-operator no get secrets -n default
can chart-watchns/watchns-webstack-operator no list webstacks.webstack.dev --all-namespaces
can chart-all/webstack-manager yes patch webstacks.webstack.dev --all-namespaces
can chart-all/webstack-manager yes update leases.coordination.k8s.io -n chart-all
can chart-noleader/noleader-webstack-operator yes patch webstacks.webstack.dev --all-namespaces
can chart-noleader/noleader-webstack-operator no update leases.coordination.k8s.io -n chart-noleader

# NOTES.txt: the commands it gives, and the WebStack it tells users to apply (the lines from
# "kubectl apply -f - <<'EOF'" to "EOF") is accepted by the CRD.
# (helm install --dry-run=client still refuses objects that exist: its own release and namespace.)
if helm install notes "$CHART" --namespace notes --dry-run=client >"$WORK/install.out" 2>&1; then
	sed -n '/^NOTES:/,$p' "$WORK/install.out" >"$WORK/notes.txt"
	has "NOTES: apply a WebStack" "$WORK/notes.txt" "^kubectl apply -f - <<'EOF'$"
	has "NOTES: wait for Ready" "$WORK/notes.txt" '^ +kubectl wait --for=condition=Ready ws/shop '
	has "NOTES: kubectl get ws" "$WORK/notes.txt" '^ +kubectl get ws$'
	awk '/^kubectl apply -f - <</ { on = 1; next } /^EOF$/ { on = 0 } on' "$WORK/notes.txt" >"$WORK/notes-ws.yaml"
	if [[ -s $WORK/notes-ws.yaml ]] && kubectl apply --dry-run=server --validate=strict -n default \
		-f "$WORK/notes-ws.yaml" >/dev/null 2>"$WORK/notes.err" && ! grep -q '^Warning:' "$WORK/notes.err"; then
		pass "NOTES: its WebStack is accepted by the CRD"
	else
		fail "NOTES: its WebStack is not accepted:"
		cat "$WORK/notes.err" >&2
	fi
else
	fail "helm install --dry-run=client:"
	cat "$WORK/install.out" >&2
fi

if ((FAILURES)); then
	log "$FAILURES check(s) failed, $PASSED passed"
	exit 1
fi
log "all $PASSED checks passed"
