#!/bin/sh
# Container end-to-end test: the real Dockerfiles built with podman, the app
# (covship-shim + gunicorn + coverage.py) and the sidecar (covship watch)
# sharing a named volume, radosgw on the host loopback.
#
#   e2e.sh SRCDIR COVSHIP S3ENV [hardened]
#     SRCDIR   the repository
#     COVSHIP  the host-built covship (for `covship pull`, as Jenkins runs it)
#     S3ENV    the s3server fixture's env file
#     hardened run the hardened-task runs below instead (ctest
#              docker_hardened_podman)
#
# Runs:
#   1. the containers configured exactly as in docker/ecs/task-definition.json
#      (its environment: COVERAGE_MODE=process with COVERAGE_PROCESS_START +
#      .pth, key template {build}/..., timeouts; the sidecar's read-only
#      root, user and capabilities as podman flags), stopped in ECS order with
#      its stopTimeouts: `podman stop -t 30` the app, then `-t 90` the
#      sidecar; pulled from the build's prefix as the Jenkinsfile does;
#   2. COVERAGE_MODE=wsgi (the blog's hook) under gunicorn --preload (the
#      trap where per-PID names taken at import make every worker write the
#      same file), both stopped at once (ECS without dependsOn);
#   3. control: a stop timeout shorter than an in-flight request (`podman stop
#      -t 2` while /slow/8 runs; ECS stopTimeout below gunicorn's graceful
#      timeout): the SIGKILL comes before the flush, and the same checks must
#      report the loss, so they can fail.
# With `hardened` (docs/operations.md, "Hardened task"), the sidecar runs
# `--read-only --user 10001 --cap-drop ALL`, so it reads the app's files only
# through the group they share (gid 10001, setgid /coverage):
#   4. the app with its image's umask 007: every worker's file is delivered
#      and removed, the data dir kept the group and the setgid bit, and the
#      sidecar really ran as 10001 with no capability;
#   5. control: the app with umask 077 (UMASK=077): the sidecar says "the
#      sidecar cannot read" for the files, exits 1 and deletes none of them
#      (all still in the volume, 0600, in the shared group), and the same
#      checks as in 4 fail on what was delivered.
# Each run's bundles go under their own prefix and are checked by
# check_e2e.py: every worker's file in S3, SHA-256s, marker, and `covship pull
# --combine --map /app=$WS` giving hits on the requested views only.
set -eu
case "$#:${4:-}" in
3: | 4:hardened) ;;
*) echo "usage: $0 SRCDIR COVSHIP S3ENV [hardened]" >&2; exit 2 ;;
esac
SRC=$(cd "$1" && pwd)
COVSHIP=$2
S3ENV=$3
SUITE=${4:-ecs}
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
. "$here/podman.sh"

for tool in podman /usr/sbin/runc debootstrap; do
	command -v "$tool" >/dev/null ||
		{ echo "e2e: $tool is missing; scripts/deps.sh installs it (podman runc debootstrap)" >&2; exit 1; }
done
[ -r "$S3ENV" ] || { echo "e2e: no $S3ENV: the s3server fixture did not run" >&2; exit 1; }
set -a
. "$S3ENV"
set +a

