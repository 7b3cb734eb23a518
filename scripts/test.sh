#!/bin/sh
# Run every test of covship: install what is missing, build, then
#   1. the whole ctest suite (units, PID-1, sidecar, S3 against radosgw, pull,
#      podman containers, the demo, the chaos run)
#   2. the suite again under ASan+UBSan, and valgrind (scripts/sanitize.sh)
#   3. a short run of every libFuzzer target (scripts/fuzz.sh)
# Every stage runs even when an earlier one failed, so one CI run shows all
# failures; the exit status is non-zero when any stage failed.
#
# Usage: scripts/test.sh            (what .ci/run calls)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/deps.sh

passed=0
failed=0
stage() {
	name=$1
	shift
	echo "=== test.sh: $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== test.sh: $name: passed"
	else
		failed=$((failed + 1))
		echo "=== test.sh: $name: FAILED"
	fi
}

suite() {
	build="$top/build/test"
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
		cmake --build "$build" -j 2 &&
		(cd "$build" && ctest --output-on-failure --timeout 900)
}

stage "ctest suite" suite
stage "sanitizers (ASan+UBSan suite, valgrind)" scripts/sanitize.sh
stage "fuzzers (short runs)" scripts/fuzz.sh

echo "test stages: $passed passed, $failed failed"
[ "$failed" = 0 ]
