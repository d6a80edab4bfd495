#!/usr/bin/env bash
# Runs a single-node Kubernetes whose pods are real containers: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet and kube-proxy (v1.37.2, built by
# hack/controlplane.sh), containerd + runc + the CNI plugins from Debian, CoreDNS
# (built by hack/controlplane.sh), a default no-provisioner StorageClass with
# pre-created hostPath volumes, and the images of hack/images.sh imported into
# containerd. Nothing is pulled from a registry. Needs root.
#
# Usage:
#   hack/real-cluster.sh up           # start (reuses a running cluster); prints only the kubeconfig path
#   hack/real-cluster.sh down         # stop what up started and undo its changes to the host
#   hack/real-cluster.sh kubeconfig   # print the kubeconfig path (fails if not running)
#   hack/real-cluster.sh status       # exit 0 running, 1 not running
#   hack/real-cluster.sh netpol       # print what enforces NetworkPolicies in the running cluster: kube-router or none
#   hack/real-cluster.sh images       # (re)build and import the images of hack/images.sh
#
#   KUBECONFIG=$(hack/real-cluster.sh up) kubectl get pods -A
#
# Environment:
#   WEBSTACK_CACHE     cache root (default ~/.cache/webstack-operator); state lives in
#                      $WEBSTACK_CACHE/real (logs/, pids/, pki/, etcd/, kubelet/, containerd/)
#   WEBSTACK_REAL_PVS  number of pre-created hostPath PersistentVolumes (default 10)
#   WEBSTACK_REAL_NETPOL  kube-router (default): enforce NetworkPolicies with kube-router's
#                      policy controller (iptables + ipset); none: leave them unenforced
#
# See hack/README.md ("real-cluster.sh") for what it changes on the host and how down undoes it.
set -euo pipefail

CACHE=${WEBSTACK_CACHE:-$HOME/.cache/webstack-operator}
STATE=$CACHE/real
PVS=${WEBSTACK_REAL_PVS:-10}
NETPOL=${WEBSTACK_REAL_NETPOL:-kube-router}
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

NODE=real-node
# Ports off the defaults, so that a kwok cluster or envtest on the machine never collides.
ETCD_PORT=23790
ETCD_PEER_PORT=23800
API_PORT=16443
KCM_PORT=17257
SCHED_PORT=17259
KUBELET_PORT=17250
KUBELET_HEALTHZ_PORT=17248
PROXY_METRICS=127.0.0.1:17249
PROXY_HEALTHZ=127.0.0.1:17256
ROUTER_HEALTH_PORT=17245
# Networks: pods on a bridge of our own, Services, the DNS server on the bridge's address.
POD_CIDR=10.217.0.0/24
BRIDGE=webstack0
BRIDGE_IP=10.217.0.1
SERVICE_CIDR=10.218.0.0/24
API_SERVICE_IP=10.218.0.1
DNS_IP=$BRIDGE_IP
# containerd's own socket and state, apart from any system containerd.
RUN_DIR=/run/webstack-real
CTR_SOCK=$RUN_DIR/containerd.sock
PV_DIR=$STATE/volumes
KUBECONFIG_FILE=$STATE/kubeconfig.yaml
LAST_LOGS=$CACHE/real-last-logs

# Sysctls the node components set (kubelet: vm.overcommit_memory, kernel.panic,
# kernel.panic_on_oops; kube-proxy: route_localnet; us: ip_forward and bridge
# netfilter). up records their values once, down restores them.
SYSCTLS=(
	net.ipv4.ip_forward
	net.bridge.bridge-nf-call-iptables
	net.ipv4.conf.all.route_localnet
	vm.overcommit_memory
	kernel.panic
	kernel.panic_on_oops
	net.netfilter.nf_conntrack_max
	net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait
)

