#!/usr/bin/env bash
# Installs the Debian packages that tests and benchmarks need: the daemons whose
# configuration we render (haproxy, varnish, redis, postgresql, pgbouncer), etcd for envtest,
# wrk for load tests and the Python stack the example app runs on.
#
# Idempotent: when every package is already installed it only runs dpkg-query and
# exits in well under a second. apt-get update runs only when something is missing.
# No service is started: package installs run under a policy-rc.d that answers
# 101 ("action forbidden"), and any daemon that started anyway is stopped and
# disabled afterwards, so the default ports stay free for the tests' own instances.
#
# Usage: hack/install-deps.sh          (must run as root, or with sudo available)
#        hack/install-deps.sh --real   also what hack/real-cluster.sh needs: containerd,
#                                      runc, the CNI plugins, iptables, ipset, conntrack,
#                                      and mmdebstrap for the images of hack/images.sh
set -euo pipefail

log() { printf 'install-deps: %s\n' "$*" >&2; }

# Packages, each with the file that proves it is usable. postgresql-contrib is a
# dummy package on Debian 12: pg_trgm and btree_gin ship in postgresql-15 itself.
PACKAGES=(
	etcd-server
	haproxy
	varnish
	redis-server
	wrk
	postgresql-15
	pgbouncer
	python3-django
	gunicorn
	python3-celery
	python3-redis
	python3-django-redis
	python3-psycopg2
)
# The real-containers cluster (hack/real-cluster.sh) and its images (hack/images.sh).
REAL_PACKAGES=(
	containerd
	runc
	containernetworking-plugins
	iptables
	ipset
	conntrack
	mmdebstrap
)

# Services that Debian's maintainer scripts would start on install.
SERVICES=(etcd haproxy varnish varnishncsa redis-server postgresql pgbouncer)

if [[ ${1:-} == --real ]]; then
	PACKAGES+=("${REAL_PACKAGES[@]}")
	SERVICES+=(containerd)
fi

installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[[ $status == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done
# Extensions the postgres tests use; part of postgresql-15 on Debian 12.
if [[ ! -x /usr/lib/postgresql/15/bin/postgres || ! -f /usr/share/postgresql/15/extension/pg_trgm.control || ! -f /usr/share/postgresql/15/extension/btree_gin.control ]]; then
	missing+=(postgresql-15)
fi

if ((${#missing[@]} == 0)); then
	log "all packages present"
	exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || {
		log "not root and no sudo: cannot install ${missing[*]}"
		exit 1
	}
	SUDO=(sudo)
fi

# Forbid service starts while installing, unless a policy already exists
# (container images often ship one that does exactly this).
POLICY=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e $POLICY ]]; then
	"${SUDO[@]}" sh -c "printf '#!/bin/sh\n# written by webstack-operator hack/install-deps.sh for the install only\nexit 101\n' > $POLICY && chmod 755 $POLICY"
	created_policy=true
fi
cleanup() {
	if $created_policy; then
		"${SUDO[@]}" rm -f "$POLICY"
	fi
}
trap cleanup EXIT

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" >&2

# Belt and braces: stop and disable anything that started regardless.
for svc in "${SERVICES[@]}"; do
	if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
		"${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
	else
		"${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
		"${SUDO[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
done

for pkg in "${missing[@]}"; do
	installed "$pkg" || {
		log "package $pkg did not install"
		exit 1
	}
done
log "done"
