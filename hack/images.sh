#!/usr/bin/env bash
# Builds, without any container registry, the images the real-containers cluster
# (hack/real-cluster.sh) runs: root filesystems made by mmdebstrap from Debian 12
# packages (and the operator's static binary), wrapped as docker-save tarballs that
# `ctr images import` takes. Each image is cached outside the repository under a
# content hash of its inputs (this script, the recipe, the files copied in), so a
# second build is a no-op.
#
# The images carry the names and tags of the official images only so that the
# manifests and the operator's defaults need no change; they are NOT those images
# (see hack/README.md, "images.sh", for every difference).
#
# Usage:
#   hack/images.sh build [NAME...]      # build missing images (default: all); prints their tar paths
#   hack/images.sh import SOCKET [NAME...]
#                                       # build missing, then import into containerd (namespace k8s.io)
#   hack/images.sh list                 # NAME REF lines
#
# Names: pause postgres redis haproxy varnish pgbouncer django-shop operator
# Cache: ${WEBSTACK_CACHE:-$HOME/.cache/webstack-operator}/images/NAME-HASH.tar
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HACK_DIR/.." && pwd)
CACHE=${WEBSTACK_CACHE:-$HOME/.cache/webstack-operator}
IMAGES=$CACHE/images
SUITE=bookworm
MIRRORS=("deb http://deb.debian.org/debian $SUITE main" "deb http://deb.debian.org/debian-security $SUITE-security main")

# The references: the official names and tags the operator's defaults, the sample and
# the chart use (api/v1alpha1/webstack_types.go, config/samples, charts/.../values.yaml).
declare -A REF=(
	[pause]=registry.k8s.io/pause:3.10
	[postgres]=postgres:15.10
	[redis]=redis:7.0.15
	[haproxy]=haproxy:2.6.12
	[varnish]=varnish:7.1.1
	[pgbouncer]=ghcr.io/cloudnative-pg/pgbouncer:1.25.2
	[django-shop]=registry.example.com/django-shop:0.1.0
	[operator]=ghcr.io/webstack-dev/webstack-operator:0.1.0
)
ALL=(pause postgres redis haproxy varnish pgbouncer django-shop operator)

BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'images: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

TMP_DIRS=()
cleanup() {
	((${#TMP_DIRS[@]})) && rm -rf "${TMP_DIRS[@]}"
	return 0
}
trap cleanup EXIT

# recipe NAME: sets PKGS (Debian packages), HOOK (a customize hook run with the root
# filesystem as $1, or empty), and the image config: ENV (lines), USER_, WORKDIR,
# ENTRYPOINT and CMD (JSON arrays or empty), STOPSIGNAL, and SOURCES (files whose
# content goes into the hash besides the recipe).
recipe() {
	PKGS="" HOOK="" ENV="PATH=$BASE_PATH" USER_="" WORKDIR="/" ENTRYPOINT="" CMD="" STOPSIGNAL="" SOURCES=""
	# passwd lines written before any package installs, so that the package's own
	# `adduser --system` finds the user with the official image's uid.
	USERS=""
	case $1 in
	postgres)
		# docker-library/postgres: uid/gid 999, PATH with the version's bin dir, PGDATA,
		# STOPSIGNAL SIGINT (a fast shutdown; SIGTERM would be a slow "smart" one).
		PKGS="postgresql-15"
		USERS="postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash"
		ENV="PATH=/usr/lib/postgresql/15/bin:$BASE_PATH
PGDATA=/var/lib/postgresql/data
LANG=C.UTF-8"
		HOOK='mkdir -p "$1/var/run/postgresql" "$1/var/lib/postgresql/data" && chroot "$1" chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql && chmod 2777 "$1/var/run/postgresql"'
		CMD='["postgres"]'
		STOPSIGNAL=SIGINT
		;;
	redis)
		PKGS="redis-server"
		USERS="redis:x:999:999::/var/lib/redis:/usr/sbin/nologin"
		WORKDIR=/data
		HOOK='mkdir -p "$1/data" && chroot "$1" chown redis:redis /data'
		CMD='["redis-server"]'
		;;
	haproxy)
		# uid 99 is below Debian's system range, so the package's adduser would refuse a
		# pre-made user: move the user it made to 99 instead.
		PKGS="haproxy"
		USER_=haproxy
		HOOK='chroot "$1" groupmod -g 99 haproxy && chroot "$1" usermod -u 99 haproxy && mkdir -p "$1/usr/local/etc/haproxy" "$1/var/run/haproxy"'
		STOPSIGNAL=SIGUSR1
		CMD='["haproxy","-f","/usr/local/etc/haproxy/haproxy.cfg"]'
		;;
	varnish)
		# varnishd compiles VCL with the C compiler (gcc is a dependency of varnish).
		PKGS="varnish"
		WORKDIR=/etc/varnish
		CMD='["varnishd","-F","-f","/etc/varnish/default.vcl"]'
		;;
	pgbouncer)
		# CloudNativePG's image: pgbouncer at /usr/bin/pgbouncer (Debian's is in /usr/sbin: a
		# link), uid 998 / gid 996, psql for the
		# readiness query. Debian's pgbouncer is 1.18 (the image has 1.25): every setting the
		# operator renders exists in both.
		PKGS="pgbouncer postgresql-client-15"
		USERS="postgres:x:998:996::/var/lib/postgresql:/usr/sbin/nologin"
		HOOK='ln -s /usr/sbin/pgbouncer "$1/usr/bin/pgbouncer"'
		USER_=998:996
		CMD='["/usr/bin/pgbouncer","/etc/pgbouncer/pgbouncer.ini"]'
		;;
	django-shop)
		# The example app on Debian's Python packages (the versions requirements.txt pins).
		PKGS="python3-django gunicorn python3-celery python3-psycopg2 python3-redis python3-django-redis libjs-jquery python-is-python3"
		USERS="app:x:1000:1000::/tmp:/usr/sbin/nologin"
		ENV="PATH=$BASE_PATH
