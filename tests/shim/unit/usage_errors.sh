#!/bin/sh
# Bad input to covship-shim: exit 2, exactly one line on stderr that names
# the problem, and nothing started (the command would create a file).
# Usage: usage_errors.sh /path/to/covship-shim
set -u
shim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
proof="$tmp/started"

# expect NEEDLE [ENV=VALUE...] -- ARGS...
expect() {
	needle=$1
	shift
	envs=""
	while [ "$1" != "--" ]; do
		envs="$envs $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	env $envs "$shim" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" != 2 ] || [ "$lines" != 1 ] || ! grep -q -- "$needle" "$tmp/err" ||
		[ -e "$proof" ]; then
		echo "FAIL: $* (env:$envs): rc=$rc lines=$lines, want 2/1/'$needle'" >&2
		cat "$tmp/err" >&2
		fails=$((fails + 1))
	fi
	rm -f "$proof"
}

touch_cmd="touch $proof"
expect "no command" --
expect "unknown option '--nope'" -- --nope sh -c "$touch_cmd"
expect "bad --grace 'x'" -- --grace x sh -c "$touch_cmd"
expect "'--grace' needs a value" -- --grace
expect "bad COVSHIP_GRACE='1e3'" COVSHIP_GRACE=1e3 -- sh -c "$touch_cmd"
expect "bad COVSHIP_LOG_LEVEL" COVSHIP_LOG_LEVEL=loud -- sh -c "$touch_cmd"
expect "bad COVSHIP_LOG_FORMAT" COVSHIP_LOG_FORMAT=xml -- sh -c "$touch_cmd"
: >"$tmp/file"
expect "cannot create directory $tmp/file" -- --coverage-dir "$tmp/file" sh -c "$touch_cmd"
expect "cannot create directory $tmp/file/sub: Not a directory" COVSHIP_DIR="$tmp/file/sub" -- sh -c "$touch_cmd"
# A read-only coverage dir (a bind mount made read-only would need root and
# a mount namespace; a file system that refuses writes: /proc).
expect "make the coverage dir writable" -- --coverage-dir /proc/self sh -c "$touch_cmd"

# Really unwritable: a 0555 directory, for an unprivileged user (root
# ignores permissions). The shim must run as that user to see it.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 0755 "$tmp"
	mkdir -m 0555 "$tmp/ro"
	run_as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	}
	run_as_nobody "$shim" --coverage-dir "$tmp/ro" -- sh -c "touch $tmp/started-nobody" \
		>/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 2 ] || [ "$(wc -l <"$tmp/err")" != 1 ] ||
		! grep -q "cannot create directory $tmp/ro/.covship: Permission denied; make the coverage dir writable by uid 65534" "$tmp/err" ||
		[ -e "$tmp/started-nobody" ]; then
		echo "FAIL: unwritable coverage dir: rc=$rc" >&2
		cat "$tmp/err" >&2
		fails=$((fails + 1))
	fi
fi

# Control: the same command with good options does start (exit 0, file made).
if ! "$shim" -q -- sh -c "$touch_cmd" || [ ! -e "$proof" ]; then
	echo "FAIL: control run did not start the command" >&2
	fails=$((fails + 1))
fi
# json logging, from the variable and from the option: every stderr line is
# one JSON object of covship-shim (control: the default text lines are not).
py=${COVSHIP_PYTHON:-/usr/bin/python3}
all_json() {
	"$py" -c 'import json, sys
lines = sys.stdin.read().splitlines()
ok = bool(lines) and all(json.loads(l).get("program") == "covship-shim" and
			 json.loads(l).get("level") and json.loads(l).get("message") for l in lines)
sys.exit(0 if ok else 1)' 2>/dev/null
}
COVSHIP_LOG_FORMAT=json "$shim" -- true 2>"$tmp/err" >/dev/null
all_json <"$tmp/err" || { echo "FAIL: COVSHIP_LOG_FORMAT=json: not one JSON object per line" >&2
	cat "$tmp/err" >&2; fails=$((fails + 1)); }
"$shim" --log-format json -- true 2>"$tmp/err" >/dev/null
all_json <"$tmp/err" || { echo "FAIL: --log-format json: not one JSON object per line" >&2
	cat "$tmp/err" >&2; fails=$((fails + 1)); }
COVSHIP_LOG_FORMAT=json "$shim" --grace x -- true 2>"$tmp/err" >/dev/null
all_json <"$tmp/err" || { echo "FAIL: COVSHIP_LOG_FORMAT=json: a usage error is not JSON" >&2
	cat "$tmp/err" >&2; fails=$((fails + 1)); }
"$shim" -- true 2>"$tmp/err" >/dev/null
if all_json <"$tmp/err"; then
	echo "FAIL: control: the default text log parsed as JSON (checker broken)" >&2
	fails=$((fails + 1))
fi

# --help is complete enough to name every option and variable.
for word in --grace --coverage-dir --log-level --verbose --quiet --log-format --help \
	--version COVSHIP_GRACE COVSHIP_DIR COVSHIP_LOG_LEVEL COVSHIP_LOG_FORMAT; do
	if ! "$shim" --help | grep -q -- "$word"; then
		echo "FAIL: --help does not mention $word" >&2
		fails=$((fails + 1))
	fi
done
[ "$fails" = 0 ] && echo "usage errors: all ok"
exit "$fails"
