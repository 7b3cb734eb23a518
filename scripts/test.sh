#!/bin/sh
# Run every test of covship: install what is missing, build, run ctest.
# Usage: scripts/test.sh            (what .ci/run calls)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/deps.sh

build="$top/build/test"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2
cd "$build"
ctest --output-on-failure --timeout 600