log() { printf 'real-cluster: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage() {
	sed -n '/^# Usage:/,/^# See hack/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $(id -u) -eq 0 ]] || die "needs root (containerd, kubelet, iptables)"
[[ $PVS =~ ^[0-9]+$ ]] || die "WEBSTACK_REAL_PVS=$PVS is not a number"
[[ $NETPOL == kube-router || $NETPOL == none ]] || die "WEBSTACK_REAL_NETPOL=$NETPOL: want kube-router or none"

use_bins() {
	[[ -n ${BIN:-} ]] && return
	BIN=$("$HACK_DIR/controlplane.sh" node-bins)
	COREDNS_BIN=$("$HACK_DIR/controlplane.sh" coredns)
	if [[ $NETPOL == kube-router ]]; then
		ROUTER_BIN=$("$HACK_DIR/controlplane.sh" kube-router)
	fi
	export PATH=$BIN:$PATH
}
kubectl_c() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# start NAME CMD...: a long-lived process in its own session (it survives the shell
# that started it), with no inherited descriptors, its log in logs/NAME.log and its
# PID in pids/NAME.pid.
start() {
	local name=$1
	shift
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec setsid "$@"
	) </dev/null >>"$STATE/logs/$name.log" 2>&1 &
	echo $! >"$STATE/pids/$name.pid"
}

alive() { [[ -f $STATE/pids/$1.pid ]] && kill -0 "$(<"$STATE/pids/$1.pid")" 2>/dev/null; }

# wait_for WHAT SECONDS CMD...: polls CMD every half second.
wait_for() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 2; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	die "$what not ready after ${secs}s (logs in $STATE/logs)"
}

COMPONENTS=(etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns)
[[ $NETPOL == kube-router ]] && COMPONENTS+=(kube-router)

running() {
	local c
	for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
	[[ -f $KUBECONFIG_FILE ]] && "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" get --raw /readyz --request-timeout=5s >/dev/null 2>&1
}

router_ready() { alive kube-router && iptables -t filter -S KUBE-ROUTER-FORWARD >/dev/null 2>&1; }

host_ip() { ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

# pki: one CA; the API server's serving certificate; one client certificate in
# system:masters that every component and the admin kubeconfig use (a local test
# cluster: per-component identities would add nothing the tests look at); the
# service-account key pair.
make_pki() {
	local d=$STATE/pki ip=$1
	[[ -f $d/admin.crt ]] && return
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=webstack-real-ca 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n' "$ip" "$API_SERVICE_IP" >apiserver.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=webstack-real-admin" 2>/dev/null
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	)
	cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: webstack-real
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $d/ca.crt
users:
- name: admin
  user:
    client-certificate: $d/admin.crt
    client-key: $d/admin.key
contexts:
- name: webstack-real
  context: {cluster: webstack-real, user: admin}
current-context: webstack-real
EOF
}

record_host() {
	local s v
	[[ -f $STATE/sysctls.orig ]] && return
	for s in "${SYSCTLS[@]}"; do
		v=$(sysctl -n "$s" 2>/dev/null) || continue
		printf '%s=%s\n' "$s" "$v"
	done >"$STATE/sysctls.orig"
	# ipsets (kube-router's) and KUBE-* and CNI-* chains that exist before we start are
	# not ours to remove.
	ipset list -n 2>/dev/null | sort -u >"$STATE/ipsets.orig" || true
	{ iptables-save; ip6tables-save; } 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/\1/p' | sort -u >"$STATE/iptables.chains.orig" || true
}

write_configs() {
	local ip=$1
	mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
	cat >"$STATE/cni/net.d/10-webstack.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "webstack-real",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
	# The CRI settings this VM needs (hack/README.md): restrict_oom_score_adj because
	# root lacks CAP_SYS_RESOURCE, no AppArmor, cgroupfs, our pause image.
	cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$RUN_DIR/containerd"
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$RUN_DIR/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
	cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CTR_SOCK
address: $ip
port: $KUBELET_PORT
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
serializeImagePulls: false
# The images are imported, never pulled: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
maxPods: 60
EOF
	cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG_FILE}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $POD_CIDR
metricsBindAddress: $PROXY_METRICS
healthzBindAddress: $PROXY_HEALTHZ
# Leave the host's conntrack table size and timeouts alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
	cat >"$STATE/Corefile" <<EOF
.:53 {
    bind $DNS_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_FILE
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
}
EOF
}

