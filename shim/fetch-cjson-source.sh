#!/bin/sh
# Fetch Debian's cJSON source package (with Debian's patches applied) into
# DEST, for the static shim: Debian ships no libcjson.a, and third-party
# source must never be copied into this repository.
#
# Usage: fetch-cjson-source.sh DEST
# Leaves DEST/cjson-<version>/cJSON.c on success; exits non-zero otherwise.
# Uses its own Dir::State::Lists, so the machine's package lists stay untouched.
set -eu

dest=$1
mkdir -p "$dest/parts" "$dest/lists/partial" "$dest/src"

if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
		>"$dest/parts/src.sources"
elif [ -f /etc/apt/sources.list ]; then
	sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$dest/parts/src.list"
else
	echo "fetch-cjson-source: no Debian apt sources found" >&2
	exit 1
fi
command -v dpkg-source >/dev/null || {
	echo "fetch-cjson-source: dpkg-source missing (apt-get install dpkg-dev)" >&2
	exit 1
}

set -- -o Dir::Etc::SourceParts="$dest/parts" -o Dir::Etc::SourceList=/dev/null \
	-o Dir::State::Lists="$dest/lists" -o Acquire::Retries=1 \
	-o Acquire::http::Timeout=30 -o APT::Sandbox::User=root
apt-get "$@" -qq update
cd "$dest/src"
apt-get "$@" -qq source cjson >/dev/null
ls "$dest"/src/cjson-*/cJSON.c
