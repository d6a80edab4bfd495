#!/usr/bin/env bash
# Benchmarks the whole stack of config/samples/webstack_v1alpha1_django_shop.yaml on
# loopback and writes the "stack" section of docs/benchmarks.md: wrk against a cached page through HAProxy
# and Varnish, the same page straight from gunicorn and uncached through the stack, then the
# ORM comparisons on 100k people (manage.py ormbench). About 5 minutes with the defaults.
#
# Usage: hack/bench-stack.sh [flags of test/stack/benchstack, e.g. -runs 5 -duration 10s]
#        (make bench-stack). Needs the Debian packages of hack/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

for bin in /usr/bin/wrk /usr/bin/python3 /usr/bin/gunicorn /usr/sbin/haproxy /usr/sbin/varnishd /usr/bin/redis-server /usr/lib/postgresql/15/bin/postgres; do
	[[ -x $bin ]] || {
		echo "bench-stack: $bin is missing: run hack/install-deps.sh" >&2
		exit 1
	}
done

# The report is the "stack" section of docs/benchmarks.md (make bench writes the operator's).
report=$(mktemp)
trap 'rm -f "$report"' EXIT
go run ./test/stack/benchstack -root . -out "$report" "$@"
hack/report-section.sh stack "$report"
