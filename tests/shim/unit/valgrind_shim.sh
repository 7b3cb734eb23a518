#!/bin/sh
# covship-shim under valgrind through a whole life: start, an orphan that
# ignores SIGTERM, grace expiry, SIGKILL, done.json. Any memory error or leak
# fails the test (valgrind exits 99), as does a wrong status or marker.
# Usage: valgrind_shim.sh VALGRIND SHIM
set -u
valgrind=$1
shim=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$valgrind" -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=99 \
	--trace-children=no "$shim" --grace 0.5 --coverage-dir "$tmp/cov" -- \
	sh -c '(trap "" TERM; sleep 5) & exit 4' 2>"$tmp/err"
rc=$?
cat "$tmp/err" >&2
if [ "$rc" != 4 ]; then
	echo "FAIL: exit status $rc, want 4 (99 = valgrind found errors)" >&2
	exit 1
fi
if ! grep -q '"status":"grace-expired"' "$tmp/cov/.covship/done.json" ||
	! grep -q '"killed_at_grace":true' "$tmp/cov/.covship/done.json"; then
	echo "FAIL: done.json does not record the grace kill" >&2
	cat "$tmp/cov/.covship/done.json" >&2
	exit 1
fi
echo "valgrind: clean"