PYTHONDONTWRITEBYTECODE=1
PYTHONUNBUFFERED=1
HOME=/tmp"
		WORKDIR=/app
		SOURCES=$(cd "$REPO" && find examples/django-shop -type f ! -name '*.pyc' ! -path '*/__pycache__/*' | LC_ALL=C sort)
		# Debian ships no celery script (only the module): give it one. Static files are
		# collected and bytecode compiled at build time, as the Dockerfile does.
		HOOK='mkdir -p "$1/app" && tar -C "$REPO/examples/django-shop" --exclude=__pycache__ --exclude="*.pyc" -cf - . | tar -C "$1/app" -xf - \
			&& printf "#!/bin/sh\nexec python3 -m celery \"\$@\"\n" >"$1/usr/bin/celery" && chmod 755 "$1/usr/bin/celery" \
			&& chroot "$1" sh -c "cd /app && DJANGO_SECRET_KEY=collectstatic-only python3 manage.py collectstatic --noinput -v 0 && python3 -m compileall -q /app"'
		USER_=1000:1000
		CMD='["gunicorn","shop.wsgi"]'
		;;
	*) die "no recipe for $1" ;;
	esac
}

# hash_of NAME: the content hash of everything the image is made from: its recipe (the
# packages, hooks and image config), the Debian suite and mirrors, how images are
# wrapped, and the files copied in. Editing one recipe rebuilds only that image.
hash_of() {
	local name=$1
	{
		echo "$name ${REF[$name]} $SUITE ${MIRRORS[*]}"
		declare -f wrap build_rootfs
		case $name in
		pause) echo "$PAUSE_GO" ;;
		operator)
			(cd "$REPO" && find go.mod go.sum api cmd controllers internal config/crd -type f ! -name '*_test.go' ! -path '*/testdata/*' | LC_ALL=C sort | xargs sha256sum)
			go_cmd version
			;;
		*)
			recipe "$name"
			printf '%s\n' "$PKGS" "$USERS" "$HOOK" "$ENV" "$USER_" "$WORKDIR" "$ENTRYPOINT" "$CMD" "$STOPSIGNAL"
			[[ -z $SOURCES ]] || (cd "$REPO" && sha256sum $SOURCES)
			;;
		esac
	} | sha256sum | cut -c1-16
}

need_go() {
	command -v go >/dev/null && return
	[[ -x /usr/local/go/bin/go ]] || die "go not found in PATH or /usr/local/go/bin"
	PATH=/usr/local/go/bin:$PATH
}
go_cmd() {
	need_go
	GOWORK=off GOFLAGS=-buildvcs=false go "$@"
}

json_array_of_lines() {
	local first=true line
	printf '['
	while IFS= read -r line; do
		[[ -n $line ]] || continue
		$first || printf ','
		first=false
		printf '"%s"' "$line"
	done
	printf ']'
}

# wrap DIR ROOTFS_TAR NAME: writes DIR/image.tar in the docker-save layout: manifest.json,
# config.json (the image config), layer.tar.
wrap() {
	local dir=$1 layer=$2 name=$3 diff cfg
	mkdir -p "$dir/out"
	mv "$layer" "$dir/out/layer.tar"
	diff=$(sha256sum "$dir/out/layer.tar" | cut -d' ' -f1)
	cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":$(json_array_of_lines <<<"$ENV")"
	[[ -z $USER_ ]] || cfg+=",\"User\":\"$USER_\""
	[[ -z $WORKDIR ]] || cfg+=",\"WorkingDir\":\"$WORKDIR\""
	[[ -z $ENTRYPOINT ]] || cfg+=",\"Entrypoint\":$ENTRYPOINT"
	[[ -z $CMD ]] || cfg+=",\"Cmd\":$CMD"
	[[ -z $STOPSIGNAL ]] || cfg+=",\"StopSignal\":\"$STOPSIGNAL\""
	cfg+="},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff\"]}}"
	printf '%s' "$cfg" >"$dir/out/config.json"
	printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "${REF[$name]}" >"$dir/out/manifest.json"
	tar -C "$dir/out" -cf "$dir/image.tar" manifest.json config.json layer.tar
}