WORKERS=3
tag=$$-$(od -An -N3 -tx1 /dev/urandom | tr -d " \n")
TMP=$(mktemp -d /tmp/covship-e2e.XXXXXX)
CONTAINERS=""
VOLUMES=""
cleanup() {
	for c in $CONTAINERS; do
		$P rm -f -t 0 "$c" >/dev/null 2>&1 || true
	done
	for v in $VOLUMES; do
		$P volume rm -f "$v" >/dev/null 2>&1 || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log() { echo "e2e: $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

# --- images, from the real Dockerfiles (images.sh, shared with the
# Jenkinsfile driver; the layer cache keeps re-runs fast) ---
"$here/images.sh" "$SRC" "$TMP/build.log" || fail "the images did not build"

# The Jenkins workspace: the app's sources at another path than /app.
WS=$TMP/workspace
mkdir -p "$WS"
cp -r "$SRC/docker/example-app/exampleapp" "$WS/"

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run NAME MODE STOP DRAIN [GUNICORN_CMD_ARGS]: one app + sidecar pair;
# leaves the prefix in $PREFIX and the volume in $VOL. The sidecar's podman
# flags: the task definition's (TASKDEF), else SC_FLAGS (--read-only); the
# app's umask: its image's, else APP_UMASK.
run() {
	name=$1 mode=$2 stop=$3 drain=$4 gargs=${5:-}
	APP_STOP=${APP_STOP:-30}
	SC_STOP=${SC_STOP:-60}
	vol=covship-e2e-$tag-$name
	sc=covship-e2e-$tag-$name-sidecar
	app=covship-e2e-$tag-$name-app
	PREFIX=e2e-$tag-$name/
	port=$(free_port)
	$P volume create "$vol" >/dev/null
	VOLUMES="$VOLUMES $vol"

	VOL=$vol
	: >"$TMP/$name-sc.env"
	: >"$TMP/$name-app.env"
	sc_flags=${SC_FLAGS:---read-only}
	if [ -n "${TASKDEF:-}" ]; then
		$PY "$here/taskdef_env.py" "$TASKDEF" covship env >"$TMP/$name-sc.env"
		$PY "$here/taskdef_env.py" "$TASKDEF" app env >"$TMP/$name-app.env"
		sc_flags=$($PY "$here/taskdef_env.py" "$TASKDEF" covship flags | tr '\n' ' ')
	fi
	CONTAINERS="$CONTAINERS $sc"
	# -e after --env-file wins: only the destination, the endpoint and the
	# credentials differ from the task definition (no task role here).
	# --read-only: as readonlyRootFilesystem on ECS; the spool is on the
	# volume (/coverage/.covship-spool), podman keeps /tmp a tmpfs.
	# shellcheck disable=SC2086 # sc_flags: one word each, no spaces
	$P run -d --name "$sc" $sc_flags --network host -v "$vol:/coverage" \
		--env-file "$TMP/$name-sc.env" \
		-e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_REGION \
		-e COVSHIP_DEST="s3://$COVSHIP_TEST_BUCKET/$PREFIX" \
		-e COVSHIP_ENDPOINT="$COVSHIP_TEST_S3_ENDPOINT" \
		-e COVSHIP_DRAIN_TIMEOUT="$drain" -e COVSHIP_LABEL_RUN="$name" \
		"$SIDECAR_IMG" watch >/dev/null
	CONTAINERS="$CONTAINERS $app"
	$P run -d --name "$app" --network host -v "$vol:/coverage" --env-file "$TMP/$name-app.env" \
		-e PORT="$port" -e WEB_CONCURRENCY=$WORKERS -e COVERAGE_MODE="$mode" \
		-e GUNICORN_CMD_ARGS="$gargs" ${APP_UMASK:+-e UMASK=$APP_UMASK} \
		"$APP_IMG" >/dev/null

	# Every worker must have served (so every worker is booted): collect
	# worker PIDs from /items/N until all are seen.
	$PY "$here/drive.py" "http://127.0.0.1:$port" $WORKERS ||
		{ $P logs "$app" >&2; fail "$name: the app did not serve requests"; }

	$P exec "$sc" covship health || { $P logs "$sc" >&2; fail "$name: covship health failed in the sidecar"; }
	# Who the sidecar's PID 1 runs as, with which capabilities.
	$P exec "$sc" cat /proc/1/status >"$TMP/$name-sc.status"

	t1=$(date +%s)
	case "$stop" in
	ecs)
		$P stop -t "$APP_STOP" "$app" >/dev/null
		$P stop -t "$SC_STOP" "$sc" >/dev/null
		;;
	together)
		$P stop -t 30 "$app" >/dev/null &
		p1=$!
		$P stop -t 60 "$sc" >/dev/null &
		p2=$!
		wait $p1
		wait $p2
		;;
	short)
		# A request that outlasts the stop timeout keeps its worker busy.
		$PY -c 'import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=20)
except Exception:
    pass' "http://127.0.0.1:$port/slow/8" &
		slowreq=$!
		sleep 1.5
		$P stop -t 2 "$app" >/dev/null
		$P stop -t 60 "$sc" >/dev/null
		wait $slowreq || true
		;;
	esac
	$P wait "$app" "$sc" >/dev/null 2>&1 || true
	APP_RC=$($P inspect -f '{{.State.ExitCode}}' "$app")
	SC_RC=$($P inspect -f '{{.State.ExitCode}}' "$sc")
	$P logs "$app" >"$TMP/$name-app.log" 2>&1 || true
	$P logs "$sc" >"$TMP/$name-sidecar.log" 2>&1 || true
	log "$name: stopped ($stop) in $(($(date +%s) - t1)) s; app exit $APP_RC, sidecar exit $SC_RC"
}

show_logs() {
	for f in "$TMP/$1-app.log" "$TMP/$1-sidecar.log"; do
		echo "---- $f" >&2
		tail -40 "$f" >&2
	done
}

check() {
	name=$1
	shift
	"$PY" "$here/check_e2e.py" --covship "$COVSHIP" --bucket "$COVSHIP_TEST_BUCKET" \
		--prefix "$PREFIX" --workspace "$WS" --workers $WORKERS --out "$TMP/$name-pull" "$@"
}

# volume_files MODE...: the coverage data files left in the volume $VOL
# (the sidecar's spool aside), one line each: "MODE GID PATH" (stat -c).
volume_files() {
	mp=$($P volume inspect -f '{{.Mountpoint}}' "$VOL")
	find "$mp" -path "$mp/.covship-spool" -prune -o -type f -name '.coverage.*' \
		-exec stat -c '%a %g %n' {} +
}

# status_field NAME FIELD: a line of the sidecar's /proc/1/status, tabs as spaces.
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "$TMP/$1-sc.status" | tr '\t' ' '
}