up() {
	use_bins
	if running; then
		echo "$KUBECONFIG_FILE"
		return
	fi
	# Something half up (a crash, a reboot): start over.
	if [[ -d $STATE/pids ]] && compgen -G "$STATE/pids/*.pid" >/dev/null; then
		log "a previous cluster is not fully running: taking it down first"
		down
	fi
	command -v containerd >/dev/null && command -v runc >/dev/null && [[ -x /usr/lib/cni/bridge ]] &&
		command -v iptables >/dev/null && command -v conntrack >/dev/null ||
		"$HACK_DIR/install-deps.sh" --real >&2
	local ip start=$SECONDS
	ip=$(host_ip)
	[[ -n $ip ]] || die "no host address (ip route get 1.1.1.1)"
	mkdir -p "$STATE"/{logs,pids,etcd,kubelet,containerd} "$RUN_DIR" "$PV_DIR"
	record_host
	make_pki "$ip"
	write_configs "$ip"

	sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
	# The bridge exists before the first pod so that CoreDNS can bind its address.
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
		ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
		ip link set "$BRIDGE" up
	fi

	log "starting etcd and containerd"
	start etcd "$BIN/etcd" --name real --data-dir "$STATE/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "real=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes=2147483648
	start containerd containerd --config "$STATE/containerd.toml"
	wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
	wait_for containerd 30 ctr --address "$CTR_SOCK" version

	log "starting the control plane"
	local pki=$STATE/pki
	start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 0.0.0.0 --secure-port "$API_PORT" --advertise-address "$ip" \
		--service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
		--client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--allow-privileged=true --enable-admission-plugins NodeRestriction \
		--kubelet-preferred-address-types InternalIP,Hostname
	wait_for kube-apiserver 180 kubectl_c get --raw /readyz
	start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$KUBECONFIG_FILE" \
		--authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
		--bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
		--root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" \
		--cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
		--use-service-account-credentials=true \
		--allocate-node-cidrs=true --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
		--service-cluster-ip-range "$SERVICE_CIDR"
	start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$KUBECONFIG_FILE" \
		--authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
		--bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false

	log "importing the images (hack/images.sh)"
	"$HACK_DIR/images.sh" import "$CTR_SOCK" >&2

	log "starting the node"
	start kubelet "$BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$KUBECONFIG_FILE" \
		--root-dir "$STATE/kubelet" --hostname-override "$NODE" --node-ip "$ip"
	start kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy.yaml"
	start coredns "$COREDNS_BIN/coredns" -conf "$STATE/Corefile"
	wait_for "node $NODE" 90 kubectl_c wait --for=condition=Ready "node/$NODE" --timeout=1s
	if [[ $NETPOL == kube-router ]]; then
		# Only the NetworkPolicy controller: no routing (one node), no service proxy
		# (kube-proxy does that). It needs the Node object, so it starts after the kubelet
		# registered it; it is ready once its chains are in the filter table (its health
		# endpoint answers before its controller has started, or failed).
		start kube-router "$ROUTER_BIN/kube-router" --kubeconfig "$KUBECONFIG_FILE" \
			--run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
			--hostname-override "$NODE" --health-port "$ROUTER_HEALTH_PORT" --metrics-port 0 \
			--service-cluster-ip-range "$SERVICE_CIDR"
		wait_for kube-router 60 router_ready
	fi
	apply_storage
	wait_for "the default ServiceAccount" 60 kubectl_c get serviceaccount default
	log "up in $((SECONDS - start))s"
	echo "$KUBECONFIG_FILE"
}

apply_storage() {
	local i n
	{
		cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
EOF
		for ((i = 1; i <= PVS; i++)); do
			n=$(printf 'pv-%03d' "$i")
			# hostPath ignores fsGroup: the directory is made writable by any pod user.
			mkdir -p "$PV_DIR/$n"
			chmod 1777 "$PV_DIR/$n"
			cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $n
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  hostPath: {path: $PV_DIR/$n, type: Directory}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$NODE]}
EOF
		done
	} | kubectl_c apply --server-side --field-manager hack-real-cluster -f - >/dev/null
}

