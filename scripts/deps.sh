#!/bin/sh
# Install what covship's build, tests and demo need on Debian 12, skipping
# what is already present. Runs as root (apt-get); CI has no stdin.
set -eu

# One package per line; a comment says who needs it.
PACKAGES="
build-essential cmake pkg-config
libcjson-dev
libcurl4-openssl-dev libssl-dev libexpat1-dev
libinotifytools0-dev libarchive-dev libzstd-dev zstd
libcmocka-dev
valgrind
clang libclang-rt-14-dev
musl-tools dpkg-dev
util-linux procps
python3 gunicorn python3-django python3-coverage python3-botocore
python3-gevent python3-uvicorn
tini dumb-init
inotify-tools
radosgw ceph-mon ceph-osd
awscli
podman runc debootstrap python3-yaml curl uuid-runtime
time
nodejs openjdk-17-jre-headless
libxml2-utils
strace iproute2
"
# strace + iproute2: s3_connect_loopback (every connect() of the credential-less
# tests) and s3_test_endpoints (a network namespace with a non-loopback address).
# nodejs + java: npm-groovy-lint 15 (CodeNarc) for docker_jenkinsfile_lint,
# installed from the npm registry into build/npm by the test itself. This
# machine's nodejs (20) carries npm; with Debian's own nodejs add "npm".

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages:$missing; run this as root or install them with apt-get" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
