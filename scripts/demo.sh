#!/bin/sh
# The covship demo: the whole pipeline on this machine, end to end.
#
#   1. installs what it needs (scripts/deps.sh) and builds covship;
#   2. starts a local S3 server (Ceph radosgw, scripts/s3server.sh);
#   3. runs the example Django app (docker/example-app) under gunicorn with
#      coverage.py, behind covship-shim as PID 1 of its own PID namespace
#      (what the container's ENTRYPOINT does), and `covship watch` beside it
#      delivering to that S3;
#   4. drives requests through the app, stops it the way ECS does (SIGTERM
#      to the app, then to the sidecar);
#   5. runs `covship pull --combine --map` as Jenkins would and prints the
#      coverage report and the path of the Cobertura XML.
# Leaves nothing running; results stay in build/demo-out/.
#
# Environment: COVSHIP_DEMO_SHIM / COVSHIP_DEMO_COVSHIP use those binaries
# instead of installing and building (the test suite does this);
# COVSHIP_DEMO_OUT changes the results directory.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
PY=/usr/bin/python3
WORKERS=3
BUCKET=covship-demo

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
die() {
	echo "demo: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and creates a PID namespace)"

T0=$(date +%s)
if [ -n "${COVSHIP_DEMO_SHIM:-}" ] && [ -n "${COVSHIP_DEMO_COVSHIP:-}" ]; then
	SHIM=$COVSHIP_DEMO_SHIM
	COVSHIP=$COVSHIP_DEMO_COVSHIP
else
	say "installing what is missing, building covship"
	scripts/deps.sh
	cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOVSHIP_TESTS=OFF \
		-DCOVSHIP_STATIC_SHIM=OFF >/dev/null
	cmake --build build/demo -j 2 >/dev/null || die "build failed: cmake --build build/demo"
	SHIM=$top/build/demo/bin/covship-shim
	COVSHIP=$top/build/demo/bin/covship
fi
[ -x "$SHIM" ] && [ -x "$COVSHIP" ] || die "covship binaries not found ($SHIM, $COVSHIP)"
OUT=${COVSHIP_DEMO_OUT:-$top/build/demo-out}

TMP=$(mktemp -d /tmp/covship-demo.XXXXXX)
NSPID=""
SIDECAR=""
cleanup() {
	rc=$?
	set +e
	# Only what this script started, by PID. unshare --kill-child takes the
	# whole PID namespace down with it.
	[ -n "$NSPID" ] && kill -KILL "$NSPID" 2>/dev/null
	[ -n "$SIDECAR" ] && kill -KILL "$SIDECAR" 2>/dev/null
	wait 2>/dev/null
	scripts/s3server.sh stop "$TMP/s3" >/dev/null 2>&1
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A base port with PORT..PORT+31 free (radosgw, its monitor and OSD), below
# the kernel's ephemeral range (32768-60999): after a test run with many
# connections, ports in TIME_WAIT there could leave no 32 free in a row.
# SO_REUSEADDR as the servers bind: a TIME_WAIT port is free for them.
S3PORT=$($PY - <<'PYEOF'
import random, socket
def free(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    base = random.randrange(10016, 20000, 32)
    if all(free(p) for p in range(base, base + 32)):
        print(base); break
PYEOF
)
APPPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

[ -n "$S3PORT" ] || die "no 32 free ports in a row below 20000 for radosgw"
say "starting a local S3 (Ceph radosgw) on 127.0.0.1:$S3PORT"
scripts/s3server.sh start "$TMP/s3" "$S3PORT" "$BUCKET" >/dev/null
set -a
. "$TMP/s3/env"
set +a
DEST=s3://$BUCKET/demo/

# The app as the container sees it: its code at one path (the image's /app),
# the Jenkins workspace at another; `pull --map` bridges the two.
APP=$TMP/app
cp -r docker/example-app "$APP"
COV=$TMP/coverage
mkdir -p "$COV"

say "starting the sidecar: covship watch --dir $COV --dest $DEST"
"$COVSHIP" watch --dir "$COV" --dest "$DEST" --spool "$TMP/spool" \
	--endpoint "$COVSHIP_TEST_S3_ENDPOINT" --drain-timeout 20 >"$TMP/sidecar.log" 2>&1 &
SIDECAR=$!

say "starting the app: covship-shim (PID 1) -> gunicorn ($WORKERS workers) + coverage.py"
# Timeouts nest: gunicorn graceful 5 s < shim grace 10 s (< the container's
# stop timeout on ECS).
COVERAGE_MODE=wsgi PORT=$APPPORT WEB_CONCURRENCY=$WORKERS GUNICORN_GRACEFUL_TIMEOUT=5 \
	GUNICORN_LOGLEVEL=warning COVSHIP_GRACE=10 \
	unshare --pid --fork --mount-proc --kill-child \
	"$SHIM" --coverage-dir "$COV" -- "$APP/bin/start" >"$TMP/app.log" 2>&1 &
NSPID=$!

say "driving requests (/, /hello/jenkins, /items/N; never /report nor /admin-only)"
$PY tests/docker/drive.py "http://127.0.0.1:$APPPORT" $WORKERS ||
	{ cat "$TMP/app.log" >&2; die "the app did not answer"; }

say "stopping like ECS: SIGTERM to the app's PID 1, then to the sidecar"
shim=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
	shim=$(cat "/proc/$NSPID/task/$NSPID/children" 2>/dev/null | tr -d ' ')
	[ -n "$shim" ] && break
	sleep 0.1
done
[ -n "$shim" ] || die "cannot find covship-shim under unshare (PID $NSPID)"
kill -TERM "$shim"
rc=0
wait "$NSPID" || rc=$?
NSPID=""
echo "app stopped, exit status $rc; marker: $(cat "$COV/.covship/done.json" 2>/dev/null | head -c 300)"
kill -TERM "$SIDECAR"
rc=0
wait "$SIDECAR" || rc=$?
SIDECAR=""
echo "sidecar stopped, exit status $rc"
grep -i 'deliver\|upload\|error' "$TMP/sidecar.log" | tail -5 || true
[ "$rc" = 0 ] || { cat "$TMP/sidecar.log" >&2; die "the sidecar left something undelivered"; }

say "Jenkins side: covship pull $DEST --out $OUT --combine --map $APP=$top/docker/example-app"
rm -rf "$OUT"
"$COVSHIP" pull "$DEST" --out "$OUT" --combine --map "$APP=$top/docker/example-app" --python "$PY" \
	>"$TMP/pull.out" || { cat "$TMP/pull.out"; die "covship pull failed"; }
cat "$TMP/pull.out"
# One data file per gunicorn worker: none was lost on the way.
grep -q " $WORKERS data files combined" "$TMP/pull.out" ||
	die "expected $WORKERS data files (one per worker)"
echo "every worker's coverage file arrived: $WORKERS workers, $WORKERS data files"
[ -s "$OUT/coverage.xml" ] || die "covship pull wrote no $OUT/coverage.xml"

say "coverage report"
$PY -m coverage report -m --data-file="$OUT/.coverage" 2>/dev/null ||
	$PY - "$OUT/coverage.xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for c in root.iter("class"):
    lines = list(c.iter("line"))
    hit = sum(1 for l in lines if int(l.get("hits")) > 0)
    print(f"{c.get('filename'):40} {hit:4}/{len(lines):<4} {100 * hit / max(len(lines), 1):5.1f}%")
print(f"{'TOTAL':40} line-rate {float(root.get('line-rate')) * 100:.1f}%")
PYEOF
say "done in $(($(date +%s) - T0)) s; Cobertura XML: $OUT/coverage.xml"
