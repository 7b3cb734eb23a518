#!/bin/sh
# Build the test images from the real Dockerfiles with podman, on the local
# debootstrap base (base-image.sh): the build stage, the sidecar and the
# example app. Shared by e2e.sh and jenkinsfile_driver.py so that both run
# exactly the same images. The layer cache keeps re-runs fast.
#   tests/docker/images.sh SRCDIR LOGFILE
# Tags: see podman.sh (BUILD_IMG, SIDECAR_IMG, APP_IMG). On failure the
# build log's tail goes to stderr and the exit status is 1.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 SRCDIR LOGFILE" >&2; exit 2; }
SRC=$1
LOG=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/podman.sh"

"$here/base-image.sh"
t0=$(date +%s)
# The previous images of these tags become dangling when a source changes:
# remove those (only ours, by ID) so repeated runs do not fill the disk.
old_ids=""
for img in "$BUILD_IMG" "$SIDECAR_IMG" "$APP_IMG"; do
	old_ids="$old_ids $($P image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)"
done
build() {
	if ! $P build --network host --build-arg BASE="$BASE_IMAGE" --build-arg BUILDER="$BUILD_IMG" \
		"$@" >"$LOG" 2>&1; then
		tail -30 "$LOG" >&2
		echo "images: FAIL: podman build $* failed" >&2
		exit 1
	fi
}
build -f "$SRC/docker/Dockerfile.build" -t "$BUILD_IMG" "$SRC"
build -t "$SIDECAR_IMG" "$SRC/docker/sidecar"
build -t "$APP_IMG" "$SRC/docker/example-app"
echo "images: built in $(($(date +%s) - t0)) s" >&2
for id in $old_ids; do
	case " $($P image inspect -f '{{.Id}}' "$BUILD_IMG" "$SIDECAR_IMG" "$APP_IMG" | tr '\n' ' ') " in
	*" $id "*) ;;
	*) $P rmi "$id" >/dev/null 2>&1 || true ;;
	esac
done
