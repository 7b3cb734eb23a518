#!/bin/sh
# Build the libFuzzer targets with clang (COVSHIP_FUZZ=ON, ASan+UBSan) and
# run their short ctest runs (label "fuzz", COVSHIP_FUZZ_SECONDS each).
# The long run is in docs/fuzzing.md.
#
#   scripts/fuzz.sh                 build in build/fuzz, run every target
#   COVSHIP_FUZZ_BUILD=DIR JOBS=N COVSHIP_FUZZ_SECONDS=S scripts/fuzz.sh
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
build=${COVSHIP_FUZZ_BUILD:-$top/build/fuzz}
jobs=${JOBS:-2}
seconds=${COVSHIP_FUZZ_SECONDS:-5}

command -v clang >/dev/null || { echo "fuzz: clang not installed (scripts/deps.sh)" >&2; exit 1; }
# The static shim is musl-gcc's business, not clang's: left out here.
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOVSHIP_FUZZ=ON \
	-DCOVSHIP_SANITIZE=ON -DCOVSHIP_STATIC_SHIM=OFF \
	-DCOVSHIP_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" -j "$jobs" --target fuzz_all
cd "$build"
ctest --output-on-failure -L '^fuzz$'