# A static pause program: the sandbox's init, which reaps orphans and exits on TERM/INT.
PAUSE_GO='package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				if pid, _ := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); pid <= 0 {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
'

# build_rootfs NAME DIR: DIR/rootfs.tar for NAME.
build_rootfs() {
	local name=$1 dir=$2 root
	case $name in
	pause)
		ENV="PATH=$BASE_PATH" USER_="65535:65535" WORKDIR="/" ENTRYPOINT='["/pause"]' CMD="" STOPSIGNAL=""
		mkdir -p "$dir/src" "$dir/root"
		printf '%s' "$PAUSE_GO" >"$dir/src/main.go"
		printf 'module pause\n\ngo 1.22\n' >"$dir/src/go.mod"
		(cd "$dir/src" && CGO_ENABLED=0 go_cmd build -trimpath -ldflags '-s -w' -o "$dir/root/pause" .)
		tar -C "$dir/root" --owner=0 --group=0 -cf "$dir/rootfs.tar" pause
		;;
	operator)
		# What the Dockerfile produces: the static binary at /, user 65532:65532, that
		# entrypoint. distroless/static's /etc/passwd, CA certificates and tzdata are
		# left out: the manager needs none of them in a cluster.
		ENV="PATH=$BASE_PATH" USER_="65532:65532" WORKDIR="/" ENTRYPOINT='["/webstack-operator"]' CMD="" STOPSIGNAL=""
		mkdir -p "$dir/root/tmp"
		chmod 1777 "$dir/root/tmp"
		(cd "$REPO" && CGO_ENABLED=0 GOOS=linux go_cmd build -trimpath -ldflags "-s -w" -o "$dir/root/webstack-operator" ./cmd/webstack-operator)
		tar -C "$dir/root" --owner=0 --group=0 -cf "$dir/rootfs.tar" webstack-operator tmp
		;;
	*)
		recipe "$name"
		local hooks=()
		if [[ -n $USERS ]]; then
			local line u g
			while IFS= read -r line; do
				u=${line%%:*}
				g=$(cut -d: -f4 <<<"$line")
				hooks+=(--essential-hook="echo '$line' >>\"\$1/etc/passwd\"; echo '$u:x:$g:' >>\"\$1/etc/group\"")
			done <<<"$USERS"
		fi
		[[ -z $HOOK ]] || hooks+=(--customize-hook="$HOOK")
		# Drop apt lists, caches and docs: they are not needed at run time.
		hooks+=(--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*')
		REPO=$REPO mmdebstrap --quiet --variant=essential --include="$(tr ' ' ',' <<<"$PKGS")" \
			--dpkgopt='path-exclude=/usr/share/doc/*' \
			"${hooks[@]}" "$SUITE" "$dir/rootfs.tar" "${MIRRORS[@]}" >&2
		;;
	esac
}

# ensure NAME: prints the cached tarball of NAME, building it first if missing.
ensure() {
	local name=$1 hash out dir start
	[[ -n ${REF[$name]:-} ]] || die "unknown image $name (known: ${ALL[*]})"
	hash=$(hash_of "$name")
	out=$IMAGES/$name-$hash.tar
	if [[ ! -f $out ]]; then
		mkdir -p "$IMAGES"
		exec 8>"$IMAGES/.lock-$name"
		flock 8
		if [[ ! -f $out ]]; then
			start=$SECONDS
			log "building $name (${REF[$name]})"
			dir=$(mktemp -d "$IMAGES/.build-$name.XXXXXX")
			TMP_DIRS+=("$dir")
			build_rootfs "$name" "$dir"
			wrap "$dir" "$dir/rootfs.tar" "$name"
			mv "$dir/image.tar" "$out"
			# Older builds of this image are stale.
			find "$IMAGES" -maxdepth 1 -name "$name-*.tar" ! -path "$out" -delete
			log "built $name in $((SECONDS - start))s ($(du -h "$out" | cut -f1))"
		fi
		exec 8>&-
	fi
	echo "$out"
}

cmd=${1:-}
shift || true
case $cmd in
build)
	(($#)) || set -- "${ALL[@]}"
	for n in "$@"; do ensure "$n"; done
	;;
import)
	sock=${1:?usage: hack/images.sh import SOCKET [NAME...]}
	shift
	(($#)) || set -- "${ALL[@]}"
	for n in "$@"; do
		tarball=$(ensure "$n")
		log "importing ${REF[$n]}"
		ctr --address "$sock" -n k8s.io images import "$tarball" >/dev/null
	done
	;;
list)
	for n in "${ALL[@]}"; do echo "$n ${REF[$n]}"; done
	;;
*)
	sed -n '/^# Usage:/,/^# Cache:/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