# stop NAME: TERM the recorded process (and its session), then KILL after 15 s.
stop() {
	local name=$1 pid i
	[[ -f $STATE/pids/$name.pid ]] || return 0
	pid=$(<"$STATE/pids/$name.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$STATE/pids/$name.pid"
}

# Every container shim of our containerd: a shim runs with -address $CTR_SOCK.
our_shims() {
	local p
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "containerd-shim.*-address $CTR_SOCK" && echo "${p#/proc/}"
	done
	return 0
}

down() {
	use_bins 2>/dev/null || true
	log "stopping"
	local c
	for c in kube-router coredns kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver; do stop "$c"; done
	# Remaining containers and sandboxes, then containerd and its shims.
	if alive containerd; then
		local ids
		ids=$(ctr --address "$CTR_SOCK" -n k8s.io tasks ls -q 2>/dev/null || true)
		for c in $ids; do ctr --address "$CTR_SOCK" -n k8s.io tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
	fi
	stop containerd
	local pid
	for pid in $(our_shims); do kill -KILL "$pid" 2>/dev/null || true; done
	stop etcd

	# Mounts under our state (the kubelet's root dir, pod volumes, containerd's
	# snapshots and sandboxes), deepest first.
	local m
	for m in $(awk '{print $2}' /proc/mounts | grep -E "^($STATE|$RUN_DIR)(/|$)" | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	# Network namespaces the CNI made for our pods (containerd 1.6 names them cni-*), and
	# the bridge.
	if [[ -d /run/netns ]]; then
		for m in /run/netns/cni-*; do
			[[ -e $m ]] || continue
			umount "$m" 2>/dev/null || true
			rm -f "$m"
		done
		rmdir /run/netns 2>/dev/null || true
	fi
	ip link del "$BRIDGE" 2>/dev/null || true
	# iptables: the chains kube-proxy and the CNI plugins made.
	cleanup_iptables
	# kube-router's ipsets, once no rule refers to them.
	local set keep_sets=""
	[[ -f $STATE/ipsets.orig ]] && keep_sets=$(<"$STATE/ipsets.orig")
	for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' || true); do
		grep -qxF "$set" <<<"$keep_sets" || ipset destroy "$set" 2>/dev/null || true
	done
	# cgroups: kubelet's kubepods and containerd's k8s.io in every v1 hierarchy.
	local h g
	for h in /sys/fs/cgroup/*/; do
		for g in kubepods k8s.io; do
			[[ -d $h$g ]] || continue
			find "$h$g" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
	done
	# Sysctls back to what they were before the first up.
	if [[ -f $STATE/sysctls.orig ]]; then
		local kv
		while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null || true; done <"$STATE/sysctls.orig"
	fi
	rm -rf "$RUN_DIR"
	if [[ -d $STATE ]]; then
		# The logs outlive the cluster for a look after a failed run.
		rm -rf "$LAST_LOGS"
		[[ -d $STATE/logs ]] && mv "$STATE/logs" "$LAST_LOGS"
		rm -rf "$STATE"
	fi
	log "down"
}

# cleanup_iptables: the jumps into the KUBE-* and CNI-* chains that kube-proxy and the
# CNI plugins made, then the chains, in iptables and ip6tables; chains that existed before
# the first up are left alone.
cleanup_iptables() {
	local ipt table chain rule keep=""
	[[ -f $STATE/iptables.chains.orig ]] && keep=$(<"$STATE/iptables.chains.orig")
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null || continue
		for table in filter nat mangle; do
			ours() { "$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/\1/p' | grep -vxF -e "${keep:-^$}" || true; }
			local chains
			chains=$(ours)
			[[ -n $chains ]] || continue
			local rules
			rules=$("$ipt-save" -t "$table" 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE|CNI)-' || true)
			while IFS= read -r rule; do
				[[ -n $rule ]] || continue
				chain=$(sed -E 's/.*-j ((KUBE|CNI)-[^ ]*).*/\1/' <<<"$rule")
				grep -qxF "$chain" <<<"$chains" || continue
				eval "$ipt -t $table ${rule/#-A/-D}" 2>/dev/null || true
			done <<<"$rules"
			for chain in $chains; do "$ipt" -t "$table" -F "$chain" 2>/dev/null || true; done
			for chain in $chains; do "$ipt" -t "$table" -X "$chain" 2>/dev/null || true; done
		done
	done
}

# up and down of the cluster serialise on a lock (the components never inherit it: start
# closes every descriptor above 2).
lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.real-cluster.lock"
	if ! flock -n 9; then
		log "waiting for another up or down to finish ($CACHE/.real-cluster.lock)"
		flock 9
	fi
}

case ${1:-} in
up)
	lock
	up
	;;
down)
	lock
	down
	;;
kubeconfig)
	use_bins
	running || die "not running (hack/real-cluster.sh up)"
	echo "$KUBECONFIG_FILE"
	;;
status)
	use_bins
	if running; then
		echo running
	else
		echo "not running"
		exit 1
	fi
	;;
netpol)
	# What runs, not what the environment asks for.
	if alive kube-router; then echo kube-router; else echo none; fi
	;;
images)
	alive containerd || die "not running (hack/real-cluster.sh up)"
	"$HACK_DIR/images.sh" import "$CTR_SOCK" >&2
	;;
*) usage ;;
esac