if [ "$SUITE" = hardened ]; then
	SC_FLAGS="--read-only --user 10001 --cap-drop ALL"
	run hardened process ecs 45
	[ "$APP_RC" = 0 ] && [ "$SC_RC" = 0 ] ||
		{ show_logs hardened; fail "hardened: exit codes app $APP_RC sidecar $SC_RC (want 0 0)"; }
	uid=$(status_field hardened Uid)
	[ "$uid" = "10001 10001 10001 10001" ] || fail "hardened: the sidecar ran with Uid $uid, not 10001"
	for cap in CapEff CapPrm CapBnd; do
		[ "$(status_field hardened $cap)" = 0000000000000000 ] ||
			fail "hardened: the sidecar kept capabilities ($cap $(status_field hardened $cap))"
	done
	check hardened --mode process || { show_logs hardened; fail "hardened: not every worker file was delivered"; }
	left=$(volume_files)
	[ -z "$left" ] || fail "hardened: delivered files are still in the volume: $left"
	# The shim kept the volume's setgid bit and group on the run's data dir:
	# what the workers wrote belonged to the group the sidecar reads through.
	mp=$($P volume inspect -f '{{.Mountpoint}}' "$VOL")
	dirs=$(stat -c '%a %g' "$mp"/run-* | sort -u)
	[ "$dirs" = "2777 10001" ] || fail "hardened: the data dir is '$dirs', not '2777 10001' (setgid, shared group)"
	log "hardened: sidecar uid 10001, no capabilities, read-only root: every worker file delivered and removed"

	# Control: the app's files 0600 (umask 077). The sidecar must name them,
	# keep every one of them, and exit 1; the checks must fail.
	APP_UMASK=077 run umask077 process ecs 45
	[ "$APP_RC" = 0 ] || { show_logs umask077; fail "umask077: the app exited $APP_RC (want 0)"; }
	[ "$SC_RC" = 1 ] || { show_logs umask077; fail "umask077: the sidecar exited $SC_RC (want 1: files it cannot read are left)"; }
	grep -q 'the sidecar cannot read run-.*/\.coverage\..*Permission denied; run the app with umask' \
		"$TMP/umask077-sidecar.log" || { show_logs umask077; fail "umask077: no \"the sidecar cannot read\" line"; }
	left=$(volume_files)
	n=$(printf '%s\n' "$left" | grep -c '^600 10001 ' || true)
	[ "$n" = $((WORKERS + 1)) ] && [ "$(printf '%s\n' "$left" | wc -l)" = "$n" ] || {
		show_logs umask077
		fail "umask077: want all $((WORKERS + 1)) coverage files kept, 0600 in group 10001; the volume holds: $left"
	}
	if check umask077 --mode process --quiet; then
		show_logs umask077
		fail "umask077: the checks passed although the sidecar could read no worker file"
	fi
	log "control: umask 077 -> 'the sidecar cannot read' for each file, all $n kept, sidecar exit 1, checks fail (as they must)"
	log "PASS"
	exit 0
fi

TASKDEF=$SRC/docker/ecs/task-definition.json
APP_STOP=$($PY "$here/taskdef_env.py" "$TASKDEF" app stop)
SC_STOP=$($PY "$here/taskdef_env.py" "$TASKDEF" covship stop)
DRAIN=$($PY "$here/taskdef_env.py" "$TASKDEF" covship get COVSHIP_DRAIN_TIMEOUT)
BUILD=$($PY "$here/taskdef_env.py" "$TASKDEF" covship get BUILD_TAG)
run process process ecs "$DRAIN"
TASKDEF=""
[ "$APP_RC" = 0 ] && [ "$SC_RC" = 0 ] || { show_logs process; fail "process: exit codes app $APP_RC sidecar $SC_RC (want 0 0)"; }
# The key template {build}/{run_id}/{bundle}: Jenkins pulls its build's prefix.
PREFIX=$PREFIX$BUILD/
check process --mode process --build-tag "$BUILD" || { show_logs process; fail "task definition settings / ECS order"; }

run wsgi wsgi together 40 --preload
[ "$APP_RC" = 0 ] && [ "$SC_RC" = 0 ] || { show_logs wsgi; fail "wsgi: exit codes app $APP_RC sidecar $SC_RC (want 0 0)"; }
# --preload: the hook runs in the master too, so one file more than workers.
check wsgi --mode wsgi-preload || { show_logs wsgi; fail "wsgi mode + --preload / stopped together"; }

# Control: the stop timeout (2 s) is shorter than a request in flight (8 s):
# the worker is still serving when the SIGKILL comes, the shim never writes
# done.json. The sidecar gives up after its drain timeout; the checks must
# see the loss.
run control process short 4
[ "$APP_RC" = 137 ] || { show_logs control; fail "control: the app was not SIGKILLed (exit $APP_RC): the scenario did not happen"; }
if check control --mode process --quiet; then
	show_logs control
	fail "control: the checks passed although the stop timeout cut the flush"
fi
log "control: a stop timeout shorter than the flush is detected as lost coverage (as it must)"
log "PASS"
