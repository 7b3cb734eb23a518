#!/bin/sh
# Memory checks of covship, run by scripts/test.sh after the normal suite.
#
#   scripts/sanitize.sh asan       build with -DCOVSHIP_SANITIZE=ON (ASan+UBSan)
#                                  into build/asan and run the ctest suite there
#   scripts/sanitize.sh valgrind   valgrind memcheck over every unit-test binary
#                                  of the normal build, one `covship push` to a
#                                  file:// destination and one `covship pull`
#   scripts/sanitize.sh            both
#
# Environment: COVSHIP_ASAN_BUILD (default build/asan), COVSHIP_VALGRIND_BUILD
# (default build/test, the tree scripts/test.sh builds), JOBS (default 2).
#
# Labels left out of the ASan run, and why:
#   valgrind  these tests run binaries under valgrind, which cannot run
#             ASan-instrumented code (both replace malloc and the shadow map);
#             CMake does not even register them in a sanitized tree
#   docker    podman builds the images from the Dockerfiles with their own
#   demo      compiler (no sanitizer flags): nothing ASan-built runs there,
#             and they are the longest tests of the suite
#   static    the musl-gcc static shim has no ASan runtime (not built here)
#   fuzz      libFuzzer targets need clang: scripts/fuzz.sh runs them
#   bench     timings of an instrumented build mean nothing
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=${JOBS:-2}
what=${1:-all}

run_asan() {
	build=${COVSHIP_ASAN_BUILD:-$top/build/asan}
	echo "sanitize: ASan+UBSan build in $build"
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOVSHIP_SANITIZE=ON \
		-DCOVSHIP_STATIC_SHIM=OFF -DCOVSHIP_FUZZ=OFF >/dev/null
	cmake --build "$build" -j "$jobs"
	logs="$build/sanitizer-reports"
	rm -rf "$logs"
	mkdir -p "$logs"
	# Every report also lands in a file: a sanitizer error in a process whose
	# exit status a test does not look at (a helper, a child of the shim) still
	# fails this run.
	ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:log_path=$logs/asan:log_exe_name=1"
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan:log_exe_name=1"
	export ASAN_OPTIONS UBSAN_OPTIONS
	rc=0
	(cd "$build" && ctest --output-on-failure --timeout 600 -j "$jobs" \
		-LE '^(valgrind|docker|demo|static|fuzz|bench)$') || rc=$?
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if [ -n "$(ls -A "$logs")" ]; then
		for f in "$logs"/*; do
			echo "sanitize: report $f:"
			cat "$f"
		done
		echo "sanitize: ASan/UBSan reported errors (above)" >&2
		return 1
	fi
	if [ "$rc" != 0 ]; then
		echo "sanitize: the test suite failed under ASan+UBSan" >&2
		return 1
	fi
	echo "sanitize: ASan+UBSan suite passed, no sanitizer reports"
}

vg() {
	valgrind -q --error-exitcode=1 --errors-for-leak-kinds=definite --leak-check=full \
		--child-silent-after-fork=yes --trace-children=no "$@"
}

run_valgrind() {
	command -v valgrind >/dev/null || { echo "sanitize: valgrind not installed (scripts/deps.sh)" >&2; return 1; }
	build=${COVSHIP_VALGRIND_BUILD:-$top/build/test}
	echo "sanitize: valgrind over the build in $build"
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOVSHIP_SANITIZE=OFF >/dev/null
	cmake --build "$build" -j "$jobs"
	fail=0
	# The unit tests: every ctest test whose command is one executable of
	# the build tree without arguments (the cmocka binaries), found from
	# ctest itself so that new unit tests are checked without editing this.
	list=$(cd "$build" && ctest --show-only=json-v1 | /usr/bin/python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin)["tests"]:
	cmd = t.get("command") or []
	if len(cmd) != 1 or not os.path.realpath(cmd[0]).startswith(build + "/"):
		continue
	with open(cmd[0], "rb") as f:
		if f.read(4) != b"\x7fELF":
			continue
	wd = build
	for p in t.get("properties", []):
		if p["name"] == "WORKING_DIRECTORY":
			wd = p["value"]
	print(t["name"], cmd[0], wd, sep="\t")
' "$build")
	[ -n "$list" ] || { echo "sanitize: no unit-test binaries found in $build" >&2; return 1; }
	tab=$(printf '\t')
	while IFS="$tab" read -r name bin wd; do
		if (cd "$wd" && vg "$bin" >"$build/valgrind-$name.log" 2>&1); then
			echo "sanitize: valgrind $name: ok"
		else
			echo "sanitize: valgrind $name: FAILED"
			cat "$build/valgrind-$name.log"
			fail=1
		fi
	done <<EOF
$list
EOF
	# One push to a file:// destination and one pull from it.
	covship="$build/bin/covship"
	tmp=$(mktemp -d /tmp/covship-valgrind.XXXXXX)
	mkdir -p "$tmp/cov/run-x" "$tmp/dest" "$tmp/spool"
	head -c 100000 /dev/urandom >"$tmp/cov/.coverage.host.1.2"
	head -c 3000 /dev/urandom >"$tmp/cov/run-x/.coverage.host.3.4"
	if vg "$covship" push --dir "$tmp/cov" --dest "file://$tmp/dest" \
		--spool "$tmp/spool" >"$tmp/push.log" 2>&1; then
		echo "sanitize: valgrind covship push: ok"
	else
		echo "sanitize: valgrind covship push: FAILED"
		cat "$tmp/push.log"
		fail=1
	fi
	if vg "$covship" pull "file://$tmp/dest" --out "$tmp/out" \
		--allow-incomplete >"$tmp/pull.log" 2>&1 &&
	   [ -n "$(find "$tmp/out" -name '.coverage.host.3.4')" ]; then
		echo "sanitize: valgrind covship pull: ok"
	else
		echo "sanitize: valgrind covship pull: FAILED"
		cat "$tmp/pull.log"
		fail=1
	fi
	rm -rf "$tmp"
	return "$fail"
}

case "$what" in
asan) run_asan ;;
valgrind) run_valgrind ;;
all)
	# not "run_asan && run_valgrind": set -e does not apply inside a
	# function called from an && list
	run_asan
	run_valgrind
	;;
*) echo "usage: scripts/sanitize.sh [asan|valgrind|all]" >&2; exit 2 ;;
esac
