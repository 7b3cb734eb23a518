#!/bin/sh
# The example app's gunicorn.conf.py refuses timeouts that would lose
# coverage (graceful timeout not below covship-shim's grace), and starts
# with ones that nest (the control). Runs Debian's gunicorn on the host.
#   example_guard.sh SRCDIR
set -eu
SRC=$1
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/covship-guard.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# 1. graceful 30 >= grace 25 (gunicorn's default graceful timeout vs the
#    shim's default grace): must refuse to start, with a clear line.
rc=0
COVERAGE_MODE=off PORT=$port COVSHIP_GRACE=25 GUNICORN_GRACEFUL_TIMEOUT=30 \
	timeout 20 "$SRC/docker/example-app/bin/start" >"$TMP/bad.log" 2>&1 || rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 124 ] || ! grep -q "graceful_timeout (30 s) must be below covship-shim's grace" "$TMP/bad.log"; then
	cat "$TMP/bad.log" >&2
	echo "guard: FAIL: gunicorn started (exit $rc) with graceful 30 >= grace 25" >&2
	exit 1
fi
echo "guard: refused graceful 30 >= grace 25 (exit $rc): $(grep -o "graceful_timeout.*" "$TMP/bad.log" | head -1)"

# 2. control: graceful 20 < grace 25 starts and serves.
COVERAGE_MODE=off PORT=$port COVSHIP_GRACE=25 GUNICORN_GRACEFUL_TIMEOUT=20 WEB_CONCURRENCY=1 \
	"$SRC/docker/example-app/bin/start" >"$TMP/good.log" 2>&1 &
pid=$!
ok=0
for _ in $(seq 1 100); do
	if $PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2>/dev/null; then
		ok=1
		break
	fi
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || true
pid=""
if [ "$ok" != 1 ]; then
	cat "$TMP/good.log" >&2
	echo "guard: FAIL: gunicorn did not serve with graceful 20 < grace 25" >&2
	exit 1
fi
echo "guard: control: graceful 20 < grace 25 starts and serves"
